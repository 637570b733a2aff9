//! Benchmark of `datapact pull` between two daemons on 127.0.0.1, against `scp`.
//!
//! Targets: a 1 GiB `public` dataset is pulled end to end (`datapact pull` from spawn to exit:
//! request, transfer, per-chunk verification, storage, fsync) at least as fast as `scp` of the
//! same file to 127.0.0.1 with OpenSSH's default settings, and at least twice as fast as `scp`
//! followed by `sha256sum` of the received file; the receiving daemon's peak RSS (`VmHWM`)
//! stays under 200 MiB.
//!
//! The owner daemon releases the file once. Each round then measures, one after the other:
//! a pull into a fresh receiving node (roster set up, connected and caught up before the clock
//! starts), `scp` to a private `sshd` on 127.0.0.1, and `scp` + `sha256sum`. Medians count.
//!
//! `cargo bench -p datapact --bench pull`; `DATAPACT_BENCH_MIB` sets the file size (default
//! 1024), `DATAPACT_BENCH_ROUNDS` the number of rounds (default 3); under `cargo test
//! --benches` the defaults are 8 MiB and 1 round, and a missing sshd skips the run. Needs OpenSSH's server
//! (`apt-get install -y openssh-server openssh-client`). Exits 1 when a target is missed, 2
//! when the benchmark cannot run.

use std::fs::{self, File};
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

/// The `datapact` binary under test.
const DATAPACT: &str = env!("CARGO_BIN_EXE_datapact");
/// Environment variable with the file size in MiB.
const SIZE_VAR: &str = "DATAPACT_BENCH_MIB";
/// File size when [`SIZE_VAR`] is not set.
const DEFAULT_MIB: u64 = 1024;
/// Environment variable with the number of rounds.
const ROUNDS_VAR: &str = "DATAPACT_BENCH_ROUNDS";
/// Rounds when [`ROUNDS_VAR`] is not set.
const DEFAULT_ROUNDS: u64 = 3;
/// File size and rounds when the variables are not set, under `cargo test`.
const SMOKE: (u64, u64) = (8, 1);
/// Peak RSS the receiving daemon must stay under.
const RSS_LIMIT_MIB: f64 = 200.0;
/// The OpenSSH server, at the absolute path that sshd requires for re-execution.
const SSHD: &str = "/usr/sbin/sshd";
/// How long a daemon or sshd may take to start or stop, or two nodes to connect.
const DEADLINE: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Times of one round, in seconds.
struct Round {
    pull: f64,
    scp: f64,
    scp_sha: f64,
    /// Peak RSS of the receiving daemon, KiB.
    receiver_hwm_kib: u64,
}

fn run() -> anyhow::Result<bool> {
    let smoke = !bench_mode();
    for tool in [SSHD, "/usr/bin/scp", "/usr/bin/ssh-keygen"] {
        if !Path::new(tool).exists() {
            if smoke {
                println!("pull benchmark skipped under cargo test: {tool} is missing");
                return Ok(true);
            }
            eprintln!(
                "error: {tool} is missing; this benchmark compares with OpenSSH's scp.\n\
                 Install it with: apt-get update && apt-get install -y openssh-server openssh-client"
            );
            return Ok(false);
        }
    }
    let (default_mib, default_rounds) = if smoke {
        SMOKE
    } else {
        (DEFAULT_MIB, DEFAULT_ROUNDS)
    };
    let mib = env_u64(SIZE_VAR, default_mib)?;
    let rounds = env_u64(ROUNDS_VAR, default_rounds)?.max(1);
    let size = mib << 20;
    let tmp = tempfile::Builder::new()
        .prefix("datapact-bench-pull-")
        .tempdir()
        .context("creating the temp dir")?;
    let root = tmp.path();
    println!(
        "datapact pull benchmark: {mib} MiB public dataset, rounds: {rounds} ({SIZE_VAR}={mib}, {ROUNDS_VAR}={rounds})"
    );
    println!("  temp dir {}", root.display());

    let file = root.join("big.bin");
    write_random_file(&file, size, 0x5eed_da7a_9ac7_0002)?;
    let file_arg = utf8(&file)?;

    // The owner: releases the file once, as public.
    let owner_dir = root.join("owner");
    datapact_ok(
        &owner_dir,
        &[
            "init",
            "--member",
            "THA",
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
        ],
    )?;
    let owner = Daemon::start(&owner_dir, &root.join("owner.log"))?;
    let (owner_peer, owner_addr) = owner.identity()?;
    let released: Value = serde_json::from_str(&datapact_ok(
        &owner_dir,
        &[
            "release", file_arg, "--name", "big", "--title", "Big", "--policy", "public", "--json",
        ],
    )?)?;
    let id = json_str(&released, "id")?;
    let sha256 = json_str(&released, "sha256")?;
    println!("  owner THA released {id} ({mib} MiB, sha256 {sha256})");

    let sshd = Sshd::start(root)?;
    let user = current_user()?;
    let dest = root.join("scp-received.bin");
    // A small copy first, so that a set-up problem shows before the timed runs.
    let probe = root.join("probe.txt");
    fs::write(&probe, b"probe\n")?;
    check(
        &sshd.scp(&probe, &user, &root.join("probe-copy.txt"))?,
        "scp (set-up check)",
    )?;
    println!("  sshd on 127.0.0.1:{} (user {user})", sshd.port);
    println!(
        "  before each timed command: {mib} MiB scratch file written and deleted (same memory state for all)"
    );

    let mut results = Vec::new();
    for round in 0..rounds {
        // 1. datapact pull, into a fresh receiving node.
        let recv_dir = root.join(format!("receiver-{round}"));
        datapact_ok(
            &recv_dir,
            &[
                "init",
                "--member",
                "MMR",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
            ],
        )?;
        let receiver = Daemon::start(&recv_dir, &root.join(format!("receiver-{round}.log")))?;
        let (recv_peer, recv_addr) = receiver.identity()?;
        datapact_ok(
            &recv_dir,
            &["members", "add", "THA", &owner_peer, "--addr", &owner_addr],
        )?;
        datapact_ok(
            &owner_dir,
            &["members", "add", "MMR", &recv_peer, "--addr", &recv_addr],
        )?;
        wait_in_catalog(&recv_dir, &id)?;
        recycle_memory(root, size)?;
        let (pull, out) = timed(datapact(&recv_dir).args(["pull", &id, "--json"]))?;
        check(&out, "datapact pull")?;
        let pulled: Value = serde_json::from_slice(&out.stdout)?;
        if json_str(&pulled, "sha256")? != sha256 {
            bail!("the pull reported a different sha256: {pulled}");
        }
        let receiver_hwm_kib = receiver.peak_rss_kib()?;
        drop(receiver);
        fs::remove_dir_all(&recv_dir)?;

        // 2. scp.
        recycle_memory(root, size)?;
        let (scp, out) = timed_scp(&sshd, &file, &user, &dest)?;
        check(&out, "scp")?;
        fs::remove_file(&dest)?;

        // 3. scp, then sha256sum of what arrived.
        recycle_memory(root, size)?;
        let start = Instant::now();
        let (_, out) = timed_scp(&sshd, &file, &user, &dest)?;
        check(&out, "scp")?;
        let out = Command::new("sha256sum")
            .arg(&dest)
            .stdin(Stdio::null())
            .output()?;
        let scp_sha = start.elapsed().as_secs_f64();
        check(&out, "sha256sum")?;
        let sum = String::from_utf8_lossy(&out.stdout);
        if sum.split_whitespace().next() != Some(sha256.as_str()) {
            bail!("scp delivered different content: {sum}");
        }
        fs::remove_file(&dest)?;

        println!(
            "  round {}: pull {pull:.3} s, scp {scp:.3} s, scp+sha256sum {scp_sha:.3} s, receiver VmHWM {:.1} MiB",
            round + 1,
            receiver_hwm_kib as f64 / 1024.0
        );
        results.push(Round {
            pull,
            scp,
            scp_sha,
            receiver_hwm_kib,
        });
    }
    let owner_hwm_kib = owner.peak_rss_kib()?;
    drop(owner);
    drop(sshd);

    let pull = median(results.iter().map(|r| r.pull));
    let scp = median(results.iter().map(|r| r.scp));
    let scp_sha = median(results.iter().map(|r| r.scp_sha));
    let hwm_kib = results
        .iter()
        .map(|r| r.receiver_hwm_kib)
        .max()
        .unwrap_or(0);
    let rss_mib = hwm_kib as f64 / 1024.0;

    println!();
    println!("  {:<22} {:>12} {:>10}", "", "median (s)", "MiB/s");
    for (what, secs) in [
        ("datapact pull", pull),
        ("scp", scp),
        ("scp + sha256sum", scp_sha),
    ] {
        println!("  {what:<22} {secs:>12.3} {:>10.0}", mib_per_s(size, secs));
    }
    let vs_scp = scp / pull;
    let vs_scp_sha = scp_sha / pull;
    println!("  pull speed / scp speed:             {vs_scp:.2}");
    println!("  pull speed / scp+sha256sum speed:   {vs_scp_sha:.2}");
    println!("  receiving daemon peak RSS (VmHWM, max over rounds): {rss_mib:.1} MiB");
    println!(
        "  owner daemon peak RSS (VmHWM, release and serving): {:.1} MiB",
        owner_hwm_kib as f64 / 1024.0
    );
    println!();
    println!("targets");
    let ok_scp = vs_scp >= 1.0;
    let ok_scp_sha = vs_scp_sha >= 2.0;
    let ok_rss = rss_mib < RSS_LIMIT_MIB;
    verdict(
        ok_scp,
        "pull at least as fast as scp",
        &format!("{vs_scp:.2} x"),
    );
    verdict(
        ok_scp_sha,
        "pull at least 2 x as fast as scp + sha256sum",
        &format!("{vs_scp_sha:.2} x"),
    );
    verdict(
        ok_rss,
        &format!("receiving daemon peak RSS < {RSS_LIMIT_MIB} MiB"),
        &format!("{rss_mib:.1} MiB"),
    );
    Ok(ok_scp && ok_scp_sha && ok_rss)
}

/// Whether `cargo bench` runs this program: it passes `--bench`. Under `cargo test --benches`
/// (no `--bench`) the defaults shrink to a quick smoke run.
fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Prints one target line.
fn verdict(ok: bool, target: &str, measured: &str) {
    let word = if ok { "PASS" } else { "FAIL" };
    println!("  {word}  {target:<45} measured {measured}");
}

/// Reads a non-negative integer from the environment, or `default`.
fn env_u64(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("{name}={v:?} is not a whole number")),
        Err(_) => Ok(default),
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64 / secs
}

fn utf8(path: &Path) -> anyhow::Result<&str> {
    path.to_str()
        .with_context(|| format!("{} is not UTF-8", path.display()))
}

fn json_str(v: &Value, key: &str) -> anyhow::Result<String> {
    v[key]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no {key:?} in {v}"))
}

/// Writes `size` pseudo-random bytes (xorshift64*, seeded) to `path` and fsyncs it.
fn write_random_file(path: &Path, size: u64, seed: u64) -> anyhow::Result<()> {
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

/// Writes `size` bytes to a scratch file and deletes it, so that the next command writes into
/// recently freed page-cache memory. Without this, whichever command follows a pause pays for
/// fresh memory: on a VM that hands free pages back to its host (virtio-balloon free page
/// reporting), first touching them cost about 0.8 s of system time per GiB here, against
/// 0.2 s for memory freed a moment ago. Every timed command gets the same treatment.
fn recycle_memory(root: &Path, size: u64) -> anyhow::Result<()> {
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

/// Runs a command to completion with its output captured; returns seconds from spawn to exit.
fn timed(cmd: &mut Command) -> anyhow::Result<(f64, Output)> {
    let start = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    Ok((start.elapsed().as_secs_f64(), out))
}

fn timed_scp(sshd: &Sshd, file: &Path, user: &str, dest: &Path) -> anyhow::Result<(f64, Output)> {
    let start = Instant::now();
    let out = sshd.scp(file, user, dest)?;
    Ok((start.elapsed().as_secs_f64(), out))
}

fn check(out: &Output, what: &str) -> anyhow::Result<()> {
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

fn current_user() -> anyhow::Result<String> {
    let out = Command::new("id").arg("-un").output()?;
    check(&out, "id -un")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `datapact --dir DIR`.
fn datapact(dir: &Path) -> Command {
    let mut cmd = Command::new(DATAPACT);
    cmd.arg("--dir").arg(dir);
    cmd
}

/// Runs `datapact --dir DIR ARGS...`; fails unless it exits 0; returns stdout.
fn datapact_ok(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = datapact(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running datapact")?;
    check(&out, &format!("datapact {}", args.join(" ")))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits until `id` is in the catalogue of the node at `dir`: the receiver is connected to
/// the owner and has caught up, so the timed pull does not include the connection set-up.
fn wait_in_catalog(dir: &Path, id: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let list: Value = serde_json::from_str(&datapact_ok(dir, &["catalog", "--json"])?)?;
        if list
            .as_array()
            .is_some_and(|l| l.iter().any(|e| e["id"] == id))
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{id} did not reach the receiver's catalogue: {list}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running `datapact daemon`, stopped (SIGTERM, then SIGKILL) when dropped.
struct Daemon {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
}

impl Daemon {
    /// Starts the daemon of `dir`, logging to `log`, and waits until its control socket
    /// accepts connections.
    fn start(dir: &Path, log: &Path) -> anyhow::Result<Self> {
        let stderr = File::create(log)?;
        let child = datapact(dir)
            .args(["daemon", "--log-format", "json"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .context("spawning the daemon")?;
        let mut daemon = Daemon {
            child,
            dir: dir.to_owned(),
            log: log.to_owned(),
        };
        let socket = dir.join("control.sock");
        let deadline = Instant::now() + DEADLINE;
        while UnixStream::connect(&socket).is_err() {
            daemon.check_alive()?;
            if Instant::now() > deadline {
                bail!("the daemon did not open {}", socket.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(daemon)
    }

    fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "the daemon exited ({status}): {}",
                fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
        Ok(())
    }

    /// The PeerId and the actual TCP listen address, once the daemon has one.
    fn identity(&self) -> anyhow::Result<(String, String)> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let id: Value = serde_json::from_str(&datapact_ok(&self.dir, &["id", "--json"])?)?;
            let addr = id["listen"].as_array().and_then(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .find(|a| a.contains("/tcp/") && !a.ends_with("/tcp/0"))
            });
            if let Some(addr) = addr {
                return Ok((json_str(&id, "peer_id")?, addr.to_owned()));
            }
            if Instant::now() > deadline {
                bail!("the daemon reports no listen address: {id}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `VmHWM` of the daemon process, in KiB.
    fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        vm_hwm_kib(self.child.id())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// `VmHWM` of process `pid`, in KiB.
fn vm_hwm_kib(pid: u32) -> anyhow::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/PID/status")
}

/// SIGTERM, then SIGKILL if the process has not exited within [`DEADLINE`]; reaps it.
fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A private OpenSSH server on 127.0.0.1 with its own host key, config and authorized key,
/// killed when dropped.
struct Sshd {
    child: Child,
    port: u16,
    client_key: PathBuf,
}

impl Sshd {
    fn start(root: &Path) -> anyhow::Result<Self> {
        let dir = root.join("sshd");
        fs::create_dir(&dir)?;
        let host_key = dir.join("host_key");
        let client_key = dir.join("client_key");
        for key in [&host_key, &client_key] {
            let out = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(key)
                .stdin(Stdio::null())
                .output()?;
            check(&out, "ssh-keygen")?;
        }
        let authorized = dir.join("authorized_keys");
        fs::copy(client_key.with_extension("pub"), &authorized)?;
        // sshd running as root needs its privilege separation directory, which Debian's
        // service unit creates at boot; create it when missing (it is empty and harmless).
        let privsep = Path::new("/run/sshd");
        if !privsep.exists() {
            fs::create_dir_all(privsep).with_context(|| {
                "sshd needs the privilege separation directory /run/sshd; create it with `mkdir -p /run/sshd`"
            })?;
            println!("  created /run/sshd (sshd's privilege separation directory)");
        }
        let port = free_port()?;
        let sftp = if Path::new("/usr/lib/openssh/sftp-server").exists() {
            "/usr/lib/openssh/sftp-server"
        } else {
            "internal-sftp"
        };
        let config = dir.join("sshd_config");
        fs::write(
            &config,
            format!(
                "Port {port}\n\
                 ListenAddress 127.0.0.1\n\
                 HostKey {}\n\
                 AuthorizedKeysFile {}\n\
                 PidFile {}\n\
                 StrictModes no\n\
                 UsePAM no\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\n\
                 Subsystem sftp {sftp}\n",
                host_key.display(),
                authorized.display(),
                dir.join("sshd.pid").display(),
            ),
        )?;
        let log = dir.join("sshd.log");
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log)?)
            .spawn()
            .context("spawning sshd")?;
        let mut sshd = Sshd {
            child,
            port,
            client_key,
        };
        let deadline = Instant::now() + DEADLINE;
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Some(status) = sshd.child.try_wait()? {
                bail!(
                    "sshd exited ({status}): {}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                bail!("sshd does not accept connections on port {port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(sshd)
    }

    /// `scp FILE USER@127.0.0.1:DEST` with OpenSSH's default cipher and settings.
    fn scp(&self, file: &Path, user: &str, dest: &Path) -> anyhow::Result<Output> {
        Command::new("scp")
            .arg("-q")
            .arg("-P")
            .arg(self.port.to_string())
            .arg("-i")
            .arg(&self.client_key)
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "LogLevel=ERROR",
            ])
            .arg(file)
            .arg(format!("{user}@127.0.0.1:{}", dest.display()))
            .stdin(Stdio::null())
            .output()
            .context("running scp")
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}
