//! `Running::stop` returns only once the store is released: every background task has ended
//! and sled has closed, so the same node directory opens again at once, with `Store::open`
//! and with `daemon::start`, without waiting for a lock. Checked with work in flight at the
//! moment of the stop: a delivery retried towards a member that never answers, and a pull that
//! the stopping owner is in the middle of serving.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use datapact_node::api::{MembersAdd, ReleaseRequest};
use datapact_node::daemon::{self, Running};
use datapact_node::home::{self, Layout};
use datapact_node::ops::{members, pull, release};
use datapact_node::store::Store;
use datapact_protocol::{Identity, MemberCode};

/// How long anything in these tests may take before they give up.
const DEADLINE: Duration = Duration::from_secs(30);

/// A fresh node directory for `member`, listening on a loopback port the OS picks.
fn init(base: &Path, member: &str) -> PathBuf {
    let dir = base.join(member);
    let code = MemberCode::new(member).unwrap();
    home::init(&dir, &code, vec!["/ip4/127.0.0.1/tcp/0".into()]).unwrap();
    dir
}

/// Polls `check` until it holds, failing after [`DEADLINE`] with `what`.
async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The node's first listen address, once bound.
fn listen_addr(running: &Running) -> String {
    running.ctx.listening.read().unwrap()[0].clone()
}

/// Releases a file of `size` bytes as `name` with `policy`; returns its id.
async fn release(running: &Running, dir: &Path, name: &str, policy: &str, size: usize) -> String {
    let file = dir.join(format!("{name}.bin"));
    let content: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, content).unwrap();
    let request = ReleaseRequest {
        path: file.display().to_string(),
        name: name.to_owned(),
        title: format!("{name} (shutdown test)"),
        policy: policy.parse().unwrap(),
        ..ReleaseRequest::default()
    };
    let released = release::release(&running.ctx, request).await;
    released
        .unwrap_or_else(|e| panic!("release {name}: {e}"))
        .id
        .to_string()
}

/// Stops `running`; returns whether the stop was clean and whether the store then opened at
/// once (no retry: the lock must be free the moment `stop` has returned).
async fn stop_then_open(running: Running, dir: &Path) -> (Result<(), String>, Result<(), String>) {
    let stopped = match tokio::time::timeout(DEADLINE, running.stop()).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("stop did not return within {DEADLINE:?}")),
    };
    let opened = Store::open(&Layout::new(dir))
        .map(drop)
        .map_err(|e| e.to_string());
    (stopped, opened)
}

/// Checks what [`stop_then_open`] found, then starts a whole daemon on the directory at once
/// and stops it again.
async fn assert_reopens((stopped, opened): (Result<(), String>, Result<(), String>), dir: &Path) {
    stopped.unwrap_or_else(|e| panic!("stop is not clean: {e}"));
    opened.unwrap_or_else(|e| panic!("the store does not open right after stop: {e}"));
    let again = daemon::start(dir).await;
    let again = again.unwrap_or_else(|e| panic!("the daemon does not start again: {e}"));
    again.stop().await.expect("second stop is clean");
}

/// A TCP port where a "member" accepts connections and hangs up at once (it never completes
/// a handshake, so nothing sent to it is ever acknowledged); counts the connection attempts.
async fn hang_up_peer() -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let attempts = Arc::new(AtomicU64::new(0));
    let counted = attempts.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (format!("/ip4/127.0.0.1/tcp/{port}"), attempts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_releases_the_store_while_a_delivery_is_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = init(tmp.path(), "THA");
    let running = daemon::start(&dir).await.unwrap();

    // MMR is in the roster but never answers: the delivery of a `members` release to it is
    // retried with backoff (for about an hour) and holds the store all along.
    let (addr, attempts) = hang_up_peer().await;
    let mmr = Identity::from_seed(&[0x51; 32]);
    let added = members::add(
        &running.ctx,
        MembersAdd {
            member: MemberCode::new("MMR").unwrap(),
            peer_id: mmr.peer_id(),
            addrs: vec![addr],
        },
    )
    .await;
    added.unwrap_or_else(|e| panic!("members add: {e}"));
    let before = attempts.load(Ordering::SeqCst);
    release(&running, tmp.path(), "arrivals", "members", 4096).await;
    wait_until("THA to try MMR after the release", || {
        attempts.load(Ordering::SeqCst) > before
    })
    .await;

    let found = stop_then_open(running, &dir).await;
    assert_reopens(found, &dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_releases_the_store_while_a_pull_is_being_served() {
    let tmp = tempfile::tempdir().unwrap();
    let (tha_dir, mmr_dir) = (init(tmp.path(), "THA"), init(tmp.path(), "MMR"));
    let tha = daemon::start(&tha_dir).await.unwrap();
    let mmr = daemon::start(&mmr_dir).await.unwrap();
    let tha_peer = tha.ctx.home.identity.peer_id();
    let added = members::add(
        &mmr.ctx,
        MembersAdd {
            member: MemberCode::new("THA").unwrap(),
            peer_id: tha_peer,
            addrs: vec![listen_addr(&tha)],
        },
    )
    .await;
    added.unwrap_or_else(|e| panic!("members add: {e}"));
    // Large enough that the transfer is far from done when it is held below.
    let id = release(&tha, tmp.path(), "crossings", "public", 48 << 20).await;

    // MMR pulls by id; at its first progress report its pull is held (blocking only the
    // pull's worker thread), so THA is stopped mid-transfer, with the stream still open.
    let (reached_tx, reached_rx) = tokio::sync::oneshot::channel::<()>();
    let (go_on_tx, go_on_rx) = std::sync::mpsc::channel::<()>();
    let puller = mmr.ctx.clone();
    let pulling = tokio::spawn(async move {
        let mut reached = Some(reached_tx);
        let go_on_rx = std::sync::Mutex::new(go_on_rx);
        let result = pull::pull(&puller, &id, None, |done, _| {
            if done > 0
                && let Some(tx) = reached.take()
            {
                let _ = tx.send(());
                let released =
                    tokio::task::block_in_place(|| go_on_rx.lock().unwrap().recv_timeout(DEADLINE));
                assert!(released.is_ok(), "the test did not release the pull");
            }
        })
        .await;
        result.map(|_| ()).map_err(|e| e.to_string())
    });
    tokio::time::timeout(DEADLINE, reached_rx)
        .await
        .expect("the pull made progress in time")
        .expect("the pull reported progress");

    let found = stop_then_open(tha, &tha_dir).await;
    // The pull goes on (and fails) before anything is asserted, so a failure here ends the
    // test instead of leaving the pull held.
    go_on_tx.send(()).unwrap();
    let pulled = tokio::time::timeout(DEADLINE, pulling)
        .await
        .expect("the pull ended after the owner stopped")
        .unwrap();
    assert!(
        pulled.is_err(),
        "the pull cannot complete: its owner stopped"
    );
    assert_reopens(found, &tha_dir).await;
    let found = stop_then_open(mmr, &mmr_dir).await;
    assert_reopens(found, &mmr_dir).await;
}
