//! Every decoder and parser that takes bytes or text from the network or the command line is
//! total: on arbitrary input, and on mutations of valid messages, it returns (mostly `Err`)
//! and never panics, overflows the stack or allocates what the input only claims to hold.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::str::FromStr;
use std::time::{Duration, Instant};

use datapact_protocol::announcement::{
    ANNOUNCEMENT_CONTENT_TYPE, MAX_SIGNED_LEN, REVOCATION_CONTENT_TYPE,
};
use datapact_protocol::digest::MAX_CONTENT_SIZE;
use datapact_protocol::time::{format_unix, parse_rfc3339};
use datapact_protocol::wire::{
    self, DirectRequest, DirectResponse, FRAME_HEADER_LEN, MAX_DIRECT_REQUEST_LEN,
    MAX_DIRECT_RESPONSE_LEN, MAX_PULL_REQUEST_LEN, MAX_PULL_RESPONSE_LEN, PullRequest,
    PullResponse, SignedStatement,
};
use datapact_protocol::{
    Announcement, Audience, DatasetId, DatasetName, Digest, Identity, MemberCode, Meta, Policy,
    PublicKey, Revocation, Signed, SignedAnnouncement, SignedRevocation, StatementError, cose,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use serde::Serialize;
use serde::de::DeserializeOwned;

const DIRECT_REQUEST_CAP: usize = MAX_DIRECT_REQUEST_LEN as usize;
const DIRECT_RESPONSE_CAP: usize = MAX_DIRECT_RESPONSE_LEN as usize;

/// Runs every byte decoder on `bytes`; returns which of them accepted.
fn all_byte_decoders(bytes: &[u8]) -> [bool; 6] {
    [
        SignedAnnouncement::decode(bytes).is_ok(),
        SignedRevocation::decode(bytes).is_ok(),
        wire::decode::<DirectRequest>(bytes, DIRECT_REQUEST_CAP).is_ok(),
        wire::decode::<DirectResponse>(bytes, DIRECT_RESPONSE_CAP).is_ok(),
        wire::decode::<PullRequest>(bytes, MAX_PULL_REQUEST_LEN).is_ok(),
        wire::decode::<PullResponse>(bytes, MAX_PULL_RESPONSE_LEN).is_ok(),
    ]
}

/// Runs every text parser on `text`; returns which of them accepted.
fn all_text_parsers(text: &str) -> [bool; 5] {
    [
        DatasetId::from_str(text).is_ok(),
        Audience::from_str(text).is_ok(),
        PublicKey::from_peer_id_str(text).is_ok(),
        parse_rfc3339(text).is_ok(),
        Digest::from_hex(text).is_ok(),
    ]
}

// ---------------------------------------------------------------------------------------------
// Mutations

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
    /// Overwrites bytes with a CBOR head that claims a huge length.
    HugeHead(Index, u8),
    Duplicate(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<Index>().prop_map(Mutation::Remove),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), 0u8..8).prop_map(|(i, major)| Mutation::HugeHead(i, major)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
    ]
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
            let head = [
                (major << 5) | 27,
                0xff,
                0xff,
                0xff,
                0xff,
                0xff,
                0xff,
                0xff,
                0xff,
            ];
            bytes.splice(at..(at + head.len()).min(len), head);
        }
        Mutation::Duplicate(a, b) => {
            let (a, b) = (a.index(len), b.index(len));
            let (from, to) = (a.min(b), a.max(b));
            let piece = bytes[from..to.min(from + 64)].to_vec();
            bytes.splice(to..to, piece);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Valid messages to mutate

fn member_code() -> impl Strategy<Value = MemberCode> {
    "[A-Z][A-Z0-9-]{1,6}".prop_map(|s| MemberCode::new(&s).unwrap())
}

fn audience() -> impl Strategy<Value = Audience> {
    prop_oneof![
        Just(Audience::Public),
        Just(Audience::Members),
        vec(member_code(), 1..5).prop_map(|m| Audience::only(m).unwrap()),
    ]
}

prop_compose! {
    fn announcement()(
        owner in member_code(),
        name in "[a-z0-9-]{1,20}",
        version in 1u64..1000,
        sha in any::<[u8; 32]>(),
        root in any::<[u8; 32]>(),
        size in 0u64..=MAX_CONTENT_SIZE,
        file_name in "[a-zA-Z0-9_-][a-zA-Z0-9_.-]{0,39}",
        audience in audience(),
        embargo in proptest::option::of(0u64..2_000_000_000),
        purpose in proptest::option::of("[ -~]{1,40}"),
        title in "[a-zA-Z][ -~]{0,60}",
        rows in proptest::option::of(any::<u64>()),
        columns in vec("[A-Z_]{1,12}", 0..6),
        issued_at in any::<u64>(),
    ) -> Announcement {
        Announcement {
            owner,
            name: DatasetName::new(&name).unwrap(),
            version,
            sha256: Digest(sha),
            size,
            file_name,
            chunk_root: Digest(root),
            policy: Policy {
                audience,
                embargo_until: embargo,
                expires_at: embargo.map(|e| e + 86_400),
                purpose,
                licence: Some("CC-BY-4.0".into()),
            },
            meta: Meta { title, rows, columns, ..Meta::default() },
            issued_at,
        }
    }
}

prop_compose! {
    fn revocation()(
        owner in member_code(),
        name in "[a-z0-9-]{1,20}",
        version in 1u64..1000,
        reason in proptest::option::of("[ -~]{0,60}"),
        issued_at in any::<u64>(),
    ) -> Revocation {
        Revocation { owner, name: DatasetName::new(&name).unwrap(), version, reason, issued_at }
    }
}

fn signed_statement() -> impl Strategy<Value = SignedStatement> {
    let seed = any::<[u8; 32]>();
    prop_oneof![
        (announcement(), seed).prop_map(|(a, s)| SignedStatement::Announcement(
            Signed::sign(a, &Identity::from_seed(&s))
                .unwrap()
                .bytes()
                .to_vec()
        )),
        (revocation(), seed).prop_map(|(r, s)| SignedStatement::Revocation(
            Signed::sign(r, &Identity::from_seed(&s))
                .unwrap()
                .bytes()
                .to_vec()
        )),
    ]
}

fn direct_request() -> impl Strategy<Value = DirectRequest> {
    prop_oneof![
        signed_statement().prop_map(DirectRequest::Deliver),
        any::<u64>().prop_map(|from| DirectRequest::CatchUp { from }),
        vec(any::<u8>(), 0..200).prop_map(DirectRequest::Receipt),
    ]
}

fn direct_response() -> impl Strategy<Value = DirectResponse> {
    prop_oneof![
        Just(DirectResponse::Ack),
        ".{0,80}".prop_map(|reason| DirectResponse::Rejected { reason }),
        (vec(signed_statement(), 0..3), any::<Option<u64>>())
            .prop_map(|(statements, next)| DirectResponse::CatchUp { statements, next }),
    ]
}

fn pull_request() -> impl Strategy<Value = PullRequest> {
    ("[A-Z]{3}/[a-z-]{1,20}@[1-9][0-9]{0,3}", any::<u64>())
        .prop_map(|(id, from_chunk)| PullRequest { id, from_chunk })
}

fn pull_response() -> impl Strategy<Value = PullResponse> {
    prop_oneof![
        (announcement(), vec(any::<[u8; 32]>(), 0..4)).prop_map(|(a, chunks)| {
            PullResponse::Granted {
                announcement: Signed::sign(a, &Identity::from_seed(&[7; 32]))
                    .unwrap()
                    .bytes()
                    .to_vec(),
                chunk_digests: chunks.concat(),
            }
        }),
        Just(PullResponse::NotFound),
        ".{0,80}".prop_map(|reason| PullResponse::Denied { reason }),
    ]
}

/// Decodes mutated wire bytes: never panics, and whatever it accepts round-trips.
fn check_mutated_wire<T>(bytes: &[u8], cap: usize) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    if let Ok(msg) = wire::decode::<T>(bytes, cap) {
        // Re-encoded canonically (structs as maps), it decodes to the same message. The
        // canonical form may be longer than the input (serde also reads a struct from an
        // array), so it is read back without the cap.
        let again = wire::encode(&msg);
        prop_assert_eq!(wire::decode::<T>(&again, usize::MAX), Ok(msg));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reference predicates for the text parsers, written independently of the implementation

fn is_member_code(s: &str) -> bool {
    (2..=16).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
}

fn is_dataset_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_dataset_id(s: &str) -> bool {
    if s.matches('/').count() != 1 || s.matches('@').count() != 1 {
        return false;
    }
    let (owner, rest) = s.split_once('/').unwrap();
    let Some((name, version)) = rest.split_once('@') else {
        return false;
    };
    is_member_code(owner)
        && is_dataset_name(name)
        && !version.is_empty()
        && version.chars().all(|c| c.is_ascii_digit())
        && !version.starts_with('0')
        && version.parse::<u64>().is_ok()
}

fn is_audience(s: &str) -> bool {
    match s {
        "public" | "members" => true,
        _ => s.strip_prefix("only:").is_some_and(|list| {
            let codes: Vec<&str> = list.split(',').collect();
            let mut distinct = codes.clone();
            distinct.sort_unstable();
            distinct.dedup();
            codes.iter().all(|c| is_member_code(c)) && (1..=256).contains(&distinct.len())
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Properties

proptest! {
    #[test]
    fn arbitrary_bytes_are_refused(bytes in vec(any::<u8>(), 0..4096)) {
        prop_assert_eq!(all_byte_decoders(&bytes), [false; 6]);
        // The gossip reader too (it reads the content type without checking the signature).
        prop_assert!(SignedStatement::from_cose(&bytes).is_err());
        prop_assert_eq!(all_text_parsers(&String::from_utf8_lossy(&bytes)), [false; 5]);
    }

    #[test]
    fn arbitrary_cbor_shaped_bytes_are_refused(
        bytes in vec(prop_oneof![
            // Heads of every major type, small lengths, breaks and tags 18 / 24.
            Just(0xd2u8), Just(0x84), Just(0xa0), Just(0xa1), Just(0x40), Just(0x58),
            Just(0x60), Just(0x78), Just(0x80), Just(0x9f), Just(0xbf), Just(0xff),
            Just(0x5f), Just(0x7f), Just(0x1b), Just(0x27), Just(0xf6), Just(0xd8),
            any::<u8>(),
        ], 0..512),
    ) {
        prop_assert_eq!(&all_byte_decoders(&bytes)[..2], &[false, false]);
        let _ = SignedStatement::from_cose(&bytes);
        // The wire decoders may accept a few short messages here; they must round-trip.
        check_mutated_wire::<DirectRequest>(&bytes, DIRECT_REQUEST_CAP)?;
        check_mutated_wire::<DirectResponse>(&bytes, DIRECT_RESPONSE_CAP)?;
        check_mutated_wire::<PullRequest>(&bytes, MAX_PULL_REQUEST_LEN)?;
        check_mutated_wire::<PullResponse>(&bytes, MAX_PULL_RESPONSE_LEN)?;
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = all_text_parsers(&text);
        prop_assert_eq!(DatasetId::from_str(&text).is_ok(), is_dataset_id(&text));
        prop_assert_eq!(Audience::from_str(&text).is_ok(), is_audience(&text));
    }

    #[test]
    fn frame_len_accepts_exactly_up_to_the_cap(
        header in any::<[u8; FRAME_HEADER_LEN]>(),
        cap in prop_oneof![
            Just(MAX_PULL_REQUEST_LEN),
            Just(MAX_PULL_RESPONSE_LEN),
            Just(0usize),
            any::<u32>().prop_map(|c| c as usize),
        ],
    ) {
        let claimed = u32::from_be_bytes(header) as usize;
        match wire::frame_len(header, cap) {
            Ok(len) => {
                prop_assert_eq!(len, claimed);
                prop_assert!(len <= cap);
            }
            Err(_) => prop_assert!(claimed > cap),
        }
    }

    #[test]
    fn mutated_announcements_are_refused_or_unchanged(
        body in announcement(),
        seed in any::<[u8; 32]>(),
        mutations in vec(mutation(), 1..6),
    ) {
        let original = Signed::sign(body, &Identity::from_seed(&seed)).unwrap();
        let mut bytes = original.bytes().to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        // Only a forged signature could make changed content decode: anything accepted
        // carries the same statement from the same key.
        if let Ok(decoded) = SignedAnnouncement::decode(&bytes) {
            prop_assert_eq!(decoded.body(), original.body());
            prop_assert_eq!(decoded.signer(), original.signer());
        }
        prop_assert!(SignedRevocation::decode(&bytes).is_err());
        prop_assert_eq!(&all_byte_decoders(&bytes)[2..], &[false; 4]);
    }

    #[test]
    fn mutated_revocations_are_refused_or_unchanged(
        body in revocation(),
        seed in any::<[u8; 32]>(),
        mutations in vec(mutation(), 1..6),
    ) {
        let original = Signed::sign(body, &Identity::from_seed(&seed)).unwrap();
        let mut bytes = original.bytes().to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if let Ok(decoded) = SignedRevocation::decode(&bytes) {
            prop_assert_eq!(decoded.body(), original.body());
            prop_assert_eq!(decoded.signer(), original.signer());
        }
        prop_assert!(SignedAnnouncement::decode(&bytes).is_err());
    }

    #[test]
    fn wire_messages_round_trip_and_survive_mutation(
        request in direct_request(),
        response in direct_response(),
        pull_req in pull_request(),
        pull_resp in pull_response(),
        mutations in vec(mutation(), 1..6),
    ) {
        let request_bytes = wire::encode(&request);
        let response_bytes = wire::encode(&response);
        let pull_req_bytes = wire::encode(&pull_req);
        let pull_resp_bytes = wire::encode(&pull_resp);
        prop_assert_eq!(wire::decode(&request_bytes, DIRECT_REQUEST_CAP), Ok(request));
        prop_assert_eq!(wire::decode(&response_bytes, DIRECT_RESPONSE_CAP), Ok(response));
        prop_assert_eq!(wire::decode(&pull_req_bytes, MAX_PULL_REQUEST_LEN), Ok(pull_req.clone()));
        prop_assert_eq!(wire::decode(&pull_resp_bytes, MAX_PULL_RESPONSE_LEN), Ok(pull_resp));

        let frame = wire::encode_frame(&pull_req);
        let header: [u8; FRAME_HEADER_LEN] = frame[..FRAME_HEADER_LEN].try_into().unwrap();
        prop_assert_eq!(
            wire::frame_len(header, MAX_PULL_REQUEST_LEN),
            Ok(frame.len() - FRAME_HEADER_LEN)
        );

        // Every decoder sees every mutated message, not only its own kind.
        for mut bytes in [request_bytes, response_bytes, pull_req_bytes, pull_resp_bytes] {
            for m in &mutations {
                apply(&mut bytes, m);
            }
            check_mutated_wire::<DirectRequest>(&bytes, DIRECT_REQUEST_CAP)?;
            check_mutated_wire::<DirectResponse>(&bytes, DIRECT_RESPONSE_CAP)?;
            check_mutated_wire::<PullRequest>(&bytes, MAX_PULL_REQUEST_LEN)?;
            check_mutated_wire::<PullResponse>(&bytes, MAX_PULL_RESPONSE_LEN)?;
            prop_assert!(SignedAnnouncement::decode(&bytes).is_err());
            prop_assert!(SignedRevocation::decode(&bytes).is_err());
        }
    }

    #[test]
    fn dataset_ids_parse_exactly_the_valid_ones(
        text in prop_oneof![
            "[A-Z0-9-]{0,18}/[a-z0-9-]{0,66}@[0-9]{0,21}",
            "[A-Za-z0-9@/+_ -]{0,30}",
            "[A-Z]{3}/[a-z]{1,5}@[0-9+-]{1,4}",
        ],
    ) {
        let parsed = DatasetId::from_str(&text);
        prop_assert_eq!(parsed.is_ok(), is_dataset_id(&text), "{:?}", parsed);
        if let Ok(id) = parsed {
            prop_assert!(id.version >= 1);
            prop_assert_eq!(id.to_string(), text);
        }
    }

    #[test]
    fn audiences_parse_exactly_the_valid_ones(
        text in prop_oneof![
            Just("public".to_owned()),
            Just("members".to_owned()),
            "only:[A-Z,a-z0-9-]{0,40}",
            "(only|ONLY|Only)?:?[A-Z,]{0,12}",
        ],
    ) {
        let parsed = Audience::from_str(&text);
        prop_assert_eq!(parsed.is_ok(), is_audience(&text), "{:?}", parsed);
        if let Ok(audience) = parsed {
            prop_assert_eq!(audience.to_string().parse::<Audience>(), Ok(audience));
        }
    }

    #[test]
    fn peer_id_texts(
        tail in "[1-9A-HJ-NP-Za-km-z]{40,48}",
        prefix in prop_oneof![Just("12D3KooW"), Just("Qm"), Just("")],
    ) {
        let text = format!("{prefix}{tail}");
        let parsed = PublicKey::from_peer_id_str(&text);
        if let Ok(key) = parsed {
            // What parses is the canonical text of an ed25519 PeerId.
            prop_assert_eq!(key.peer_id().to_string(), text.as_str());
            prop_assert_eq!(PublicKey::from_bytes(&key.to_bytes()), Ok(key));
        }
        // A sha256-multihash PeerId (as RSA keys get) never yields a key.
        if prefix == "Qm" {
            prop_assert!(parsed.is_err());
        }
    }

    #[test]
    fn peer_ids_of_real_keys_parse(seed in any::<[u8; 32]>(), cut in any::<Index>()) {
        let id = Identity::from_seed(&seed);
        let text = id.peer_id().to_string();
        prop_assert_eq!(PublicKey::from_peer_id_str(&text), Ok(id.public_key()));
        let cut = cut.index(text.len());
        prop_assert!(PublicKey::from_peer_id_str(&text[..cut]).is_err());
    }

    #[test]
    fn rfc3339_like_text(
        text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?(Z|z|[+-][0-9]{2}:[0-9]{2})?",
    ) {
        if let Ok(t) = parse_rfc3339(&text) {
            prop_assert_eq!(parse_rfc3339(&format_unix(t)), Ok(t));
        }
    }

    #[test]
    fn unix_times_round_trip_through_rfc3339(t in 0u64..253_402_300_800) {
        prop_assert_eq!(parse_rfc3339(&format_unix(t)), Ok(t));
    }

    #[test]
    fn digest_hex(text in "[0-9a-gA-G]{62,66}") {
        let parsed = Digest::from_hex(&text);
        let valid = text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit());
        prop_assert_eq!(parsed.is_ok(), valid);
        if let Ok(d) = parsed {
            prop_assert_eq!(d.to_string(), text.to_ascii_lowercase());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Claimed lengths and nesting

/// CBOR heads that claim far more than the input holds.
fn huge_heads() -> Vec<Vec<u8>> {
    let mut heads = Vec::new();
    for major in 0u8..8 {
        heads.push([vec![(major << 5) | 27], vec![0xff; 8]].concat());
        // 4 GiB: large enough to hurt if allocated up front, small enough to fit a usize.
        heads.push([vec![(major << 5) | 27], vec![0, 0, 0, 1, 0, 0, 0, 0]].concat());
        heads.push([vec![(major << 5) | 26], vec![0xff; 4]].concat());
    }
    heads
}

#[test]
fn huge_claimed_lengths_are_refused_promptly() {
    let started = Instant::now();
    let id = Identity::from_seed(&[5; 32]);
    let valid = Signed::sign(
        Revocation {
            owner: MemberCode::new("THA").unwrap(),
            name: DatasetName::new("x").unwrap(),
            version: 1,
            reason: None,
            issued_at: 0,
        },
        &id,
    )
    .unwrap();
    // The protected header of a valid message, to reach the later fields.
    let protected_len = usize::from(valid.bytes()[3]) + 2;
    let protected = &valid.bytes()[2..2 + protected_len];
    assert_eq!(
        valid.bytes()[2],
        0x58,
        "protected header is a 1-byte-length bstr"
    );

    for head in huge_heads() {
        let contexts: Vec<Vec<u8>> = vec![
            head.clone(),
            // As a COSE_Sign1 element: first, and after a valid protected header.
            [&[0xd2, 0x84][..], &head].concat(),
            [&[0xd2, 0x84][..], protected, &[0xa0], &head].concat(),
            [&[0xd2, 0x84][..], protected, &head].concat(),
            // Inside wire messages.
            [&b"\xa1\x67Receipt"[..], &head].concat(),
            [&b"\xa1\x67Deliver\xa1\x6cAnnouncement"[..], &head].concat(),
            [&b"\xa1\x67CatchUp\xa2\x6astatements"[..], &head].concat(),
            [&b"\xa1\x67Granted\xa1\x6cannouncement"[..], &head].concat(),
            [&b"\xa2\x62id"[..], &head].concat(),
        ];
        for bytes in contexts {
            assert_eq!(
                all_byte_decoders(&bytes),
                [false; 6],
                "accepted {bytes:02x?}"
            );
        }
    }
    // The example of the brief, alone: a byte string of 2^64 - 1 bytes.
    let claim = [0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert!(SignedAnnouncement::decode(&claim).is_err());
    assert!(wire::decode::<PullResponse>(&claim, MAX_PULL_RESPONSE_LEN).is_err());
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
            let mut bytes = Vec::with_capacity(depth * 2);
            for _ in 0..depth {
                bytes.push(open);
                match open {
                    0xa1 => bytes.push(0x00), // key, then the nested value
                    0xd8 => bytes.push(0x40), // tag 64, one-byte tag number
                    _ => {}
                }
            }
            bytes.push(0x00);
            assert_eq!(all_byte_decoders(&bytes), [false; 6], "depth {depth}");
        }
    }

    // The payload is parsed after the signature verifies, but the key id is the signer's own
    // claim: anyone can sign a hostile payload. It must be refused like any other.
    let id = Identity::from_seed(&[6; 32]);
    let mut payload = vec![0x81u8; 10_000];
    payload.push(0x00);
    for content_type in [ANNOUNCEMENT_CONTENT_TYPE, REVOCATION_CONTENT_TYPE] {
        let bytes = cose::sign(&id, content_type, &payload);
        assert!(bytes.len() <= MAX_SIGNED_LEN);
        assert!(matches!(
            SignedAnnouncement::decode(&bytes),
            Err(StatementError::Payload(_) | StatementError::Cose(_))
        ));
        assert!(SignedRevocation::decode(&bytes).is_err());
    }
}
