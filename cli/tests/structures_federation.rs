//! A structure travels with the data (docs/design.md section 8), between two real daemons over
//! real libp2p on 127.0.0.1: a structure written by pysdmx (an independent SDMX
//! implementation; `.ci/run` writes the fixtures again with the newest pysdmx before running
//! this test) is released by THA, pulled by MMR and used there to validate data, MMR's own
//! release and THA's pulled data alike; data whose structure MMR does not hold, or holds as
//! another message, are kept with a note instead of being checked against the wrong
//! definition; `catalog`, `datasets` and `audit` show and check what was recorded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use datapact_tests::cli::peers::{introduce, wait_catalog_entry, wait_for};
use datapact_tests::cli::{Cli, Node, assert_error, parse_json};
use datapact_tests::files::sha256_file;
use serde_json::{Value, json};

/// The binary under test.
const DATAPACT: Cli = Cli::new(env!("CARGO_BIN_EXE_datapact"));

/// A pysdmx fixture, `structure.json` or `structure.xml`.
fn pysdmx(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../protocol/tests/fixtures/pysdmx")
        .join(name)
}

const STOCK: &str = "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MEASURE\n\
                     dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,905000,E,PS\n\
                     dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,M,2017,1050000,,PS\n";

/// `release FILE --name NAME --title ... --json` that must succeed.
fn release(node: &Node, file: &Path, name: &str) -> Value {
    node.json(&[
        "release",
        file.to_str().unwrap(),
        "--name",
        name,
        "--title",
        name,
    ])
}

/// Waits until `id` is in `node`'s catalogue, then pulls it with `--json` until the owner
/// answers; the successful run.
fn pull(node: &Node, id: &str) -> Output {
    wait_catalog_entry(node, id);
    wait_for(&format!("{} to pull {id}", node.member()), || {
        let out = node.run(&["pull", id, "--json"]);
        out.status.success().then_some(out)
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim_end().to_owned()
}

#[test]
fn a_pysdmx_structure_released_by_one_member_validates_data_at_another() {
    let (mut tha, mut mmr) = (Node::init(DATAPACT, "THA"), Node::init(DATAPACT, "MMR"));
    tha.start_daemon();
    mmr.start_daemon();
    introduce(&tha, &mmr);
    let xml_sha = sha256_file(&pysdmx("structure.xml"));

    // THA proposes the structure, as pysdmx wrote it in SDMX-ML 3.0, and releases data
    // checked against it; also the MGI sample with its structure.
    let xml = tha.path("structure.xml");
    fs::copy(pysdmx("structure.xml"), &xml).unwrap();
    release(&tha, &xml, "mig-structure");
    let stock = tha.path("stock.csv");
    fs::write(&stock, STOCK).unwrap();
    let recorded = json!({"id": "BPX:DF_MIG_STOCK(1.0)", "dsd": "BPX:DSD_MIG_STOCK(1.0)",
                          "sha256": xml_sha});
    assert_eq!(release(&tha, &stock, "stock")["structure"], recorded);
    release(
        &tha,
        &tha.copy_sample("structure_mgi.json"),
        "mgi-structure",
    );
    release(&tha, &tha.copy_sample("mgi_2016.csv"), "mgi");

    // MMR holds a message of its own that defines the same structure (consistently: only a
    // name differs), so its bytes are not those THA checked the data against.
    let json_text = fs::read_to_string(pysdmx("structure.json")).unwrap();
    let renamed = json_text.replacen("\"Migrant stock\"", "\"Migrant stock (MMR copy)\"", 1);
    assert_ne!(renamed, json_text, "the fixture changed: adjust the edit");
    let own = mmr.path("own-structure.json");
    fs::write(&own, renamed).unwrap();
    release(&mmr, &own, "own-structure");

    // The catalogue shows what each announcement recorded.
    assert_eq!(
        wait_catalog_entry(&mmr, "THA/stock@1")["structure"],
        recorded
    );
    assert_eq!(
        wait_catalog_entry(&mmr, "THA/mig-structure@1")["structures"],
        json!(["BPX:DSD_MIG_STOCK(1.0)", "BPX:DF_MIG_STOCK(1.0)"])
    );

    // Data whose structure MMR does not hold: kept, with a note.
    let out = pull(&mmr, "THA/mgi@1");
    assert_eq!(parse_json(&out)["structure_check"], "not_held");
    assert_eq!(
        stderr(&out),
        "note: structure BPX:DF_MGI(1.0.0) is not held here; the data were not validated against it"
    );
    // Data whose structure MMR holds as another message: the conflict is reported, and the
    // data are not checked against a definition they may not follow.
    let out = pull(&mmr, "THA/stock@1");
    assert_eq!(parse_json(&out)["structure_check"], "conflict");
    let note = stderr(&out);
    assert!(
        note.starts_with(
            "note: structure BPX:DF_MIG_STOCK(1.0) held here (from MMR/own-structure@1"
        ) && note.contains(&xml_sha),
        "{note}"
    );
    let audit = mmr.json(&["audit"]);
    assert_eq!(audit["ok"], true, "{audit}");
    assert!(
        audit["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == "THA/stock@1"),
        "{audit}"
    );

    // MMR pulls THA's structure: checked against its own, consistent, now held.
    let out = pull(&mmr, "THA/mig-structure@1");
    assert_eq!(parse_json(&out)["structure_check"], "held");
    assert_eq!(stderr(&out), "");
    let listed = mmr.json(&["structures"]);
    let from_tha: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["dataset"] == "THA/mig-structure@1")
        .collect();
    assert_eq!(from_tha.len(), 2, "{listed}");
    assert!(from_tha.iter().all(|s| s["owner"] == "THA"), "{listed}");
    // The audit now validates THA's data against the very message they were checked against.
    let audit = mmr.json(&["audit"]);
    assert_eq!(audit["ok"], true, "{audit}");
    assert!(
        !audit["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == "THA/stock@1"),
        "{audit}"
    );
    assert_eq!(mmr.dataset("THA/stock@1").unwrap()["structure"], recorded);

    // MMR withdraws its own copy, now that it holds THA's: its own data are then validated
    // against the structure it pulled.
    mmr.run_ok(&["revoke", "MMR/own-structure@1"]);
    let mine = mmr.path("mmr-stock.csv");
    fs::write(&mine, STOCK.replace(",THA,", ",MMR,")).unwrap();
    assert_eq!(release(&mmr, &mine, "stock")["structure"], recorded);
    let bad = mmr.path("mmr-bad.csv");
    fs::write(&bad, STOCK.replace(",M,2017,", ",X,2017,")).unwrap();
    let message = assert_error(
        &mmr.run(&[
            "release",
            bad.to_str().unwrap(),
            "--name",
            "bad",
            "--title",
            "Bad",
        ]),
        2,
    );
    assert!(
        message.contains(
            "line 3, column SEX: code \"X\" is not in codelist BPX:CL_SEX(1.0) (expected one of F, M, _T)"
        ),
        "{message}"
    );
    tha.stop();
    mmr.stop();
}
