//! The node's store: the only code that touches the state database and the blob directory.
//!
//! sled (0.34) holds the state: the roster, the adopted federation charter, every announcement
//! and revocation the node made or received, the latest known version of each dataset name,
//! and the access log. Content lives
//! in [`blobs::Blobs`]. Callers see operations on datasets, roster and log; never a sled tree
//! or a file path. Every mutating operation is followed by [`Store::flush`] before anyone is
//! told that it happened.

pub mod blobs;
mod charter;
mod chunks;
mod disclosure;
mod own;
mod pipeline;
mod read_ahead;
pub(crate) mod receive;
mod records;
mod roster;
pub mod space;
pub mod stage_times;
pub mod structures;
#[cfg(feature = "tamper")]
pub mod tamper;
mod usage;

use std::sync::{Mutex, atomic::AtomicU64};
use std::{collections::HashSet, io};

use datapact_protocol::wire::WireError;
use datapact_protocol::{DatasetId, DatasetName, Digest, MemberCode, StatementError};
use sha2::{Digest as _, Sha256};

pub use charter::{Adoption, ForkRecord, RosterSource};
pub use disclosure::ProtectionRecord;
pub use read_ahead::ContentReader;
pub use records::{DatasetRecord, LogEntry, LogEvent, Origin, PullerRecord, RosterEntry};
pub use space::{NoSpace, STATE_HEADROOM};
pub use usage::{Admission, Usage};

use crate::home::Layout;
use blobs::Blobs;

/// Key of the access-log length in the `meta` tree.
const LOG_LEN_KEY: &[u8] = b"log_len";
/// Key of the newest access-log entry's hash in the `meta` tree.
const LOG_HEAD_KEY: &[u8] = b"log_head";

/// Largest stored record decoded; a larger one means the state is damaged.
const MAX_RECORD_LEN: usize = 1 << 20;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The state database failed.
    #[error("state database: {0}")]
    Db(#[from] sled::Error),
    /// The blob directory failed.
    #[error("blob store: {0}")]
    Io(#[from] io::Error),
    /// A stored record cannot be decoded.
    #[error("state is damaged: {0}")]
    Undecodable(#[source] WireError),
    /// A key of one of the trees is not what the store writes there.
    #[error("state is damaged: {tree} key {key:?}")]
    BadKey {
        /// Which kind of key (`dataset`, `index`).
        tree: &'static str,
        /// The key, as text.
        key: String,
    },
    /// A stored list of chunk digests is not a whole number of digests, or too long.
    #[error("state is damaged: chunk digest list")]
    BadChunkList(#[source] WireError),
    /// A record of our own release (this one) does not verify, so it is not stored.
    #[error("state is damaged: own release {0}: {1}")]
    OwnReleaseUnverifiable(DatasetId, #[source] StatementError),
    /// A structure release held here is damaged, so it is never used to judge data.
    #[error(transparent)]
    Damaged(#[from] structures::Damaged),
    /// A thread panicked while holding one of the store's locks (named here).
    #[error("state is damaged: {0} lock poisoned")]
    Poisoned(&'static str),
    /// A store task on the blocking pool ended before it finished.
    #[error("store task interrupted: {0}")]
    Interrupted(#[source] tokio::task::JoinError),
    /// The state database is in use by another process (a daemon already runs on this DIR).
    #[error(
        "the store is in use by another process (is a daemon already running on this directory?)"
    )]
    Locked,
    /// Too little free disk space to go on without risking the state.
    #[error(transparent)]
    NoSpace(#[from] NoSpace),
}

/// The node's store.
pub struct Store {
    db: sled::Db,
    /// member code -> [`RosterEntry`]: the operator's own entries (`roster.rs`).
    roster: sled::Tree,
    /// dataset id text -> [`DatasetRecord`].
    datasets: sled::Tree,
    /// `OWNER/NAME` -> highest version known (8 bytes, big-endian).
    latest: sled::Tree,
    /// sequence number (8 bytes, big-endian) -> [`LogEntry`].
    log: sled::Tree,
    /// content SHA-256 and chunk root (64 bytes) -> concatenated chunk digests, for serving
    /// and checking pulls. The chunk root is part of the key, so the list under a key is the
    /// one that hashes to it: an announcement (anyone's) that pairs a digest with another
    /// chunk list gets its own entry and never replaces one.
    chunks: sled::Tree,
    /// dataset id text -> chunks verified so far of an unfinished pull (8 bytes, big-endian).
    transfers: sled::Tree,
    /// access-log sequence number of a granted pull -> the receiver's signed receipt. Kept
    /// beside the log so that attaching a receipt never rewrites a chained entry.
    receipts: sled::Tree,
    /// dataset id text -> a verified revocation that arrived before its announcement.
    pending_revocations: sled::Tree,
    /// Small facts about the store: `log_len`, the number of access-log entries ever written,
    /// so a removed last entry is noticed too.
    meta: sled::Tree,
    /// `CLASS\0ID` -> nothing: our releases by audience class (`public`, `members`,
    /// `only:CODE`), so answering a peer touches only what it may see (see `own.rs`).
    own_index: sled::Tree,
    /// `ID\0PEER_ID` -> [`PullerRecord`]: who was granted a pull of each of our releases, and
    /// how to reach it, so that a revocation reaches it even after it left the roster.
    pullers: sled::Tree,
    /// `PEER_ID\0ID` -> nothing: the same grants by peer, for that peer's catch-up.
    pulled: sled::Tree,
    /// dataset id text -> a structure release's digest and definitions (`structures.rs`).
    structures: sled::Tree,
    /// The adopted federation charter, which the roster starts from (`charter.rs`).
    charter: charter::CharterState,
    /// Dataset records read so far (see [`Store::dataset_records_read`]).
    records_read: AtomicU64,
    blobs: Blobs,
    /// Serialises appends to the access log, so each entry links to the one before.
    log_lock: Mutex<()>,
    /// Serialises our own releases, so each gets the next version number of its name and
    /// is checked against every version recorded before it.
    release_lock: Mutex<()>,
    /// What each member has stored here, counted at open and kept up to date, for the caps.
    usage: usage::Ledger,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating) the store of a node directory. Refuses, changing nothing, when the disk
    /// is too full to open sled safely (see [`space`]).
    pub fn open(layout: &Layout) -> Result<Self, StoreError> {
        space::prepare_state_dir(&layout.state())?;
        let db = sled::Config::new()
            .path(layout.state())
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock => StoreError::Locked,
                sled::Error::Io(io) if io.raw_os_error() == Some(libc::EWOULDBLOCK) => {
                    StoreError::Locked
                }
                // sled reports a held lock as a plain error with this text.
                sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                    StoreError::Locked
                }
                other => StoreError::Db(other),
            })?;
        let store = Self {
            roster: db.open_tree("roster")?,
            datasets: db.open_tree("datasets")?,
            latest: db.open_tree("latest")?,
            log: db.open_tree("log")?,
            chunks: db.open_tree("chunks")?,
            transfers: db.open_tree("transfers")?,
            receipts: db.open_tree("receipts")?,
            meta: db.open_tree("meta")?,
            pending_revocations: db.open_tree("pending_revocations")?,
            own_index: db.open_tree("own_index")?,
            pullers: db.open_tree("pullers")?,
            pulled: db.open_tree("pulled")?,
            structures: db.open_tree("structures")?,
            charter: charter::CharterState::open(&db)?,
            records_read: AtomicU64::new(0),
            blobs: Blobs::open(&layout.blobs())?,
            db,
            log_lock: Mutex::new(()),
            release_lock: Mutex::new(()),
            usage: usage::Ledger::default(),
        };
        store.migrate_chunk_keys()?;
        store.remove_orphan_blobs()?;
        store.build_own_index()?;
        store.count_usage()?;
        Ok(store)
    }

    /// Writes every change so far to disk. Call before acknowledging anything.
    pub async fn flush(&self) -> Result<(), StoreError> {
        // Not `flush_async`: in sled 0.34 concurrent async flushes can deadlock sled's own
        // thread pool. A blocking flush on tokio's blocking pool cannot.
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(StoreError::Interrupted)??;
        Ok(())
    }

    /// Same as [`Store::flush`], for blocking contexts.
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// The blob directory.
    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// Refuses with [`NoSpace`] unless `needed` more bytes of content fit on disk with
    /// [`STATE_HEADROOM`] left over; `what` names the operation in the message.
    pub fn ensure_room(&self, what: &str, needed: u64) -> Result<(), StoreError> {
        self.blobs.ensure_room(what, needed)
    }

    /// Deletes blobs that no record references: a crash between writing a blob and recording
    /// its dataset leaves one behind.
    fn remove_orphan_blobs(&self) -> Result<(), StoreError> {
        // Every blob gets its chunk digests recorded right after it is committed, so those
        // keys name the referenced blobs without verifying each announcement again.
        let mut referenced = HashSet::new();
        for key in self.chunks.iter().keys() {
            let key = key?;
            if let Some(d) = key.get(..32).and_then(|k| Digest::from_slice(k).ok()) {
                referenced.insert(d);
            }
        }
        for digest in self.blobs.list()? {
            if !referenced.contains(&digest) {
                self.blobs.remove(&digest)?;
            }
        }
        Ok(())
    }

    // ----- datasets -----

    /// The highest version known of `owner/name`.
    pub fn latest_version(
        &self,
        owner: &MemberCode,
        name: &str,
    ) -> Result<Option<u64>, StoreError> {
        let key = format!("{owner}/{name}");
        Ok(self
            .latest
            .get(key.as_bytes())?
            .map(|v| records::seq_of(&v)))
    }

    /// Every version of `owner/name` held here, own or received, in version order.
    pub fn versions(
        &self,
        owner: &MemberCode,
        name: &str,
    ) -> Result<Vec<(DatasetId, DatasetRecord)>, StoreError> {
        // Names are `a-z 0-9 -`, so this prefix matches no other name.
        let prefix = format!("{owner}/{name}@");
        let mut out = Vec::new();
        for kv in self.datasets.scan_prefix(prefix.as_bytes()) {
            let (k, v) = kv?;
            let key = String::from_utf8_lossy(&k);
            let id: DatasetId = key.parse().map_err(|_| StoreError::BadKey {
                tree: "dataset",
                key: key.to_string(),
            })?;
            out.push((id, records::decode(&v, MAX_RECORD_LEN)?));
        }
        out.sort_by_key(|(id, _)| id.version);
        Ok(out)
    }

    /// Records the next version of one of our own names. Under the release lock, `build`
    /// gets the versions of `owner/name` held so far and the id the new one gets, and returns
    /// its record (with anything else the caller wants back) or refuses. Two releases of one
    /// name never get the same version, and a refused (or failed) release uses none: the
    /// number is taken only when the record is stored.
    pub fn put_next_version<T, E: From<StoreError>>(
        &self,
        owner: &MemberCode,
        name: &DatasetName,
        build: impl FnOnce(&[(DatasetId, DatasetRecord)], &DatasetId) -> Result<(DatasetRecord, T), E>,
    ) -> Result<(DatasetId, (DatasetRecord, T)), E> {
        let _guard = self
            .release_lock
            .lock()
            .map_err(|_| StoreError::Poisoned("release"))?;
        let earlier = self.versions(owner, name.as_str())?;
        let id = DatasetId {
            owner: owner.clone(),
            name: name.clone(),
            version: self.latest_version(owner, name.as_str())?.unwrap_or(0) + 1,
        };
        let (record, extra) = build(&earlier, &id)?;
        self.put_dataset(&id, &record)?;
        Ok((id, (record, extra)))
    }

    /// Stores a dataset record and raises the name's latest version. One of our own releases
    /// is also listed under its audience; its signature is checked here, once, and never
    /// again when a peer asks for it.
    pub fn put_dataset(&self, id: &DatasetId, record: &DatasetRecord) -> Result<(), StoreError> {
        if record.origin == Origin::Own {
            let signed = record
                .verified_announcement()
                .map_err(|e| StoreError::OwnReleaseUnverifiable(id.clone(), e))?;
            self.index_own(id, &signed.body().policy.audience)?;
        }
        self.datasets
            .insert(id.to_string().as_bytes(), records::encode(record))?;
        self.raise_latest(id)
    }

    pub(super) fn raise_latest(&self, id: &DatasetId) -> Result<(), StoreError> {
        let key = format!("{}/{}", id.owner, id.name);
        let version = id.version;
        self.latest.fetch_and_update(key.as_bytes(), |old| {
            let old = old.map_or(0, records::seq_of);
            Some(old.max(version).to_be_bytes().to_vec())
        })?;
        Ok(())
    }

    /// The record of one dataset.
    pub fn dataset(&self, id: &DatasetId) -> Result<Option<DatasetRecord>, StoreError> {
        let found = self.datasets.get(id.to_string().as_bytes())?;
        if found.is_some() {
            self.count_records_read(1);
        }
        found
            .map(|v| records::decode(&v, MAX_RECORD_LEN))
            .transpose()
    }

    /// Whether a record of `id` exists (without reading it).
    pub fn has_dataset(&self, id: &DatasetId) -> Result<bool, StoreError> {
        Ok(self.datasets.contains_key(id.to_string().as_bytes())?)
    }

    /// Every dataset record, own and received.
    pub fn datasets(&self) -> Result<Vec<(DatasetId, DatasetRecord)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.datasets.iter() {
            let (k, v) = kv?;
            let key = String::from_utf8_lossy(&k);
            let id: DatasetId = key.parse().map_err(|_| StoreError::BadKey {
                tree: "dataset",
                key: key.to_string(),
            })?;
            out.push((id, records::decode(&v, MAX_RECORD_LEN)?));
        }
        self.count_records_read(out.len() as u64);
        Ok(out)
    }

    // ----- chunk digests and unfinished pulls -----

    /// Chunks verified so far of an unfinished pull of `id`.
    pub fn transfer(&self, id: &DatasetId) -> Result<u64, StoreError> {
        Ok(self
            .transfers
            .get(id.to_string().as_bytes())?
            .map_or(0, |v| records::seq_of(&v)))
    }

    /// Records progress of a pull; call only after the chunks are fsync'd.
    pub fn set_transfer(&self, id: &DatasetId, verified_chunks: u64) -> Result<(), StoreError> {
        put_transfer(&self.transfers, id, verified_chunks)
    }

    /// Forgets a finished or abandoned pull.
    pub fn clear_transfer(&self, id: &DatasetId) -> Result<(), StoreError> {
        self.transfers.remove(id.to_string().as_bytes())?;
        Ok(())
    }

    /// Marks a received dataset's content as held.
    pub fn mark_pulled(&self, id: &DatasetId) -> Result<(), StoreError> {
        if let Some(mut record) = self.dataset(id)? {
            record.has_content = true;
            self.put_dataset(id, &record)?;
        }
        Ok(())
    }

    // ----- access log -----

    /// Appends an entry to the access log, linking it to the previous entry's hash, and
    /// returns its sequence number.
    pub fn append_log(&self, mut entry: LogEntry) -> Result<u64, StoreError> {
        let _guard = self
            .log_lock
            .lock()
            .map_err(|_| StoreError::Poisoned("access log"))?;
        let (seq, prev) = match self.log.last()? {
            Some((k, v)) => (records::seq_of(&k) + 1, entry_hash(&v)),
            None => (1, Digest::default()),
        };
        entry.seq = seq;
        entry.prev = prev.0.to_vec();
        let bytes = records::encode(&entry);
        let head = entry_hash(&bytes);
        self.log.insert(seq.to_be_bytes(), bytes)?;
        self.meta.insert(LOG_LEN_KEY, &seq.to_be_bytes())?;
        self.meta.insert(LOG_HEAD_KEY, &head.0)?;
        Ok(seq)
    }

    /// Number of access-log entries ever written.
    pub fn log_len(&self) -> Result<u64, StoreError> {
        Ok(self
            .meta
            .get(LOG_LEN_KEY)?
            .map_or(0, |v| records::seq_of(&v)))
    }

    /// The latest granted pull of `dataset` by `peer` that has no receipt yet, if any.
    pub fn pull_awaiting_receipt(
        &self,
        peer: &str,
        dataset: &str,
    ) -> Result<Option<u64>, StoreError> {
        for kv in self.log.iter().rev() {
            let (k, v) = kv?;
            let entry: LogEntry = records::decode(&v, MAX_RECORD_LEN)?;
            if entry.event == LogEvent::Pull
                && entry.granted == Some(true)
                && entry.peer.as_deref() == Some(peer)
                && entry.dataset.as_deref() == Some(dataset)
                && !self.receipts.contains_key(&k)?
            {
                return Ok(Some(records::seq_of(&k)));
            }
        }
        Ok(None)
    }

    /// Attaches a receipt to access-log entry `seq`.
    pub fn attach_receipt(&self, seq: u64, receipt: &[u8]) -> Result<(), StoreError> {
        self.receipts.insert(seq.to_be_bytes(), receipt)?;
        Ok(())
    }

    /// The receipt attached to access-log entry `seq`.
    pub fn receipt(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.receipts.get(seq.to_be_bytes())?.map(|v| v.to_vec()))
    }

    /// The access log in order, each entry with whether its link to the previous one holds.
    pub fn log(&self) -> Result<Vec<(LogEntry, LogCheck)>, StoreError> {
        let mut out = Vec::new();
        let mut prev_hash = Digest::default();
        let mut expected_seq = 1u64;
        for kv in self.log.iter() {
            let (k, v) = kv?;
            let mut entry: LogEntry = records::decode(&v, MAX_RECORD_LEN)?;
            let seq = records::seq_of(&k);
            let check = if seq != expected_seq || entry.seq != seq {
                LogCheck::Missing
            } else if entry.prev != prev_hash.0 {
                LogCheck::Altered
            } else {
                LogCheck::Ok
            };
            // Report positions by the key, which an editor of the entry cannot change unseen.
            entry.seq = seq;
            prev_hash = entry_hash(&v);
            expected_seq = seq + 1;
            out.push((entry, check));
        }
        Ok(out)
    }

    /// The hash of the newest access-log entry as it was written: the anchor that makes an
    /// edit of the last entry visible (every other entry is covered by its successor's link).
    pub fn log_head(&self) -> Result<Option<Digest>, StoreError> {
        Ok(self
            .meta
            .get(LOG_HEAD_KEY)?
            .and_then(|v| Digest::from_slice(&v).ok()))
    }

    /// The hash of the newest access-log entry as it is stored now.
    pub fn last_log_entry_hash(&self) -> Result<Option<Digest>, StoreError> {
        Ok(self.log.last()?.map(|(_, v)| entry_hash(&v)))
    }
}

/// Whether an access-log entry's chain link holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogCheck {
    /// Links to the entry before it.
    Ok,
    /// The entry before it was altered (or this one's link was).
    Altered,
    /// An entry before it is missing (or entries were reordered).
    Missing,
}

fn entry_hash(bytes: &[u8]) -> Digest {
    Digest(Sha256::digest(bytes).into())
}

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Records in `transfers` that the first `verified_chunks` chunks of the pull of `id` are
/// durable ([`Store::set_transfer`], and the receive pipeline's syncer).
fn put_transfer(
    transfers: &sled::Tree,
    id: &DatasetId,
    verified_chunks: u64,
) -> Result<(), StoreError> {
    transfers.insert(id.to_string().as_bytes(), &verified_chunks.to_be_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn an_unfinished_snapshot_left_by_a_full_disk_does_not_break_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let entry = RosterEntry {
            member: MemberCode::new("THA").unwrap(),
            peer_id: datapact_protocol::Identity::from_seed(&[1; 32]).peer_id(),
            addrs: vec![],
            added_at: 1,
        };
        {
            let store = Store::open(&layout).unwrap();
            store.roster_put(&entry).unwrap();
            store.flush_blocking().unwrap();
        }
        // What sled 0.34 leaves when writing its snapshot at open fails half-way: a truncated
        // `.generating` file, which it would read next time as the newest snapshot.
        let cut_short = layout.state().join("snap.FFFFFFFFFFFFFFFF.generating");
        std::fs::write(&cut_short, b"cut short").unwrap();
        let store = Store::open(&layout).unwrap();
        assert_eq!(store.roster().unwrap(), vec![entry]);
        assert!(!cut_short.exists());
    }
}
