//! `datapact audit` of the real binary, black-box: with the daemon stopped, each test tampers
//! with the node directory the way an intruder with disk access would (a stored content, an
//! access-log entry, a stored announcement), restarts the daemon and checks that `audit` names
//! the problem and exits 1, in text and in JSON. A clean two-member federation audits clean.
//!
//! Tampering goes below the daemon: the blob file directly, and the node library's `Store` for
//! a stored dataset record or (through `store::tamper`) a stored access-log entry, whose bytes
//! are the CBOR `LogEntry`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::Path;
use std::process::Output;

use datapact_node::store::{LogEntry, Store, tamper};
use datapact_protocol::{Identity, SignedAnnouncement, wire};
use datapact_tests::DEADLINE;
use datapact_tests::cli::{Cli, Node, parse_json, peers};
use datapact_tests::store::open_store;
use serde_json::Value;

/// The binary under test.
const DATAPACT: Cli = Cli::new(env!("CARGO_BIN_EXE_datapact"));

/// Largest stored record the test decodes (the store's own cap).
const MAX_RECORD: usize = 1 << 20;

// ----- running the audit -----

/// What one `audit` run reported, in text and in JSON, with both exit codes.
struct Audit {
    text: String,
    text_code: Option<i32>,
    json: Value,
    json_code: Option<i32>,
}

impl Audit {
    /// Runs `audit [--strict]` and `audit [--strict] --json` on `node`.
    fn run(node: &Node, strict: bool) -> Audit {
        let mut args = vec!["audit"];
        if strict {
            args.push("--strict");
        }
        let text_out = node.run(&args);
        args.push("--json");
        let json_out = node.run(&args);
        assert_no_error_line(&text_out);
        assert_no_error_line(&json_out);
        Audit {
            text: String::from_utf8(text_out.stdout).expect("utf-8 stdout"),
            text_code: text_out.status.code(),
            json: parse_json(&json_out),
            json_code: json_out.status.code(),
        }
    }

    /// The `(id, problem)` pairs of a JSON list (`failures` or `notes`).
    fn list(&self, key: &str) -> Vec<(String, String)> {
        self.json[key]
            .as_array()
            .unwrap_or_else(|| panic!("audit --json has no `{key}` array: {}", self.json))
            .iter()
            .map(|f| {
                (
                    f["id"].as_str().expect("id").to_owned(),
                    f["problem"].as_str().expect("problem").to_owned(),
                )
            })
            .collect()
    }

    fn failures(&self) -> Vec<(String, String)> {
        self.list("failures")
    }

    fn notes(&self) -> Vec<(String, String)> {
        self.list("notes")
    }

    fn checked(&self) -> u64 {
        self.json["checked"].as_u64().expect("checked is a number")
    }

    /// Asserts the verdict "all holds": exit 0 both ways, `ok: true`, no failures.
    fn assert_clean(&self) {
        assert_eq!(self.text_code, Some(0), "audit:\n{}", self.text);
        assert_eq!(self.json_code, Some(0), "audit --json: {}", self.json);
        assert_eq!(self.json["ok"], true, "audit --json: {}", self.json);
        assert!(self.failures().is_empty(), "audit --json: {}", self.json);
        assert!(
            self.text.lines().last().unwrap_or("").starts_with("ok: "),
            "audit:\n{}",
            self.text
        );
    }

    /// Asserts the verdict "something fails": exit 1 both ways and `ok: false`.
    fn assert_failed(&self) {
        assert_eq!(self.text_code, Some(1), "audit:\n{}", self.text);
        assert_eq!(self.json_code, Some(1), "audit --json: {}", self.json);
        assert_eq!(self.json["ok"], false, "audit --json: {}", self.json);
    }

    /// Asserts exactly one failure, about `id`, whose problem contains every one of `words`;
    /// that the text report names it too; returns the problem.
    fn assert_only_failure(&self, id: &str, words: &[&str]) -> String {
        self.assert_failed();
        let failures = self.failures();
        assert_eq!(
            failures.len(),
            1,
            "expected exactly one failure, about {id}: {}",
            self.json
        );
        let (got_id, problem) = &failures[0];
        assert_eq!(got_id, id, "audit --json: {}", self.json);
        for w in words {
            assert!(
                problem.contains(w),
                "the problem {problem:?} of {id} does not say {w:?}"
            );
        }
        let line = format!("FAIL  {id}: {problem}");
        assert!(
            self.text.lines().any(|l| l == line),
            "the text report does not show {line:?}:\n{}",
            self.text
        );
        problem.clone()
    }
}

/// A failed audit is a report on stdout, not an error: stderr stays empty.
fn assert_no_error_line(out: &Output) {
    assert!(
        out.stderr.is_empty(),
        "audit wrote to stderr (exit {}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

// ----- building nodes -----

/// Writes a small distinct CSV into the test's temp dir and releases it as `name` under
/// `policy`; returns the printed dataset id.
fn release(node: &Node, name: &str, policy: &str) -> String {
    let file = node.path(&format!("{name}.csv"));
    let mut text = String::from("country,year,value\n");
    for (i, b) in name.bytes().enumerate() {
        text.push_str(&format!("{},{},{}\n", node.member(), 2000 + i, b));
    }
    fs::write(&file, text).expect("write the file to release");
    let out = node.run_ok(&[
        "release",
        file.to_str().expect("utf-8 path"),
        "--name",
        name,
        "--title",
        &format!("Test data {name}"),
        "--policy",
        policy,
    ]);
    let id = out.trim().to_owned();
    assert_eq!(
        id,
        format!("{}/{name}@1", node.member()),
        "release printed {out:?}"
    );
    id
}

/// A THA node that released three datasets, so its access log has entries 1, 2 and 3.
fn tha_with_three_releases() -> (Node, Vec<String>) {
    let node = Node::running(DATAPACT, "THA");
    let ids = ["stock", "labour", "trafficking"]
        .into_iter()
        .map(|name| release(&node, name, "members"))
        .collect();
    (node, ids)
}

/// Stops the daemon, runs `tamper` on the node directory, restarts the daemon.
fn tamper_offline(node: &mut Node, tamper: impl FnOnce(&Path)) {
    node.stop();
    tamper(node.dir());
    node.start_daemon_retrying_lock();
}

/// THA and MMR running, each in the other's roster.
fn tha_and_mmr() -> (Node, Node) {
    let tha = Node::running(DATAPACT, "THA");
    let mmr = Node::running(DATAPACT, "MMR");
    peers::introduce(&tha, &mmr);
    (tha, mmr)
}

/// Waits until `node`'s catalogue lists `id`, then pulls it (retrying while the owner is not
/// yet reachable) and checks that the catalogue says it was pulled.
fn pull(node: &Node, id: &str) {
    peers::pull(node, id, &[]);
    let entry = node.catalog().into_iter().find(|e| e["id"] == id);
    assert_eq!(
        entry.as_ref().map(|e| e["pulled"].clone()),
        Some(Value::Bool(true)),
        "catalogue entry after the pull: {entry:?}"
    );
}

// ----- tampering -----

/// The stored content of `id` in the node directory: `DIR/blobs/<sha256 hex>`.
fn blob_path(node: &Node, id: &str) -> std::path::PathBuf {
    let info = node
        .dataset(id)
        .unwrap_or_else(|| panic!("{id} not listed"));
    let sha = info["sha256"].as_str().expect("sha256");
    let path = node.node_path(&format!("blobs/{sha}"));
    assert!(path.is_file(), "no blob at {}", path.display());
    path
}

/// Flips the bits of the byte at `offset` of a file, keeping its length.
fn flip_byte(path: &Path, offset: usize) {
    let mut bytes = fs::read(path).expect("read blob");
    bytes[offset] ^= 0xff;
    fs::write(path, &bytes).expect("write blob");
}

/// Opens the node's store (the daemon must be stopped), runs `f` on it, then flushes.
fn with_store<T>(dir: &Path, f: impl FnOnce(&Store) -> T) -> T {
    let store = open_store(dir, DEADLINE).unwrap_or_else(|e| panic!("cannot open the store: {e}"));
    let out = f(&store);
    store.flush_blocking().expect("flush the store");
    out
}

/// Decodes, edits and re-stores access-log entry `seq`, exactly as stored otherwise.
fn edit_log_entry(dir: &Path, seq: u64, edit: impl FnOnce(&mut LogEntry)) {
    with_store(dir, |store| {
        let stored = tamper::log_entry_bytes(store, seq)
            .expect("read the log")
            .unwrap_or_else(|| panic!("no access-log entry {seq}"));
        let mut entry: LogEntry = wire::decode(&stored, MAX_RECORD).expect("decode LogEntry");
        assert_eq!(entry.seq, seq);
        // The test's encoding is the store's: re-encoding an untouched entry changes nothing.
        assert_eq!(
            wire::encode(&entry),
            stored,
            "LogEntry does not re-encode to its stored bytes"
        );
        edit(&mut entry);
        let altered = wire::encode(&entry);
        assert_ne!(altered, stored, "the edit changed nothing");
        tamper::overwrite_log_entry(store, seq, &altered).expect("write the log");
    });
}

/// Removes access-log entry `seq`.
fn remove_log_entry(dir: &Path, seq: u64) {
    with_store(dir, |store| {
        let removed = tamper::remove_log_entry(store, seq).expect("write the log");
        assert!(removed, "no access-log entry {seq}");
    });
}

/// Sequence numbers of the stored access log (the store reports each entry at its key).
fn log_keys(dir: &Path) -> Vec<u64> {
    with_store(dir, |store| {
        let log = store.log().expect("read the log");
        log.iter().map(|(entry, _)| entry.seq).collect()
    })
}

// ----- the tests -----

#[test]
fn a_changed_byte_of_a_stored_content_fails_its_dataset() {
    let (mut node, ids) = tha_with_three_releases();
    Audit::run(&node, false).assert_clean();
    let blob = blob_path(&node, &ids[1]);
    tamper_offline(&mut node, |_| flip_byte(&blob, 20));

    let audit = Audit::run(&node, false);
    audit.assert_only_failure(&ids[1], &["content does not match its signed digest"]);
    assert_eq!(audit.checked(), 3, "audit --json: {}", audit.json);
    assert!(
        audit.text.lines().last().unwrap_or("").contains("problem"),
        "the text summary does not report the problem:\n{}",
        audit.text
    );
}

#[test]
fn a_missing_stored_content_fails_its_dataset() {
    let (mut node, ids) = tha_with_three_releases();
    let blob = blob_path(&node, &ids[0]);
    tamper_offline(&mut node, |_| fs::remove_file(&blob).expect("remove blob"));

    let audit = Audit::run(&node, false);
    audit.assert_only_failure(&ids[0], &["content is missing"]);
}

#[test]
fn an_altered_access_log_entry_is_named() {
    let (mut node, _) = tha_with_three_releases();
    Audit::run(&node, false).assert_clean();
    tamper_offline(&mut node, |dir| {
        assert_eq!(log_keys(dir), [1, 2, 3]);
        edit_log_entry(dir, 2, |e| e.reason = Some("nothing to see here".into()));
    });

    let audit = Audit::run(&node, false);
    audit.assert_only_failure("access-log", &["access log entry 2 was altered"]);
    // `log` flags the entry whose link broke: the one after the altered one.
    let log = node.json(&["log"]);
    let intact: Vec<bool> = log
        .as_array()
        .expect("log --json is an array")
        .iter()
        .map(|l| l["intact"].as_bool().expect("intact"))
        .collect();
    assert_eq!(intact, [true, true, false], "log --json: {log}");
}

#[test]
fn an_altered_first_access_log_entry_is_named() {
    let (mut node, _) = tha_with_three_releases();
    tamper_offline(&mut node, |dir| {
        edit_log_entry(dir, 1, |e| e.granted = Some(true));
    });

    let audit = Audit::run(&node, false);
    audit.assert_only_failure("access-log", &["access log entry 1 was altered"]);
}

#[test]
fn an_altered_access_log_link_is_named() {
    let (mut node, _) = tha_with_three_releases();
    tamper_offline(&mut node, |dir| {
        edit_log_entry(dir, 2, |e| e.prev = vec![0u8; 32]);
    });

    let audit = Audit::run(&node, false);
    audit.assert_failed();
    let failures = audit.failures();
    assert!(
        failures.iter().all(|(id, _)| id == "access-log"),
        "audit --json: {}",
        audit.json
    );
    // Entry 2's bytes changed, so entry 3's link breaks: the audit names entry 2. (Entry 2's
    // own broken link is also reported, as "entry 1 was altered": see the report.)
    assert!(
        failures
            .iter()
            .any(|(_, p)| p.contains("access log entry 2 was altered")),
        "audit --json: {}",
        audit.json
    );
}

/// Known gap (see the report): the chain protects an entry only through the next entry's
/// link, and nothing holds the hash of the newest one, so editing it goes unnoticed.
#[test]
fn an_altered_last_access_log_entry_is_named() {
    let (mut node, _) = tha_with_three_releases();
    tamper_offline(&mut node, |dir| {
        edit_log_entry(dir, 3, |e| e.reason = Some("nothing to see here".into()));
    });

    let audit = Audit::run(&node, false);
    audit.assert_only_failure("access-log", &["access log entry 3 was altered"]);
}

#[test]
fn a_removed_middle_access_log_entry_is_missing() {
    let (mut node, _) = tha_with_three_releases();
    tamper_offline(&mut node, |dir| {
        remove_log_entry(dir, 2);
        assert_eq!(log_keys(dir), [1, 3]);
    });

    let audit = Audit::run(&node, false);
    let problem = audit.assert_only_failure("access-log", &["missing"]);
    assert!(
        problem.contains("before 3"),
        "the problem {problem:?} does not say where entries are missing"
    );
}

#[test]
fn a_removed_last_access_log_entry_is_missing() {
    let (mut node, _) = tha_with_three_releases();
    tamper_offline(&mut node, |dir| {
        remove_log_entry(dir, 3);
        assert_eq!(log_keys(dir), [1, 2]);
    });

    let audit = Audit::run(&node, false);
    let problem = audit.assert_only_failure("access-log", &["missing"]);
    assert!(
        problem.contains("after 2") && problem.contains('3'),
        "the problem {problem:?} does not say which entries are missing"
    );
}

#[test]
fn a_received_announcement_signed_by_another_key_fails() {
    let (mut tha, mut mmr) = tha_and_mmr();
    let id = release(&tha, "stock", "public");
    pull(&mmr, &id);
    Audit::run(&mmr, false).assert_clean();
    // THA is no longer needed: stopped, it cannot hand MMR the genuine announcement again.
    tha.stop();

    tamper_offline(&mut mmr, |dir| {
        let store = open_store(dir, DEADLINE).expect("open the store");
        let dataset_id = id.parse().expect("dataset id");
        let mut record = store
            .dataset(&dataset_id)
            .expect("read the store")
            .expect("record of the pulled dataset");
        let genuine = record
            .verified_announcement()
            .expect("the genuine announcement verifies");
        // Same owner, name, version, digest and policy; signed by a key that is not THA's.
        let stranger = Identity::from_seed(&[7u8; 32]);
        assert_ne!(&stranger.public_key(), genuine.signer());
        let forged = SignedAnnouncement::sign(genuine.body().clone(), &stranger)
            .expect("sign the forged announcement");
        assert_eq!(forged.body().owner.as_str(), "THA");
        record.announcement = forged.bytes().to_vec();
        store
            .put_dataset(&dataset_id, &record)
            .expect("write the store");
        store.flush_blocking().expect("flush the store");
    });

    let audit = Audit::run(&mmr, false);
    audit.assert_only_failure(&id, &["signed by a key that is not THA's roster key"]);
    assert_eq!(audit.checked(), 1, "audit --json: {}", audit.json);
}

#[test]
fn a_clean_federation_audits_clean_and_notes_a_revocation() {
    let (mut tha, mut mmr) = tha_and_mmr();
    let public = release(&tha, "stock", "public");
    let members = release(&tha, "labour", "members");
    let only = release(&tha, "trafficking", "only:MMR");
    for id in [&public, &members, &only] {
        pull(&mmr, id);
    }
    tha.run_ok(&["revoke", &members, "--reason", "superseded"]);
    peers::wait_for(&format!("MMR to learn that {members} is revoked"), || {
        let d = mmr.dataset(&members)?;
        (d["status"] == "revoked").then_some(())
    });

    tha.stop();
    mmr.stop();
    tha.start_daemon();
    mmr.start_daemon();

    for node in [&tha, &mmr] {
        let who = node.member();
        let audit = Audit::run(node, false);
        audit.assert_clean();
        assert_eq!(audit.checked(), 3, "{who}: audit --json: {}", audit.json);
        assert_eq!(
            audit.notes(),
            [(members.clone(), "revoked by its owner".to_owned())],
            "{who}: audit --json: {}",
            audit.json
        );
        assert!(
            audit
                .text
                .lines()
                .any(|l| l == format!("note  {members}: revoked by its owner")),
            "{who}: the text report does not note the revocation:\n{}",
            audit.text
        );

        let strict = Audit::run(node, true);
        strict.assert_only_failure(&members, &["revoked by its owner"]);
        assert_eq!(
            strict.checked(),
            3,
            "{who}: audit --strict --json: {}",
            strict.json
        );
    }
}
