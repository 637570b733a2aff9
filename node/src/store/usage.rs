//! How much each member has made this node store: the announcements received from it and its
//! revocations that wait for their announcement, counted when the store opens and kept up to
//! date as they are stored, so a per-member cap ([`ReceiveLimits`]) bounds what any one member
//! (a hostile one too) can make this node keep.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use datapact_protocol::{DatasetId, MemberCode};

use super::{DatasetRecord, MAX_RECORD_LEN, Origin, Store, StoreError, records};
use crate::home::ReceiveLimits;

/// What one member has stored here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Received announcements and waiting revocations.
    pub statements: u64,
    /// Their signed bytes.
    pub bytes: u64,
    /// Statements refused for the cap since the store opened, so refusals can be logged
    /// sparingly.
    pub refused: u64,
}

impl Usage {
    fn admits(&self, bytes: u64, limits: &ReceiveLimits) -> bool {
        self.statements < limits.statements_per_member
            && self.bytes.saturating_add(bytes) <= limits.bytes_per_member
    }

    fn add(&mut self, bytes: u64) {
        self.statements += 1;
        self.bytes = self.bytes.saturating_add(bytes);
    }

    fn remove(&mut self, bytes: u64) {
        self.statements = self.statements.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(bytes);
    }
}

/// What became of a received statement offered to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Stored.
    Stored,
    /// Something is already held under this id (stored a moment ago by a concurrent receiver
    /// of the same statement): nothing changed.
    AlreadyHeld,
    /// Not stored: its owner is at its cap. Carries the owner's usage, refusals included.
    OverCap(Usage),
}

/// Usage per owner (member code text). Its lock also makes check-and-store one step, so
/// concurrent receivers cannot together pass the cap.
#[derive(Debug, Default)]
pub(super) struct Ledger(Mutex<HashMap<String, Usage>>);

impl Ledger {
    fn lock(&self) -> Result<MutexGuard<'_, HashMap<String, Usage>>, StoreError> {
        self.0
            .lock()
            .map_err(|_| StoreError::Poisoned("usage ledger"))
    }
}

/// The owner part of a dataset-id key (`OWNER/NAME@VERSION`).
fn owner_of(key: &[u8]) -> String {
    let owner = key.split(|b| *b == b'/').next().unwrap_or_default();
    String::from_utf8_lossy(owner).into_owned()
}

impl Store {
    /// Counts, per owner, the received announcements and waiting revocations on disk.
    pub(super) fn count_usage(&self) -> Result<(), StoreError> {
        let mut counted: HashMap<String, Usage> = HashMap::new();
        for kv in self.datasets.iter() {
            let (key, value) = kv?;
            let record: DatasetRecord = records::decode(&value, MAX_RECORD_LEN)?;
            if record.origin == Origin::Received {
                let len = record.announcement.len() as u64;
                counted.entry(owner_of(&key)).or_default().add(len);
            }
        }
        for kv in self.pending_revocations.iter() {
            let (key, value) = kv?;
            let len = value.len() as u64;
            counted.entry(owner_of(&key)).or_default().add(len);
        }
        *self.usage.lock()? = counted;
        Ok(())
    }

    /// How much `owner` has stored here.
    pub fn usage_of(&self, owner: &MemberCode) -> Result<Usage, StoreError> {
        let ledger = self.usage.lock()?;
        Ok(ledger.get(owner.as_str()).copied().unwrap_or_default())
    }

    /// Stores a received dataset record, unless something is held under `id` already or its
    /// owner would go past `limits`.
    pub fn insert_received(
        &self,
        id: &DatasetId,
        record: &DatasetRecord,
        limits: &ReceiveLimits,
    ) -> Result<Admission, StoreError> {
        let key = id.to_string();
        let mut ledger = self.usage.lock()?;
        if self.datasets.contains_key(key.as_bytes())? {
            return Ok(Admission::AlreadyHeld);
        }
        let usage = ledger.entry(id.owner.to_string()).or_default();
        let len = record.announcement.len() as u64;
        if !usage.admits(len, limits) {
            usage.refused += 1;
            return Ok(Admission::OverCap(*usage));
        }
        let inserted = self
            .datasets
            .compare_and_swap(
                key.as_bytes(),
                None as Option<&[u8]>,
                Some(records::encode(record)),
            )?
            .is_ok();
        if !inserted {
            return Ok(Admission::AlreadyHeld);
        }
        usage.add(len);
        drop(ledger);
        self.raise_latest(id)?;
        Ok(Admission::Stored)
    }

    /// Keeps a verified revocation whose announcement has not arrived yet, unless one already
    /// waits for `id` or its owner would go past `limits`.
    pub fn put_pending_revocation(
        &self,
        id: &DatasetId,
        revocation: &[u8],
        limits: &ReceiveLimits,
    ) -> Result<Admission, StoreError> {
        let key = id.to_string();
        let mut ledger = self.usage.lock()?;
        if self.pending_revocations.contains_key(key.as_bytes())? {
            return Ok(Admission::AlreadyHeld);
        }
        let usage = ledger.entry(id.owner.to_string()).or_default();
        let len = revocation.len() as u64;
        if !usage.admits(len, limits) {
            usage.refused += 1;
            return Ok(Admission::OverCap(*usage));
        }
        self.pending_revocations
            .insert(key.as_bytes(), revocation)?;
        usage.add(len);
        Ok(Admission::Stored)
    }

    /// Takes the revocation that waited for `id`'s announcement, if any.
    pub fn take_pending_revocation(&self, id: &DatasetId) -> Result<Option<Vec<u8>>, StoreError> {
        let mut ledger = self.usage.lock()?;
        let taken = self
            .pending_revocations
            .remove(id.to_string().as_bytes())?
            .map(|v| v.to_vec());
        if let Some(revocation) = &taken {
            ledger
                .entry(id.owner.to_string())
                .or_default()
                .remove(revocation.len() as u64);
        }
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::home::Layout;

    fn record(len: usize) -> DatasetRecord {
        DatasetRecord {
            origin: Origin::Received,
            announcement: vec![7; len],
            revocation: None,
            has_content: false,
            recorded_at: 0,
        }
    }

    #[test]
    fn each_owner_is_capped_by_count_and_bytes_and_counted_again_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let limits = ReceiveLimits {
            statements_per_member: 3,
            bytes_per_member: 250,
        };
        let id = |text: &str| text.parse::<DatasetId>().unwrap();
        {
            let store = Store::open(&layout).unwrap();
            for n in 1..=3 {
                let admitted = store
                    .insert_received(&id(&format!("AUS/a@{n}")), &record(10), &limits)
                    .unwrap();
                assert_eq!(admitted, Admission::Stored);
            }
            let over = store
                .insert_received(&id("AUS/a@4"), &record(10), &limits)
                .unwrap();
            assert!(matches!(over, Admission::OverCap(u) if u.statements == 3 && u.refused == 1));
            assert_eq!(
                store
                    .insert_received(&id("AUS/a@1"), &record(10), &limits)
                    .unwrap(),
                Admission::AlreadyHeld
            );
            // Another owner has its own allowance, in bytes too.
            assert_eq!(
                store
                    .insert_received(&id("THA/b@1"), &record(200), &limits)
                    .unwrap(),
                Admission::Stored
            );
            let too_big = store
                .insert_received(&id("THA/b@2"), &record(51), &limits)
                .unwrap();
            assert!(matches!(too_big, Admission::OverCap(_)));
            assert_eq!(
                store
                    .put_pending_revocation(&id("THA/c@1"), &[1; 50], &limits)
                    .unwrap(),
                Admission::Stored
            );
            store.flush_blocking().unwrap();
        }
        let store = Store::open(&layout).unwrap();
        let aus = store.usage_of(&MemberCode::new("AUS").unwrap()).unwrap();
        assert_eq!((aus.statements, aus.bytes), (3, 30));
        let tha = store.usage_of(&MemberCode::new("THA").unwrap()).unwrap();
        assert_eq!((tha.statements, tha.bytes), (2, 250));
        store
            .take_pending_revocation(&id("THA/c@1"))
            .unwrap()
            .unwrap();
        let tha = store.usage_of(&MemberCode::new("THA").unwrap()).unwrap();
        assert_eq!((tha.statements, tha.bytes), (1, 200));
    }
}
