//! A full disk never makes a node's state unreadable. On a small tmpfs holding MMR's node
//! directory: a pull whose announced size does not fit is refused up front and leaves nothing
//! behind; a pull that fits but meets a full disk half-way (another program filled it) fails
//! and removes its partial file; a restart while the disk is still full is refused cleanly and
//! changes nothing in the state; once space is freed, the node starts with everything it had
//! and pulls again.
//!
//! Mounting a tmpfs needs root: that test says that it skipped and passes otherwise. Without
//! root, a hostile member announcing a dataset larger than the disk shows the up-front refusal:
//! the owner is never even asked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use datapact_node::api::Audit;
use datapact_node::ops::pull;
use datapact_node::store::STATE_HEADROOM;
use datapact_node::store::space::free_bytes;
use datapact_protocol::digest::MAX_CONTENT_SIZE;
use datapact_protocol::wire::{DirectRequest, DirectResponse, SignedStatement};
use datapact_protocol::{Audience, CHUNK_SIZE, Digest, PeerId, SignedAnnouncement};
use datapact_tests::hostile::{HostilePeer, polite};
use datapact_tests::statements::{self, digest_of};
use datapact_tests::{DEADLINE, Federation, TestNode, pseudo_random, sha256_hex};

/// Size of the tmpfs that holds MMR's node directory.
const DISK_MIB: u64 = 64;
/// Size of the dataset that fits until another program fills the disk during its pull.
const MEDIUM_MIB: u64 = 20;

/// A tmpfs mounted on a temp directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(mib: u64) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs: {status}");
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|uids| uids.split_whitespace().nth(1))
        == Some("0")
}

/// Fills the file system of `dir` (as another program would) by appending to `dir/filler`
/// until it refuses a single byte more.
fn fill(dir: &Path) {
    let mut filler = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("filler"))
        .unwrap();
    for piece in [1 << 20, 4096, 1] {
        let buf = vec![0xf1u8; piece];
        while filler.write_all(&buf).is_ok() {}
    }
    let _ = filler.sync_all();
}

/// Every regular file under `dir` with its SHA-256, to tell whether anything was written.
fn tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(path, sha256_hex(&bytes));
            }
        }
    }
    out
}

fn partial_files(node: &TestNode) -> Vec<PathBuf> {
    tree(&node.dir().join("blobs").join("partial"))
        .into_keys()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_never_damages_the_state() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let disk = Tmpfs::mount(DISK_MIB);
    let tha = TestNode::start("THA").await;
    let mmr = TestNode::start_in("MMR", disk.path()).await;
    let mut fed = Federation::join(vec![tha, mmr]).await;
    let mib = |n: u64| usize::try_from(n * CHUNK_SIZE).unwrap();
    let small = pseudo_random(mib(4), 21);
    let medium = pseudo_random(mib(MEDIUM_MIB), 22);
    let huge = pseudo_random(mib(DISK_MIB + 6), 23);
    let mut ids = Vec::new();
    for (name, content) in [
        ("arrivals", &small),
        ("returns", &medium),
        ("census", &huge),
    ] {
        let file = fed["THA"].write_file(&format!("{name}.csv"), content);
        ids.push(fed["THA"].release(&file, name, "members").await.id);
    }
    let (arrivals, returns, census) = (&ids[0], &ids[1], &ids[2]);
    for id in &ids {
        fed["MMR"].wait_entry(id).await;
    }
    fed["MMR"].pull(arrivals, None).await.unwrap();

    // Too big for the disk: refused before anything is written.
    let before = tree(&fed["MMR"].dir());
    let (_, refused) = fed["MMR"].pull(census, None).await.unwrap_err();
    assert!(
        refused.contains("not enough free disk space") && refused.contains(census.as_str()),
        "{refused}"
    );
    assert_eq!(
        tree(&fed["MMR"].dir()),
        before,
        "the refused pull left something"
    );
    eprintln!("refused up front: {refused}");

    // Fits, but another program fills the disk while it runs: it fails and cleans up.
    let failed = pull_while_the_disk_fills(&fed["MMR"], returns, disk.path()).await;
    assert!(failed.contains("No space left"), "{failed}");
    eprintln!("disk filled during the pull: {failed}");
    assert!(
        partial_files(&fed["MMR"]).is_empty(),
        "the failed pull left its partial file"
    );

    // The daemon stops (its final flush may fail: the disk is full) and a restart on the
    // still-full disk is refused, writing nothing.
    fill(disk.path());
    restart_is_refused(fed.node_mut("MMR")).await;

    // Space freed: MMR starts with everything it had, and pulls again.
    std::fs::remove_file(disk.path().join("filler")).unwrap();
    fed.restart("MMR").await;
    let mmr = &fed["MMR"];
    let held = mmr.dataset(arrivals).await.expect("arrivals still held");
    assert!(held.has_content);
    let report = mmr.ok(Audit { strict: false }).await;
    assert!(report.ok, "{report:?}");
    let out = mmr.out_path("returns.csv");
    mmr.pull(returns, Some(&out)).await.unwrap();
    assert!(std::fs::read(&out).unwrap() == medium);
    assert!(
        fed["MMR"]
            .catalog_entry(census)
            .await
            .is_some_and(|e| !e.pulled)
    );
    fed.shutdown().await;
}

/// Stops `node`, whose disk is full, and checks that a restart is refused cleanly and leaves
/// its state as it was.
async fn restart_is_refused(node: &mut TestNode) {
    let stopped = node.try_stop().await;
    eprintln!("stop on a full disk: {stopped:?}");
    let state = tree(&node.dir().join("state"));
    let refusal = node
        .try_launch()
        .await
        .expect_err("the node started on a full disk")
        .to_string();
    assert!(refusal.contains("not enough free disk space"), "{refusal}");
    assert!(!refusal.contains('\n'), "one line: {refusal}");
    assert_eq!(
        tree(&node.dir().join("state")),
        state,
        "the refused start changed the state"
    );
    eprintln!("restart on a full disk: {refusal}");
}

/// Pulls `id` into `node`, filling the disk at `disk` after the first chunk arrived; returns
/// the pull's error.
async fn pull_while_the_disk_fills(node: &TestNode, id: &str, disk: &Path) -> String {
    const {
        assert!(
            MEDIUM_MIB * CHUNK_SIZE + STATE_HEADROOM < DISK_MIB * CHUNK_SIZE,
            "the medium dataset must fit at first"
        );
    }
    let disk = disk.to_owned();
    let mut filled = false;
    let result = tokio::time::timeout(
        DEADLINE,
        pull::pull(node.ctx(), id, None, |held, _| {
            if held > 0 && !filled {
                filled = true;
                // Blocks only this pull's worker thread (tokio moves other tasks away).
                tokio::task::block_in_place(|| fill(&disk));
            }
        }),
    )
    .await
    .expect("the pull ended in time");
    match result {
        Ok(r) => panic!("the pull succeeded on a full disk: {r:?}"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_larger_than_the_disk_is_refused_before_the_owner_is_asked() {
    let mut mmr = TestNode::start("MMR").await;
    let free = free_bytes(&mmr.dir()).unwrap();
    if free >= MAX_CONTENT_SIZE - STATE_HEADROOM {
        eprintln!("skipped: {free} bytes free, more than the largest dataset");
        mmr.stop().await;
        return;
    }
    let aus = HostilePeer::member_of("AUS", [0xd1; 32], polite(), &[&mmr]).await;
    let served = aus.serve_pulls(Default::default());
    let mut announcement =
        statements::announcement("AUS", "everything", &digest_of(b""), Audience::Members);
    announcement.sha256 = Digest::of(b"never served");
    announcement.size = MAX_CONTENT_SIZE;
    announcement.chunk_root = Digest::of(b"never served either");
    announcement.meta.title = "All of it".into();
    let id = announcement.id().to_string();
    let signed = SignedAnnouncement::sign(announcement, &aus.identity).unwrap();
    let peer: PeerId = mmr.peer_id().parse().unwrap();
    let delivery = DirectRequest::Deliver(SignedStatement::Announcement(signed.bytes().to_vec()));
    assert_eq!(
        aus.request(peer, delivery).await.unwrap(),
        DirectResponse::Ack
    );
    mmr.wait_entry(&id).await;

    let before = tree(&mmr.dir());
    let (_, refused) = mmr.pull(&id, None).await.unwrap_err();
    assert!(refused.contains("not enough free disk space"), "{refused}");
    assert_eq!(
        served.requests(),
        0,
        "the owner heard of a pull that cannot fit"
    );
    assert_eq!(tree(&mmr.dir()), before, "the refused pull left something");
    mmr.stop().await;
}
