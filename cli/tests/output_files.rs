//! The files the daemon writes where the user asks (`export --out DIR`, `pull --out FILE`),
//! through the real binary: a symlink that another local user planted in the output
//! directory, at the temp names the daemon once used or at the final names, is never written
//! through; `export` keeps existing files unless `--force`; and a content file name that would
//! collide with the bundle's own `announcement.cose` is refused at release.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use datapact_tests::cli::{Cli, Node, assert_error, assert_success, peers};
use datapact_tests::files::sample;

/// The binary under test.
const DATAPACT: Cli = Cli::new(env!("CARGO_BIN_EXE_datapact"));

const MGI: &str = "mgi_2016.csv";

/// A running THA that released the MGI sample as `THA/mgi@1` (`policy`).
fn tha_with_mgi(policy: &str) -> Node {
    let mut tha = Node::init(DATAPACT, "THA");
    tha.start_daemon();
    let file = tha.copy_sample(MGI);
    let out = tha.run_ok(&[
        "release",
        file.to_str().unwrap(),
        "--name",
        "mgi",
        "--title",
        "Migration Governance Index 2016",
        "--policy",
        policy,
    ]);
    assert_eq!(out.trim(), "THA/mgi@1");
    tha
}

/// The names a daemon with process id `pid` once wrote `target` through: `target` with its
/// extension replaced by `part.PID` (content) or `tmp.PID` (announcement).
fn old_temp_names(target: &Path, pid: u32) -> Vec<PathBuf> {
    ["part", "tmp"]
        .iter()
        .map(|kind| target.with_extension(format!("{kind}.{pid}")))
        .collect()
}

/// Plants a symlink at each of `paths`, pointing at `victim`.
fn plant(paths: &[PathBuf], victim: &Path) {
    for path in paths {
        symlink(victim, path).unwrap_or_else(|e| panic!("symlink {}: {e}", path.display()));
    }
}

fn assert_regular_file(path: &Path) {
    let meta = fs::symlink_metadata(path).unwrap();
    assert!(
        meta.file_type().is_file(),
        "{} is a regular file",
        path.display()
    );
}

fn assert_verifies(node: &Node, bundle: &Path) {
    let out = node.run(&["verify", bundle.to_str().unwrap()]);
    assert_success(&out, "verify");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn export_never_writes_through_a_planted_symlink() {
    let tha = tha_with_mgi("members");
    let victim = tha.key_file();
    let key = fs::read(&victim).unwrap();
    let bundle = tha.path("bundle");
    fs::create_dir(&bundle).unwrap();
    let pid = tha.daemon_pid();
    let mut traps = old_temp_names(&bundle.join(MGI), pid);
    traps.extend(old_temp_names(&bundle.join("announcement.cose"), pid));
    plant(&traps, &victim);

    tha.run_ok(&["export", "THA/mgi@1", "--out", bundle.to_str().unwrap()]);
    assert_eq!(fs::read(&victim).unwrap(), key, "the key file is unchanged");
    assert_regular_file(&bundle.join(MGI));
    assert_regular_file(&bundle.join("announcement.cose"));
    assert_verifies(&tha, &bundle);
    // No temp file of ours is left beside them: only the bundle and the planted links.
    let mut names: Vec<String> = fs::read_dir(&bundle)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2 + traps.len(), "{names:?}");
}

#[test]
fn export_keeps_existing_files_unless_forced() {
    let tha = tha_with_mgi("members");
    let victim = tha.path("victim.txt");
    fs::write(&victim, "not to be touched\n").unwrap();
    let bundle = tha.path("bundle");
    fs::create_dir(&bundle).unwrap();
    let content = bundle.join(MGI);
    let cose = bundle.join("announcement.cose");
    plant(&[content.clone(), cose.clone()], &victim);

    let out = tha.run(&["export", "THA/mgi@1", "--out", bundle.to_str().unwrap()]);
    let message = assert_error(&out, 2);
    assert!(message.contains("already exists"), "{message}");
    assert!(message.contains("--force"), "{message}");
    assert!(fs::symlink_metadata(&content).unwrap().is_symlink());
    assert!(fs::symlink_metadata(&cose).unwrap().is_symlink());
    assert_eq!(fs::read_to_string(&victim).unwrap(), "not to be touched\n");

    // Only one of the two exists: still refused, and the other is not written either.
    fs::remove_file(&cose).unwrap();
    let out = tha.run(&["export", "THA/mgi@1", "--out", bundle.to_str().unwrap()]);
    assert_error(&out, 2);
    assert!(!cose.exists(), "nothing written by a refused export");

    // --force replaces the link itself, not what it points at.
    let out = tha.run_ok(&[
        "export",
        "THA/mgi@1",
        "--out",
        bundle.to_str().unwrap(),
        "--force",
    ]);
    assert!(out.contains("announcement.cose"), "{out}");
    assert_regular_file(&content);
    assert_regular_file(&cose);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "not to be touched\n");
    assert_verifies(&tha, &bundle);

    // A second export over a complete bundle: refused without --force, done with it.
    let out = tha.run(&["export", "THA/mgi@1", "--out", bundle.to_str().unwrap()]);
    assert_error(&out, 2);
    tha.run_ok(&[
        "export",
        "THA/mgi@1",
        "--out",
        bundle.to_str().unwrap(),
        "--force",
    ]);
    assert_verifies(&tha, &bundle);
}

#[test]
fn a_file_named_like_the_bundle_announcement_is_refused_at_release() {
    let tha = tha_with_mgi("members");
    let before = (tha.json(&["datasets"]), tha.blob_names());
    for name in ["announcement.cose", "Announcement.COSE"] {
        let file = tha.path(name);
        fs::copy(sample(MGI), &file).unwrap();
        let out = tha.run(&[
            "release",
            file.to_str().unwrap(),
            "--name",
            "collides",
            "--title",
            "A content named like the signature file",
        ]);
        let message = assert_error(&out, 2);
        assert!(message.contains("reserved"), "{message}");
        assert!(message.contains("rename"), "{message}");
        assert_eq!(
            (tha.json(&["datasets"]), tha.blob_names()),
            before,
            "a refused release stored something"
        );
    }
}

#[test]
fn pull_out_never_writes_through_a_planted_symlink() {
    let tha = tha_with_mgi("members");
    let mut mmr = Node::init(DATAPACT, "MMR");
    mmr.start_daemon();
    peers::introduce(&tha, &mmr);
    let victim = mmr.key_file();
    let key = fs::read(&victim).unwrap();
    let out_dir = mmr.path("out");
    fs::create_dir(&out_dir).unwrap();
    let target = out_dir.join("mgi.csv");
    plant(&old_temp_names(&target, mmr.daemon_pid()), &victim);

    peers::pull(&mmr, "THA/mgi@1", &["--out", target.to_str().unwrap()]);
    assert_eq!(fs::read(&victim).unwrap(), key, "the key file is unchanged");
    assert_regular_file(&target);
    assert_eq!(fs::read(&target).unwrap(), fs::read(sample(MGI)).unwrap());

    // An existing link at the target itself is replaced, not followed.
    let outside = mmr.path("outside.txt");
    fs::write(&outside, "not to be touched\n").unwrap();
    fs::remove_file(&target).unwrap();
    symlink(&outside, &target).unwrap();
    mmr.run_ok(&["pull", "THA/mgi@1", "--out", target.to_str().unwrap()]);
    assert_regular_file(&target);
    assert_eq!(fs::read_to_string(&outside).unwrap(), "not to be touched\n");
}
