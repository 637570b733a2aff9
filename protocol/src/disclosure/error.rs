//! Why a table cannot be protected or released: the typed refusals of disclosure control.
//!
//! Every refusal is a bad input (the node turns it into exit 2 and stores nothing), except
//! [`DisclosureError::Unproven`], which means the method could not prove the guarantee and
//! therefore refuses rather than release an unproven table.

use super::table::MAX_COUNT;

/// Why disclosure control refused a table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DisclosureError {
    /// The threshold must be at least 2: with N = 1 no count is small.
    #[error("--suppress-below must be at least 2, got {0}")]
    ThresholdTooLow(u64),
    /// A count below zero.
    #[error("line {line}: OBS_VALUE {value:?} is negative; counts must be 0 or more")]
    NegativeCount {
        /// Physical line of the record (the header is line 1).
        line: u64,
        /// The value as written.
        value: String,
    },
    /// A value that is not a whole number.
    #[error("line {line}: OBS_VALUE {value:?} is not a whole number; counts must be integers")]
    NonIntegerCount {
        /// Physical line of the record (the header is line 1).
        line: u64,
        /// The value as written.
        value: String,
    },
    /// A count too large for the exact check.
    #[error("cell {cell}: count {value} is above the largest supported count {MAX_COUNT}")]
    CountTooLarge {
        /// The cell, as `DIM=CODE, ...`.
        cell: String,
        /// The count.
        value: u64,
    },
    /// Two observations with the same key.
    #[error("cell {cell} appears twice")]
    DuplicateCell {
        /// The cell, as `DIM=CODE, ...`.
        cell: String,
    },
    /// A key with the wrong number of codes, or an empty code.
    #[error("a cell key must give one non-empty code for each of the {expected} dimensions")]
    BadKey {
        /// Number of dimensions of the table.
        expected: usize,
    },
    /// The table's shape is outside the supported limits.
    #[error("table too large for disclosure control: {0}")]
    TooLarge(String),
    /// A hierarchy names a dimension the table does not have.
    #[error("a hierarchy is given for {0:?}, which is not a dimension of the table")]
    UnknownDimension(String),
    /// A hierarchy in which a code is its own ancestor.
    #[error("the hierarchy of {dimension} is circular at code {code}")]
    HierarchyCycle {
        /// The dimension.
        dimension: String,
        /// A code on the cycle.
        code: String,
    },
    /// The table's values contradict its own totals.
    #[error("the table contradicts its own totals: {0}")]
    ContradictsTotals(String),
    /// Values published in an earlier version, with this table, disclose a small count.
    #[error(
        "cell {cell} would be disclosed by difference with version {version} published earlier"
    )]
    DisclosedByEarlierVersion {
        /// The primary cell, as `DIM=CODE, ...`.
        cell: String,
        /// The earlier version whose published values disclose it.
        version: u64,
    },
    /// The guarantee could not be proven for a cell (the solver gave up or failed); nothing is
    /// released rather than an unproven table.
    #[error("could not prove the protection of cell {cell}: {reason}")]
    Unproven {
        /// The primary cell, as `DIM=CODE, ...`.
        cell: String,
        /// What went wrong.
        reason: String,
    },
    /// An SDMX-CSV table that cannot be read as a table of counts.
    #[error("line {line}: {reason}")]
    Csv {
        /// Physical line (the header is line 1).
        line: u64,
        /// What is wrong.
        reason: String,
    },
}
