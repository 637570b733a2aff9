//! The charter decoder is total: on arbitrary bytes, CBOR-shaped noise, mutations of valid
//! charters, huge length claims and deep nesting it returns (an `Err`, or for a mutation the
//! very charter it started from) and never panics, overflows the stack or allocates what the
//! input only claims to hold.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{ISSUED_AT, raw};
use datapact_protocol::charter::{
    Charter, CharterMember, MAX_CHARTER_LEN, SignedCharter, smallest_valid_threshold,
};
use datapact_protocol::{Identity, MemberCode};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

/// One edit of a message's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
    /// Overwrites bytes with a CBOR head that claims 2^64 - 1 items or bytes.
    HugeHead(Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<Index>().prop_map(Mutation::Remove),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), 0u8..8).prop_map(|(i, major)| Mutation::HugeHead(i, major)),
    ]
}

fn huge_head(major: u8) -> [u8; 9] {
    let mut head = [0xff; 9];
    head[0] = (major << 5) | 27;
    head
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        bytes.push(0);
        return;
    }
    let len = bytes.len();
    match m {
        Mutation::FlipBit(i, bit) => bytes[i.index(len)] ^= 1 << bit,
        Mutation::SetByte(i, b) => bytes[i.index(len)] = *b,
        Mutation::Insert(i, b) => bytes.insert(i.index(len + 1), *b),
        Mutation::Remove(i) => {
            bytes.remove(i.index(len));
        }
        Mutation::Truncate(i) => bytes.truncate(i.index(len)),
        Mutation::HugeHead(i, major) => {
            let at = i.index(len);
            bytes.splice(at..(at + 9).min(len), huge_head(*major));
        }
    }
}

prop_compose! {
    /// A valid signed charter of 1 to 7 members, signed by some of them and some strangers.
    fn signed_charter()(
        seeds in vec(any::<[u8; 32]>(), 1..8),
        extra_k in 0u64..4,
        signers in vec(any::<bool>(), 8),
        strangers in vec(any::<[u8; 32]>(), 0..3),
        addrs in vec("/ip4/[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}/tcp/[0-9]{1,5}", 0..3),
    ) -> SignedCharter {
        let mut seeds = seeds;
        seeds.sort();
        seeds.dedup();
        let ids: Vec<Identity> = seeds.iter().map(Identity::from_seed).collect();
        let members: Vec<CharterMember> = ids.iter().enumerate().map(|(i, id)| CharterMember {
            code: MemberCode::new(&format!("M{i:02}")).unwrap(),
            public_key: id.public_key(),
            addrs: addrs.clone(),
        }).collect();
        let n = members.len();
        let k = (smallest_valid_threshold(n) + extra_k).min(n as u64);
        let charter = Charter::genesis("fuzzed federation", k, members, ISSUED_AT).unwrap();
        let mut signed = SignedCharter::unsigned(&charter).unwrap();
        for (id, yes) in ids.iter().zip(&signers) {
            if *yes {
                signed.sign(id).unwrap();
            }
        }
        for s in &strangers {
            signed.sign(&Identity::from_seed(s)).unwrap();
        }
        signed
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_are_refused(bytes in vec(any::<u8>(), 0..4096)) {
        prop_assert!(SignedCharter::decode(&bytes).is_err());
    }

    #[test]
    fn arbitrary_cbor_shaped_bytes_are_refused(
        bytes in vec(prop_oneof![
            // Heads of every major type, small lengths, breaks and tags 98 / 24.
            Just(0xd8u8), Just(0x62), Just(0x84), Just(0x83), Just(0xa0), Just(0xa1),
            Just(0x40), Just(0x58), Just(0x60), Just(0x78), Just(0x80), Just(0x9f),
            Just(0xbf), Just(0xff), Just(0x5f), Just(0x7f), Just(0x1b), Just(0x27),
            Just(0xf6), any::<u8>(),
        ], 0..512),
    ) {
        let mut with_tag = vec![0xd8, 0x62, 0x84];
        with_tag.extend_from_slice(&bytes);
        prop_assert!(SignedCharter::decode(&bytes).is_err());
        prop_assert!(SignedCharter::decode(&with_tag).is_err());
    }

    #[test]
    fn valid_charters_round_trip(signed in signed_charter()) {
        let decoded = SignedCharter::decode(signed.bytes()).unwrap();
        prop_assert_eq!(decoded, signed);
    }

    #[test]
    fn mutated_charters_are_refused_or_unchanged(
        signed in signed_charter(),
        mutations in vec(mutation(), 1..6),
    ) {
        let mut bytes = signed.bytes().to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        // Only a forged signature could make a changed payload decode, and only a signer can
        // add its signature: anything signed that is accepted is the same charter with some of
        // its signers. (A draft without signatures protects nothing: any valid payload is one.)
        if let Ok(decoded) = SignedCharter::decode(&bytes) {
            if decoded.signers().next().is_some() {
                prop_assert_eq!(decoded.payload(), signed.payload());
            }
            for key in decoded.signers() {
                prop_assert!(signed.is_signed_by(key));
            }
        }
    }
}

#[test]
fn huge_length_claims_are_refused_quickly() {
    let started = Instant::now();
    let valid = common::founded(&common::nodes(3), 2);
    let bytes = valid.signed().bytes();
    // Tag, array head, body protected header: the bytes before the body's unprotected header.
    let body = &bytes[..3 + 2 + usize::from(bytes[4])];
    for major in 0..8u8 {
        let head = huge_head(major);
        for context in [
            head.to_vec(),
            [&[0xd8, 0x62, 0x84][..], &head].concat(),
            [body, &head].concat(),
            [body, &[0xa0][..], &head].concat(),
            [body, &[0xa0][..], &[0x40, 0x9b], &head[1..]].concat(),
        ] {
            assert!(SignedCharter::decode(&context).is_err(), "{context:02x?}");
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    for depth in [300usize, 5_000, 60_000] {
        for open in [0x81u8, 0xa1, 0x9f, 0xd8] {
            let mut bytes = vec![0xd8, 0x62];
            for _ in 0..depth {
                bytes.push(open);
                match open {
                    0xa1 => bytes.push(0x00),
                    0xd8 => bytes.push(0x40),
                    _ => {}
                }
            }
            bytes.push(0x00);
            assert!(SignedCharter::decode(&bytes).is_err(), "depth {depth}");
        }
    }
    // A hostile payload signed by its own key is parsed only after the envelope checks out,
    // and refused like any other.
    let id = Identity::from_seed(&[6; 32]);
    let mut payload = vec![0x81u8; 10_000];
    payload.push(0x00);
    let bytes = raw::signed(&payload, &[&id]);
    assert!(bytes.len() <= MAX_CHARTER_LEN);
    assert!(SignedCharter::decode(&bytes).is_err());
}
