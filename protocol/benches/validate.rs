//! Benchmark of validating SDMX-CSV data against a structure.
//!
//! Target (from the issue): validating a 1 GiB SDMX-CSV file against a structure with 5
//! dimensions and codelists of 300 codes runs at no less than half the speed of `sha256sum` on
//! the same file, with peak RSS under 200 MiB, the duplicate-key state included.
//!
//! The file is generated in a temp dir: every row a distinct series key and time period (so the
//! duplicate check keeps one digest per row), codes drawn from the 300 of each codelist, an
//! integer-like decimal OBS_VALUE and three attributes; rows come series by series, time
//! fastest, as SDMX-CSV exports order them. The file is read once so that both commands read it
//! from the page cache. The two alternate, three runs each, best run counting; validation reads
//! the file in 1 MiB chunks in this process, whose peak RSS (`VmHWM`, reset before each run
//! through `/proc/self/clear_refs`) is reported, as is the CPU time of each (on a shared
//! machine, wall-clock times vary with the load).
//!
//! `cargo bench -p datapact-protocol --bench validate`; `DATAPACT_BENCH_MIB` sets the file size
//! (default 1024; 8 under `cargo test --benches`). Exits 1 when a target is missed, 2 when the
//! benchmark cannot run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The workspace's measuring helpers, shared with every other benchmark (see its module
// comment); this benchmark uses some of them.
#[allow(dead_code)]
#[path = "../../tests/src/bench/measure.rs"]
mod measure;

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use datapact_protocol::sdmx::{DataValidator, ValidationReport, parse_structure_message};
use measure::{
    Setting, StreamTargets, best, mib_per_s, own_peak_rss_kib, read_through, reset_own_peak_rss,
    time_sha256sum,
};

/// The file size in MiB: 1024, or 8 under `cargo test --benches`.
const SIZE_MIB: Setting = Setting::new("DATAPACT_BENCH_MIB", 1024, 8);
/// Timed runs of each; the best one counts.
const RUNS: usize = 3;
/// Codes in each dimension's codelist.
const CODES: usize = 300;
/// Dimensions other than time.
const DIMENSIONS: usize = 5;
/// At least half the speed of `sha256sum`, with the validating process's peak RSS under 200
/// MiB.
const TARGETS: StreamTargets = StreamTargets {
    min_speed_ratio: 0.5,
    rss_limit_mib: 200.0,
};
/// Read size, as the node streams a release.
const CHUNK: usize = 1 << 20;

type Outcome = Result<bool, String>;

fn main() -> ExitCode {
    measure::exit_code(run())
}

fn run() -> Outcome {
    let mib = SIZE_MIB.get().map_err(|e| e.to_string())?;
    let tmp = tempfile::Builder::new()
        .prefix("datapact-bench-validate-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?;
    println!(
        "SDMX-CSV validation benchmark: {mib} MiB file ({}={mib})",
        SIZE_MIB.var
    );
    let structure = structure_message();
    let set = parse_structure_message(structure.as_bytes()).map_err(|e| e.to_string())?;
    let file = tmp.path().join("data.csv");
    let started = Instant::now();
    let rows = write_data(&file, mib << 20).map_err(|e| format!("writing the data: {e}"))?;
    let size = fs::metadata(&file).map_err(|e| e.to_string())?.len();
    println!(
        "  generated {rows} rows, {size} bytes in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    read_through(&file).map_err(|e| e.to_string())?;

    // Alternate the two, so that both see the same load on a shared machine.
    let (mut sha, mut validate) = (Vec::new(), Vec::new());
    let (mut sha_cpu, mut validate_cpu) = (0.0, 0.0);
    let mut peak_kib = 0;
    for _ in 0..RUNS {
        let before = cpu_seconds()?;
        sha.push(time_sha256sum(&file).map_err(|e| e.to_string())?);
        let after = cpu_seconds()?;
        sha_cpu += (after.1 - before.1) / RUNS as f64;
        reset_own_peak_rss();
        let started = Instant::now();
        let report = validate_file(&set, &file).map_err(|e| e.to_string())?;
        validate.push(started.elapsed().as_secs_f64());
        validate_cpu += (cpu_seconds()?.0 - after.0) / RUNS as f64;
        peak_kib = peak_kib.max(own_peak_rss_kib().map_err(|e| e.to_string())?);
        if !report.is_valid() || report.rows != rows {
            return Err(format!("the generated file did not validate: {report}"));
        }
    }
    let (sha, validate) = (best(&sha), best(&validate));
    let (sha_speed, validate_speed) = (mib_per_s(size, sha), mib_per_s(size, validate));
    let ratio = validate_speed / sha_speed;
    let rss_mib = peak_kib as f64 / 1024.0;
    println!("  sha256sum: {sha:.2} s ({sha_speed:.0} MiB/s), best of {RUNS}");
    println!("  validate:  {validate:.2} s ({validate_speed:.0} MiB/s), best of {RUNS}");
    println!(
        "  CPU time per run: sha256sum {sha_cpu:.2} s, validate {validate_cpu:.2} s (ratio {:.2}; \
         for reading on a busy machine)",
        sha_cpu / validate_cpu
    );
    Ok(TARGETS.judge("validation", ratio, "validating process", rss_mib))
}

/// The code `index` of dimension `dim`: three letters, like the ISO country codes.
fn code(dim: usize, index: usize) -> String {
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let pick = |n: usize| char::from(letters[n % 26]);
    format!("{}{}{}", pick(dim), pick(index / 26), pick(index))
}

/// An SDMX-JSON 2.0 structure: 5 coded dimensions of 300 codes, a time dimension, a decimal
/// measure and three coded attributes.
fn structure_message() -> String {
    let urn = |id: &str| format!("urn:sdmx:org.sdmx.infomodel.codelist.Codelist=BPX:{id}(1.0)");
    let mut codelists = Vec::new();
    let mut dimensions = Vec::new();
    for dim in 0..DIMENSIONS {
        let codes: Vec<String> = (0..CODES)
            .map(|i| format!(r#"{{"id":"{}","name":"Code {i}"}}"#, code(dim, i)))
            .collect();
        let id = format!("CL_DIM_{dim}");
        codelists.push(format!(
            r#"{{"agencyID":"BPX","id":"{id}","version":"1.0","name":"{id}","codes":[{}]}}"#,
            codes.join(",")
        ));
        dimensions.push(format!(
            r#"{{"id":"DIM_{dim}","localRepresentation":{{"enumeration":"{}"}}}}"#,
            urn(&id)
        ));
    }
    for (id, codes) in [
        ("CL_OBS_STATUS", "A,B,E,F,P"),
        ("CL_UNIT", "PS,HH"),
        ("CL_CONF_STATUS", "F,C,D"),
    ] {
        let codes: Vec<String> = codes
            .split(',')
            .map(|c| format!(r#"{{"id":"{c}","name":"{c}"}}"#))
            .collect();
        codelists.push(format!(
            r#"{{"agencyID":"BPX","id":"{id}","version":"1.0","name":"{id}","codes":[{}]}}"#,
            codes.join(",")
        ));
    }
    let attribute = |id: &str, cl: &str, usage: &str| {
        format!(
            r#"{{"id":"{id}","usage":"{usage}","attributeRelationship":{{"observation":{{}}}},"localRepresentation":{{"enumeration":"{}"}}}}"#,
            urn(cl)
        )
    };
    let attributes = [
        attribute("OBS_STATUS", "CL_OBS_STATUS", "optional"),
        attribute("UNIT_MEASURE", "CL_UNIT", "mandatory"),
        attribute("CONF_STATUS", "CL_CONF_STATUS", "optional"),
    ];
    format!(
        r#"{{"data":{{"codelists":[{}],"dataStructures":[{{"agencyID":"BPX","id":"DSD_BENCH","version":"1.0","name":"Bench",
        "dataStructureComponents":{{"dimensionList":{{"dimensions":[{}],"timeDimension":{{"id":"TIME_PERIOD"}}}},
        "attributeList":{{"attributes":[{}]}},
        "measureList":{{"measures":[{{"id":"OBS_VALUE","localRepresentation":{{"format":{{"dataType":"Decimal"}}}}}}]}}}}}}],
        "dataflows":[{{"agencyID":"BPX","id":"DF_BENCH","version":"1.0","name":"Bench","structure":"urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=BPX:DSD_BENCH(1.0)"}}]}}}}"#,
        codelists.join(","),
        dimensions.join(","),
        attributes.join(",")
    )
}

/// Writes at least `size` bytes of rows, each with a distinct key; returns the row count.
fn write_data(path: &Path, size: u64) -> std::io::Result<u64> {
    let mut out = BufWriter::with_capacity(CHUNK, File::create(path)?);
    let header = "STRUCTURE,STRUCTURE_ID,ACTION,DIM_0,DIM_1,DIM_2,DIM_3,DIM_4,TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MEASURE,CONF_STATUS\n";
    out.write_all(header.as_bytes())?;
    let codes: Vec<Vec<String>> = (0..DIMENSIONS)
        .map(|dim| (0..CODES).map(|i| code(dim, i)).collect())
        .collect();
    let mut written = header.len() as u64;
    let mut rows = 0u64;
    let mut line = String::new();
    while written < size {
        let n = rows as usize;
        // Time varies fastest (20 years), then each dimension in turn: keys never repeat.
        let year = 2000 + n % 20;
        let mut rest = n / 20;
        line.clear();
        line.push_str("dataflow,BPX:DF_BENCH(1.0),I");
        for dim_codes in &codes {
            line.push(',');
            line.push_str(&dim_codes[rest % CODES]);
            rest /= CODES;
        }
        let status = ["A", "E", "", "P"][n % 4];
        let _ = writeln!(
            line,
            ",{year},{}.{},{status},PS,F",
            1000 + n % 99_000,
            n % 10
        );
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
        rows += 1;
    }
    out.flush()?;
    out.get_ref().sync_all()?;
    Ok(rows)
}

fn validate_file(
    set: &datapact_protocol::sdmx::StructureSet,
    path: &Path,
) -> std::io::Result<ValidationReport> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; CHUNK];
    let mut validator = DataValidator::new(set.clone());
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        validator.feed(&buf[..n]);
    }
    Ok(validator.finish())
}

/// CPU seconds (user + system) used so far by this process and by its waited-for children,
/// from `/proc/self/stat` (in clock ticks of 1/100 s).
fn cpu_seconds() -> Result<(f64, f64), String> {
    let stat = fs::read_to_string("/proc/self/stat").map_err(|e| e.to_string())?;
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<f64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    // After the name: state is field 3; utime, stime, cutime, cstime are fields 14 to 17.
    let tick = |i: usize| fields.get(i - 3).copied().unwrap_or(0.0) / 100.0;
    Ok((tick(14) + tick(15), tick(16) + tick(17)))
}
