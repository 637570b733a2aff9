//! SDMX: the structures members agree on, and the data checked against them.
//!
//! * [`csv`]: the SDMX-CSV record reader that both data checks share.
//! * [`syntax`]: the syntax check of SDMX-CSV, for data whose structure the node does not hold
//!   ([`SdmxValidator`]).
//! * [`model`]: one model of a structure (data structure definitions, codelists, concepts,
//!   dataflows), whichever format it was read from.
//! * [`json`] and [`xml`]: the readers of SDMX-JSON (1.0 and 2.0/2.1 layouts) and SDMX-ML 3.0
//!   structure messages; [`resolve`] turns what they read into the model, refusing unresolved
//!   references and ids that are not well-formed (`ids.rs`).
//! * [`consistency`]: whether a message agrees with the structures a node already holds.
//! * [`validate`]: the validation of SDMX-CSV data against a structure ([`DataValidator`]),
//!   with [`time_period`] and [`value`] checking single values and [`keys`] remembering series
//!   keys.
//!
//! Nothing here does I/O: callers feed bytes and get answers.

pub mod consistency;
pub(crate) mod csv;
mod ids;
pub mod json;
pub mod keys;
pub mod model;
mod raw;
pub mod resolve;
mod rules;
pub mod syntax;
pub mod time_period;
pub mod validate;
pub mod value;
pub mod xml;

pub use consistency::{ConsistencyError, StructureInfo, check_consistency};
pub use csv::{MAX_COLUMNS, MAX_RECORD_LEN};
pub use model::{ArtefactRef, StructureKind, StructureSet};
pub use resolve::{StructureError, looks_like_structure_message, parse_structure_message};
pub use syntax::{SdmxError, SdmxSummary, SdmxValidator, looks_like_sdmx};
pub use validate::{
    DataError, DataValidator, MAX_REPORTED_ERRORS, ValidationReport, structure_named, validate_data,
};

/// Most characters of a value from the input quoted in an error message.
const MAX_SHOWN_CHARS: usize = 80;

/// A value from the input, cut short for an error message.
pub(crate) fn shown(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(MAX_SHOWN_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// The id of a column or value written with a label (`FREQ: Frequency`): the text before the
/// colon, trimmed; the whole text when there is no colon.
pub(crate) fn column_id(name: &str) -> &str {
    match name.split_once(':') {
        Some((id, _)) => id.trim(),
        None => name.trim(),
    }
}
