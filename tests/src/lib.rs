//! # datapact-tests
//!
//! The harness of datapact's multi-node integration tests: real nodes, each started in-process
//! with [`datapact_node::daemon::start`] in its own temp directory, listening on
//! `/ip4/127.0.0.1/tcp/0`, talking to each other over real libp2p connections (TCP + Noise +
//! Yamux) on loopback. Tests drive a node through the same operations the control socket
//! serves, encoded as on the socket ([`datapact_node::control::call_in_process`]), or through
//! the operation functions directly where they need more (a progress callback), and inject raw
//! statements through the node's network handle where they play an attacker.
//!
//! - [`TestNode`]: one node; start, stop, restart (same directory, new port), typed helpers
//!   for the requests (`catalog`, `datasets`, `release`, `pull`, `revoke`, `log`, `peers`).
//! - [`Federation`]: several nodes that all list each other in their rosters, connected, with
//!   gossip known to flow between every pair; plus outsiders that list members the members
//!   do not list back.
//! - [`wait_for`], [`wait_until`], [`wait_for_woken`]: the only ways a test waits: poll a
//!   condition (woken early by the nodes' `accepted_events` where given) until [`DEADLINE`],
//!   then fail with a message saying what was awaited. No test uses a sleep as
//!   synchronisation; every request and network call is bounded by the same deadline.
//!
//! - [`hostile::HostilePeer`]: a peer of the test's own making that speaks datapact's
//!   protocols and misbehaves as the test says (answers forever, holds streams silent, signs
//!   what it likes), for attack scenarios.
//!
//! Set `RUST_LOG=datapact_node=debug` to see the nodes' logs in a failing test's output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod hostile;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use datapact_node::api::{
    Call, Catalog, CatalogEntry, DatasetInfo, DatasetStatus, Datasets, ErrorKind, Log, LogLine,
    MemberInfo, MembersAdd, PeerInfo, Peers, Pull, PullResult, ReleaseRequest, Revoke,
};
use datapact_node::control::{ClientError, call_in_process};
use datapact_node::daemon::{self, DaemonError, Running};
use datapact_node::ops::Context;
use datapact_node::store::StoreError;
use datapact_protocol::wire::SignedStatement;
use datapact_protocol::{DatasetId, MemberCode};
use sha2::{Digest as _, Sha256};
use tempfile::TempDir;
use tokio::sync::broadcast;

/// How long anything may take before a test gives up.
pub const DEADLINE: Duration = Duration::from_secs(20);
/// Listen address of every test node: loopback, a port the OS picks.
pub const LISTEN: &str = "/ip4/127.0.0.1/tcp/0";
/// Longest interval between two checks of a condition (an accepted statement wakes a waiter
/// earlier).
pub const POLL: Duration = Duration::from_millis(50);
/// A wait longer than this is noted on stderr (shown for failing tests or with --nocapture).
const SLOW: Duration = Duration::from_secs(2);
/// How long one gossip probe may take before it is sent again (sending another is harmless).
const PROBE_ROUND: Duration = Duration::from_millis(250);

/// A failed request: the error kind and the one-line message, exactly as the CLI would get them.
pub type RequestError = (ErrorKind, String);

/// Sends the nodes' tracing output to the test output when `RUST_LOG` asks for it.
fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Polls `check` until it returns `Some`, at most [`DEADLINE`]; panics naming `what` otherwise.
/// Between checks it waits [`POLL`], or less when one of `wake` (nodes' `accepted_events`)
/// fires.
pub async fn wait_for_woken<T, F, Fut>(
    what: &str,
    wake: &mut [broadcast::Receiver<DatasetId>],
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        let left = DEADLINE.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, check()).await {
            Ok(Some(value)) => {
                if start.elapsed() > SLOW {
                    eprintln!("note: waiting for {what} took {:?}", start.elapsed());
                }
                return value;
            }
            Ok(None) => {}
            Err(_) => panic!("timed out after {DEADLINE:?} waiting for {what} (a check hung)"),
        }
        let elapsed = start.elapsed();
        if elapsed > DEADLINE {
            panic!("timed out after {elapsed:?} waiting for {what}");
        }
        // An interval between polls with a deadline above, not synchronisation by sleeping.
        if wake.is_empty() {
            tokio::time::sleep(POLL).await;
        } else {
            let woken = futures::future::select_all(wake.iter_mut().map(|rx| Box::pin(rx.recv())));
            let _ = tokio::time::timeout(POLL, woken).await;
        }
    }
}

/// [`wait_for_woken`] without wake-ups: polls every [`POLL`] until [`DEADLINE`].
pub async fn wait_for<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    wait_for_woken(what, &mut [], check).await
}

/// [`wait_for`] for a condition without a value.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for(what, || {
        let fut = check();
        async move { fut.await.then_some(()) }
    })
    .await
}

/// Path of a sample dataset shipped in `cli/samples`.
pub fn sample(file_name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../cli/samples")).join(file_name)
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `len` deterministic pseudo-random bytes (xorshift64*), different for each `seed`.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether `daemon::start` failed because the store is still open elsewhere. sled 0.34
/// reports its lock failure as an `io::ErrorKind::Other` with this text, which the node does
/// not map to `StoreError::Locked` (see the report), so both forms are recognised.
fn is_locked(e: &DaemonError) -> bool {
    match e {
        DaemonError::Store(StoreError::Locked) => true,
        DaemonError::Store(other) => other.to_string().contains("could not acquire lock"),
        _ => false,
    }
}

/// Whether roster entries carry the member's listen address (so the node dials it) or only its
/// key (so the node trusts its signatures but never dials it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dial {
    /// With the member's current listen address.
    Yes,
    /// Key only, no address.
    No,
}

/// One node: its temp directory (which outlives restarts) and the running daemon.
pub struct TestNode {
    /// Member code.
    pub member: String,
    tmp: TempDir,
    peer_id: String,
    running: Option<Running>,
    files: AtomicU32,
}

impl TestNode {
    /// Initialises a node directory for `member` listening on [`LISTEN`] and starts it.
    pub async fn start(member: &str) -> TestNode {
        Self::start_in(member, &std::env::temp_dir()).await
    }

    /// [`TestNode::start`] with the node's temp directory inside `base` (a file system of the
    /// test's choosing, such as a small tmpfs).
    pub async fn start_in(member: &str, base: &Path) -> TestNode {
        init_logging();
        let tmp = tempfile::Builder::new()
            .prefix("dpt-")
            .tempdir_in(base)
            .expect("temp dir");
        let code = MemberCode::new(member).expect("member code");
        let home = datapact_node::home::init(&tmp.path().join("node"), &code, vec![LISTEN.into()])
            .expect("init node directory");
        let mut node = TestNode {
            member: member.to_owned(),
            tmp,
            peer_id: home.identity.peer_id().to_string(),
            running: None,
            files: AtomicU32::new(0),
        };
        node.launch().await;
        node
    }

    /// The node directory.
    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join("node")
    }

    async fn launch(&mut self) {
        if let Err(e) = self.try_launch().await {
            panic!("cannot start {}: {e}", self.dir().display());
        }
    }

    /// Starts the daemon on the node's directory, returning why it refused to start (the node
    /// then stays stopped) instead of failing the test.
    pub async fn try_launch(&mut self) -> Result<(), DaemonError> {
        assert!(self.running.is_none(), "{} is already running", self.member);
        let dir = self.dir();
        // Stopping a daemon returns after its own tasks ended; a task it spawned may hold the
        // store a moment longer. Retry only that (and say so), with a deadline.
        let locked = AtomicU32::new(0);
        let started = Instant::now();
        let running = wait_for(&format!("{} to start", self.member), || {
            let dir = dir.clone();
            let locked = &locked;
            async move {
                match daemon::start(&dir).await {
                    Ok(r) => Some(Ok(r)),
                    Err(e) if is_locked(&e) => {
                        locked.fetch_add(1, Ordering::Relaxed);
                        None
                    }
                    Err(e) => Some(Err(e)),
                }
            }
        })
        .await?;
        let locked = locked.into_inner();
        if locked > 0 {
            eprintln!(
                "note: {}'s store was still locked by its stopped daemon for {:?} ({locked} attempts)",
                self.member,
                started.elapsed()
            );
        }
        let listening = running.ctx.listening.clone();
        wait_until(&format!("{} to listen", self.member), || {
            let up = listening.read().map(|l| !l.is_empty()).unwrap_or(false);
            async move { up }
        })
        .await;
        self.running = Some(running);
        Ok(())
    }

    /// Stops the daemon, returning its error instead of failing the test (on a full disk the
    /// final flush may fail).
    pub async fn try_stop(&mut self) -> Result<(), DaemonError> {
        let running = self
            .running
            .take()
            .unwrap_or_else(|| panic!("{} is not running", self.member));
        tokio::time::timeout(DEADLINE, running.stop())
            .await
            .unwrap_or_else(|_| panic!("{} did not stop within {DEADLINE:?}", self.member))
    }

    /// Stops the daemon cleanly (the directory stays).
    pub async fn stop(&mut self) {
        let running = self
            .running
            .take()
            .unwrap_or_else(|| panic!("{} is not running", self.member));
        tokio::time::timeout(DEADLINE, running.stop())
            .await
            .unwrap_or_else(|_| panic!("{} did not stop within {DEADLINE:?}", self.member))
            .unwrap_or_else(|e| panic!("{} did not stop cleanly: {e}", self.member));
    }

    /// Starts the daemon again on the same directory; it listens on a new port.
    pub async fn restart(&mut self) {
        if self.running.is_some() {
            self.stop().await;
        }
        self.launch().await;
    }

    /// Whether the daemon runs.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// The running node's context.
    pub fn ctx(&self) -> &Context {
        &self
            .running
            .as_ref()
            .unwrap_or_else(|| panic!("{} is not running", self.member))
            .ctx
    }

    /// PeerId, as text.
    pub fn peer_id(&self) -> &str {
        &self.peer_id
    }

    /// The address it listens on now (`/ip4/127.0.0.1/tcp/PORT`).
    pub fn addr(&self) -> String {
        let listening = self.ctx().listening.read().expect("listening lock").clone();
        listening
            .into_iter()
            .find(|a| a.starts_with("/ip4/127.0.0.1/tcp/"))
            .unwrap_or_else(|| panic!("{} has no loopback listen address", self.member))
    }

    /// Statements this node rejected so far.
    pub fn rejected(&self) -> u64 {
        self.ctx().network.stats.rejected()
    }

    /// A receiver woken whenever this node accepts a statement.
    pub fn accepted_events(&self) -> broadcast::Receiver<DatasetId> {
        self.ctx().network.accepted_events.subscribe()
    }

    /// Writes `contents` to a fresh file named `name` in the node's temp directory (outside the
    /// node directory) and returns its absolute path.
    pub fn write_file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        let dir = self.tmp.path().join(format!("files-{n}"));
        std::fs::create_dir_all(&dir).expect("create files dir");
        let path = dir.join(name);
        std::fs::write(&path, contents).expect("write file");
        path
    }

    /// Copies a sample dataset into the node's temp directory and returns the copy's path.
    pub fn copy_sample(&self, file_name: &str) -> PathBuf {
        let bytes = std::fs::read(sample(file_name)).expect("read sample");
        self.write_file(file_name, &bytes)
    }

    /// An absolute path for an output file in the node's temp directory.
    pub fn out_path(&self, name: &str) -> PathBuf {
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        self.tmp.path().join(format!("out-{n}-{name}"))
    }

    /// Runs one control request to completion, as the control socket would, and returns its
    /// result.
    pub async fn request<R: Call>(&self, request: R) -> Result<R::Response, RequestError> {
        let what = format!("{request:?}");
        let answer = tokio::time::timeout(DEADLINE, call_in_process(self.ctx(), request))
            .await
            .unwrap_or_else(|_| {
                panic!("{}: {what} got no answer within {DEADLINE:?}", self.member)
            });
        match answer {
            Ok(result) => Ok(result),
            Err(ClientError::Remote { kind, message }) => Err((kind, message)),
            Err(e) => panic!("{}: {what}: {e}", self.member),
        }
    }

    /// Runs a request that must succeed and returns its result.
    pub async fn ok<R: Call>(&self, request: R) -> R::Response {
        let what = format!("{request:?}");
        match self.request(request).await {
            Ok(result) => result,
            Err((kind, message)) => {
                panic!("{}: {what} failed ({kind:?}): {message}", self.member)
            }
        }
    }

    /// Adds (or replaces) `other` in this node's roster.
    pub async fn add_member(&self, other: &TestNode, dial: Dial) -> MemberInfo {
        let addrs = match dial {
            Dial::Yes => vec![other.addr()],
            Dial::No => vec![],
        };
        self.ok(MembersAdd {
            member: MemberCode::new(&other.member).expect("member code"),
            peer_id: other.peer_id.parse().expect("PeerId"),
            addrs,
        })
        .await
    }

    /// `catalog`.
    pub async fn catalog(&self) -> Vec<CatalogEntry> {
        self.ok(Catalog).await
    }

    /// The catalogue entry of `id`, if any.
    pub async fn catalog_entry(&self, id: &str) -> Option<CatalogEntry> {
        self.catalog().await.into_iter().find(|e| e.id == id)
    }

    /// `datasets`.
    pub async fn datasets(&self) -> Vec<DatasetInfo> {
        self.ok(Datasets).await
    }

    /// The `datasets` entry of `id`, if any.
    pub async fn dataset(&self, id: &str) -> Option<DatasetInfo> {
        self.datasets().await.into_iter().find(|d| d.id == id)
    }

    /// `log`.
    pub async fn log(&self) -> Vec<LogLine> {
        self.ok(Log).await
    }

    /// `peers`.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        self.ok(Peers).await
    }

    /// `release FILE --name NAME --title ... --policy POLICY`; must succeed.
    pub async fn release(&self, file: &Path, name: &str, policy: &str) -> DatasetInfo {
        self.try_release(ReleaseRequest {
            path: file.display().to_string(),
            name: name.to_owned(),
            title: format!("{name} (test release)"),
            policy: policy.parse().expect("policy"),
            ..ReleaseRequest::default()
        })
        .await
        .unwrap_or_else(|(kind, m)| {
            panic!("{}: release {name} failed ({kind:?}): {m}", self.member)
        })
    }

    /// Releases a small CSV file of its own (content unique to `name`) as `name` with `policy`.
    pub async fn release_text(&self, name: &str, policy: &str) -> DatasetInfo {
        let body = format!(
            "dataset,owner,value\n{name},{},{}\n",
            self.member,
            name.len()
        );
        let file = self.write_file(&format!("{name}.csv"), body.as_bytes());
        self.release(&file, name, policy).await
    }

    /// `release` with every field given.
    pub async fn try_release(&self, request: ReleaseRequest) -> Result<DatasetInfo, RequestError> {
        self.request(request).await
    }

    /// `pull ID --out OUT`.
    pub async fn pull(&self, id: &str, out: Option<&Path>) -> Result<PullResult, RequestError> {
        self.request(Pull {
            id: id.to_owned(),
            out: out.map(|p| p.display().to_string()),
        })
        .await
    }

    /// `revoke ID`; must succeed.
    pub async fn revoke(&self, id: &str) -> DatasetInfo {
        self.ok(Revoke {
            id: id.to_owned(),
            reason: Some("withdrawn by the test".into()),
        })
        .await
    }

    /// The exact signed bytes of a statement this node holds (own or received).
    pub fn announcement_bytes(&self, id: &str) -> Vec<u8> {
        let id: DatasetId = id.parse().expect("dataset id");
        self.ctx()
            .store
            .dataset(&id)
            .expect("store")
            .unwrap_or_else(|| panic!("{} holds no {id}", self.member))
            .announcement
    }

    /// Asserts that this node has no trace of `id`: not in its catalogue, not in its datasets.
    pub async fn assert_never_seen(&self, id: &str) {
        let catalog = self.catalog().await;
        assert!(
            catalog.iter().all(|e| e.id != id),
            "{} has {id} in its catalogue: {catalog:#?}",
            self.member
        );
        let datasets = self.datasets().await;
        assert!(
            datasets.iter().all(|d| d.id != id),
            "{} has {id} in its datasets: {datasets:#?}",
            self.member
        );
    }

    /// Waits until the catalogue satisfies `pred`, woken by accepted statements.
    pub async fn wait_catalog(
        &self,
        what: &str,
        pred: impl Fn(&[CatalogEntry]) -> bool,
    ) -> Vec<CatalogEntry> {
        let mut wake = [self.accepted_events()];
        let what = format!("{}'s catalogue: {what}", self.member);
        wait_for_woken(&what, &mut wake, || {
            let pred = &pred;
            async move {
                let catalog = self.catalog().await;
                pred(&catalog).then_some(catalog)
            }
        })
        .await
    }

    /// Waits until `id` is in the catalogue and returns its entry.
    pub async fn wait_entry(&self, id: &str) -> CatalogEntry {
        let catalog = self
            .wait_catalog(&format!("{id} listed"), |c| c.iter().any(|e| e.id == id))
            .await;
        catalog.into_iter().find(|e| e.id == id).expect("listed")
    }

    /// Waits until `id`'s catalogue entry has `status`.
    pub async fn wait_status(&self, id: &str, status: DatasetStatus) -> CatalogEntry {
        let catalog = self
            .wait_catalog(&format!("{id} {status}"), |c| {
                c.iter().any(|e| e.id == id && e.status == status)
            })
            .await;
        catalog.into_iter().find(|e| e.id == id).expect("listed")
    }

    /// Whether `peer` is connected to this node.
    pub async fn is_connected_to(&self, peer: &TestNode) -> bool {
        let peer_id: libp2p::PeerId = peer.peer_id.parse().expect("PeerId");
        self.peers().await.iter().any(|p| p.peer_id == peer_id)
    }

    /// Waits until this node and `other` are connected, seen from both sides.
    pub async fn wait_connected(&self, other: &TestNode) {
        wait_until(
            &format!("{} and {} to be connected", self.member, other.member),
            || async { self.is_connected_to(other).await && other.is_connected_to(self).await },
        )
        .await;
    }

    /// Publishes a raw statement on gossip from this node, as an attacker or relay would
    /// (a node does not validate what it publishes itself).
    pub async fn publish_raw(&self, statement: SignedStatement) {
        tokio::time::timeout(DEADLINE, self.ctx().network.publish(statement))
            .await
            .unwrap_or_else(|_| panic!("{}: gossip publish hung", self.member))
            .unwrap_or_else(|e| panic!("{}: gossip publish failed: {e}", self.member));
    }
}

/// Waits until gossip flows from `from` to each of `to`: `from` publishes a probe that every
/// receiver rejects (so it is counted and never forwarded), until each receiver has counted
/// one. A receiver that counts a probe got it from `from` itself, so `from` knows it
/// subscribes to the topic and its later publications reach it.
pub async fn wait_gossip(from: &TestNode, to: &[&TestNode]) {
    let probe = SignedStatement::Announcement(b"datapact-tests gossip probe".to_vec());
    let start = Instant::now();
    loop {
        let before: Vec<u64> = to.iter().map(|n| n.rejected()).collect();
        // Fails while `from` knows no subscriber at all; the round below then times out.
        let _ = tokio::time::timeout(PROBE_ROUND, from.ctx().network.publish(probe.clone())).await;
        let round = Instant::now();
        let arrived = loop {
            let all = to.iter().zip(&before).all(|(n, b)| n.rejected() > *b);
            if all || round.elapsed() > PROBE_ROUND {
                break all;
            }
            // An interval between polls, bounded by PROBE_ROUND and DEADLINE.
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        if arrived {
            if start.elapsed() > SLOW {
                eprintln!(
                    "note: gossip from {} took {:?} to flow",
                    from.member,
                    start.elapsed()
                );
            }
            return;
        }
        let elapsed = start.elapsed();
        let names: Vec<&str> = to.iter().map(|n| n.member.as_str()).collect();
        assert!(
            elapsed < DEADLINE,
            "timed out after {elapsed:?} waiting for gossip from {} to reach {names:?}",
            from.member
        );
    }
}

/// Several nodes that all list each other, connected, gossip flowing between every pair.
pub struct Federation {
    /// The members, in the order given.
    pub nodes: Vec<TestNode>,
}

impl std::ops::Index<&str> for Federation {
    type Output = TestNode;
    fn index(&self, member: &str) -> &TestNode {
        self.nodes
            .iter()
            .find(|n| n.member == member)
            .unwrap_or_else(|| panic!("no member {member} in this federation"))
    }
}

impl Federation {
    /// Starts one node per member code and joins them.
    pub async fn new(members: &[&str]) -> Federation {
        let nodes = futures::future::join_all(members.iter().map(|m| TestNode::start(m))).await;
        Federation::join(nodes).await
    }

    /// Joins running nodes: every node lists every other, they connect, and gossip flows
    /// between every pair.
    ///
    /// Rosters are filled in two rounds, keys first and addresses second, so that when two
    /// nodes connect each already lists the other and asks it to catch up.
    pub async fn join(nodes: Vec<TestNode>) -> Federation {
        let fed = Federation { nodes };
        for dial in [Dial::No, Dial::Yes] {
            for a in &fed.nodes {
                for b in &fed.nodes {
                    if a.member != b.member {
                        a.add_member(b, dial).await;
                    }
                }
            }
        }
        fed.wait_mesh().await;
        fed
    }

    /// Waits until every pair is connected and gossip flows both ways between every pair.
    pub async fn wait_mesh(&self) {
        for (i, a) in self.nodes.iter().enumerate() {
            for b in &self.nodes[i + 1..] {
                a.wait_connected(b).await;
            }
        }
        for a in &self.nodes {
            let others: Vec<&TestNode> =
                self.nodes.iter().filter(|b| b.member != a.member).collect();
            wait_gossip(a, &others).await;
        }
    }

    /// The node of `member`, mutable (to stop or restart it).
    pub fn node_mut(&mut self, member: &str) -> &mut TestNode {
        self.nodes
            .iter_mut()
            .find(|n| n.member == member)
            .unwrap_or_else(|| panic!("no member {member} in this federation"))
    }

    /// Stops `member`.
    pub async fn stop(&mut self, member: &str) {
        self.node_mut(member).stop().await;
    }

    /// Starts `member` again (stopping it first if it runs). It listens on a new port, so every
    /// other running member's roster entry is pointed at the new address (the restarted node
    /// dials the others from its own roster too); then waits until the federation is whole.
    pub async fn restart(&mut self, member: &str) {
        self.node_mut(member).restart().await;
        let restarted = &self[member];
        for other in self.nodes.iter().filter(|n| n.member != member) {
            other.add_member(restarted, Dial::Yes).await;
        }
        self.wait_mesh().await;
    }

    /// Starts a node that lists `trusts` (members of this federation, with their addresses) in
    /// its roster while no member lists it: a peer outside every member's roster. Waits until
    /// it is connected to each of them.
    pub async fn start_outsider(&self, member: &str, trusts: &[&str]) -> TestNode {
        let outsider = TestNode::start(member).await;
        for m in trusts {
            outsider.add_member(&self[m], Dial::Yes).await;
        }
        for m in trusts {
            outsider.wait_connected(&self[m]).await;
        }
        outsider
    }

    /// Stops every running node cleanly.
    pub async fn shutdown(mut self) {
        for node in &mut self.nodes {
            if node.is_running() {
                node.stop().await;
            }
        }
    }
}
