//! Benchmark of comparing members' figures (`datapact compare`).
//!
//! Target (from the issue): comparing 46 members' datasets of 10,000 observations each
//! finishes in under 2 s, with peak RSS under 200 MiB.
//!
//! Every member reports the migrant stock of the sample structure (`cli/samples`) by
//! destination, origin, sex and year, 10,000 keys that mostly coincide: the worst case for the
//! table, 10,000 rows of 46 columns with a spread each. Some cells are confidential, some
//! estimated, some keys missing at some members. What is timed is what the daemon does for one
//! `compare`: selecting the datasets, reading every member's SDMX-CSV content, laying the table
//! out and encoding the answer as the JSON that goes to the CLI. The contents are generated in
//! memory first (and count in the peak RSS, as the page cache would not). Three runs, the best
//! counting; the peak RSS (`VmHWM`, reset before each run) is the largest of the three.
//!
//! `cargo bench -p datapact-protocol --bench compare`; `DATAPACT_BENCH_MEMBERS` and
//! `DATAPACT_BENCH_OBSERVATIONS` set the sizes (defaults 46 and 10,000; 3 and 1,000 under
//! `cargo test --benches`). Exits 1 when a target is missed, 2 when the benchmark cannot run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The workspace's measuring helpers, shared with every other benchmark.
#[allow(dead_code)]
#[path = "../../tests/src/bench/measure.rs"]
mod measure;

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use datapact_protocol::compare::{Candidate, Options, compare};
use datapact_protocol::sdmx::parse_structure_message;
use datapact_protocol::{DatasetId, Digest, Meta, StructureRef};
use measure::{Setting, best, own_peak_rss_kib, reset_own_peak_rss, verdict};

/// Members compared: 46, or 3 under `cargo test --benches`.
const MEMBERS: Setting = Setting::new("DATAPACT_BENCH_MEMBERS", 46, 3);
/// Observations per member: 10,000, or 1,000 under `cargo test --benches`.
const OBSERVATIONS: Setting = Setting::new("DATAPACT_BENCH_OBSERVATIONS", 10_000, 1_000);
/// Timed runs; the best one counts.
const RUNS: usize = 3;
/// Under 2 s.
const TIME_LIMIT_S: f64 = 2.0;
/// Under 200 MiB.
const RSS_LIMIT_MIB: f64 = 200.0;
const FLOW: &str = "BPX:DF_MIG_STOCK(1.0.0)";
/// The sample structure, as members hold it.
const STRUCTURE: &[u8] = include_bytes!("../../cli/samples/structure_mig_stock.json");

fn main() -> ExitCode {
    measure::exit_code(run())
}

fn run() -> Result<bool, String> {
    let members = MEMBERS.get().map_err(|e| e.to_string())?;
    let observations = OBSERVATIONS.get().map_err(|e| e.to_string())?;
    println!(
        "compare benchmark: {members} members x {observations} observations ({}={members}, {}={observations})",
        MEMBERS.var, OBSERVATIONS.var
    );
    let set = parse_structure_message(STRUCTURE).map_err(|e| e.to_string())?;
    let digest = Digest::of(STRUCTURE);
    let areas: Vec<String> = set
        .codelists
        .iter()
        .find(|cl| cl.reference.id == "CL_AREA")
        .ok_or("the sample structure has no CL_AREA")?
        .codes
        .iter()
        .map(|c| c.id.clone())
        .collect();
    let started = Instant::now();
    let datasets: Vec<(Candidate, Vec<u8>)> = (0..members)
        .map(|m| member(m, observations, &areas, digest))
        .collect();
    let bytes: usize = datasets.iter().map(|(_, b)| b.len()).sum();
    println!(
        "  generated {} MiB of SDMX-CSV in {:.1} s",
        bytes >> 20,
        started.elapsed().as_secs_f64()
    );
    let (mut times, mut peak_kib) = (Vec::new(), 0);
    let mut rows = 0;
    for _ in 0..RUNS {
        reset_own_peak_rss();
        let started = Instant::now();
        let borrowed = datasets
            .iter()
            .map(|(c, b)| (c.clone(), b.as_slice()))
            .collect();
        let comparison = compare(&set, FLOW, digest, &Options::default(), borrowed)
            .map_err(|e| e.to_string())?;
        let json = serde_json::to_vec(&comparison).map_err(|e| e.to_string())?;
        times.push(started.elapsed().as_secs_f64());
        peak_kib = peak_kib.max(own_peak_rss_kib().map_err(|e| e.to_string())?);
        rows = comparison.rows.len();
        if comparison.columns.len() as u64 != members || json.is_empty() {
            return Err(format!("{} columns compared", comparison.columns.len()));
        }
    }
    let time = best(&times);
    let rss_mib = peak_kib as f64 / 1024.0;
    println!("  {rows} rows x {members} columns, best of {RUNS}: {time:.2} s");
    let fast = verdict(
        time < TIME_LIMIT_S,
        &format!("compare finishes in < {TIME_LIMIT_S} s"),
        &format!("{time:.2} s"),
    );
    let small = verdict(
        rss_mib < RSS_LIMIT_MIB,
        &format!("peak RSS < {RSS_LIMIT_MIB} MiB"),
        &format!("{rss_mib:.1} MiB"),
    );
    Ok(fast && small)
}

/// A member code for member `m`: two or three capital letters.
fn member_code(m: u64) -> String {
    let letter = |n: u64| char::from(b'A' + u8::try_from(n % 26).unwrap_or(0));
    format!("M{}{}", letter(m / 26), letter(m))
}

/// Member `m`'s dataset: `observations` keys over destination, origin, sex and year.
fn member(m: u64, observations: u64, areas: &[String], digest: Digest) -> (Candidate, Vec<u8>) {
    let owner = member_code(m);
    let dataset: DatasetId = format!("{owner}/migrant-stock@1").parse().unwrap();
    let mut text = String::from(
        "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,COUNTERPART_AREA,SEX,AGE,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE,OBS_STATUS,CONF_STATUS\n",
    );
    let mut written = 0;
    let mut k = 0u64;
    'keys: for destination in areas {
        for origin in areas {
            for sex in ["F", "M", "_T"] {
                for year in 2014..2018 {
                    if written == observations {
                        break 'keys;
                    }
                    k += 1;
                    written += 1;
                    if (k + m).is_multiple_of(17) {
                        continue;
                    }
                    let (value, status, conf) = match (k * 31 + m) % 23 {
                        0 => (String::new(), "", "C"),
                        1..=5 => (((k * 7919 + m * 104_729) % 900_000).to_string(), "E", "F"),
                        _ => (((k * 7919 + m * 104_729) % 900_000).to_string(), "", "F"),
                    };
                    let _ = writeln!(
                        text,
                        "dataflow,{FLOW},I,A,{destination},{origin},{sex},_T,{year},{value},PS,{status},{conf}"
                    );
                }
            }
        }
    }
    let candidate = Candidate {
        sha256: Digest::of(text.as_bytes()),
        dataset,
        issued_at: 1_800_000_000 + m,
        meta: Meta {
            title: format!("Migrant stock reported by {owner}"),
            sdmx_structure: Some(FLOW.into()),
            structure: Some(StructureRef {
                id: FLOW.into(),
                dsd: "BPX:DSD_MIG_STOCK(1.0.0)".into(),
                sha256: digest,
            }),
            ..Meta::default()
        },
        licence: None,
    };
    (candidate, text.into_bytes())
}
