//! The control API's view of SDMX structures (docs/design.md section 8): what `structures`
//! lists, the structure that data were validated against as `datasets` and `catalog` show it,
//! and what a pull made of the structure its dataset involves.

use datapact_protocol::MemberCode;
use datapact_protocol::sdmx::StructureKind;
use serde::{Deserialize, Serialize};

/// The structure SDMX-CSV data were validated against at release, as their announcement
/// records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StructureUsed {
    /// The data's `STRUCTURE_ID`, as written.
    pub id: String,
    /// The data structure definition it resolves to.
    pub dsd: String,
    /// SHA-256 of the structure message, hex.
    pub sha256: String,
}

/// A structure this node holds, as `datapact structures` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StructureEntry {
    /// `AGENCY:ID(VERSION)`.
    pub id: String,
    /// A data structure definition or a dataflow.
    pub kind: StructureKind,
    /// Its name, or its id when the message gives none.
    pub name: String,
    /// Dimension ids in key order, the time dimension last.
    pub dimensions: Vec<String>,
    /// Whether a codelist it uses is partial (data are checked against the codes listed).
    pub partial: bool,
    /// The member that released the structure message.
    pub owner: MemberCode,
    /// The structure release, `OWNER/NAME@VERSION`.
    pub dataset: String,
}

/// What a receiver made of the structure a pulled dataset involves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructureCheck {
    /// A structure message, checked and consistent with those held here: now held.
    Held,
    /// Data validated against the very structure message their owner checked them against.
    Validated,
    /// Data whose structure message is not held here: not validated.
    NotHeld,
    /// This node holds another structure message under the id the data name: not validated
    /// against it, since it may not be the definition the data follow.
    Conflict,
}
