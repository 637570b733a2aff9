//! The federation charter adopted by real daemons (docs/design.md section 9): three founders
//! write, sign and adopt version 1 through a file; the roster follows it, so a `members`
//! release of one founder is pulled by another without anyone running `members add`; charters
//! that are not valid are refused with one line; a second valid version 1 is a fork that fails
//! `audit` until the operator adopts one of the two.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::Path;

use datapact_tests::cli::charter::{adopt, found, founder_arg, init_charter, sign, status};
use datapact_tests::cli::peers::{listen_addr, pull};
use datapact_tests::cli::{Cli, Node, assert_error, parse_json};
use serde_json::{Value, json};

/// The binary under test.
const DATAPACT: Cli = Cli::new(env!("CARGO_BIN_EXE_datapact"));

fn text(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The header of every released test file.
const HEADER: &str = "country,year,value\n";

/// Releases `rows` as NAME to the `members` audience; the dataset id.
fn release_members(node: &Node, name: &str, rows: &str) -> String {
    let data = node.path(&format!("{name}.csv"));
    fs::write(&data, format!("{HEADER}{rows}")).unwrap();
    let args = [
        "release",
        text(&data),
        "--name",
        name,
        "--title",
        name,
        "--policy",
        "members",
    ];
    node.run_ok(&args).trim().to_owned()
}

/// `federation adopt FILE` that must fail with exit 1; the one-line message.
fn adopt_fails(node: &Node, file: &Path) -> String {
    assert_error(&node.run(&["federation", "adopt", text(file)]), 1)
}

#[test]
fn three_founders_adopt_a_charter_and_pull_members_releases_without_members_add() {
    let tha = Node::running(DATAPACT, "THA");
    let mmr = Node::running(DATAPACT, "MMR");
    let khm = Node::running(DATAPACT, "KHM");
    // Released while THA knows no other member: its backlog reaches MMR once the charter adds it.
    let early = release_members(&tha, "early", "THA,2016,880000\n");
    let file = tha.path("charter.cose");
    init_charter(&tha, &[&mmr, &khm], "bali-process", 2, &file);

    let unsigned = adopt_fails(&tha, &file);
    assert!(
        unsigned.contains("not signed by founding member"),
        "{unsigned}"
    );
    sign(&tha, &file);
    let partly = adopt_fails(&mmr, &file);
    assert!(partly.contains("not signed by founding member"), "{partly}");
    assert_eq!(status(&mmr)["version"], Value::Null, "nothing adopted");
    sign(&mmr, &file);
    sign(&khm, &file);
    for node in [&tha, &mmr, &khm] {
        adopt(node, &file);
    }

    let members: Vec<Value> = [&khm, &mmr, &tha]
        .iter()
        .map(|n| json!({"code": n.member(), "peer_id": n.peer_id(), "addrs": [listen_addr(n)]}))
        .collect();
    let expected = json!({
        "federation": "bali-process",
        "version": 1,
        "threshold": 2,
        "members": members,
        "pending": [],
        "fork": null,
    });
    for node in [&tha, &mmr, &khm] {
        assert_eq!(
            status(node),
            expected,
            "{}'s federation status",
            node.member()
        );
    }
    let listed = tha.json(&["members", "list"]);
    let listed: Vec<(&str, &str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let field = |f: &str| m[f].as_str().unwrap();
            (field("member"), field("peer_id"), field("source"))
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            ("KHM", khm.peer_id().as_str(), "charter"),
            ("MMR", mmr.peer_id().as_str(), "charter"),
        ]
    );

    for (id, rows) in [
        (early, "THA,2016,880000\n"),
        (
            release_members(&tha, "stock", "THA,2017,905000\n"),
            "THA,2017,905000\n",
        ),
    ] {
        let out = mmr.path("pulled.csv");
        pull(&mmr, &id, &["--out", text(&out)]);
        assert_eq!(fs::read_to_string(&out).unwrap(), format!("{HEADER}{rows}"));
        fs::remove_file(&out).unwrap();
    }
    assert_eq!(mmr.json(&["audit"])["ok"], true);

    let remove = assert_error(&tha.run(&["members", "remove", "MMR"]), 2);
    assert!(
        remove.contains("datapact federation propose remove MMR"),
        "{remove}"
    );
    let add = assert_error(&tha.run(&["members", "add", "MMR", &mmr.peer_id()]), 2);
    assert!(add.contains("charter"), "{add}");
    assert_eq!(tha.json(&["members", "list"]).as_array().unwrap().len(), 2);
}

#[test]
fn garbage_and_out_of_rule_charters_get_one_line_errors_and_change_nothing() {
    let tha = Node::running(DATAPACT, "THA");
    let mmr = Node::init(DATAPACT, "MMR");
    let garbage = tha.path("garbage.cose");
    fs::write(&garbage, b"\xd8\x62 not a charter at all").unwrap();
    let signed = assert_error(&tha.run(&["federation", "sign", text(&garbage)]), 2);
    assert!(signed.contains("garbage.cose"), "{signed}");
    let adopted = adopt_fails(&tha, &garbage);
    assert!(adopted.contains("not adopted"), "{adopted}");
    assert_eq!(
        fs::read(&garbage).unwrap(),
        b"\xd8\x62 not a charter at all"
    );

    let out = tha.path("charter.cose");
    let mmr_founder = founder_arg(&mmr);
    let same_key = format!("KHM={}", tha.peer_id());
    let refused: [(&[&str], &str); 5] = [
        (
            &["--threshold", "1", "--founder", &mmr_founder],
            "more than half",
        ),
        (
            &["--threshold", "3", "--founder", &mmr_founder],
            "more than half",
        ),
        (
            &["--threshold", "2", "--founder", "THA=12D3KooWnotapeer"],
            "--founder",
        ),
        (
            &[
                "--threshold",
                "2",
                "--founder",
                &format!("THA={}", mmr.peer_id()),
            ],
            "listed twice",
        ),
        (
            &["--threshold", "2", "--founder", &same_key],
            "listed twice",
        ),
    ];
    for (args, why) in refused {
        let mut all = vec!["federation", "init", "bali-process"];
        all.extend_from_slice(args);
        all.extend(["--out", text(&out)]);
        let message = assert_error(&tha.run(&all), 2);
        assert!(message.contains(why), "{all:?}: {message}");
        assert!(!out.exists(), "{all:?} wrote the file");
    }
    assert_eq!(status(&tha)["federation"], Value::Null);
}

#[test]
fn a_second_valid_version_1_is_a_fork_that_fails_audit_until_one_is_adopted() {
    let tha = Node::running(DATAPACT, "THA");
    let mmr = Node::init(DATAPACT, "MMR");
    let khm = Node::init(DATAPACT, "KHM");
    // Each a valid version 1 of the same federation: every founder it lists signed it.
    let signed_by_all = |others: &[&Node], threshold: u64, name: &str| {
        let file = tha.path(name);
        init_charter(&tha, others, "bali-process", threshold, &file);
        let mut id = String::new();
        for node in [&tha].into_iter().chain(others.iter().copied()) {
            let out = node.json(&["federation", "sign", text(&file)]);
            id = out["id"].as_str().unwrap().to_owned();
        }
        (file, id)
    };
    let (first, first_id) = signed_by_all(&[&mmr, &khm], 2, "first.cose");
    let (second, second_id) = signed_by_all(&[&mmr, &khm], 3, "second.cose");
    adopt(&tha, &first);
    assert_eq!(tha.json(&["audit"])["ok"], true);

    let forked = adopt_fails(&tha, &second);
    assert!(forked.contains("signed twice"), "{forked}");
    let mut ids = vec![first_id.clone(), second_id.clone()];
    ids.sort();
    let now = status(&tha);
    assert_eq!(now["fork"], json!({"version": 1, "ids": ids}));
    assert_eq!(now["threshold"], 2, "the charter adopted first stays");
    let audit = tha.run(&["audit", "--json"]);
    assert_eq!(audit.status.code(), Some(1));
    let report = parse_json(&audit);
    assert!(
        report["failures"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("fork"),
        "{report}"
    );

    let (third, _) = signed_by_all(&[&mmr], 2, "third.cose");
    let unrelated = adopt_fails(&tha, &third);
    assert!(unrelated.contains("resolved first"), "{unrelated}");

    adopt(&tha, &second);
    let resolved = status(&tha);
    assert_eq!(resolved["fork"], Value::Null);
    assert_eq!(resolved["threshold"], 3);
    assert_eq!(tha.json(&["audit"])["ok"], true);
}

#[test]
fn founding_helper_gives_every_founder_the_same_charter() {
    let tha = Node::running(DATAPACT, "THA");
    let mmr = Node::running(DATAPACT, "MMR");
    found(&[&tha, &mmr], "pair", 2);
    assert_eq!(status(&tha), status(&mmr));
}
