//! Agreed structures on one node, through the real binary (docs/design.md section 8): a
//! structure message released like a dataset and listed by `structures`, SDMX-CSV data
//! validated at release against the structure they name (each check with a file that passes
//! and one that fails), refusals that store nothing, the note and the refusal when the
//! structure is not held, and `validate` offline.
//!
//! The structure of most tests is the one pysdmx wrote (`protocol/tests/fixtures/pysdmx`):
//! dataflow BPX:DF_MIG_STOCK(1.0) with dimensions FREQ (A, Q, M), REF_AREA (THA, MMR, KHM,
//! LAO), SEX (F, M, _T) and TIME_PERIOD, an optional integer OBS_VALUE, an optional OBS_STATUS
//! (A, E) and a mandatory UNIT_MEASURE (PS).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

use datapact_tests::cli::{Cli, Node, assert_error, assert_success, parse_json};
use datapact_tests::files::sha256_file;
use serde_json::{Value, json};

/// The binary under test.
const DATAPACT: Cli = Cli::new(env!("CARGO_BIN_EXE_datapact"));

const HEADER: &str =
    "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MEASURE";
const ROW: &str = "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,905000,E,PS";

/// A pysdmx fixture, `structure.json` or `structure.xml`.
fn pysdmx(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../protocol/tests/fixtures/pysdmx")
        .join(name)
}

fn running(member: &str) -> Node {
    Node::running(DATAPACT, member)
}

/// Writes `text` to `name` in the node's temp dir.
fn write(node: &Node, name: &str, text: &str) -> PathBuf {
    let path = node.path(name);
    fs::write(&path, text).unwrap();
    path
}

/// A data file of the header and these rows.
fn data(rows: &[&str]) -> String {
    let mut text = format!("{HEADER}\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text
}

/// `release FILE --name NAME --title ... [EXTRA]` that must succeed; its `--json` document
/// and its stderr.
fn release(node: &Node, file: &Path, name: &str, extra: &[&str]) -> (Value, String) {
    let mut args = vec![
        "release",
        file.to_str().unwrap(),
        "--name",
        name,
        "--title",
        "A release",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = node.run(&args);
    assert_success(&out, &args.join(" "));
    (
        parse_json(&out),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What a refusal must leave unchanged: the dataset list and the content files.
fn stored(node: &Node) -> (Vec<Value>, Vec<String>) {
    (node.datasets(), node.blob_names())
}

/// A release that must be refused with exit 2 and one error line, storing nothing; the
/// message.
fn refused(node: &Node, file: &Path, extra: &[&str]) -> String {
    let before = stored(node);
    let mut args = vec![
        "release",
        file.to_str().unwrap(),
        "--name",
        "refused",
        "--title",
        "Refused",
    ];
    args.extend_from_slice(extra);
    let message = assert_error(&node.run(&args), 2);
    assert_eq!(stored(node), before, "a refused release stored something");
    message
}

/// A node holding the pysdmx structure (JSON) as `THA/mig-structure@1`.
fn with_structure() -> Node {
    let tha = running("THA");
    let (info, _) = release(&tha, &pysdmx("structure.json"), "mig-structure", &[]);
    assert_eq!(info["id"], "THA/mig-structure@1");
    tha
}

#[test]
fn a_structure_release_records_what_it_defines_and_structures_lists_it() {
    let tha = running("THA");
    assert_eq!(tha.json(&["structures"]), json!([]));
    // Recognised by content, whatever the file is called; SDMX-ML as well as SDMX-JSON.
    let xml = tha.path("agreed-definitions.txt");
    fs::copy(pysdmx("structure.xml"), &xml).unwrap();
    let (info, stderr) = release(&tha, &xml, "mig-structure", &["--policy", "public"]);
    assert_eq!(stderr, "", "no note for a structure message");
    assert_eq!(
        info["structures"],
        json!(["BPX:DSD_MIG_STOCK(1.0)", "BPX:DF_MIG_STOCK(1.0)"])
    );
    assert!(info.get("structure").is_none(), "{info}");
    let (tip, _) = release(
        &tha,
        &tha.copy_sample("structure_tip_victims.json"),
        "tip-structure",
        &[],
    );
    assert_eq!(
        tip["structures"],
        json!(["BPX:DSD_TIP_VICTIMS(1.0.0)", "BPX:DF_TIP_VICTIMS(1.0.0)"])
    );

    let listed = tha.json(&["structures"]);
    let dimensions = json!(["FREQ", "REF_AREA", "SEX", "TIME_PERIOD"]);
    let stock = |id: &str, kind: &str, name: &str| {
        json!({"id": id, "kind": kind, "name": name, "dimensions": dimensions,
               "partial": false, "owner": "THA", "dataset": "THA/mig-structure@1"})
    };
    let tip_dimensions = json!([
        "REF_AREA",
        "CITIZENSHIP",
        "EXPLOITATION",
        "SEX",
        "TIME_PERIOD"
    ]);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert!(listed.contains(&stock(
        "BPX:DSD_MIG_STOCK(1.0)",
        "datastructure",
        "Migrant stock"
    )));
    assert!(listed.contains(&stock(
        "BPX:DF_MIG_STOCK(1.0)",
        "dataflow",
        "Migrant stock by sex"
    )));
    let tip_flow = listed
        .iter()
        .find(|s| s["id"] == "BPX:DF_TIP_VICTIMS(1.0.0)")
        .unwrap();
    assert_eq!(tip_flow["kind"], "dataflow");
    assert_eq!(tip_flow["dimensions"], tip_dimensions);
    assert_eq!(tip_flow["dataset"], "THA/tip-structure@1");
    for entry in listed {
        let mut keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "dataset",
                "dimensions",
                "id",
                "kind",
                "name",
                "owner",
                "partial"
            ],
            "{entry}"
        );
    }
    let text = tha.run_ok(&["structures"]);
    assert!(
        text.contains("BPX:DF_MIG_STOCK(1.0)") && text.contains("dataflow"),
        "{text}"
    );

    // JSON or XML that is not a structure message is a dataset like any other, even when it
    // mentions structures (an SDMX-ML data message names its structure in its header).
    let plain = write(&tha, "figures.json", "{\"figures\": [1, 2, 3]}");
    let (info, _) = release(&tha, &plain, "figures", &[]);
    assert!(info.get("structures").is_none(), "{info}");
    let data_message = write(
        &tha,
        "data.xml",
        "<message:StructureSpecificData xmlns:message=\"http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message\">\
         <message:Header><message:Structure structureID=\"X\"/></message:Header></message:StructureSpecificData>",
    );
    let (info, _) = release(&tha, &data_message, "data-message", &[]);
    assert!(info.get("structures").is_none(), "{info}");
    assert_eq!(tha.json(&["structures"]).as_array().unwrap().len(), 4);

    // A revoked structure is no longer held.
    tha.run_ok(&["revoke", "THA/tip-structure@1"]);
    assert_eq!(tha.json(&["structures"]).as_array().unwrap().len(), 2);
}

#[test]
fn data_naming_a_held_structure_are_validated_and_the_announcement_records_it() {
    let tha = with_structure();
    let file = write(&tha, "stock.csv", &data(&[ROW]));
    let (info, stderr) = release(&tha, &file, "stock", &["--require-structure"]);
    assert_eq!(stderr, "", "validated data get no note");
    let expected = json!({
        "id": "BPX:DF_MIG_STOCK(1.0)",
        "dsd": "BPX:DSD_MIG_STOCK(1.0)",
        "sha256": sha256_file(&pysdmx("structure.json")),
    });
    assert_eq!(info["structure"], expected);
    assert_eq!(info["rows"], 1);
    assert_eq!(tha.dataset("THA/stock@1").unwrap()["structure"], expected);
}

#[test]
fn data_that_fail_their_structure_are_refused_naming_line_column_value_and_expected() {
    let tha = with_structure();
    let bad = write(
        &tha,
        "bad.csv",
        &data(&[
            ROW,
            "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,T,2017-Q5,lots,,PS",
        ]),
    );
    let message = refused(&tha, &bad, &[]);
    for part in [
        "3 errors against structure BPX:DF_MIG_STOCK(1.0)",
        "line 3, column SEX: code \"T\" is not in codelist BPX:CL_SEX(1.0) (expected one of F, M, _T)",
        "line 3, column TIME_PERIOD: time period \"2017-Q5\" is not valid (expected",
        "line 3, column OBS_VALUE: value \"lots\" is not valid (expected a whole number in range)",
    ] {
        assert!(message.contains(part), "{part:?} not in {message}");
    }

    // The first 20, then a count.
    let rows: Vec<String> = (0..25)
        .map(|i| format!("dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,X{i},2017,1,,PS"))
        .collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let many = write(&tha, "many.csv", &data(&rows));
    let message = refused(&tha, &many, &[]);
    assert!(
        message.starts_with(&format!("{}: 25 errors", many.display())),
        "{message}"
    );
    assert_eq!(message.matches("column SEX: code").count(), 20, "{message}");
    assert!(
        message.contains("line 21, column SEX: code \"X19\""),
        "{message}"
    );
    assert!(!message.contains("\"X20\""), "{message}");
    assert!(message.ends_with("... and 5 more errors"), "{message}");
}

/// Each data check of the contract, at release: a file that passes and one that fails it
/// (the validator's own tests cover each check in detail; this is what the node applies).
#[test]
fn each_data_check_applies_at_release() {
    let tha = with_structure();
    let df = "dataflow,BPX:DF_MIG_STOCK(1.0)";
    let passing: Vec<(&str, String)> = vec![
        ("the DSD named", data(&[&ROW.replace(df, "datastructure,BPX:DSD_MIG_STOCK(1.0)")])),
        (
            "series and observation keys",
            format!(
                "STRUCTURE,STRUCTURE_ID,SERIES_KEY,OBS_KEY,FREQ,REF_AREA,SEX,TIME_PERIOD,UNIT_MEASURE\n\
                 {df},A.THA.F,A.THA.F.2017,A,THA,F,2017,PS\n"
            ),
        ),
        ("a delete row without dimensions", data(&[ROW, &format!("{df},D,A,THA,,,,,")])),
        ("codes of the codelists", data(&[&format!("{df},I,Q,KHM,_T,2017-Q1,1,A,PS")])),
        ("a time period", data(&[&format!("{df},I,M,THA,F,2017-M01,1,,PS")])),
        ("a missing optional measure", data(&[&format!("{df},I,A,THA,F,2017,NaN,,PS")])),
        ("every action", data(&[&format!("{df},R,A,THA,F,2017,1,,PS"), &format!("{df},M,A,THA,M,2017,2,,")])),
        ("a mandatory attribute not needed on A rows", data(&[&format!("{df},A,A,THA,F,2017,,E,")])),
        ("distinct keys", data(&[ROW, &format!("{df},I,A,THA,F,2015,1,,PS")])),
        (
            "columns in any order, measure and attributes absent",
            "STRUCTURE,UNIT_MEASURE,TIME_PERIOD,SEX,STRUCTURE_ID,REF_AREA,FREQ\ndataflow,PS,2017,F,BPX:DF_MIG_STOCK(1.0),THA,A\n".to_owned(),
        ),
        (
            "a header with labels",
            format!(
                "STRUCTURE,STRUCTURE_ID,FREQ: Frequency,REF_AREA: Reference area,SEX: Sex,TIME_PERIOD: Time,UNIT_MEASURE: Unit\n\
                 {df},A: Annual,THA: Thailand,F: Female,2017,PS: Persons\n"
            ),
        ),
        (
            "SDMX-CSV 1.0",
            "DATAFLOW,FREQ,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE\nBPX:DF_MIG_STOCK(1.0),A,THA,F,2017,1,PS\n".to_owned(),
        ),
    ];
    for (i, (what, text)) in passing.iter().enumerate() {
        let file = write(&tha, &format!("pass-{i}.csv"), text);
        let (info, stderr) = release(&tha, &file, &format!("pass-{i}"), &["--require-structure"]);
        assert_eq!(
            info["structure"]["dsd"], "BPX:DSD_MIG_STOCK(1.0)",
            "{what}: {info}"
        );
        assert_eq!(stderr, "", "{what}");
    }
    let failing: Vec<(&str, String)> = vec![
        (
            "does not match the structure checked against (expected dataflow)",
            data(&[ROW, &ROW.replacen("dataflow", "datastructure", 1)]),
        ),
        (
            "line 1, column NOTE: not a component of BPX:DSD_MIG_STOCK(1.0)",
            format!("{HEADER},NOTE\n{ROW},hello\n"),
        ),
        (
            "line 2, column SEX: dimension SEX has no value",
            data(&[&format!("{df},I,A,THA,,2017,1,,PS")]),
        ),
        (
            "line 2, column REF_AREA: code \"VNM\" is not in codelist BPX:CL_AREA(1.0)",
            data(&[&format!("{df},I,A,VNM,F,2017,1,,PS")]),
        ),
        (
            "line 2, column TIME_PERIOD: time period \"2017-13\" is not valid",
            data(&[&format!("{df},I,A,THA,F,2017-13,1,,PS")]),
        ),
        (
            "line 2, column OBS_VALUE: value \"1.5\" is not valid (expected a whole number in range)",
            data(&[&format!("{df},I,A,THA,F,2017,1.5,,PS")]),
        ),
        (
            "line 2, column ACTION: \"X\" is not an SDMX-CSV action (expected one of I, A, M, R, D)",
            data(&[&format!("{df},X,A,THA,F,2017,1,,PS")]),
        ),
        (
            "line 2, column UNIT_MEASURE: mandatory attribute UNIT_MEASURE has no value",
            data(&[&format!("{df},I,A,THA,F,2017,1,,")]),
        ),
        (
            "line 3: series key A.THA.F and time period 2017 already appear on an earlier row",
            data(&[ROW, ROW]),
        ),
        (
            "line 2, column STRUCTURE: dataprovision structures are not supported",
            data(&[&ROW.replacen("dataflow", "dataprovision", 1)]),
        ),
        (
            // A quoted field over two lines: lines are physical lines of the file.
            "line 4, column SEX: code \"Female\"",
            format!(
                "{HEADER}\n{df},I,A,THA,F,2017,1,\"A\nE\",PS\n{df},I,A,MMR,Female,2017,1,,PS\n"
            ),
        ),
    ];
    for (i, (expected, text)) in failing.iter().enumerate() {
        let file = write(&tha, &format!("fail-{i}.csv"), text);
        let message = refused(&tha, &file, &[]);
        assert!(message.contains(expected), "{expected:?} not in {message}");
    }
}

#[test]
fn a_structure_not_held_gets_the_syntax_check_and_a_note_unless_one_is_required() {
    let mut tha = Node::init(DATAPACT, "THA");
    tha.start_daemon();
    let file = write(&tha, "stock.csv", &data(&[ROW]));
    let (info, stderr) = release(&tha, &file, "stock", &[]);
    assert_eq!(
        stderr.trim_end(),
        "note: structure BPX:DF_MIG_STOCK(1.0) is not held here; checked SDMX-CSV syntax only"
    );
    assert!(info.get("structure").is_none(), "{info}");
    assert_eq!(info["sdmx_structure"], "BPX:DF_MIG_STOCK(1.0)");
    // The syntax check still refuses a malformed row.
    let cut = write(
        &tha,
        "cut.csv",
        &data(&[ROW, "dataflow,BPX:DF_MIG_STOCK(1.0),I,A"]),
    );
    assert!(refused(&tha, &cut, &[]).contains("line 3"));
    // Required, by flag or by config: refused.
    let message = refused(&tha, &file, &["--require-structure"]);
    assert!(
        message.contains("structure BPX:DF_MIG_STOCK(1.0) is not held here"),
        "{message}"
    );
    tha.stop();
    let config = tha.node_path("config.toml");
    let text = fs::read_to_string(&config).unwrap();
    assert!(text.contains("require_structure = false"), "{text}");
    fs::write(
        &config,
        text.replace("require_structure = false", "require_structure = true"),
    )
    .unwrap();
    tha.start_daemon();
    let message = refused(&tha, &file, &[]);
    assert!(message.contains("is not held here"), "{message}");
    // Once the structure is released, the same file goes through, validated.
    release(&tha, &pysdmx("structure.json"), "mig-structure", &[]);
    let (info, _) = release(&tha, &file, "stock", &[]);
    assert_eq!(info["structure"]["id"], "BPX:DF_MIG_STOCK(1.0)");
}

/// `text` with the first `from` replaced by `to`, which must occur.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the fixture");
    text.replacen(from, to, 1)
}

/// `text` with the second `from` replaced by `to`.
fn edit_second(text: &str, from: &str, to: &str) -> String {
    let first = text.find(from).expect("in the fixture") + from.len();
    let second = first + text[first..].find(from).expect("twice in the fixture");
    format!("{}{to}{}", &text[..second], &text[second + from.len()..])
}

#[test]
fn structure_messages_that_are_not_valid_or_contradict_held_ones_are_refused() {
    let tha = with_structure();
    let json = fs::read_to_string(pysdmx("structure.json")).unwrap();
    let cases = [
        (
            "an unresolved codelist",
            edit(&json, "\"id\": \"CL_SEX\"", "\"id\": \"CL_GENDER\""),
            "data.dataStructures[0].dataStructureComponents.dimensionList.dimensions[2].localRepresentation.enumeration: codelist urn:sdmx:org.sdmx.infomodel.codelist.Codelist=BPX:CL_SEX(1.0) is not defined in the message",
        ),
        (
            "a DSD held with other components",
            // The second OBS_STATUS is the attribute of the DSD (the first, its concept).
            edit_second(&json, "\"id\": \"OBS_STATUS\"", "\"id\": \"OBS_CONF\""),
            "data.dataStructures[0]: data structure BPX:DSD_MIG_STOCK(1.0) is already held with different components",
        ),
        (
            "a codelist that contradicts the held one",
            edit(&json, "\"id\": \"LAO\"", "\"id\": \"VNM\""),
            "data.codelists[1]: codelist BPX:CL_AREA(1.0) contradicts the one already held",
        ),
        (
            "a partial codelist with a code the full one lacks",
            edit(
                &edit(&json, "\"id\": \"LAO\"", "\"id\": \"VNM\""),
                "\"id\": \"CL_AREA\",",
                "\"id\": \"CL_AREA\", \"isPartial\": true,",
            ),
            "data.codelists[1]: codelist BPX:CL_AREA(1.0) contradicts the one already held",
        ),
    ];
    let cases = cases.into_iter().chain([
        (
            "an SDMX-ML 2.1 structure message",
            fs::read_to_string(pysdmx("structure.xml"))
                .unwrap()
                .replace("/v3_0/", "/v2_1/"),
            "SDMX-ML 2.x structure messages are not supported",
        ),
        (
            "malformed JSON",
            // Cut short after it says it holds data structures.
            json[..json.find("dataStructures").unwrap() + 100].to_owned(),
            "not a valid SDMX structure message: malformed JSON",
        ),
        (
            "an ill-formed id",
            edit(
                &json,
                "\"id\": \"DSD_MIG_STOCK\"",
                "\"id\": \"DSD MIG STOCK\"",
            ),
            "data.dataStructures[0]: id \"DSD MIG STOCK\" is not well-formed",
        ),
        (
            "a structure message that defines no DSD",
            "{\"data\": {\"dataStructures\": []}}".to_owned(),
            "it defines no data structure definition",
        ),
    ]);
    for (what, text, expected) in cases {
        let file = write(&tha, "structure.json", &text);
        let message = refused(&tha, &file, &[]);
        assert!(
            message.contains(expected),
            "{what}: {expected:?} not in {message}"
        );
    }
    // A dataflow held with another DSD: a second DSD (and a dataflow of its own) first, then
    // a message in which the held dataflow uses it.
    let v2 = json
        .replace("DSD_MIG_STOCK", "DSD_MIG_STOCK_V2")
        .replace("DF_MIG_STOCK", "DF_MIG_STOCK_V2");
    release(&tha, &write(&tha, "v2.json", &v2), "mig-structure-v2", &[]);
    let moved = json.replace("DSD_MIG_STOCK", "DSD_MIG_STOCK_V2");
    let message = refused(&tha, &write(&tha, "moved.json", &moved), &[]);
    assert!(
        message.contains(
            "data.dataflows[0]: dataflow BPX:DF_MIG_STOCK(1.0) is already held with structure BPX:DSD_MIG_STOCK(1.0)"
        ),
        "{message}"
    );
    // A concept missing from the message only loses its name.
    let mut document: Value = serde_json::from_str(&json).unwrap();
    let removed = document["data"]
        .as_object_mut()
        .unwrap()
        .remove("conceptSchemes");
    assert!(
        removed.is_some(),
        "the fixture changed: it has no concept schemes"
    );
    let file = write(&tha, "no-concepts.json", &document.to_string());
    let (info, _) = release(&tha, &file, "mig-structure-no-concepts", &[]);
    assert_eq!(
        info["structures"],
        json!(["BPX:DSD_MIG_STOCK(1.0)", "BPX:DF_MIG_STOCK(1.0)"])
    );
    // A partial codelist that is a subset of the held one is accepted, and data are
    // checked against the codes it lists.
    let partial = edit(
        &json,
        "\"id\": \"CL_AREA\",",
        "\"id\": \"CL_AREA\", \"isPartial\": true,",
    );
    let partial = partial.replace("DF_MIG_STOCK", "DF_MIG_STOCK_P");
    let file = write(&tha, "partial.json", &partial);
    release(&tha, &file, "mig-structure-partial", &[]);
    let listed = tha.json(&["structures"]);
    let flow = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "BPX:DF_MIG_STOCK_P(1.0)")
        .unwrap();
    assert_eq!(flow["partial"], true, "{flow}");
}

#[test]
fn validate_checks_a_file_offline_with_exit_codes_0_1_and_2() {
    // No daemon, not even a node directory.
    let tha = Node::init(DATAPACT, "THA");
    let structure = pysdmx("structure.xml");
    let good = write(&tha, "good.csv", &data(&[ROW]));
    let out = tha.run(&[
        "validate",
        good.to_str().unwrap(),
        "--structure",
        structure.to_str().unwrap(),
    ]);
    assert_success(&out, "validate good");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("valid: "), "{text}");
    assert!(
        text.contains("BPX:DF_MIG_STOCK(1.0)") && text.contains("1 row"),
        "{text}"
    );

    let bad = write(
        &tha,
        "bad.csv",
        &data(&[ROW, "dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,T,2017,1,,PS"]),
    );
    let args = [
        "validate",
        bad.to_str().unwrap(),
        "--structure",
        structure.to_str().unwrap(),
    ];
    let out = tha.run(&args);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "line 3, column SEX: code \"T\" is not in codelist BPX:CL_SEX(1.0) (expected one of F, M, _T)"
    );
    assert!(
        lines[1].starts_with("invalid: ") && lines[1].contains("1 error in 2 rows"),
        "{text}"
    );

    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = tha.run(&json_args);
    assert_eq!(out.status.code(), Some(1));
    let report = parse_json(&out);
    assert_eq!(report["valid"], false);
    assert_eq!(report["rows"], 2);
    assert_eq!(report["error_count"], 1);
    assert_eq!(report["structure_id"], "BPX:DF_MIG_STOCK(1.0)");
    assert_eq!(report["dsd"], "BPX:DSD_MIG_STOCK(1.0)");
    assert_eq!(
        report["errors"][0],
        json!({"line": 3, "column": "SEX",
               "message": "code \"T\" is not in codelist BPX:CL_SEX(1.0) (expected one of F, M, _T)"})
    );

    // Unreadable input: exit 2, one error line.
    let missing = tha.path("missing.csv");
    let out = tha.run(&[
        "validate",
        missing.to_str().unwrap(),
        "--structure",
        structure.to_str().unwrap(),
    ]);
    assert!(assert_error(&out, 2).contains("missing.csv"));
    let out = tha.run(&[
        "validate",
        good.to_str().unwrap(),
        "--structure",
        good.to_str().unwrap(),
    ]);
    assert!(assert_error(&out, 2).contains("not an SDMX structure message"));
    let broken = write(
        &tha,
        "broken.json",
        &fs::read_to_string(pysdmx("structure.json"))
            .unwrap()
            .replace("\"id\": \"CL_SEX\"", "\"id\": \"CL_GENDER\""),
    );
    let out = tha.run(&[
        "validate",
        good.to_str().unwrap(),
        "--structure",
        broken.to_str().unwrap(),
    ]);
    assert!(assert_error(&out, 2).contains("is not defined in the message"));
}
