//! Secondary selection: which further cells to suppress so that every primary cell is proven
//! protected, losing as little as possible.
//!
//! 1. Greedy: primary cells in decreasing order of count; each takes the box (see `moves`) that
//!    suppresses the fewest published cells, then the least total count, given what is already
//!    suppressed. When no single box can (a small total whose parts are all smaller than it,
//!    cells an earlier version disclosed in the way), boxes are stacked, each carrying part of
//!    the change; failing that, the integer solver chooses the cells, at a cost per published
//!    cell.
//! 2. Un-suppression: each secondary cell in turn, largest count first, is published again on
//!    trial; the primary cells whose proof used it look for another proof among the cells still
//!    suppressed (a box, stacked boxes, else the solver on the cell's neighbourhood). The cell
//!    stays published only if they all find one.
//!
//! The result is a proof (two exact witnesses) for every primary cell.

use std::collections::BTreeMap;

use super::attacker::{Model, Proof, Side, Witness};
use super::moves::{MoveCache, cheapest_box, stacked_boxes};
use super::solver::{Scope, Search, find_witness};

/// Most codes per axis in the neighbourhood searched first (see [`neighbourhood`]).
const MAX_NEAR_CODES: usize = 6;

/// Chooses the secondary cells (marking them in `model.suppressed`) and returns a proof for every
/// primary cell, or the cell it could not protect and why.
pub(crate) fn select(
    model: &mut Model,
    primaries: &[usize],
) -> Result<BTreeMap<usize, Proof>, (usize, String)> {
    let moves = MoveCache::new(&model.structure.axes);
    let mut order = primaries.to_vec();
    order.sort_by_key(|cell| (std::cmp::Reverse(model.value(*cell)), *cell));
    let mut proofs = BTreeMap::new();
    for primary in order {
        let proof = match cheapest_box(model, &moves, primary, false) {
            Some((_, proof)) => proof,
            None => proof_by_solver(model, primary, Scope::Revealing)
                .map_err(|reason| (primary, reason))?,
        };
        for (cell, _) in proof.low.delta.iter().chain(&proof.high.delta) {
            model.suppressed[*cell as usize] = true;
        }
        proofs.insert(primary, proof);
    }
    unsuppress(model, &moves, primaries, &mut proofs);
    Ok(proofs)
}

/// Both witnesses of `primary` from stacked boxes (see [`stacked_boxes`]); the published cells
/// they change are suppressed (none with `free_only`).
fn stacked_proof(
    model: &mut Model,
    moves: &MoveCache,
    primary: usize,
    free_only: bool,
) -> Option<Proof> {
    let low = stacked_boxes(model, moves, primary, Side::Low, free_only)?;
    suppress(model, &low);
    let high = stacked_boxes(model, moves, primary, Side::High, free_only)?;
    suppress(model, &high);
    Some(Proof { low, high })
}

/// Marks every cell a witness changes as suppressed.
fn suppress(model: &mut Model, witness: &Witness) {
    for (cell, _) in &witness.delta {
        model.suppressed[*cell as usize] = true;
    }
}

/// Both witnesses of `primary` from the solver, within `scope`. The published cells they change
/// (with [`Scope::Revealing`]) are suppressed.
fn proof_by_solver(model: &mut Model, primary: usize, scope: Scope<'_>) -> Result<Proof, String> {
    let witness = |model: &mut Model, side| match find_witness(model, primary, side, scope) {
        Search::Found(witness) => {
            suppress(model, &witness);
            Ok(witness)
        }
        Search::Impossible => Err("no suppression pattern protects it".to_owned()),
        Search::GaveUp(reason) => Err(reason),
    };
    let low = witness(model, Side::Low)?;
    let high = witness(model, Side::High)?;
    Ok(Proof { low, high })
}

/// The un-suppression pass: publishes again every secondary cell the proofs can do without.
fn unsuppress(
    model: &mut Model,
    moves: &MoveCache,
    primaries: &[usize],
    proofs: &mut BTreeMap<usize, Proof>,
) {
    let mut secondaries: Vec<usize> = (0..model.structure.len)
        .filter(|cell| model.suppressed[*cell] && !model.hidden[*cell])
        .filter(|cell| primaries.binary_search(cell).is_err())
        .collect();
    secondaries.sort_by_key(|cell| (std::cmp::Reverse(model.value(*cell)), *cell));
    for candidate in secondaries {
        model.suppressed[candidate] = false;
        match reprove(model, moves, candidate, proofs) {
            Some(replaced) => proofs.extend(replaced),
            None => model.suppressed[candidate] = true,
        }
    }
}

/// New proofs for the primary cells whose proof uses `published`, now published, or `None`
/// when one of them has none within the current pattern.
fn reprove(
    model: &mut Model,
    moves: &MoveCache,
    published: usize,
    proofs: &BTreeMap<usize, Proof>,
) -> Option<Vec<(usize, Proof)>> {
    let mut replaced = Vec::new();
    for (primary, proof) in proofs {
        if !proof.touches(published as u32) {
            continue;
        }
        if let Some((_, proof)) = cheapest_box(model, moves, *primary, true) {
            replaced.push((*primary, proof));
            continue;
        }
        if let Some(proof) = stacked_proof(model, moves, *primary, true) {
            replaced.push((*primary, proof));
            continue;
        }
        let near = neighbourhood(model, *primary);
        replaced.push((
            *primary,
            proof_by_solver(model, *primary, Scope::Near(&near)).ok()?,
        ));
    }
    Some(replaced)
}

/// The codes near a primary cell, per axis: its own; those of the free cells on its lines (the
/// cells that differ from it on one axis); and those of the free cells on their lines. A
/// witness usually lives there, and the sub-problem is a fraction of the whole.
fn neighbourhood(model: &Model, primary: usize) -> Vec<Vec<bool>> {
    let structure = &model.structure;
    let axes = &structure.axes;
    let mut masks: Vec<Vec<bool>> = axes
        .iter()
        .map(|axis| vec![false; axis.codes.len()])
        .collect();
    let mut counts = vec![0usize; axes.len()];
    let mut mark = |masks: &mut Vec<Vec<bool>>, cell: usize, axis: usize| {
        let code = structure.coordinate(cell, axis) as usize;
        if !masks[axis][code] && counts[axis] < MAX_NEAR_CODES {
            masks[axis][code] = true;
            counts[axis] += 1;
        }
    };
    for axis in 0..axes.len() {
        mark(&mut masks, primary, axis);
    }
    let line = |cell: usize, axis: usize| {
        (0..axes[axis].codes.len() as u32)
            .map(move |code| structure.with_code(cell, axis, code))
            .filter(move |other| *other != cell && model.is_free(*other))
    };
    let mut first_hop = Vec::new();
    for axis in 0..axes.len() {
        for cell in line(primary, axis) {
            mark(&mut masks, cell, axis);
            first_hop.push((cell, axis));
        }
    }
    for (cell, came_along) in first_hop {
        for axis in (0..axes.len()).filter(|axis| *axis != came_along) {
            for other in line(cell, axis) {
                mark(&mut masks, other, axis);
            }
        }
    }
    masks
}
