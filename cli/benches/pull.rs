//! Benchmark of `datapact pull` between two daemons on 127.0.0.1, against its ceiling (a bare
//! libp2p stream over the same transport) and `scp`.
//!
//! Targets: a 1 GiB `public` dataset is pulled end to end (`datapact pull` from spawn to exit:
//! request, transfer, per-chunk and whole-content verification, storage, fsync) at no less than
//! 70 % of the throughput of a bare libp2p stream (TCP + Noise + Yamux with the node's
//! settings, between two processes; see `ceiling/mod.rs`) moving as many bytes; at least as
//! fast as `scp` of the same file to 127.0.0.1 with OpenSSH's default settings, and at least
//! twice as fast as `scp` followed by `sha256sum` of the received file; the receiving
//! daemon's peak RSS (`VmHWM`) stays under 200 MiB.
//!
//! The owner daemon releases the file once, and the ceiling's sender process starts once.
//! Each round then measures, one after the other: a pull into a fresh receiving node (roster
//! set up, connected and caught up before the clock starts), the bare stream (connected
//! before the clock starts, timed from opening the stream to its last byte), `scp` to a
//! private `sshd` on 127.0.0.1, and `scp` + `sha256sum`. Medians count.
//!
//! `cargo bench -p datapact --bench pull`; `DATAPACT_BENCH_MIB` sets the file size (default
//! 1024), `DATAPACT_BENCH_ROUNDS` the number of rounds (default 3); under `cargo test
//! --benches` the defaults are 8 MiB and 1 round, the ceiling target is reported but not
//! enforced (at 8 MiB a pull's fixed costs, a process start and two fsyncs, outweigh the
//! transfer), and a missing sshd skips the run. Needs OpenSSH's server (`apt-get install -y
//! openssh-server openssh-client`). Exits 1 when a target is missed, 2 when the benchmark
//! cannot run.

#[path = "ceiling/mod.rs"]
mod ceiling;
#[path = "support/mod.rs"]
mod support;

use std::fs::{self, File};
use std::io::BufRead as _;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

use support::{
    Daemon, bench_mode, check, datapact, datapact_ok, env_u64, init_node, mib_per_s,
    recycle_memory, temp_dir, terminate, timed, verdict, write_random_file,
};

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
/// The least pull throughput, as a fraction of the bare stream's.
const CEILING_FRACTION: f64 = 0.70;
/// How long a daemon or sshd may take to start or stop, or two nodes to connect.
const DEADLINE: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    if let Some(code) = ceiling::run_role() {
        return code;
    }
    support::exit_code(run())
}

/// Times of one round, in seconds.
struct Round {
    pull: f64,
    /// The bare stream, from opening it to its last byte.
    ceiling: f64,
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
    let tmp = temp_dir("datapact-bench-pull-")?;
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
    init_node(&owner_dir, "THA")?;
    let owner = Daemon::start(&owner_dir, &root.join("owner.log"), DEADLINE)?;
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

    let sender = CeilingSender::start()?;
    println!("  bare-stream sender at {}", sender.addr);

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
        init_node(&recv_dir, "MMR")?;
        let receiver = Daemon::start(
            &recv_dir,
            &root.join(format!("receiver-{round}.log")),
            DEADLINE,
        )?;
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

        // 2. The bare stream.
        recycle_memory(root, size)?;
        let ceiling = sender.time(size)?;

        // 3. scp.
        recycle_memory(root, size)?;
        let (scp, out) = timed_scp(&sshd, &file, &user, &dest)?;
        check(&out, "scp")?;
        fs::remove_file(&dest)?;

        // 4. scp, then sha256sum of what arrived.
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
            "  round {}: pull {pull:.3} s, bare stream {ceiling:.3} s, scp {scp:.3} s, scp+sha256sum {scp_sha:.3} s, receiver VmHWM {:.1} MiB",
            round + 1,
            receiver_hwm_kib as f64 / 1024.0
        );
        results.push(Round {
            pull,
            ceiling,
            scp,
            scp_sha,
            receiver_hwm_kib,
        });
    }
    let owner_hwm_kib = owner.peak_rss_kib()?;
    drop(owner);
    drop(sshd);
    drop(sender);

    let pull = median(results.iter().map(|r| r.pull));
    let ceiling = median(results.iter().map(|r| r.ceiling));
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
        ("bare libp2p stream", ceiling),
        ("scp", scp),
        ("scp + sha256sum", scp_sha),
    ] {
        println!("  {what:<22} {secs:>12.3} {:>10.0}", mib_per_s(size, secs));
    }
    let vs_ceiling = ceiling / pull;
    let vs_scp = scp / pull;
    let vs_scp_sha = scp_sha / pull;
    println!("  pull speed / bare-stream speed:     {vs_ceiling:.2}");
    println!("  pull speed / scp speed:             {vs_scp:.2}");
    println!("  pull speed / scp+sha256sum speed:   {vs_scp_sha:.2}");
    println!("  receiving daemon peak RSS (VmHWM, max over rounds): {rss_mib:.1} MiB");
    println!(
        "  owner daemon peak RSS (VmHWM, release and serving): {:.1} MiB",
        owner_hwm_kib as f64 / 1024.0
    );
    println!();
    println!("targets");
    let ok_ceiling = vs_ceiling >= CEILING_FRACTION;
    let ok_scp = vs_scp >= 1.0;
    let ok_scp_sha = vs_scp_sha >= 2.0;
    let ok_rss = rss_mib < RSS_LIMIT_MIB;
    verdict(
        ok_ceiling,
        &format!(
            "pull at least {:.0} % of bare-stream speed{}",
            CEILING_FRACTION * 100.0,
            if smoke { " (smoke run: not enforced)" } else { "" }
        ),
        &format!("{:.0} %", vs_ceiling * 100.0),
    );
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
    Ok((ok_ceiling || smoke) && ok_scp && ok_scp_sha && ok_rss)
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

fn timed_scp(sshd: &Sshd, file: &Path, user: &str, dest: &Path) -> anyhow::Result<(f64, Output)> {
    let start = Instant::now();
    let out = sshd.scp(file, user, dest)?;
    Ok((start.elapsed().as_secs_f64(), out))
}

fn current_user() -> anyhow::Result<String> {
    let out = Command::new("id").arg("-un").output()?;
    check(&out, "id -un")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
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

/// The ceiling's sender, a second process of this benchmark ([`ceiling::SENDER_ROLE`]),
/// killed when dropped.
struct CeilingSender {
    child: Child,
    /// Its address, ending in `/p2p/PEER`.
    addr: String,
}

impl CeilingSender {
    fn start() -> anyhow::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg(ceiling::SENDER_ROLE)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .context("spawning the bare-stream sender")?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let mut sender = CeilingSender {
            child,
            addr: String::new(),
        };
        // The sender gives up on its own after its deadline, which ends this read too.
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        match line.trim().strip_prefix(ceiling::LISTENING) {
            Some(addr) => sender.addr = addr.to_owned(),
            None => bail!("the bare-stream sender did not start: {line:?}"),
        }
        Ok(sender)
    }

    /// Runs a receiver process for `size` bytes; returns the seconds it measured.
    fn time(&self, size: u64) -> anyhow::Result<f64> {
        let out = Command::new(std::env::current_exe()?)
            .args([ceiling::RECEIVER_ROLE, &self.addr, &size.to_string()])
            .stdin(Stdio::null())
            .output()
            .context("running the bare-stream receiver")?;
        check(&out, "bare-stream receiver")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(ceiling::SECONDS))
            .and_then(|s| s.trim().parse().ok())
            .with_context(|| format!("no time from the bare-stream receiver: {stdout:?}"))
    }
}

impl Drop for CeilingSender {
    fn drop(&mut self) {
        terminate(&mut self.child, DEADLINE);
    }
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
        terminate(&mut self.child, DEADLINE);
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}
