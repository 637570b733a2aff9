//! Property tests of the SDMX-CSV syntax check: no input panics it, and chunking never changes
//! its answer.

use super::*;

/// Encodes one field, quoting it when it must be (or when `force`).
fn encode_field(value: &str, force: bool) -> String {
    if force || value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

prop_compose! {
    /// A valid SDMX-CSV file and its summary.
    fn valid_file()(
        v2 in any::<bool>(),
        dims in 0usize..4,
        rows in 1usize..8,
        crlf in any::<bool>(),
        bom in any::<bool>(),
        trailer in 0u8..3,
        structure_id in "[A-Z]{1,4}:[A-Z_]{1,8}\\([0-9]\\.[0-9]\\)",
    )(
        cells in proptest::collection::vec(
            proptest::collection::vec(("[a-z0-9 ,\"\r\n.é€-]{0,6}", any::<bool>()), dims),
            rows,
        ),
        obs in proptest::collection::vec(("[0-9a-z\" ,\n]{1,5}", any::<bool>()), rows),
        v2 in Just(v2), dims in Just(dims), crlf in Just(crlf), bom in Just(bom),
        trailer in Just(trailer), structure_id in Just(structure_id),
    ) -> (Vec<u8>, SdmxSummary) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut names: Vec<String> = if v2 {
            columns(&["STRUCTURE", "STRUCTURE_ID", "ACTION"])
        } else {
            columns(&["DATAFLOW"])
        };
        names.extend((0..dims).map(|i| format!("DIM_{i}")));
        names.push("OBS_VALUE".to_owned());
        let mut text = String::new();
        if bom {
            text.push('\u{feff}');
        }
        text.push_str(&names.join(","));
        for (row, (obs, force)) in cells.iter().zip(&obs) {
            text.push_str(eol);
            let mut fields: Vec<String> = if v2 {
                vec!["dataflow".to_owned(), structure_id.clone(), "I".to_owned()]
            } else {
                vec![structure_id.clone()]
            };
            fields.extend(row.iter().map(|(value, force)| encode_field(value, *force)));
            fields.push(encode_field(obs, *force));
            text.push_str(&fields.join(","));
        }
        for _ in 0..trailer {
            text.push_str(eol);
        }
        let expected = SdmxSummary { structure_id, columns: names, rows: cells.len() as u64 };
        (text.into_bytes(), expected)
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        sizes in proptest::collection::vec(0usize..40, 1..8),
    ) {
        let whole = validate(&bytes);
        prop_assert_eq!(validate_chunked(&bytes, &sizes), whole);
    }

    #[test]
    fn csv_like_bytes_chunk_independently(
        header in prop_oneof![
            Just("DATAFLOW,A,OBS_VALUE\n"),
            Just("STRUCTURE,STRUCTURE_ID,OBS_VALUE\r\n"),
            Just("\u{feff}DATAFLOW,OBS_VALUE\n"),
            Just(""),
        ],
        body in proptest::collection::vec(
            prop_oneof![
                Just(b','), Just(b'"'), Just(b'\r'), Just(b'\n'), Just(b'X'), Just(b'1'),
                Just(0xEF), Just(0xBB), Just(0xBF), Just(0xC3), Just(0xA9),
            ],
            0..256,
        ),
        sizes in proptest::collection::vec(0usize..17, 1..8),
    ) {
        let mut bytes = header.as_bytes().to_vec();
        bytes.extend_from_slice(&body);
        let whole = validate(&bytes);
        if let Err(err) = &whole {
            let prefix = format!("line {}: ", err.line());
            let message = err.to_string();
            prop_assert!(message.starts_with(&prefix), "{}", message);
            prop_assert!(!message.contains('\n'), "{}", message);
        }
        prop_assert_eq!(validate_chunked(&bytes, &sizes), whole.clone());
        prop_assert_eq!(validate_chunked(&bytes, &[1]), whole);
    }

    #[test]
    fn valid_files_in_any_chunks(
        (bytes, expected) in valid_file(),
        sizes in proptest::collection::vec(0usize..64, 1..20),
    ) {
        let whole = validate(&bytes);
        prop_assert_eq!(&whole, &Ok(expected));
        prop_assert_eq!(validate_chunked(&bytes, &sizes), whole);
    }
}
