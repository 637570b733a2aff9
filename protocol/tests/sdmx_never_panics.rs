//! The SDMX structure readers and the data validator are total: on arbitrary input, and on
//! mutations of valid messages and files, they answer (mostly with an error) and never panic.
//! The validator's answer also does not depend on how its input is cut into chunks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_protocol::sdmx::{DataValidator, parse_structure_message, validate_data};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

const FIXTURES: [&str; 3] = [
    include_str!("fixtures/pysdmx/structure.json"),
    include_str!("fixtures/pysdmx/structure.xml"),
    include_str!("fixtures/sdmx_json_1_0.json"),
];

const DATA: &str = "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MEASURE\n\
    dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,905000,E,PS\n\
    dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,M,2017-Q1,\"1050000\",,PS\n\
    dataflow,BPX:DF_MIG_STOCK(1.0),D,A,MMR,,,,,\n";

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    Flip(Index, u8),
    Insert(Index, Vec<u8>),
    Remove(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (
            any::<Index>(),
            prop_oneof![
                Just(b"\"".to_vec()),
                Just(b"<".to_vec()),
                Just(b"{".to_vec()),
                Just(b"]".to_vec()),
                Just(b",".to_vec()),
                Just(b"\n".to_vec()),
                Just(b"&amp;".to_vec()),
                Just(b"&#0;".to_vec()),
                vec(any::<u8>(), 0..8),
            ]
        )
            .prop_map(|(i, bytes)| Mutation::Insert(i, bytes)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Remove(a, b)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Truncate(i) => bytes.truncate(i.index(len)),
            Mutation::Flip(i, b) => {
                if !bytes.is_empty() {
                    let at = i.index(bytes.len());
                    bytes[at] ^= b | 1;
                }
            }
            Mutation::Insert(i, extra) => {
                let at = i.index(bytes.len() + 1);
                bytes.splice(at..at, extra.iter().copied());
            }
            Mutation::Remove(a, b) => {
                if !bytes.is_empty() {
                    let (a, b) = (a.index(bytes.len()), b.index(bytes.len()));
                    bytes.drain(a.min(b)..a.max(b));
                }
            }
        }
    }
    bytes
}

/// Validates in chunks of the given sizes (cycled).
fn chunked(
    set: &datapact_protocol::sdmx::StructureSet,
    data: &[u8],
    sizes: &[usize],
) -> datapact_protocol::sdmx::ValidationReport {
    let mut validator = DataValidator::new(set.clone());
    let mut rest = data;
    let mut sizes = sizes.iter().cycle();
    while !rest.is_empty() {
        let size = sizes.next().copied().unwrap_or(1).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(size);
        validator.feed(chunk);
        rest = tail;
    }
    validator.finish()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn structure_readers_never_panic_on_arbitrary_bytes(
        start in prop_oneof![Just(&b"{"[..]), Just(&b"<"[..]), Just(&b""[..])],
        bytes in vec(any::<u8>(), 0..512),
    ) {
        let mut input = start.to_vec();
        input.extend_from_slice(&bytes);
        let _ = parse_structure_message(&input);
    }

    #[test]
    fn structure_readers_never_panic_on_mutated_messages(
        which in 0usize..3,
        mutations in vec(mutation(), 1..6),
    ) {
        let bytes = apply(FIXTURES[which].as_bytes().to_vec(), &mutations);
        if let Err(err) = parse_structure_message(&bytes) {
            let message = err.to_string();
            prop_assert!(!message.is_empty());
        }
    }

    #[test]
    fn validator_never_panics_and_ignores_chunking(
        mutations in vec(mutation(), 0..6),
        sizes in vec(1usize..40, 1..8),
    ) {
        let set = parse_structure_message(FIXTURES[0].as_bytes()).unwrap();
        let data = apply(DATA.as_bytes().to_vec(), &mutations);
        let whole = validate_data(set.clone(), &data);
        prop_assert_eq!(chunked(&set, &data, &sizes), whole.clone());
        prop_assert_eq!(chunked(&set, &data, &[1]), whole.clone());
        for error in &whole.errors {
            prop_assert!(!error.to_string().contains('\n'), "{}", error);
        }
    }

    #[test]
    fn validator_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..512)) {
        let set = parse_structure_message(FIXTURES[2].as_bytes()).unwrap();
        let _ = validate_data(set, &bytes);
    }
}
