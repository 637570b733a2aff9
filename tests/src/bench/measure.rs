//! Measuring, for every benchmark program of the workspace: settings from the environment with
//! a quick smoke default, timed commands, best-of and throughput, peak RSS from `/proc`, one
//! PASS/FAIL line per target, and the exit status.
//!
//! Only `std` is used here: the support crate serves this module as `datapact_tests::bench`,
//! and the protocol's benchmarks, which cannot depend on the node crates (that would be a
//! dependency cycle), include this same file with `#[path]`.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;
use std::process::{Command, ExitCode, Output, Stdio};
use std::time::Instant;

/// How much [`read_through`] reads at a time.
const READ_SIZE: usize = 1 << 20;

/// The exit status of a benchmark from the outcome of its run: 0 when every target is met, 1
/// when one is missed, 2 (after printing the error) when the benchmark cannot run.
pub fn exit_code<E: fmt::Display>(outcome: Result<bool, E>) -> ExitCode {
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

/// A setting's environment variable holds something other than a whole number.
#[derive(Debug)]
pub struct BadSetting {
    /// The variable.
    pub var: &'static str,
    /// What it holds.
    pub value: String,
}

impl fmt::Display for BadSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?} is not a whole number", self.var, self.value)
    }
}

impl std::error::Error for BadSetting {}

/// Reads a non-negative integer from the environment variable `var`, or `default`.
pub fn env_u64(var: &'static str, default: u64) -> Result<u64, BadSetting> {
    match std::env::var(var) {
        Ok(value) => value.trim().parse().map_err(|_| BadSetting { var, value }),
        Err(_) => Ok(default),
    }
}

/// A size or count a benchmark reads from the environment, with its defaults.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The environment variable that sets it.
    pub var: &'static str,
    /// Its value when the variable is not set, under `cargo bench`.
    pub bench: u64,
    /// Its value when the variable is not set, under `cargo test --benches`.
    pub smoke: u64,
}

impl Setting {
    /// The setting read from `var`, defaulting to `bench` under `cargo bench` and to `smoke`
    /// under `cargo test --benches`.
    pub const fn new(var: &'static str, bench: u64, smoke: u64) -> Self {
        Setting { var, bench, smoke }
    }

    /// The value: from [`Setting::var`], or the default of this kind of run.
    pub fn get(&self) -> Result<u64, BadSetting> {
        env_u64(self.var, if bench_mode() { self.bench } else { self.smoke })
    }
}

/// A command that could not run or did not succeed.
#[derive(Debug)]
pub struct CommandFailed {
    /// What was run.
    pub what: String,
    /// How it failed: the spawn error, or the exit status with the output.
    pub detail: String,
}

impl fmt::Display for CommandFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` failed: {}", self.what, self.detail)
    }
}

impl std::error::Error for CommandFailed {}

/// Runs a command to completion with its output captured; returns seconds from spawn to exit.
pub fn timed(cmd: &mut Command) -> Result<(f64, Output), CommandFailed> {
    let start = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| CommandFailed {
            what: format!("{cmd:?}"),
            detail: e.to_string(),
        })?;
    Ok((start.elapsed().as_secs_f64(), out))
}

/// Fails, with the command's output, unless `what` exited 0.
pub fn check(out: &Output, what: &str) -> Result<(), CommandFailed> {
    if out.status.success() {
        return Ok(());
    }
    Err(CommandFailed {
        what: what.to_owned(),
        detail: format!(
            "{}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    })
}

/// Seconds that `sha256sum FILE` takes, the yardstick of the release and validation targets.
pub fn time_sha256sum(file: &Path) -> Result<f64, CommandFailed> {
    let (secs, out) = timed(Command::new("sha256sum").arg(file))?;
    check(&out, "sha256sum")?;
    Ok(secs)
}

/// Reads a file once, to bring it into the page cache.
pub fn read_through(path: &Path) -> io::Result<()> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; READ_SIZE];
    while file.read(&mut buf)? > 0 {}
    Ok(())
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

/// Prints one target line, PASS or FAIL, and returns `ok`.
pub fn verdict(ok: bool, target: &str, measured: &str) -> bool {
    let word = if ok { "PASS" } else { "FAIL" };
    println!("  {word}  {target:<45} measured {measured}");
    ok
}

/// The targets of a benchmark that streams a file through datapact, against `sha256sum` of
/// the same file: at least a share of its speed, under a peak RSS.
#[derive(Debug, Clone, Copy)]
pub struct StreamTargets {
    /// Speed relative to `sha256sum` that must be reached.
    pub min_speed_ratio: f64,
    /// Peak RSS, in MiB, that must not be reached.
    pub rss_limit_mib: f64,
}

impl StreamTargets {
    /// Prints the verdict on both targets: `what`'s speed `ratio` to `sha256sum`, and the peak
    /// RSS `rss_mib` of `process`; whether both are met.
    pub fn judge(&self, what: &str, ratio: f64, process: &str, rss_mib: f64) -> bool {
        let speed = verdict(
            ratio >= self.min_speed_ratio,
            &format!("{what} speed >= {} x sha256sum speed", self.min_speed_ratio),
            &format!("{ratio:.2}"),
        );
        let memory = verdict(
            rss_mib < self.rss_limit_mib,
            &format!("{process} peak RSS < {} MiB", self.rss_limit_mib),
            &format!("{rss_mib:.1} MiB"),
        );
        speed && memory
    }
}

/// `VmHWM` (peak RSS) of process `pid`, in KiB.
pub fn peak_rss_kib(pid: u32) -> io::Result<u64> {
    vm_hwm_kib(&format!("/proc/{pid}/status"))
}

/// `VmHWM` (peak RSS) of this process, in KiB.
pub fn own_peak_rss_kib() -> io::Result<u64> {
    vm_hwm_kib("/proc/self/status")
}

/// Resets this process's `VmHWM` to its current RSS, so the next reading covers only what
/// follows.
pub fn reset_own_peak_rss() {
    // Best effort: without it the reading covers the whole run, which only overstates.
    let _ = fs::write("/proc/self/clear_refs", "5");
}

fn vm_hwm_kib(status_file: &str) -> io::Result<u64> {
    fs::read_to_string(status_file)?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("no VmHWM in {status_file}")))
}
