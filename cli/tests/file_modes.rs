//! Modes of the node's files, through the real binary: under the common umask 022, every file
//! and directory that `init`, a release and a pull create under DIR (config, key, sled state,
//! blobs, partial pulls, the control socket) is owner-only; nothing relies on DIR's own mode.
//!
//! This test sets its process's umask, which the daemons it starts inherit; it is alone in its
//! test binary so that no other test runs under that mask.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use datapact_tests::cli::{Cli, Node, peers};

/// The binary under test.
const DATAPACT: Cli = Cli::new(env!("CARGO_BIN_EXE_datapact"));

/// The usual default umask: files 0644 and directories 0755 unless a program asks otherwise.
const COMMON_UMASK: u32 = 0o022;

/// Every path under `dir` (not `dir` itself) whose mode grants anything to group or others,
/// with that mode.
fn open_to_others(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(&next).unwrap() {
            let entry = entry.unwrap();
            let meta = fs::symlink_metadata(entry.path()).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                found.push((entry.path(), mode));
            }
            if meta.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    found
}

fn assert_owner_only(node: &Node, when: &str) {
    let open = open_to_others(node.dir());
    assert!(
        open.is_empty(),
        "{} {when}: readable by group or others: {open:?}",
        node.member()
    );
}

#[test]
fn nothing_under_dir_is_open_to_others_after_a_release_and_a_pull() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(COMMON_UMASK));
    let mut tha = Node::init(DATAPACT, "THA");
    let mut mmr = Node::init(DATAPACT, "MMR");
    tha.start_daemon();
    mmr.start_daemon();
    peers::introduce(&tha, &mmr);

    let file = tha.copy_sample("mgi_2016.csv");
    let id = tha.run_ok(&[
        "release",
        file.to_str().unwrap(),
        "--name",
        "mgi",
        "--title",
        "Migration Governance Index 2016",
    ]);
    peers::pull(&mmr, id.trim(), &[]);
    assert!(!tha.blob_names().is_empty() && !mmr.blob_names().is_empty());
    for node in [&tha, &mmr] {
        assert_owner_only(node, "while running");
    }

    // sled writes more files as it flushes and shuts down.
    tha.stop();
    mmr.stop();
    for node in [&tha, &mmr] {
        assert_owner_only(node, "after the daemon stopped");
    }
}
