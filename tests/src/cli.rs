//! The real `datapact` binary, black-box: [`Cli`] runs it (tests and benchmarks say which
//! binary, since only their own package knows its path: `Cli::new(env!("CARGO_BIN_EXE_datapact"))`),
//! and [`Node`] is a node directory in a temp directory of its own, driven through it.
//!
//! Layout of one [`Node`]'s temp directory:
//!
//! ```text
//! TMP/node/          the node directory (`--dir`)
//! TMP/daemon-N.log   stderr of the N-th daemon started
//! TMP/...            whatever the test writes (sample copies, bundles)
//! ```
//!
//! [`peers`] has what tests of several such nodes need: rosters filled with the addresses the
//! daemons actually bound, and polling for what travels between them; [`charter`] founds a
//! federation of such nodes through a charter file.

pub mod charter;
pub mod peers;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::bench::{CommandFailed, check};
use crate::daemon::{self, Daemon, DaemonBuilder, PROCESS_POLL, StartError, wait_deadline};
use crate::{DEADLINE, LISTEN};

/// Interval between two `id` queries while waiting for a daemon's listen address.
const ADDRESS_POLL: Duration = Duration::from_millis(20);

/// The `datapact` binary of a test or benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Cli {
    /// Its path.
    bin: &'static str,
}

impl Cli {
    /// The binary at `bin`.
    pub const fn new(bin: &'static str) -> Self {
        Cli { bin }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        Path::new(self.bin)
    }

    /// `datapact`, with stdin from `/dev/null` and without `$DATAPACT_DIR` (a caller's setting
    /// stays out of sight), ready for arguments.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(self.bin);
        cmd.env_remove("DATAPACT_DIR").stdin(Stdio::null());
        cmd
    }

    /// `datapact --dir DIR`, as [`Cli::command`].
    pub fn at(&self, dir: &Path) -> Command {
        let mut cmd = self.command();
        cmd.arg("--dir").arg(dir);
        cmd
    }

    /// Runs `datapact --dir DIR ARGS...`; fails unless it exits 0; returns stdout.
    pub fn run_ok(&self, dir: &Path, args: &[&str]) -> Result<String, CommandFailed> {
        let what = format!("datapact {}", args.join(" "));
        let out = self
            .at(dir)
            .args(args)
            .output()
            .map_err(|e| CommandFailed {
                what: what.clone(),
                detail: e.to_string(),
            })?;
        check(&out, &what)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `datapact --dir DIR init --member MEMBER --listen /ip4/127.0.0.1/tcp/0 --json`; what it
    /// printed.
    pub fn init_at(&self, dir: &Path, member: &str) -> anyhow::Result<Value> {
        let out = self.run_ok(
            dir,
            &["init", "--member", member, "--listen", LISTEN, "--json"],
        )?;
        Ok(serde_json::from_str(&out)?)
    }

    /// The PeerId and the actual TCP listen address of the daemon of `dir`, once it reports
    /// one (`id --json`), waiting up to `deadline`.
    pub fn identity(&self, dir: &Path, deadline: Duration) -> anyhow::Result<(String, String)> {
        let give_up = Instant::now() + deadline;
        loop {
            let id: Value = serde_json::from_str(&self.run_ok(dir, &["id", "--json"])?)?;
            if let (Some(addr), Some(peer)) = (bound_address(&id), id["peer_id"].as_str()) {
                return Ok((peer.to_owned(), addr.to_owned()));
            }
            if Instant::now() > give_up {
                anyhow::bail!("the daemon reports no bound TCP listen address: {id}");
            }
            std::thread::sleep(ADDRESS_POLL);
        }
    }
}

/// The first TCP listen address in `id --json` with a real port (not the configured port 0).
fn bound_address(id: &Value) -> Option<&str> {
    id["listen"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find(|a| a.contains("/tcp/") && !a.ends_with("/tcp/0"))
}

/// A node directory in a temp directory, and its daemon when started.
pub struct Node {
    /// The daemon, while one started by [`Node::start_daemon`] runs. Declared first so that it
    /// is stopped before the temp directory is removed.
    daemon: Option<Daemon>,
    /// The binary.
    cli: Cli,
    /// Holds the node directory and the test's files; removed when the node is dropped.
    tmp: TempDir,
    /// The node directory, `TMP/node`.
    dir: PathBuf,
    /// Daemons started so far, for the name of the next one's log file.
    starts: u32,
    /// What `init --json` printed.
    pub init: Value,
}

impl Node {
    /// `datapact init --member MEMBER --listen /ip4/127.0.0.1/tcp/0 --json` in a fresh temp dir.
    pub fn init(cli: Cli, member: &str) -> Node {
        let tmp = tempfile::Builder::new()
            .prefix("dp-")
            .tempdir()
            .expect("temp dir");
        let dir = tmp.path().join("node");
        let init = cli
            .init_at(&dir, member)
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(init["member"], member, "init --json: {init}");
        Node {
            daemon: None,
            cli,
            tmp,
            dir,
            starts: 0,
            init,
        }
    }

    /// [`Node::init`], then [`Node::start_daemon`].
    pub fn running(cli: Cli, member: &str) -> Node {
        let mut node = Node::init(cli, member);
        node.start_daemon();
        node
    }

    /// The binary.
    pub fn cli(&self) -> Cli {
        self.cli
    }

    /// The node directory (`--dir`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A path in the test's temp directory (outside the node directory).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// A path inside the node directory.
    pub fn node_path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// The control socket.
    pub fn socket(&self) -> PathBuf {
        daemon::control_socket(&self.dir)
    }

    /// The identity key file.
    pub fn key_file(&self) -> PathBuf {
        self.dir.join("identity.key")
    }

    /// The PeerId `init` printed.
    pub fn peer_id(&self) -> String {
        self.init["peer_id"].as_str().expect("peer_id").to_owned()
    }

    /// The public key `init` printed.
    pub fn public_key(&self) -> String {
        self.init["public_key"]
            .as_str()
            .expect("public_key")
            .to_owned()
    }

    /// The member code.
    pub fn member(&self) -> String {
        self.init["member"].as_str().expect("member").to_owned()
    }

    /// A `datapact --dir DIR` command, ready for arguments.
    pub fn command(&self) -> Command {
        self.cli.at(&self.dir)
    }

    /// Runs `datapact --dir DIR ARGS...` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run datapact")
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn run_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_success(&out, &args.join(" "));
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs a command with `--json` appended that must succeed; returns the parsed document.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.run(&all);
        assert_success(&out, &all.join(" "));
        parse_json(&out)
    }

    /// `COMMAND --json` as an array.
    fn json_list(&self, command: &str) -> Vec<Value> {
        match self.json(&[command]) {
            Value::Array(list) => list,
            other => panic!("{command} --json is not an array: {other}"),
        }
    }

    /// `datasets --json` as an array.
    pub fn datasets(&self) -> Vec<Value> {
        self.json_list("datasets")
    }

    /// The entry of `datasets --json` with this id, if listed.
    pub fn dataset(&self, id: &str) -> Option<Value> {
        self.datasets().into_iter().find(|d| d["id"] == id)
    }

    /// `catalog --json` as an array.
    pub fn catalog(&self) -> Vec<Value> {
        self.json_list("catalog")
    }

    /// Names of the content files in `DIR/blobs` (not its temp directory).
    pub fn blob_names(&self) -> Vec<String> {
        crate::files::list_files(&self.node_path("blobs"))
    }

    /// Names of the files in `DIR/blobs/tmp`.
    pub fn blob_temp_files(&self) -> Vec<String> {
        crate::files::list_files(&self.node_path("blobs/tmp"))
    }

    /// Copies a sample from `cli/samples` into the temp dir; returns the copy's path.
    pub fn copy_sample(&self, name: &str) -> PathBuf {
        let target = self.path(name);
        std::fs::copy(crate::files::sample(name), &target).expect("copy sample");
        target
    }

    /// Starts `datapact daemon` and waits until it answers on its control socket.
    pub fn start_daemon(&mut self) {
        assert!(self.daemon.is_none(), "a daemon of this node already runs");
        match self.launch_daemon() {
            Ok(daemon) => self.daemon = Some(daemon),
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`Node::start_daemon`], but a daemon that exits because the state database is
    /// still locked is started again, until [`DEADLINE`]. For a test that has just closed the
    /// node's store in its own process: sled releases its file lock on drop, but a child that
    /// another test thread forks meanwhile holds a copy of the locked file until it execs.
    pub fn start_daemon_retrying_lock(&mut self) {
        assert!(self.daemon.is_none(), "a daemon of this node already runs");
        let deadline = Instant::now() + DEADLINE;
        loop {
            match self.launch_daemon() {
                Ok(daemon) => {
                    self.daemon = Some(daemon);
                    return;
                }
                Err(StartError::Exited { log, .. })
                    if (log.contains("could not acquire lock") || log.contains("in use"))
                        && Instant::now() < deadline =>
                {
                    std::thread::sleep(PROCESS_POLL);
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Starts the next daemon and waits until it answers.
    fn launch_daemon(&mut self) -> Result<Daemon, StartError> {
        self.starts += 1;
        let log = self.daemon_log_path();
        DaemonBuilder::new(self.cli, &self.dir, &log, DEADLINE)
            .default_log_format()
            .ready_when_answering()
            .start()
    }

    /// Spawns `datapact daemon` with stderr to `TMP/daemon-N.log`, without waiting; the caller
    /// owns the process.
    pub fn spawn_daemon(&mut self) -> Child {
        self.starts += 1;
        let log = self.daemon_log_path();
        DaemonBuilder::new(self.cli, &self.dir, &log, DEADLINE)
            .default_log_format()
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs a daemon that must refuse to start; returns its exit status and stderr.
    pub fn daemon_must_fail(&mut self) -> (ExitStatus, String) {
        let mut child = self.spawn_daemon();
        let Some(status) = wait_deadline(&mut child, DEADLINE) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the daemon was expected to refuse to start, but it ran; its log:\n{}",
                self.daemon_log()
            );
        };
        (status, self.daemon_log())
    }

    fn daemon_log_path(&self) -> PathBuf {
        self.path(&format!("daemon-{}.log", self.starts))
    }

    /// The stderr of the last daemon started.
    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.daemon_log_path()).unwrap_or_default()
    }

    /// Whether a daemon answers a request on the control socket now.
    pub fn control_answers(&self) -> bool {
        daemon::control_answers(&self.socket())
    }

    /// The daemon's process id.
    pub fn daemon_pid(&self) -> u32 {
        self.daemon.as_ref().expect("daemon running").pid()
    }

    /// Whether a daemon started by [`Node::start_daemon`] is still running.
    pub fn daemon_running(&mut self) -> bool {
        self.daemon.as_mut().is_some_and(Daemon::is_running)
    }

    /// SIGKILLs the daemon and reaps it.
    pub fn kill9(&mut self) {
        let daemon = self.daemon.take().expect("daemon running");
        daemon.kill().expect("SIGKILL the daemon");
    }

    /// SIGTERMs the daemon and waits for it; returns its exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let daemon = self.daemon.take().expect("daemon running");
        daemon.terminate().unwrap_or_else(|| {
            panic!(
                "the daemon did not stop within {DEADLINE:?} of SIGTERM; its log:\n{}",
                self.daemon_log()
            )
        })
    }

    /// SIGTERMs the daemon and asserts that it stopped cleanly: exit status 0.
    pub fn stop(&mut self) {
        let status = self.terminate();
        assert!(
            status.success(),
            "the daemon exited with {status} after SIGTERM; its log:\n{}",
            self.daemon_log()
        );
    }
}

/// A child process that is killed and reaped when dropped (for a CLI client spawned in the
/// background).
pub struct Reaped(pub Option<Child>);

impl Reaped {
    /// Waits for it, up to [`DEADLINE`]; its exit status and output.
    pub fn wait(&mut self) -> Output {
        let mut child = self.0.take().expect("child");
        let status = wait_deadline(&mut child, DEADLINE);
        if status.is_none() {
            let _ = child.kill();
        }
        let out = child.wait_with_output().expect("collect output");
        assert!(
            status.is_some(),
            "the command did not finish in {DEADLINE:?}"
        );
        out
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Asserts exit status 0 of `datapact WHAT`, showing both streams otherwise.
pub fn assert_success(out: &Output, what: &str) {
    if let Err(e) = check(out, &format!("datapact {what}")) {
        panic!("{e}");
    }
}

/// Asserts the contract for a failed command: exit `code`, and stderr is exactly one line
/// starting `error: `. Returns the message after `error: `.
pub fn assert_error(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status {}; expected {code}\nstdout: {}\nstderr: {stderr}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stderr must be exactly one line, got: {stderr:?}"
    );
    let message = lines[0]
        .strip_prefix("error: ")
        .unwrap_or_else(|| panic!("stderr must start with `error: `, got: {stderr:?}"));
    assert!(!message.trim().is_empty(), "empty error message");
    message.to_owned()
}

/// Parses stdout as one JSON document.
pub fn parse_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
