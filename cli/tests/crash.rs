//! Crash safety of `release`: the daemon is SIGKILLed in the middle of a large release, and
//! right after a release returned. After a restart the store opens cleanly, a release is
//! either wholly there (listed, exported and verified, digest matching) or wholly absent, and
//! no temp file is left behind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use datapact_tests::cli::{Cli, Node, Reaped};
use datapact_tests::files::{sha256_file, system_sha256sum, write_random_file};
use serde_json::Value;

/// The binary under test.
const DATAPACT: Cli = Cli::new(env!("CARGO_BIN_EXE_datapact"));

/// Size of the large file: big enough that its import takes a while even on a fast disk.
const LARGE: u64 = 300 << 20;
/// How much of it must be in the temp file before the daemon is killed.
const KILL_AT: u64 = 20 << 20;
/// Generating, hashing and importing 300 MB on a slow CI machine takes a while.
const SLOW_DEADLINE: Duration = Duration::from_secs(120);

/// The largest `*.part` file in `DIR/blobs/tmp`, in bytes.
fn largest_part(node: &Node) -> Option<u64> {
    let tmp = node.node_path("blobs/tmp");
    fs::read_dir(tmp)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .filter_map(|e| e.metadata().ok().map(|m| m.len()))
        .max()
}

/// Every listed version of `THA/NAME`.
fn versions_of(node: &Node, name: &str) -> Vec<Value> {
    let prefix = format!("THA/{name}@");
    node.datasets()
        .into_iter()
        .filter(|d| d["id"].as_str().unwrap_or("").starts_with(&prefix))
        .collect()
}

/// Asserts that `id` is listed as released with `file`'s size and digest, exports it, verifies
/// the bundle, and checks the exported content's sha256.
fn assert_wholly_released(node: &Node, id: &str, file: &Path, sha256: &str) {
    let d = node
        .dataset(id)
        .unwrap_or_else(|| panic!("{id} is not listed: {:?}", node.datasets()));
    assert_eq!(d["status"], "released", "{d}");
    assert_eq!(d["size"], fs::metadata(file).unwrap().len(), "{d}");
    assert_eq!(d["sha256"], sha256, "{d}");
    assert_eq!(d["has_content"], true, "{d}");

    let bundle = node.path(&format!("bundle-{}", id.replace(['/', '@'], "-")));
    let out = node.run_ok(&["export", id, "--out", bundle.to_str().unwrap()]);
    let content = out.lines().nth(1).expect("export prints the content path");
    let out = node.run(&["verify", bundle.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "verify of {id} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    assert_eq!(sha256_file(Path::new(content)), sha256);
    if let Some(sum) = system_sha256sum(Path::new(content)) {
        assert_eq!(sum, sha256, "sha256sum of the exported file");
    }
    fs::remove_dir_all(&bundle).unwrap();
}

#[test]
fn kill9_during_a_large_release_leaves_all_or_nothing() {
    let mut tha = Node::init(DATAPACT, "THA");
    let big = tha.path("large.bin");
    write_random_file(&big, LARGE, 0x00da_7a9a_c7c4_a5e5).expect("write the large file");
    let sha256 = sha256_file(&big);
    tha.start_daemon();

    let child = tha
        .command()
        .args([
            "release",
            big.to_str().unwrap(),
            "--name",
            "large",
            "--title",
            "A large file",
            "--policy",
            "public",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn release");
    let mut release = Reaped(Some(child));

    // Wait until the import is well under way, then pull the plug.
    let deadline = Instant::now() + SLOW_DEADLINE;
    loop {
        if largest_part(&tha).is_some_and(|len| len >= KILL_AT) {
            break;
        }
        let finished = release.0.as_mut().unwrap().try_wait().unwrap();
        assert!(
            finished.is_none(),
            "the release ended ({finished:?}) before {KILL_AT} bytes were seen in blobs/tmp; \
             the crash window was missed"
        );
        assert!(
            Instant::now() < deadline,
            "no temp file of {KILL_AT} bytes appeared in blobs/tmp within {SLOW_DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    tha.kill9();
    let out = release.wait();
    let acknowledged = out.status.success();
    let left_behind = tha.blob_temp_files();
    eprintln!(
        "release after kill -9: {}; temp files left by the crash: {left_behind:?}",
        out.status
    );
    if !acknowledged {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
    }

    // The store opens cleanly and the crash's temp file is gone.
    tha.start_daemon();
    assert_eq!(tha.blob_temp_files(), Vec::<String>::new());

    let versions = versions_of(&tha, "large");
    match versions.as_slice() {
        [] => {
            assert!(
                !acknowledged,
                "`release` reported success, yet the dataset is gone"
            );
            assert!(
                !tha.blob_names().contains(&sha256),
                "content of an unrecorded release left in the blob store"
            );
        }
        [one] => {
            let id = one["id"].as_str().unwrap().to_owned();
            assert_wholly_released(&tha, &id, &big, &sha256);
        }
        many => panic!("one release made several versions: {many:?}"),
    }
    assert_eq!(
        tha.blob_names().len(),
        versions.len(),
        "blobs: {:?}",
        tha.blob_names()
    );

    // The store takes new releases, and this one is complete.
    let sample = tha.copy_sample("mgi_2016.csv");
    let id = tha.run_ok(&[
        "release",
        sample.to_str().unwrap(),
        "--name",
        "mgi",
        "--title",
        "MGI 2016",
    ]);
    assert_wholly_released(&tha, id.trim(), &sample, &sha256_file(&sample));
    tha.stop();
    assert_eq!(tha.blob_temp_files(), Vec::<String>::new());
}

#[test]
fn kill9_right_after_release_returns_keeps_the_release() {
    let mut tha = Node::init(DATAPACT, "THA");
    let sample = tha.copy_sample("trafficking_victims_tha_2017.csv");
    let binary = tha.path("binary.bin");
    write_random_file(&binary, 16 << 20, 42).expect("write the binary file");
    tha.start_daemon();

    let first = tha.run_ok(&[
        "release",
        sample.to_str().unwrap(),
        "--name",
        "trafficking-victims",
        "--title",
        "TIP 2017",
        "--policy",
        "only:MMR",
        "--embargo-until",
        "2030-01-01T00:00:00Z",
    ]);
    let second = tha.run_ok(&[
        "release",
        binary.to_str().unwrap(),
        "--name",
        "binary",
        "--title",
        "Binary",
    ]);
    tha.kill9();

    tha.start_daemon();
    assert_eq!(tha.blob_temp_files(), Vec::<String>::new());
    assert_eq!(first.trim(), "THA/trafficking-victims@1");
    assert_eq!(second.trim(), "THA/binary@1");
    assert_eq!(tha.datasets().len(), 2, "{:?}", tha.datasets());
    assert_wholly_released(&tha, first.trim(), &sample, &sha256_file(&sample));
    assert_wholly_released(&tha, second.trim(), &binary, &sha256_file(&binary));
    let d = tha.dataset(first.trim()).unwrap();
    assert_eq!(d["policy"], "only:MMR", "{d}");
    assert_eq!(d["embargo_until"], "2030-01-01T00:00:00Z", "{d}");
    tha.stop();
}
