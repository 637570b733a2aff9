//! `init` and `id` through the real binary: `init` changes nothing when it refuses and sets
//! the mode only of a directory it created or found empty; `id --json` says whether the daemon
//! answered, and once it has, the listen addresses are the ones it actually bound.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::Instant;

use datapact_tests::cli::{Cli, Node, Reaped, assert_error, assert_success};
use datapact_tests::daemon::{sigterm, wait_deadline};
use datapact_tests::{DEADLINE, LISTEN};
use serde_json::Value;

/// The binary under test.
const DATAPACT: Cli = Cli::new(env!("CARGO_BIN_EXE_datapact"));

/// Every permission bit of `path`, including setuid, setgid and sticky.
fn full_mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// `datapact --dir DIR init --member THA --listen 127.0.0.1:0`.
fn init(dir: &Path) -> Output {
    DATAPACT
        .at(dir)
        .args(["init", "--member", "THA", "--listen", LISTEN])
        .output()
        .unwrap()
}

/// Sorted names of everything directly in `dir`.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn init_refusing_an_initialised_directory_leaves_its_mode_alone() {
    let tha = Node::init(DATAPACT, "THA");
    let key = fs::read(tha.key_file()).unwrap();
    // Say the operator shared the directory, sticky bit and all: a refused init keeps that.
    set_mode(tha.dir(), 0o1777);
    let message = assert_error(&init(tha.dir()), 2);
    assert!(
        message.contains("already holds a node identity"),
        "{message}"
    );
    assert_eq!(full_mode(tha.dir()), 0o1777, "mode unchanged");
    assert_eq!(fs::read(tha.key_file()).unwrap(), key, "key unchanged");
}

#[test]
fn init_refuses_a_non_empty_directory_without_identity_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shared");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("notes.txt"), "someone else's file\n").unwrap();
    set_mode(&dir, 0o1777);
    let message = assert_error(&init(&dir), 2);
    assert!(message.contains("not empty"), "{message}");
    assert_eq!(full_mode(&dir), 0o1777, "mode unchanged");
    assert_eq!(entries(&dir), ["notes.txt"], "nothing created");
}

#[test]
fn init_makes_a_new_or_empty_directory_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, existing_mode) in [("empty-0755", 0o755), ("empty-1777", 0o1777)] {
        let dir = tmp.path().join(name);
        fs::create_dir(&dir).unwrap();
        set_mode(&dir, existing_mode);
        assert_success(&init(&dir), "init");
        assert_eq!(full_mode(&dir), 0o700, "{name}");
        assert!(dir.join("identity.key").is_file());
    }
    let dir = tmp.path().join("new/node");
    assert_success(&init(&dir), "init");
    assert_eq!(full_mode(&dir), 0o700);
}

fn assert_bound(id: &Value) {
    let listen = id["listen"].as_array().expect("listen is an array");
    assert!(!listen.is_empty(), "{id}");
    for addr in listen {
        let addr = addr.as_str().expect("multiaddr text");
        let port: u16 = addr
            .strip_prefix("/ip4/127.0.0.1/tcp/")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("a TCP address on 127.0.0.1: {addr}"));
        assert_ne!(port, 0, "a real port once the daemon answers: {id}");
    }
}

#[test]
fn id_says_whether_the_daemon_runs_and_then_shows_bound_ports() {
    let mut tha = Node::init(DATAPACT, "THA");
    let offline = tha.json(&["id"]);
    assert_eq!(offline["running"], false, "{offline}");
    assert_eq!(offline["listen"], serde_json::json!([LISTEN]));
    assert_eq!(offline["public_key"].as_str().unwrap().len(), 64);
    let text = tha.run_ok(&["id"]);
    assert!(text.contains("not running"), "{text}");

    // What a script does: start the daemon, poll `id --json` until `running`, read the
    // addresses. The first answer that says running already has the real port.
    let mut daemon = Reaped(Some(tha.spawn_daemon()));
    let deadline = Instant::now() + DEADLINE;
    let online = loop {
        let id = tha.json(&["id"]);
        if id["running"] == true {
            break id;
        }
        assert_eq!(id["running"], false, "running is a bool: {id}");
        let exited = daemon.0.as_mut().unwrap().try_wait().unwrap();
        assert!(exited.is_none(), "the daemon exited: {}", tha.daemon_log());
        assert!(Instant::now() < deadline, "the daemon never answered");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_bound(&online);
    assert_eq!(online["peer_id"], offline["peer_id"]);
    assert_eq!(online["public_key"], offline["public_key"]);
    let text = tha.run_ok(&["id"]);
    assert!(
        text.contains("running") && !text.contains("not running"),
        "{text}"
    );

    // Stopped again: the configured addresses, and `running` false.
    let mut child = daemon.0.take().unwrap();
    assert!(sigterm(child.id()));
    let status = wait_deadline(&mut child, DEADLINE).expect("daemon stops");
    assert!(status.success(), "{}", tha.daemon_log());
    assert_eq!(tha.json(&["id"])["running"], false);
}
