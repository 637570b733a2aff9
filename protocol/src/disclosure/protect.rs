//! The release pipeline: from the owner's table to a proven suppression pattern.
//!
//! [`protect`] derives the relations, finds the primary cells, refuses what earlier versions
//! would disclose, chooses secondary cells, and only then checks every proof exactly before it
//! returns a [`Protection`]. The node calls it once per release; it does no I/O.

use std::collections::{BTreeMap, HashSet};

use super::attacker::{Model, Proof, Side};
use super::error::DisclosureError;
use super::linked::{PublishedTable, earlier_knowledge};
use super::moves::{MoveCache, cheapest_box};
use super::primary::{check_threshold, primary_cells};
use super::relations::Structure;
use super::secondary::select;
use super::solver::{Scope, Search, complete, find_witness};
use super::table::{CellValue, CountTable};

/// What happens to one observation on release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellOutcome {
    /// Published as it is, with CONF_STATUS `F`.
    Published,
    /// Suppressed because its count is small (0 < count < N).
    Primary,
    /// Suppressed so that the primary cells cannot be derived from the rest.
    Secondary,
    /// Already marked confidential in the input; published empty.
    AlreadyConfidential,
}

impl CellOutcome {
    /// Whether the observation is published empty with CONF_STATUS `C`.
    pub fn is_suppressed(self) -> bool {
        !matches!(self, CellOutcome::Published)
    }
}

/// The information lost, as the release summary reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Observations suppressed by the primary rule.
    pub primary: usize,
    /// Observations suppressed to protect them.
    pub secondary: usize,
    /// Observations that were confidential already (and not primary).
    pub already_confidential: usize,
    /// Every observation published empty with CONF_STATUS `C`.
    pub suppressed_cells: usize,
    /// The total count of those observations (where the owner knows it).
    pub suppressed_value: u64,
}

/// What the exact check proved for one primary cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellProof {
    /// The observation's position in the table.
    pub cell: usize,
    /// Its count (known only to the owner).
    pub count: u64,
    /// A consistent table has it at this value, always 0.
    pub lowest: u64,
    /// A consistent table has it at this value, at least N.
    pub highest_at_least: u64,
}

/// A proven suppression pattern for a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protection {
    /// N, the threshold.
    pub threshold: u64,
    /// The outcome of every observation, in table order.
    pub outcomes: Vec<CellOutcome>,
    /// The counts of the outcomes.
    pub summary: Summary,
    /// For every primary cell, the interval ends proven by exact witnesses.
    pub proofs: Vec<CellProof>,
}

impl Protection {
    /// What this release publishes, for the linked check of later versions.
    pub fn published(
        &self,
        table: &CountTable,
        version: u64,
    ) -> Result<PublishedTable, DisclosureError> {
        let mut published = PublishedTable::new(version, table.dimensions().to_vec())?;
        for (cell, outcome) in table.cells().iter().zip(&self.outcomes) {
            let count = match (outcome, cell.value) {
                (CellOutcome::Published, CellValue::Count(count)) => Some(count),
                _ => None,
            };
            published.push(cell.key.clone(), count)?;
        }
        Ok(published)
    }
}

/// Protects `table` at threshold `threshold` (N), given what earlier versions of the same
/// dataset published. Refuses N < 2, a table that contradicts its totals, and a table whose
/// small counts earlier versions would disclose; otherwise every primary cell is proven to
/// range, for an attacker, from 0 to at least N.
pub fn protect(
    table: &CountTable,
    threshold: u64,
    earlier: &[PublishedTable],
) -> Result<Protection, DisclosureError> {
    check_threshold(threshold)?;
    let structure = Structure::derive(table)?;
    let truth = owner_counts(table, &structure);
    let mut model = build_model(table, structure, &truth, threshold, earlier, None)?;
    let mut primaries: Vec<usize> = primary_cells(table, threshold)
        .into_iter()
        .map(|position| model.structure.cell_of[position] as usize)
        .collect();
    primaries.sort_unstable();
    for primary in &primaries {
        model.suppressed[*primary] = true;
    }
    if !earlier.is_empty() {
        refuse_earlier_disclosure(table, &truth, &model, &primaries, earlier)?;
    }
    let proofs =
        select(&mut model, &primaries).map_err(|(cell, reason)| DisclosureError::Unproven {
            cell: table.describe(&model.structure.key_of(cell)),
            reason,
        })?;
    check_proofs(table, &truth, &model, &primaries, &proofs)?;
    Ok(outcome(table, &model, &primaries, &proofs))
}

/// The owner's count of every grid cell, where the table has one.
fn owner_counts(table: &CountTable, structure: &Structure) -> Vec<Option<u64>> {
    let mut truth = vec![None; structure.len];
    for (cell, observation) in structure.cell_of.iter().zip(table.cells()) {
        truth[*cell as usize] = observation.value.count();
    }
    truth
}

/// The attacker's model of `table`: the owner's counts, completed where unknown, and what the
/// earlier versions numbered up to `up_to` disclosed.
fn build_model(
    table: &CountTable,
    structure: Structure,
    truth: &[Option<u64>],
    threshold: u64,
    earlier: &[PublishedTable],
    up_to: Option<u64>,
) -> Result<Model, DisclosureError> {
    let hidden: Vec<bool> = structure
        .observation
        .iter()
        .map(|observation| {
            observation.is_none_or(|position| {
                !matches!(table.cells()[position as usize].value, CellValue::Count(_))
            })
        })
        .collect();
    check_complete_relations(table, &structure, truth)?;
    let mut base = complete_or_refuse(&structure, truth)?;
    let mut known = vec![false; structure.len];
    let learnt = earlier_knowledge(table, &structure, truth, earlier, up_to);
    if learnt.iter().any(Option::is_some) {
        let assumed: Vec<Option<u64>> = truth
            .iter()
            .zip(&learnt)
            .map(|(truth, learnt)| truth.or(*learnt))
            .collect();
        // An earlier count for a cell whose count is unknown now is assumed to still hold,
        // unless the table contradicts that: then those cells were revised.
        let usable = match complete(&structure, &assumed) {
            Ok(Some(completed)) => {
                base = completed;
                true
            }
            _ => false,
        };
        for cell in 0..structure.len {
            known[cell] = learnt[cell].is_some() && (usable || truth[cell].is_some());
        }
    }
    Ok(Model {
        threshold,
        base,
        known,
        hidden,
        suppressed: vec![false; structure.len],
        structure,
    })
}

/// Refuses a table with a relation whose cells all have counts that do not add up.
fn check_complete_relations(
    table: &CountTable,
    structure: &Structure,
    truth: &[Option<u64>],
) -> Result<(), DisclosureError> {
    for relation in &structure.relations {
        let parts: Option<Vec<u64>> = relation
            .parts
            .iter()
            .map(|part| truth[*part as usize])
            .collect();
        if let (Some(total), Some(parts)) = (truth[relation.total as usize], parts) {
            let sum: u64 = parts.iter().sum();
            if sum != total {
                return Err(DisclosureError::ContradictsTotals(format!(
                    "{} is {total} but its parts add up to {sum}",
                    table.describe(&structure.key_of(relation.total as usize))
                )));
            }
        }
    }
    Ok(())
}

/// Completes the unknown cells, refusing a table whose counts no completion makes add up.
fn complete_or_refuse(
    structure: &Structure,
    truth: &[Option<u64>],
) -> Result<Vec<i64>, DisclosureError> {
    match complete(structure, truth) {
        Ok(Some(base)) => Ok(base),
        Ok(None) => Err(DisclosureError::ContradictsTotals(
            "no counts for the cells it leaves out make its totals add up".to_owned(),
        )),
        Err(reason) => Err(DisclosureError::Unproven {
            cell: "(the cells the table leaves out)".to_owned(),
            reason,
        }),
    }
}

/// Refuses when earlier versions alone would disclose a primary cell, whatever this release
/// suppresses: the cell is checked with every cell of this release suppressed, and the first
/// version (in order) that makes it fail is named.
fn refuse_earlier_disclosure(
    table: &CountTable,
    truth: &[Option<u64>],
    model: &Model,
    primaries: &[usize],
    earlier: &[PublishedTable],
) -> Result<(), DisclosureError> {
    let moves = MoveCache::new(&model.structure.axes);
    let Some(exposed) = primaries
        .iter()
        .copied()
        .find(|primary| !protectable(model, &moves, *primary))
    else {
        return Ok(());
    };
    let cell = table.describe(&model.structure.key_of(exposed));
    let mut versions: Vec<u64> = earlier.iter().map(|version| version.version).collect();
    versions.sort_unstable();
    versions.dedup();
    for version in versions {
        let structure = model.structure.clone();
        let partial = build_model(
            table,
            structure,
            truth,
            model.threshold,
            earlier,
            Some(version),
        )?;
        if !protectable(&partial, &moves, exposed) {
            return Err(DisclosureError::DisclosedByEarlierVersion { cell, version });
        }
    }
    Err(DisclosureError::Unproven {
        cell,
        reason: "the earlier versions together constrain it too tightly to prove".to_owned(),
    })
}

/// Whether `primary` could be protected if every cell of this release were suppressed.
fn protectable(model: &Model, moves: &MoveCache, primary: usize) -> bool {
    let mut everything = model.clone();
    everything.suppressed = vec![true; everything.structure.len];
    if cheapest_box(&everything, moves, primary, true).is_some() {
        return true;
    }
    [Side::Low, Side::High].into_iter().all(|side| {
        matches!(
            find_witness(&everything, primary, side, Scope::Free),
            Search::Found(_)
        )
    })
}

/// The final gate: the completed table agrees with every count the attacker sees and adds up,
/// and every primary cell has two witnesses that check out exactly.
fn check_proofs(
    table: &CountTable,
    truth: &[Option<u64>],
    model: &Model,
    primaries: &[usize],
    proofs: &BTreeMap<usize, Proof>,
) -> Result<(), DisclosureError> {
    let agrees = (0..model.structure.len)
        .all(|cell| truth[cell].is_none_or(|count| model.base[cell] == count as i64));
    for primary in primaries {
        let proven = proofs.get(primary).is_some_and(|proof| {
            model.verifies(*primary, Side::Low, &proof.low, false)
                && model.verifies(*primary, Side::High, &proof.high, false)
        });
        if !(agrees && proven && model.base_is_consistent()) {
            return Err(DisclosureError::Unproven {
                cell: table.describe(&model.structure.key_of(*primary)),
                reason: "its proof did not check out".to_owned(),
            });
        }
    }
    Ok(())
}

/// The outcome of every observation and the summary.
fn outcome(
    table: &CountTable,
    model: &Model,
    primaries: &[usize],
    proofs: &BTreeMap<usize, Proof>,
) -> Protection {
    let primary_set: HashSet<usize> = primaries.iter().copied().collect();
    let mut summary = Summary::default();
    let mut outcomes = Vec::with_capacity(table.cells().len());
    for (observation, cell) in table.cells().iter().zip(&model.structure.cell_of) {
        let cell = *cell as usize;
        let outcome = if primary_set.contains(&cell) {
            summary.primary += 1;
            CellOutcome::Primary
        } else if let CellValue::Confidential(_) = observation.value {
            summary.already_confidential += 1;
            CellOutcome::AlreadyConfidential
        } else if model.suppressed[cell] && !model.hidden[cell] {
            summary.secondary += 1;
            CellOutcome::Secondary
        } else {
            CellOutcome::Published
        };
        if outcome.is_suppressed() {
            summary.suppressed_cells += 1;
            summary.suppressed_value += observation.value.count().unwrap_or(0);
        }
        outcomes.push(outcome);
    }
    let proofs = proofs
        .iter()
        .map(|(cell, proof)| CellProof {
            cell: model.structure.observation[*cell].map_or(0, |position| position as usize),
            count: model.base[*cell] as u64,
            lowest: (model.base[*cell] + proof.low.change(*cell as u32)) as u64,
            highest_at_least: (model.base[*cell] + proof.high.change(*cell as u32)) as u64,
        })
        .collect();
    Protection {
        threshold: model.threshold,
        outcomes,
        summary,
        proofs,
    }
}
