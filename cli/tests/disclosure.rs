//! Disclosure control at release (docs/design.md section 10), through the real binary and real
//! daemons: `release --suppress-below N` stores and serves only the protected table (checked at
//! a second node that pulls it over libp2p), `--dry-run` stores nothing, the owner alone knows
//! which cells were primary, and every refusal exits 2 and stores nothing. The protection
//! itself (patterns, proofs, loss) is tested in `protocol/tests/disclosure_*.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use datapact_tests::cli::peers::{introduce, pull, wait_catalog_entry};
use datapact_tests::cli::{Cli, Node, assert_error};
use datapact_tests::files::sha256_file;
use serde_json::{Value, json};

/// The binary under test.
const DATAPACT: Cli = Cli::new(env!("CARGO_BIN_EXE_datapact"));
/// The trafficking sample and its structure (which has CONF_STATUS).
const TIP: &str = "trafficking_victims_tha_2017.csv";
const TIP_STRUCTURE: &str = "structure_tip_victims.json";
/// The threshold of every protected release here.
const N: &str = "5";

/// Releases `file` as `name` with `extra` options; the `--json` result.
fn release(node: &Node, file: &Path, name: &str, extra: &[&str]) -> Value {
    let mut args = vec!["release", file.to_str().unwrap(), "--name", name];
    args.extend_from_slice(&["--title", name]);
    args.extend_from_slice(extra);
    node.json(&args)
}

/// Runs a release that must be refused with exit 2; its message.
fn refused(node: &Node, file: &Path, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["release", file.to_str().unwrap(), "--name", name];
    args.extend_from_slice(&["--title", name]);
    args.extend_from_slice(extra);
    assert_error(&node.run(&args), 2)
}

/// A node that runs and holds the trafficking structure.
fn owner_with_structure() -> Node {
    let tha = Node::running(DATAPACT, "THA");
    release(&tha, &tha.copy_sample(TIP_STRUCTURE), "tip-structure", &[]);
    tha
}

/// An SDMX-CSV table as (CITIZENSHIP, EXPLOITATION) -> (OBS_VALUE, CONF_STATUS or "").
fn cells(csv: &str) -> BTreeMap<(String, String), (String, String)> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |id: &str| header.iter().position(|h| *h == id);
    let (citizenship, exploitation) = (at("CITIZENSHIP").unwrap(), at("EXPLOITATION").unwrap());
    let (value, status) = (at("OBS_VALUE").unwrap(), at("CONF_STATUS"));
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let key = (f[citizenship].to_owned(), f[exploitation].to_owned());
            let conf = status.map_or("", |s| f[s]).to_owned();
            (key, (f[value].to_owned(), conf))
        })
        .collect()
}

/// The sample's cells with 0 < count < 5.
fn small_counts() -> Vec<(String, String)> {
    let original = fs::read_to_string(datapact_tests::files::sample(TIP)).unwrap();
    cells(&original)
        .into_iter()
        .filter(|(_, (v, _))| (1..5).contains(&v.parse::<u64>().unwrap()))
        .map(|(key, _)| key)
        .collect()
}

/// Checks that `protected` is the sample protected at 5: CONF_STATUS added last, every small
/// count empty with `C`, every published value the original one with `F`. Returns how many
/// cells are empty.
fn assert_protected_sample(protected: &str) -> usize {
    let original = fs::read_to_string(datapact_tests::files::sample(TIP)).unwrap();
    let header = original.lines().next().unwrap();
    assert_eq!(
        protected.lines().next().unwrap(),
        format!("{header},CONF_STATUS")
    );
    let (before, after) = (cells(&original), cells(protected));
    assert_eq!(before.len(), after.len());
    for key in small_counts() {
        assert_eq!(after[&key], (String::new(), "C".to_owned()), "{key:?}");
    }
    let mut empty = 0;
    for (key, (value, status)) in &after {
        match status.as_str() {
            "C" => {
                assert_eq!(value, "", "{key:?} is confidential but has a value");
                empty += 1;
            }
            "F" => assert_eq!(value, &before[key].0, "{key:?} changed"),
            other => panic!("{key:?}: CONF_STATUS {other:?}"),
        }
    }
    empty
}

/// The primary cells as the owner's record lists them: (CITIZENSHIP, EXPLOITATION).
fn primary_keys(protection: &Value) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = protection["primary_cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|cell| {
            let code = |d: &str| cell[d].as_str().unwrap().to_owned();
            assert_eq!(cell["REF_AREA"], "THA", "{cell}");
            (code("CITIZENSHIP"), code("EXPLOITATION"))
        })
        .collect();
    keys.sort();
    keys
}

#[test]
fn a_dry_run_prints_the_protected_table_and_stores_nothing() {
    let tha = owner_with_structure();
    let (datasets, blobs) = (tha.datasets(), tha.blob_names());
    let file = tha.copy_sample(TIP);
    let args = ["--suppress-below", N, "--dry-run"];
    let dry = release(&tha, &file, "tip", &args);
    let empty = assert_protected_sample(dry["table"].as_str().unwrap());
    let p = &dry["protection"];
    assert_eq!(p["threshold"], 5);
    assert_eq!(p["primary"], 7);
    assert_eq!(p["suppressed_cells"], empty);
    assert_eq!(
        p["primary"].as_u64().unwrap() + p["secondary"].as_u64().unwrap(),
        empty as u64
    );
    assert!(p["suppressed_value"].as_u64().unwrap() >= 1 + 1 + 2 + 2 + 3 + 3 + 4);
    assert_eq!(primary_keys(p), small_counts());
    assert_eq!(dry["structure"]["id"], "BPX:DF_TIP_VICTIMS(1.0.0)");

    // The text form: the table, then the summary.
    let mut text_args = vec!["release", file.to_str().unwrap(), "--name", "tip"];
    text_args.extend_from_slice(&["--title", "tip", "--suppress-below", N, "--dry-run"]);
    let text = tha.run_ok(&text_args);
    assert!(text.starts_with(dry["table"].as_str().unwrap()), "{text}");
    assert!(
        text.contains("dry run: nothing stored or announced"),
        "{text}"
    );
    let loss = format!(
        "protected: counts below 5: 7 primary, {} secondary; information lost: {empty} cells, total value {}",
        p["secondary"], p["suppressed_value"]
    );
    assert!(text.contains(&loss), "{text}");

    assert_eq!(tha.datasets(), datasets);
    assert_eq!(tha.blob_names(), blobs);
    // --dry-run alone is a usage error.
    let out = tha.run(&[
        "release",
        file.to_str().unwrap(),
        "--name",
        "tip",
        "--title",
        "t",
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(tha.datasets(), datasets);
}

#[test]
fn only_the_protected_table_leaves_the_owner_and_only_the_owner_knows_the_primary_cells() {
    let mut mmr = Node::init(DATAPACT, "MMR");
    let tha = owner_with_structure();
    mmr.start_daemon();
    introduce(&tha, &mmr);
    let file = tha.copy_sample(TIP);
    let released = release(
        &tha,
        &file,
        "tip",
        &["--suppress-below", N, "--policy", "only:MMR"],
    );
    let id = released["id"].as_str().unwrap().to_owned();
    let suppressed = released["protection"]["suppressed_cells"].clone();
    let disclosure = json!({"rule": "min-count", "threshold": 5, "suppressed": suppressed});
    assert_eq!(released["disclosure"], disclosure);
    assert_eq!(primary_keys(&released["protection"]), small_counts());
    // The unprotected file is not in the owner's store either.
    assert!(!tha.blob_names().contains(&sha256_file(&file)));

    // The receiver sees that the table was protected, and how, but not which cells were small.
    let entry = wait_catalog_entry(&mmr, &id);
    assert_eq!(entry["disclosure"], disclosure);
    assert!(entry.get("protection").is_none(), "{entry}");
    let catalog_text = mmr.run_ok(&["catalog"]);
    let note = format!(
        "{id}: protected at release (min-count, counts below 5): {suppressed} cells confidential"
    );
    assert!(catalog_text.contains(&note), "{catalog_text}");

    // What the receiver pulls over libp2p is the protected table, nothing else.
    let copy: PathBuf = mmr.path("tip.csv");
    pull(&mmr, &id, &["--out", copy.to_str().unwrap()]);
    let protected = fs::read_to_string(&copy).unwrap();
    let empty = assert_protected_sample(&protected);
    assert_eq!(suppressed, empty);
    let held = mmr.dataset(&id).unwrap();
    assert_eq!(held["disclosure"], disclosure);
    assert!(held.get("protection").is_none(), "{held}");
    assert!(!mmr.run_ok(&["datasets", "--json"]).contains("primary"));
    assert!(mmr.run_ok(&["datasets"]).contains(&note));

    // The owner's own listing keeps which cells were primary.
    let own = tha.dataset(&id).unwrap();
    assert_eq!(own["disclosure"], disclosure);
    assert_eq!(primary_keys(&own["protection"]), small_counts());
    assert_eq!(own["sha256"], held["sha256"]);
}

/// A one-dimensional SDMX-CSV table of `SEX` codes and counts, whose structure is not held.
fn sex_table(node: &Node, file: &str, rows: &[(&str, &str)]) -> PathBuf {
    let mut text = String::from("STRUCTURE,STRUCTURE_ID,ACTION,SEX,OBS_VALUE\n");
    for (code, value) in rows {
        text.push_str(&format!("dataflow,BPX:DF_X(1.0),I,{code},{value}\n"));
    }
    let path = node.path(file);
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_version_that_earlier_versions_would_give_away_is_refused() {
    let tha = Node::running(DATAPACT, "THA");
    // Version 1 published the total, version 2 two of the three parts: the third follows.
    release(
        &tha,
        &sex_table(&tha, "v1.csv", &[("_T", "30")]),
        "sex",
        &[],
    );
    release(
        &tha,
        &sex_table(&tha, "v2.csv", &[("B", "7"), ("C", "20")]),
        "sex",
        &[],
    );
    let (datasets, blobs) = (tha.datasets(), tha.blob_names());
    let full = sex_table(
        &tha,
        "v3.csv",
        &[("A", "3"), ("B", "7"), ("C", "20"), ("_T", "30")],
    );
    let message = refused(&tha, &full, "sex", &["--suppress-below", N]);
    assert!(
        message.contains("cell SEX=A would be disclosed by difference with version 2"),
        "{message}"
    );
    assert_eq!(tha.datasets(), datasets);
    assert_eq!(tha.blob_names(), blobs);
    // Another name has no earlier versions: the same table is protected.
    let fresh = release(&tha, &full, "sex-fresh", &["--suppress-below", N]);
    assert_eq!(fresh["disclosure"]["threshold"], 5);
}

#[test]
fn bad_tables_and_thresholds_are_refused_and_store_nothing() {
    let tha = owner_with_structure();
    let (datasets, blobs) = (tha.datasets(), tha.blob_names());
    let sample = fs::read_to_string(tha.copy_sample(TIP)).unwrap();
    let variant = |file: &str, from: &str, to: &str| {
        let changed = sample.replacen(from, to, 1);
        assert_ne!(changed, sample, "the sample changed: adjust {from:?}");
        let path = tha.path(file);
        fs::write(&path, changed).unwrap();
        path
    };
    let file = tha.path(TIP);
    let cases: Vec<(PathBuf, &str, String)> = vec![
        (
            file.clone(),
            "1",
            "--suppress-below must be at least 2, got 1".into(),
        ),
        (
            file.clone(),
            "0",
            "--suppress-below must be at least 2, got 0".into(),
        ),
        (
            variant(
                "contradicts.csv",
                ",MMR,_T,_T,2017,63,",
                ",MMR,_T,_T,2017,64,",
            ),
            N,
            "the table contradicts its own totals: ".into(),
        ),
        (
            variant(
                "fraction.csv",
                ",KHM,SEXUAL,_T,2017,7,",
                ",KHM,SEXUAL,_T,2017,7.5,",
            ),
            N,
            "line 8".into(),
        ),
    ];
    for (path, n, expected) in cases {
        let message = refused(&tha, &path, "tip", &["--suppress-below", n]);
        assert!(message.contains(&expected), "{expected:?} not in {message}");
    }
    // A negative count, in a table whose structure is not held (syntax check only).
    let negative = sex_table(
        &tha,
        "negative.csv",
        &[("A", "-2"), ("B", "7"), ("_T", "5")],
    );
    let message = refused(&tha, &negative, "neg", &["--suppress-below", N]);
    assert!(
        message.contains("line 2: OBS_VALUE \"-2\" is negative"),
        "{message}"
    );
    // A file that is not a table of counts at all.
    let plain = tha.path("notes.txt");
    fs::write(&plain, "not a table\n").unwrap();
    let message = refused(&tha, &plain, "notes", &["--suppress-below", N]);
    assert!(
        message.contains("protects an SDMX-CSV table of counts"),
        "{message}"
    );
    assert_eq!(tha.datasets(), datasets);
    assert_eq!(tha.blob_names(), blobs);
}

#[test]
fn data_whose_structure_has_no_conf_status_are_refused() {
    let tha = Node::running(DATAPACT, "THA");
    // The migrant stock sample's structure without its CONF_STATUS attribute.
    let sample = fs::read(tha.copy_sample("structure_mig_stock.json")).unwrap();
    let mut structure: Value = serde_json::from_slice(&sample).unwrap();
    let attributes = structure["data"]["dataStructures"][0]["dataStructureComponents"]
        ["attributeList"]["attributes"]
        .as_array_mut()
        .unwrap();
    attributes.retain(|a| a["id"] != "CONF_STATUS");
    let without = tha.path("structure_without_conf_status.json");
    fs::write(&without, serde_json::to_vec(&structure).unwrap()).unwrap();
    release(&tha, &without, "stock-structure", &[]);
    let (datasets, blobs) = (tha.datasets(), tha.blob_names());
    let stock = tha.copy_sample("migrant_stock_2015_2017.csv");
    let message = refused(&tha, &stock, "stock", &["--suppress-below", N]);
    assert!(
        message.contains("structure BPX:DSD_MIG_STOCK(1.0.0) has no CONF_STATUS attribute"),
        "{message}"
    );
    assert_eq!(tha.datasets(), datasets);
    assert_eq!(tha.blob_names(), blobs);
}
