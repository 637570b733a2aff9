//! The local commands of the real `datapact` binary, black-box, each test in its own temp dir:
//! init, daemon, id, members, release, datasets, export, verify, revoke; their exit codes, their
//! one-line errors, and that refused input stores nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use datapact_protocol::{PublicKey, SignedAnnouncement};
use datapact_tests::cli::{Cli, Node, assert_error};
use datapact_tests::daemon::wait_deadline;
use datapact_tests::files::{list_files, mode, sample, sha256_file, system_sha256sum};
use datapact_tests::{DEADLINE, LISTEN};
use serde_json::Value;

/// The binary under test.
const DATAPACT: Cli = Cli::new(env!("CARGO_BIN_EXE_datapact"));

const MGI: &str = "mgi_2016.csv";
const STOCK: &str = "migrant_stock_2015_2017.csv";
const TIP: &str = "trafficking_victims_tha_2017.csv";

/// Releases a sample under `name` with the default policy; returns the printed id.
fn release_sample(node: &Node, sample: &str, name: &str) -> String {
    let file = node.copy_sample(sample);
    let out = node.run_ok(&[
        "release",
        file.to_str().unwrap(),
        "--name",
        name,
        "--title",
        "A sample",
    ]);
    out.trim().to_owned()
}

/// Data rows of a CSV file: its non-empty lines less the header.
fn data_rows(path: &Path) -> u64 {
    let text = fs::read_to_string(path).unwrap();
    text.lines().filter(|l| !l.trim().is_empty()).count() as u64 - 1
}

/// The SDMX structure id of a CSV file: the second field of its first data row.
fn structure_id(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let row = text.lines().nth(1).unwrap();
    row.split(',').nth(1).unwrap().to_owned()
}

/// What `export ID --out BUNDLE` wrote: the announcement path and the content path.
fn export(node: &Node, id: &str, bundle: &Path) -> (String, String) {
    let out = node.run_ok(&["export", id, "--out", bundle.to_str().unwrap()]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "export prints two paths: {out:?}");
    (lines[0].to_owned(), lines[1].to_owned())
}

/// Runs `verify BUNDLE [ARGS]`; asserts that it prints `ok` and exits 0.
fn assert_verifies(node: &Node, bundle: &Path, extra: &[&str]) {
    let mut args = vec!["verify", bundle.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = node.run(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "verify failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

/// Runs `verify BUNDLE [ARGS]`; asserts that it fails with exit 1, does not say `ok`, and says
/// what failed (on stdout as the report, or as one `error: ` line on stderr). Returns the text.
fn assert_verify_fails(node: &Node, bundle: &Path, extra: &[&str]) -> String {
    let mut args = vec!["verify", bundle.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = node.run(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "verify must fail with exit 1\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert_ne!(stdout, "ok", "a failed verify must not print ok");
    if !stderr.is_empty() {
        assert_error(&out, 1);
    }
    let text = format!("{stdout} {stderr}");
    assert!(
        text.trim().len() > "error: ".len(),
        "verify must say what failed"
    );
    text
}

/// Everything a refused command must leave untouched: the listing and the blob directory.
fn stored(node: &Node) -> (Value, Vec<String>, Vec<String>) {
    (
        node.json(&["datasets"]),
        node.blob_names(),
        node.blob_temp_files(),
    )
}

#[test]
fn release_export_verify_revoke_and_rerelease() {
    let mmr = Node::init(DATAPACT, "MMR");
    let tha = Node::running(DATAPACT, "THA");
    let mmr_peer = mmr.peer_id();

    // The roster.
    let out = tha.run_ok(&["members", "add", "MMR", &mmr_peer]);
    assert!(out.contains("MMR"), "members add says what it added: {out}");
    let members = tha.json(&["members", "list"]);
    let members = members.as_array().expect("members list --json is an array");
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(members[0]["member"], "MMR");
    assert_eq!(members[0]["peer_id"], mmr_peer.as_str());
    assert_eq!(members[0]["public_key"], mmr.public_key().as_str());

    // Three releases with three policies.
    let mgi = tha.copy_sample(MGI);
    let stock = tha.copy_sample(STOCK);
    let tip = tha.copy_sample(TIP);
    let purpose = "Victim identification and return assistance";
    let out = tha.run_ok(&[
        "release",
        mgi.to_str().unwrap(),
        "--name",
        "mgi",
        "--title",
        "Migration Governance Index 2016",
        "--policy",
        "members",
    ]);
    assert_eq!(out.trim(), "THA/mgi@1");
    let out = tha.run_ok(&[
        "release",
        stock.to_str().unwrap(),
        "--name",
        "migrant-stock",
        "--title",
        "International migrant stock 2015-2017",
        "--policy",
        "public",
        "--licence",
        "CC-BY-4.0",
    ]);
    assert_eq!(out.trim(), "THA/migrant-stock@1");
    let out = tha.run_ok(&[
        "release",
        tip.to_str().unwrap(),
        "--name",
        "trafficking-victims",
        "--title",
        "Identified victims of trafficking, Thailand 2017",
        "--policy",
        "only:MMR",
        "--embargo-until",
        "2030-01-01T00:00:00Z",
        "--purpose",
        purpose,
    ]);
    assert_eq!(out.trim(), "THA/trafficking-victims@1");

    let list = tha.datasets();
    assert_eq!(list.len(), 3, "{list:?}");
    let expected = [
        ("THA/mgi@1", &mgi, "members"),
        ("THA/migrant-stock@1", &stock, "public"),
        ("THA/trafficking-victims@1", &tip, "only:MMR"),
    ];
    for (id, file, policy) in expected {
        let d = list
            .iter()
            .find(|d| d["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed: {list:?}"));
        assert_eq!(d["status"], "released", "{d}");
        assert_eq!(d["owner"], "THA", "{d}");
        assert_eq!(d["policy"], policy, "{d}");
        assert_eq!(d["size"], fs::metadata(file).unwrap().len(), "{d}");
        assert_eq!(d["sha256"], sha256_file(file).as_str(), "{d}");
        assert_eq!(d["rows"], data_rows(file), "{d}");
        assert_eq!(d["sdmx_structure"], structure_id(file).as_str(), "{d}");
        assert_eq!(
            d["file_name"],
            file.file_name().unwrap().to_str().unwrap(),
            "{d}"
        );
    }
    let d = tha.dataset("THA/migrant-stock@1").unwrap();
    assert_eq!(d["licence"], "CC-BY-4.0", "{d}");
    let d = tha.dataset("THA/trafficking-victims@1").unwrap();
    assert_eq!(d["embargo_until"], "2030-01-01T00:00:00Z", "{d}");
    assert_eq!(d["purpose"], purpose, "{d}");

    // Export and verify each; the content is the original, byte for byte, and its sha256 is
    // the one the signed announcement states.
    for (id, file, _) in expected {
        let bundle = tha.path(&format!("bundle-{}", id.replace(['/', '@'], "-")));
        let (cose, content) = export(&tha, id, &bundle);
        assert_eq!(Path::new(&cose), bundle.join("announcement.cose"));
        assert_eq!(
            Path::new(&content),
            bundle.join(file.file_name().unwrap()),
            "the content keeps its file name"
        );
        assert_verifies(&tha, &bundle, &[]);
        assert_eq!(fs::read(&content).unwrap(), fs::read(file).unwrap());
        let signed = SignedAnnouncement::decode(&fs::read(&cose).unwrap()).unwrap();
        let announced = signed.body().sha256.to_string();
        assert_eq!(sha256_file(Path::new(&content)), announced);
        assert_eq!(signed.body().id().to_string(), id);
        assert_eq!(signed.signer().to_string(), tha.public_key());
        if let Some(sum) = system_sha256sum(Path::new(&content)) {
            assert_eq!(sum, announced, "sha256sum of the exported file");
        }
    }

    // Revoke, then release the name again: version 2.
    let out = tha.run_ok(&["revoke", "THA/mgi@1", "--reason", "corrected figures"]);
    assert!(out.contains("THA/mgi@1"), "{out}");
    assert_eq!(tha.dataset("THA/mgi@1").unwrap()["status"], "revoked");
    assert_eq!(
        tha.dataset("THA/migrant-stock@1").unwrap()["status"],
        "released"
    );
    let out = tha.run_ok(&[
        "release",
        mgi.to_str().unwrap(),
        "--name",
        "mgi",
        "--title",
        "Migration Governance Index 2016, corrected",
    ]);
    assert_eq!(out.trim(), "THA/mgi@2");
    assert!(out.trim().ends_with("@2"));
    let v2 = tha.dataset("THA/mgi@2").expect("version 2 listed");
    assert_eq!(v2["status"], "released");
    assert_eq!(v2["policy"], "members", "the default policy");
    assert_eq!(tha.dataset("THA/mgi@1").unwrap()["status"], "revoked");
    assert_eq!(tha.datasets().len(), 4);
}

#[test]
fn verify_signer_must_be_the_owner() {
    let other = Node::init(DATAPACT, "MMR");
    let tha = Node::running(DATAPACT, "THA");
    let id = release_sample(&tha, STOCK, "migrant-stock");
    let bundle = tha.path("bundle");
    export(&tha, &id, &bundle);

    assert_verifies(&tha, &bundle, &["--signer", &tha.peer_id()]);
    let text = assert_verify_fails(&tha, &bundle, &["--signer", &other.peer_id()]);
    assert!(
        text.contains("signer") || text.contains("signed by"),
        "{text}"
    );

    // Verification is offline: it works where no daemon runs.
    assert_verifies(&other, &bundle, &["--signer", &tha.peer_id()]);
    let out = other.run(&[
        "verify",
        bundle.to_str().unwrap(),
        "--signer",
        "12D3KooWnope",
    ]);
    assert_error(&out, 2);
}

fn assert_id(id: &Value, node: &Node) {
    assert_eq!(id["member"], node.member().as_str(), "{id}");
    assert_eq!(id["peer_id"], node.peer_id().as_str(), "{id}");
    let key = id["public_key"].as_str().expect("public_key is text");
    assert_eq!(key.len(), 64, "{key}");
    assert!(
        key.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "public_key is lower-case hex: {key}"
    );
    // The PeerId is derived from that very key.
    let from_peer = PublicKey::from_peer_id_str(id["peer_id"].as_str().unwrap()).unwrap();
    assert_eq!(from_peer.to_string(), key);
    let listen = id["listen"].as_array().expect("listen is an array");
    assert!(!listen.is_empty(), "{id}");
    for addr in listen {
        let addr = addr.as_str().expect("multiaddr text");
        assert!(addr.starts_with("/ip4/127.0.0.1/tcp/"), "{addr}");
    }
}

#[test]
fn id_with_and_without_daemon() {
    let mut tha = Node::init(DATAPACT, "THA");
    let offline = tha.json(&["id"]);
    assert_id(&offline, &tha);
    assert_eq!(
        offline["listen"],
        serde_json::json!(["/ip4/127.0.0.1/tcp/0"])
    );

    tha.start_daemon();
    let online = tha.json(&["id"]);
    assert_id(&online, &tha);
    assert_eq!(online["public_key"], offline["public_key"]);

    // While it runs, `id` shows the addresses actually bound: the OS picked a port for
    // `/tcp/0`. (The network reports them shortly after it starts: wait for that.)
    let deadline = Instant::now() + DEADLINE;
    let bound = loop {
        let id = tha.json(&["id"]);
        let listen = id["listen"].as_array().unwrap().clone();
        if listen
            .iter()
            .all(|a| !a.as_str().unwrap().ends_with("/tcp/0"))
        {
            assert_id(&id, &tha);
            break listen;
        }
        assert!(
            Instant::now() < deadline,
            "`id` still shows no bound port: {id}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    for addr in &bound {
        let port: u16 = addr.as_str().unwrap()["/ip4/127.0.0.1/tcp/".len()..]
            .parse()
            .unwrap_or_else(|_| panic!("a TCP port: {addr}"));
        assert_ne!(port, 0);
    }

    // The text form names the same PeerId.
    let text = tha.run_ok(&["id"]);
    assert!(text.contains(&tha.peer_id()), "{text}");
    tha.stop();
}

/// Releases `mgi` first so that "nothing stored" is checked against a non-empty store, then
/// runs `release ARGS`, expects the exit code and one error line, and checks nothing changed.
fn refused_release(node: &Node, args: &[&str], code: i32) -> String {
    let before = stored(node);
    assert_eq!(before.0.as_array().unwrap().len(), 1);
    let mut all = vec!["release"];
    all.extend_from_slice(args);
    let out = node.run(&all);
    let message = assert_error(&out, code);
    assert_eq!(stored(node), before, "a refused release stored something");
    message
}

fn node_with_one_release() -> Node {
    let tha = Node::running(DATAPACT, "THA");
    assert_eq!(release_sample(&tha, MGI, "mgi"), "THA/mgi@1");
    tha
}

#[test]
fn malformed_sdmx_row_is_refused_with_its_line_number() {
    let tha = node_with_one_release();
    // Line 6 of the copy lacks its last field.
    let text = fs::read_to_string(sample(MGI)).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let cut = lines[5].rfind(',').unwrap();
    lines[5].truncate(cut);
    let bad = tha.path("mgi_bad.csv");
    fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let message = refused_release(
        &tha,
        &[bad.to_str().unwrap(), "--name", "mgi-bad", "--title", "Bad"],
        2,
    );
    assert!(message.contains("line 6"), "{message}");
    // Nor did the name get a version.
    let good = tha.copy_sample(MGI);
    let out = tha.run_ok(&[
        "release",
        good.to_str().unwrap(),
        "--name",
        "mgi-bad",
        "--title",
        "Good now",
    ]);
    assert_eq!(out.trim(), "THA/mgi-bad@1");
}

#[test]
fn missing_file_is_refused() {
    let tha = node_with_one_release();
    let missing = tha.path("no-such-file.csv");
    let message = refused_release(
        &tha,
        &[
            missing.to_str().unwrap(),
            "--name",
            "gone",
            "--title",
            "Gone",
        ],
        2,
    );
    assert!(message.contains("no-such-file.csv"), "{message}");
}

#[test]
fn unknown_policy_is_refused() {
    let tha = node_with_one_release();
    let file = tha.copy_sample(STOCK);
    let message = refused_release(
        &tha,
        &[
            file.to_str().unwrap(),
            "--name",
            "stock",
            "--title",
            "Stock",
            "--policy",
            "everyone",
        ],
        2,
    );
    assert!(message.contains("everyone"), "{message}");
}

#[test]
fn lower_case_member_code_in_policy_is_refused() {
    let tha = node_with_one_release();
    let file = tha.copy_sample(TIP);
    let message = refused_release(
        &tha,
        &[
            file.to_str().unwrap(),
            "--name",
            "tip",
            "--title",
            "TIP",
            "--policy",
            "only:mmr",
        ],
        2,
    );
    assert!(message.contains("mmr"), "{message}");
}

#[test]
fn bad_dataset_name_is_refused() {
    let tha = node_with_one_release();
    let file = tha.copy_sample(STOCK);
    let message = refused_release(
        &tha,
        &[
            file.to_str().unwrap(),
            "--name",
            "Bad_Name",
            "--title",
            "Stock",
        ],
        2,
    );
    assert!(message.contains("Bad_Name"), "{message}");
}

#[test]
fn bad_embargo_time_is_refused() {
    let tha = node_with_one_release();
    let file = tha.copy_sample(TIP);
    let message = refused_release(
        &tha,
        &[
            file.to_str().unwrap(),
            "--name",
            "tip",
            "--title",
            "TIP",
            "--policy",
            "only:MMR",
            "--embargo-until",
            "tomorrow",
        ],
        2,
    );
    assert!(message.contains("tomorrow"), "{message}");
}

#[test]
fn second_init_is_refused_and_keeps_the_key() {
    let tha = Node::init(DATAPACT, "THA");
    let key = fs::read(tha.key_file()).unwrap();
    let config = fs::read(tha.node_path("config.toml")).unwrap();
    for member in ["THA", "MMR"] {
        let out = tha.run(&["init", "--member", member, "--listen", LISTEN]);
        let message = assert_error(&out, 2);
        assert!(message.contains("already"), "{message}");
        assert_eq!(fs::read(tha.key_file()).unwrap(), key, "key unchanged");
        assert_eq!(
            fs::read(tha.node_path("config.toml")).unwrap(),
            config,
            "config unchanged"
        );
    }
    assert_eq!(tha.json(&["id"])["peer_id"], tha.peer_id().as_str());
}

/// A node with one release exported to `TMP/bundle`; returns the content file's path too.
fn exported() -> (Node, std::path::PathBuf) {
    let tha = node_with_one_release();
    let bundle = tha.path("bundle");
    let (_, content) = export(&tha, "THA/mgi@1", &bundle);
    assert_verifies(&tha, &bundle, &[]);
    (tha, content.into())
}

fn flip_byte(path: &Path, index: impl FnOnce(usize) -> usize) {
    let mut bytes = fs::read(path).unwrap();
    let i = index(bytes.len());
    bytes[i] ^= 0x01;
    fs::write(path, bytes).unwrap();
}

#[test]
fn verify_detects_a_changed_data_byte() {
    let (tha, content) = exported();
    flip_byte(&content, |len| len / 2);
    let bundle = tha.path("bundle");
    let text = assert_verify_fails(&tha, &bundle, &[]);
    assert!(text.contains("mgi_2016.csv"), "names the file: {text}");
}

#[test]
fn verify_detects_a_changed_signature_byte() {
    let (tha, _) = exported();
    let bundle = tha.path("bundle");
    flip_byte(&bundle.join("announcement.cose"), |len| len - 1);
    assert_verify_fails(&tha, &bundle, &[]);
}

#[test]
fn export_of_an_unknown_id_fails() {
    let tha = node_with_one_release();
    let out_dir = tha.path("nothing");
    let out = tha.run(&["export", "THA/nope@1", "--out", out_dir.to_str().unwrap()]);
    let message = assert_error(&out, 1);
    assert!(message.contains("THA/nope@1"), "{message}");
    assert!(
        list_files(&out_dir).is_empty(),
        "nothing exported for an unknown id"
    );
}

#[test]
fn revoke_of_an_unknown_id_fails() {
    let tha = node_with_one_release();
    let before = stored(&tha);
    let out = tha.run(&["revoke", "THA/nope@1"]);
    let message = assert_error(&out, 1);
    assert!(message.contains("THA/nope@1"), "{message}");
    assert_eq!(stored(&tha), before);
    assert_eq!(tha.dataset("THA/mgi@1").unwrap()["status"], "released");
}

#[test]
fn members_add_with_a_garbage_peer_id_is_refused() {
    let tha = Node::running(DATAPACT, "THA");
    let out = tha.run(&["members", "add", "MMR", "not-a-peer-id"]);
    let message = assert_error(&out, 2);
    assert!(message.contains("not-a-peer-id"), "{message}");
    assert_eq!(tha.json(&["members", "list"]), serde_json::json!([]));
}

/// Every daemon command fails with exit 1 and one line saying the daemon is not running.
fn assert_daemon_commands_fail(node: &Node, peer: &str) {
    let file = node.copy_sample(MGI);
    let out_dir = node.path("out");
    let commands: Vec<Vec<&str>> = vec![
        vec!["datasets"],
        vec!["datasets", "--json"],
        vec!["members", "list"],
        vec!["members", "add", "MMR", peer],
        vec![
            "release",
            file.to_str().unwrap(),
            "--name",
            "mgi",
            "--title",
            "MGI",
        ],
        vec!["export", "THA/mgi@1", "--out", out_dir.to_str().unwrap()],
        vec!["revoke", "THA/mgi@1"],
    ];
    for args in commands {
        let out = node.run(&args);
        let message = assert_error(&out, 1);
        assert!(
            message.contains("daemon is not running"),
            "`{}`: {message}",
            args.join(" ")
        );
    }
}

#[test]
fn commands_without_a_daemon_fail_with_one_line() {
    let mmr = Node::init(DATAPACT, "MMR");
    let mut tha = Node::init(DATAPACT, "THA");
    assert_daemon_commands_fail(&tha, &mmr.peer_id());

    // Also after a daemon was killed and left its socket file behind.
    tha.start_daemon();
    tha.kill9();
    assert_daemon_commands_fail(&tha, &mmr.peer_id());
}

#[test]
fn key_and_control_socket_are_owner_only() {
    let mut tha = Node::init(DATAPACT, "THA");
    assert_eq!(mode(&tha.key_file()), 0o600);
    tha.start_daemon();
    assert_eq!(mode(&tha.key_file()), 0o600);
    assert_eq!(mode(&tha.socket()), 0o600);
    tha.stop();
}

#[test]
fn daemon_refuses_a_key_that_others_can_read() {
    let mut tha = Node::init(DATAPACT, "THA");
    fs::set_permissions(tha.key_file(), fs::Permissions::from_mode(0o644)).unwrap();
    let (status, log) = tha.daemon_must_fail();
    assert!(!status.success(), "the daemon must refuse: {log}");
    let line = log
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no `error: ` line: {log}"));
    assert!(line.contains("identity.key"), "names the key file: {line}");
    assert!(line.contains("chmod 600"), "says how to fix it: {line}");
    assert!(!tha.socket().exists(), "no control socket");

    // Fixed as the message says, the daemon starts.
    fs::set_permissions(tha.key_file(), fs::Permissions::from_mode(0o600)).unwrap();
    tha.start_daemon();
    tha.stop();
}

#[test]
fn a_second_daemon_on_the_same_dir_is_refused() {
    let mut tha = Node::running(DATAPACT, "THA");
    let mut second = tha.spawn_daemon();
    let status = wait_deadline(&mut second, DEADLINE);
    let status = status.unwrap_or_else(|| {
        let _ = second.kill();
        let _ = second.wait();
        panic!("a second daemon on the same directory kept running");
    });
    assert!(!status.success());
    let log = tha.daemon_log();
    assert!(
        log.lines()
            .any(|l| l.starts_with("error: ") && l.contains("already running")),
        "{log}"
    );
    // The first one still serves.
    assert!(tha.control_answers());
    assert!(tha.daemon_running());
    tha.stop();
}

#[test]
fn sigterm_stops_cleanly_and_a_restart_keeps_the_datasets() {
    let mmr = Node::init(DATAPACT, "MMR");
    let mut tha = node_with_one_release();
    tha.run_ok(&["members", "add", "MMR", &mmr.peer_id()]);
    release_sample(&tha, STOCK, "migrant-stock");
    tha.run_ok(&["revoke", "THA/migrant-stock@1"]);
    let datasets = tha.json(&["datasets"]);
    let members = tha.json(&["members", "list"]);

    tha.stop();
    assert!(!tha.socket().exists(), "control.sock removed on shutdown");
    let log = tha.daemon_log();
    assert!(!log.contains("ERROR"), "{log}");

    tha.start_daemon();
    assert_eq!(tha.json(&["datasets"]), datasets);
    assert_eq!(tha.json(&["members", "list"]), members);
    // And it keeps counting versions where it left off.
    assert_eq!(
        release_sample(&tha, STOCK, "migrant-stock"),
        "THA/migrant-stock@2"
    );
    tha.stop();
}
