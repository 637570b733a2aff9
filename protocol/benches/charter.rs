//! Benchmark of charter chain verification.
//!
//! Target: verifying a chain of 1,000 charter versions of 46 members with threshold 24 takes
//! under 2 s, each version signed by a quorum of both it and the version before.
//!
//! The chain is built first (not timed): version 1 signed by all 46 founders, then 999
//! versions that each give one member new addresses, signed by 24 members (a window that moves
//! on by one each version, so every member signs some). The timed part is what a node does
//! with a chain a peer sent: decode every message from its bytes (which checks the encoding
//! and verifies every signature), check version 1, then check the 999 steps in one call
//! (within `MAX_CHAIN_STEPS`). Best of three runs counts; the phases are shown apart.
//!
//! `cargo bench -p datapact-protocol --bench charter`; `DATAPACT_BENCH_VERSIONS` sets the chain
//! length (default 1000); under `cargo test --benches` the default is 20 versions. Exits 1 when
//! the target is missed, 2 when the benchmark cannot run.

// The workspace's measuring helpers, shared with every other benchmark (see its module
// comment); this benchmark uses some of them.
#[allow(dead_code)]
#[path = "../../tests/src/bench/measure.rs"]
mod measure;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use datapact_protocol::charter::{
    Charter, CharterMember, SignedCharter, VerifiedCharter, verify_genesis, verify_steps,
};
use datapact_protocol::{Identity, MemberCode};
use measure::{Setting, verdict};

/// The number of versions of the chain: 1,000, or 20 under `cargo test --benches`.
const VERSIONS: Setting = Setting::new("DATAPACT_BENCH_VERSIONS", 1_000, 20);
/// Members of every version.
const MEMBERS: usize = 46;
/// Threshold of every version.
const THRESHOLD: u64 = 24;
/// Timed runs; the best counts.
const RUNS: usize = 3;
/// The whole verification must finish within this.
const LIMIT: Duration = Duration::from_secs(2);

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    measure::exit_code(run())
}

fn run() -> BenchResult<bool> {
    let versions = versions()?;
    let identities: Vec<Identity> = (0..MEMBERS)
        .map(|i| {
            let mut seed = [0x5a; 32];
            seed[0] = u8::try_from(i)?;
            Ok(Identity::from_seed(&seed))
        })
        .collect::<BenchResult<_>>()?;
    let built = Instant::now();
    let chain = build_chain(&identities, versions)?;
    let bytes: usize = chain.iter().map(Vec::len).sum();
    println!(
        "chain: {versions} versions of {MEMBERS} members, threshold {THRESHOLD}, {} signatures, \
         {} KiB in all; built in {:.2} s",
        MEMBERS + (versions - 1) * THRESHOLD as usize,
        bytes / 1024,
        built.elapsed().as_secs_f64()
    );
    let mut best: Option<(Duration, Option<Duration>)> = None;
    for run in 1..=RUNS {
        let (decode, rules, cpu) = verify_once(&chain, versions)?;
        println!(
            "run {run}: decode and verify signatures {:.3} s, chain rules {:.3} s, \
             total {:.3} s (CPU {})",
            decode.as_secs_f64(),
            rules.as_secs_f64(),
            (decode + rules).as_secs_f64(),
            seconds(cpu)
        );
        if best.is_none_or(|(total, _)| decode + rules < total) {
            best = Some((decode + rules, cpu));
        }
    }
    let (total, cpu) = best.ok_or("no run")?;
    println!(
        "best: {:.3} s for {versions} versions ({:.0} us per version, CPU {})",
        total.as_secs_f64(),
        total.as_secs_f64() * 1e6 / versions as f64,
        seconds(cpu),
    );
    Ok(verdict(
        total < LIMIT,
        &format!(
            "verification of {versions} versions < {} s",
            LIMIT.as_secs()
        ),
        &format!("{:.3} s", total.as_secs_f64()),
    ))
}

fn seconds(d: Option<Duration>) -> String {
    d.map_or("unknown".to_owned(), |d| {
        format!("{:.3} s", d.as_secs_f64())
    })
}

fn versions() -> BenchResult<usize> {
    let versions = usize::try_from(VERSIONS.get()?)?;
    if versions == 0 {
        return Err(format!("{} must be at least 1", VERSIONS.var).into());
    }
    Ok(versions)
}

/// The chain's messages, version 1 first.
fn build_chain(identities: &[Identity], versions: usize) -> BenchResult<Vec<Vec<u8>>> {
    let members = identities
        .iter()
        .enumerate()
        .map(|(i, id)| {
            Ok(CharterMember {
                code: MemberCode::new(&format!("M{i:02}"))?,
                public_key: id.public_key(),
                addrs: vec![format!("/ip4/198.51.100.{i}/tcp/7470")],
            })
        })
        .collect::<BenchResult<_>>()?;
    let mut charter = Charter::genesis("bali-process", THRESHOLD, members, 1_795_000_000)?;
    let mut signed = SignedCharter::unsigned(&charter)?;
    for id in identities {
        signed.sign(id)?;
    }
    let mut chain = vec![signed.bytes().to_vec()];
    for step in 1..versions {
        charter.previous = Some(signed.id().0);
        charter.version += 1;
        charter.issued_at += 60;
        let moved = step % MEMBERS;
        charter.members[moved].addrs = vec![format!("/ip4/203.0.113.{moved}/tcp/{}", 7470 + step)];
        signed = SignedCharter::unsigned(&charter)?;
        for k in 0..THRESHOLD as usize {
            signed.sign(&identities[(step + k) % MEMBERS])?;
        }
        chain.push(signed.bytes().to_vec());
    }
    Ok(chain)
}

/// One timed verification: (decoding with signatures, chain rules, CPU time of both).
fn verify_once(
    chain: &[Vec<u8>],
    versions: usize,
) -> BenchResult<(Duration, Duration, Option<Duration>)> {
    let cpu_before = process_cpu_time();
    let started = Instant::now();
    let decoded = SignedCharter::decode_chain(chain)?;
    let decode = started.elapsed();
    let started = Instant::now();
    let mut decoded = decoded.into_iter();
    let genesis = verify_genesis(decoded.next().ok_or("empty chain")?)?;
    let verified: Vec<VerifiedCharter> = verify_steps(&genesis, decoded.collect())?;
    let rules = started.elapsed();
    let cpu = process_cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    if verified.len() + 1 != versions {
        return Err(format!("verified {} of {versions} versions", verified.len() + 1).into());
    }
    Ok((decode, rules, cpu))
}

/// Time this process (all its threads, the signature checkers included) has spent on a CPU,
/// where Linux reports it: on a machine whose cores are shared, it shows how much of the wall
/// time was this work and how much was waiting.
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces): utime and
    // stime are the 12th and 13th, in clock ticks of 1/100 s (Linux's USER_HZ).
    let after_name = stat.rsplit_once(')')?.1;
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 10))
}
