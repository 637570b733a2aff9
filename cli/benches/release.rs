//! Benchmark of `datapact release` on a large file.
//!
//! Target (from the issue): releasing a 1 GiB file keeps the daemon's peak RSS under 200 MiB
//! and runs at no less than half the speed of `sha256sum` on the same file.
//!
//! The file is pseudo-random, written and fsync'd once, then read once so that both
//! `sha256sum` and the release read it from the page cache. Each command is timed from spawn
//! to exit, best of three; the releases use three different names. The daemon's peak RSS is
//! `VmHWM` in `/proc/PID/status` after the releases.
//!
//! `cargo bench -p datapact --bench release`; `DATAPACT_BENCH_MIB` sets the file size
//! (default 1024; 8 under `cargo test --benches`). Exits 1 when a target is missed, 2 when the benchmark cannot run.

#[path = "support/mod.rs"]
mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use support::{
    Daemon, Launch as _, Setting, StreamTargets, best, check, datapact, init_node, list, mib_per_s,
    read_through, recycle_memory, temp_dir, time_sha256sum, timed, write_random_file,
};

/// The file size in MiB: 1024, or 8 under `cargo test --benches`.
const SIZE_MIB: Setting = Setting::new("DATAPACT_BENCH_MIB", 1024, 8);
/// Timed runs of each command; the best one counts.
const RUNS: usize = 3;
/// At least half the speed of `sha256sum`, with the daemon's peak RSS under 200 MiB.
const TARGETS: StreamTargets = StreamTargets {
    min_speed_ratio: 0.5,
    rss_limit_mib: 200.0,
};
/// How long a daemon may take to start or stop.
const DAEMON_DEADLINE: Duration = Duration::from_secs(20);

fn main() -> ExitCode {
    support::exit_code(run())
}

fn run() -> anyhow::Result<bool> {
    let mib = SIZE_MIB.get()?;
    let size = mib << 20;
    let tmp = temp_dir("datapact-bench-release-")?;
    println!(
        "datapact release benchmark: {mib} MiB file ({}={mib})",
        SIZE_MIB.var
    );
    println!("  temp dir {}", tmp.path().display());

    let file = tmp.path().join("big.bin");
    let started = Instant::now();
    write_random_file(&file, size, 0x5eed_da7a_9ac7_0001).context("writing the file")?;
    println!(
        "  generated the file in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    read_through(&file)?;
    println!(
        "  before each release: {mib} MiB scratch file written and deleted (same memory state for every run)"
    );

    let mut sha_runs = Vec::new();
    for _ in 0..RUNS {
        sha_runs.push(time_sha256sum(&file)?);
    }

    let node = tmp.path().join("node");
    init_node(&node, "THA")?;
    let daemon = Daemon::start(&node, &tmp.path().join("daemon.log"), DAEMON_DEADLINE)?;
    let file_arg = file.to_str().context("temp path is not UTF-8")?;
    let mut release_runs = Vec::new();
    for i in 0..RUNS {
        let name = format!("big-{i}");
        recycle_memory(tmp.path(), size)?;
        let (secs, out) = timed(datapact(&node).args([
            "release", file_arg, "--name", &name, "--title", "Big", "--policy", "members",
        ]))?;
        check(&out, "datapact release")?;
        release_runs.push(secs);
    }
    let hwm_kib = daemon.peak_rss_kib()?;
    drop(daemon);

    let sha_best = best(&sha_runs);
    let rel_best = best(&release_runs);
    let sha_speed = mib_per_s(size, sha_best);
    let rel_speed = mib_per_s(size, rel_best);
    let ratio = rel_speed / sha_speed;
    let rss_mib = hwm_kib as f64 / 1024.0;

    println!();
    println!("  {:<22} {:>10} {:>12}   runs (s)", "", "best (s)", "MiB/s");
    println!(
        "  {:<22} {:>10.3} {:>12.0}   {}",
        "sha256sum",
        sha_best,
        sha_speed,
        list(&sha_runs)
    );
    println!(
        "  {:<22} {:>10.3} {:>12.0}   {}",
        "datapact release",
        rel_best,
        rel_speed,
        list(&release_runs)
    );
    println!("  release / sha256sum speed ratio: {ratio:.2}");
    println!("  daemon peak RSS (VmHWM): {rss_mib:.1} MiB");
    println!();
    println!("targets");
    Ok(TARGETS.judge("release", ratio, "daemon", rss_mib))
}
