//! Benchmark of `datapact audit` on a node that holds many small received datasets.
//!
//! Target (from the issue): `datapact audit` over 10,000 received datasets of 1-2 KiB each
//! finishes in under 5 seconds, end to end (spawn of the CLI to its exit, the daemon running).
//!
//! The state is built directly with the node library, without a network: `home::init` makes
//! the node directory (member THA), its store gets one roster member (MMR, a fixed test key),
//! and for each dataset a distinct content goes through the blob writer, MMR signs a `public`
//! announcement of it, and the store records it as received with its content held. Then the
//! real daemon starts and `datapact audit --json` is timed, best of three; each run must
//! report `ok: true` and `checked` = the number of datasets. Afterwards, with the daemon
//! stopped, the audit's phases are timed in-process on the same store, to show where the time
//! goes: reading the records, decoding the announcements as every other command reads them
//! (their signatures were verified when they were stored), verifying the signatures again as
//! the audit does, hashing the contents, the access log, and `ops::audit::run` as a whole.
//!
//! `cargo bench -p datapact --bench audit`; `DATAPACT_BENCH_DATASETS` sets the number of
//! datasets (default 10000). Exits 1 when the target is missed, 2 when the benchmark cannot
//! run.

#[path = "support/mod.rs"]
mod support;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use datapact_node::home;
use datapact_node::store::{DatasetRecord, Origin, RosterEntry, Store};
use datapact_protocol::{
    Audience, ContentHasher, Identity, MemberCode, PublicKey, SignedAnnouncement,
};
use datapact_tests::files::unix_now;
use datapact_tests::statements;
use datapact_tests::store::open_store;
use serde_json::Value;

use support::{Daemon, Launch as _, Setting, best, check, datapact, list, temp_dir, verdict};

/// The number of datasets: 10,000, also under `cargo test --benches`.
const COUNT: Setting = Setting::new("DATAPACT_BENCH_DATASETS", 10_000, 10_000);
/// Timed runs of the audit; the best one counts.
const RUNS: usize = 3;
/// The audit must finish within this many seconds.
const LIMIT_SECS: f64 = 5.0;
/// How long the daemon may take to start or stop, or the store to be released.
const DEADLINE: Duration = Duration::from_secs(60);
/// Threads that build the state (blob commits fsync twice each: threads overlap the waits).
const BUILDERS: u64 = 4;
/// The node's member code, and the member whose datasets it received.
const ME: &str = "THA";
const OWNER: &str = "MMR";

fn main() -> ExitCode {
    support::exit_code(run())
}

fn run() -> anyhow::Result<bool> {
    let count = COUNT.get()?;
    let tmp = temp_dir("datapact-bench-audit-")?;
    let dir = tmp.path().join("node");
    println!(
        "datapact audit benchmark: {count} received datasets ({}={count})",
        COUNT.var
    );
    println!("  temp dir {}", tmp.path().display());

    let started = Instant::now();
    let content_bytes = build_state(&dir, count)?;
    println!(
        "  built the state in {:.2} s: {} of content in {count} blobs",
        started.elapsed().as_secs_f64(),
        size_text(content_bytes)
    );
    let state_bytes = dir_size(&dir.join("state"))?;
    let blobs_bytes = dir_size(&dir.join("blobs"))?;
    println!(
        "  on disk: state (sled) {}, blobs {}",
        size_text(state_bytes),
        size_text(blobs_bytes)
    );

    let started = Instant::now();
    // The daemon's default log format; ready once it answers a request on its control socket
    // (with 10,000 datasets it opens the socket well before it answers).
    let daemon = Daemon::builder(&dir, &tmp.path().join("daemon.log"), DEADLINE)
        .default_log_format()
        .ready_when_answering()
        .start()?;
    println!("  daemon ready in {:.2} s", started.elapsed().as_secs_f64());
    let mut runs = Vec::new();
    let mut report_len = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = datapact(&dir)
            .args(["audit", "--json"])
            .output()
            .context("running datapact audit")?;
        runs.push(start.elapsed().as_secs_f64());
        let report: Value = serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "audit --json printed no JSON ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        check(&out, "datapact audit --json")?;
        if report["ok"] != true || report["checked"].as_u64() != Some(count) {
            bail!("audit --json reported, for {count} datasets: {report}");
        }
        report_len = out.stdout.len();
    }
    let catalog_runs = time_catalog(&dir, count)?;
    drop(daemon);

    let best_secs = best(&runs);
    println!();
    println!(
        "  datapact audit --json: best {best_secs:.3} s, runs (s) {}; {:.1} µs per dataset; report {report_len} bytes",
        list(&runs),
        best_secs * 1e6 / count.max(1) as f64
    );

    let catalog_best = best(&catalog_runs);
    println!(
        "  datapact catalog --json: best {catalog_best:.3} s, runs (s) {}; {:.1} µs per dataset",
        list(&catalog_runs),
        catalog_best * 1e6 / count.max(1) as f64
    );

    println!();
    println!("phases, in-process on the same store (daemon stopped)");
    phases(&dir, count)?;

    println!();
    println!("target");
    Ok(verdict(
        best_secs < LIMIT_SECS,
        &format!("audit of {count} received datasets < {LIMIT_SECS} s"),
        &format!("{best_secs:.3} s"),
    ))
}

/// Times `datapact catalog --json` [`RUNS`] times; each run must list `count` datasets.
fn time_catalog(dir: &Path, count: u64) -> anyhow::Result<Vec<f64>> {
    let mut runs = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = datapact(dir)
            .args(["catalog", "--json"])
            .stdin(Stdio::null())
            .output()
            .context("running datapact catalog")?;
        runs.push(start.elapsed().as_secs_f64());
        check(&out, "datapact catalog --json")?;
        let listed: Value = serde_json::from_slice(&out.stdout)?;
        let n = listed.as_array().map_or(0, Vec::len) as u64;
        if n != count {
            bail!("catalog --json listed {n} of {count} datasets");
        }
    }
    Ok(runs)
}

/// Builds the node directory; returns the total content size.
fn build_state(dir: &Path, count: u64) -> anyhow::Result<u64> {
    let me = MemberCode::new(ME)?;
    home::init(dir, &me, vec!["/ip4/127.0.0.1/tcp/0".into()]).context("datapact init")?;
    let store = open_store(dir, DEADLINE).context("opening the store")?;
    let owner = owner_identity();
    store.roster_put(&RosterEntry {
        member: MemberCode::new(OWNER)?,
        peer_id: owner.peer_id(),
        addrs: Vec::new(),
        added_at: unix_now(),
    })?;
    let total = std::thread::scope(|scope| -> anyhow::Result<u64> {
        let workers: Vec<_> = (0..BUILDERS)
            .map(|w| {
                let store = &store;
                let owner = &owner;
                scope.spawn(move || -> anyhow::Result<u64> {
                    let mut bytes = 0;
                    for i in (w..count).step_by(BUILDERS as usize) {
                        bytes += add_dataset(store, owner, i)?;
                    }
                    Ok(bytes)
                })
            })
            .collect();
        let mut total = 0;
        for w in workers {
            total += w
                .join()
                .map_err(|_| anyhow::anyhow!("a builder thread panicked"))??;
        }
        Ok(total)
    })?;
    store.flush_blocking()?;
    Ok(total)
}

/// The roster member whose datasets the node holds: a fixed test key.
fn owner_identity() -> Identity {
    Identity::from_seed(&[0x4d; 32])
}

/// Stores dataset `i` as received from [`OWNER`], content held; returns its size.
fn add_dataset(store: &Store, owner: &Identity, i: u64) -> anyhow::Result<u64> {
    let content = content_of(i);
    let mut writer = store.blobs().writer()?;
    writer.write(&content)?;
    let digest = writer.commit()?;
    let name = format!("stats-{i:06}");
    let mut announcement = statements::announcement(OWNER, &name, &digest, Audience::Public);
    announcement.meta.title = format!("Migrant stock, table {i}");
    announcement.meta.content_type = Some("text/csv".into());
    let id = announcement.id();
    let signed = SignedAnnouncement::sign(announcement, owner)?;
    store.put_dataset(
        &id,
        &DatasetRecord {
            origin: Origin::Received,
            announcement: signed.bytes().to_vec(),
            revocation: None,
            has_content: true,
            recorded_at: unix_now(),
        },
    )?;
    store.put_chunks(&digest.sha256, &digest.chunks)?;
    Ok(digest.size)
}

/// A distinct CSV of 1 to 2 KiB for dataset `i`.
fn content_of(i: u64) -> Vec<u8> {
    let target = 1024 + (i.wrapping_mul(2_654_435_761) % 1024) as usize;
    let mut text = String::from("origin,destination,year,value\n");
    let mut row = 0u64;
    while text.len() < target {
        let v = i.wrapping_mul(31).wrapping_add(row.wrapping_mul(7919)) % 100_000;
        text.push_str(&format!(
            "C{:03},D{:03},{},{v}\n",
            i % 997,
            row % 89,
            1990 + row
        ));
        row += 1;
    }
    text.truncate(target);
    text.into_bytes()
}

/// Times the audit's parts in-process on the node's store, and `ops::audit::run` itself.
fn phases(dir: &Path, count: u64) -> anyhow::Result<()> {
    let store = &open_store(dir, DEADLINE).context("opening the store")?;
    let home = home::load(dir).context("loading the node directory")?;

    let t = Instant::now();
    let records = store.datasets()?;
    let read = t.elapsed();

    let t = Instant::now();
    for (_, record) in &records {
        record.announcement()?;
    }
    let decode = t.elapsed();

    let t = Instant::now();
    let mut signed = Vec::with_capacity(records.len());
    for (_, record) in &records {
        signed.push(record.verified_announcement()?);
    }
    let verify = t.elapsed();

    let t = Instant::now();
    let trusted = signed_by_roster_keys(store, &signed)?;
    let keys = t.elapsed();

    let t = Instant::now();
    hash_contents(store, &signed)?;
    let hash = t.elapsed();

    let t = Instant::now();
    let log = store.log()?;
    let log_time = t.elapsed();

    let t = Instant::now();
    let report = datapact_node::ops::audit::run(
        store,
        &home.member,
        &home.identity.public_key(),
        false,
        unix_now(),
    )?;
    let whole = t.elapsed();
    if !report.ok || report.checked != count || trusted != count {
        bail!(
            "in-process audit: ok {}, checked {}, trusted {trusted} of {count}",
            report.ok,
            report.checked
        );
    }

    let per = |d: Duration| d.as_secs_f64() * 1e6 / count.max(1) as f64;
    let row = |what: &str, d: Duration| {
        println!(
            "  {what:<44} {:>8.3} s {:>8.1} µs/dataset",
            d.as_secs_f64(),
            per(d)
        );
    };
    row("read and decode the dataset records", read);
    row("decode the announcements (catalog, pulls)", decode);
    row("decode + verify the announcement signatures", verify);
    row("roster key lookups", keys);
    row("open, read and hash the contents", hash);
    row(&format!("access log ({} entries)", log.len()), log_time);
    row("ops::audit::run, all of it", whole);
    Ok(())
}

/// How many of `signed` are signed by their owner's roster key.
fn signed_by_roster_keys(store: &Store, signed: &[SignedAnnouncement]) -> anyhow::Result<u64> {
    let roster: Vec<(MemberCode, Option<PublicKey>)> = store
        .roster()?
        .into_iter()
        .map(|e| {
            let key = PublicKey::from_peer_id(&e.peer_id).ok();
            (e.member, key)
        })
        .collect();
    let mut trusted = 0u64;
    for s in signed {
        let owner = &s.body().owner;
        if roster
            .iter()
            .any(|(m, k)| m == owner && k.as_ref() == Some(s.signer()))
        {
            trusted += 1;
        }
    }
    Ok(trusted)
}

/// Reads and hashes the content of each of `signed`; fails at the first that does not match.
fn hash_contents(store: &Store, signed: &[SignedAnnouncement]) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    for s in signed {
        let mut file = store.blobs().open_read(&s.body().sha256)?;
        buf.clear();
        file.read_to_end(&mut buf)?;
        let mut hasher = ContentHasher::new();
        hasher.update(&buf);
        if hasher.finish().sha256 != s.body().sha256 {
            bail!("{}: content does not match", s.body().id());
        }
    }
    Ok(())
}

/// Total size of the regular files under `dir`.
fn dir_size(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += dir_size(&entry.path())?;
        } else if kind.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

fn size_text(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}
