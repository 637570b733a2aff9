//! Simple witnesses: changes along one "box" of cells that keep every relation.
//!
//! Along one axis, a *move* is a signed set of codes whose changes keep the axis's sums: raise
//! a leaf code and every ancestor by the same amount, or raise one leaf and lower another
//! (their common ancestors do not change). The tensor product of one move per axis (the cell's
//! code alone on axes where it takes part in no sum) is a box of cells with signs; changing
//! each cell of the box by `sign * t` keeps every relation of the table, because each relation
//! lies along one axis. For a primary cell with count v the box gives both witnesses at once:
//! `t = -v` (the cell goes to 0) and `t = N - v` (it goes to N), provided the cells that
//! decrease have enough count.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};

use super::attacker::{Model, Proof, Side, Witness};
use super::relations::Axis;

/// Most moves kept per axis and code.
const MAX_MOVES_PER_CODE: usize = 64;
/// Most boxes examined for one primary cell.
const MAX_BOXES: usize = 20_000;
/// Most boxes stacked into one witness by [`stacked_boxes`].
const MAX_STACKED_BOXES: usize = 8;

/// One signed code list along one axis.
type Move = Vec<(u32, i8)>;
/// How [`stacked_boxes`] ranks a box: least loss first, then most room to carry the change.
type StackRank = (Loss, Reverse<i64>);

/// The information lost by suppressing the cells a box needs that are still published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Loss {
    /// Published cells it would suppress.
    pub cells: u64,
    /// Their total count.
    pub value: u64,
}

/// The moves through `code` on one axis, with `code` at sign +1, shortest first.
pub(crate) fn moves_through(axis: &Axis, code: u32) -> Vec<Move> {
    if !axis.is_related(code) {
        return vec![vec![(code, 1)]];
    }
    let all_leaves = axis.leaves_under(root_of(axis, code));
    let mut moves = Vec::new();
    for leaf in axis.leaves_under(code) {
        let up = axis.with_ancestors(leaf);
        if up.len() > 1 {
            moves.push(up.iter().map(|code| (*code, 1)).collect());
        }
        for other in &all_leaves {
            let down = axis.with_ancestors(*other);
            if down.contains(&code) {
                continue;
            }
            moves.push(difference(&up, &down));
        }
    }
    moves.sort_by_key(Vec::len);
    moves.truncate(MAX_MOVES_PER_CODE);
    moves
}

/// The top ancestor of a code.
fn root_of(axis: &Axis, code: u32) -> u32 {
    axis.with_ancestors(code).last().copied().unwrap_or(code)
}

/// `up` raised and `down` lowered, their shared ancestors cancelled.
fn difference(up: &[u32], down: &[u32]) -> Move {
    let shared = up
        .iter()
        .rev()
        .zip(down.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let raised = up[..up.len() - shared].iter().map(|code| (*code, 1));
    let lowered = down[..down.len() - shared].iter().map(|code| (*code, -1));
    raised.chain(lowered).collect()
}

/// The cheapest box that protects `primary` in the current pattern, with its loss and proof.
/// With `free_only`, only boxes that suppress nothing more are considered.
pub(crate) fn cheapest_box(
    model: &Model,
    moves: &MoveCache,
    primary: usize,
    free_only: bool,
) -> Option<(Loss, Proof)> {
    let mut best: Option<(Loss, Vec<(u32, i8)>)> = None;
    visit_boxes(model, moves, primary, free_only, |cells| {
        if let Some(loss) = box_loss(model, primary, cells)
            && (!free_only || loss.cells == 0)
            && best.as_ref().is_none_or(|(known, _)| loss < *known)
        {
            best = Some((loss, cells.to_vec()));
            return loss.cells == 0;
        }
        false
    });
    best.map(|(loss, cells)| (loss, proof_of(model, primary, &cells)))
}

/// A witness for one side of `primary` made of several boxes, each carrying part of the
/// change: the cheapest box (fewest further published cells, then least count; among equals,
/// the one whose decreasing cells have the most count left) carries as much as they allow,
/// then the next, until the cell reaches 0 (low) or N (high). Each step keeps every relation
/// and every count non-negative, so their sum is a witness. With `free_only`, only boxes of
/// free cells are used; otherwise the caller suppresses the published cells it changes.
pub(crate) fn stacked_boxes(
    model: &Model,
    moves: &MoveCache,
    primary: usize,
    side: Side,
    free_only: bool,
) -> Option<Witness> {
    let mut changes: HashMap<u32, i64> = HashMap::new();
    let mut taken: HashSet<u32> = HashSet::new();
    let current = |changes: &HashMap<u32, i64>, cell: u32| {
        model.value(cell as usize) + changes.get(&cell).copied().unwrap_or(0)
    };
    let direction = if side == Side::Low { -1 } else { 1 };
    for _ in 0..MAX_STACKED_BOXES {
        let needed = match side {
            Side::Low => current(&changes, primary as u32),
            Side::High => model.threshold as i64 - current(&changes, primary as u32),
        };
        if needed <= 0 {
            return Some(Witness::from_changes(changes.into_iter().collect()));
        }
        let mut best: Option<(StackRank, Vec<(u32, i8)>)> = None;
        visit_boxes(model, moves, primary, free_only, |cells| {
            let Some(loss) = stacking_loss(model, cells, &taken, free_only) else {
                return false;
            };
            let room = cells
                .iter()
                .filter(|(_, sign)| i64::from(*sign) * direction < 0)
                .map(|(cell, _)| current(&changes, *cell))
                .min()
                .unwrap_or(i64::MAX)
                .min(needed);
            let rank = (loss, Reverse(room));
            if room > 0 && best.as_ref().is_none_or(|(known, _)| rank < *known) {
                best = Some((rank, cells.to_vec()));
                return loss.cells == 0 && room == needed;
            }
            false
        });
        let ((_, Reverse(amount)), cells) = best?;
        for (cell, sign) in cells {
            if model.is_published(cell as usize) {
                taken.insert(cell);
            }
            *changes.entry(cell).or_insert(0) += direction * amount * i64::from(sign);
        }
    }
    None
}

/// What stacking this box would further suppress, or `None` when it cannot be used: it holds a
/// cell the attacker knows, or (with `free_only`) a published cell. Cells already `taken` by
/// the stack cost nothing more.
fn stacking_loss(
    model: &Model,
    cells: &[(u32, i8)],
    taken: &HashSet<u32>,
    free_only: bool,
) -> Option<Loss> {
    let mut loss = Loss { cells: 0, value: 0 };
    for (cell, _) in cells {
        let index = *cell as usize;
        if model.known[index] {
            return None;
        }
        if model.is_published(index) && !taken.contains(cell) {
            if free_only {
                return None;
            }
            loss.cells += 1;
            loss.value += model.value(index) as u64;
        }
    }
    Some(loss)
}

/// Calls `visit` with the signed cells of every box through `primary` (within
/// [`MAX_BOXES`]; with `free_only`, only boxes that may be made of free cells), until it
/// returns true.
fn visit_boxes(
    model: &Model,
    moves: &MoveCache,
    primary: usize,
    free_only: bool,
    mut visit: impl FnMut(&[(u32, i8)]) -> bool,
) {
    let structure = &model.structure;
    let related = (0..structure.axes.len())
        .filter(|axis| structure.axes[*axis].is_related(structure.coordinate(primary, *axis)));
    // Every move holds the cell's own code, so each code of a move is also the code of a box
    // cell on one of the cell's lines: with `free_only`, a move through a published cell there
    // can be dropped before any box is built.
    let owned: Vec<(usize, Vec<Move>)> = related
        .map(|axis| {
            let all = moves.get(axis, structure.coordinate(primary, axis));
            let kept = all.iter().filter(|candidate| {
                !free_only
                    || candidate
                        .iter()
                        .all(|(code, _)| model.is_free(structure.with_code(primary, axis, *code)))
            });
            (axis, kept.cloned().collect())
        })
        .collect();
    if owned.iter().any(|(_, list)| list.is_empty()) {
        return;
    }
    let mut lists: Vec<(usize, &[Move])> = owned
        .iter()
        .map(|(axis, list)| (*axis, list.as_slice()))
        .collect();
    shrink_to_budget(&mut lists);
    let mut choice = vec![0usize; lists.len()];
    let (mut cells, mut scratch) = (Vec::new(), Vec::new());
    loop {
        box_cells(model, primary, &lists, &choice, &mut cells, &mut scratch);
        if visit(&cells) || !advance(&mut choice, &lists) {
            return;
        }
    }
}

/// Cuts the longest move lists until the number of boxes is within [`MAX_BOXES`].
fn shrink_to_budget(lists: &mut [(usize, &[Move])]) {
    let boxes = |lists: &[(usize, &[Move])]| {
        lists
            .iter()
            .try_fold(1usize, |product, (_, list)| {
                product.checked_mul(list.len().max(1))
            })
            .unwrap_or(usize::MAX)
    };
    while boxes(lists) > MAX_BOXES {
        let Some(longest) = lists.iter_mut().max_by_key(|(_, list)| list.len()) else {
            return;
        };
        let shorter = longest.1.len().div_ceil(2);
        longest.1 = &longest.1[..shorter];
    }
}

/// Steps the mixed-radix choice of one move per axis; false after the last.
fn advance(choice: &mut [usize], lists: &[(usize, &[Move])]) -> bool {
    for (position, (_, list)) in lists.iter().enumerate() {
        choice[position] += 1;
        if choice[position] < list.len() {
            return true;
        }
        choice[position] = 0;
    }
    false
}

/// The signed cells of the box made of the chosen moves, into `cells` (`scratch` is reused
/// working space: this runs for every box examined).
fn box_cells(
    model: &Model,
    primary: usize,
    lists: &[(usize, &[Move])],
    choice: &[usize],
    cells: &mut Vec<(u32, i8)>,
    scratch: &mut Vec<(u32, i8)>,
) {
    cells.clear();
    cells.push((primary as u32, 1i8));
    for ((axis, list), chosen) in lists.iter().zip(choice) {
        scratch.clear();
        for (cell, sign) in cells.iter() {
            for (code, step) in &list[*chosen] {
                let moved = model.structure.with_code(*cell as usize, *axis, *code);
                scratch.push((moved as u32, sign * step));
            }
        }
        std::mem::swap(cells, scratch);
    }
}

/// What the box would cost, or `None` when it cannot protect the cell: it uses a cell the
/// attacker knows, or a decreasing cell lacks the count to go down by the amount needed.
fn box_loss(model: &Model, primary: usize, cells: &[(u32, i8)]) -> Option<Loss> {
    let count = model.value(primary);
    let threshold = model.threshold as i64;
    let mut loss = Loss { cells: 0, value: 0 };
    for (cell, sign) in cells {
        let cell = *cell as usize;
        let needed = if *sign > 0 { count } else { threshold - count };
        if model.known[cell] || model.value(cell) < needed {
            return None;
        }
        if model.is_published(cell) {
            loss.cells += 1;
            loss.value += model.value(cell) as u64;
        }
    }
    Some(loss)
}

/// Both witnesses a box gives.
fn proof_of(model: &Model, primary: usize, cells: &[(u32, i8)]) -> Proof {
    let count = model.value(primary);
    let amount = |t: i64| {
        Witness::from_changes(
            cells
                .iter()
                .map(|(cell, sign)| (*cell, t * i64::from(*sign)))
                .collect(),
        )
    };
    Proof {
        low: amount(-count),
        high: amount(model.threshold as i64 - count),
    }
}

/// The moves of every axis and code, computed once per table.
#[derive(Debug, Clone)]
pub(crate) struct MoveCache {
    /// Per axis, per code: its moves.
    moves: Vec<Vec<Vec<Move>>>,
}

impl MoveCache {
    /// Computes the moves of every code of every axis.
    pub fn new(axes: &[Axis]) -> MoveCache {
        let moves = axes
            .iter()
            .map(|axis| {
                (0..axis.codes.len() as u32)
                    .map(|code| moves_through(axis, code))
                    .collect()
            })
            .collect();
        MoveCache { moves }
    }

    /// The moves through `code` on `axis`.
    pub fn get(&self, axis: usize, code: u32) -> &[Move] {
        &self.moves[axis][code as usize]
    }
}
