//! Spawned `datapact daemon` processes, for the CLI tests and the benchmarks: a
//! [`DaemonBuilder`] starts one and waits until it is ready; the [`Daemon`] reports its
//! identity and peak RSS and is stopped (SIGTERM, then SIGKILL) when dropped. Also the process
//! helpers both need: SIGTERM, waiting for an exit with a deadline, and whether a daemon
//! answers on its control socket.
//!
//! No sleep stands in for synchronisation: waiting for a daemon means polling its control
//! socket (or its process) with a deadline.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use datapact_node::api::{Id, IdInfo, Reply, Request};

use crate::cli::Cli;

/// Interval between two polls of a process or a socket.
pub const PROCESS_POLL: Duration = Duration::from_millis(10);
/// How long one readiness probe on the control socket may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The control socket of the node directory `dir`.
pub fn control_socket(dir: &Path) -> PathBuf {
    dir.join("control.sock")
}

/// Whether a daemon answers a request (`id`) on the control socket `socket` now.
pub fn control_answers(socket: &Path) -> bool {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let timeout = Some(PROBE_TIMEOUT);
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return false;
    }
    let Ok(mut line) = serde_json::to_vec(&Request::from(Id)) else {
        return false;
    };
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

/// Sends SIGTERM to process `pid`; whether that worked.
pub fn sigterm(pid: u32) -> bool {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    pid.is_some_and(|pid| rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_ok())
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
        std::thread::sleep(PROCESS_POLL);
    }
}

/// SIGTERM, then SIGKILL if the process has not exited within `grace`; reaps it. Returns its
/// exit status when it exited on SIGTERM.
pub fn terminate(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let status = if sigterm(child.id()) {
        wait_deadline(child, grace)
    } else {
        None
    };
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    status
}

/// Why a daemon did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Its log file could not be created or the process not spawned.
    #[error("cannot start {name}: {source}")]
    Spawn {
        /// What the daemon is called in messages.
        name: String,
        /// The failure.
        source: io::Error,
    },
    /// It exited before it was ready.
    #[error("{name} exited with {status} before it was ready; its log:\n{log}")]
    Exited {
        /// What the daemon is called in messages.
        name: String,
        /// Its exit status.
        status: ExitStatus,
        /// Its log.
        log: String,
    },
    /// It was not ready within its deadline (it has been killed).
    #[error("{name} was not ready within {waited:?} ({what}); its log:\n{log}")]
    NotReady {
        /// What the daemon is called in messages.
        name: String,
        /// How long it was given.
        waited: Duration,
        /// What it did not do.
        what: &'static str,
        /// Its log.
        log: String,
    },
}

/// When a starting daemon counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ready {
    /// Its control socket accepts connections.
    Socket,
    /// It answers a request on its control socket.
    Answering,
}

/// What reads a daemon's stderr, given the pipe and the log file to copy it into.
type LogReader = Box<dyn FnOnce(ChildStderr, File) + Send>;

/// How to start a [`Daemon`]. The defaults: `--log-format json` at `RUST_LOG=info`, stderr
/// into the log file, ready once the control socket accepts connections.
pub struct DaemonBuilder<'a> {
    /// The binary to run.
    cli: Cli,
    /// The node directory.
    dir: &'a Path,
    /// Where its stderr goes.
    log: &'a Path,
    /// How long it may take to start, and later to stop.
    deadline: Duration,
    /// What error messages call it.
    name: String,
    /// Whether it logs JSON at `info` (for a reader of its log) or as it would by default.
    json_log: bool,
    /// When it counts as ready.
    ready: Ready,
    /// A reader of its stderr, instead of stderr going straight into the log file.
    log_reader: Option<LogReader>,
}

impl<'a> DaemonBuilder<'a> {
    /// Settings for a daemon of `dir` run by `cli`, logging to `log`; `deadline` bounds its
    /// start and its stop.
    pub fn new(cli: Cli, dir: &'a Path, log: &'a Path, deadline: Duration) -> Self {
        DaemonBuilder {
            cli,
            dir,
            log,
            deadline,
            name: "the daemon".to_owned(),
            json_log: true,
            ready: Ready::Socket,
            log_reader: None,
        }
    }

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

    /// Counts the daemon as ready once it answers a request on its control socket, instead of
    /// once the socket accepts connections.
    pub fn ready_when_answering(mut self) -> Self {
        self.ready = Ready::Answering;
        self
    }

    /// Pipes the daemon's stderr to `read`, run on a thread of its own with the log file to
    /// copy it into; the thread is joined after the daemon is stopped.
    pub fn log_reader(mut self, read: impl FnOnce(ChildStderr, File) + Send + 'static) -> Self {
        self.log_reader = Some(Box::new(read));
        self
    }

    /// Spawns `datapact daemon` with stderr into the log file and returns at once, neither
    /// waiting for it nor stopping it when dropped (for a test that watches the process
    /// itself).
    pub fn spawn(self) -> Result<Child, StartError> {
        let log = File::create(self.log).map_err(|source| self.spawn_error(source))?;
        self.command(Stdio::from(log))
            .spawn()
            .map_err(|source| self.spawn_error(source))
    }

    /// Starts the daemon and waits until it is ready.
    pub fn start(mut self) -> Result<Daemon, StartError> {
        let log = File::create(self.log).map_err(|source| self.spawn_error(source))?;
        let (stderr, copy) = match self.log_reader.take() {
            Some(read) => (Stdio::piped(), Some((read, log))),
            None => (Stdio::from(log), None),
        };
        let child = self
            .command(stderr)
            .spawn()
            .map_err(|source| self.spawn_error(source))?;
        let mut daemon = Daemon {
            child,
            cli: self.cli,
            dir: self.dir.to_owned(),
            log: self.log.to_owned(),
            deadline: self.deadline,
            reader: None,
        };
        if let (Some((read, log)), Some(pipe)) = (copy, daemon.child.stderr.take()) {
            daemon.reader = Some(std::thread::spawn(move || read(pipe, log)));
        }
        self.wait_ready(daemon)
    }

    /// Polls until `daemon` is ready, has exited, or the deadline has passed.
    fn wait_ready(self, mut daemon: Daemon) -> Result<Daemon, StartError> {
        let socket = control_socket(self.dir);
        let give_up = Instant::now() + self.deadline;
        loop {
            let ready = match self.ready {
                Ready::Socket => UnixStream::connect(&socket).is_ok(),
                Ready::Answering => control_answers(&socket),
            };
            if ready {
                return Ok(daemon);
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                daemon.join_reader();
                return Err(StartError::Exited {
                    name: self.name,
                    status,
                    log: daemon.log(),
                });
            }
            if Instant::now() > give_up {
                let _ = daemon.child.kill();
                let _ = daemon.child.wait();
                daemon.join_reader();
                return Err(StartError::NotReady {
                    name: self.name,
                    waited: self.deadline,
                    what: match self.ready {
                        Ready::Socket => "its control socket accepted no connection",
                        Ready::Answering => "it answered no request on its control socket",
                    },
                    log: daemon.log(),
                });
            }
            std::thread::sleep(PROCESS_POLL);
        }
    }

    /// `datapact --dir DIR daemon`, with the log settings and `stderr`.
    fn command(&self, stderr: Stdio) -> Command {
        let mut cmd = self.cli.at(self.dir);
        cmd.arg("daemon");
        if self.json_log {
            cmd.args(["--log-format", "json"]).env("RUST_LOG", "info");
        }
        cmd.stdout(Stdio::null()).stderr(stderr);
        cmd
    }

    fn spawn_error(&self, source: io::Error) -> StartError {
        StartError::Spawn {
            name: self.name.clone(),
            source,
        }
    }
}

/// A running `datapact daemon`, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Daemon {
    /// The process; reaped when it is stopped.
    child: Child,
    /// The binary, for the commands that ask the daemon about itself.
    cli: Cli,
    /// The node directory.
    dir: PathBuf,
    /// Where its stderr goes.
    log: PathBuf,
    /// How long it may take to report its address, or to stop before it is killed.
    deadline: Duration,
    /// The thread given its stderr ([`DaemonBuilder::log_reader`]), joined once it is stopped.
    reader: Option<JoinHandle<()>>,
}

impl Daemon {
    /// The node directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The PeerId and the actual TCP listen address, once the daemon has one.
    pub fn identity(&self) -> anyhow::Result<(String, String)> {
        self.cli.identity(&self.dir, self.deadline)
    }

    /// `VmHWM` (peak RSS) of the daemon process, in KiB.
    pub fn peak_rss_kib(&self) -> io::Result<u64> {
        crate::bench::peak_rss_kib(self.child.id())
    }

    /// SIGTERMs the daemon and waits for it, up to its deadline; its exit status, or `None`
    /// when it had to be killed.
    pub fn terminate(mut self) -> Option<ExitStatus> {
        let status = terminate(&mut self.child, self.deadline);
        self.join_reader();
        status
    }

    /// SIGKILLs the daemon and reaps it.
    pub fn kill(mut self) -> io::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        self.join_reader();
        Ok(())
    }

    fn join_reader(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        terminate(&mut self.child, self.deadline);
        self.join_reader();
    }
}
