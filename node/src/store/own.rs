//! Our own releases as peers see them: an index of each release by audience, so that what a
//! peer may see is found without reading (or verifying) any release it may not see; and who
//! was granted a pull of each release, so that a later revocation reaches every past puller,
//! whether or not it is still in the roster.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use datapact_protocol::{Audience, DatasetId, MemberCode, PeerId};

use super::records::{self, PullerRecord};
use super::{MAX_RECORD_LEN, Origin, Store, StoreError};

/// Separates the two parts of an index key (neither a dataset id, a PeerId nor an audience
/// class contains it).
const KEY_SEPARATOR: u8 = 0;
/// Key in the `meta` tree, present once the audience index lists every own release (stores
/// written before the index existed get it built once, when they are opened).
pub(super) const OWN_INDEX_BUILT_KEY: &[u8] = b"own_index_v1";

/// The audience classes a release for `audience` is listed under.
fn classes_of(audience: &Audience) -> Vec<String> {
    match audience {
        Audience::Public => vec!["public".into()],
        Audience::Members => vec!["members".into()],
        Audience::Only(named) => named.iter().map(|m| format!("only:{m}")).collect(),
    }
}

/// The audience classes whose releases `requester` (our roster's code for a peer, `None`
/// outside the roster) may see: exactly the ones [`Audience::admits`] admits it to.
fn classes_seen_by(requester: Option<&MemberCode>) -> Vec<String> {
    match requester {
        None => vec!["public".into()],
        Some(m) => vec!["public".into(), "members".into(), format!("only:{m}")],
    }
}

fn pair_key(first: &str, second: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(first.len() + 1 + second.len());
    key.extend_from_slice(first.as_bytes());
    key.push(KEY_SEPARATOR);
    key.extend_from_slice(second.as_bytes());
    key
}

fn prefix(first: &str) -> Vec<u8> {
    let mut key = first.as_bytes().to_vec();
    key.push(KEY_SEPARATOR);
    key
}

/// The second part of a [`pair_key`] as a dataset id.
fn id_after_prefix(key: &[u8], prefix_len: usize) -> Result<DatasetId, StoreError> {
    let text = String::from_utf8_lossy(key.get(prefix_len..).unwrap_or_default());
    text.parse().map_err(|_| StoreError::BadKey {
        tree: "index",
        key: text.to_string(),
    })
}

impl Store {
    /// Lists our release `id` under its audience. Called when the release is stored, the one
    /// time its signature is checked; answering peers afterwards reads only the index.
    pub(super) fn index_own(&self, id: &DatasetId, audience: &Audience) -> Result<(), StoreError> {
        let id = id.to_string();
        for class in classes_of(audience) {
            self.own_index.insert(pair_key(&class, &id), &[])?;
        }
        Ok(())
    }

    /// Builds the audience index of a store written before the index existed.
    pub(super) fn build_own_index(&self) -> Result<(), StoreError> {
        if self.meta.contains_key(OWN_INDEX_BUILT_KEY)? {
            return Ok(());
        }
        for (id, record) in self.datasets()? {
            if record.origin != Origin::Own {
                continue;
            }
            match record.announcement() {
                Ok(signed) => self.index_own(&id, &signed.body().policy.audience)?,
                // Never offered to anyone, as before the index.
                Err(e) => tracing::warn!(dataset = %id, error = %e, "own release does not verify"),
            }
        }
        self.meta.insert(OWN_INDEX_BUILT_KEY, &[])?;
        Ok(())
    }

    /// Whether `requester` may see our release `id`. Index lookups only, and the same ones
    /// whether `id` exists or not: asking for a release one may not see costs what asking for
    /// one that does not exist costs.
    pub fn own_visible(
        &self,
        id: &DatasetId,
        requester: Option<&MemberCode>,
    ) -> Result<bool, StoreError> {
        let id = id.to_string();
        let mut visible = false;
        // Every class is looked up, even after a hit, so the work never depends on the answer.
        for class in classes_seen_by(requester) {
            visible |= self.own_index.contains_key(pair_key(&class, &id))?;
        }
        Ok(visible)
    }

    /// The ids of our releases that `requester` may see, in id order. The work is in
    /// proportion to what `requester` may see, not to everything we released.
    pub fn own_visible_ids(
        &self,
        requester: Option<&MemberCode>,
    ) -> Result<Vec<DatasetId>, StoreError> {
        let mut ids = BTreeSet::new();
        for class in classes_seen_by(requester) {
            let start = prefix(&class);
            for key in self.own_index.scan_prefix(&start).keys() {
                ids.insert(id_after_prefix(&key?, start.len())?.to_string());
            }
        }
        // Ordered by the id's text, as the dataset tree is.
        ids.into_iter()
            .map(|text| {
                text.parse().map_err(|_| StoreError::BadKey {
                    tree: "index",
                    key: text.to_string(),
                })
            })
            .collect()
    }

    /// Records that `puller` was granted a pull of our release `id` (the latest grant wins).
    pub fn record_puller(&self, id: &DatasetId, puller: &PullerRecord) -> Result<(), StoreError> {
        let id = id.to_string();
        self.pullers
            .insert(pair_key(&id, &puller.peer_id), records::encode(puller))?;
        self.pulled.insert(pair_key(&puller.peer_id, &id), &[])?;
        Ok(())
    }

    /// Every peer ever granted a pull of our release `id`.
    pub fn pullers(&self, id: &DatasetId) -> Result<Vec<PullerRecord>, StoreError> {
        self.pullers
            .scan_prefix(prefix(&id.to_string()))
            .values()
            .map(|v| records::decode(&v?, MAX_RECORD_LEN))
            .collect()
    }

    /// Whether `peer` was ever granted a pull of our release `id`.
    pub fn has_pulled(&self, peer: &PeerId, id: &DatasetId) -> Result<bool, StoreError> {
        Ok(self
            .pulled
            .contains_key(pair_key(&peer.to_string(), &id.to_string()))?)
    }

    /// Our releases that `peer` was ever granted a pull of, in id order.
    pub fn pulled_by(&self, peer: &PeerId) -> Result<Vec<DatasetId>, StoreError> {
        let start = prefix(&peer.to_string());
        self.pulled
            .scan_prefix(&start)
            .keys()
            .map(|k| id_after_prefix(&k?, start.len()))
            .collect()
    }

    /// Dataset records read (and decoded) since the store was opened: how tests check the work
    /// done to answer a peer, which must not grow with releases that peer may not see.
    pub fn dataset_records_read(&self) -> u64 {
        self.records_read.load(Ordering::Relaxed)
    }

    /// Counts `n` dataset records read.
    pub(super) fn count_records_read(&self, n: u64) {
        self.records_read.fetch_add(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::home::Layout;

    fn id(text: &str) -> DatasetId {
        text.parse().unwrap()
    }

    fn code(text: &str) -> MemberCode {
        MemberCode::new(text).unwrap()
    }

    #[test]
    fn each_requester_sees_exactly_what_its_audience_admits() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Layout::new(dir.path())).unwrap();
        let releases = [
            ("THA/b-public@1", "public"),
            ("THA/a-members@1", "members"),
            ("THA/c-only@1", "only:AUS,MMR"),
            ("THA/d-only@1", "only:AUS"),
        ];
        for (text, audience) in releases {
            store
                .index_own(&id(text), &audience.parse().unwrap())
                .unwrap();
        }
        let seen = |who: Option<&str>| -> Vec<String> {
            let who = who.map(code);
            store
                .own_visible_ids(who.as_ref())
                .unwrap()
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(seen(None), ["THA/b-public@1"]);
        assert_eq!(
            seen(Some("MMR")),
            ["THA/a-members@1", "THA/b-public@1", "THA/c-only@1"]
        );
        assert_eq!(
            seen(Some("AUS")),
            [
                "THA/a-members@1",
                "THA/b-public@1",
                "THA/c-only@1",
                "THA/d-only@1"
            ]
        );
        for (text, audience) in releases {
            let audience: Audience = audience.parse().unwrap();
            for who in [None, Some(code("MMR")), Some(code("KHM"))] {
                assert_eq!(
                    store.own_visible(&id(text), who.as_ref()).unwrap(),
                    audience.admits(who.as_ref()),
                    "{text} for {who:?}"
                );
            }
        }
        assert!(!store.own_visible(&id("THA/never@1"), None).unwrap());
        assert_eq!(store.dataset_records_read(), 0, "the index reads no record");
    }

    #[test]
    fn pullers_are_found_by_dataset_and_by_peer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Layout::new(dir.path())).unwrap();
        let (a, b) = (PeerId::random(), PeerId::random());
        let puller = |peer: &PeerId| PullerRecord {
            peer_id: peer.to_string(),
            member: None,
            addrs: vec!["/ip4/127.0.0.1/tcp/1".into()],
            pulled_at: 1,
        };
        store.record_puller(&id("THA/x@1"), &puller(&a)).unwrap();
        store.record_puller(&id("THA/x@1"), &puller(&b)).unwrap();
        store.record_puller(&id("THA/y@1"), &puller(&a)).unwrap();
        let of_x: BTreeSet<String> = store
            .pullers(&id("THA/x@1"))
            .unwrap()
            .into_iter()
            .map(|p| p.peer_id)
            .collect();
        assert_eq!(of_x, BTreeSet::from([a.to_string(), b.to_string()]));
        assert!(store.has_pulled(&b, &id("THA/x@1")).unwrap());
        assert!(!store.has_pulled(&b, &id("THA/y@1")).unwrap());
        assert_eq!(
            store.pulled_by(&a).unwrap(),
            vec![id("THA/x@1"), id("THA/y@1")]
        );
    }
}
