//! Benchmark of announcement propagation in a federation of daemons on 127.0.0.1.
//!
//! Target: an announcement reaches all 10 member daemons of a 10-process federation within
//! 1 s (p99 over 100 releases).
//!
//! Ten daemons (members M00..M09) with full-mesh rosters; once every daemon is connected to
//! all the others, M00 releases 100 small files one after the other, three in four `public`
//! (gossip) and one in four `members` (direct delivery to each member). For each release the
//! clock starts just before `datapact release` is spawned and stops when the last of the other
//! nine daemons logs `accepted` for that dataset (their JSON logs on stderr are read by one
//! thread each, which timestamps every line as it arrives).
//!
//! `cargo bench -p datapact --bench propagation`; `DATAPACT_BENCH_RELEASES` sets the number of
//! releases (default 100), `DATAPACT_BENCH_NODES` the number of daemons (default 10); under
//! `cargo test --benches` the defaults are 5 releases and 3 daemons. Exits 1
//! when the target is missed, 2 when the benchmark cannot run.

#[path = "support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

use support::{
    Daemon, Launch as _, Setting, check, datapact, datapact_ok, init_node, temp_dir, verdict,
};

/// The number of measured releases: 100, or 5 under `cargo test --benches`.
const RELEASES: Setting = Setting::new("DATAPACT_BENCH_RELEASES", 100, 5);
/// The number of daemons: 10, or 3 under `cargo test --benches`.
const NODES: Setting = Setting::new("DATAPACT_BENCH_NODES", 10, 3);
/// The p99 propagation time that must not be exceeded.
const TARGET: Duration = Duration::from_secs(1);
/// How long one announcement may take before its missing receivers are given up.
const GIVE_UP: Duration = Duration::from_secs(10);
/// How long daemons may take to start, stop, or connect to each other.
const DEADLINE: Duration = Duration::from_secs(60);
/// One release in this many is `members`; the others are `public`.
const MEMBERS_EVERY: usize = 4;

fn main() -> ExitCode {
    support::exit_code(run())
}

/// One measured release.
struct Sample {
    policy: &'static str,
    /// Until the last receiver accepted it; `None` if one never did within [`GIVE_UP`].
    last: Option<Duration>,
    /// Until the first receiver accepted it.
    first: Option<Duration>,
    /// Until `datapact release` exited.
    command: Duration,
}

fn run() -> anyhow::Result<bool> {
    let releases = RELEASES.get()?.max(1) as usize;
    let nodes = NODES.get()?.clamp(2, 100) as usize;
    let tmp = temp_dir("datapact-bench-propagation-")?;
    let root = tmp.path();
    println!(
        "datapact propagation benchmark: {nodes} daemons, {releases} releases ({}={nodes}, {}={releases})",
        NODES.var, RELEASES.var
    );
    println!("  temp dir {}", root.display());

    let accepts = Arc::new(Accepts::default());
    let daemons = full_mesh(root, nodes, &accepts)?;
    let owner = &daemons[0];
    let receivers: Vec<usize> = (1..nodes).collect();
    // Warm-up, not counted: one release of each kind must reach everyone.
    for (k, policy) in ["public", "members"].into_iter().enumerate() {
        let file = small_file(root, &format!("warm-{k}"), k)?;
        let (id, _) = release(owner.dir(), &file, &format!("warm-{k}"), policy)?;
        let missing = accepts.wait(&id, &receivers, Instant::now() + DEADLINE);
        if !missing.is_empty() {
            bail!(
                "warm-up {policy} release {id} never reached {}",
                names(&missing)
            );
        }
    }
    let samples = measure(owner, root, releases, &receivers, &accepts)?;
    drop(daemons);

    report(&samples);
    println!();
    println!("targets");
    let p99 = percentile(&samples.iter().map(|s| s.last).collect::<Vec<_>>(), 0.99);
    Ok(verdict(
        p99.is_some_and(|p| p <= TARGET),
        &format!(
            "p99 time until all {} other daemons accepted <= {} ms",
            nodes - 1,
            TARGET.as_millis()
        ),
        &format!("{} ms", ms(p99)),
    ))
}

/// Starts `nodes` daemons under `root`, their logs read into `accepts`, puts each into every
/// other's roster and waits until each is connected to all the others.
fn full_mesh(root: &Path, nodes: usize, accepts: &Arc<Accepts>) -> anyhow::Result<Vec<Daemon>> {
    let mut daemons = Vec::new();
    for i in 0..nodes {
        let dir = root.join(format!("m{i:02}"));
        init_node(&dir, &member(i))?;
        daemons.push(start_daemon(i, &dir, accepts.clone())?);
    }
    let ids = daemons
        .iter()
        .map(Daemon::identity)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = Instant::now();
    for (i, d) in daemons.iter().enumerate() {
        for (j, (peer, addr)) in ids.iter().enumerate() {
            if i != j {
                datapact_ok(
                    d.dir(),
                    &["members", "add", &member(j), peer, "--addr", addr],
                )?;
            }
        }
    }
    for d in &daemons {
        wait_connected(d.dir(), nodes - 1)?;
    }
    println!(
        "  full mesh: every daemon connected to the {} others in {:.2} s after the rosters were set",
        nodes - 1,
        started.elapsed().as_secs_f64()
    );
    Ok(daemons)
}

/// `owner` releases `releases` small files one after the other; for each, how long until the
/// first and the last of `receivers` accepted it.
fn measure(
    owner: &Daemon,
    root: &Path,
    releases: usize,
    receivers: &[usize],
    accepts: &Accepts,
) -> anyhow::Result<Vec<Sample>> {
    let mut files = Vec::new();
    for i in 0..releases {
        files.push(small_file(root, &format!("r-{i:03}"), i)?);
    }
    let mut samples = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let policy = if i % MEMBERS_EVERY == MEMBERS_EVERY - 1 {
            "members"
        } else {
            "public"
        };
        let start = Instant::now();
        let (id, command) = release(owner.dir(), file, &format!("r-{i:03}"), policy)?;
        let missing = accepts.wait(&id, receivers, start + GIVE_UP);
        let times = accepts.times(&id, receivers);
        let since = |t: Instant| t.saturating_duration_since(start);
        let sample = Sample {
            policy,
            last: missing
                .is_empty()
                .then(|| times.iter().max().copied().map(since))
                .flatten(),
            first: times.iter().min().copied().map(since),
            command,
        };
        if !missing.is_empty() {
            println!(
                "  {id} ({policy}): not accepted by {} within {} s",
                names(&missing),
                GIVE_UP.as_secs()
            );
        }
        samples.push(sample);
    }
    Ok(samples)
}

/// Prints the percentiles of the samples, by policy and by what was timed.
fn report(samples: &[Sample]) {
    println!();
    println!(
        "  {:<34} {:>6} {:>10} {:>10} {:>10}",
        "(ms)", "n", "p50", "p99", "max"
    );
    let row = |what: &str, values: Vec<Option<Duration>>| {
        let n = values.len();
        println!(
            "  {what:<34} {n:>6} {:>10} {:>10} {:>10}",
            ms(percentile(&values, 0.50)),
            ms(percentile(&values, 0.99)),
            ms(percentile(&values, 1.0)),
        );
    };
    row(
        "reached all receivers (all)",
        samples.iter().map(|s| s.last).collect(),
    );
    for policy in ["public", "members"] {
        row(
            &format!("reached all receivers ({policy})"),
            samples
                .iter()
                .filter(|s| s.policy == policy)
                .map(|s| s.last)
                .collect(),
        );
    }
    row(
        "reached the first receiver",
        samples.iter().map(|s| s.first).collect(),
    );
    row(
        "`datapact release` until exit",
        samples.iter().map(|s| Some(s.command)).collect(),
    );
    let lost = samples.iter().filter(|s| s.last.is_none()).count();
    if lost > 0 {
        println!(
            "  {lost} release(s) did not reach every receiver within {} s",
            GIVE_UP.as_secs()
        );
    }
}

/// Member code of daemon `i`.
fn member(i: usize) -> String {
    format!("M{i:02}")
}

fn names(indices: &[usize]) -> String {
    indices
        .iter()
        .map(|&i| member(i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Milliseconds with one decimal, or `lost` for a release that never reached everyone.
fn ms(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!("{:.1}", d.as_secs_f64() * 1000.0),
        None => "lost".to_owned(),
    }
}

/// Nearest-rank percentile; a `None` (lost) sorts above every time.
fn percentile(values: &[Option<Duration>], p: f64) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by_key(|d| d.unwrap_or(Duration::MAX));
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// A small CSV file, different for every `seq`.
fn small_file(root: &Path, name: &str, seq: usize) -> anyhow::Result<PathBuf> {
    let path = root.join(format!("{name}.csv"));
    let mut text = String::from("origin,destination,year,value\n");
    for row in 0..20 {
        text.push_str(&format!("THA,MMR,{},{}\n", 2000 + row, seq * 100 + row));
    }
    fs::write(&path, text)?;
    Ok(path)
}

/// `datapact release FILE --name NAME --policy POLICY`; returns the dataset id and how long
/// the command took.
fn release(
    dir: &Path,
    file: &Path,
    name: &str,
    policy: &str,
) -> anyhow::Result<(String, Duration)> {
    let start = Instant::now();
    let out = datapact(dir)
        .arg("release")
        .arg(file)
        .args([
            "--name",
            name,
            "--title",
            "Propagation probe",
            "--policy",
            policy,
            "--json",
        ])
        .stdin(Stdio::null())
        .output()?;
    let took = start.elapsed();
    check(&out, "datapact release")?;
    let info: Value = serde_json::from_slice(&out.stdout)?;
    let id = info["id"]
        .as_str()
        .with_context(|| format!("no id in {info}"))?;
    Ok((id.to_owned(), took))
}

/// When each daemon first logged `accepted` for each dataset id.
#[derive(Default)]
struct Accepts {
    seen: Mutex<HashMap<String, HashMap<usize, Instant>>>,
    changed: Condvar,
}

impl Accepts {
    fn record(&self, node: usize, dataset: &str, at: Instant) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.entry(dataset.to_owned())
                .or_default()
                .entry(node)
                .or_insert(at);
        }
        self.changed.notify_all();
    }

    /// Waits until every node of `nodes` accepted `id`, or `deadline`; returns those that did
    /// not.
    fn wait(&self, id: &str, nodes: &[usize], deadline: Instant) -> Vec<usize> {
        let Ok(mut seen) = self.seen.lock() else {
            return nodes.to_vec();
        };
        loop {
            let missing: Vec<usize> = nodes
                .iter()
                .copied()
                .filter(|n| !seen.get(id).is_some_and(|m| m.contains_key(n)))
                .collect();
            let now = Instant::now();
            if missing.is_empty() || now >= deadline {
                return missing;
            }
            seen = match self.changed.wait_timeout(seen, deadline - now) {
                Ok((guard, _)) => guard,
                Err(_) => return missing,
            };
        }
    }

    /// When the nodes of `nodes` that accepted `id` did so.
    fn times(&self, id: &str, nodes: &[usize]) -> Vec<Instant> {
        let Ok(seen) = self.seen.lock() else {
            return Vec::new();
        };
        seen.get(id)
            .map(|m| nodes.iter().filter_map(|n| m.get(n).copied()).collect())
            .unwrap_or_default()
    }
}

/// Starts daemon `index` of `dir`, whose JSON log on stderr is read by a thread that records
/// every `accepted` line in `accepts` (and copies the log to `DIR.log`).
fn start_daemon(index: usize, dir: &Path, accepts: Arc<Accepts>) -> anyhow::Result<Daemon> {
    let daemon = Daemon::builder(dir, &dir.with_extension("log"), DEADLINE)
        .name(format!("daemon {}", member(index)))
        .log_reader(move |stderr, log| read_log(index, stderr, log, &accepts))
        .start()?;
    Ok(daemon)
}

/// Waits until `peers --json` of the node at `dir` lists `count` distinct roster members.
fn wait_connected(dir: &Path, count: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let peers: Value = serde_json::from_str(&datapact_ok(dir, &["peers", "--json"])?)?;
        let mut members: Vec<&str> = peers
            .as_array()
            .map(|l| l.iter().filter_map(|p| p["member"].as_str()).collect())
            .unwrap_or_default();
        members.sort_unstable();
        members.dedup();
        if members.len() >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{} is connected to {} members only: {peers}",
                dir.display(),
                members.len()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Copies the daemon's log to `log`, timestamping each line as it arrives and recording the
/// `accepted` ones; ends when the daemon closes stderr.
fn read_log(index: usize, stderr: impl std::io::Read, mut log: File, accepts: &Accepts) {
    let mut lines = BufReader::new(stderr);
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let at = Instant::now();
        let _ = log.write_all(line.as_bytes());
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        // tracing-subscriber's JSON puts the message and fields under "fields".
        let fields = if event["fields"].is_object() {
            &event["fields"]
        } else {
            &event
        };
        if fields["message"] == "accepted"
            && let Some(dataset) = fields["dataset"].as_str()
        {
            accepts.record(index, dataset, at);
        }
    }
}
