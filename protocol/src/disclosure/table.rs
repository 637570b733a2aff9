//! The table model: a table of counts keyed by one code per dimension, as the owner holds it
//! before protection, with optional codelist hierarchies.
//!
//! A [`CountTable`] holds only what the file says. Which codes add up to which is derived from
//! it later (see `relations`); cells absent from the table are unknown, never zero.

use std::collections::{BTreeMap, HashMap};

use super::error::DisclosureError;

/// The SDMX code of a dimension's total.
pub const TOTAL_CODE: &str = "_T";
/// Most dimensions a protected table may have.
pub const MAX_DIMENSIONS: usize = 16;
/// Most observations a protected table may have.
pub const MAX_TABLE_CELLS: usize = 200_000;
/// Largest count accepted. The exact check hands counts to an integer solver whose integer
/// variables are 32-bit, so larger counts could not be represented exactly.
pub const MAX_COUNT: u64 = i32::MAX as u64;

/// The value of one observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellValue {
    /// A count the owner publishes unless it must be suppressed.
    Count(u64),
    /// No value in the file (empty, `NaN`): unknown to everyone, published empty as it was.
    Missing,
    /// Already confidential (a CONF_STATUS other than `F`), with its count when the file gives
    /// one: always published empty, and it counts as suppressed.
    Confidential(Option<u64>),
}

impl CellValue {
    /// The count the owner knows, if any.
    pub fn count(self) -> Option<u64> {
        match self {
            CellValue::Count(value) | CellValue::Confidential(Some(value)) => Some(value),
            CellValue::Missing | CellValue::Confidential(None) => None,
        }
    }
}

/// One observation: its key (one code per dimension, in the table's dimension order) and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCell {
    /// The codes, one per dimension of the table.
    pub key: Vec<String>,
    /// The observation's value.
    pub value: CellValue,
}

/// A table of counts to protect.
#[derive(Debug, Clone, Default)]
pub struct CountTable {
    /// Dimension ids, in key order.
    dimensions: Vec<String>,
    /// The observations, in input order (the protected table keeps this order).
    cells: Vec<TableCell>,
    /// Key to position in `cells`, to refuse duplicates and find cells by key.
    positions: HashMap<Vec<String>, usize>,
    /// Per dimension id: code to parent code, from the structure's codelist.
    hierarchies: BTreeMap<String, BTreeMap<String, String>>,
}

impl CountTable {
    /// An empty table with these dimensions (ids, in key order).
    pub fn new(dimensions: Vec<String>) -> Result<Self, DisclosureError> {
        if dimensions.is_empty() || dimensions.len() > MAX_DIMENSIONS {
            return Err(DisclosureError::TooLarge(format!(
                "a table needs between 1 and {MAX_DIMENSIONS} dimensions, got {}",
                dimensions.len()
            )));
        }
        Ok(CountTable {
            dimensions,
            ..CountTable::default()
        })
    }

    /// Adds an observation; refuses a malformed or duplicate key and a count above
    /// [`MAX_COUNT`]. Returns its position.
    pub fn push(&mut self, key: Vec<String>, value: CellValue) -> Result<usize, DisclosureError> {
        if key.len() != self.dimensions.len() || key.iter().any(String::is_empty) {
            return Err(DisclosureError::BadKey {
                expected: self.dimensions.len(),
            });
        }
        if self.cells.len() >= MAX_TABLE_CELLS {
            return Err(DisclosureError::TooLarge(format!(
                "more than {MAX_TABLE_CELLS} observations"
            )));
        }
        if let Some(count) = value.count().filter(|count| *count > MAX_COUNT) {
            return Err(DisclosureError::CountTooLarge {
                cell: self.describe(&key),
                value: count,
            });
        }
        if self.positions.contains_key(&key) {
            return Err(DisclosureError::DuplicateCell {
                cell: self.describe(&key),
            });
        }
        let position = self.cells.len();
        self.positions.insert(key.clone(), position);
        self.cells.push(TableCell { key, value });
        Ok(position)
    }

    /// Declares the codelist hierarchy of one dimension: each code mapped to its parent code.
    /// Codes without an entry have no parent; their sum is the dimension's `_T`.
    pub fn set_hierarchy(
        &mut self,
        dimension: &str,
        parents: BTreeMap<String, String>,
    ) -> Result<(), DisclosureError> {
        if !self.dimensions.iter().any(|known| known == dimension) {
            return Err(DisclosureError::UnknownDimension(dimension.to_owned()));
        }
        self.hierarchies.insert(dimension.to_owned(), parents);
        Ok(())
    }

    /// The dimension ids, in key order.
    pub fn dimensions(&self) -> &[String] {
        &self.dimensions
    }

    /// The observations, in input order.
    pub fn cells(&self) -> &[TableCell] {
        &self.cells
    }

    /// The position of the observation with this key.
    pub fn position(&self, key: &[String]) -> Option<usize> {
        self.positions.get(key).copied()
    }

    /// The hierarchy declared for a dimension, if any.
    pub fn hierarchy(&self, dimension: &str) -> Option<&BTreeMap<String, String>> {
        self.hierarchies.get(dimension)
    }

    /// A key written for people: `DIM=CODE, DIM=CODE`.
    pub fn describe(&self, key: &[String]) -> String {
        self.dimensions
            .iter()
            .zip(key)
            .map(|(dimension, code)| format!("{dimension}={code}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
