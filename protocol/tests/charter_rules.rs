//! The charter's validity rules (docs/design.md section 9): each code and key once, n/2 < k <= n,
//! version 1 signed by every founder, version N+1 signed by k(N) members of N and k(N+1)
//! members of N+1 including every key it adds, each key counted once, strangers not at all,
//! chains without gaps and of bounded length, forks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ciborium::value::Value;
use common::{FEDERATION, ISSUED_AT, Node, code, founded, nodes, raw, signed_by};
use datapact_protocol::charter::{
    Charter, CharterError, CharterMember, MAX_CHAIN_STEPS, ProposalError, RetiredKey,
    SignedCharter, VerifiedCharter, check_one_charter_per_version, count_member_signers,
    detect_fork, verify_genesis, verify_step, verify_steps,
};
use datapact_protocol::{Digest, PublicKey};

/// Version N+1 of `prev` with `members` (indexes into `pool`) and threshold `k`.
fn next_version(prev: &VerifiedCharter, pool: &[Node], members: &[usize], k: u64) -> Charter {
    Charter {
        version: prev.charter().version + 1,
        previous: Some(prev.id().0),
        threshold: k,
        members: members.iter().map(|&i| pool[i].member()).collect(),
        retired: Vec::new(),
        issued_at: prev.charter().issued_at + 60,
        federation: prev.charter().federation.clone(),
    }
}

fn pick<'a>(pool: &'a [Node], which: &[usize]) -> Vec<&'a Node> {
    which.iter().map(|&i| &pool[i]).collect()
}

#[test]
fn each_code_and_each_key_is_listed_once() {
    let pool = nodes(3);
    let mut twice_code = vec![pool[0].member(), pool[1].member(), pool[2].member()];
    twice_code[2].code = code("M00");
    assert_eq!(
        Charter::genesis(FEDERATION, 2, twice_code.clone(), ISSUED_AT),
        Err(CharterError::DuplicateCode(code("M00")))
    );
    let mut twice_key = vec![pool[0].member(), pool[1].member(), pool[2].member()];
    twice_key[2].public_key = pool[0].identity.public_key();
    assert_eq!(
        Charter::genesis(FEDERATION, 2, twice_key.clone(), ISSUED_AT),
        Err(CharterError::DuplicateKey {
            key: pool[0].identity.peer_id().to_string(),
            code: code("M02"),
        })
    );
    // A message that lists a member twice is refused when decoded, however well signed.
    let signed = founded(&pool, 2);
    let ids: Vec<_> = pool.iter().map(|n| &n.identity).collect();
    for (members, refusal) in [
        (twice_code, CharterError::DuplicateCode(code("M00"))),
        (
            twice_key,
            CharterError::DuplicateKey {
                key: pool[0].identity.peer_id().to_string(),
                code: code("M02"),
            },
        ),
    ] {
        let mut entries = raw::payload_entries(signed.signed().bytes());
        raw::set_key(&mut entries, "members", members_value(&members));
        let forged = raw::signed_sorted(&raw::encode(&Value::Map(entries)), &ids);
        assert_eq!(SignedCharter::decode(&forged), Err(refusal));
    }
}

/// `members` as the payload writes them.
fn members_value(members: &[CharterMember]) -> Value {
    let text = |s: &str| Value::Text(s.into());
    Value::Array(
        members
            .iter()
            .map(|m| {
                Value::Map(vec![
                    (text("code"), text(m.code.as_str())),
                    (
                        text("public_key"),
                        Value::Bytes(m.public_key.to_bytes().to_vec()),
                    ),
                    (
                        text("addrs"),
                        Value::Array(m.addrs.iter().map(|a| text(a)).collect()),
                    ),
                ])
            })
            .collect(),
    )
}

#[test]
fn a_member_key_has_one_spelling() {
    // y + p spells the same point as y: find a point of large order with a small y.
    let (canonical, alias) = (2u8..19)
        .find_map(|y| {
            let mut bytes = [0u8; 32];
            bytes[0] = y;
            let key = PublicKey::from_bytes(&bytes).ok()?;
            key.is_canonical_and_strong().then_some(())?;
            let mut alias = [0xffu8; 32];
            alias[0] = 0xed + y;
            alias[31] = 0x7f;
            Some((key, PublicKey::from_bytes(&alias).ok()?))
        })
        .unwrap();
    let pool = nodes(2);
    let mut members: Vec<CharterMember> = pool.iter().map(Node::member).collect();
    members[0].public_key = canonical;
    members[1].public_key = alias;
    // Two codes, two byte strings, one key: refused, so the key cannot count as two members.
    assert_eq!(
        Charter::genesis(FEDERATION, 2, members, ISSUED_AT),
        Err(CharterError::WeakKey(code("M01")))
    );
}

#[test]
fn the_threshold_needs_more_than_half_and_at_most_all_members() {
    let pool = nodes(6);
    for n in 1..=6usize {
        for k in 0..=n as u64 + 1 {
            let members = pool[..n].iter().map(Node::member).collect();
            let result = Charter::genesis(FEDERATION, k, members, ISSUED_AT);
            let valid = 2 * k > n as u64 && k <= n as u64;
            if valid {
                assert!(result.is_ok(), "k={k} n={n} refused");
            } else {
                assert_eq!(
                    result,
                    Err(CharterError::Threshold {
                        threshold: k,
                        members: n
                    }),
                    "k={k} n={n}"
                );
            }
        }
    }
    // Half of the members exactly is not enough: two halves could each sign a version.
    let members = pool[..4].iter().map(Node::member).collect();
    assert!(Charter::genesis(FEDERATION, 2, members, ISSUED_AT).is_err());
}

#[test]
fn version_1_is_valid_only_when_every_founder_signed_it() {
    let pool = nodes(4);
    let members = pool[..3].iter().map(Node::member).collect();
    let charter = Charter::genesis(FEDERATION, 2, members, ISSUED_AT).unwrap();
    // Two founders and a stranger are three signatures, but not the three founders.
    let signed = signed_by(&charter, &pick(&pool, &[0, 1, 3]));
    assert_eq!(
        verify_genesis(signed),
        Err(CharterError::UnsignedFounder(code("M02")))
    );
    assert!(verify_genesis(signed_by(&charter, &pick(&pool, &[0, 1, 2, 3]))).is_ok());
    // A version 2, however well signed, is not a founding version.
    let v1 = founded(&pool[..3], 2);
    let v2 = signed_by(
        &next_version(&v1, &pool, &[0, 1, 2], 3),
        &pick(&pool, &[0, 1, 2]),
    );
    assert_eq!(
        verify_genesis(v2),
        Err(CharterError::NotNextVersion {
            expected: 1,
            found: 2
        })
    );
}

#[test]
fn a_step_signed_by_a_quorum_of_both_versions_is_valid() {
    let pool = nodes(6);
    let v1 = founded(&pool[..5], 3);
    // Adding M05 to five members with k=3: six members need k=4.
    let v2 = next_version(&v1, &pool, &[0, 1, 2, 3, 4, 5], 4);
    let step = verify_step(&v1, signed_by(&v2, &pick(&pool, &[0, 1, 2, 5]))).unwrap();
    assert_eq!(step.charter(), &v2);
}

#[test]
fn a_forged_step_signed_by_fewer_than_k_members_of_the_old_version_is_refused() {
    let pool = nodes(8);
    let v1 = founded(&pool[..5], 3);
    // Two members add three keys of their own and sign with all five: a quorum of the new
    // version (5 of 8), but only 2 of the 3 that version 1 requires.
    let v2 = next_version(&v1, &pool, &[0, 1, 2, 3, 4, 5, 6, 7], 5);
    let signed = signed_by(&v2, &pick(&pool, &[0, 1, 5, 6, 7]));
    assert_eq!(
        verify_step(&v1, signed),
        Err(CharterError::TooFewSignatures {
            version: 1,
            have: 2,
            need: 3
        })
    );
    // Two members drop the other three and lower k to 2: a quorum of the new version only.
    let v2 = next_version(&v1, &pool, &[0, 1, 2], 2);
    assert_eq!(
        verify_step(&v1, signed_by(&v2, &pick(&pool, &[0, 1]))),
        Err(CharterError::TooFewSignatures {
            version: 1,
            have: 2,
            need: 3
        })
    );
}

#[test]
fn a_step_signed_by_fewer_than_k_members_of_the_new_version_is_refused() {
    let pool = nodes(3);
    let v1 = founded(&pool, 2);
    // k raised to 3: two signatures are a quorum of version 1, not of version 2.
    let v2 = next_version(&v1, &pool, &[0, 1, 2], 3);
    assert_eq!(
        verify_step(&v1, signed_by(&v2, &pick(&pool, &[0, 1]))),
        Err(CharterError::TooFewSignatures {
            version: 2,
            have: 2,
            need: 3
        })
    );
    assert!(verify_step(&v1, signed_by(&v2, &pick(&pool, &[0, 1, 2]))).is_ok());
}

#[test]
fn every_key_a_step_adds_must_sign_it() {
    let pool = nodes(4);
    let v1 = founded(&pool[..3], 2);
    let v2 = next_version(&v1, &pool, &[0, 1, 2, 3], 3);
    // Quorums of both versions (3 of 3, 3 of 4), but M03 never agreed to join.
    assert_eq!(
        verify_step(&v1, signed_by(&v2, &pick(&pool, &[0, 1, 2]))),
        Err(CharterError::AddedKeyUnsigned(code("M03")))
    );
    assert!(verify_step(&v1, signed_by(&v2, &pick(&pool, &[0, 1, 3]))).is_ok());
}

#[test]
fn a_key_counts_once_however_often_it_signs() {
    let pool = nodes(3);
    let v1 = founded(&pool, 2);
    let charter = v1.charter();
    let [a, b] = [pool[0].identity.public_key(), pool[1].identity.public_key()];
    // One key's signature seen twice (as python-tuf once counted it) is one signer.
    assert_eq!(count_member_signers([&a, &a], charter), 1);
    assert_eq!(count_member_signers([&a, &a, &a, &b, &a], charter), 2);
    // And a version that only M00 signed, however many times, is not signed by two members.
    let v2 = next_version(&v1, &pool, &[0, 1, 2], 2);
    let mut signed = signed_by(&v2, &pick(&pool, &[0]));
    assert!(!signed.sign(&pool[0].identity).unwrap());
    assert_eq!(signed.signers().count(), 1);
    assert_eq!(
        verify_step(&v1, signed),
        Err(CharterError::TooFewSignatures {
            version: 1,
            have: 1,
            need: 2
        })
    );
}

#[test]
fn signatures_by_non_members_do_not_count() {
    let pool = nodes(9);
    let v1 = founded(&pool[..3], 2);
    let v2 = next_version(&v1, &pool, &[0, 1, 2], 2);
    let signed = signed_by(&v2, &pick(&pool, &[0, 3, 4, 5, 6, 7, 8]));
    assert_eq!(count_member_signers(signed.signers(), v1.charter()), 1);
    assert_eq!(
        verify_step(&v1, signed),
        Err(CharterError::TooFewSignatures {
            version: 1,
            have: 1,
            need: 2
        })
    );
}

#[test]
fn a_step_names_the_same_federation_the_next_version_and_the_previous_payload() {
    let pool = nodes(3);
    let v1 = founded(&pool, 2);
    let all = pick(&pool, &[0, 1, 2]);
    let mut other_federation = next_version(&v1, &pool, &[0, 1, 2], 3);
    other_federation.federation = "asean".into();
    assert_eq!(
        verify_step(&v1, signed_by(&other_federation, &all)),
        Err(CharterError::Federation {
            expected: FEDERATION.into(),
            found: "asean".into()
        })
    );
    let mut skipped = next_version(&v1, &pool, &[0, 1, 2], 3);
    skipped.version = 3;
    assert_eq!(
        verify_step(&v1, signed_by(&skipped, &all)),
        Err(CharterError::NotNextVersion {
            expected: 2,
            found: 3
        })
    );
    let mut unlinked = next_version(&v1, &pool, &[0, 1, 2], 3);
    unlinked.previous = Some(Digest::of(b"another version 1"));
    assert_eq!(
        verify_step(&v1, signed_by(&unlinked, &all)),
        Err(CharterError::Previous(2))
    );
}

#[test]
fn a_step_retires_only_keys_held_in_the_version_before() {
    let pool = nodes(4);
    let v1 = founded(&pool[..3], 2);
    let mut v2 = next_version(&v1, &pool, &[0, 1, 2], 2);
    v2.retired = vec![RetiredKey {
        code: code("M01"),
        public_key: pool[3].identity.public_key(),
        statements: vec![Digest::of(b"backdated")],
    }];
    assert_eq!(
        verify_step(&v1, signed_by(&v2, &pick(&pool, &[0, 1, 2]))),
        Err(CharterError::RetiredKeyNotHeld(code("M01")))
    );
}

/// A chain v1..=v(1+len) of three members, raising and lowering k in turn, every step signed
/// by all three.
fn chain(pool: &[Node], len: usize) -> (VerifiedCharter, Vec<SignedCharter>) {
    let v1 = founded(pool, 2);
    let mut steps = Vec::new();
    let mut last = v1.clone();
    for i in 0..len {
        let next = next_version(&last, pool, &[0, 1, 2], 2 + (i as u64 + 1) % 2);
        let signed = signed_by(&next, &pick(pool, &[0, 1, 2]));
        last = verify_step(&last, signed.clone()).unwrap();
        steps.push(signed);
    }
    (v1, steps)
}

#[test]
fn a_chain_is_checked_step_by_step_and_a_gap_is_refused() {
    let pool = nodes(3);
    let (v1, steps) = chain(&pool, 5);
    let verified = verify_steps(&v1, steps.clone()).unwrap();
    let versions: Vec<u64> = verified.iter().map(|v| v.charter().version).collect();
    assert_eq!(versions, [2, 3, 4, 5, 6]);

    let mut gap = steps.clone();
    gap.remove(2);
    assert_eq!(
        verify_steps(&v1, gap),
        Err(CharterError::NotNextVersion {
            expected: 4,
            found: 5
        })
    );
    let mut swapped = steps.clone();
    swapped.swap(0, 1);
    assert!(verify_steps(&v1, swapped).is_err());
    // From a later base, the chain continues from there.
    assert_eq!(
        verify_steps(&verified[1], steps[2..].to_vec())
            .unwrap()
            .len(),
        3
    );
    assert_eq!(verify_steps(&v1, Vec::new()), Ok(Vec::new()));
}

#[test]
fn at_most_max_chain_steps_are_verified_at_once() {
    let pool = nodes(3);
    let (v1, steps) = chain(&pool, 1);
    let too_many = vec![steps[0].clone(); MAX_CHAIN_STEPS + 1];
    assert_eq!(
        verify_steps(&v1, too_many),
        Err(CharterError::ChainTooLong(MAX_CHAIN_STEPS + 1))
    );
}

#[test]
fn two_different_valid_versions_with_one_number_are_a_fork() {
    let pool = nodes(3);
    let v1 = founded(&pool, 2);
    // M01 signs two different versions 2, one with each of the others: both are valid.
    let a = next_version(&v1, &pool, &[0, 1, 2], 3);
    let a = verify_step(&v1, signed_by(&a, &pick(&pool, &[0, 1, 2]))).unwrap();
    let mut b = next_version(&v1, &pool, &[0, 1], 2);
    b.issued_at += 1;
    let b = verify_step(&v1, signed_by(&b, &pick(&pool, &[1, 0]))).unwrap();
    let fork = detect_fork(&a, &b).unwrap();
    assert_eq!(fork.version, 2);
    let mut ids = [a.id(), b.id()];
    ids.sort();
    assert_eq!(fork.ids, ids);
    assert_eq!(detect_fork(&b, &a), Some(fork));
    // Copies of one payload with other signatures are the same charter; other versions differ.
    let a_again = verify_step(&v1, signed_by(a.charter(), &pick(&pool, &[0, 1, 2]))).unwrap();
    assert_eq!(detect_fork(&a, &a_again), None);
    assert_eq!(detect_fork(&v1, &a), None);
}

#[test]
fn a_node_signs_at_most_one_charter_per_version() {
    let pool = nodes(3);
    let v1 = founded(&pool, 2);
    let a = signed_by(&next_version(&v1, &pool, &[0, 1, 2], 3), &[]);
    let b = signed_by(&next_version(&v1, &pool, &[0, 1], 2), &[]);
    assert_eq!(check_one_charter_per_version(2, None, a.id()), Ok(()));
    assert_eq!(
        check_one_charter_per_version(2, Some(a.id()), a.id()),
        Ok(())
    );
    assert_eq!(
        check_one_charter_per_version(2, Some(a.id()), b.id()),
        Err(ProposalError::AlreadySignedVersion {
            version: 2,
            signed: a.id().to_string()
        })
    );
}
