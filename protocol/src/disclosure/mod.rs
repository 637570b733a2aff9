//! Statistical disclosure control at release (placeholder doc, completed below).

mod attacker;
mod error;
mod linked;
mod moves;
mod primary;
mod protect;
mod relations;
pub mod sdmx_csv;
mod secondary;
mod solver;
mod table;

pub use error::DisclosureError;
pub use linked::PublishedTable;
pub use primary::is_primary;
pub use protect::{CellOutcome, CellProof, Protection, Summary, protect};
pub use relations::MAX_GRID_CELLS;
pub use table::{
    CellValue, CountTable, MAX_COUNT, MAX_DIMENSIONS, MAX_TABLE_CELLS, TOTAL_CODE, TableCell,
};
