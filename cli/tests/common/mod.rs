//! Test helper: a datapact node in its own temp directory, driven through the real binary.
//!
//! Layout of one test's temp directory:
//!
//! ```text
//! TMP/node/          the node directory (`--dir`)
//! TMP/daemon-N.log   stderr of the N-th daemon started
//! TMP/...            whatever the test writes (sample copies, bundles)
//! ```
//!
//! No sleep stands in for synchronisation: waiting for a daemon means polling its control
//! socket until it answers a request, with a deadline.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(dead_code)]

pub mod peers;

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use datapact_node::api::{Id, IdInfo, Reply, Request};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tempfile::TempDir;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_datapact");
/// How long anything may take before a test gives up.
pub const DEADLINE: Duration = Duration::from_secs(20);
/// Listen address of every test node: loopback, a port the OS picks, so parallel daemons
/// never collide.
pub const LISTEN: &str = "/ip4/127.0.0.1/tcp/0";
/// Interval between two polls.
const POLL: Duration = Duration::from_millis(10);

/// A node directory in a temp directory, and its daemon when started.
pub struct Node {
    tmp: TempDir,
    dir: PathBuf,
    daemon: Option<Child>,
    starts: u32,
    /// What `init --json` printed.
    pub init: Value,
}

impl Node {
    /// `datapact init --member MEMBER --listen /ip4/127.0.0.1/tcp/0 --json` in a fresh temp dir.
    pub fn init(member: &str) -> Node {
        let tmp = tempfile::Builder::new()
            .prefix("dp-")
            .tempdir()
            .expect("temp dir");
        let dir = tmp.path().join("node");
        let out = Command::new(BIN)
            .arg("--dir")
            .arg(&dir)
            .args(["init", "--member", member, "--listen", LISTEN, "--json"])
            .env_remove("DATAPACT_DIR")
            .output()
            .expect("run datapact init");
        assert_success(&out, "init");
        let init = parse_json(&out);
        assert_eq!(init["member"], member, "init --json: {init}");
        Node {
            tmp,
            dir,
            daemon: None,
            starts: 0,
            init,
        }
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
        self.dir.join("control.sock")
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
        let mut cmd = Command::new(BIN);
        cmd.arg("--dir")
            .arg(&self.dir)
            .env_remove("DATAPACT_DIR")
            .stdin(Stdio::null());
        cmd
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

    /// `datasets --json` as an array.
    pub fn datasets(&self) -> Vec<Value> {
        match self.json(&["datasets"]) {
            Value::Array(list) => list,
            other => panic!("datasets --json is not an array: {other}"),
        }
    }

    /// The entry of `datasets --json` with this id, if listed.
    pub fn dataset(&self, id: &str) -> Option<Value> {
        self.datasets().into_iter().find(|d| d["id"] == id)
    }

    /// Names of the content files in `DIR/blobs` (not its temp directory).
    pub fn blob_names(&self) -> Vec<String> {
        list_files(&self.node_path("blobs"))
    }

    /// Names of the files in `DIR/blobs/tmp`.
    pub fn blob_temp_files(&self) -> Vec<String> {
        list_files(&self.node_path("blobs/tmp"))
    }

    /// Copies a sample from `cli/samples` into the temp dir; returns the copy's path.
    pub fn copy_sample(&self, name: &str) -> PathBuf {
        let target = self.path(name);
        fs::copy(sample(name), &target).expect("copy sample");
        target
    }

    /// Starts `datapact daemon` and waits until its control socket answers.
    pub fn start_daemon(&mut self) {
        assert!(self.daemon.is_none(), "a daemon of this node already runs");
        let child = self.spawn_daemon();
        self.daemon = Some(child);
        let deadline = Instant::now() + DEADLINE;
        loop {
            if self.control_answers() {
                return;
            }
            if let Some(status) = self.daemon.as_mut().and_then(|c| c.try_wait().unwrap()) {
                self.daemon = None;
                panic!(
                    "the daemon exited with {status} before answering; its log:\n{}",
                    self.daemon_log()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "the daemon did not answer on {} within {DEADLINE:?}; its log:\n{}",
                    self.socket().display(),
                    self.daemon_log()
                );
            }
            std::thread::sleep(POLL);
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
            let mut child = self.spawn_daemon();
            loop {
                if self.control_answers() {
                    self.daemon = Some(child);
                    return;
                }
                if let Some(status) = child.try_wait().unwrap() {
                    let log = self.daemon_log();
                    let locked = log.contains("could not acquire lock") || log.contains("in use");
                    assert!(
                        locked && Instant::now() < deadline,
                        "the daemon exited with {status} before answering; its log:\n{log}"
                    );
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "the daemon did not answer on {} within {DEADLINE:?}; its log:\n{}",
                        self.socket().display(),
                        self.daemon_log()
                    );
                }
                std::thread::sleep(POLL);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Spawns `datapact daemon` with stderr to `TMP/daemon-N.log`, without waiting.
    pub fn spawn_daemon(&mut self) -> Child {
        self.starts += 1;
        let log = File::create(self.daemon_log_path()).expect("daemon log file");
        self.command()
            .arg("daemon")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn datapact daemon")
    }

    /// Runs a daemon that must refuse to start; returns its exit status and stderr.
    pub fn daemon_must_fail(&mut self) -> (ExitStatus, String) {
        let mut child = self.spawn_daemon();
        let status = match wait_deadline(&mut child, DEADLINE) {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the daemon was expected to refuse to start, but it ran; its log:\n{}",
                    self.daemon_log()
                );
            }
        };
        (status, self.daemon_log())
    }

    fn daemon_log_path(&self) -> PathBuf {
        self.path(&format!("daemon-{}.log", self.starts))
    }

    /// The stderr of the last daemon started.
    pub fn daemon_log(&self) -> String {
        fs::read_to_string(self.daemon_log_path()).unwrap_or_default()
    }

    /// Whether a daemon answers a request on the control socket now.
    pub fn control_answers(&self) -> bool {
        let Ok(mut stream) = UnixStream::connect(self.socket()) else {
            return false;
        };
        let timeout = Some(Duration::from_secs(5));
        if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
            return false;
        }
        let mut line = serde_json::to_vec(&Request::from(Id)).expect("encode request");
        line.push(b'\n');
        if stream.write_all(&line).is_err() {
            return false;
        }
        let mut reply = String::new();
        if BufReader::new(stream).read_line(&mut reply).is_err() {
            return false;
        }
        matches!(
            serde_json::from_str::<Reply<IdInfo>>(&reply),
            Ok(Reply::Ok { .. })
        )
    }

    /// The daemon's process id.
    pub fn daemon_pid(&self) -> u32 {
        self.daemon.as_ref().expect("daemon running").id()
    }

    /// Whether a daemon started by this helper is still running.
    pub fn daemon_running(&mut self) -> bool {
        match self.daemon.as_mut() {
            Some(child) => child.try_wait().unwrap().is_none(),
            None => false,
        }
    }

    /// SIGKILLs the daemon and reaps it.
    pub fn kill9(&mut self) {
        let mut child = self.daemon.take().expect("daemon running");
        child.kill().expect("SIGKILL the daemon");
        child.wait().expect("reap the daemon");
    }

    /// SIGTERMs the daemon and waits for it; returns its exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.daemon.take().expect("daemon running");
        if !sigterm(child.id()) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cannot send SIGTERM: is the `kill` command installed?");
        }
        match wait_deadline(&mut child, DEADLINE) {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the daemon did not stop within {DEADLINE:?} of SIGTERM; its log:\n{}",
                    self.daemon_log()
                );
            }
        }
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

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.daemon.take()
            && (!sigterm(child.id()) || wait_deadline(&mut child, DEADLINE).is_none())
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends SIGTERM to `pid` with the system `kill`; whether that worked.
pub fn sigterm(pid: u32) -> bool {
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Waits for `child` to exit, up to `limit`.
pub fn wait_deadline(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(POLL);
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

/// Asserts exit status 0, showing both streams otherwise.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "`datapact {what}` failed with {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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

/// The path of a sample dataset in `cli/samples`.
pub fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

/// SHA-256 of a file, lower-case hex, read in pieces.
pub fn sha256_file(path: &Path) -> String {
    let mut file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hex(&hasher.finalize())
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The system `sha256sum` of a file, when that tool is installed.
pub fn system_sha256sum(path: &Path) -> Option<String> {
    let out = Command::new("sha256sum").arg(path).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace().next().map(str::to_owned)
}

/// Sorted names of the regular files directly in `dir` (empty when it does not exist).
pub fn list_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.expect("dir entry"))
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Writes `len` pseudo-random bytes (xorshift64*, seeded) to `path`, 1 MiB at a time.
pub fn write_random_file(path: &Path, len: u64, seed: u64) {
    let mut file = File::create(path).expect("create random file");
    let mut state = seed | 1;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            word.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        file.write_all(&buf[..n]).expect("write random file");
        left -= n as u64;
    }
    file.sync_all().expect("sync random file");
}

/// The Unix permission bits of a path.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}
