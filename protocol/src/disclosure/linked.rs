//! Linked releases: what earlier versions of the same dataset already told the attacker.
//!
//! A [`PublishedTable`] is what one earlier version published: for each cell its count, or
//! nothing when it was suppressed. Cells are matched by key, dimension by dimension id, so a
//! version whose dimensions are ordered differently still links. An earlier count enters the
//! attacker's knowledge as an equality on the cell with the same key, unless the owner's table
//! now holds a different count there: a revised cell's old count is not a fact about its new
//! one. A version with a different set of dimensions shares no cell and adds nothing.

use std::collections::HashMap;

use super::error::DisclosureError;
use super::relations::Structure;
use super::table::{CountTable, MAX_DIMENSIONS, MAX_TABLE_CELLS};

/// What one earlier version of the dataset published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedTable {
    /// The version number, named when that version would disclose a cell.
    pub version: u64,
    /// Dimension ids, in key order.
    dimensions: Vec<String>,
    /// Each published cell: its key and count, `None` when it was suppressed.
    cells: Vec<(Vec<String>, Option<u64>)>,
}

impl PublishedTable {
    /// An empty published version with these dimensions.
    pub fn new(version: u64, dimensions: Vec<String>) -> Result<Self, DisclosureError> {
        if dimensions.is_empty() || dimensions.len() > MAX_DIMENSIONS {
            return Err(DisclosureError::TooLarge(format!(
                "a table needs between 1 and {MAX_DIMENSIONS} dimensions, got {}",
                dimensions.len()
            )));
        }
        Ok(PublishedTable {
            version,
            dimensions,
            cells: Vec::new(),
        })
    }

    /// Adds a published cell; `None` for a cell published empty.
    pub fn push(&mut self, key: Vec<String>, count: Option<u64>) -> Result<(), DisclosureError> {
        if key.len() != self.dimensions.len() {
            return Err(DisclosureError::BadKey {
                expected: self.dimensions.len(),
            });
        }
        if self.cells.len() >= MAX_TABLE_CELLS {
            return Err(DisclosureError::TooLarge(format!(
                "more than {MAX_TABLE_CELLS} observations"
            )));
        }
        self.cells.push((key, count));
        Ok(())
    }

    /// The dimension ids, in key order.
    pub fn dimensions(&self) -> &[String] {
        &self.dimensions
    }

    /// The published cells: key and count (`None` when suppressed).
    pub fn cells(&self) -> &[(Vec<String>, Option<u64>)] {
        &self.cells
    }
}

/// For each grid cell, the count the attacker learnt from the earlier versions with a number
/// up to `up_to` (all when `None`). The latest version wins where two disagree.
pub(crate) fn earlier_knowledge(
    table: &CountTable,
    structure: &Structure,
    truth: &[Option<u64>],
    earlier: &[PublishedTable],
    up_to: Option<u64>,
) -> Vec<Option<u64>> {
    let mut known = vec![None; structure.len];
    let mut versions: Vec<&PublishedTable> = earlier
        .iter()
        .filter(|version| up_to.is_none_or(|last| version.version <= last))
        .collect();
    versions.sort_by_key(|version| version.version);
    for version in versions {
        let Some(order) = reorder(table.dimensions(), version.dimensions()) else {
            continue;
        };
        for (key, count) in &version.cells {
            let Some(count) = count else { continue };
            let key: Vec<String> = order
                .iter()
                .map(|position| key[*position].clone())
                .collect();
            let Some(cell) = structure.index_of(&key) else {
                continue;
            };
            if truth[cell].is_none_or(|current| current == *count) {
                known[cell] = Some(*count);
            }
        }
    }
    known
}

/// For each dimension of `ours`, its position in `theirs`; `None` when the sets differ.
fn reorder(ours: &[String], theirs: &[String]) -> Option<Vec<usize>> {
    if ours.len() != theirs.len() {
        return None;
    }
    let positions: HashMap<&str, usize> = theirs
        .iter()
        .enumerate()
        .map(|(position, dimension)| (dimension.as_str(), position))
        .collect();
    ours.iter()
        .map(|dimension| positions.get(dimension.as_str()).copied())
        .collect()
}
