//! The federation charter as this node adopted it (docs/design.md section 9): every adopted
//! version's message by version number, the adopted chain's head, the charter's members as
//! roster entries, a recorded fork, pending proposals, and the one charter this node signed for
//! each version.
//!
//! All of it lives in one sled tree, so an adoption (new versions, a new head and the members
//! that follow from it) is one atomic batch: after a crash the node holds the old charter or the
//! new one, never a head without its members. Whether a version is valid is decided before it
//! gets here (`ops::charter`, with the rules of `datapact_protocol::charter`); the store keeps
//! what it is given.

use std::sync::{Arc, RwLock};

use datapact_protocol::Digest;
use datapact_protocol::charter::{CharterId, MAX_CHARTER_LEN};
use serde::{Deserialize, Serialize};

use super::records::{self, RosterEntry};
use super::{Store, StoreError};

/// Prefix of the keys that hold adopted versions: `version/` + version (8 bytes, big-endian).
const VERSION_PREFIX: &[u8] = b"version/";
/// Key of the adopted chain's head version (8 bytes, big-endian).
const HEAD_KEY: &[u8] = b"head";
/// Key of the head charter's members as roster entries ([`RosterEntry`] list).
const ROSTER_KEY: &[u8] = b"roster";
/// Key of the recorded fork ([`ForkRecord`]).
const FORK_KEY: &[u8] = b"fork";
/// Prefix of pending proposals: `pending/` + charter id (32 bytes).
const PENDING_PREFIX: &[u8] = b"pending/";
/// Prefix of the versions this node signed: `signed/` + version -> charter id (32 bytes).
const SIGNED_PREFIX: &[u8] = b"signed/";

/// Largest stored list of charter members decoded: 256 members with 8 addresses each.
const MAX_ROSTER_RECORD_LEN: usize = 1 << 20;
/// Largest stored fork record decoded: the other charter's message and two ids.
const MAX_FORK_RECORD_LEN: usize = MAX_CHARTER_LEN + 4096;

/// Where a roster entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RosterSource {
    /// The newest adopted charter lists the member.
    Charter,
    /// The operator added it with `members add`.
    Local,
}

/// Two valid charters with the same version: the one adopted first stays, adoption stops until
/// the operator adopts one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkRecord {
    /// The version both claim.
    pub version: u64,
    /// The id of the version this node adopted first (and still holds).
    pub kept: String,
    /// The other charter's message, so that the operator can adopt it instead.
    #[serde(with = "serde_bytes")]
    pub other: Vec<u8>,
    /// The other charter's id.
    pub other_id: String,
    /// Unix seconds when the fork was noticed.
    pub noticed_at: u64,
}

impl ForkRecord {
    /// Both ids, ascending, as `federation status` shows them.
    pub fn ids(&self) -> [String; 2] {
        let mut ids = [self.kept.clone(), self.other_id.clone()];
        ids.sort();
        ids
    }
}

/// What one adoption writes.
#[derive(Debug)]
pub struct Adoption<'a> {
    /// The versions to store, ascending and consecutive, as `(version, message)`; each replaces
    /// whatever is stored under its number. The last one becomes the head, and versions above
    /// it (a branch of a fork resolved the other way) are dropped.
    pub versions: Vec<(u64, &'a [u8])>,
    /// The head's members as roster entries, this node left out.
    pub roster: Vec<RosterEntry>,
    /// Whether this adoption resolves the recorded fork (which is then forgotten).
    pub resolves_fork: bool,
}

/// The charter's sled tree and the members of its head, held in memory.
pub(super) struct CharterState {
    /// Every key above.
    tree: sled::Tree,
    /// The head charter's members as roster entries, read at open and replaced on each
    /// adoption: every statement check and every pull asks for it, and must not decode it.
    roster: RwLock<Arc<Vec<RosterEntry>>>,
}

impl CharterState {
    /// Opens the tree and reads the members of the adopted head.
    pub(super) fn open(db: &sled::Db) -> Result<Self, StoreError> {
        let tree = db.open_tree("charter")?;
        let roster = match tree.get(ROSTER_KEY)? {
            Some(bytes) => records::decode(&bytes, MAX_ROSTER_RECORD_LEN)?,
            None => Vec::new(),
        };
        Ok(Self {
            tree,
            roster: RwLock::new(Arc::new(roster)),
        })
    }
}

fn version_key(prefix: &[u8], version: u64) -> Vec<u8> {
    [prefix, &version.to_be_bytes()].concat()
}

fn charter_id_of(bytes: &[u8]) -> Option<CharterId> {
    Digest::from_slice(bytes).ok().map(CharterId)
}

impl Store {
    /// The members of the newest adopted charter as roster entries (this node left out).
    pub fn charter_roster(&self) -> Result<Arc<Vec<RosterEntry>>, StoreError> {
        self.charter
            .roster
            .read()
            .map(|r| Arc::clone(&r))
            .map_err(|_| StoreError::Poisoned("charter roster"))
    }

    /// The version of the newest adopted charter, if any was adopted.
    pub fn charter_head(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .charter
            .tree
            .get(HEAD_KEY)?
            .map(|v| records::seq_of(&v)))
    }

    /// The adopted message of `version`.
    pub fn charter_message(&self, version: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .charter
            .tree
            .get(version_key(VERSION_PREFIX, version))?
            .map(|v| v.to_vec()))
    }

    /// The adopted messages of versions `from..=to`, ascending; stops at the first missing one.
    pub fn charter_messages(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        for version in from..=to {
            match self.charter_message(version)? {
                Some(bytes) => out.push(bytes),
                None => break,
            }
        }
        Ok(out)
    }

    /// Writes an adoption in one atomic batch and switches the in-memory members to it. Call
    /// [`Store::flush`] before telling anyone.
    pub fn adopt_charter(&self, adoption: Adoption<'_>) -> Result<(), StoreError> {
        let Some(&(head, _)) = adoption.versions.last() else {
            return Ok(());
        };
        let mut batch = sled::Batch::default();
        for (version, bytes) in &adoption.versions {
            batch.insert(version_key(VERSION_PREFIX, *version), *bytes);
        }
        let above = version_key(VERSION_PREFIX, head.saturating_add(1));
        let end = version_key(VERSION_PREFIX, u64::MAX);
        for key in self.charter.tree.range(above..=end).keys() {
            batch.remove(key?);
        }
        batch.insert(HEAD_KEY, &head.to_be_bytes());
        batch.insert(ROSTER_KEY, records::encode(&adoption.roster));
        if adoption.resolves_fork {
            batch.remove(FORK_KEY);
        }
        self.charter.tree.apply_batch(batch)?;
        let mut held = self
            .charter
            .roster
            .write()
            .map_err(|_| StoreError::Poisoned("charter roster"))?;
        *held = Arc::new(adoption.roster);
        Ok(())
    }

    /// Records a fork; a fork already recorded stays (the first one is what the operator must
    /// resolve). Returns whether this one was recorded.
    pub fn record_charter_fork(&self, fork: &ForkRecord) -> Result<bool, StoreError> {
        let swapped = self.charter.tree.compare_and_swap(
            FORK_KEY,
            None as Option<&[u8]>,
            Some(records::encode(fork)),
        )?;
        Ok(swapped.is_ok())
    }

    /// The recorded fork, if any.
    pub fn charter_fork(&self) -> Result<Option<ForkRecord>, StoreError> {
        self.charter
            .tree
            .get(FORK_KEY)?
            .map(|v| records::decode(&v, MAX_FORK_RECORD_LEN))
            .transpose()
    }

    /// Keeps a pending proposal's message under its id (replacing an earlier copy with fewer
    /// signatures).
    pub fn put_charter_proposal(&self, id: CharterId, message: &[u8]) -> Result<(), StoreError> {
        let key = [PENDING_PREFIX, &id.0.0].concat();
        self.charter.tree.insert(key, message)?;
        Ok(())
    }

    /// The pending proposal `id`'s message, if it is held.
    pub fn charter_proposal(&self, id: CharterId) -> Result<Option<Vec<u8>>, StoreError> {
        let key = [PENDING_PREFIX, &id.0.0].concat();
        Ok(self.charter.tree.get(key)?.map(|v| v.to_vec()))
    }

    /// Every pending proposal's message, in id order.
    pub fn charter_proposals(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.charter
            .tree
            .scan_prefix(PENDING_PREFIX)
            .values()
            .map(|v| Ok(v?.to_vec()))
            .collect()
    }

    /// Forgets a pending proposal (adopted, or overtaken by another version).
    pub fn remove_charter_proposal(&self, id: CharterId) -> Result<(), StoreError> {
        let key = [PENDING_PREFIX, &id.0.0].concat();
        self.charter.tree.remove(key)?;
        Ok(())
    }

    /// The charter this node signed for `version`, if it signed one.
    pub fn signed_charter(&self, version: u64) -> Result<Option<CharterId>, StoreError> {
        Ok(self
            .charter
            .tree
            .get(version_key(SIGNED_PREFIX, version))?
            .and_then(|v| charter_id_of(&v)))
    }

    /// Records that this node signs `id` for `version`, unless it signed another charter for that
    /// version: then nothing changes and that charter's id is returned. Atomic, so two
    /// concurrent signings of one version cannot both pass.
    pub fn claim_charter_version(
        &self,
        version: u64,
        id: CharterId,
    ) -> Result<Option<CharterId>, StoreError> {
        let key = version_key(SIGNED_PREFIX, version);
        match self
            .charter
            .tree
            .compare_and_swap(&key, None as Option<&[u8]>, Some(&id.0.0[..]))?
        {
            Ok(()) => Ok(None),
            Err(e) => {
                let earlier = e.current.as_deref().and_then(charter_id_of);
                Ok(earlier.filter(|earlier| *earlier != id))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use datapact_protocol::{Identity, MemberCode};

    use super::*;
    use crate::home::Layout;

    fn entry(code: &str, seed: u8) -> RosterEntry {
        RosterEntry {
            member: MemberCode::new(code).unwrap(),
            peer_id: Identity::from_seed(&[seed; 32]).peer_id(),
            addrs: vec!["/ip4/127.0.0.1/tcp/7470".into()],
            added_at: 5,
        }
    }

    fn id(byte: u8) -> CharterId {
        CharterId(Digest([byte; 32]))
    }

    #[test]
    fn an_adoption_survives_reopening_with_its_versions_head_and_members() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        {
            let store = Store::open(&layout).unwrap();
            assert_eq!(store.charter_head().unwrap(), None);
            assert!(store.charter_roster().unwrap().is_empty());
            store
                .adopt_charter(Adoption {
                    versions: vec![(1, b"one"), (2, b"two")],
                    roster: vec![entry("MMR", 1)],
                    resolves_fork: false,
                })
                .unwrap();
            store.flush_blocking().unwrap();
        }
        let store = Store::open(&layout).unwrap();
        assert_eq!(store.charter_head().unwrap(), Some(2));
        assert_eq!(store.charter_message(1).unwrap().unwrap(), b"one");
        assert_eq!(
            store.charter_messages(1, 5).unwrap(),
            vec![b"one".to_vec(), b"two".to_vec()]
        );
        assert_eq!(*store.charter_roster().unwrap(), vec![entry("MMR", 1)]);
    }

    #[test]
    fn adopting_an_earlier_version_drops_the_versions_above_it_and_resolves_the_fork() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Layout::new(dir.path())).unwrap();
        let three: Vec<(u64, &[u8])> = vec![(1, b"one"), (2, b"two"), (3, b"three")];
        store
            .adopt_charter(Adoption {
                versions: three,
                roster: vec![entry("MMR", 1)],
                resolves_fork: false,
            })
            .unwrap();
        let fork = ForkRecord {
            version: 2,
            kept: id(2).to_string(),
            other: b"other two".to_vec(),
            other_id: id(1).to_string(),
            noticed_at: 9,
        };
        assert!(store.record_charter_fork(&fork).unwrap());
        let later = ForkRecord {
            version: 3,
            ..fork.clone()
        };
        assert!(
            !store.record_charter_fork(&later).unwrap(),
            "the first fork stays"
        );
        assert_eq!(store.charter_fork().unwrap(), Some(fork.clone()));
        assert_eq!(fork.ids(), [id(1).to_string(), id(2).to_string()]);

        store
            .adopt_charter(Adoption {
                versions: vec![(2, b"other two")],
                roster: vec![entry("KHM", 2)],
                resolves_fork: true,
            })
            .unwrap();
        assert_eq!(store.charter_head().unwrap(), Some(2));
        assert_eq!(store.charter_message(2).unwrap().unwrap(), b"other two");
        assert_eq!(store.charter_message(3).unwrap(), None);
        assert_eq!(store.charter_fork().unwrap(), None);
        assert_eq!(*store.charter_roster().unwrap(), vec![entry("KHM", 2)]);
    }

    #[test]
    fn a_node_claims_one_charter_per_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Layout::new(dir.path())).unwrap();
        assert_eq!(store.claim_charter_version(2, id(7)).unwrap(), None);
        assert_eq!(
            store.claim_charter_version(2, id(7)).unwrap(),
            None,
            "again"
        );
        assert_eq!(store.claim_charter_version(2, id(8)).unwrap(), Some(id(7)));
        assert_eq!(store.signed_charter(2).unwrap(), Some(id(7)));
        assert_eq!(store.claim_charter_version(3, id(8)).unwrap(), None);
    }

    #[test]
    fn pending_proposals_are_kept_replaced_and_forgotten_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Layout::new(dir.path())).unwrap();
        store.put_charter_proposal(id(2), b"fewer").unwrap();
        store.put_charter_proposal(id(2), b"more").unwrap();
        store.put_charter_proposal(id(1), b"other").unwrap();
        assert_eq!(
            store.charter_proposals().unwrap(),
            vec![b"other".to_vec(), b"more".to_vec()]
        );
        assert_eq!(store.charter_proposal(id(2)).unwrap().unwrap(), b"more");
        assert_eq!(store.charter_proposal(id(3)).unwrap(), None);
        store.remove_charter_proposal(id(1)).unwrap();
        assert_eq!(store.charter_proposals().unwrap(), vec![b"more".to_vec()]);
    }
}
