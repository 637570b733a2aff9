//! Benchmark of `datapact pull` between two daemons on 127.0.0.1, against its ceiling (a bare
//! libp2p stream over the same transport) and `scp`.
//!
//! Targets: a 1 GiB `public` dataset is pulled end to end (`datapact pull` from spawn to exit:
//! request, transfer, per-chunk and whole-content verification, storage, fsync) at no less than
//! 70 % of the throughput of a bare libp2p stream (TCP + Noise + Yamux with the node's
//! settings, between two processes; see `datapact_tests::bench::ceiling`) moving as many bytes; at least as
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

#[path = "support/mod.rs"]
mod support;

use std::fs::{self, File};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use datapact_node::store::stage_times::STAGE_TIMES_EVENT;
use datapact_tests::bench::ceiling;
use serde_json::Value;

use support::{
    Daemon, Launch as _, bench_mode, check, datapact, datapact_ok, env_u64, init_node, mib_per_s,
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
    /// CPU time of the two daemons over the pull.
    pull_cpu: f64,
    /// The bare stream, from opening it to its last byte.
    ceiling: f64,
    /// CPU time of its two processes.
    ceiling_cpu: f64,
    scp: f64,
    scp_sha: f64,
    /// Peak RSS of the receiving daemon, KiB.
    receiver_hwm_kib: u64,
    /// Where the receiving daemon's time went, from its log.
    stages: Stages,
}

/// The receiving daemon's account of a pull (its [`STAGE_TIMES_EVENT`] log line), seconds:
/// the pipeline's wall time from its start to the commit, what its network side waited for,
/// and each pipeline thread's busy time.
#[derive(Debug, Default, Clone, Copy)]
struct Stages {
    wall: f64,
    network_wait: f64,
    pipeline_wait: f64,
    verify: f64,
    hash: f64,
    append: f64,
    sync: f64,
    syncs: f64,
    commit: f64,
}

impl Stages {
    /// The last stage-times line of the daemon log at `log`.
    fn from_log(log: &Path) -> anyhow::Result<Self> {
        let text = fs::read_to_string(log)?;
        let fields = text
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["fields"]["message"] == STAGE_TIMES_EVENT)
            .map(|v| v["fields"].clone())
            .with_context(|| format!("no {STAGE_TIMES_EVENT:?} line in {}", log.display()))?;
        let f = |key: &str| -> anyhow::Result<f64> {
            fields[key]
                .as_f64()
                .with_context(|| format!("no {key} in {fields}"))
        };
        Ok(Self {
            wall: f("wall_s")?,
            network_wait: f("network_wait_s")?,
            pipeline_wait: f("pipeline_wait_s")?,
            verify: f("verify_s")?,
            hash: f("hash_s")?,
            append: f("append_s")?,
            sync: f("sync_s")?,
            syncs: f("syncs")?,
            commit: f("commit_s")?,
        })
    }

    /// One line: the pipeline's wall time, then where it went.
    fn line(&self, pull: f64) -> String {
        format!(
            "receiver: pipeline {:.3} s of the pull's {pull:.3} s (rest: CLI, request, grant, records); \
             network side waited {:.3} s on the stream, {:.3} s on the pipeline; busy: verify {:.3} s, \
             hash {:.3} s, append {:.3} s, {} checkpoint fsyncs {:.3} s, commit {:.3} s",
            self.wall,
            self.network_wait,
            self.pipeline_wait,
            self.verify,
            self.hash,
            self.append,
            self.syncs,
            self.sync,
            self.commit,
        )
    }
}

/// What every round uses: the owner with its release, the bare-stream sender, the sshd.
struct Setup<'a> {
    root: &'a Path,
    size: u64,
    file: PathBuf,
    owner: Daemon,
    owner_peer: String,
    owner_addr: String,
    id: String,
    sha256: String,
    sender: ceiling::Sender,
    sshd: Sshd,
    user: String,
}

fn run() -> anyhow::Result<bool> {
    let smoke = !bench_mode();
    if let Some(tool) = [SSHD, "/usr/bin/scp", "/usr/bin/ssh-keygen"]
        .into_iter()
        .find(|t| !Path::new(t).exists())
    {
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
    let (default_mib, default_rounds) = if smoke {
        SMOKE
    } else {
        (DEFAULT_MIB, DEFAULT_ROUNDS)
    };
    let mib = env_u64(SIZE_VAR, default_mib)?;
    let rounds = env_u64(ROUNDS_VAR, default_rounds)?.max(1);
    let tmp = temp_dir("datapact-bench-pull-")?;
    println!(
        "datapact pull benchmark: {mib} MiB public dataset, rounds: {rounds} ({SIZE_VAR}={mib}, {ROUNDS_VAR}={rounds})"
    );
    println!("  temp dir {}", tmp.path().display());
    let setup = Setup::new(tmp.path(), mib << 20)?;
    let mut results = Vec::new();
    for round in 0..rounds {
        let r = setup.round(round)?;
        println!(
            "  round {}: pull {:.3} s, bare stream {:.3} s, scp {:.3} s, scp+sha256sum {:.3} s, receiver VmHWM {:.1} MiB; CPU s: pull {:.2}, bare stream {:.2}",
            round + 1,
            r.pull,
            r.ceiling,
            r.scp,
            r.scp_sha,
            r.receiver_hwm_kib as f64 / 1024.0,
            r.pull_cpu,
            r.ceiling_cpu,
        );
        println!("    {}", r.stages.line(r.pull));
        results.push(r);
    }
    let owner_hwm_kib = setup.owner.peak_rss_kib()?;
    drop(setup);
    Ok(report(&results, mib << 20, owner_hwm_kib, smoke))
}

impl<'a> Setup<'a> {
    /// Writes the file, starts the owner and has it release the file (public), starts the
    /// bare-stream sender and the sshd.
    fn new(root: &'a Path, size: u64) -> anyhow::Result<Self> {
        let file = root.join("big.bin");
        write_random_file(&file, size, 0x5eed_da7a_9ac7_0002)?;
        let owner_dir = root.join("owner");
        init_node(&owner_dir, "THA")?;
        let owner = Daemon::start(&owner_dir, &root.join("owner.log"), DEADLINE)?;
        let (owner_peer, owner_addr) = owner.identity()?;
        let released: Value = serde_json::from_str(&datapact_ok(
            &owner_dir,
            &[
                "release",
                utf8(&file)?,
                "--name",
                "big",
                "--title",
                "Big",
                "--policy",
                "public",
                "--json",
            ],
        )?)?;
        let id = json_str(&released, "id")?;
        let sha256 = json_str(&released, "sha256")?;
        println!(
            "  owner THA released {id} ({} MiB, sha256 {sha256})",
            size >> 20
        );
        let sender = ceiling::Sender::start()?;
        println!("  bare-stream sender at {}", sender.addr);
        let sshd = Sshd::start(root)?;
        let user = current_user()?;
        // A small copy first, so that a set-up problem shows before the timed runs.
        let probe = root.join("probe.txt");
        fs::write(&probe, b"probe\n")?;
        check(
            &sshd.scp(&probe, &user, &root.join("probe-copy.txt"))?,
            "scp (set-up check)",
        )?;
        println!("  sshd on 127.0.0.1:{} (user {user})", sshd.port);
        println!(
            "  before each timed command: {} MiB scratch file written and deleted (same memory state for all)",
            size >> 20
        );
        Ok(Self {
            root,
            size,
            file,
            owner,
            owner_peer,
            owner_addr,
            id,
            sha256,
            sender,
            sshd,
            user,
        })
    }

    /// One round: the pull, the bare stream, scp, scp + sha256sum.
    fn round(&self, round: u64) -> anyhow::Result<Round> {
        let (pull, pull_cpu, receiver_hwm_kib, stages) = self.pull(round)?;

        recycle_memory(self.root, self.size)?;
        let bare = self.sender.time(self.size)?;

        let dest = self.root.join("scp-received.bin");
        recycle_memory(self.root, self.size)?;
        let (scp, out) = timed_scp(&self.sshd, &self.file, &self.user, &dest)?;
        check(&out, "scp")?;
        fs::remove_file(&dest)?;

        // scp, then sha256sum of what arrived.
        recycle_memory(self.root, self.size)?;
        let start = Instant::now();
        let (_, out) = timed_scp(&self.sshd, &self.file, &self.user, &dest)?;
        check(&out, "scp")?;
        let out = Command::new("sha256sum")
            .arg(&dest)
            .stdin(Stdio::null())
            .output()?;
        let scp_sha = start.elapsed().as_secs_f64();
        check(&out, "sha256sum")?;
        let sum = String::from_utf8_lossy(&out.stdout);
        if sum.split_whitespace().next() != Some(self.sha256.as_str()) {
            bail!("scp delivered different content: {sum}");
        }
        fs::remove_file(&dest)?;
        Ok(Round {
            pull,
            pull_cpu,
            ceiling: bare.secs,
            ceiling_cpu: bare.cpu_secs,
            scp,
            scp_sha,
            receiver_hwm_kib,
            stages,
        })
    }

    /// `datapact pull` into a fresh receiving node, connected and caught up before the clock
    /// starts; returns its time, the two daemons' CPU time over it, the receiver's peak RSS
    /// in KiB and its account of the pull.
    fn pull(&self, round: u64) -> anyhow::Result<(f64, f64, u64, Stages)> {
        let recv_dir = self.root.join(format!("receiver-{round}"));
        init_node(&recv_dir, "MMR")?;
        let log = self.root.join(format!("receiver-{round}.log"));
        let receiver = Daemon::start(&recv_dir, &log, DEADLINE)?;
        let (recv_peer, recv_addr) = receiver.identity()?;
        let (owner_peer, owner_addr) = (&self.owner_peer, &self.owner_addr);
        datapact_ok(
            &recv_dir,
            &["members", "add", "THA", owner_peer, "--addr", owner_addr],
        )?;
        datapact_ok(
            self.owner.dir(),
            &["members", "add", "MMR", &recv_peer, "--addr", &recv_addr],
        )?;
        wait_in_catalog(&recv_dir, &self.id)?;
        recycle_memory(self.root, self.size)?;
        let pids = [self.owner.pid(), receiver.pid()].map(|p| p.to_string());
        let cpu = |pids: &[String; 2]| -> anyhow::Result<f64> {
            Ok(ceiling::cpu_secs(&pids[0])? + ceiling::cpu_secs(&pids[1])?)
        };
        let cpu_before = cpu(&pids)?;
        let (secs, out) = timed(datapact(&recv_dir).args(["pull", &self.id, "--json"]))?;
        let cpu_secs = cpu(&pids)? - cpu_before;
        check(&out, "datapact pull")?;
        let pulled: Value = serde_json::from_slice(&out.stdout)?;
        if json_str(&pulled, "sha256")? != self.sha256 {
            bail!("the pull reported a different sha256: {pulled}");
        }
        let hwm_kib = receiver.peak_rss_kib()?;
        let stages = Stages::from_log(&log)?;
        drop(receiver);
        fs::remove_dir_all(&recv_dir)?;
        Ok((secs, cpu_secs, hwm_kib, stages))
    }
}

/// Prints the medians, the ratios and the targets; whether every target is met.
fn report(results: &[Round], size: u64, owner_hwm_kib: u64, smoke: bool) -> bool {
    let med = |f: fn(&Round) -> f64| median(results.iter().map(f));
    let (pull, ceiling) = (med(|r| r.pull), med(|r| r.ceiling));
    let (scp, scp_sha) = (med(|r| r.scp), med(|r| r.scp_sha));
    let rss_mib = results
        .iter()
        .map(|r| r.receiver_hwm_kib)
        .max()
        .unwrap_or(0) as f64
        / 1024.0;
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
    let (vs_ceiling, vs_scp, vs_scp_sha) = (ceiling / pull, scp / pull, scp_sha / pull);
    println!("  pull speed / bare-stream speed:     {vs_ceiling:.2}");
    println!("  pull speed / scp speed:             {vs_scp:.2}");
    println!("  pull speed / scp+sha256sum speed:   {vs_scp_sha:.2}");
    println!(
        "  CPU time, both processes (median): pull {:.2} s, bare stream {:.2} s",
        med(|r| r.pull_cpu),
        med(|r| r.ceiling_cpu)
    );
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
    let not_enforced = if smoke {
        " (smoke run: not enforced)"
    } else {
        ""
    };
    verdict(
        ok_ceiling,
        &format!(
            "pull at least {:.0} % of bare-stream speed{not_enforced}",
            CEILING_FRACTION * 100.0
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
    (ok_ceiling || smoke) && ok_scp && ok_scp_sha && ok_rss
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
