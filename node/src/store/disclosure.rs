//! The owner's private record of how each of its protected releases was protected: the summary
//! of the suppression and which cells were small counts (primary). The announcement says only
//! how many cells were published empty; which of them were primary stays here, on the owner's
//! node, where `datasets` shows it to the owner alone. The unprotected values themselves are
//! never stored, not even here: only the keys of the primary cells.

use datapact_protocol::DatasetId;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, records};

/// Name of the sled tree: dataset id text -> [`ProtectionRecord`].
const TREE: &str = "own_protection";

/// Largest protection record decoded: a table of the largest size protected, every cell
/// primary, with long codes, stays well below it.
const MAX_PROTECTION_RECORD_LEN: usize = 64 << 20;

/// How one of our releases was protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectionRecord {
    /// N of `--suppress-below N`.
    pub threshold: u64,
    /// The table's dimension ids, in key order, naming the codes of `primary_cells`.
    pub dimensions: Vec<String>,
    /// The key of every primary cell (0 < count < N), one code per dimension: what the owner
    /// needs to answer "which of the empty cells are small counts?", and nothing more.
    pub primary_cells: Vec<Vec<String>>,
    /// Cells suppressed to protect the primary ones.
    pub secondary: u64,
    /// Cells that the file already marked confidential (and that were not primary).
    pub already_confidential: u64,
    /// Every cell published empty with CONF_STATUS `C`: the information lost, in cells.
    pub suppressed_cells: u64,
    /// Total count of every suppressed cell: the information lost, in value.
    pub suppressed_value: u64,
}

impl Store {
    /// Records how our release `id` was protected. Call before its dataset record is stored,
    /// under the release lock, so a release is never listed without it.
    pub fn put_protection(
        &self,
        id: &DatasetId,
        record: &ProtectionRecord,
    ) -> Result<(), StoreError> {
        self.db
            .open_tree(TREE)?
            .insert(id.to_string().as_bytes(), records::encode(record))?;
        Ok(())
    }

    /// How our release `id` was protected, if it was.
    pub fn protection(&self, id: &DatasetId) -> Result<Option<ProtectionRecord>, StoreError> {
        self.db
            .open_tree(TREE)?
            .get(id.to_string().as_bytes())?
            .map(|bytes| records::decode(&bytes, MAX_PROTECTION_RECORD_LEN))
            .transpose()
    }
}
