//! The store's contract, tree by tree, on a real sled store in a temp dir: roster, dataset
//! records and latest versions, our own releases' versioning, received statements and their
//! caps, waiting revocations, unfinished pulls, chunk digest lists, the chained access log and
//! its receipts, the pullers of our releases, and what survives a reopen.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Barrier};
use std::thread;

use datapact_node::home::{Layout, ReceiveLimits};
use datapact_node::store::{
    Admission, DatasetRecord, LogCheck, LogEntry, LogEvent, Origin, PullerRecord, RosterEntry,
    Store, StoreError,
};
use datapact_protocol::{
    Announcement, Audience, DatasetId, DatasetName, Digest, Identity, MemberCode, Meta, Policy,
    Signed,
};

fn code(text: &str) -> MemberCode {
    MemberCode::new(text).unwrap()
}

fn id(text: &str) -> DatasetId {
    text.parse().unwrap()
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(&Layout::new(dir.path())).unwrap()
}

/// The signed announcement of `id` by the key of `seed`, public, with content `content`.
fn announcement(id: &DatasetId, seed: u8, content: &[u8]) -> Vec<u8> {
    let mut hasher = datapact_protocol::ContentHasher::new();
    hasher.update(content);
    let digest = hasher.finish();
    let body = Announcement {
        owner: id.owner.clone(),
        name: id.name.clone(),
        version: id.version,
        sha256: digest.sha256,
        size: digest.size,
        file_name: "data.csv".into(),
        chunk_root: digest.chunk_root(),
        policy: Policy {
            audience: Audience::Public,
            embargo_until: None,
            expires_at: None,
            purpose: None,
            licence: None,
        },
        meta: Meta {
            title: "A dataset".into(),
            ..Meta::default()
        },
        issued_at: 1_795_000_000,
    };
    Signed::sign(body, &Identity::from_seed(&[seed; 32]))
        .unwrap()
        .bytes()
        .to_vec()
}

fn record(origin: Origin, announcement: Vec<u8>) -> DatasetRecord {
    DatasetRecord {
        origin,
        announcement,
        revocation: None,
        has_content: false,
        recorded_at: 1_795_000_000,
    }
}

fn roster_entry(member: &str, seed: u8) -> RosterEntry {
    RosterEntry {
        member: code(member),
        peer_id: Identity::from_seed(&[seed; 32]).peer_id(),
        addrs: vec!["/ip4/127.0.0.1/tcp/4001".into()],
        added_at: 1_795_000_000,
    }
}

fn pull_entry(peer: &str, dataset: &str, granted: bool) -> LogEntry {
    let mut entry = LogEntry::new(LogEvent::Pull, 1_795_000_000);
    entry.peer = Some(peer.into());
    entry.dataset = Some(dataset.into());
    entry.granted = Some(granted);
    entry
}

// ----- roster -----

#[test]
fn roster_entries_are_put_replaced_found_by_peer_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.roster_put(&roster_entry("MMR", 2)).unwrap();
    store.roster_put(&roster_entry("KHM", 3)).unwrap();
    let members: Vec<MemberCode> = store
        .roster()
        .unwrap()
        .into_iter()
        .map(|e| e.member)
        .collect();
    assert_eq!(
        members,
        [code("KHM"), code("MMR")],
        "ordered by member code"
    );

    // A second put of a member replaces its entry (a new key), it does not add one.
    store.roster_put(&roster_entry("MMR", 4)).unwrap();
    assert_eq!(store.roster().unwrap().len(), 2);
    let mmr = store.roster_get(&code("MMR")).unwrap().unwrap();
    assert_eq!(mmr, roster_entry("MMR", 4));

    let peer = Identity::from_seed(&[4; 32]).peer_id();
    assert_eq!(store.roster_by_peer(&peer).unwrap(), Some(mmr));
    let old_peer = Identity::from_seed(&[2; 32]).peer_id();
    assert_eq!(store.roster_by_peer(&old_peer).unwrap(), None);

    assert!(store.roster_remove(&code("MMR")).unwrap());
    assert!(!store.roster_remove(&code("MMR")).unwrap(), "already gone");
    assert_eq!(store.roster_get(&code("MMR")).unwrap(), None);
    assert_eq!(store.roster_by_peer(&peer).unwrap(), None);
}

// ----- datasets and latest versions -----

#[test]
fn put_dataset_raises_the_latest_version_and_never_lowers_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let v3 = id("MMR/counts@3");
    let v1 = id("MMR/counts@1");
    assert_eq!(store.latest_version(&code("MMR"), "counts").unwrap(), None);
    store
        .put_dataset(&v3, &record(Origin::Received, announcement(&v3, 2, b"3")))
        .unwrap();
    store
        .put_dataset(&v1, &record(Origin::Received, announcement(&v1, 2, b"1")))
        .unwrap();
    assert_eq!(
        store.latest_version(&code("MMR"), "counts").unwrap(),
        Some(3)
    );
    assert!(store.has_dataset(&v1).unwrap());
    assert!(!store.has_dataset(&id("MMR/counts@2")).unwrap());
    assert_eq!(store.dataset(&id("MMR/counts@2")).unwrap(), None);
    assert_eq!(store.datasets().unwrap().len(), 2);
}

#[test]
fn versions_lists_one_name_in_version_order_and_no_other_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    // `counts-extra` shares a prefix with `counts`; version 10 sorts before 2 as text.
    for text in [
        "MMR/counts@10",
        "MMR/counts@2",
        "MMR/counts-extra@1",
        "KHM/counts@1",
    ] {
        let id = id(text);
        let bytes = announcement(&id, 2, text.as_bytes());
        store
            .put_dataset(&id, &record(Origin::Received, bytes))
            .unwrap();
    }
    let versions: Vec<u64> = store
        .versions(&code("MMR"), "counts")
        .unwrap()
        .into_iter()
        .map(|(id, _)| id.version)
        .collect();
    assert_eq!(versions, [2, 10]);
}

#[test]
fn mark_pulled_records_that_the_content_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let id = id("MMR/counts@1");
    store
        .put_dataset(&id, &record(Origin::Received, announcement(&id, 2, b"x")))
        .unwrap();
    assert!(!store.dataset(&id).unwrap().unwrap().has_content);
    store.mark_pulled(&id).unwrap();
    assert!(store.dataset(&id).unwrap().unwrap().has_content);
    // An unknown id is left alone: no record appears.
    store.mark_pulled(&id_of_nothing()).unwrap();
    assert!(!store.has_dataset(&id_of_nothing()).unwrap());
}

fn id_of_nothing() -> DatasetId {
    id("MMR/nothing@1")
}

#[test]
fn an_own_record_whose_announcement_does_not_verify_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let id = id("THA/counts@1");
    let mut bytes = announcement(&id, 1, b"x");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let result = store.put_dataset(&id, &record(Origin::Own, bytes));
    assert!(
        matches!(result, Err(StoreError::OwnReleaseUnverifiable(ref bad, _)) if *bad == id),
        "{result:?}"
    );
    assert!(!store.has_dataset(&id).unwrap(), "nothing stored");
    assert_eq!(store.own_visible_ids(None).unwrap(), vec![]);
}

#[test]
fn a_stored_announcement_is_read_without_checking_its_signature_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let id = id("MMR/counts@1");
    // Bytes that never passed the federation rules (a damaged or edited store): a received
    // record is stored as given, so the flipped signature byte gets in.
    let mut bytes = announcement(&id, 2, b"x");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    store
        .put_dataset(&id, &record(Origin::Received, bytes))
        .unwrap();
    let stored = store.dataset(&id).unwrap().expect("stored");
    // Every read but the audit's trusts what the store holds: it was verified on the way in.
    let read = stored.announcement().expect("reads only decode");
    assert_eq!(read.body().id(), id);
    assert!(
        stored.verified_announcement().is_err(),
        "the audit's read checks the signature"
    );
}

// ----- our own releases -----

#[test]
fn concurrent_releases_of_one_name_get_distinct_consecutive_versions() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir));
    let releases = 8;
    let barrier = Arc::new(Barrier::new(releases));
    let handles: Vec<_> = (0..releases)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                let name = DatasetName::new("counts").unwrap();
                let (id, _) = store
                    .put_next_version(&code("THA"), &name, |_, id| {
                        let bytes = announcement(id, 1, &[i as u8]);
                        Ok::<_, StoreError>((record(Origin::Own, bytes), ()))
                    })
                    .unwrap();
                id.version
            })
        })
        .collect();
    let mut versions: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=releases as u64).collect::<Vec<_>>());
    assert_eq!(
        store.versions(&code("THA"), "counts").unwrap().len(),
        releases
    );
}

/// Why a test's release closure said no (or the store failed).
#[derive(Debug)]
enum Refusal {
    /// The test refused this version.
    Refused(DatasetId),
    /// The store failed (shown when a test fails).
    Store(#[allow(dead_code)] StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Store(e)
    }
}

#[test]
fn a_refused_release_uses_no_version_and_sees_the_earlier_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let name = DatasetName::new("counts").unwrap();
    let release = |refuse: bool| {
        store.put_next_version(&code("THA"), &name, |earlier, id| {
            if refuse {
                return Err(Refusal::Refused(id.clone()));
            }
            let bytes = announcement(id, 1, id.to_string().as_bytes());
            Ok((record(Origin::Own, bytes), earlier.len()))
        })
    };
    let (first, (_, earlier)) = release(false).unwrap();
    assert_eq!((first.version, earlier), (1, 0));
    assert!(matches!(release(true), Err(Refusal::Refused(id)) if id.version == 2));
    let (second, (_, earlier)) = release(false).unwrap();
    assert_eq!(
        (second.version, earlier),
        (2, 1),
        "the refusal took no number"
    );
}

// ----- received statements and their caps -----

#[test]
fn concurrent_inserts_of_one_received_statement_store_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir));
    let id = id("MMR/counts@1");
    let bytes = announcement(&id, 2, b"x");
    let receivers = 8;
    let barrier = Arc::new(Barrier::new(receivers));
    let handles: Vec<_> = (0..receivers)
        .map(|_| {
            let (store, barrier, id) = (store.clone(), barrier.clone(), id.clone());
            let record = record(Origin::Received, bytes.clone());
            thread::spawn(move || {
                barrier.wait();
                store
                    .insert_received(&id, &record, &ReceiveLimits::default())
                    .unwrap()
            })
        })
        .collect();
    let results: Vec<Admission> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let stored = results
        .iter()
        .filter(|a| matches!(a, Admission::Stored))
        .count();
    let held = results
        .iter()
        .filter(|a| matches!(a, Admission::AlreadyHeld))
        .count();
    assert_eq!((stored, held), (1, receivers - 1));
    let usage = store.usage_of(&code("MMR")).unwrap();
    assert_eq!((usage.statements, usage.bytes), (1, bytes.len() as u64));
    assert_eq!(
        store.latest_version(&code("MMR"), "counts").unwrap(),
        Some(1)
    );
}

#[test]
fn an_owner_past_its_cap_is_refused_and_another_owner_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let limits = ReceiveLimits {
        statements_per_member: 2,
        bytes_per_member: 1 << 20,
    };
    for version in 1..=2 {
        let id = id(&format!("MMR/counts@{version}"));
        let rec = record(Origin::Received, announcement(&id, 2, &[version as u8]));
        assert!(matches!(
            store.insert_received(&id, &rec, &limits).unwrap(),
            Admission::Stored
        ));
    }
    let third = id("MMR/counts@3");
    let rec = record(Origin::Received, announcement(&third, 2, b"3"));
    match store.insert_received(&third, &rec, &limits).unwrap() {
        Admission::OverCap(usage) => assert_eq!((usage.statements, usage.refused), (2, 1)),
        other => panic!("expected OverCap, got {other:?}"),
    }
    assert!(
        !store.has_dataset(&third).unwrap(),
        "nothing stored past the cap"
    );
    let other = id("KHM/counts@1");
    let rec = record(Origin::Received, announcement(&other, 3, b"k"));
    assert!(matches!(
        store.insert_received(&other, &rec, &limits).unwrap(),
        Admission::Stored
    ));
}

// ----- waiting revocations -----

#[test]
fn a_waiting_revocation_is_kept_once_taken_once_and_counted_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let limits = ReceiveLimits::default();
    let id = id("MMR/counts@1");
    assert!(matches!(
        store
            .put_pending_revocation(&id, b"first", &limits)
            .unwrap(),
        Admission::Stored
    ));
    assert!(matches!(
        store
            .put_pending_revocation(&id, b"second", &limits)
            .unwrap(),
        Admission::AlreadyHeld
    ));
    assert_eq!(store.usage_of(&code("MMR")).unwrap().bytes, 5);
    assert_eq!(
        store.take_pending_revocation(&id).unwrap(),
        Some(b"first".to_vec())
    );
    assert_eq!(store.take_pending_revocation(&id).unwrap(), None);
    assert_eq!(store.usage_of(&code("MMR")).unwrap().bytes, 0, "released");
}

// ----- unfinished pulls and chunk digests -----

#[test]
fn transfer_progress_starts_at_zero_is_recorded_and_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let id = id("THA/counts@1");
    assert_eq!(store.transfer(&id).unwrap(), 0);
    store.set_transfer(&id, 32).unwrap();
    store.set_transfer(&id, 64).unwrap();
    assert_eq!(store.transfer(&id).unwrap(), 64);
    assert_eq!(store.transfer(&id_of_nothing()).unwrap(), 0, "per dataset");
    store.clear_transfer(&id).unwrap();
    assert_eq!(store.transfer(&id).unwrap(), 0);
}

#[test]
fn chunk_lists_are_found_by_content_digest_and_chunk_root_together() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let sha = Digest::of(b"content");
    let honest = vec![Digest::of(b"a"), Digest::of(b"b")];
    let other = vec![Digest::of(b"c")];
    let root = datapact_protocol::digest::chunk_root(&honest);
    let other_root = datapact_protocol::digest::chunk_root(&other);
    store.put_chunks(&sha, &honest).unwrap();
    // Another list under the same content digest never replaces the first one.
    store.put_chunks(&sha, &other).unwrap();
    assert_eq!(store.chunks(&sha, &root).unwrap(), Some(honest));
    assert_eq!(store.chunks(&sha, &other_root).unwrap(), Some(other));
    assert_eq!(store.chunks(&Digest::of(b"x"), &root).unwrap(), None);
}

// ----- access log and receipts -----

#[test]
fn log_entries_get_consecutive_numbers_and_each_links_to_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    assert_eq!(store.log_len().unwrap(), 0);
    assert_eq!(store.log_head().unwrap(), None);
    let seqs: Vec<u64> = (0..3)
        .map(|_| {
            store
                .append_log(LogEntry::new(LogEvent::Release, 1_795_000_000))
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(store.log_len().unwrap(), 3);
    let log = store.log().unwrap();
    assert!(log.iter().all(|(_, check)| *check == LogCheck::Ok));
    assert_eq!(log[0].0.prev, vec![0; 32], "the first links to nothing");
    assert_ne!(log[1].0.prev, log[2].0.prev);
    assert_eq!(
        store.log_head().unwrap(),
        store.last_log_entry_hash().unwrap()
    );
}

#[test]
fn concurrent_appends_keep_one_unbroken_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir));
    let writers = 8;
    let per_writer = 25;
    let handles: Vec<_> = (0..writers)
        .map(|_| {
            let store = store.clone();
            thread::spawn(move || {
                for _ in 0..per_writer {
                    store
                        .append_log(LogEntry::new(LogEvent::Pull, 1_795_000_000))
                        .unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let log = store.log().unwrap();
    assert_eq!(log.len(), writers * per_writer);
    let seqs: Vec<u64> = log.iter().map(|(e, _)| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=(writers * per_writer) as u64).collect::<Vec<_>>()
    );
    assert!(log.iter().all(|(_, check)| *check == LogCheck::Ok));
}

#[test]
fn a_receipt_attaches_to_the_latest_granted_pull_of_that_peer_and_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let first = store
        .append_log(pull_entry("peer-a", "THA/x@1", true))
        .unwrap();
    let _denied = store
        .append_log(pull_entry("peer-a", "THA/x@1", false))
        .unwrap();
    let _other_peer = store
        .append_log(pull_entry("peer-b", "THA/x@1", true))
        .unwrap();
    let _other_dataset = store
        .append_log(pull_entry("peer-a", "THA/y@1", true))
        .unwrap();
    let second = store
        .append_log(pull_entry("peer-a", "THA/x@1", true))
        .unwrap();
    let head = store.log_head().unwrap();

    assert_eq!(
        store.pull_awaiting_receipt("peer-a", "THA/x@1").unwrap(),
        Some(second)
    );
    store.attach_receipt(second, b"receipt 2").unwrap();
    assert_eq!(
        store.pull_awaiting_receipt("peer-a", "THA/x@1").unwrap(),
        Some(first)
    );
    store.attach_receipt(first, b"receipt 1").unwrap();
    assert_eq!(
        store.pull_awaiting_receipt("peer-a", "THA/x@1").unwrap(),
        None
    );
    assert_eq!(
        store.pull_awaiting_receipt("peer-c", "THA/x@1").unwrap(),
        None
    );

    assert_eq!(store.receipt(second).unwrap(), Some(b"receipt 2".to_vec()));
    assert_eq!(store.receipt(first).unwrap(), Some(b"receipt 1".to_vec()));
    assert_eq!(store.receipt(2).unwrap(), None, "the denied pull has none");
    // Receipts live beside the log: the chain and its head are untouched.
    assert_eq!(store.log_head().unwrap(), head);
    assert!(store.log().unwrap().iter().all(|(_, c)| *c == LogCheck::Ok));
}

// ----- pullers of our releases -----

#[test]
fn pullers_are_kept_per_release_and_per_peer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let x = id("THA/x@1");
    let y = id("THA/y@1");
    let peer = Identity::from_seed(&[2; 32]).peer_id();
    let puller = PullerRecord {
        peer_id: peer.to_string(),
        member: Some("MMR".into()),
        addrs: vec!["/ip4/127.0.0.1/tcp/4001".into()],
        pulled_at: 1_795_000_000,
    };
    assert!(!store.has_pulled(&peer, &x).unwrap());
    store.record_puller(&x, &puller).unwrap();
    store.record_puller(&x, &puller).unwrap();
    store.record_puller(&y, &puller).unwrap();
    assert_eq!(
        store.pullers(&x).unwrap(),
        vec![puller.clone()],
        "once per peer"
    );
    assert!(store.has_pulled(&peer, &x).unwrap());
    let mut pulled = store.pulled_by(&peer).unwrap();
    pulled.sort_by_key(ToString::to_string);
    assert_eq!(pulled, [x.clone(), y]);
    let stranger = Identity::from_seed(&[9; 32]).peer_id();
    assert!(!store.has_pulled(&stranger, &x).unwrap());
    assert_eq!(store.pulled_by(&stranger).unwrap(), vec![]);
}

// ----- reopening -----

#[test]
fn everything_flushed_is_there_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let own = id("THA/counts@1");
    let received = id("MMR/counts@4");
    let received_bytes = announcement(&received, 2, b"r");
    {
        let store = open(&dir);
        store.roster_put(&roster_entry("MMR", 2)).unwrap();
        store
            .put_dataset(&own, &record(Origin::Own, announcement(&own, 1, b"o")))
            .unwrap();
        let rec = record(Origin::Received, received_bytes.clone());
        store
            .insert_received(&received, &rec, &ReceiveLimits::default())
            .unwrap();
        store.set_transfer(&received, 7).unwrap();
        let seq = store
            .append_log(pull_entry("peer-a", "THA/counts@1", true))
            .unwrap();
        store.attach_receipt(seq, b"receipt").unwrap();
        store.flush_blocking().unwrap();
    }
    let store = open(&dir);
    assert!(store.roster_get(&code("MMR")).unwrap().is_some());
    assert_eq!(store.own_visible_ids(None).unwrap(), vec![own]);
    assert_eq!(
        store.latest_version(&code("MMR"), "counts").unwrap(),
        Some(4)
    );
    assert_eq!(store.transfer(&received).unwrap(), 7);
    assert_eq!(store.log_len().unwrap(), 1);
    assert_eq!(
        store.log_head().unwrap(),
        store.last_log_entry_hash().unwrap()
    );
    assert_eq!(store.receipt(1).unwrap(), Some(b"receipt".to_vec()));
    // The per-owner usage is counted again at open.
    let usage = store.usage_of(&code("MMR")).unwrap();
    assert_eq!(
        (usage.statements, usage.bytes),
        (1, received_bytes.len() as u64)
    );
}

#[test]
fn a_second_store_on_the_same_directory_is_refused_while_the_first_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(&dir);
    let second = Store::open(&Layout::new(dir.path()));
    assert!(matches!(second, Err(StoreError::Locked)), "{second:?}");
}
