//! Adoption on a real store: version 1, a valid and a short-signed version 2, a gap, a fork
//! and its resolution, and the roster and access log that follow.

#![allow(clippy::unwrap_used)]

use datapact_protocol::Identity;
use datapact_protocol::charter::{Change, CharterMember, draft};

use super::*;
use crate::home::Layout;
use crate::store::LogEvent;

fn identity(seed: u8) -> Identity {
    Identity::from_seed(&[seed; 32])
}

fn code(text: &str) -> MemberCode {
    MemberCode::new(text).unwrap()
}

fn member(text: &str, seed: u8) -> CharterMember {
    CharterMember {
        code: code(text),
        public_key: identity(seed).public_key(),
        addrs: vec![format!("/ip4/127.0.0.1/tcp/{}", 7000 + u16::from(seed))],
    }
}

/// THA (seed 1, this node), MMR (2) and KHM (3), threshold 2, signed by all three.
fn genesis() -> VerifiedCharter {
    let charter = Charter::genesis(
        "bali-process",
        2,
        vec![member("THA", 1), member("MMR", 2), member("KHM", 3)],
        100,
    )
    .unwrap();
    let mut signed = SignedCharter::unsigned(&charter).unwrap();
    for seed in 1..=3 {
        signed.sign(&identity(seed)).unwrap();
    }
    verify_genesis(signed).unwrap()
}

/// The version after `current` with `change`, signed by the identities of `seeds`.
fn step(current: &VerifiedCharter, change: Change, seeds: &[u8], at: u64) -> SignedCharter {
    let mut next = draft(current, change, at).unwrap().draft;
    for seed in seeds {
        next.sign(&identity(*seed)).unwrap();
    }
    next
}

fn add_vnm() -> Change {
    let m = member("VNM", 4);
    Change::Add {
        code: m.code,
        public_key: m.public_key,
        addrs: m.addrs,
    }
}

fn adopt_bytes(store: &Store, bytes: &[u8]) -> Result<CharterAdopted, CharterOpError> {
    let me = Me {
        code: &code("THA"),
        key: identity(1).public_key(),
    };
    adopt_message(store, me, bytes).map(|(adopted, _)| adopted)
}

fn codes(store: &Store) -> Vec<String> {
    store
        .roster()
        .unwrap()
        .into_iter()
        .map(|e| e.member.to_string())
        .collect()
}

#[test]
fn a_valid_next_version_is_adopted_and_its_new_member_joins_the_roster() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Layout::new(dir.path())).unwrap();
    let v1 = genesis();
    assert!(adopt_bytes(&store, v1.signed().bytes()).unwrap().changed);
    assert_eq!(
        codes(&store),
        ["KHM", "MMR"],
        "this node is not in its own roster"
    );

    let short = step(&v1, add_vnm(), &[2, 4], 200);
    let refused = adopt_bytes(&store, short.bytes()).unwrap_err();
    assert!(matches!(refused, CharterOpError::Invalid(_)), "{refused}");
    assert_eq!(store.charter_head().unwrap(), Some(1));

    let v2 = step(&v1, add_vnm(), &[2, 3, 4], 200);
    let adopted = adopt_bytes(&store, v2.bytes()).unwrap();
    assert_eq!((adopted.version, adopted.changed), (2, true));
    assert_eq!(codes(&store), ["KHM", "MMR", "VNM"]);
    let vnm = store.roster_get(&code("VNM")).unwrap().unwrap();
    assert_eq!(vnm.peer_id, identity(4).peer_id());
    assert_eq!(vnm.addrs, member("VNM", 4).addrs);
    let logged: Vec<_> = store
        .log()
        .unwrap()
        .into_iter()
        .map(|(e, _)| (e.event, e.member.unwrap(), e.reason.unwrap()))
        .collect();
    assert_eq!(
        logged.last().unwrap(),
        &(
            LogEvent::MemberAdded,
            "VNM".to_owned(),
            "federation charter version 2".to_owned()
        )
    );
    assert!(!adopt_bytes(&store, v2.bytes()).unwrap().changed, "again");
}

#[test]
fn a_gap_and_a_version_without_its_chain_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Layout::new(dir.path())).unwrap();
    let v1 = genesis();
    let v2 = verify_step(&v1, step(&v1, add_vnm(), &[2, 3, 4], 200)).unwrap();
    let v3 = step(&v2, Change::Threshold(4), &[1, 2, 3, 4], 300);
    let none = adopt_bytes(&store, v2.signed().bytes()).unwrap_err();
    assert!(matches!(none, CharterOpError::NoChain(2)), "{none}");
    adopt_bytes(&store, v1.signed().bytes()).unwrap();
    let gap = adopt_bytes(&store, v3.bytes()).unwrap_err();
    assert!(
        matches!(gap, CharterOpError::Gap { head: 1, found: 3 }),
        "{gap}"
    );
}

#[test]
fn a_second_valid_version_2_is_a_fork_that_only_adopting_one_of_the_two_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Layout::new(dir.path())).unwrap();
    let v1 = genesis();
    adopt_bytes(&store, v1.signed().bytes()).unwrap();
    let with_vnm = step(&v1, add_vnm(), &[2, 3, 4], 200);
    let without_khm = step(&v1, Change::Remove { code: code("KHM") }, &[1, 2, 3], 200);
    adopt_bytes(&store, with_vnm.bytes()).unwrap();
    let fork = adopt_bytes(&store, without_khm.bytes()).unwrap_err();
    assert!(
        matches!(fork, CharterOpError::Fork { version: 2, .. }),
        "{fork}"
    );
    let recorded = store.charter_fork().unwrap().unwrap();
    assert_eq!(recorded.kept, with_vnm.id().to_string());
    assert_eq!(recorded.other_id, without_khm.id().to_string());
    assert_eq!(codes(&store), ["KHM", "MMR", "VNM"], "the first one stays");

    let v2 = verify_step(&v1, with_vnm).unwrap();
    let v3 = step(&v2, Change::Threshold(4), &[1, 2, 3, 4], 300);
    let frozen = adopt_bytes(&store, v3.bytes()).unwrap_err();
    assert!(
        matches!(frozen, CharterOpError::ForkUnresolved { .. }),
        "{frozen}"
    );

    adopt_bytes(&store, without_khm.bytes()).unwrap();
    assert_eq!(store.charter_fork().unwrap(), None);
    assert_eq!(codes(&store), ["MMR"]);
    assert_eq!(store.charter_head().unwrap(), Some(2));
}
