//! The attacker's view of a suppression pattern, and the exact check of a proof of protection.
//!
//! The attacker knows every published value, every value an earlier version published for the
//! same cell, the table's relations, and that counts are non-negative integers. The cells it
//! does not know are *free*. A [`Witness`] is a change to the free cells of a complete table
//! (`base`, consistent with everything the attacker knows) that keeps every relation and every
//! count non-negative: it is therefore a table the attacker cannot rule out. A primary cell is
//! protected when one witness sets it to 0 and another to at least N; [`Model::verifies`] checks
//! a witness in exact integer arithmetic, so no rounding of any solver can ever make an
//! unprotected cell pass.

use std::collections::HashSet;

use super::relations::Structure;

/// Which end of a primary cell's interval a witness proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// A consistent table in which the cell is 0.
    Low,
    /// A consistent table in which the cell is at least the threshold.
    High,
}

/// A consistent table different from `base`: the changed cells and by how much, sorted by cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Witness {
    /// (grid cell, change), sorted by cell, no zero changes.
    pub delta: Vec<(u32, i64)>,
}

impl Witness {
    /// A witness from unsorted changes; zero changes are dropped.
    pub fn from_changes(mut delta: Vec<(u32, i64)>) -> Witness {
        delta.retain(|(_, change)| *change != 0);
        delta.sort_unstable();
        Witness { delta }
    }

    /// The change of one cell (0 when it is unchanged).
    pub fn change(&self, cell: u32) -> i64 {
        self.delta
            .binary_search_by_key(&cell, |(changed, _)| *changed)
            .map_or(0, |position| self.delta[position].1)
    }

    /// Whether the witness changes this cell.
    pub fn touches(&self, cell: u32) -> bool {
        self.change(cell) != 0
    }
}

/// Both ends of a primary cell's protection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proof {
    /// A consistent table with the cell at 0.
    pub low: Witness,
    /// A consistent table with the cell at N or more.
    pub high: Witness,
}

impl Proof {
    /// Whether either witness changes this cell, so publishing it may break the proof.
    pub fn touches(&self, cell: u32) -> bool {
        self.low.touches(cell) || self.high.touches(cell)
    }
}

/// Everything disclosure control knows about a table while it chooses suppressions.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    /// The grid and its relations.
    pub structure: Structure,
    /// N: primary cells are those with 0 < count < N.
    pub threshold: u64,
    /// A complete table consistent with the data, the relations and earlier versions: the
    /// owner's counts where known, a completion of the unknown cells elsewhere.
    pub base: Vec<i64>,
    /// Cells whose value the attacker learnt from an earlier version.
    pub known: Vec<bool>,
    /// Cells never published: absent, empty, or already confidential.
    pub hidden: Vec<bool>,
    /// Cells suppressed by this release (primary and secondary).
    pub suppressed: Vec<bool>,
}

impl Model {
    /// Whether the attacker does not know this cell's value.
    pub fn is_free(&self, cell: usize) -> bool {
        !self.known[cell] && (self.hidden[cell] || self.suppressed[cell])
    }

    /// Whether the cell is published now (and so costs something to suppress).
    pub fn is_published(&self, cell: usize) -> bool {
        !self.hidden[cell] && !self.suppressed[cell]
    }

    /// The owner's count of a cell as a protection amount.
    pub fn value(&self, cell: usize) -> i64 {
        self.base[cell]
    }

    /// The cells reachable from `start` through relations, passing only cells for which
    /// `open` holds (those are the unknowns of a sub-problem; every other cell is a constant).
    pub fn region(&self, start: usize, open: impl Fn(usize) -> bool) -> Vec<u32> {
        let mut seen = HashSet::from([start as u32]);
        let mut pending = vec![start as u32];
        let mut region = Vec::new();
        while let Some(cell) = pending.pop() {
            region.push(cell);
            for relation in &self.structure.touching[cell as usize] {
                let relation = &self.structure.relations[*relation as usize];
                for other in relation.parts.iter().chain([&relation.total]) {
                    if open(*other as usize) && seen.insert(*other) {
                        pending.push(*other);
                    }
                }
            }
        }
        region.sort_unstable();
        region
    }

    /// Whether `witness` proves `side` of `primary`'s protection, checked exactly: it changes
    /// only free cells, keeps every count non-negative and every relation, and moves the cell to
    /// 0 (low) or to at least N (high). With `revealing`, published cells the witness changes
    /// count as suppressed (the caller suppresses them); cells an earlier version disclosed
    /// never do.
    pub fn verifies(&self, primary: usize, side: Side, witness: &Witness, revealing: bool) -> bool {
        let moved = self.base[primary] + witness.change(primary as u32);
        let target_met = match side {
            Side::Low => moved == 0,
            Side::High => moved >= self.threshold as i64,
        };
        if !target_met {
            return false;
        }
        let mut relations = HashSet::new();
        for (cell, change) in &witness.delta {
            let cell = *cell as usize;
            let changeable = self.is_free(cell) || (revealing && !self.known[cell]);
            if !changeable || self.base[cell] + change < 0 {
                return false;
            }
            relations.extend(self.structure.touching[cell].iter().copied());
        }
        relations.into_iter().all(|relation| {
            let relation = &self.structure.relations[relation as usize];
            let parts: i64 = relation
                .parts
                .iter()
                .map(|part| witness.change(*part))
                .sum();
            witness.change(relation.total) == parts
        })
    }

    /// Whether `base` itself is consistent: non-negative and exact in every relation. Every
    /// witness is checked relative to it, so it is checked once too.
    pub fn base_is_consistent(&self) -> bool {
        self.base.iter().all(|value| *value >= 0)
            && self.structure.relations.iter().all(|relation| {
                let parts: i64 = relation
                    .parts
                    .iter()
                    .map(|part| self.base[*part as usize])
                    .sum();
                self.base[relation.total as usize] == parts
            })
    }
}
