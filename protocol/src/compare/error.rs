//! Why a comparison cannot be made: bad options (the user's input, exit 2), or data beyond the
//! comparison's caps.

/// Options that do not fit the structure: bad input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// A `--filter` that is not `DIM=CODE[,CODE]...`.
    #[error("--filter {0:?}: expected DIM=CODE[,CODE]..., e.g. REF_AREA=THA,MYS")]
    FilterSyntax(String),
    /// A dimension the structure does not have.
    #[error("unknown dimension {dimension:?}: the structure's dimensions are {known}")]
    UnknownDimension {
        /// The name given.
        dimension: String,
        /// The dimensions there are, and `OWNER`.
        known: String,
    },
    /// A code the dimension cannot take.
    #[error("unknown code {code:?} for {dimension}: expected {expected}")]
    UnknownCode {
        /// The dimension.
        dimension: String,
        /// The code given.
        code: String,
        /// What the dimension takes.
        expected: String,
    },
    /// Too many codes in one filter.
    #[error("--filter {0}: more than {max} codes", max = super::MAX_FILTER_CODES)]
    TooManyCodes(String),
    /// The same dimension as rows and columns.
    #[error("{0} cannot be both a row dimension and the column dimension")]
    RowIsColumn(String),
    /// A dimension left out of `--rows` that takes several codes: its rows would collide.
    #[error(
        "{dimension} takes several codes here ({codes}): add it to --rows, or keep one with \
         --filter {dimension}=CODE"
    )]
    Varies {
        /// The dimension.
        dimension: String,
        /// Some of its codes.
        codes: String,
    },
    /// The structure id is not `AGENCY:ID(VERSION)`.
    #[error("{0}")]
    StructureId(#[from] crate::sdmx::model::ArtefactRefError),
}

/// Why a comparison failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompareError {
    /// Bad options.
    #[error("{0}")]
    Options(#[from] OptionsError),
    /// More observations than a comparison holds.
    #[error(
        "more than {max} observations to compare; narrow the comparison with --filter",
        max = super::MAX_OBSERVATIONS
    )]
    TooManyObservations,
    /// A table with more cells than a comparison holds.
    #[error(
        "the table would have more than {max} cells; narrow the comparison with --filter",
        max = super::MAX_TABLE_CELLS
    )]
    TooManyCells,
}
