//! What the benchmark programs in `cli/benches/` (`release`, `pull`, `propagation`, `audit`)
//! have in common: running the `datapact` binary under test, starting and stopping its daemon,
//! settings from the environment, generated input files, timing, and result lines.
//!
//! Each benchmark includes it with `#[path = "support/mod.rs"] mod support;`; being under a
//! directory without a `main.rs`, it is not a benchmark target of its own.

// Each benchmark is a crate of its own that uses only some of these helpers: without this,
// every one of them would warn about the others' helpers as dead code.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, ExitCode, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;
use tempfile::TempDir;

/// The `datapact` binary under test.
pub const DATAPACT: &str = env!("CARGO_BIN_EXE_datapact");

/// The exit status of a benchmark from the outcome of its run: 0 when every target is met, 1
/// when one is missed, 2 (after printing the error) when the benchmark cannot run.
pub fn exit_code(outcome: anyhow::Result<bool>) -> ExitCode {
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Whether `cargo bench` runs this program: it passes `--bench`. Under `cargo test --benches`
/// (no `--bench`) the defaults shrink to a quick smoke run.
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Reads a non-negative integer from the environment, or `default`.
pub fn env_u64(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("{name}={v:?} is not a whole number")),
        Err(_) => Ok(default),
    }
}

/// A fresh temp dir named `PREFIX...`, deleted when dropped.
pub fn temp_dir(prefix: &str) -> anyhow::Result<TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .context("creating the temp dir")
}

// ---- results --------------------------------------------------------------------------

/// Prints one target line.
pub fn verdict(ok: bool, target: &str, measured: &str) {
    let word = if ok { "PASS" } else { "FAIL" };
    println!("  {word}  {target:<45} measured {measured}");
}

/// The shortest of `runs`.
pub fn best(runs: &[f64]) -> f64 {
    runs.iter().copied().fold(f64::INFINITY, f64::min)
}

/// `runs` in seconds with three decimals, separated by spaces.
pub fn list(runs: &[f64]) -> String {
    runs.iter()
        .map(|s| format!("{s:.3}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Throughput of `bytes` in `secs`, in MiB/s.
pub fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64 / secs
}

// ---- files ----------------------------------------------------------------------------

/// Writes `size` pseudo-random bytes (xorshift64*, seeded) to `path` and fsyncs it, so that
/// no writeback of it competes with the timed commands.
pub fn write_random_file(path: &Path, size: u64, seed: u64) -> anyhow::Result<()> {
    let mut file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut state = seed | 1;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            word.copy_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        file.write_all(&buf[..n])?;
        left -= n as u64;
    }
    file.sync_all()?;
    Ok(())
}

/// Writes `size` bytes to a scratch file under `root` and deletes it, so that the next command
/// writes into recently freed page-cache memory. Without this, whichever command follows a
/// pause pays for fresh memory: on a VM that hands free pages back to its host (virtio-balloon
/// free page reporting), first touching them cost about 0.8 s of system time per GiB here,
/// against 0.2 s for memory freed a moment ago. Every timed command gets the same treatment.
pub fn recycle_memory(root: &Path, size: u64) -> anyhow::Result<()> {
    let scratch = root.join("scratch.bin");
    let mut file = File::create(&scratch)?;
    let buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        file.write_all(&buf[..n])?;
        left -= n as u64;
    }
    drop(file);
    fs::remove_file(&scratch)?;
    Ok(())
}

// ---- commands -------------------------------------------------------------------------

/// Runs a command to completion with its output captured; returns seconds from spawn to exit.
pub fn timed(cmd: &mut Command) -> anyhow::Result<(f64, Output)> {
    let start = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    Ok((start.elapsed().as_secs_f64(), out))
}

/// Fails, with the command's output, unless `what` exited 0.
pub fn check(out: &Output, what: &str) -> anyhow::Result<()> {
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// `datapact --dir DIR`. (`--dir` wins over `$DATAPACT_DIR`; removing it as well keeps a
/// caller's setting out of sight altogether.)
pub fn datapact(dir: &Path) -> Command {
    let mut cmd = Command::new(DATAPACT);
    cmd.arg("--dir").arg(dir).env_remove("DATAPACT_DIR");
    cmd
}

/// Runs `datapact --dir DIR ARGS...`; fails unless it exits 0; returns stdout.
pub fn datapact_ok(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = datapact(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running datapact")?;
    check(&out, &format!("datapact {}", args.join(" ")))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `datapact init --member MEMBER --listen /ip4/127.0.0.1/tcp/0` of a new node at `dir`.
pub fn init_node(dir: &Path, member: &str) -> anyhow::Result<()> {
    datapact_ok(
        dir,
        &[
            "init",
            "--member",
            member,
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
        ],
    )?;
    Ok(())
}

/// SIGTERM, then SIGKILL if the process has not exited within `grace`; reaps it.
pub fn terminate(child: &mut Child, grace: Duration) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

// ---- the daemon -----------------------------------------------------------------------

/// A running `datapact daemon`, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Daemon {
    child: Child,
    dir: PathBuf,
    /// How long it may take to start, answer `identity`, or stop before it is killed.
    deadline: Duration,
    /// The thread given its stderr ([`DaemonBuilder::log_reader`]), joined once it is stopped.
    reader: Option<JoinHandle<()>>,
}

/// When a starting daemon counts as ready.
enum Ready {
    /// Its control socket accepts connections.
    Socket,
    /// It answers `datapact peers` (`id` answers without a daemon too).
    Peers,
}

/// What reads a daemon's stderr, given the pipe and the log file to copy it into.
type LogReader = Box<dyn FnOnce(ChildStderr, File) + Send>;

/// How to start a [`Daemon`]; [`Daemon::start`] takes the defaults: `--log-format json` at
/// `RUST_LOG=info`, stderr into the log file, ready once the control socket accepts
/// connections.
pub struct DaemonBuilder<'a> {
    dir: &'a Path,
    log: &'a Path,
    deadline: Duration,
    name: String,
    json_log: bool,
    ready: Ready,
    log_reader: Option<LogReader>,
}

impl Daemon {
    /// Starts the daemon of `dir` with the defaults of [`DaemonBuilder`], logging to `log`;
    /// `deadline` bounds its start and its stop.
    pub fn start(dir: &Path, log: &Path, deadline: Duration) -> anyhow::Result<Self> {
        Self::builder(dir, log, deadline).start()
    }

    /// Settings for a daemon of `dir` that logs to `log`, to change before
    /// [`DaemonBuilder::start`].
    pub fn builder<'a>(dir: &'a Path, log: &'a Path, deadline: Duration) -> DaemonBuilder<'a> {
        DaemonBuilder {
            dir,
            log,
            deadline,
            name: "the daemon".to_owned(),
            json_log: true,
            ready: Ready::Socket,
            log_reader: None,
        }
    }

    /// The node directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The PeerId and the actual TCP listen address, once the daemon has one.
    pub fn identity(&self) -> anyhow::Result<(String, String)> {
        let deadline = Instant::now() + self.deadline;
        loop {
            let id: Value = serde_json::from_str(&datapact_ok(&self.dir, &["id", "--json"])?)?;
            let addr = id["listen"].as_array().and_then(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .find(|a| a.contains("/tcp/") && !a.ends_with("/tcp/0"))
            });
            if let (Some(addr), Some(peer)) = (addr, id["peer_id"].as_str()) {
                return Ok((peer.to_owned(), addr.to_owned()));
            }
            if Instant::now() > deadline {
                bail!("the daemon reports no listen address: {id}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `VmHWM` (peak RSS) of the daemon process, in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc/PID/status")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        terminate(&mut self.child, self.deadline);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl DaemonBuilder<'_> {
    /// What error messages call the daemon (default "the daemon").
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Runs `datapact daemon` with its own default log format and filter, instead of
    /// `--log-format json` at `RUST_LOG=info`.
    pub fn default_log_format(mut self) -> Self {
        self.json_log = false;
        self
    }

    /// Counts the daemon as ready once it answers `datapact peers`, instead of once its
    /// control socket accepts connections.
    pub fn ready_when_answering(mut self) -> Self {
        self.ready = Ready::Peers;
        self
    }

    /// Pipes the daemon's stderr to `read`, run on a thread of its own with the log file to
    /// copy it into; the thread is joined after the daemon is stopped.
    pub fn log_reader(mut self, read: impl FnOnce(ChildStderr, File) + Send + 'static) -> Self {
        self.log_reader = Some(Box::new(read));
        self
    }

    /// Starts the daemon and waits until it is ready.
    pub fn start(self) -> anyhow::Result<Daemon> {
        let log = File::create(self.log)?;
        let mut cmd = datapact(self.dir);
        cmd.arg("daemon");
        if self.json_log {
            cmd.args(["--log-format", "json"]).env("RUST_LOG", "info");
        }
        let (stderr, copy) = match self.log_reader {
            Some(read) => (Stdio::piped(), Some((read, log))),
            None => (Stdio::from(log), None),
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .context("spawning the daemon")?;
        let mut daemon = Daemon {
            child,
            dir: self.dir.to_owned(),
            deadline: self.deadline,
            reader: None,
        };
        if let Some((read, log)) = copy {
            let pipe = daemon.child.stderr.take().context("no stderr pipe")?;
            daemon.reader = Some(std::thread::spawn(move || read(pipe, log)));
        }

        let socket = self.dir.join("control.sock");
        let deadline = Instant::now() + self.deadline;
        loop {
            let ready = match self.ready {
                Ready::Socket => UnixStream::connect(&socket).is_ok(),
                Ready::Peers => datapact(self.dir)
                    .arg("peers")
                    .stdin(Stdio::null())
                    .output()
                    .context("running datapact peers")?
                    .status
                    .success(),
            };
            if ready {
                return Ok(daemon);
            }
            if let Some(status) = daemon.child.try_wait()? {
                bail!(
                    "{} exited ({status}): {}",
                    self.name,
                    fs::read_to_string(self.log).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                match self.ready {
                    Ready::Socket => bail!("{} did not open {}", self.name, socket.display()),
                    Ready::Peers => {
                        bail!("{} did not answer within {:?}", self.name, self.deadline)
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
