//! Validation of SDMX-CSV data against a structure (docs/design.md section 8): each check has a file
//! that passes it and one that fails it. The structure is the one pysdmx wrote
//! (`fixtures/pysdmx/structure.json`): dataflow BPX:DF_MIG_STOCK(1.0) with dimensions FREQ
//! (A, Q, M), REF_AREA (THA, MMR, KHM, LAO), SEX (F, M, _T) and TIME_PERIOD, an optional
//! integer OBS_VALUE, an optional OBS_STATUS (A, E) and a mandatory UNIT_MEASURE (PS).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_protocol::sdmx::{
    DataValidator, MAX_REPORTED_ERRORS, StructureSet, ValidationReport, parse_structure_message,
    validate_data,
};

const STRUCTURE: &str = include_str!("fixtures/pysdmx/structure.json");
const HEADER: &str = "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MEASURE\n";
const ROW: &str = "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,905000,E,PS\n";

fn structure() -> StructureSet {
    parse_structure_message(STRUCTURE.as_bytes()).unwrap()
}

/// Validates whole and byte by byte (the answer must not depend on chunking).
fn check_with(set: StructureSet, data: &str) -> ValidationReport {
    let whole = validate_data(set.clone(), data.as_bytes());
    let mut bytewise = DataValidator::new(set);
    for byte in data.as_bytes() {
        bytewise.feed(std::slice::from_ref(byte));
    }
    assert_eq!(
        bytewise.finish(),
        whole,
        "chunking changed the report for {data:?}"
    );
    whole
}

fn check(data: &str) -> ValidationReport {
    check_with(structure(), data)
}

fn passes(data: &str) {
    let report = check(data);
    assert!(report.is_valid(), "refused {data:?}:\n{report}");
}

/// The report's errors, one string each.
fn fails(data: &str) -> Vec<String> {
    let report = check(data);
    assert!(!report.is_valid(), "accepted {data:?}");
    report.errors.iter().map(ToString::to_string).collect()
}

/// A file of the header and these rows.
fn file(rows: &[&str]) -> String {
    let mut text = HEADER.to_owned();
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text
}

#[test]
fn a_good_file_passes() {
    let report = check(&format!("{HEADER}{ROW}"));
    assert!(report.is_valid(), "{report}");
    assert_eq!(report.rows, 1);
    assert_eq!(
        report.structure_id.as_deref(),
        Some("BPX:DF_MIG_STOCK(1.0)")
    );
}

#[test]
fn structure_and_structure_id_match_the_structure() {
    passes(&file(&[
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,1,,PS",
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,M,2017,1,,PS",
    ]));
    // The DSD itself may be named too.
    passes(&file(&[
        "datastructure,BPX:DSD_MIG_STOCK(1.0),I,A,THA,F,2017,1,,PS",
    ]));
    let errors = fails(&file(&[
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,1,,PS",
        "datastructure,BPX:DF_MIG_STOCK(1.0),I,A,THA,M,2017,1,,PS",
        "dataflow,BPX:DF_OTHER(1.0),I,A,THA,_T,2017,1,,PS",
    ]));
    assert_eq!(
        errors,
        [
            "line 3, column STRUCTURE: \"datastructure\" does not match the structure checked against (expected dataflow)",
            "line 4, column STRUCTURE_ID: \"BPX:DF_OTHER(1.0)\" does not match the structure checked against (expected BPX:DF_MIG_STOCK(1.0))",
        ]
    );
    // A first row naming a structure the message does not define stops the check.
    let errors = fails(&file(&["dataflow,BPX:DF_NOPE(1.0),I,A,THA,F,2017,1,,PS"]));
    assert_eq!(
        errors,
        [
            "line 2, column STRUCTURE_ID: structure \"BPX:DF_NOPE(1.0)\" is not defined in the structure message (it defines BPX:DSD_MIG_STOCK(1.0), BPX:DF_MIG_STOCK(1.0))"
        ]
    );
    let errors = fails(&file(&[
        "dataprovision,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,1,,PS",
    ]));
    assert_eq!(
        errors,
        [
            "line 2, column STRUCTURE: dataprovision structures are not supported (expected dataflow or datastructure)"
        ]
    );
}

#[test]
fn every_column_is_a_component_or_an_sdmx_csv_column() {
    passes(
        "STRUCTURE,STRUCTURE_ID,ACTION,SERIES_KEY,OBS_KEY,FREQ,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE\n\
         dataflow,BPX:DF_MIG_STOCK(1.0),I,A.THA.F,A.THA.F.2017,A,THA,F,2017,1,PS\n",
    );
    let errors = fails(
        "STRUCTURE,STRUCTURE_ID,FREQ,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE,NOTE\n\
         dataflow,BPX:DF_MIG_STOCK(1.0),A,THA,F,2017,1,PS,hello\n",
    );
    assert_eq!(
        errors,
        [
            "line 1, column NOTE: not a component of BPX:DSD_MIG_STOCK(1.0) (expected one of FREQ, REF_AREA, SEX, TIME_PERIOD, OBS_STATUS, UNIT_MEASURE, OBS_VALUE, or STRUCTURE, STRUCTURE_ID, ACTION, SERIES_KEY, OBS_KEY)"
        ]
    );
}

#[test]
fn columns_in_any_order_measures_and_attributes_absent_labels() {
    // STRUCTURE first, the rest in any order; no OBS_VALUE, no OBS_STATUS.
    passes(
        "STRUCTURE,UNIT_MEASURE,TIME_PERIOD,SEX,STRUCTURE_ID,REF_AREA,FREQ\n\
         dataflow,PS,2017,F,BPX:DF_MIG_STOCK(1.0),THA,A\n",
    );
    // A header and values written with labels.
    passes(
        "STRUCTURE,STRUCTURE_ID,FREQ: Frequency,REF_AREA: Reference area,SEX: Sex,TIME_PERIOD: Time,OBS_VALUE: Value,UNIT_MEASURE: Unit\n\
         dataflow,BPX:DF_MIG_STOCK(1.0),A: Annual,THA: Thailand,F: Female,2017,905000,PS: Persons\n",
    );
    // SDMX-CSV 1.0: the first column is DATAFLOW.
    passes(
        "DATAFLOW,FREQ,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE\nBPX:DF_MIG_STOCK(1.0),A,THA,F,2017,1,PS\n",
    );
    let errors = fails(
        "DATAFLOW,FREQ,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE\nBPX:DF_MIG_STOCK(1.0),A,THA,Female,2017,1,PS\n",
    );
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("line 2, column SEX: code \"Female\""),
        "{errors:?}"
    );
}

#[test]
fn every_dimension_is_present_and_not_empty_except_on_delete_rows() {
    passes(&file(&[
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,1,,PS",
        "dataflow,BPX:DF_MIG_STOCK(1.0),D,A,THA,,,,,",
    ]));
    let errors = fails(&file(&[
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,,2017,1,,PS",
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,MMR,F,,1,,PS",
    ]));
    assert_eq!(
        errors,
        [
            "line 2, column SEX: dimension SEX has no value (expected one on every row but D rows)",
            "line 3, column TIME_PERIOD: time dimension TIME_PERIOD has no value (expected one on every row but D rows)",
        ]
    );
    // A dimension without a column: reported once.
    let data = "STRUCTURE,STRUCTURE_ID,FREQ,REF_AREA,TIME_PERIOD,UNIT_MEASURE\n\
                dataflow,BPX:DF_MIG_STOCK(1.0),A,THA,2017,PS\n\
                dataflow,BPX:DF_MIG_STOCK(1.0),A,MMR,2017,PS\n";
    assert_eq!(
        fails(data),
        [
            "line 2, column SEX: dimension SEX has no column in the header (expected on every row but D rows)"
        ]
    );
}

#[test]
fn coded_values_are_in_their_codelist() {
    passes(&file(&[
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,Q,KHM,_T,2017-Q1,1,A,PS",
    ]));
    let errors = fails(&file(&[
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,T,2017,1,,PS",
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,VNM,F,2017,1,Z,PS",
    ]));
    assert_eq!(
        errors,
        [
            "line 2, column SEX: code \"T\" is not in codelist BPX:CL_SEX(1.0) (expected one of F, M, _T)",
            "line 3, column REF_AREA: code \"VNM\" is not in codelist BPX:CL_AREA(1.0) (expected one of THA, MMR, KHM, LAO)",
            "line 3, column OBS_STATUS: code \"Z\" is not in codelist BPX:CL_OBS_STATUS(1.0) (expected one of A, E)",
        ]
    );
}

#[test]
fn time_period_is_an_sdmx_time_period() {
    let good = [
        "2017",
        "2017-A1",
        "2017-S1",
        "2017-T2",
        "2017-Q1",
        "2017-M01",
        "2017-W01",
        "2017-D001",
        "2017-01",
        "2017-01-15",
        "2017-01-15T10:30:00",
        "2017-01-01/P1Y",
    ];
    let rows: Vec<String> = good
        .iter()
        .map(|period| format!("dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,{period},1,,PS"))
        .collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    passes(&file(&rows));
    for bad in [
        "2017-13",
        "2017-Q5",
        "17",
        "2017-02-30",
        "2017-W54",
        "last year",
    ] {
        let errors = fails(&file(&[&format!(
            "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,{bad},1,,PS"
        )]));
        assert_eq!(errors.len(), 1, "{bad}: {errors:?}");
        assert!(
            errors[0].starts_with(&format!(
                "line 2, column TIME_PERIOD: time period \"{bad}\" is not valid (expected"
            )),
            "{errors:?}"
        );
    }
}

#[test]
fn measure_values_match_their_data_type() {
    // OBS_VALUE is an optional integer: empty, NaN and #N/A stand for a missing value.
    passes(&file(&[
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,-12,,PS",
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,M,2017,,,PS",
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,MMR,F,2017,NaN,,PS",
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,MMR,M,2017,#N/A,,PS",
    ]));
    let errors = fails(&file(&[
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,1.5,,PS",
    ]));
    assert_eq!(
        errors,
        ["line 2, column OBS_VALUE: value \"1.5\" is not valid (expected a whole number in range)"]
    );
    // Made mandatory, the measure must have a value on I and R rows.
    let concept = "\"conceptIdentity\": \"urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept=BPX:CS_MIG(1.0).OBS_VALUE\"";
    let mandatory = STRUCTURE.replace(concept, &format!("\"usage\": \"mandatory\", {concept}"));
    assert_ne!(
        mandatory, STRUCTURE,
        "the fixture changed: adjust the replacement"
    );
    let set = parse_structure_message(mandatory.as_bytes()).unwrap();
    assert!(set.dsds[0].measures[0].mandatory);
    let report = check_with(
        set.clone(),
        &file(&[
            "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,NaN,,PS",
            "dataflow,BPX:DF_MIG_STOCK(1.0),A,A,THA,M,2017,,E,",
        ]),
    );
    let errors: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "line 2, column OBS_VALUE: mandatory measure OBS_VALUE has no value (expected one on I and R rows)"
        ]
    );
}

#[test]
fn action_is_one_of_i_a_m_r_d() {
    passes(&file(&[
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,1,,PS",
        "dataflow,BPX:DF_MIG_STOCK(1.0),A,A,THA,M,2017,,E,",
        "dataflow,BPX:DF_MIG_STOCK(1.0),M,A,MMR,F,2017,2,,",
        "dataflow,BPX:DF_MIG_STOCK(1.0),R,A,MMR,M,2017,3,,PS",
        "dataflow,BPX:DF_MIG_STOCK(1.0),D,A,KHM,F,2017,,,",
        "dataflow,BPX:DF_MIG_STOCK(1.0),,A,KHM,M,2017,4,,PS",
    ]));
    assert_eq!(
        fails(&file(&[
            "dataflow,BPX:DF_MIG_STOCK(1.0),X,A,THA,F,2017,1,,PS"
        ])),
        ["line 2, column ACTION: \"X\" is not an SDMX-CSV action (expected one of I, A, M, R, D)"]
    );
}

#[test]
fn mandatory_attributes_are_present_except_on_m_a_and_d_rows() {
    passes(&file(&[
        "dataflow,BPX:DF_MIG_STOCK(1.0),M,A,THA,F,2017,1,,",
        "dataflow,BPX:DF_MIG_STOCK(1.0),A,A,THA,M,2017,,E,",
        "dataflow,BPX:DF_MIG_STOCK(1.0),D,A,MMR,F,2017,,,",
    ]));
    assert_eq!(
        fails(&file(&[
            "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,1,,",
            "dataflow,BPX:DF_MIG_STOCK(1.0),R,A,THA,M,2017,1,,",
        ])),
        [
            "line 2, column UNIT_MEASURE: mandatory attribute UNIT_MEASURE has no value (expected one on I and R rows)",
            "line 3, column UNIT_MEASURE: mandatory attribute UNIT_MEASURE has no value (expected one on I and R rows)",
        ]
    );
    // Without a column at all: reported once, at the first row that needs it.
    let data = "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE\n\
                dataflow,BPX:DF_MIG_STOCK(1.0),M,A,THA,F,2017,1\n\
                dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,M,2017,1\n\
                dataflow,BPX:DF_MIG_STOCK(1.0),I,A,MMR,M,2017,1\n";
    assert_eq!(
        fails(data),
        [
            "line 3, column UNIT_MEASURE: attribute UNIT_MEASURE has no column in the header (expected on I and R rows)"
        ]
    );
}

#[test]
fn no_two_rows_share_a_series_key_and_time_period() {
    passes(&file(&[
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,1,,PS",
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2015,1,,PS",
        "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,M,2017,1,,PS",
    ]));
    assert_eq!(
        fails(&file(&[
            "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,1,,PS",
            "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,M,2017,1,,PS",
            "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,2,,PS",
        ])),
        [
            "line 4: series key A.THA.F and time period 2017 already appear on an earlier row (expected each once)"
        ]
    );
}

#[test]
fn lines_are_physical_lines_and_errors_stop_at_twenty() {
    // A quoted field spanning lines moves the following line numbers.
    let data = "STRUCTURE,STRUCTURE_ID,FREQ,REF_AREA,SEX,TIME_PERIOD,UNIT_MEASURE,OBS_STATUS\n\
                \"dataflow\",\"BPX:DF_MIG_STOCK(1.0)\",A,THA,F,2017,PS,\"E\"\n\
                dataflow,BPX:DF_MIG_STOCK(1.0),A,\"TH\nA\",M,2017,PS,E\n\
                dataflow,BPX:DF_MIG_STOCK(1.0),A,MMR,X,2017,PS,E\n";
    assert_eq!(
        fails(data),
        [
            "line 3, column REF_AREA: code \"TH\\nA\" is not in codelist BPX:CL_AREA(1.0) (expected one of THA, MMR, KHM, LAO)",
            "line 5, column SEX: code \"X\" is not in codelist BPX:CL_SEX(1.0) (expected one of F, M, _T)",
        ]
    );
    let bad_rows: Vec<String> = (0..25)
        .map(|i| {
            format!(
                "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,{},1,,XX",
                1990 + i
            )
        })
        .collect();
    let bad_rows: Vec<&str> = bad_rows.iter().map(String::as_str).collect();
    let report = check(&file(&bad_rows));
    assert_eq!(report.errors.len(), MAX_REPORTED_ERRORS);
    assert_eq!(report.more_errors, 5);
    assert_eq!(report.error_count(), 25);
    let text = report.to_string();
    assert_eq!(text.lines().count(), 21);
    assert!(text.ends_with("\n... and 5 more errors"), "{text}");
    assert!(
        text.starts_with("line 2, column UNIT_MEASURE: code \"XX\""),
        "{text}"
    );
}

#[test]
fn malformed_records_stop_the_check() {
    let report = check(&format!(
        "{HEADER}{ROW}dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,M,20\"17,1,,PS\n"
    ));
    let errors: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "line 3: stray double quote in a field; enclose the whole field in quotes and double each quote inside it"
        ]
    );
    assert_eq!(
        fails(&format!("{HEADER}dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA\n")),
        ["line 2: expected 10 fields, found 5"]
    );
    assert_eq!(fails(HEADER), ["line 2: no data rows"]);
    assert_eq!(
        fails(""),
        ["line 1: the file is empty; expected an SDMX-CSV header"]
    );
}
