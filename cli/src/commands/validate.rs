//! `datapact validate FILE --structure STRUCTURE_FILE`: the checks a release makes of SDMX-CSV
//! data against their structure, offline and without a daemon, for someone preparing a file.
//! The data file is streamed, so a large file is checked in bounded memory.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::process::ExitCode;

use datapact_protocol::sdmx::resolve::MAX_STRUCTURE_MESSAGE_LEN;
use datapact_protocol::sdmx::{DataValidator, ValidationReport, parse_structure_message};
use serde::Serialize;

use crate::failure::bad_input;
use crate::output;

/// Size of the pieces the data file is read in.
const READ_BUFFER: usize = 1 << 20;

/// What `validate --json` prints.
#[derive(Debug, Serialize)]
struct Report {
    /// Whether the data passed every check.
    valid: bool,
    /// The structure id the data name, as written.
    structure_id: Option<String>,
    /// The data structure definition it resolves to.
    dsd: Option<String>,
    /// Data rows read.
    rows: u64,
    /// Errors found, reported or not.
    error_count: u64,
    /// The first errors, in file order.
    errors: Vec<ErrorLine>,
    /// Errors found beyond those listed.
    more_errors: u64,
}

/// One error of the report.
#[derive(Debug, Serialize)]
struct ErrorLine {
    /// Physical line of the file (the header is line 1).
    line: u64,
    /// The column, when the problem is in one.
    column: Option<String>,
    /// The value and what was expected.
    message: String,
}

impl From<&ValidationReport> for Report {
    fn from(report: &ValidationReport) -> Self {
        Self {
            valid: report.is_valid(),
            structure_id: report.structure_id.clone(),
            dsd: report.dsd.as_ref().map(ToString::to_string),
            rows: report.rows,
            error_count: report.error_count(),
            errors: report
                .errors
                .iter()
                .map(|e| ErrorLine {
                    line: e.line,
                    column: e.column.clone(),
                    message: e.message.clone(),
                })
                .collect(),
            more_errors: report.more_errors,
        }
    }
}

/// `datapact validate FILE --structure STRUCTURE_FILE [--json]`.
pub fn run(file: &Path, structure: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let message = read_capped(structure, MAX_STRUCTURE_MESSAGE_LEN)
        .map_err(|e| bad_input(format!("cannot read {}: {e}", structure.display())))?;
    let set = parse_structure_message(&message)
        .map_err(|e| bad_input(format!("{}: {e}", structure.display())))?;
    let mut data =
        File::open(file).map_err(|e| bad_input(format!("cannot read {}: {e}", file.display())))?;
    let mut validator = DataValidator::new(set);
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        let n = match data.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(bad_input(format!("cannot read {}: {e}", file.display()))),
        };
        validator.feed(&buf[..n]);
        if validator.is_stopped() {
            break;
        }
    }
    let report = validator.finish();
    if json {
        output::json(&Report::from(&report))?;
    } else {
        output::lines(&human(file, &report))?;
    }
    Ok(if report.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The report for people: one error a line, then a summary line.
fn human(file: &Path, report: &ValidationReport) -> String {
    let against = match (&report.structure_id, &report.dsd) {
        (Some(id), Some(dsd)) if *id != dsd.to_string() => {
            format!(" against {id} (data structure {dsd})")
        }
        (Some(id), _) => format!(" against {id}"),
        (None, _) => String::new(),
    };
    let rows = format!(
        "{} row{}",
        report.rows,
        if report.rows == 1 { "" } else { "s" }
    );
    if report.is_valid() {
        return format!("valid: {}{against}, {rows}", file.display());
    }
    let count = report.error_count();
    format!(
        "{report}\ninvalid: {}{against}: {count} error{} in {rows}",
        file.display(),
        if count == 1 { "" } else { "s" }
    )
}

/// The whole file, refused when it is larger than `cap` bytes.
fn read_capped(path: &Path, cap: usize) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is a directory",
        ));
    }
    let mut bytes = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    file.take(limit).read_to_end(&mut bytes)?;
    if bytes.len() > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {cap} bytes, the most a structure message may be"),
        ));
    }
    Ok(bytes)
}
