//! Golden byte vectors of every message on the wire besides the statements themselves
//! (`golden.rs` has the signed announcement and revocation): the direct requests and answers,
//! the pull frames, a signed receipt and the gossip message. `docs/PROTOCOL.md` shows the same
//! bytes; a peer written from that document must produce and accept exactly these.
//!
//! Every message is CBOR as serde's externally tagged enums come out of ciborium: a unit
//! variant is its name as a text string, any other variant a one-entry map from its name to
//! its content, a struct a map from its field names (in declaration order) to their values.
//! Byte fields are CBOR byte strings (major type 2), never arrays of integers.
//!
//! Each test encodes a fixed value and compares it with the constant, decodes the constant back
//! to the same value, and checks that the annotated breakdown under the constant joins to it.
//!
//! [`STATEMENT`] (`c0ffee`) and [`OTHER_STATEMENT`] (`beef`) stand in for a signed statement's
//! COSE_Sign1 bytes: the direct messages carry statements as opaque byte strings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod annotated;

use std::fmt::Debug;

use datapact_protocol::announcement::{MAX_SIGNED_LEN, RECEIPT_CONTENT_TYPE};
use datapact_protocol::wire::{
    self, DirectRequest, DirectResponse, FRAME_HEADER_LEN, MAX_DIRECT_REQUEST_LEN,
    MAX_DIRECT_RESPONSE_LEN, MAX_PULL_REQUEST_LEN, MAX_PULL_RESPONSE_LEN, PullRequest,
    PullResponse, SignedStatement, WireError,
};
use datapact_protocol::{ContentHasher, Identity, MemberCode, Receipt, Signed, SignedReceipt};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Placeholder for a signed statement's bytes.
const STATEMENT: [u8; 3] = [0xc0, 0xff, 0xee];
/// A second placeholder, to tell two statements apart in a page.
const OTHER_STATEMENT: [u8; 2] = [0xbe, 0xef];

/// The dataset content of `golden.rs`: one chunk of 149 bytes.
const CONTENT: &[u8] = b"STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE\n\
dataflow,IOM:DF_TIP(1.0),I,THA,F,2017,312\n\
dataflow,IOM:DF_TIP(1.0),I,THA,M,2017,143\n";

// ======================= /datapact/direct/1 requests =======================

const DELIVER_ANNOUNCEMENT: &str = "a16744656c69766572a16c416e6e6f756e63656d656e7443c0ffee";
// ---- DELIVER_ANNOUNCEMENT, annotated: the hex column, joined, is the constant ----
// a1                                                 map(1)
//   6744656c69766572                                 key "Deliver"
//   a1                                               map(1): a SignedStatement
//     6c416e6e6f756e63656d656e74                     key "Announcement"
//     43c0ffee                                       bytes(3)  the signed announcement
// ---- end ----

const DELIVER_REVOCATION: &str = "a16744656c69766572a16a5265766f636174696f6e43c0ffee";
// ---- DELIVER_REVOCATION, annotated: the hex column, joined, is the constant ----
// a1                                                 map(1)
//   6744656c69766572                                 key "Deliver"
//   a1                                               map(1): a SignedStatement
//     6a5265766f636174696f6e                         key "Revocation"
//     43c0ffee                                       bytes(3)  the signed revocation
// ---- end ----

const CATCH_UP_REQUEST: &str = "a16743617463685570a16466726f6d191000";
// ---- CATCH_UP_REQUEST, annotated: the hex column, joined, is the constant ----
// a1                                                 map(1)
//   6743617463685570                                 key "CatchUp"
//   a1                                               map(1)
//     6466726f6d                                     key "from"
//     191000                                         4096  (0 at first, then the last `next`)
// ---- end ----

const RECEIPT_REQUEST: &str = "a1675265636569707443c0ffee";
// ---- RECEIPT_REQUEST, annotated: the hex column, joined, is the constant ----
// a1                                                 map(1)
//   6752656365697074                                 key "Receipt"
//   43c0ffee                                         bytes(3)  a signed receipt (GOLDEN_RECEIPT)
// ---- end ----

// ======================= /datapact/direct/1 answers =======================

const ACK: &str = "6341636b";
// ---- ACK, annotated: the hex column, joined, is the constant ----
// 6341636b                                           text(3) "Ack"  (a unit variant)
// ---- end ----

const REJECTED: &str =
    "a16852656a6563746564a166726561736f6e7472656365697074206e6f74206163636570746564";
// ---- REJECTED, annotated: the hex column, joined, is the constant ----
// a1                                                 map(1)
//   6852656a6563746564                               key "Rejected"
//   a1                                               map(1)
//     66726561736f6e                                 key "reason"
//     74                                             text(20) "receipt not accepted"
//       72656365697074206e6f74206163636570746564
// ---- end ----

const CATCH_UP_PAGE: &str = concat!(
    "a16743617463685570a26a73746174656d656e747382a16c416e6e6f756e63656d656e7443c0ffee",
    "a16a5265766f636174696f6e42beef646e65787402",
);
// ---- CATCH_UP_PAGE, annotated: the hex column, joined, is the constant ----
// a1                                                 map(1)
//   6743617463685570                                 key "CatchUp"
//   a2                                               map(2)
//     6a73746174656d656e7473                         key "statements"
//     82                                             array(2)
//       a1                                           map(1): a SignedStatement
//         6c416e6e6f756e63656d656e74                 key "Announcement"
//         43c0ffee                                   bytes(3)
//       a1                                           map(1): a SignedStatement
//         6a5265766f636174696f6e                     key "Revocation"
//         42beef                                     bytes(2)
//     646e657874                                     key "next"
//     02                                             2  (ask again with from = 2)
// ---- end ----

const CATCH_UP_LAST_PAGE: &str = "a16743617463685570a26a73746174656d656e747380646e657874f6";
// ---- CATCH_UP_LAST_PAGE, annotated: the hex column, joined, is the constant ----
// a1                                                 map(1)
//   6743617463685570                                 key "CatchUp"
//   a2                                               map(2)
//     6a73746174656d656e7473                         key "statements"
//     80                                             array(0)
//     646e657874                                     key "next"
//     f6                                             null  (no further page)
// ---- end ----

// ======================= /datapact/pull/1 frames =======================

const PULL_REQUEST_FRAME: &str = concat!(
    "0000002ca262696478195448412f747261666669636b696e672d76696374696d7340326a66726f6d",
    "5f6368756e6b1820",
);
// ---- PULL_REQUEST_FRAME, annotated: the hex column, joined, is the constant ----
// 0000002c                                           frame header: 44, big-endian u32
// a2                                                 map(2): a PullRequest
//   626964                                           key "id"
//   7819                                             text(25) "THA/trafficking-victims@2"
//     5448412f747261666669636b696e672d
//     76696374696d734032
//   6a66726f6d5f6368756e6b                           key "from_chunk"
//   1820                                             32  (chunks 0..31 already held and verified)
// ---- end ----

const GRANTED_FRAME: &str = concat!(
    "0000004ba1674772616e746564a26c616e6e6f756e63656d656e7443c0ffee6d6368756e6b5f6469",
    "67657374735820",
    "01cfe9d9c1e33172e25f01321b878198f78ac2a27b2c08f911eb231c766147fc",
);
// ---- GRANTED_FRAME, annotated: the hex column, joined, is the constant ----
// 0000004b                                           frame header: 75, big-endian u32
// a1                                                 map(1)
//   674772616e746564                                 key "Granted"
//   a2                                               map(2)
//     6c616e6e6f756e63656d656e74                     key "announcement"
//     43c0ffee                                       bytes(3)  the signed announcement
//     6d6368756e6b5f64696765737473                   key "chunk_digests"
//     5820                                           bytes(32)  one chunk: its SHA-256
//       01cfe9d9c1e33172e25f01321b878198
//       f78ac2a27b2c08f911eb231c766147fc
// ---- end ----

const NOT_FOUND_FRAME: &str = "00000009684e6f74466f756e64";
// ---- NOT_FOUND_FRAME, annotated: the hex column, joined, is the constant ----
// 00000009                                           frame header: 9
// 684e6f74466f756e64                                 text(8) "NotFound"  (a unit variant)
// ---- end ----

const DENIED_FRAME: &str = concat!(
    "0000003ca16644656e696564a166726561736f6e782a64656e6965643a20746865206f776e65722069",
    "7320627573793b2074727920616761696e206c61746572",
);
// ---- DENIED_FRAME, annotated: the hex column, joined, is the constant ----
// 0000003c                                           frame header: 60
// a1                                                 map(1)
//   6644656e696564                                   key "Denied"
//   a1                                               map(1)
//     66726561736f6e                                 key "reason"
//     782a                                           text(42) "denied: the owner is busy; try again later"
//       64656e6965643a20746865206f776e65
//       7220697320627573793b207472792061
//       6761696e206c61746572
// ---- end ----

// ======================= receipts =======================

/// The receiver's key seed (MMR in these vectors).
const RECEIVER_SEED: [u8; 32] = [0x4d; 32];

const GOLDEN_RECEIPT: &str = concat!(
    "d284584ea301270378256170706c69636174696f6e2f766e642e64617461706163742e7265636569",
    "70742b63626f7204582062a611b472d89b0e5fc93c069b9f700b4c552d55bc0e87b56008ef17b6b2",
    "bebea0586ea5617601687265636569766572634d4d52676461746173657478195448412f74726166",
    "6669636b696e672d76696374696d73403266736861323536582001cfe9d9c1e33172e25f01321b87",
    "8198f78ac2a27b2c08f911eb231c766147fc6b72656365697665645f61741a6afd891858408da3da",
    "c86c1c8387653775857c16403f25dce3b14636275364371bb12b0a0db07726c68fa649c0c7bb68d7",
    "d67658ad465f53e9775d8fe0d6494ad9a15801ea03",
);
// ---- GOLDEN_RECEIPT, annotated: the hex column, joined, is the constant ----
// d2                                                tag(18): COSE_Sign1
//   84                                              array(4)
//     584e                                          protected header: bytes(78), holding:
//       a3                                          map(3)
//         01                                        label 1 (alg)
//           27                                      -8  (EdDSA)
//         03                                        label 3 (content type)
//           7825                                    text(37) "application/vnd.datapact.receipt+cbor"
//             6170706c69636174696f6e2f766e642e
//             64617461706163742e72656365697074
//             2b63626f72
//         04                                        label 4 (kid)
//           5820                                    bytes(32)  the receiver's ed25519 public key
//             62a611b472d89b0e5fc93c069b9f700b
//             4c552d55bc0e87b56008ef17b6b2bebe
//     a0                                            unprotected header: map(0)
//     586e                                          payload: bytes(110), holding:
//       a5                                          map(5)
//         6176                                      key "v"
//           01                                      1
//         687265636569766572                        key "receiver"
//           634d4d52                                text(3) "MMR"
//         6764617461736574                          key "dataset"
//           7819                                    text(25) "THA/trafficking-victims@2"
//             5448412f747261666669636b696e672d
//             76696374696d734032
//         66736861323536                            key "sha256"
//           5820                                    bytes(32)  SHA-256 of the content as received
//             01cfe9d9c1e33172e25f01321b878198
//             f78ac2a27b2c08f911eb231c766147fc
//         6b72656365697665645f6174                  key "received_at"
//           1a6afd8918                              1795000600  2026-11-18T11:16:40Z
//     5840                                          signature: bytes(64)  ed25519 over the Sig_structure
//       8da3dac86c1c8387653775857c16403f
//       25dce3b14636275364371bb12b0a0db0
//       7726c68fa649c0c7bb68d7d67658ad46
//       5f53e9775d8fe0d6494ad9a15801ea03
// ---- end ----

fn receipt() -> Receipt {
    let mut hasher = ContentHasher::new();
    hasher.update(CONTENT);
    Receipt {
        receiver: MemberCode::new("MMR").unwrap(),
        dataset: "THA/trafficking-victims@2".parse().unwrap(),
        sha256: hasher.finish().sha256,
        received_at: 1_795_000_600,
    }
}

/// The hex column of the annotated breakdown of `name` in this file, joined.
fn annotated_hex(name: &str) -> String {
    annotated::annotated_hex(include_str!("golden_wire.rs"), name)
}

/// `value` encodes to `golden`, `golden` decodes (under `cap`) to `value`, and the
/// annotation of `name` joins to `golden`.
fn check_message<T>(value: &T, golden: &str, name: &str, cap: usize)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    assert_eq!(hex::encode(wire::encode(value)), golden, "{name}");
    let bytes = hex::decode(golden).unwrap();
    assert_eq!(&wire::decode::<T>(&bytes, cap).unwrap(), value, "{name}");
    assert_eq!(annotated_hex(name), golden, "{name}: annotation");
}

/// Like [`check_message`] for a length-prefixed frame on the pull stream.
fn check_frame<T>(value: &T, golden: &str, name: &str, cap: usize)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    assert_eq!(hex::encode(wire::encode_frame(value)), golden, "{name}");
    let bytes = hex::decode(golden).unwrap();
    let (header, body) = bytes.split_at(FRAME_HEADER_LEN);
    let len = wire::frame_len(header.try_into().unwrap(), cap).unwrap();
    assert_eq!(len, body.len(), "{name}: the header counts the body");
    assert_eq!(&wire::decode::<T>(body, cap).unwrap(), value, "{name}");
    assert_eq!(annotated_hex(name), golden, "{name}: annotation");
}

const REQUEST_CAP: usize = MAX_DIRECT_REQUEST_LEN as usize;
const RESPONSE_CAP: usize = MAX_DIRECT_RESPONSE_LEN as usize;

#[test]
fn deliver_requests_match_golden_bytes() {
    check_message(
        &DirectRequest::Deliver(SignedStatement::Announcement(STATEMENT.to_vec())),
        DELIVER_ANNOUNCEMENT,
        "DELIVER_ANNOUNCEMENT",
        REQUEST_CAP,
    );
    check_message(
        &DirectRequest::Deliver(SignedStatement::Revocation(STATEMENT.to_vec())),
        DELIVER_REVOCATION,
        "DELIVER_REVOCATION",
        REQUEST_CAP,
    );
}

#[test]
fn catch_up_request_matches_golden_bytes() {
    check_message(
        &DirectRequest::CatchUp { from: 4096 },
        CATCH_UP_REQUEST,
        "CATCH_UP_REQUEST",
        REQUEST_CAP,
    );
}

#[test]
fn receipt_request_matches_golden_bytes() {
    check_message(
        &DirectRequest::Receipt(STATEMENT.to_vec()),
        RECEIPT_REQUEST,
        "RECEIPT_REQUEST",
        REQUEST_CAP,
    );
}

#[test]
fn direct_answers_match_golden_bytes() {
    check_message(&DirectResponse::Ack, ACK, "ACK", RESPONSE_CAP);
    check_message(
        &DirectResponse::Rejected {
            reason: "receipt not accepted".into(),
        },
        REJECTED,
        "REJECTED",
        RESPONSE_CAP,
    );
}

#[test]
fn catch_up_pages_match_golden_bytes() {
    check_message(
        &DirectResponse::CatchUp {
            statements: vec![
                SignedStatement::Announcement(STATEMENT.to_vec()),
                SignedStatement::Revocation(OTHER_STATEMENT.to_vec()),
            ],
            next: Some(2),
        },
        CATCH_UP_PAGE,
        "CATCH_UP_PAGE",
        RESPONSE_CAP,
    );
    check_message(
        &DirectResponse::CatchUp {
            statements: vec![],
            next: None,
        },
        CATCH_UP_LAST_PAGE,
        "CATCH_UP_LAST_PAGE",
        RESPONSE_CAP,
    );
}

#[test]
fn pull_request_frame_matches_golden_bytes() {
    check_frame(
        &PullRequest {
            id: "THA/trafficking-victims@2".into(),
            from_chunk: 32,
        },
        PULL_REQUEST_FRAME,
        "PULL_REQUEST_FRAME",
        MAX_PULL_REQUEST_LEN,
    );
}

#[test]
fn pull_answer_frames_match_golden_bytes() {
    let mut hasher = ContentHasher::new();
    hasher.update(CONTENT);
    let digest = hasher.finish();
    assert_eq!(digest.chunks.len(), 1);
    check_frame(
        &PullResponse::Granted {
            announcement: STATEMENT.to_vec(),
            chunk_digests: digest.chunks.iter().flat_map(|d| d.0).collect(),
        },
        GRANTED_FRAME,
        "GRANTED_FRAME",
        MAX_PULL_RESPONSE_LEN,
    );
    check_frame(
        &PullResponse::NotFound,
        NOT_FOUND_FRAME,
        "NOT_FOUND_FRAME",
        MAX_PULL_RESPONSE_LEN,
    );
    check_frame(
        &PullResponse::Denied {
            reason: "denied: the owner is busy; try again later".into(),
        },
        DENIED_FRAME,
        "DENIED_FRAME",
        MAX_PULL_RESPONSE_LEN,
    );
}

#[test]
fn frame_header_is_a_big_endian_length_checked_before_the_body() {
    assert_eq!(
        wire::frame_len([0, 0, 0, 0x2c], MAX_PULL_REQUEST_LEN),
        Ok(44)
    );
    assert_eq!(
        wire::frame_len([0, 0, 4, 0], MAX_PULL_REQUEST_LEN),
        Ok(1024)
    );
    assert_eq!(
        wire::frame_len([0, 0, 4, 1], MAX_PULL_REQUEST_LEN),
        Err(WireError::TooLarge {
            len: 1025,
            cap: MAX_PULL_REQUEST_LEN
        })
    );
}

#[test]
fn a_variant_name_in_another_case_is_refused() {
    // Names are matched exactly: "ack" is not "Ack".
    let bytes = hex::decode("6361636b").unwrap();
    assert_eq!(
        wire::decode::<DirectResponse>(&bytes, RESPONSE_CAP),
        Err(WireError::Malformed)
    );
}

#[test]
fn receipt_matches_golden_bytes() {
    let receiver = Identity::from_seed(&RECEIVER_SEED);
    let signed = Signed::sign(receipt(), &receiver).unwrap();
    assert_eq!(hex::encode(signed.bytes()), GOLDEN_RECEIPT);
    assert!(signed.bytes().len() <= MAX_SIGNED_LEN);
    let decoded = SignedReceipt::decode(&hex::decode(GOLDEN_RECEIPT).unwrap()).unwrap();
    assert_eq!(decoded.body(), &receipt());
    assert_eq!(decoded.signer(), &receiver.public_key());
    assert_eq!(annotated_hex("GOLDEN_RECEIPT"), GOLDEN_RECEIPT);
    // The content type is what tells a receipt from an announcement under the same key.
    let ct = hex::encode(RECEIPT_CONTENT_TYPE);
    assert!(GOLDEN_RECEIPT.contains(&ct));
}

#[test]
fn a_receipt_is_not_a_gossip_message() {
    // Gossip carries announcements and revocations only; the content type says which.
    let receipt = hex::decode(GOLDEN_RECEIPT).unwrap();
    assert!(matches!(
        SignedStatement::from_cose(&receipt),
        Err(WireError::NotAStatement(_))
    ));
}
