//! Golden byte vectors of a signed announcement and a signed revocation (docs/PROTOCOL.md section 3),
//! so the wire encoding cannot drift, plus the decoder's refusals, a check with an independent
//! COSE library, and the gossip form: exactly these bytes, nothing around them (section 6).
//!
//! ed25519 signatures are deterministic, so signing the same statement with the same key gives
//! the same bytes on every run and every machine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod annotated;

use std::error::Error;

use ciborium::value::Value;
use datapact_protocol::announcement::{
    ANNOUNCEMENT_CONTENT_TYPE, MAX_SIGNED_LEN, RECEIPT_CONTENT_TYPE, REVOCATION_CONTENT_TYPE,
};
use datapact_protocol::cose::{self, CoseError};
use datapact_protocol::wire::{self, SignedStatement, WireError};
use datapact_protocol::{
    Announcement, Audience, CborError, ContentHasher, DatasetName, Digest, Identity, MemberCode,
    Meta, Policy, Revocation, Signed, SignedAnnouncement, SignedRevocation, StatementError,
};

/// The dataset content: a small SDMX-CSV 2.0 file.
const CONTENT: &[u8] = b"STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE\n\
dataflow,IOM:DF_TIP(1.0),I,THA,F,2017,312\n\
dataflow,IOM:DF_TIP(1.0),I,THA,M,2017,143\n";

/// What `sha256sum` prints for [`CONTENT`] written to a file (149 bytes).
const CONTENT_SHA256SUM: &str = "01cfe9d9c1e33172e25f01321b878198f78ac2a27b2c08f911eb231c766147fc";

/// The owner's key seed. Its public key is
/// 2152f8d19b791d24453242e15f2eab6cb7cffa7b6a5ed30097960e069881db12.
const SEED: [u8; 32] = [0x42; 32];
const PUBLIC_KEY_HEX: &str = "2152f8d19b791d24453242e15f2eab6cb7cffa7b6a5ed30097960e069881db12";

const GOLDEN_ANNOUNCEMENT: &str = concat!(
    "d2845853a3012703782a6170706c69636174696f6e2f766e642e64617461706163742e616e6e6f75",
    "6e63656d656e742b63626f720458202152f8d19b791d24453242e15f2eab6cb7cffa7b6a5ed30097",
    "960e069881db12a05901f4ac617601656f776e657263544841646e616d6573747261666669636b69",
    "6e672d76696374696d736776657273696f6e0266736861323536582001cfe9d9c1e33172e25f0132",
    "1b878198f78ac2a27b2c08f911eb231c766147fc6473697a6518956966696c655f6e616d65782074",
    "7261666669636b696e675f76696374696d735f7468615f323031372e6373766a6368756e6b5f7369",
    "7a651a001000006a6368756e6b5f726f6f7458200b345c7fed2f7f24c86a53364b577e318b69873a",
    "bd0966739244059751a235dc66706f6c696379a56861756469656e6365646f6e6c79676d656d6265",
    "727382634b484d634d4d526d656d626172676f5f756e74696c1a6b36ec8067707572706f73657818",
    "56696374696d2072657475726e20617373697374616e6365676c6963656e63656943432d42592d34",
    "2e30646d657461a4657469746c6578314964656e7469666965642076696374696d73206f66207472",
    "61666669636b696e672c20546861696c616e642c20323031376e73646d785f737472756374757265",
    "6f494f4d3a44465f54495028312e302964726f77730267636f6c756d6e7387695354525543545552",
    "456c5354525543545552455f494466414354494f4e685245465f41524541635345586b54494d455f",
    "504552494f44694f42535f56414c5545696973737565645f61741a6afd86c0584066cf861658cea4",
    "be35a3f4fb4c52a45bb8260fbb1cb49947ccab0558f8bb78f4ccbfb150ed00d5b3dc03562f12a51f",
    "eea66a21255ffc9139c68d25ef94bb900c",
);
// ---- GOLDEN_ANNOUNCEMENT, annotated: the hex column, joined, is the constant ----
// d2                                                 tag(18): COSE_Sign1
//   84                                               array(4)
//     5853                                           protected header: bytes(83), holding:
//       a3                                           map(3)
//         01                                         label 1 (alg)
//           27                                       -8  (EdDSA)
//         03                                         label 3 (content type)
//           782a                                     text(42) "application/vnd.datapact.announcement+cbor"
//             6170706c69636174696f6e2f766e642e
//             64617461706163742e616e6e6f756e63
//             656d656e742b63626f72
//         04                                         label 4 (kid)
//           5820                                     bytes(32)  signer's ed25519 public key
//             2152f8d19b791d24453242e15f2eab6c
//             b7cffa7b6a5ed30097960e069881db12
//     a0                                             unprotected header: map(0)
//     5901f4                                         payload: bytes(500), holding:
//       ac                                           map(12)
//         6176                                       key "v"
//           01                                       1
//         656f776e6572                               key "owner"
//           63544841                                 text(3) "THA"
//         646e616d65                                 key "name"
//           73                                       text(19) "trafficking-victims"
//             747261666669636b696e672d76696374
//             696d73
//         6776657273696f6e                           key "version"
//           02                                       2
//         66736861323536                             key "sha256"
//           5820                                     bytes(32)  SHA-256 of the whole content (sha256sum)
//             01cfe9d9c1e33172e25f01321b878198
//             f78ac2a27b2c08f911eb231c766147fc
//         6473697a65                                 key "size"
//           1895                                     149
//         6966696c655f6e616d65                       key "file_name"
//           7820                                     text(32) "trafficking_victims_tha_2017.csv"
//             747261666669636b696e675f76696374
//             696d735f7468615f323031372e637376
//         6a6368756e6b5f73697a65                     key "chunk_size"
//           1a00100000                               1048576  1 MiB
//         6a6368756e6b5f726f6f74                     key "chunk_root"
//           5820                                     bytes(32)  SHA-256 over the chunk digests
//             0b345c7fed2f7f24c86a53364b577e31
//             8b69873abd0966739244059751a235dc
//         66706f6c696379                             key "policy"
//           a5                                       map(5)
//             6861756469656e6365                     key "audience"
//               646f6e6c79                           text(4) "only"
//             676d656d62657273                       key "members"
//               82                                   array(2)
//                 634b484d                           text(3) "KHM"
//                 634d4d52                           text(3) "MMR"
//             6d656d626172676f5f756e74696c           key "embargo_until"
//               1a6b36ec80                           1798761600  2027-01-01T00:00:00Z
//             67707572706f7365                       key "purpose"
//               7818                                 text(24) "Victim return assistance"
//                 56696374696d2072657475726e206173
//                 73697374616e6365
//             676c6963656e6365                       key "licence"
//               6943432d42592d342e30                 text(9) "CC-BY-4.0"
//         646d657461                                 key "meta"
//           a4                                       map(4)
//             657469746c65                           key "title"
//               7831                                 text(49) "Identified victims of trafficking, Thailand, 2017"
//                 4964656e746966696564207669637469
//                 6d73206f6620747261666669636b696e
//                 672c20546861696c616e642c20323031
//                 37
//             6e73646d785f737472756374757265         key "sdmx_structure"
//               6f494f4d3a44465f54495028312e3029     text(15) "IOM:DF_TIP(1.0)"
//             64726f7773                             key "rows"
//               02                                   2
//             67636f6c756d6e73                       key "columns"
//               87                                   array(7)
//                 69535452554354555245               text(9) "STRUCTURE"
//                 6c5354525543545552455f4944         text(12) "STRUCTURE_ID"
//                 66414354494f4e                     text(6) "ACTION"
//                 685245465f41524541                 text(8) "REF_AREA"
//                 63534558                           text(3) "SEX"
//                 6b54494d455f504552494f44           text(11) "TIME_PERIOD"
//                 694f42535f56414c5545               text(9) "OBS_VALUE"
//         696973737565645f6174                       key "issued_at"
//           1a6afd86c0                               1795000000  2026-11-18T11:06:40Z
//     5840                                           signature: bytes(64)  ed25519 over the Sig_structure
//       66cf861658cea4be35a3f4fb4c52a45b
//       b8260fbb1cb49947ccab0558f8bb78f4
//       ccbfb150ed00d5b3dc03562f12a51fee
//       a66a21255ffc9139c68d25ef94bb900c
// ---- end ----

const GOLDEN_REVOCATION: &str = concat!(
    "d2845851a301270378286170706c69636174696f6e2f766e642e64617461706163742e7265766f63",
    "6174696f6e2b63626f720458202152f8d19b791d24453242e15f2eab6cb7cffa7b6a5ed30097960e",
    "069881db12a05867a6617601656f776e657263544841646e616d6573747261666669636b696e672d",
    "76696374696d736776657273696f6e0266726561736f6e781f537570657273656465642062792061",
    "20636f7272656374656420636f756e74696973737565645f61741a6aff0d60584043495a01fcf739",
    "0549f025920a8ce6ebc4edc276edede3417d075787c9f025e732e15b591f6da9c55d217030b83646",
    "e1f2cae04721c1e6c7928dbf713598e00e",
);
// ---- GOLDEN_REVOCATION, annotated: the hex column, joined, is the constant ----
// d2                                                 tag(18): COSE_Sign1
//   84                                               array(4)
//     5851                                           protected header: bytes(81), holding:
//       a3                                           map(3)
//         01                                         label 1 (alg)
//           27                                       -8  (EdDSA)
//         03                                         label 3 (content type)
//           7828                                     text(40) "application/vnd.datapact.revocation+cbor"
//             6170706c69636174696f6e2f766e642e
//             64617461706163742e7265766f636174
//             696f6e2b63626f72
//         04                                         label 4 (kid)
//           5820                                     bytes(32)  signer's ed25519 public key
//             2152f8d19b791d24453242e15f2eab6c
//             b7cffa7b6a5ed30097960e069881db12
//     a0                                             unprotected header: map(0)
//     5867                                           payload: bytes(103), holding:
//       a6                                           map(6)
//         6176                                       key "v"
//           01                                       1
//         656f776e6572                               key "owner"
//           63544841                                 text(3) "THA"
//         646e616d65                                 key "name"
//           73                                       text(19) "trafficking-victims"
//             747261666669636b696e672d76696374
//             696d73
//         6776657273696f6e                           key "version"
//           02                                       2
//         66726561736f6e                             key "reason"
//           781f                                     text(31) "Superseded by a corrected count"
//             53757065727365646564206279206120
//             636f7272656374656420636f756e74
//         696973737565645f6174                       key "issued_at"
//           1a6aff0d60                               1795100000  2026-11-19T14:53:20Z
//     5840                                           signature: bytes(64)  ed25519 over the Sig_structure
//       43495a01fcf7390549f025920a8ce6eb
//       c4edc276edede3417d075787c9f025e7
//       32e15b591f6da9c55d217030b83646e1
//       f2cae04721c1e6c7928dbf713598e00e
// ---- end ----

fn code(s: &str) -> MemberCode {
    MemberCode::new(s).unwrap()
}

fn owner() -> Identity {
    Identity::from_seed(&SEED)
}

fn announcement() -> Announcement {
    let mut hasher = ContentHasher::new();
    hasher.update(CONTENT);
    let digest = hasher.finish();
    Announcement {
        owner: code("THA"),
        name: DatasetName::new("trafficking-victims").unwrap(),
        version: 2,
        sha256: digest.sha256,
        size: digest.size,
        file_name: "trafficking_victims_tha_2017.csv".into(),
        chunk_root: digest.chunk_root(),
        policy: Policy {
            audience: Audience::only([code("MMR"), code("KHM")]).unwrap(),
            embargo_until: Some(1_798_761_600),
            expires_at: None,
            purpose: Some("Victim return assistance".into()),
            licence: Some("CC-BY-4.0".into()),
        },
        meta: Meta {
            title: "Identified victims of trafficking, Thailand, 2017".into(),
            sdmx_structure: Some("IOM:DF_TIP(1.0)".into()),
            rows: Some(2),
            columns: [
                "STRUCTURE",
                "STRUCTURE_ID",
                "ACTION",
                "REF_AREA",
                "SEX",
                "TIME_PERIOD",
                "OBS_VALUE",
            ]
            .map(String::from)
            .to_vec(),
            ..Meta::default()
        },
        issued_at: 1_795_000_000,
    }
}

fn revocation() -> Revocation {
    Revocation {
        owner: code("THA"),
        name: DatasetName::new("trafficking-victims").unwrap(),
        version: 2,
        reason: Some("Superseded by a corrected count".into()),
        issued_at: 1_795_100_000,
    }
}

fn golden_announcement() -> Vec<u8> {
    hex::decode(GOLDEN_ANNOUNCEMENT).unwrap()
}

fn golden_revocation() -> Vec<u8> {
    hex::decode(GOLDEN_REVOCATION).unwrap()
}

/// The hex column of the annotated breakdown of `name` in this file, joined.
fn annotated_hex(name: &str) -> String {
    annotated::annotated_hex(include_str!("golden.rs"), name)
}

/// The parts of a tagged COSE_Sign1, taken apart with ciborium alone.
fn cose_parts(bytes: &[u8]) -> Vec<Value> {
    let value: Value = ciborium::from_reader(bytes).unwrap();
    let Value::Tag(18, inner) = value else {
        panic!("not tag 18")
    };
    let Value::Array(parts) = *inner else {
        panic!("not an array")
    };
    parts
}

/// The payload of a COSE_Sign1 as a CBOR map (text key, value).
fn payload_entries(bytes: &[u8]) -> Vec<(Value, Value)> {
    let Value::Bytes(payload) = cose_parts(bytes).swap_remove(2) else {
        panic!("payload is not a byte string")
    };
    let Value::Map(entries) = ciborium::from_reader(payload.as_slice()).unwrap() else {
        panic!("payload is not a map")
    };
    entries
}

fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

fn set_key(entries: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    match entries
        .iter_mut()
        .find(|(k, _)| *k == Value::Text(key.into()))
    {
        Some((_, v)) => *v = value,
        None => entries.push((Value::Text(key.into()), value)),
    }
}

#[test]
fn announcement_matches_golden_bytes() {
    let signed = Signed::sign(announcement(), &owner()).unwrap();
    assert_eq!(hex::encode(signed.bytes()), GOLDEN_ANNOUNCEMENT);
}

#[test]
fn revocation_matches_golden_bytes() {
    let signed = Signed::sign(revocation(), &owner()).unwrap();
    assert_eq!(hex::encode(signed.bytes()), GOLDEN_REVOCATION);
}

#[test]
fn annotations_spell_out_the_golden_bytes() {
    assert_eq!(annotated_hex("GOLDEN_ANNOUNCEMENT"), GOLDEN_ANNOUNCEMENT);
    assert_eq!(annotated_hex("GOLDEN_REVOCATION"), GOLDEN_REVOCATION);
}

#[test]
fn golden_bytes_decode_to_the_fixed_statements() {
    let key = owner().public_key();
    assert_eq!(key.to_string(), PUBLIC_KEY_HEX);

    let a = SignedAnnouncement::decode(&golden_announcement()).unwrap();
    assert_eq!(a.body(), &announcement());
    assert_eq!(a.signer(), &key);
    assert_eq!(a.bytes(), golden_announcement().as_slice());
    assert_eq!(a.body().id().to_string(), "THA/trafficking-victims@2");
    assert_eq!(a.body().chunk_count(), 1);

    let r = SignedRevocation::decode(&golden_revocation()).unwrap();
    assert_eq!(r.body(), &revocation());
    assert_eq!(r.signer(), &key);
    assert_eq!(r.body().id(), a.body().id());
}

#[test]
fn sign_decode_round_trip_and_signer_check() {
    let id = owner();
    let other = Identity::from_seed(&[0x43; 32]);

    let signed = Signed::sign(announcement(), &id).unwrap();
    let decoded = SignedAnnouncement::decode(signed.bytes()).unwrap();
    assert_eq!(decoded, signed);
    assert_eq!(decoded.body(), &announcement());
    assert_eq!(decoded.signer(), &id.public_key());
    assert_eq!(decoded.check_signer(&id.public_key()), Ok(()));
    assert_eq!(
        decoded.check_signer(&other.public_key()),
        Err(StatementError::NotOwnerKey { owner: code("THA") })
    );

    // Signed by another key: it verifies (against its own kid) but is not THA's.
    let forged =
        SignedAnnouncement::decode(Signed::sign(announcement(), &other).unwrap().bytes()).unwrap();
    assert_eq!(forged.signer(), &other.public_key());
    assert_eq!(
        forged.check_signer(&id.public_key()),
        Err(StatementError::NotOwnerKey { owner: code("THA") })
    );

    let signed = Signed::sign(revocation(), &id).unwrap();
    let decoded = SignedRevocation::decode(signed.bytes()).unwrap();
    assert_eq!(decoded, signed);
    assert_eq!(decoded.check_signer(&id.public_key()), Ok(()));
    assert_eq!(
        decoded.check_signer(&other.public_key()),
        Err(StatementError::NotOwnerKey { owner: code("THA") })
    );
}

#[test]
fn every_single_bit_flip_is_refused() {
    for golden in [golden_announcement(), golden_revocation()] {
        for bit in 0..golden.len() * 8 {
            let mut bytes = golden.clone();
            bytes[bit / 8] ^= 1 << (bit % 8);
            assert!(
                SignedAnnouncement::decode(&bytes).is_err(),
                "announcement decoder accepted a flip of bit {bit}"
            );
            assert!(
                SignedRevocation::decode(&bytes).is_err(),
                "revocation decoder accepted a flip of bit {bit}"
            );
        }
    }
}

#[test]
fn a_revocation_never_passes_as_an_announcement_nor_the_reverse() {
    assert_eq!(
        SignedAnnouncement::decode(&golden_revocation()),
        Err(StatementError::Cose(CoseError::ContentType {
            found: REVOCATION_CONTENT_TYPE.into(),
            expected: ANNOUNCEMENT_CONTENT_TYPE,
        }))
    );
    assert_eq!(
        SignedRevocation::decode(&golden_announcement()),
        Err(StatementError::Cose(CoseError::ContentType {
            found: ANNOUNCEMENT_CONTENT_TYPE.into(),
            expected: REVOCATION_CONTENT_TYPE,
        }))
    );
    // Even a revocation-shaped payload signed under the announcement content type is judged
    // as an announcement, and fails as one.
    let payload = encode(&Value::Map(payload_entries(&golden_revocation())));
    let bytes = cose::sign(&owner(), ANNOUNCEMENT_CONTENT_TYPE, &payload);
    assert!(matches!(
        SignedAnnouncement::decode(&bytes),
        Err(StatementError::Payload(CborError::Shape(_)))
    ));
    assert!(SignedRevocation::decode(&bytes).is_err());
}

#[test]
fn hand_built_payloads_follow_the_version_rule() {
    let id = owner();
    let entries = payload_entries(&golden_announcement());

    // Re-encoded as is and signed by hand, the payload gives back the golden bytes exactly.
    let same = cose::sign(
        &id,
        ANNOUNCEMENT_CONTENT_TYPE,
        &encode(&Value::Map(entries.clone())),
    );
    assert_eq!(hex::encode(&same), GOLDEN_ANNOUNCEMENT);
    assert!(SignedAnnouncement::decode(&same).is_ok());

    for v in [0u64, 2, 1000] {
        let mut changed = entries.clone();
        set_key(&mut changed, "v", Value::Integer(v.into()));
        let bytes = cose::sign(
            &id,
            ANNOUNCEMENT_CONTENT_TYPE,
            &encode(&Value::Map(changed)),
        );
        assert_eq!(
            SignedAnnouncement::decode(&bytes),
            Err(StatementError::Version(v))
        );
    }

    let mut entries = payload_entries(&golden_revocation());
    set_key(&mut entries, "v", Value::Integer(2.into()));
    let bytes = cose::sign(&id, REVOCATION_CONTENT_TYPE, &encode(&Value::Map(entries)));
    assert_eq!(
        SignedRevocation::decode(&bytes),
        Err(StatementError::Version(2))
    );
}

#[test]
fn trailing_bytes_are_refused() {
    let golden = golden_announcement();
    for tail in [&[0x00][..], &[0xa0], &[0xff], &golden] {
        let mut bytes = golden.clone();
        bytes.extend_from_slice(tail);
        assert_eq!(
            SignedAnnouncement::decode(&bytes),
            Err(StatementError::Cose(CoseError::Cbor(
                CborError::TrailingBytes
            ))),
            "tail {tail:02x?}"
        );
    }
    let mut bytes = golden_revocation();
    bytes.push(0);
    assert_eq!(
        SignedRevocation::decode(&bytes),
        Err(StatementError::Cose(CoseError::Cbor(
            CborError::TrailingBytes
        )))
    );
}

#[test]
fn oversize_input_is_refused_at_the_cap() {
    let id = owner();
    // A valid announcement padded with an unknown payload key (decoders ignore those) to
    // exactly MAX_SIGNED_LEN bytes is accepted; one byte more is refused.
    let padded = |len: usize| {
        let mut entries = payload_entries(&golden_announcement());
        set_key(&mut entries, "padding", Value::Text("x".repeat(len)));
        cose::sign(
            &id,
            ANNOUNCEMENT_CONTENT_TYPE,
            &encode(&Value::Map(entries)),
        )
    };
    let mut len = MAX_SIGNED_LEN - GOLDEN_ANNOUNCEMENT.len() / 2 - 20;
    len += MAX_SIGNED_LEN - padded(len).len();
    let at_cap = padded(len);
    assert_eq!(at_cap.len(), MAX_SIGNED_LEN);
    assert_eq!(
        SignedAnnouncement::decode(&at_cap).unwrap().body(),
        &announcement()
    );
    let over = padded(len + 1);
    assert_eq!(over.len(), MAX_SIGNED_LEN + 1);
    assert_eq!(
        SignedAnnouncement::decode(&over),
        Err(StatementError::Cose(CoseError::Cbor(CborError::TooLarge {
            len: MAX_SIGNED_LEN + 1,
            cap: MAX_SIGNED_LEN,
        })))
    );
    assert!(SignedRevocation::decode(&vec![0u8; MAX_SIGNED_LEN + 1]).is_err());

    // The signer refuses to produce one either: 256 columns of 1000 bytes are each within
    // their field limits, but not together.
    let mut big = announcement();
    big.meta.columns = (0..256).map(|i| format!("{i:0>1000}")).collect();
    assert!(matches!(
        Signed::sign(big, &id),
        Err(StatementError::TooLarge(n)) if n > MAX_SIGNED_LEN
    ));
}

/// The snippet documented in `protocol/src/lib.rs`, run on the golden announcement with only
/// the owner's 32-byte public key: no datapact code takes part in the verification.
fn verify_with_coset(
    cose: &[u8],
    owner_public_key: [u8; 32],
) -> Result<coset::CoseSign1, Box<dyn Error>> {
    // Verbatim from lib.rs.
    use coset::{CoseSign1, TaggedCborSerializable};
    let sign1 = CoseSign1::from_tagged_slice(cose)?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&owner_public_key)?;
    sign1.verify_signature(b"", |sig, data| {
        key.verify_strict(data, &ed25519_dalek::Signature::from_slice(sig)?)
    })?;
    Ok(sign1)
}

#[test]
fn independent_cose_library_verifies() {
    let public_key: [u8; 32] = hex::decode(PUBLIC_KEY_HEX).unwrap().try_into().unwrap();

    let sign1 = verify_with_coset(&golden_announcement(), public_key).unwrap();
    let protected = &sign1.protected.header;
    assert_eq!(
        protected.alg,
        Some(coset::Algorithm::Assigned(coset::iana::Algorithm::EdDSA))
    );
    assert_eq!(
        protected.content_type,
        Some(coset::ContentType::Text(ANNOUNCEMENT_CONTENT_TYPE.into()))
    );
    assert_eq!(protected.key_id, public_key.to_vec());
    assert!(sign1.unprotected.is_empty());
    let Value::Bytes(payload) = cose_parts(&golden_announcement()).swap_remove(2) else {
        panic!("payload is not a byte string")
    };
    assert_eq!(sign1.payload, Some(payload));
    assert_eq!(sign1.signature.len(), 64);

    let sign1 = verify_with_coset(&golden_revocation(), public_key).unwrap();
    assert_eq!(
        sign1.protected.header.content_type,
        Some(coset::ContentType::Text(REVOCATION_CONTENT_TYPE.into()))
    );

    // The same check fails with another key, and with a changed payload.
    let other = Identity::from_seed(&[0x43; 32]).public_key().to_bytes();
    assert!(verify_with_coset(&golden_announcement(), other).is_err());
    let mut tampered = golden_announcement();
    let at = tampered.len() - 70; // inside the payload (the issued_at value)
    tampered[at] ^= 1;
    assert!(verify_with_coset(&tampered, public_key).is_err());
}

#[test]
fn payload_sha256_is_what_sha256sum_prints() {
    let a = SignedAnnouncement::decode(&golden_announcement()).unwrap();
    let body = a.body();
    assert_eq!(body.sha256.to_string(), CONTENT_SHA256SUM);
    assert_eq!(body.sha256, Digest::of(CONTENT));
    assert_eq!(body.size, CONTENT.len() as u64);
    // One chunk: the root is the SHA-256 of that chunk's digest.
    assert_eq!(body.chunk_root, Digest::of(&Digest::of(CONTENT).0));
    // And the payload carries exactly those 32 bytes under "sha256".
    let entries = payload_entries(&golden_announcement());
    let sha = entries
        .iter()
        .find(|(k, _)| *k == Value::Text("sha256".into()))
        .map(|(_, v)| v.clone());
    assert_eq!(
        sha,
        Some(Value::Bytes(hex::decode(CONTENT_SHA256SUM).unwrap()))
    );
}

/// Byte-distinct encodings of the same signed statement. The signature covers only the
/// protected header and the payload, so anyone relaying a statement can re-encode the outer
/// structure and the result still verifies.
fn outer_encoding_variants(golden: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let Value::Bytes(protected) = cose_parts(golden).swap_remove(0) else {
        panic!("protected header is not a byte string")
    };
    let unprotected_at = 2 + 2 + protected.len();
    assert_eq!(golden[unprotected_at], 0xa0);
    let splice = |range: std::ops::Range<usize>, with: &[u8]| {
        let mut bytes = golden.to_vec();
        bytes.splice(range, with.iter().copied());
        bytes
    };
    let mut indefinite = splice(1..2, &[0x9f]);
    indefinite.push(0xff);
    vec![
        // {-1: ""} in the unprotected header.
        (
            "unprotected entry",
            splice(unprotected_at..unprotected_at + 1, &[0xa1, 0x20, 0x60]),
        ),
        // Tag 18 written with a one-byte argument.
        ("long tag head", splice(0..1, &[0xd8, 0x12])),
        // The protected header's length written in two bytes instead of one.
        ("long length", splice(2..4, &[0x59, 0x00, golden[3]])),
        // An indefinite-length array.
        ("indefinite array", indefinite),
    ]
}

#[test]
fn outer_encoding_variants_are_refused() {
    for golden in [golden_announcement(), golden_revocation()] {
        for (what, bytes) in outer_encoding_variants(&golden) {
            assert_ne!(bytes, golden);
            assert!(
                SignedAnnouncement::decode(&bytes).is_err()
                    && SignedRevocation::decode(&bytes).is_err(),
                "{what}: a byte-distinct encoding of a signed statement was accepted"
            );
        }
    }
}

/// The old gossip form, which wrapped the message in a CBOR map naming the Rust enum variant:
/// `a1 6c "Announcement" 59 02 91 <the 657 golden bytes>`. Independent clients cannot read it.
const OLD_WRAPPED_PREFIX: &str = "a16c416e6e6f756e63656d656e74590291";

#[test]
fn a_gossip_message_is_the_bare_cose_statement_its_content_type_names() {
    let announcement = golden_announcement();
    let revocation = golden_revocation();
    // What a node publishes is the statement's bytes, and what it reads back is judged by the
    // protected header's content type alone.
    for (bytes, expected) in [
        (
            &announcement,
            SignedStatement::Announcement(announcement.clone()),
        ),
        (&revocation, SignedStatement::Revocation(revocation.clone())),
    ] {
        let statement = SignedStatement::from_cose(bytes).unwrap();
        assert_eq!(statement, expected);
        assert_eq!(statement.bytes(), bytes.as_slice());
        assert_eq!(
            bytes[0], 0xd2,
            "the message starts with tag 18, nothing before it"
        );
    }
    assert_eq!(
        cose::content_type(&announcement, MAX_SIGNED_LEN).unwrap(),
        ANNOUNCEMENT_CONTENT_TYPE
    );

    let wrapped = wire::encode(&SignedStatement::Announcement(announcement.clone()));
    assert_eq!(hex::encode(&wrapped[..17]), OLD_WRAPPED_PREFIX);
    assert_eq!(&wrapped[17..], announcement.as_slice());
    assert!(matches!(
        SignedStatement::from_cose(&wrapped),
        Err(WireError::NotAStatement(_))
    ));

    // A receipt is a COSE_Sign1 of ours too, but never a gossip statement.
    let receipt = cose::sign(&owner(), RECEIPT_CONTENT_TYPE, b"\xa0");
    let refused = SignedStatement::from_cose(&receipt)
        .unwrap_err()
        .to_string();
    assert!(refused.contains(RECEIPT_CONTENT_TYPE), "{refused}");
    for garbage in [
        &b""[..],
        b"datapact gossip probe",
        &announcement[..announcement.len() - 1],
    ] {
        assert!(SignedStatement::from_cose(garbage).is_err());
    }
    let mut oversize = announcement.clone();
    oversize.resize(MAX_SIGNED_LEN + 1, 0);
    assert!(SignedStatement::from_cose(&oversize).is_err());
}

/// The gossip message of a `public` statement is its COSE_Sign1 bytes and nothing else
/// (docs/PROTOCOL.md section 4): the golden bytes themselves are the message data, and a
/// receiver tells the kinds apart by the protected content type alone.
#[test]
fn gossip_messages_are_the_golden_statements_themselves() {
    use datapact_protocol::wire::SignedStatement;
    let announcement = golden_announcement();
    let read = SignedStatement::from_cose(&announcement).unwrap();
    assert_eq!(read, SignedStatement::Announcement(announcement.clone()));
    assert_eq!(read.bytes(), announcement.as_slice());
    let revocation = golden_revocation();
    let read = SignedStatement::from_cose(&revocation).unwrap();
    assert_eq!(read, SignedStatement::Revocation(revocation.clone()));
    assert_eq!(read.bytes(), revocation.as_slice());
}
