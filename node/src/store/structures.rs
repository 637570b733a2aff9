//! The structures this node holds (docs/design.md section 8): an index of its structure
//! releases, SDMX structure messages released here or pulled and verified, each with what it
//! defines, so that a release of data finds the structure its `STRUCTURE_ID` names, a receiver
//! finds the structure message its owner checked it against, and `datapact structures` lists
//! them, all without reading every dataset.
//!
//! The index is written before the dataset record it describes, so a crash between the two
//! leaves an entry without a record; every lookup therefore reads the entry's record and
//! counts the structure as held only while its content is here and it is not revoked. A
//! revoked structure constrains nothing: its owner may release a corrected one under the
//! same ids.

use std::io::Read as _;

use datapact_protocol::sdmx::resolve::MAX_STRUCTURE_MESSAGE_LEN;
use datapact_protocol::sdmx::{StructureInfo, StructureSet, parse_structure_message};
use datapact_protocol::{DatasetId, Digest, SignedAnnouncement};
use serde::{Deserialize, Serialize};

use super::records;
use super::{MAX_RECORD_LEN, Store, StoreError};

#[path = "content_check.rs"]
pub mod content_check;

/// A structure release held here that is damaged (its file replaced or cut short): it is
/// never used to judge data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Damaged {
    /// A content is not what its digest names, or larger than it may be for what it is read
    /// as.
    #[error("state is damaged: content {sha256}: {why}")]
    Content {
        /// The digest it is stored under.
        sha256: Digest,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A structure message no longer reads as one.
    #[error("state is damaged: structure message of {dataset}: {source}")]
    Structure {
        /// The structure release.
        dataset: DatasetId,
        /// Why it does not read.
        #[source]
        source: datapact_protocol::sdmx::StructureError,
    },
}

/// What the index records of one structure release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct StructureRecord {
    /// SHA-256 of the structure message, the release's content.
    #[serde(with = "serde_bytes")]
    pub sha256: Vec<u8>,
    /// Every data structure definition and dataflow it defines, as `structures` lists them.
    pub defines: Vec<StructureInfo>,
}

/// A structure release this node holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldStructure {
    /// The release: its owner proposed the structure.
    pub dataset: DatasetId,
    /// SHA-256 of the structure message.
    pub sha256: Digest,
    /// What it defines, data structure definitions first.
    pub defines: Vec<StructureInfo>,
    /// When this node recorded the release: when several held messages define one id, the one
    /// recorded first is used, so that holding a later copy (consistent, or it would not be
    /// held) never changes which message data are checked against.
    pub recorded_at: u64,
}

impl HeldStructure {
    /// Whether it defines `id` (`AGENCY:ID(VERSION)`) as a data structure definition or a
    /// dataflow.
    pub fn defines(&self, id: &str) -> bool {
        self.defines.iter().any(|info| info.id == id)
    }
}

impl Store {
    /// Records that the release `dataset` is a structure message with digest `sha256` that
    /// defines `defines`. Call before the dataset record is stored (see the module doc).
    pub fn put_structure(
        &self,
        dataset: &DatasetId,
        sha256: &Digest,
        defines: &[StructureInfo],
    ) -> Result<(), StoreError> {
        let record = StructureRecord {
            sha256: sha256.0.to_vec(),
            defines: defines.to_vec(),
        };
        self.structures
            .insert(dataset.to_string().as_bytes(), records::encode(&record))?;
        Ok(())
    }

    /// Forgets that `dataset` is a structure release (its pull was refused).
    pub fn remove_structure(&self, dataset: &DatasetId) -> Result<(), StoreError> {
        self.structures.remove(dataset.to_string().as_bytes())?;
        Ok(())
    }

    /// Every structure release held now (recorded, its content here, not revoked), in the
    /// order they were recorded.
    pub fn held_structures(&self) -> Result<Vec<HeldStructure>, StoreError> {
        let mut out = Vec::new();
        for kv in self.structures.iter() {
            let (key, value) = kv?;
            let text = String::from_utf8_lossy(&key);
            let dataset: DatasetId = text.parse().map_err(|_| StoreError::BadKey {
                tree: "structure index",
                key: text.to_string(),
            })?;
            let Some(record) = self.dataset(&dataset)? else {
                continue;
            };
            if !record.has_content || record.revocation.is_some() {
                continue;
            }
            let entry: StructureRecord = records::decode(&value, MAX_RECORD_LEN)?;
            let sha256 = Digest::from_slice(&entry.sha256).map_err(|_| StoreError::BadKey {
                tree: "structure index entry",
                key: dataset.to_string(),
            })?;
            out.push(HeldStructure {
                dataset,
                sha256,
                defines: entry.defines,
                recorded_at: record.recorded_at,
            });
        }
        out.sort_by(|a, b| {
            a.recorded_at
                .cmp(&b.recorded_at)
                .then_with(|| a.dataset.to_string().cmp(&b.dataset.to_string()))
        });
        Ok(out)
    }

    /// The held structure releases that define `id`, in the order they were recorded.
    pub fn held_structures_defining(&self, id: &str) -> Result<Vec<HeldStructure>, StoreError> {
        let mut held = self.held_structures()?;
        held.retain(|h| h.defines(id));
        Ok(held)
    }

    /// The first recorded held structure release whose message has digest `sha256`.
    pub fn held_structure_with_digest(
        &self,
        sha256: &Digest,
    ) -> Result<Option<HeldStructure>, StoreError> {
        Ok(self
            .held_structures()?
            .into_iter()
            .find(|h| h.sha256 == *sha256))
    }

    /// Reads and parses the structure message of a held release, checking that its bytes still
    /// hash to the recorded digest (a damaged file is never used to judge data).
    pub fn structure_set(&self, held: &HeldStructure) -> Result<StructureSet, StoreError> {
        let bytes = self.read_small_content(&held.sha256, MAX_STRUCTURE_MESSAGE_LEN)?;
        let damaged = |source| Damaged::Structure {
            dataset: held.dataset.clone(),
            source,
        };
        Ok(parse_structure_message(&bytes).map_err(damaged)?)
    }

    /// The whole content `sha256`, at most `cap` bytes, checked against its digest.
    pub fn read_small_content(&self, sha256: &Digest, cap: usize) -> Result<Vec<u8>, StoreError> {
        let file = self.blobs.open_read(sha256)?;
        let mut bytes = Vec::new();
        let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
        file.take(limit).read_to_end(&mut bytes)?;
        if bytes.len() > cap {
            return Err(Damaged::Content {
                sha256: *sha256,
                why: "larger than it may be",
            }
            .into());
        }
        if Digest::of(&bytes) != *sha256 {
            return Err(Damaged::Content {
                sha256: *sha256,
                why: "does not match its digest",
            }
            .into());
        }
        Ok(bytes)
    }

    /// Removes the content of a pull that was refused after it was stored, unless another
    /// dataset held here (than `refused`) has the same content.
    pub fn discard_refused_content(
        &self,
        refused: &DatasetId,
        sha256: &Digest,
    ) -> Result<(), StoreError> {
        for (id, record) in self.datasets()? {
            if id == *refused || !record.has_content {
                continue;
            }
            let same = SignedAnnouncement::decode_trusted(&record.announcement)
                .is_ok_and(|signed| signed.body().sha256 == *sha256);
            if same {
                return Ok(());
            }
        }
        Ok(self.blobs.remove(sha256)?)
    }
}

#[cfg(test)]
#[path = "structures_tests.rs"]
mod tests;
