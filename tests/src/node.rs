//! One in-process node of a test: [`TestNode`], started with [`datapact_node::daemon::start`]
//! in its own temp directory, listening on [`LISTEN`]; start, stop, restart (same directory,
//! new port), and typed helpers for the control requests (`catalog`, `datasets`, `release`,
//! `pull`, `revoke`, `log`, `peers`), run and encoded as the control socket would run and
//! encode them ([`datapact_node::control::call_in_process`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use datapact_node::api::{
    Call, Catalog, CatalogEntry, DatasetInfo, DatasetStatus, Datasets, ErrorKind, Log, LogLine,
    MemberInfo, MembersAdd, PeerInfo, Peers, Pull, PullResult, ReleaseRequest, Revoke,
};
use datapact_node::control::{ClientError, call_in_process};
use datapact_node::daemon::{self, DaemonError, Running};
use datapact_node::ops::Context;
use datapact_protocol::wire::SignedStatement;
use datapact_protocol::{DatasetId, MemberCode};
use tempfile::TempDir;
use tokio::sync::broadcast;

use crate::files::sample;
use crate::wait::{wait_for_woken, wait_until};
use crate::{DEADLINE, LISTEN};

/// A failed request: the error kind and the one-line message, exactly as the CLI would get them.
pub type RequestError = (ErrorKind, String);

/// Sends the nodes' tracing output to the test output when `RUST_LOG` asks for it.
fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
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
    /// Holds the node directory (`TMP/node`) and the test's files beside it; outlives restarts.
    tmp: TempDir,
    /// PeerId, as text, known from `init` (so also while the node is stopped).
    peer_id: String,
    /// The daemon, while it runs.
    running: Option<Running>,
    /// Files written so far, so each file the test writes gets a directory of its own.
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
        // `Running::stop` returns only once the store is closed, so a restarted node finds it
        // free: no retry here.
        let running = daemon::start(&dir).await?;
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
        if let Err(e) = self.try_stop().await {
            panic!("{} did not stop cleanly: {e}", self.member);
        }
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
