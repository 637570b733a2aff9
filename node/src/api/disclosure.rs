//! The control API's view of disclosure control at release (docs/design.md section 10): how a
//! dataset was protected as everyone sees it, the owner's own account of it (the information
//! lost and which cells were small counts), and `release --dry-run`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::request::ReleaseRequest;
use super::structures::StructureUsed;

/// How a dataset was protected, as its announcement records it (`meta.disclosure`): all that
/// a receiver learns. Its empty cells are confidential, not zero and not unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosureInfo {
    /// The rule, `min-count`.
    pub rule: String,
    /// N: no published cell lets anyone tell a count below N from 0 or from N or more.
    pub threshold: u64,
    /// How many cells were published empty with CONF_STATUS `C`.
    pub suppressed: u64,
}

/// The owner's account of a protection: the information lost, and which cells were primary.
/// Only the owner's node has it; it is never announced or served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectionReport {
    /// N of `--suppress-below N`.
    pub threshold: u64,
    /// Cells suppressed because 0 < count < N.
    pub primary: u64,
    /// Cells suppressed so that the primary ones cannot be derived from the rest.
    pub secondary: u64,
    /// Cells the file already marked confidential (not primary).
    pub already_confidential: u64,
    /// Every cell published empty with CONF_STATUS `C`: the information lost, in cells.
    pub suppressed_cells: u64,
    /// The total count of those cells: the information lost, in value.
    pub suppressed_value: u64,
    /// The table's dimension ids, in key order (the order to show a key in).
    pub dimensions: Vec<String>,
    /// Each primary cell's key: dimension id to code.
    pub primary_cells: Vec<BTreeMap<String, String>>,
}

/// `release FILE --suppress-below N --dry-run`: protect the table as the release would, and
/// say what would be published, storing nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseDryRun {
    /// The release that would be made; its `suppress_below` must be set.
    pub release: ReleaseRequest,
}

/// What `release --dry-run` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DryRunResult {
    /// The protected table, as SDMX-CSV text, exactly as it would be released.
    pub table: String,
    /// What the protection cost, and which cells are primary.
    pub protection: ProtectionReport,
    /// The structure the data were validated against, when the node holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structure: Option<StructureUsed>,
    /// What the user should know (only the SDMX-CSV syntax was checked, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
