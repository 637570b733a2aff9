//! Versions and audiences, through the real binary: a new version of a name that reaches
//! members some earlier version did not reach is refused (exit 2, nothing stored, no version
//! number used) unless `--widen`; narrowing is always allowed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_tests::cli::{Cli, Node, assert_error, assert_success};
use serde_json::Value;

/// The binary under test.
const DATAPACT: Cli = Cli::new(env!("CARGO_BIN_EXE_datapact"));

/// Name of the dataset released in several versions.
const NAME: &str = "trafficking";

/// A running THA whose roster lists `members` (nodes initialised only for their PeerIds).
fn tha_with_roster(members: &[&str]) -> (Node, Vec<Node>) {
    let mut tha = Node::init(DATAPACT, "THA");
    tha.start_daemon();
    let others: Vec<Node> = members.iter().map(|m| Node::init(DATAPACT, m)).collect();
    for other in &others {
        tha.run_ok(&["members", "add", &other.member(), &other.peer_id()]);
    }
    (tha, others)
}

/// `release FILE --name trafficking --policy POLICY EXTRA...`, a new small file each time.
fn release(node: &Node, policy: &str, extra: &[&str]) -> std::process::Output {
    let n = node.datasets().len();
    let file = node.path(&format!("victims-{n}.csv"));
    std::fs::write(&file, format!("year,victims\n2017,{}\n", 100 + n)).unwrap();
    let mut args = vec![
        "release",
        file.to_str().unwrap(),
        "--name",
        NAME,
        "--title",
        "Identified victims of trafficking",
        "--policy",
        policy,
    ];
    args.extend_from_slice(extra);
    node.run(&args)
}

/// A release that must succeed; returns the printed id.
fn released(node: &Node, policy: &str, extra: &[&str]) -> String {
    let out = release(node, policy, extra);
    assert_success(&out, &format!("release --policy {policy} {extra:?}"));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// What a refused release must leave as it was: the listing and the blob directory.
fn stored(node: &Node) -> (Value, Vec<String>, Vec<String>) {
    (
        node.json(&["datasets"]),
        node.blob_names(),
        node.blob_temp_files(),
    )
}

/// A release that must be refused with exit 2 and change nothing; returns the message.
fn refused(node: &Node, policy: &str) -> String {
    let before = stored(node);
    let message = assert_error(&release(node, policy, &[]), 2);
    assert_eq!(stored(node), before, "a refused release stored something");
    assert!(message.contains("--widen"), "points to --widen: {message}");
    message
}

#[test]
fn widening_is_refused_without_widen_and_accepted_with_it() {
    let (tha, _others) = tha_with_roster(&["AUS", "MMR"]);
    assert_eq!(released(&tha, "only:AUS", &[]), "THA/trafficking@1");

    // MMR would see version 2 and so learn that version 1 exists.
    let message = refused(&tha, "members");
    assert!(message.contains("1 earlier version "), "{message}");
    assert!(message.contains("@1"), "{message}");
    let message = refused(&tha, "only:AUS,MMR");
    assert!(message.contains("1 earlier version "), "{message}");

    // --widen accepts it, and the refusals used no version number.
    assert_eq!(released(&tha, "members", &["--widen"]), "THA/trafficking@2");
    let v2 = tha.dataset("THA/trafficking@2").expect("version 2 listed");
    assert_eq!(v2["policy"], "members", "{v2}");
    assert_eq!(tha.datasets().len(), 2);

    // `public` reaches peers outside the roster, which neither version reached.
    let message = refused(&tha, "public");
    assert!(message.contains("2 earlier versions "), "{message}");
    assert!(message.contains("@1, @2"), "{message}");
}

#[test]
fn narrowing_and_equal_audiences_are_accepted() {
    let (tha, _others) = tha_with_roster(&["AUS", "MMR"]);
    assert_eq!(released(&tha, "public", &[]), "THA/trafficking@1");
    assert_eq!(released(&tha, "members", &[]), "THA/trafficking@2");
    assert_eq!(released(&tha, "members", &[]), "THA/trafficking@3");
    assert_eq!(released(&tha, "only:MMR,AUS", &[]), "THA/trafficking@4");
    assert_eq!(released(&tha, "only:MMR", &[]), "THA/trafficking@5");
    assert_eq!(released(&tha, "only:MMR", &[]), "THA/trafficking@6");
    // Back to all members: AUS never had version 5 or 6.
    let message = refused(&tha, "members");
    assert!(message.contains("2 earlier versions "), "{message}");
    assert!(message.contains("@5, @6"), "{message}");
}

#[test]
fn members_means_the_roster_as_it_is_now() {
    let (tha, _others) = tha_with_roster(&["MMR"]);
    assert_eq!(released(&tha, "only:MMR", &[]), "THA/trafficking@1");
    // MMR is the whole roster: `members` reaches no one that version 1 did not.
    assert_eq!(released(&tha, "members", &[]), "THA/trafficking@2");

    // AUS joins. Version 2 (`members`) reaches AUS now too; version 1 (`only:MMR`) never did.
    let aus = Node::init(DATAPACT, "AUS");
    tha.run_ok(&["members", "add", "AUS", &aus.peer_id()]);
    let message = refused(&tha, "members");
    assert!(message.contains("1 earlier version "), "{message}");
    assert!(message.contains("@1)"), "{message}");
    assert_eq!(released(&tha, "members", &["--widen"]), "THA/trafficking@3");
}
