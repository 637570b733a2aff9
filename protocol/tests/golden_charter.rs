//! Golden byte vector of a founding charter (version 1, three founders; docs/design.md section 9),
//! so the encoding cannot drift, plus a check with an independent COSE library that every
//! signature of the COSE_Sign verifies, and the properties of adding signatures.
//!
//! The founders' keys come from fixed seeds and ed25519 signatures are deterministic, so the
//! same charter signed by the same founders gives the same bytes on every run and machine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod annotated;

mod common;

use std::error::Error;

use ciborium::value::Value;
use common::{ISSUED_AT, code, raw};
use datapact_protocol::announcement::ANNOUNCEMENT_CONTENT_TYPE;
use datapact_protocol::charter::{
    CHARTER_CONTENT_TYPE, Charter, CharterError, CharterId, CharterMember, SignedCharter,
    verify_genesis,
};
use datapact_protocol::{Digest, Identity, SignedAnnouncement, StatementError, cose};

/// The founders: member code, key seed, address. Their public keys (hex) are
/// THA af06a3e3291714e4f356c19c9b15cd1951ec6e6662aa77be07547f289383341d,
/// MMR 2df04125f0015afb47ce853aef8772094ff9498c14cb1b9e12973c2927da0fa6,
/// AUS a7f6dfaf8f38b89ba8ce649b594f91e4d01fdc57f9c9493df43b5e50a9987367.
const FOUNDERS: [(&str, u8, &str); 3] = [
    ("THA", 0x61, "/ip4/203.0.113.10/tcp/7470"),
    ("MMR", 0x62, "/ip4/203.0.113.20/tcp/7470"),
    ("AUS", 0x63, "/ip4/198.51.100.30/tcp/7470"),
];
const PUBLIC_KEYS_HEX: [&str; 3] = [
    "af06a3e3291714e4f356c19c9b15cd1951ec6e6662aa77be07547f289383341d",
    "2df04125f0015afb47ce853aef8772094ff9498c14cb1b9e12973c2927da0fa6",
    "a7f6dfaf8f38b89ba8ce649b594f91e4d01fdc57f9c9493df43b5e50a9987367",
];
/// The charter's id: SHA-256 of its payload, what version 2 names as `previous`.
const GOLDEN_ID: &str = "0072393511247550fde4d71ff913cd577f8ce1f619881a8b669a926be21e6589";

const GOLDEN_CHARTER: &str = concat!(
    "d862845829a10378256170706c69636174696f6e2f766e642e64617461706163742e636861727465",
    "722b63626f72a0590160a76176016a66656465726174696f6e6c62616c692d70726f636573736776",
    "657273696f6e01697468726573686f6c6402676d656d6265727383a364636f6465634155536a7075",
    "626c69635f6b65795820a7f6dfaf8f38b89ba8ce649b594f91e4d01fdc57f9c9493df43b5e50a998",
    "736765616464727381781b2f6970342f3139382e35312e3130302e33302f7463702f37343730a364",
    "636f6465634d4d526a7075626c69635f6b657958202df04125f0015afb47ce853aef8772094ff949",
    "8c14cb1b9e12973c2927da0fa665616464727381781a2f6970342f3230332e302e3131332e32302f",
    "7463702f37343730a364636f6465635448416a7075626c69635f6b65795820af06a3e3291714e4f3",
    "56c19c9b15cd1951ec6e6662aa77be07547f289383341d65616464727381781a2f6970342f323033",
    "2e302e3131332e31302f7463702f37343730677265746972656480696973737565645f61741a6afd",
    "86c083835826a201270458202df04125f0015afb47ce853aef8772094ff9498c14cb1b9e12973c29",
    "27da0fa6a05840a6217f51fdab001910924900f533ec6d9dfd85493cfcf5537efa219bd61a8e9425",
    "0d3f2a4f81f040da6e7b3857de9894836592105ad5500888307884f482b506835826a20127045820",
    "a7f6dfaf8f38b89ba8ce649b594f91e4d01fdc57f9c9493df43b5e50a9987367a05840026c5103d5",
    "0ead8962f88381a4eae7d80d586862559077d2db1cd27de10e3f808f9adc7cbaf57184362bd4c857",
    "2f8090ff6b4c71e992e23bd0eeb5f6beec3702835826a20127045820af06a3e3291714e4f356c19c",
    "9b15cd1951ec6e6662aa77be07547f289383341da05840f0c6a782483ac5ec662d788c1ca373b6e0",
    "2644353c01db9f9b7a30e089bc40041c4f3aa91aacc0f4a70194fb0c8c740dfd12f0d2c6614f578f",
    "12248773c12f0a",
);
// ---- GOLDEN_CHARTER, annotated: the hex column, joined, is the constant ----
// d862                                               tag(98): COSE_Sign
//   84                                               array(4)
//     5829                                           body protected header: bytes(41), holding:
//       a1                                           map(1)
//         03                                         label 3 (content type)
//           7825                                     text(37) "application/vnd.datapact.charter+cbor"
//             6170706c69636174696f6e2f766e642e
//             64617461706163742e63686172746572
//             2b63626f72
//     a0                                             unprotected header: map(0)
//     590160                                         payload: bytes(352), holding:
//       a7                                           map(7), no "previous" in version 1
//         6176                                       key "v"
//           01                                       1
//         6a66656465726174696f6e                     key "federation"
//           6c62616c692d70726f63657373               text(12) "bali-process"
//         6776657273696f6e                           key "version"
//           01                                       1
//         697468726573686f6c64                       key "threshold"
//           02                                       2  k: 2 of the 3 members sign a change
//         676d656d62657273                           key "members"
//           83                                       array(3)  sorted by code
//             a3                                     map(3)
//               64636f6465                           key "code"
//                 63415553                           text(3) "AUS"
//               6a7075626c69635f6b6579               key "public_key"
//                 5820                               bytes(32)  AUS's ed25519 public key
//                   a7f6dfaf8f38b89ba8ce649b594f91e4
//                   d01fdc57f9c9493df43b5e50a9987367
//               656164647273                         key "addrs"
//                 81                                 array(1)
//                   781b                             text(27) "/ip4/198.51.100.30/tcp/7470"
//                     2f6970342f3139382e35312e3130302e
//                     33302f7463702f37343730
//             a3                                     map(3)
//               64636f6465                           key "code"
//                 634d4d52                           text(3) "MMR"
//               6a7075626c69635f6b6579               key "public_key"
//                 5820                               bytes(32)  MMR's ed25519 public key
//                   2df04125f0015afb47ce853aef877209
//                   4ff9498c14cb1b9e12973c2927da0fa6
//               656164647273                         key "addrs"
//                 81                                 array(1)
//                   781a                             text(26) "/ip4/203.0.113.20/tcp/7470"
//                     2f6970342f3230332e302e3131332e32
//                     302f7463702f37343730
//             a3                                     map(3)
//               64636f6465                           key "code"
//                 63544841                           text(3) "THA"
//               6a7075626c69635f6b6579               key "public_key"
//                 5820                               bytes(32)  THA's ed25519 public key
//                   af06a3e3291714e4f356c19c9b15cd19
//                   51ec6e6662aa77be07547f289383341d
//               656164647273                         key "addrs"
//                 81                                 array(1)
//                   781a                             text(26) "/ip4/203.0.113.10/tcp/7470"
//                     2f6970342f3230332e302e3131332e31
//                     302f7463702f37343730
//         6772657469726564                           key "retired"
//           80                                       array(0)  nothing retired in version 1
//         696973737565645f6174                       key "issued_at"
//           1a6afd86c0                               1795000000  2026-11-18T11:06:40Z
//     83                                             signatures: array(3), ascending by key id
//       83                                           array(3)  MMR's COSE_Signature
//         5826                                       signature's protected header: bytes(38):
//           a2                                       map(2)
//             01                                     label 1 (alg)
//               27                                   -8  (EdDSA)
//             04                                     label 4 (kid)
//               5820                                 bytes(32)  MMR's public key
//                 2df04125f0015afb47ce853aef877209
//                 4ff9498c14cb1b9e12973c2927da0fa6
//         a0                                         unprotected header: map(0)
//         5840                                       signature: bytes(64), ed25519
//           a6217f51fdab001910924900f533ec6d
//           9dfd85493cfcf5537efa219bd61a8e94
//           250d3f2a4f81f040da6e7b3857de9894
//           836592105ad5500888307884f482b506
//       83                                           array(3)  AUS's COSE_Signature
//         5826                                       signature's protected header: bytes(38):
//           a2                                       map(2)
//             01                                     label 1 (alg)
//               27                                   -8  (EdDSA)
//             04                                     label 4 (kid)
//               5820                                 bytes(32)  AUS's public key
//                 a7f6dfaf8f38b89ba8ce649b594f91e4
//                 d01fdc57f9c9493df43b5e50a9987367
//         a0                                         unprotected header: map(0)
//         5840                                       signature: bytes(64), ed25519
//           026c5103d50ead8962f88381a4eae7d8
//           0d586862559077d2db1cd27de10e3f80
//           8f9adc7cbaf57184362bd4c8572f8090
//           ff6b4c71e992e23bd0eeb5f6beec3702
//       83                                           array(3)  THA's COSE_Signature
//         5826                                       signature's protected header: bytes(38):
//           a2                                       map(2)
//             01                                     label 1 (alg)
//               27                                   -8  (EdDSA)
//             04                                     label 4 (kid)
//               5820                                 bytes(32)  THA's public key
//                 af06a3e3291714e4f356c19c9b15cd19
//                 51ec6e6662aa77be07547f289383341d
//         a0                                         unprotected header: map(0)
//         5840                                       signature: bytes(64), ed25519
//           f0c6a782483ac5ec662d788c1ca373b6
//           e02644353c01db9f9b7a30e089bc4004
//           1c4f3aa91aacc0f4a70194fb0c8c740d
//           fd12f0d2c6614f578f12248773c12f0a
// ---- end ----

fn founder(i: usize) -> Identity {
    Identity::from_seed(&[FOUNDERS[i].1; 32])
}

fn founders() -> Vec<Identity> {
    (0..FOUNDERS.len()).map(founder).collect()
}

/// The founding charter: federation "bali-process", threshold 2, members sorted by code.
fn founding_charter() -> Charter {
    let members = FOUNDERS
        .iter()
        .enumerate()
        .map(|(i, (c, _, addr))| CharterMember {
            code: code(c),
            public_key: founder(i).public_key(),
            addrs: vec![(*addr).to_owned()],
        })
        .collect();
    Charter::genesis("bali-process", 2, members, ISSUED_AT).unwrap()
}

fn golden() -> Vec<u8> {
    hex::decode(GOLDEN_CHARTER).unwrap()
}

/// `founding_charter` signed by `signers` in the order given.
fn signed_in_order(signers: &[Identity]) -> SignedCharter {
    let mut signed = SignedCharter::unsigned(&founding_charter()).unwrap();
    for s in signers {
        assert!(signed.sign(s).unwrap());
    }
    signed
}

/// The hex column of the annotated breakdown of `name` in this file, joined.
fn annotated_hex(name: &str) -> String {
    annotated::annotated_hex(include_str!("golden_charter.rs"), name)
}

#[test]
fn charter_matches_golden_bytes() {
    let signed = signed_in_order(&founders());
    assert_eq!(hex::encode(signed.bytes()), GOLDEN_CHARTER);
}

#[test]
fn annotations_spell_out_the_golden_bytes() {
    assert_eq!(annotated_hex("GOLDEN_CHARTER"), GOLDEN_CHARTER);
}

#[test]
fn golden_bytes_decode_to_the_founding_charter() {
    let signed = SignedCharter::decode(&golden()).unwrap();
    assert_eq!(signed.charter(), &founding_charter());
    assert_eq!(signed.bytes(), golden().as_slice());
    assert_eq!(signed.id().to_string(), GOLDEN_ID);
    assert_eq!(signed.id(), CharterId(Digest::of(signed.payload())));
    assert_eq!(CharterId::from_hex(GOLDEN_ID), Ok(signed.id()));
    for (i, key_hex) in PUBLIC_KEYS_HEX.iter().enumerate() {
        assert_eq!(founder(i).public_key().to_string(), *key_hex);
        assert!(signed.is_signed_by(&founder(i).public_key()));
    }
    // Key ids ascending: MMR (2d...), AUS (a7...), THA (af...).
    let signers: Vec<String> = signed.signers().map(ToString::to_string).collect();
    assert_eq!(
        signers,
        [PUBLIC_KEYS_HEX[1], PUBLIC_KEYS_HEX[2], PUBLIC_KEYS_HEX[0]]
    );
    let verified = verify_genesis(signed).unwrap();
    assert_eq!(verified.charter().threshold, 2);
    assert_eq!(verified.charter().previous, None);
}

#[test]
fn signatures_in_any_order_give_the_same_bytes_and_never_touch_the_payload() {
    let ids = founders();
    let unsigned = SignedCharter::unsigned(&founding_charter()).unwrap();
    for order in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        let signers: Vec<Identity> = order.iter().map(|&i| ids[i].clone()).collect();
        let mut signed = signed_in_order(&signers);
        assert_eq!(
            hex::encode(signed.bytes()),
            GOLDEN_CHARTER,
            "order {order:?}"
        );
        assert_eq!(signed.payload(), unsigned.payload());
        assert_eq!(signed.id(), unsigned.id());
        // Signing again with a key that already signed changes nothing.
        assert!(!signed.sign(&ids[order[0]]).unwrap());
        assert_eq!(hex::encode(signed.bytes()), GOLDEN_CHARTER);
    }
    // Three copies, each signed by one founder on its own node, merged in any order.
    let copies: Vec<SignedCharter> = ids
        .iter()
        .map(|id| signed_in_order(std::slice::from_ref(id)))
        .collect();
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
        let mut merged = copies[order[0]].clone();
        assert_eq!(merged.merge(&copies[order[1]]).unwrap(), 1);
        assert_eq!(merged.merge(&copies[order[2]]).unwrap(), 1);
        assert_eq!(merged.merge(&copies[order[2]]).unwrap(), 0);
        assert_eq!(hex::encode(merged.bytes()), GOLDEN_CHARTER);
    }
    // Signatures of another payload do not merge.
    let mut other = founding_charter();
    other.issued_at += 1;
    let other = SignedCharter::unsigned(&other).unwrap();
    let mut merged = copies[0].clone();
    assert_eq!(merged.merge(&other), Err(CharterError::DifferentPayload));
    assert_eq!(merged, copies[0]);
}

#[test]
fn the_unsigned_draft_decodes_and_is_not_a_valid_version_1() {
    let unsigned = SignedCharter::unsigned(&founding_charter()).unwrap();
    let decoded = SignedCharter::decode(unsigned.bytes()).unwrap();
    assert_eq!(decoded, unsigned);
    assert_eq!(decoded.signers().count(), 0);
    assert_eq!(
        verify_genesis(decoded),
        Err(CharterError::UnsignedFounder(code("AUS")))
    );
    let two = signed_in_order(&[founder(0), founder(2)]);
    assert_eq!(
        verify_genesis(two),
        Err(CharterError::UnsignedFounder(code("MMR")))
    );
}

/// Verifies signature `i` of a COSE_Sign with `coset` and `ed25519-dalek` alone, given only
/// the signer's 32-byte public key: the snippet documented in `protocol/src/lib.rs`, in which no
/// datapact code takes part.
fn verify_with_coset(
    message: &[u8],
    i: usize,
    signer_public_key: [u8; 32],
) -> Result<coset::CoseSign, Box<dyn Error>> {
    // Verbatim from lib.rs, reading `message` instead of a file.
    use coset::{CoseSign, TaggedCborSerializable};
    let sign = CoseSign::from_tagged_slice(message)?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&signer_public_key)?;
    sign.verify_signature(i, b"", |sig, data| {
        key.verify_strict(data, &ed25519_dalek::Signature::from_slice(sig)?)
    })?;
    Ok(sign)
}

#[test]
fn independent_cose_library_verifies_each_signature() {
    let signed = SignedCharter::decode(&golden()).unwrap();
    let keys: Vec<[u8; 32]> = signed.signers().map(|k| k.to_bytes()).collect();
    for (which, key) in keys.iter().enumerate() {
        let sign = verify_with_coset(&golden(), which, *key).unwrap();
        assert_eq!(
            sign.protected.header.content_type,
            Some(coset::ContentType::Text(CHARTER_CONTENT_TYPE.into()))
        );
        assert!(sign.unprotected.is_empty());
        assert_eq!(sign.payload.as_deref(), Some(signed.payload()));
        assert_eq!(sign.signatures.len(), 3);
        let signature = &sign.signatures[which];
        assert_eq!(
            signature.protected.header.alg,
            Some(coset::Algorithm::Assigned(coset::iana::Algorithm::EdDSA))
        );
        assert_eq!(signature.protected.header.key_id, key.to_vec());
        assert!(signature.unprotected.is_empty());
        assert_eq!(signature.signature.len(), 64);
        // The same signature does not verify under another founder's key.
        let other = keys[(which + 1) % keys.len()];
        assert!(verify_with_coset(&golden(), which, other).is_err());
    }
    // A changed payload fails every signature.
    let mut tampered = golden();
    let at = hex::encode(&tampered).find("6afd86c0").unwrap() / 2; // issued_at
    tampered[at] ^= 1;
    for (which, key) in keys.iter().enumerate() {
        assert!(verify_with_coset(&tampered, which, *key).is_err());
    }
}

#[test]
fn every_single_bit_flip_is_refused() {
    let golden = golden();
    for bit in 0..golden.len() * 8 {
        let mut bytes = golden.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        assert!(
            SignedCharter::decode(&bytes).is_err(),
            "the charter decoder accepted a flip of bit {bit}"
        );
    }
}

#[test]
fn a_charter_never_passes_as_another_statement_nor_the_reverse() {
    assert!(matches!(
        SignedAnnouncement::decode(&golden()),
        Err(StatementError::Cose(_))
    ));
    // A COSE_Sign1 (tag 18), even over the charter payload and content type, is not a charter.
    let signed = SignedCharter::decode(&golden()).unwrap();
    let sign1 = cose::sign(&founder(0), CHARTER_CONTENT_TYPE, signed.payload());
    assert!(matches!(
        SignedCharter::decode(&sign1),
        Err(CharterError::Cbor(_))
    ));
    // The charter's payload signed as a COSE_Sign under the announcement content type.
    let mut body = raw::decode(&raw::body_protected());
    if let Value::Map(entries) = &mut body {
        entries[0].1 = Value::Text(ANNOUNCEMENT_CONTENT_TYPE.into());
    }
    let body = raw::encode(&body);
    let id = founder(0);
    let entry = raw::signature(&body, raw::sign_protected(&id), signed.payload(), &id);
    let bytes = raw::message(body, signed.payload().to_vec(), vec![entry]);
    assert_eq!(
        SignedCharter::decode(&bytes),
        Err(CharterError::ContentType {
            found: ANNOUNCEMENT_CONTENT_TYPE.into(),
            expected: CHARTER_CONTENT_TYPE,
        })
    );
}
