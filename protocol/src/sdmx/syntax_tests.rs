use super::super::{MAX_COLUMNS, MAX_RECORD_LEN};
use super::*;
use proptest::prelude::*;

const SAMPLE_2_0: &str = "STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,MGI_DOMAIN,TIME_PERIOD,OBS_VALUE\n\
    dataflow,BPX:DF_MGI(1.0.0),I,BHR,INST_CAP,2016,EMERGING\n\
    dataflow,BPX:DF_MGI(1.0.0),I,BHR,MIG_RIGHTS,2016,EMERGING\n";
const SAMPLE_1_0: &str = "DATAFLOW,REF_AREA,TIME_PERIOD,OBS_VALUE\nBPX:DF_X(1.0),THA,2017,46\n";
const HEADER_2_0: &str =
    "STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,MGI_DOMAIN,TIME_PERIOD,OBS_VALUE\n";
const ROW_2_0: &str = "dataflow,BPX:DF_MGI(1.0.0),I,BHR,INST_CAP,2016,EMERGING\n";

fn validate(input: &[u8]) -> Result<SdmxSummary, SdmxError> {
    let mut v = SdmxValidator::new();
    v.feed(input)?;
    v.finish()
}

/// Feeds `input` in chunks of the given sizes (cycled; 0 means an empty chunk).
fn validate_chunked(input: &[u8], sizes: &[usize]) -> Result<SdmxSummary, SdmxError> {
    let mut v = SdmxValidator::new();
    let mut rest = input;
    let mut sizes = sizes.iter().cycle();
    while !rest.is_empty() {
        let mut size = sizes.next().copied().unwrap_or(1).min(rest.len());
        if size == 0 {
            // An empty chunk changes nothing; then move on by one byte so the loop ends.
            v.feed(&[])?;
            size = 1;
        }
        let (chunk, tail) = rest.split_at(size);
        if let Err(err) = v.feed(chunk) {
            // The validator stays failed with the same error.
            assert_eq!(v.feed(tail), Err(err.clone()));
            assert_eq!(v.clone().finish(), Err(err.clone()));
            return Err(err);
        }
        rest = tail;
    }
    v.finish()
}

#[allow(clippy::panic)] // fails the test
fn error(input: &str) -> SdmxError {
    let whole = validate(input.as_bytes());
    let bytewise = validate_chunked(input.as_bytes(), &[1]);
    assert_eq!(whole, bytewise, "input {input:?}");
    match whole {
        Err(err) => err,
        Ok(summary) => panic!("accepted {input:?}: {summary:?}"),
    }
}

#[allow(clippy::panic)] // fails the test
fn summary(input: &str) -> SdmxSummary {
    let whole = validate(input.as_bytes());
    assert_eq!(whole, validate_chunked(input.as_bytes(), &[1]));
    assert_eq!(whole, validate_chunked(input.as_bytes(), &[2, 3, 0, 5]));
    match whole {
        Ok(summary) => summary,
        Err(err) => panic!("refused {input:?}: {err}"),
    }
}

fn columns(names: &[&str]) -> Vec<String> {
    names.iter().map(|&n| n.to_owned()).collect()
}

#[test]
fn sample_2_0() {
    assert_eq!(
        summary(SAMPLE_2_0),
        SdmxSummary {
            structure_id: "BPX:DF_MGI(1.0.0)".to_owned(),
            columns: columns(&[
                "STRUCTURE",
                "STRUCTURE_ID",
                "ACTION",
                "REF_AREA",
                "MGI_DOMAIN",
                "TIME_PERIOD",
                "OBS_VALUE"
            ]),
            rows: 2,
        }
    );
}

#[test]
fn sample_1_0() {
    assert_eq!(
        summary(SAMPLE_1_0),
        SdmxSummary {
            structure_id: "BPX:DF_X(1.0)".to_owned(),
            columns: columns(&["DATAFLOW", "REF_AREA", "TIME_PERIOD", "OBS_VALUE"]),
            rows: 1,
        }
    );
}

#[test]
fn sample_without_trailing_newline() {
    let s = summary(SAMPLE_1_0.trim_end_matches('\n'));
    assert_eq!(s.rows, 1);
    assert_eq!(s.structure_id, "BPX:DF_X(1.0)");
    let s = summary(SAMPLE_2_0.trim_end_matches('\n'));
    assert_eq!(s.rows, 2);
    // The last field is complete even when it is quoted or empty-but-quoted.
    let s = summary("DATAFLOW,OBS_VALUE\nX,\"1\"");
    assert_eq!(s.rows, 1);
    // An empty last field is a field.
    assert_eq!(summary("DATAFLOW,A,OBS_VALUE\nX,1,").rows, 1);
}

#[test]
fn sample_2_0_with_labels_and_quoted_header() {
    let s = summary(
        "\"STRUCTURE\",\"STRUCTURE_ID\",\"ACTION\",\"REF_AREA: Reference area\",\
         \"OBS_VALUE: Observation value\"\n\
         dataflow,BPX:DF_MGI(1.0.0),I,THA: Thailand,46\n",
    );
    assert_eq!(s.structure_id, "BPX:DF_MGI(1.0.0)");
    assert_eq!(s.columns.len(), 5);
    assert_eq!(
        s.columns.last().map(String::as_str),
        Some("OBS_VALUE: Observation value")
    );
    assert_eq!(s.rows, 1);
}

#[test]
fn crlf_and_bom() {
    let crlf = SAMPLE_2_0.replace('\n', "\r\n");
    assert_eq!(summary(&crlf), summary(SAMPLE_2_0));
    let bom = format!("\u{feff}{SAMPLE_2_0}");
    assert_eq!(summary(&bom), summary(SAMPLE_2_0));
    let both = format!("\u{feff}{crlf}");
    assert_eq!(summary(&both), summary(SAMPLE_2_0));
    // A BOM-like prefix that is not a BOM is content (and here invalid UTF-8).
    let mut bad = vec![0xEF, 0xBB];
    bad.extend_from_slice(SAMPLE_1_0.as_bytes());
    assert_eq!(
        validate_chunked(&bad, &[1]),
        Err(SdmxError::InvalidUtf8 { line: 1 })
    );
    assert_eq!(validate(&bad), Err(SdmxError::InvalidUtf8 { line: 1 }));
    // A BOM alone, or part of one, is an empty file / not a header.
    assert_eq!(validate(&BOM), Err(SdmxError::Empty { line: 1 }));
    assert_eq!(validate(&BOM[..2]), Err(SdmxError::InvalidUtf8 { line: 1 }));
}

#[test]
fn quoted_comma_and_newline() {
    let input = "DATAFLOW,NOTE,OBS_VALUE\n\
                 X,\"a, b\",1\n\
                 X,\"two\nlines, and \"\"quotes\"\"\",2\n\
                 X,\"three\r\nphysical\nlines\",3\n\
                 X,plain\n";
    // Line 1 header; line 2 "a, b"; lines 3-4 "two/lines"; lines 5-7 "three/physical/lines";
    // line 8 the bad record.
    assert_eq!(
        error(input),
        SdmxError::FieldCount {
            line: 8,
            expected: 3,
            found: 2
        }
    );
    let good = input.replace("plain\n", "plain,4\n");
    let s = summary(&good);
    assert_eq!(s.rows, 4);
    // The error names the line where a multi-line record starts.
    let input = "DATAFLOW,NOTE,OBS_VALUE\nX,\"a\nb\nc\",1,extra\nX,y,1\n";
    assert_eq!(
        error(input),
        SdmxError::FieldCount {
            line: 2,
            expected: 3,
            found: 4
        }
    );
}

#[test]
fn empty_file() {
    assert_eq!(error(""), SdmxError::Empty { line: 1 });
}

#[test]
fn unrecognised_header() {
    for (input, found) in [
        ("REF_AREA,OBS_VALUE\nTHA,1\n", "REF_AREA,OBS_VALUE"),
        (
            "STRUCTURE,ACTION,OBS_VALUE\nx,I,1\n",
            "STRUCTURE,ACTION,OBS_VALUE",
        ),
        ("STRUCTURE\n", "STRUCTURE"),
        ("\nDATAFLOW,OBS_VALUE\nX,1\n", ""),
        ("dataflow,OBS_VALUE\nX,1\n", "dataflow,OBS_VALUE"),
    ] {
        assert_eq!(
            error(input),
            SdmxError::UnrecognisedHeader {
                line: 1,
                found: found.to_owned()
            },
            "{input:?}"
        );
    }
}

#[test]
fn header_column_names() {
    assert_eq!(
        error("DATAFLOW,,OBS_VALUE\nX,a,1\n"),
        SdmxError::EmptyColumnName { line: 1, column: 2 }
    );
    assert_eq!(
        error("DATAFLOW,A,OBS_VALUE,A\nX,a,1,b\n"),
        SdmxError::DuplicateColumn {
            line: 1,
            name: "A".to_owned()
        }
    );
    // A header written with labels is read by the ids before the colons.
    assert_eq!(
        error("DATAFLOW,A: first,A: second\nX,a,1\n"),
        SdmxError::DuplicateColumn {
            line: 1,
            name: "A".to_owned()
        }
    );
    let mut wide = String::from("DATAFLOW,OBS_VALUE");
    for i in 0..MAX_COLUMNS {
        wide.push_str(&format!(",C{i}"));
    }
    wide.push('\n');
    assert_eq!(
        error(&wide),
        SdmxError::TooManyColumns {
            line: 1,
            max: MAX_COLUMNS
        }
    );
    // Exactly MAX_COLUMNS is fine.
    let mut names = vec!["DATAFLOW".to_owned(), "OBS_VALUE".to_owned()];
    names.extend((2..MAX_COLUMNS).map(|i| format!("C{i}")));
    let row = vec!["X"; MAX_COLUMNS].join(",");
    let s = summary(&format!("{}\n{row}\n", names.join(",")));
    assert_eq!(s.columns, names);
}

#[test]
fn field_count() {
    let input = format!("{HEADER_2_0}{ROW_2_0}{ROW_2_0}{ROW_2_0}{ROW_2_0}{ROW_2_0}a,b,c,d,e,f\n");
    let err = error(&input);
    assert_eq!(
        err,
        SdmxError::FieldCount {
            line: 7,
            expected: 7,
            found: 6
        }
    );
    assert_eq!(err.to_string(), "line 7: expected 7 fields, found 6");
    assert_eq!(err.line(), 7);
    assert_eq!(
        error(&format!("{HEADER_2_0}{ROW_2_0}a,b,c,d,e,f,g,h")),
        SdmxError::FieldCount {
            line: 3,
            expected: 7,
            found: 8
        }
    );
}

#[test]
fn structure_id() {
    assert_eq!(
        error("DATAFLOW,OBS_VALUE\nX,1\n,2\n"),
        SdmxError::EmptyStructureId { line: 3 }
    );
    let mut input = String::from(HEADER_2_0);
    for _ in 0..7 {
        input.push_str(ROW_2_0);
    }
    input.push_str("dataflow,BPX:DF_OTHER(1.0),I,BHR,INST_CAP,2016,EMERGING\n");
    let err = error(&input);
    assert_eq!(
        err,
        SdmxError::StructureIdMismatch {
            line: 9,
            found: "BPX:DF_OTHER(1.0)".to_owned(),
            expected: "BPX:DF_MGI(1.0.0)".to_owned(),
            first_line: 2
        }
    );
    assert_eq!(
        err.to_string(),
        "line 9: structure id \"BPX:DF_OTHER(1.0)\" differs from \"BPX:DF_MGI(1.0.0)\" on line 2"
    );
    // The STRUCTURE column itself is not the structure id.
    let s = summary(
        "STRUCTURE,STRUCTURE_ID,OBS_VALUE\ndataflow,A:B(1.0),1\ndatastructure,A:B(1.0),2\n",
    );
    assert_eq!(s.structure_id, "A:B(1.0)");
    assert_eq!(
        error("STRUCTURE,STRUCTURE_ID,OBS_VALUE\ndataflow,,1\n"),
        SdmxError::EmptyStructureId { line: 2 }
    );
}

/// SDMX-CSV 2.0 allows columns in any order after STRUCTURE, no OBS_VALUE column,
/// attribute-only rows (empty OBS_VALUE) and D rows.
#[test]
fn valid_sdmx_csv_2_0_layouts() {
    // STRUCTURE_ID is not the second column.
    let s =
        summary("STRUCTURE,ACTION,REF_AREA,STRUCTURE_ID,OBS_VALUE\ndataflow,I,THA,A:B(1.0),1\n");
    assert_eq!(s.structure_id, "A:B(1.0)");
    // No OBS_VALUE column at all.
    assert_eq!(
        summary("STRUCTURE,STRUCTURE_ID,REF_AREA,OBS_STATUS\ndataflow,A:B(1.0),THA,E\n").rows,
        1
    );
    // Attribute-only and delete rows with an empty OBS_VALUE.
    let s = summary(
        "STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,OBS_VALUE,OBS_STATUS\n\
         dataflow,A:B(1.0),A,THA,,E\ndataflow,A:B(1.0),D,THA,,\ndataflow,A:B(1.0),,THA,\"\",\n",
    );
    assert_eq!(s.rows, 3);
}

#[test]
fn action_and_structure_kind() {
    let err = error("STRUCTURE,STRUCTURE_ID,ACTION\ndataflow,A:B(1.0),I\ndataflow,A:B(1.0),X\n");
    assert_eq!(
        err,
        SdmxError::InvalidAction {
            line: 3,
            found: "X".to_owned()
        }
    );
    assert_eq!(
        err.to_string(),
        "line 3: ACTION is \"X\"; expected one of I, A, M, R, D"
    );
    assert_eq!(
        error("STRUCTURE,STRUCTURE_ID\nflow,A:B(1.0)\n"),
        SdmxError::UnknownStructureKind {
            line: 2,
            found: "flow".to_owned()
        }
    );
    for kind in ["dataflow", "datastructure", "dataprovision"] {
        assert_eq!(
            summary(&format!("STRUCTURE,STRUCTURE_ID\n{kind},A:B(1.0)\n")).rows,
            1
        );
    }
}

#[test]
fn record_too_long() {
    let header = "DATAFLOW,NOTE,OBS_VALUE\n";
    // A record of exactly MAX_RECORD_LEN bytes is accepted.
    let fixed = "X,,1".len();
    let ok = format!("{header}X,{},1\n", "n".repeat(MAX_RECORD_LEN - fixed));
    assert_eq!(summary(&ok).rows, 1);
    let long = format!("{header}X,a,1\nX,{},1\n", "n".repeat(MAX_RECORD_LEN));
    assert_eq!(
        error(&long),
        SdmxError::RecordTooLong {
            line: 3,
            max: MAX_RECORD_LEN
        }
    );
    // Inside quotes too, and with no line feed at all.
    let long = format!("{header}X,\"{}", "\n".repeat(MAX_RECORD_LEN));
    assert_eq!(
        validate(long.as_bytes()),
        Err(SdmxError::RecordTooLong {
            line: 2,
            max: MAX_RECORD_LEN
        })
    );
    let long = ",".repeat(MAX_RECORD_LEN + 1);
    assert_eq!(
        validate(long.as_bytes()),
        Err(SdmxError::TooManyColumns {
            line: 1,
            max: MAX_COLUMNS
        })
    );
    let long = format!("DATAFLOW{}", ",A".repeat(MAX_RECORD_LEN));
    assert_eq!(
        validate(long.as_bytes()),
        Err(SdmxError::TooManyColumns {
            line: 1,
            max: MAX_COLUMNS
        })
    );
}

#[test]
fn invalid_utf8() {
    let mut input = b"DATAFLOW,NOTE,OBS_VALUE\nX,ok,1\nX,\"multi\nline\",2\nX,".to_vec();
    input.extend_from_slice(&[0xC3, 0x28]);
    input.extend_from_slice(b",3\n");
    assert_eq!(validate(&input), Err(SdmxError::InvalidUtf8 { line: 5 }));
    assert_eq!(
        validate_chunked(&input, &[1]),
        Err(SdmxError::InvalidUtf8 { line: 5 })
    );
    // A multi-byte character split across chunks is fine.
    let s = "DATAFLOW,NOTE,OBS_VALUE\nX,Ñoño €,1\n";
    assert_eq!(summary(s).rows, 1);
    assert_eq!(
        validate(b"DATAFLOW,OBS\xff_VALUE\nX,1\n"),
        Err(SdmxError::InvalidUtf8 { line: 1 })
    );
}

#[test]
fn unterminated_quote() {
    assert_eq!(
        error("DATAFLOW,NOTE,OBS_VALUE\nX,a,1\nX,\"open\nstill open,1\n"),
        SdmxError::UnterminatedQuote { line: 3 }
    );
}

#[test]
fn stray_quote() {
    assert_eq!(
        error("DATAFLOW,NOTE,OBS_VALUE\nX,a,1\nX,ab\"c,1\n"),
        SdmxError::StrayQuote { line: 3 }
    );
    assert_eq!(
        error("DATAFLOW,NOTE,OBS_VALUE\nX,\"ab\"c,1\n"),
        SdmxError::StrayQuote { line: 2 }
    );
    assert_eq!(
        error("DATAFLOW,NOTE,OBS_VALUE\nX,\"a\nb\" ,1\n"),
        SdmxError::StrayQuote { line: 2 }
    );
}

#[test]
fn bare_carriage_return() {
    assert_eq!(
        error("DATAFLOW,OBS_VALUE\rX,1\r"),
        SdmxError::BareCarriageReturn { line: 1 }
    );
    assert_eq!(
        error("DATAFLOW,OBS_VALUE\nX,1\nX,2\r"),
        SdmxError::BareCarriageReturn { line: 3 }
    );
    // Inside quotes a lone CR is content.
    assert_eq!(summary("DATAFLOW,N,OBS_VALUE\nX,\"a\rb\",1\n").rows, 1);
}

#[test]
fn no_data_rows() {
    for input in [
        "DATAFLOW,OBS_VALUE\n",
        "DATAFLOW,OBS_VALUE",
        "DATAFLOW,OBS_VALUE\r\n",
        "DATAFLOW,OBS_VALUE\n\n",
        "DATAFLOW,OBS_VALUE\n\n\n",
    ] {
        let err = error(input);
        assert_eq!(err, SdmxError::NoDataRows { line: 2 }, "{input:?}");
        assert_eq!(err.to_string(), "line 2: no data rows");
    }
    // A header spanning lines 1-2.
    assert_eq!(
        error("DATAFLOW,\"OBS\nNOTE\",OBS_VALUE\n"),
        SdmxError::NoDataRows { line: 3 }
    );
}

#[test]
fn blank_lines() {
    // Empty lines at the end are ignored.
    assert_eq!(summary(&format!("{SAMPLE_1_0}\n")).rows, 1);
    assert_eq!(summary(&format!("{SAMPLE_1_0}\n\n")).rows, 1);
    assert_eq!(summary(&format!("{SAMPLE_1_0}\r\n\n\r\n")).rows, 1);
    // An empty line before another record is a record of 0 fields.
    let err = error("DATAFLOW,OBS_VALUE\nX,1\n\nX,2\n");
    assert_eq!(
        err,
        SdmxError::FieldCount {
            line: 3,
            expected: 2,
            found: 0
        }
    );
    assert_eq!(err.to_string(), "line 3: expected 2 fields, found 0");
    assert_eq!(
        error("DATAFLOW,OBS_VALUE\n\nX,1\n"),
        SdmxError::FieldCount {
            line: 2,
            expected: 2,
            found: 0
        }
    );
    // ... even when the record after it is bad in another way.
    for after in ["X,\"open", "X,a\"b\n", "Y,\r", "X,\n", "\r\n\r\nX,1"] {
        assert_eq!(
            error(&format!("DATAFLOW,OBS_VALUE\nX,1\n\r\n\n{after}")),
            SdmxError::FieldCount {
                line: 3,
                expected: 2,
                found: 0
            },
            "{after:?}"
        );
    }
    // A line holding only whitespace or quotes is not empty.
    assert_eq!(
        error("DATAFLOW,OBS_VALUE\nX,1\n \n"),
        SdmxError::FieldCount {
            line: 3,
            expected: 2,
            found: 1
        }
    );
}

#[test]
fn failed_validator_repeats_its_error() {
    let mut v = SdmxValidator::new();
    let err = v.feed(b"nope,OBS_VALUE\n").err();
    assert!(err.is_some());
    assert_eq!(v.feed(SAMPLE_1_0.as_bytes()).err(), err);
    assert_eq!(v.finish().err(), err);
}

#[test]
fn sniffing() {
    assert!(looks_like_sdmx(SAMPLE_2_0.as_bytes()));
    assert!(looks_like_sdmx(SAMPLE_1_0.as_bytes()));
    assert!(looks_like_sdmx(b"\xEF\xBB\xBFDATAFLOW,OBS_VALUE"));
    assert!(looks_like_sdmx(b"\"STRUCTURE\",\"STRUCTURE_ID\""));
    assert!(!looks_like_sdmx(b"DATAFLOW"));
    assert!(!looks_like_sdmx(b"REF_AREA,OBS_VALUE\n"));
    assert!(!looks_like_sdmx(b"\xEF\xBBDATAFLOW,"));
    assert!(!looks_like_sdmx(b""));
    assert!(!looks_like_sdmx(b"structure,"));
}

#[path = "syntax_props.rs"]
mod props;
