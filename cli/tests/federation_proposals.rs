//! Changing the charter by a quorum through real daemons (docs/design.md section 9): three
//! founders (threshold 2) admit a fourth member with `federation propose add`, each signer
//! running `approve` on a copy that the previous signer wrote with `export` and it merged with
//! `import`. Signed by one founder and the newcomer it stays pending; once a second founder signs
//! it is adopted, and every node that imports it adopts it too. A node signs one charter per
//! version, and a threshold out of range is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use datapact_tests::cli::charter::{adopt, approve, export, found, import, propose, status};
use datapact_tests::cli::peers::listen_addr;
use datapact_tests::cli::{Cli, Node, assert_error};
use serde_json::json;

/// The binary under test.
const DATAPACT: Cli = Cli::new(env!("CARGO_BIN_EXE_datapact"));

/// `(code, source)` of each entry of `members list --json`.
fn roster(node: &Node) -> Vec<(String, String)> {
    let listed = node.json(&["members", "list"]);
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let field = |f: &str| m[f].as_str().unwrap().to_owned();
            (field("member"), field("source"))
        })
        .collect()
}

#[test]
fn a_fourth_member_is_admitted_once_two_founders_and_the_newcomer_have_signed() {
    let tha = Node::running(DATAPACT, "THA");
    let mmr = Node::running(DATAPACT, "MMR");
    let khm = Node::running(DATAPACT, "KHM");
    let idn = Node::running(DATAPACT, "IDN");
    let charter = found(&[&tha, &mmr, &khm], "bali-process", 2);
    // The newcomer follows the federation before it is a member.
    adopt(&idn, &charter);

    let idn_addr = listen_addr(&idn);
    let idn_peer = idn.peer_id();
    let (id, said) = propose(&tha, &["add", "IDN", &idn_peer, "--addr", &idn_addr]);
    assert_eq!(id.len(), 64, "the id alone on stdout: {id:?}");
    assert!(
        said.contains("threshold raised from 2 to 3"),
        "the raised threshold is said on stderr: {said}"
    );
    let pending = &status(&tha)["pending"];
    assert_eq!(
        *pending,
        json!([{"id": id, "version": 2, "change": format!("add IDN {idn_peer}, threshold 2 -> 3"),
                "signatures": 1, "needed": 2}])
    );

    // THA and the newcomer: one founder is not k(1) = 2 of version 1.
    let proposal = export(&tha, &id, "proposal.cose");
    assert_eq!(import(&idn, &proposal)["signatures"], 1);
    let by_idn = approve(&idn, &id);
    assert_eq!(
        by_idn,
        json!({"id": id, "version": 2, "signatures": 2, "needed": 1, "adopted": false})
    );
    let proposal = export(&idn, &id, "proposal.cose");
    let at_mmr = import(&mmr, &proposal);
    assert_eq!(
        (&at_mmr["signatures"], &at_mmr["adopted"]),
        (&json!(2), &json!(false))
    );
    assert_eq!(status(&mmr)["version"], 1, "not adopted with one founder");

    // A second founder: valid, adopted at once.
    let by_mmr = approve(&mmr, &id);
    assert_eq!(
        by_mmr,
        json!({"id": id, "version": 2, "signatures": 3, "needed": 0, "adopted": true})
    );
    let adopted = export(&mmr, &id, "adopted.cose");
    for node in [&tha, &khm, &idn] {
        let state = import(node, &adopted);
        assert_eq!(state["adopted"], true, "{} adopts it", node.member());
    }
    let members: BTreeSet<String> = ["IDN", "KHM", "MMR", "THA"].map(String::from).into();
    for node in [&tha, &mmr, &khm, &idn] {
        let now = status(node);
        let listed: BTreeSet<String> = now["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["code"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            (&now["version"], &now["threshold"], &listed, &now["pending"]),
            (&json!(2), &json!(3), &members, &json!([])),
            "{}'s federation status",
            node.member()
        );
    }
    let charter_entry = |code: &str| (code.to_owned(), "charter".to_owned());
    assert_eq!(
        roster(&khm),
        vec![
            charter_entry("IDN"),
            charter_entry("MMR"),
            charter_entry("THA")
        ],
        "KHM's roster follows the charter"
    );
}

#[test]
fn a_node_signs_one_proposal_per_version_and_out_of_range_thresholds_are_refused() {
    let lonely = Node::running(DATAPACT, "LAO");
    let refused = assert_error(&lonely.run(&["federation", "propose", "threshold", "1"]), 2);
    assert!(refused.contains("no federation charter"), "{refused}");

    let tha = Node::running(DATAPACT, "THA");
    let mmr = Node::running(DATAPACT, "MMR");
    let khm = Node::running(DATAPACT, "KHM");
    found(&[&tha, &mmr, &khm], "bali-process", 2);
    for k in ["1", "4"] {
        let refused = assert_error(&tha.run(&["federation", "propose", "threshold", k]), 2);
        assert!(
            refused.contains("more than half"),
            "threshold {k}: {refused}"
        );
    }
    assert_eq!(status(&tha)["pending"], json!([]), "nothing proposed");

    let (removal, _) = propose(&mmr, &["remove", "KHM"]);
    let (raise, _) = propose(&tha, &["threshold", "3"]);
    let raise_file = export(&tha, &raise, "raise.cose");
    import(&mmr, &raise_file);
    let twice = assert_error(&mmr.run(&["federation", "approve", &raise]), 1);
    assert!(
        twice.contains("already signed") && twice.contains(&removal),
        "{twice}"
    );
    let again = assert_error(&mmr.run(&["federation", "propose", "threshold", "3"]), 1);
    assert!(again.contains("already signed"), "{again}");
    let listed: BTreeSet<(String, u64)> = status(&mmr)["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["signatures"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [(removal, 1), (raise.clone(), 1)].into(),
        "MMR's signature is on one"
    );

    let garbage = khm.path("garbage.cose");
    std::fs::write(&garbage, b"\xd8\x62not a charter").unwrap();
    let bad_file = assert_error(
        &khm.run(&["federation", "import", garbage.to_str().unwrap()]),
        1,
    );
    assert!(bad_file.contains("not adopted"), "{bad_file}");
    let keep = khm.path("keep.txt");
    std::fs::write(&keep, "not a digest\n").unwrap();
    let rotate = [
        "federation",
        "propose",
        "rotate",
        "KHM",
        &lonely.peer_id(),
        "--keep",
        keep.to_str().unwrap(),
    ];
    let bad_keep = assert_error(&khm.run(&rotate), 2);
    assert!(bad_keep.contains("not a sha256 hex digest"), "{bad_keep}");

    let unknown = "0".repeat(64);
    let missing = assert_error(&mmr.run(&["federation", "approve", &unknown]), 1);
    assert!(missing.contains("no pending proposal"), "{missing}");
    let garbled = assert_error(&mmr.run(&["federation", "approve", "zz"]), 2);
    assert!(garbled.contains("64 hex digits"), "{garbled}");

    // KHM has signed nothing for version 2 and may sign the raise; 3 of 3 would need MMR too.
    import(&khm, &raise_file);
    assert_eq!(
        approve(&khm, &raise),
        json!({"id": raise, "version": 2, "signatures": 2, "needed": 1, "adopted": false})
    );
    assert_eq!(status(&khm)["threshold"], 2, "nothing adopted");
}
