//! The charter envelope's strictness (docs/design.md section 9, as for COSE_Sign1 in section 5):
//! one canonical encoding, exactly the crate's headers, `crit` refused, signatures ascending by
//! key id with each key once, every signature verified, size caps, no trailing bytes, and a
//! payload read in its one encoding only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ciborium::value::Value;
use common::{Node, founded, nodes, raw};
use datapact_protocol::charter::{
    Charter, CharterError, MAX_CHARTER_LEN, MAX_RETIRED_STATEMENTS, MAX_SIGNATURES, RetiredKey,
    SignedCharter,
};
use datapact_protocol::{CborError, Digest, Identity};

/// A valid founding charter of three members and its founders.
fn valid() -> (Vec<u8>, Vec<Node>) {
    let founders = nodes(3);
    let bytes = founded(&founders, 2).signed().bytes().to_vec();
    (bytes, founders)
}

fn payload_of(bytes: &[u8]) -> Vec<u8> {
    SignedCharter::decode(bytes).unwrap().payload().to_vec()
}

/// `payload` signed by `signers` with the crate's headers, key ids ascending.
fn signed_sorted(payload: &[u8], signers: &[Node]) -> Vec<u8> {
    let ids: Vec<&Identity> = signers.iter().map(|n| &n.identity).collect();
    raw::signed_sorted(payload, &ids)
}

fn is_shape(result: Result<SignedCharter, CharterError>) -> bool {
    matches!(result, Err(CharterError::Cbor(CborError::Shape(_))))
}

#[test]
fn hand_signed_with_the_same_headers_gives_the_same_bytes() {
    let (bytes, founders) = valid();
    assert_eq!(signed_sorted(&payload_of(&bytes), &founders), bytes);
}

#[test]
fn trailing_bytes_are_refused() {
    let (bytes, _) = valid();
    for tail in [&[0x00][..], &[0xa0], &[0xff], &bytes] {
        let mut longer = bytes.clone();
        longer.extend_from_slice(tail);
        assert_eq!(
            SignedCharter::decode(&longer),
            Err(CharterError::Cbor(CborError::TrailingBytes)),
            "tail {tail:02x?}"
        );
    }
}

#[test]
fn oversize_input_is_refused_at_the_cap() {
    assert_eq!(
        SignedCharter::decode(&vec![0u8; MAX_CHARTER_LEN + 1]),
        Err(CharterError::Cbor(CborError::TooLarge {
            len: MAX_CHARTER_LEN + 1,
            cap: MAX_CHARTER_LEN,
        }))
    );
    // Each field within its limit, but not together: two rotations keeping the most
    // statements each make a payload larger than any message may be.
    let founders = nodes(3);
    let statements: Vec<Digest> = (0..MAX_RETIRED_STATEMENTS as u32)
        .map(|i| Digest::of(&i.to_be_bytes()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut big: Charter = founded(&founders, 2).charter().clone();
    big.version = 2;
    big.previous = Some(Digest::of(b"version 1"));
    big.retired = [0x70u8, 0x71]
        .iter()
        .map(|seed| RetiredKey {
            code: founders[0].code.clone(),
            public_key: Identity::from_seed(&[*seed; 32]).public_key(),
            statements: statements.clone(),
        })
        .collect();
    assert!(matches!(
        SignedCharter::unsigned(&big),
        Err(CharterError::TooLarge(n)) if n > MAX_CHARTER_LEN
    ));
}

#[test]
fn more_signatures_than_the_cap_are_refused() {
    let (bytes, _) = valid();
    let mut signed = SignedCharter::decode(&bytes).unwrap();
    let strangers: Vec<Identity> = (0..=MAX_SIGNATURES as u32)
        .map(|i| {
            let mut seed = [0xee; 32];
            seed[..4].copy_from_slice(&i.to_be_bytes());
            Identity::from_seed(&seed)
        })
        .collect();
    for s in &strangers[..MAX_SIGNATURES - 3] {
        assert!(signed.sign(s).unwrap());
    }
    let full = signed.clone();
    assert_eq!(
        signed.sign(&strangers[MAX_SIGNATURES]),
        Err(CharterError::TooManySignatures(MAX_SIGNATURES + 1))
    );
    assert_eq!(signed, full, "a refused signature changes nothing");
    assert_eq!(SignedCharter::decode(full.bytes()).unwrap(), full);
    // Decoding refuses one more before verifying any.
    let ids: Vec<&Identity> = strangers.iter().collect();
    let over = raw::signed(full.payload(), &ids);
    assert_eq!(
        SignedCharter::decode(&over),
        Err(CharterError::TooManySignatures(MAX_SIGNATURES + 1))
    );
}

#[test]
fn outer_encoding_variants_are_refused() {
    let (bytes, founders) = valid();
    assert_eq!(&bytes[..3], &[0xd8, 0x62, 0x84]);
    assert_eq!(&bytes[3..5], &[0x58, 0x29]);
    let body_end = 5 + 0x29;
    assert_eq!(bytes[body_end], 0xa0);
    let splice = |range: std::ops::Range<usize>, with: &[u8]| {
        let mut b = bytes.clone();
        b.splice(range, with.iter().copied());
        b
    };
    let mut indefinite = splice(2..3, &[0x9f]);
    indefinite.push(0xff);
    let payload = payload_of(&bytes);
    let detached = {
        let Value::Tag(98, inner) = raw::decode(&bytes) else {
            panic!()
        };
        let Value::Array(mut parts) = *inner else {
            panic!()
        };
        parts[2] = Value::Null;
        raw::encode(&Value::Tag(98, Box::new(Value::Array(parts))))
    };
    let unprotected_in_signature = {
        let body = raw::body_protected();
        let id = &founders[0].identity;
        let Value::Array(mut entry) = raw::signature(&body, raw::sign_protected(id), &payload, id)
        else {
            panic!()
        };
        entry[1] = Value::Map(vec![(raw::int(-1), Value::Text(String::new()))]);
        raw::message(body, payload.clone(), vec![Value::Array(entry)])
    };
    for (what, variant) in [
        ("long tag head", splice(0..2, &[0xd9, 0x00, 0x62])),
        ("long length", splice(3..5, &[0x59, 0x00, 0x29])),
        ("indefinite array", indefinite),
        (
            "unprotected entry",
            splice(body_end..body_end + 1, &[0xa1, 0x20, 0x60]),
        ),
        ("detached payload", detached),
        ("unprotected entry in a signature", unprotected_in_signature),
    ] {
        assert_ne!(variant, bytes);
        assert!(
            SignedCharter::decode(&variant).is_err(),
            "{what}: a byte-distinct encoding of a charter was accepted"
        );
    }
}

#[test]
fn body_headers_other_than_ours_are_refused() {
    let (bytes, founders) = valid();
    let payload = payload_of(&bytes);
    let ct = Value::Text(datapact_protocol::charter::CHARTER_CONTENT_TYPE.into());
    let id = &founders[0].identity;
    let with_body = |body: Vec<u8>| {
        let entry = raw::signature(&body, raw::sign_protected(id), &payload, id);
        SignedCharter::decode(&raw::message(body, payload.clone(), vec![entry]))
    };
    let crit = vec![
        (raw::int(2), Value::Array(vec![raw::int(3)])),
        (raw::int(3), ct.clone()),
    ];
    let alg = vec![(raw::int(1), raw::int(-8)), (raw::int(3), ct.clone())];
    let numeric = vec![(raw::int(3), raw::int(60))];
    for (what, map) in [
        ("crit", crit),
        ("alg in the body", alg),
        ("numeric type", numeric),
    ] {
        assert!(is_shape(with_body(raw::encode(&Value::Map(map)))), "{what}");
    }
    // The same map with a two-byte map head.
    let mut long_head = raw::body_protected();
    long_head.splice(0..1, [0xb9, 0x00, 0x01]);
    assert!(is_shape(with_body(long_head)));
    // No body header at all (an empty byte string): the content type is missing.
    assert!(matches!(with_body(Vec::new()), Err(CharterError::Cbor(_))));
}

#[test]
fn signature_headers_other_than_ours_are_refused() {
    let (bytes, founders) = valid();
    let payload = payload_of(&bytes);
    let id = &founders[0].identity;
    let kid = Value::Bytes(id.public_key().to_bytes().to_vec());
    let with_header = |entries: Vec<(Value, Value)>| {
        let body = raw::body_protected();
        let sign = raw::encode(&Value::Map(entries));
        let entry = raw::signature(&body, sign, &payload, id);
        SignedCharter::decode(&raw::message(body, payload.clone(), vec![entry]))
    };
    let eddsa = || (raw::int(1), raw::int(-8));
    let key = || (raw::int(4), kid.clone());
    let crit = (raw::int(2), Value::Array(vec![raw::int(4)]));
    let iv = (raw::int(5), Value::Bytes(vec![0; 12]));
    assert!(is_shape(with_header(vec![eddsa(), key(), crit])));
    assert!(is_shape(with_header(vec![eddsa(), key(), iv])));
    assert!(
        is_shape(with_header(vec![key(), eddsa()])),
        "labels out of order"
    );
    assert_eq!(
        with_header(vec![(raw::int(1), raw::int(-7)), key()]),
        Err(CharterError::Algorithm)
    );
    assert_eq!(with_header(vec![key()]), Err(CharterError::Algorithm));
    assert_eq!(with_header(vec![eddsa()]), Err(CharterError::KeyId));
    let short = (raw::int(4), Value::Bytes(vec![7; 31]));
    assert_eq!(with_header(vec![eddsa(), short]), Err(CharterError::KeyId));
    // The identity point: a valid encoding of a point of small order.
    let mut weak = vec![0u8; 32];
    weak[0] = 1;
    let weak = (raw::int(4), Value::Bytes(weak));
    assert_eq!(with_header(vec![eddsa(), weak]), Err(CharterError::KeyId));
}

#[test]
fn signatures_must_be_ascending_by_key_id_and_each_key_once() {
    let (bytes, founders) = valid();
    let payload = payload_of(&bytes);
    let mut ids: Vec<&Identity> = founders.iter().map(|n| &n.identity).collect();
    ids.sort_by_key(|id| id.public_key().to_bytes());
    let descending: Vec<&Identity> = ids.iter().rev().copied().collect();
    assert!(is_shape(SignedCharter::decode(&raw::signed(
        &payload,
        &descending
    ))));
    // The same key's signature twice, even each valid, is refused rather than counted twice.
    let twice = [ids[0], ids[0], ids[1], ids[2]];
    assert!(is_shape(SignedCharter::decode(&raw::signed(
        &payload, &twice
    ))));
}

#[test]
fn a_signature_that_does_not_verify_refuses_the_message() {
    let (bytes, founders) = valid();
    let Value::Tag(98, inner) = raw::decode(&bytes) else {
        panic!()
    };
    let Value::Array(mut parts) = *inner else {
        panic!()
    };
    let Value::Array(signatures) = &mut parts[3] else {
        panic!()
    };
    let (Value::Array(a), Value::Array(b)) = (signatures[0].clone(), signatures[1].clone()) else {
        panic!()
    };
    // Each signer's key id with the other's signature.
    signatures[0] = Value::Array(vec![a[0].clone(), a[1].clone(), b[2].clone()]);
    signatures[1] = Value::Array(vec![b[0].clone(), b[1].clone(), a[2].clone()]);
    let swapped = raw::encode(&Value::Tag(98, Box::new(Value::Array(parts))));
    let mut keys: Vec<_> = founders.iter().map(|n| n.identity.public_key()).collect();
    keys.sort_by_key(|k| k.to_bytes());
    assert_eq!(
        SignedCharter::decode(&swapped),
        Err(CharterError::BadSignature {
            signer: keys[0].peer_id().to_string()
        })
    );
}

#[test]
fn the_payload_is_read_in_its_one_encoding_only() {
    let (bytes, founders) = valid();
    let entries = raw::payload_entries(&bytes);
    let resign = |entries: Vec<(Value, Value)>| {
        SignedCharter::decode(&signed_sorted(
            &raw::encode(&Value::Map(entries)),
            &founders,
        ))
    };
    assert_eq!(resign(entries.clone()).unwrap().bytes(), bytes.as_slice());

    for v in [0u64, 2, 1000] {
        let mut changed = entries.clone();
        raw::set_key(&mut changed, "v", Value::Integer(v.into()));
        assert_eq!(resign(changed), Err(CharterError::Version(v)));
    }
    let mut unknown = entries.clone();
    raw::set_key(&mut unknown, "note", Value::Text("ignored?".into()));
    assert!(is_shape(resign(unknown)));
    let mut swapped = entries.clone();
    swapped.swap(1, 2);
    assert!(is_shape(resign(swapped)), "keys out of their fixed order");
    let mut long_uint = entries.clone();
    raw::set_key(&mut long_uint, "threshold", Value::Integer(2.into()));
    let mut payload = raw::encode(&Value::Map(long_uint));
    let at = payload
        .windows(10)
        .position(|w| w == b"\x69threshold")
        .unwrap()
        + 10;
    payload.splice(at..at + 1, [0x18, 0x02]);
    assert!(is_shape(SignedCharter::decode(&signed_sorted(
        &payload, &founders
    ))));
    let mut linked = entries.clone();
    raw::set_key(&mut linked, "previous", Value::Bytes(vec![0; 32]));
    assert!(resign(linked).is_err(), "a version 1 with a previous");
    let mut no_members = entries.clone();
    raw::set_key(&mut no_members, "members", Value::Array(Vec::new()));
    assert!(matches!(
        resign(no_members),
        Err(CharterError::Field {
            field: "members",
            ..
        })
    ));
    let mut text_threshold = entries;
    raw::set_key(&mut text_threshold, "threshold", Value::Text("2".into()));
    assert!(is_shape(resign(text_threshold)));
}

#[test]
fn a_chain_decodes_as_each_of_its_messages_does() {
    let pool = nodes(4);
    let v1 = founded(&pool[..3], 2);
    let change = datapact_protocol::charter::Change::Add {
        code: pool[3].code.clone(),
        public_key: pool[3].identity.public_key(),
        addrs: Vec::new(),
    };
    let v2 = common::next_signed(&v1, change, &[&pool[0], &pool[1], &pool[3]]);
    let messages = vec![v1.signed().bytes().to_vec(), v2.bytes().to_vec()];
    assert_eq!(
        SignedCharter::decode_chain(&messages).unwrap(),
        [v1.signed().clone(), v2.clone()]
    );
    let mut broken = messages.clone();
    broken[1].push(0);
    assert_eq!(
        SignedCharter::decode_chain(&broken),
        Err(CharterError::Cbor(CborError::TrailingBytes))
    );
    let too_many = vec![messages[0].clone(); datapact_protocol::charter::MAX_CHAIN_STEPS + 2];
    assert_eq!(
        SignedCharter::decode_chain(&too_many),
        Err(CharterError::ChainTooLong(
            datapact_protocol::charter::MAX_CHAIN_STEPS + 2
        ))
    );
}

#[test]
fn a_chain_reports_its_earliest_bad_signature_however_its_checks_are_shared_out() {
    let pool = nodes(4);
    let v1 = founded(&pool[..3], 2);
    let change = datapact_protocol::charter::Change::Add {
        code: pool[3].code.clone(),
        public_key: pool[3].identity.public_key(),
        addrs: Vec::new(),
    };
    let v2 = common::next_signed(&v1, change, &[&pool[0], &pool[1], &pool[3]]);
    // Enough messages that the checks are split between threads.
    let messages: Vec<Vec<u8>> = (0..9)
        .map(|i| if i % 2 == 0 { v1.signed() } else { &v2 }.bytes().to_vec())
        .collect();
    // The last 64 bytes of a message are its last signature's.
    let spoil = |message: &mut Vec<u8>| {
        if let Some(byte) = message.last_mut() {
            *byte ^= 1;
        }
    };
    for bad in [[7, 8], [2, 7], [0, 8]] {
        let mut broken = messages.clone();
        bad.iter().for_each(|&i| spoil(&mut broken[i]));
        let alone = SignedCharter::decode(&broken[bad[0]]).err();
        assert!(matches!(alone, Some(CharterError::BadSignature { .. })));
        assert_eq!(
            SignedCharter::decode_chain(&broken).err(),
            alone,
            "spoilt {bad:?}"
        );
    }
}
