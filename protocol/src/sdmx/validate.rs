//! Validation of SDMX-CSV data against a structure, streaming: the file is fed in chunks of any
//! size and memory stays bounded (one record, the structure's rules, and one 64-bit digest per
//! series key, see [`super::keys`]).
//!
//! The structure is the one the data names in its first row (`STRUCTURE` and `STRUCTURE_ID`,
//! or SDMX-CSV 1.0's `DATAFLOW`), looked up in the structure message given. Checks:
//!
//! * every row names that same structure (kind and id);
//! * every column is a component of the DSD or one of `STRUCTURE`, `STRUCTURE_ID`, `ACTION`,
//!   `SERIES_KEY`, `OBS_KEY` (and `DATAFLOW` in SDMX-CSV 1.0); columns may come in any order
//!   after `STRUCTURE`, and measures and attributes may be absent;
//! * every dimension is present and non-empty, except on `D` (delete) rows;
//! * coded values (dimensions, attributes, measures) are in their codelist;
//! * the time dimension holds a valid SDMX time period ([`super::time_period`]);
//! * uncoded values match their data type ([`super::value`]); a measure that is not mandatory
//!   may be empty, `NaN` or `#N/A`;
//! * `ACTION` is one of `I`, `A`, `M`, `R`, `D`;
//! * mandatory attributes (and mandatory measures) are given, except on `M`, `A` and `D` rows;
//! * no two rows share a series key and time period.
//!
//! Lines are physical lines of the file, the header being line 1. The first
//! [`MAX_REPORTED_ERRORS`] errors are kept, the others counted. A malformed record (stray
//! quote, bad UTF-8, ...) or a structure that cannot be found stops the check.

use std::fmt;

use super::csv::{Record, RecordReader};
use super::keys::MAX_SERIES_KEYS;
use super::model::{ArtefactRef, StructureKind, StructureSet};
use super::rules::{self, Role, Rule, Rules, ValueRule};
use super::syntax::{Header, SdmxError};
use super::{column_id, shown};

/// Errors reported in full; further errors are only counted.
pub const MAX_REPORTED_ERRORS: usize = 20;

/// Columns that SDMX-CSV itself defines, besides the components.
const CSV_COLUMNS: &str = "STRUCTURE, STRUCTURE_ID, ACTION, SERIES_KEY, OBS_KEY";

/// One problem found in the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError {
    /// The physical line where the offending row starts (the header is line 1).
    pub line: u64,
    /// The column, when the problem is in one.
    pub column: Option<String>,
    /// What is wrong: the value and what was expected.
    pub message: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {}, column {column}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// The outcome of a validation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationReport {
    /// The structure id the data names, as written.
    pub structure_id: Option<String>,
    /// The data structure definition it resolves to.
    pub dsd: Option<ArtefactRef>,
    /// Data rows read.
    pub rows: u64,
    /// The first [`MAX_REPORTED_ERRORS`] errors, in file order.
    pub errors: Vec<DataError>,
    /// How many more errors there were.
    pub more_errors: u64,
}

impl ValidationReport {
    /// Whether the data passed every check.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// Number of errors found, reported or not.
    pub fn error_count(&self) -> u64 {
        u64::try_from(self.errors.len())
            .unwrap_or(u64::MAX)
            .saturating_add(self.more_errors)
    }
}

impl fmt::Display for ValidationReport {
    /// One error a line, then the count of the others.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        if self.more_errors > 0 {
            write!(f, "\n... and {} more errors", self.more_errors)?;
        }
        Ok(())
    }
}

/// Why reading stopped.
enum Stop {
    /// The record reader refused the input.
    Syntax(SdmxError),
    /// A fatal error, already reported.
    Fatal,
}

impl From<SdmxError> for Stop {
    fn from(err: SdmxError) -> Self {
        Self::Syntax(err)
    }
}

/// Where a column's values go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    /// `STRUCTURE`, `STRUCTURE_ID`, `DATAFLOW`, `ACTION`, `SERIES_KEY`, `OBS_KEY`.
    Csv,
    /// The component at this index of the rules.
    Component(usize),
    /// Not a column of the structure (reported once, at the header).
    Unknown,
}

/// The structure found and how the header maps onto it.
struct Layout {
    rules: Rules,
    /// For each rule, its column.
    columns: Vec<Option<usize>>,
    /// Whether a missing column was already reported, per rule.
    reported_missing: Vec<bool>,
    /// The structure id as the first row wrote it.
    written_id: String,
}

/// Incremental validator of SDMX-CSV data against a structure message: [`feed`](Self::feed)
/// it the file in chunks cut anywhere, then [`finish`](Self::finish).
pub struct DataValidator {
    reader: RecordReader,
    checker: Checker,
}

/// Everything but the record reader, so that the reader can hand records to it.
struct Checker {
    set: StructureSet,
    header: Option<Header>,
    /// Whether the header was written with labels (`FREQ: Frequency`), and values may be too.
    labels: bool,
    layout: Option<Layout>,
    keys: row::KeyBatch,
    /// First line of a run of empty lines not yet followed by a record.
    pending_blank: Option<u64>,
    out: Output,
}

/// What the check has found so far.
struct Output {
    report: ValidationReport,
    /// Whether a fatal error stopped the check.
    stopped: bool,
}

impl DataValidator {
    /// A validator of data against the structures `set` defines.
    pub fn new(set: StructureSet) -> Self {
        Self {
            reader: RecordReader::new(),
            checker: Checker {
                set,
                header: None,
                labels: false,
                layout: None,
                keys: row::KeyBatch::default(),
                pending_blank: None,
                out: Output {
                    report: ValidationReport::default(),
                    stopped: false,
                },
            },
        }
    }

    /// Checks the next bytes of the file.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.checker.out.stopped {
            return;
        }
        let checker = &mut self.checker;
        let outcome = self
            .reader
            .feed(bytes, &mut |record: &Record<'_>| checker.record(record));
        self.checker.stop_on(outcome);
    }

    /// Whether a fatal error stopped the check (further input is ignored).
    pub fn is_stopped(&self) -> bool {
        self.checker.out.stopped
    }

    /// Ends the input and reports.
    pub fn finish(mut self) -> ValidationReport {
        if !self.checker.out.stopped {
            let checker = &mut self.checker;
            let outcome = self
                .reader
                .finish(&mut |record: &Record<'_>| checker.record(record));
            self.checker.stop_on(outcome);
        }
        let checker = &mut self.checker;
        if !checker.out.stopped {
            let outcome = checker.keys.flush(&mut checker.out);
            checker.stop_on(outcome);
        }
        if !checker.out.stopped {
            match &checker.header {
                None => checker.out.fatal_syntax(SdmxError::Empty { line: 1 }),
                Some(header) if checker.layout.is_none() => {
                    let line = header.end_line.saturating_add(1);
                    checker.out.fatal_syntax(SdmxError::NoDataRows { line });
                }
                Some(_) => {}
            }
        }
        self.checker.out.report
    }
}

impl Output {
    /// Reports a problem; builds its message only while it will be shown.
    /// Keeps the errors sorted by line (duplicate keys are found a few rows late, see
    /// [`row::KeyBatch`]), so the ones kept are those of the first lines.
    fn error(&mut self, line: u64, column: Option<&str>, message: impl FnOnce() -> String) {
        let errors = &mut self.report.errors;
        let full = errors.len() >= MAX_REPORTED_ERRORS;
        if full && errors.last().is_some_and(|last| last.line <= line) {
            self.report.more_errors = self.report.more_errors.saturating_add(1);
            return;
        }
        let at = errors.partition_point(|error| error.line <= line);
        // Column names come from the file: keep each error on one line.
        let error = DataError {
            line,
            column: column.map(|name| shown(name).escape_debug().to_string()),
            message: message(),
        };
        errors.insert(at, error);
        if errors.len() > MAX_REPORTED_ERRORS {
            errors.pop();
            self.report.more_errors = self.report.more_errors.saturating_add(1);
        }
    }

    fn fatal(&mut self, line: u64, column: Option<&str>, message: impl FnOnce() -> String) -> Stop {
        self.error(line, column, message);
        self.stopped = true;
        Stop::Fatal
    }

    fn fatal_syntax(&mut self, err: SdmxError) {
        let line = err.line();
        let text = err.to_string();
        let prefix = format!("line {line}: ");
        let message = text.strip_prefix(&prefix).unwrap_or(&text).to_owned();
        let _ = self.fatal(line, None, || message);
    }
}

impl Checker {
    fn stop_on(&mut self, outcome: Result<(), Stop>) {
        match outcome {
            Ok(()) | Err(Stop::Fatal) => {}
            Err(Stop::Syntax(err)) => {
                // The rows before the bad record are still checked for duplicates.
                let _ = self.keys.flush(&mut self.out);
                self.out.fatal_syntax(err);
            }
        }
    }

    fn record(&mut self, record: &Record<'_>) -> Result<(), Stop> {
        let Some(header) = &self.header else {
            let header = Header::read(record)?;
            self.labels = header.names.iter().any(|name| name.contains(':'));
            self.header = Some(header);
            return Ok(());
        };
        if record.count == 0 {
            self.pending_blank.get_or_insert(record.line);
            return Ok(());
        }
        let expected = header.ids.len();
        if let Some(blank) = self.pending_blank.take() {
            self.out.error(blank, None, || {
                format!("expected {expected} fields, found 0")
            });
        }
        if self.layout.is_none() {
            self.layout = Some(self.layout_for(record)?);
        }
        self.out.report.rows = self.out.report.rows.saturating_add(1);
        if record.count != expected {
            let found = record.count;
            self.out.error(record.line, None, || {
                format!("expected {expected} fields, found {found}")
            });
            return Ok(());
        }
        self.check_row(record)
    }

    /// Finds the structure the first data row names and maps the header onto it.
    fn layout_for(&mut self, record: &Record<'_>) -> Result<Layout, Stop> {
        let line = record.line;
        let Some(header) = &self.header else {
            return Err(Stop::Fatal);
        };
        let id_column = header
            .ids
            .get(header.structure_id)
            .cloned()
            .unwrap_or_default();
        let written_id = record
            .get(header.structure_id)
            .unwrap_or_default()
            .to_owned();
        let kind = match header.structure_kind.and_then(|index| record.get(index)) {
            None => None,
            Some("dataflow") => Some(StructureKind::Dataflow),
            Some("datastructure") => Some(StructureKind::DataStructure),
            Some("dataprovision") => {
                return Err(self.out.fatal(line, Some("STRUCTURE"), || {
                    "dataprovision structures are not supported (expected dataflow or datastructure)".into()
                }));
            }
            Some(other) => {
                let other = shown(other);
                return Err(self.out.fatal(line, Some("STRUCTURE"), || {
                    format!(
                        "{other:?} is not a kind of structure (expected dataflow or datastructure)"
                    )
                }));
            }
        };
        let reference: Option<ArtefactRef> = written_id.parse().ok();
        let found = reference
            .as_ref()
            .and_then(|id| rules::find(&self.set, kind, id));
        let Some(rules) = found else {
            let defined = self.set.defined_ids().join(", ");
            let shown_id = shown(&written_id);
            return Err(self.out.fatal(line, Some(&id_column), || {
                format!("structure {shown_id:?} is not defined in the structure message (it defines {defined})")
            }));
        };
        self.out.report.structure_id = Some(written_id.clone());
        self.out.report.dsd = Some(rules.dsd.clone());
        Ok(self.map_columns(rules, written_id))
    }

    /// Maps each header column to a component, reporting columns the structure lacks.
    fn map_columns(&mut self, rules: Rules, written_id: String) -> Layout {
        let mut columns = vec![None; rules.components.len()];
        let ids = self
            .header
            .as_ref()
            .map(|h| h.ids.clone())
            .unwrap_or_default();
        let v1 = ids.first().map(String::as_str) == Some("DATAFLOW");
        for (index, id) in ids.iter().enumerate() {
            let column = match (id.as_str(), rules.position(id)) {
                ("DATAFLOW", _) if v1 && index == 0 => Column::Csv,
                ("STRUCTURE" | "STRUCTURE_ID" | "ACTION" | "SERIES_KEY" | "OBS_KEY", _) if !v1 => {
                    Column::Csv
                }
                (_, Some(rule)) => Column::Component(rule),
                (_, None) => Column::Unknown,
            };
            match column {
                Column::Component(rule) => {
                    if let Some(slot) = columns.get_mut(rule) {
                        *slot = Some(index);
                    }
                }
                Column::Unknown => {
                    let (dsd, components) = (rules.dsd.to_string(), rules.component_ids());
                    self.out.error(1, Some(id), || {
                        format!("not a component of {dsd} (expected one of {components}, or {CSV_COLUMNS})")
                    });
                }
                Column::Csv => {}
            }
        }
        let reported_missing = vec![false; rules.components.len()];
        Layout {
            rules,
            columns,
            reported_missing,
            written_id,
        }
    }
}

#[path = "validate_row.rs"]
mod row;

/// The kind and id of the structure that SDMX-CSV data names in its first data row, read from
/// the start of the file (the first chunk is enough unless rows are enormous): what a node
/// needs to choose the structure to validate against. `kind` is `None` for SDMX-CSV 1.0.
pub fn structure_named(prefix: &[u8]) -> Option<(Option<String>, String)> {
    let mut reader = RecordReader::new();
    let mut header: Option<Header> = None;
    let mut found = None;
    let mut sink = |record: &Record<'_>| -> Result<(), SdmxError> {
        match &header {
            None => header = Some(Header::read(record)?),
            Some(_) if record.count == 0 => {}
            Some(h) => {
                if found.is_none() {
                    let kind = h
                        .structure_kind
                        .and_then(|i| record.get(i))
                        .map(str::to_owned);
                    let id = record.get(h.structure_id).unwrap_or_default().to_owned();
                    found = Some((kind, id));
                }
            }
        }
        Ok(())
    };
    let _ = reader.feed(prefix, &mut sink);
    found
}

/// A whole file validated at once, for tests and small inputs.
pub fn validate_data(set: StructureSet, data: &[u8]) -> ValidationReport {
    let mut validator = DataValidator::new(set);
    validator.feed(data);
    validator.finish()
}

/// Whether a rule's value check passes; the expected form when not.
pub(crate) fn value_problem(rule: &Rule, value: &str) -> Option<String> {
    match &rule.value {
        ValueRule::Coded(codes) if !codes.contains(value) => Some(format!(
            "code {:?} is not in codelist {} (expected one of {})",
            shown(value),
            codes.reference,
            codes.listing
        )),
        ValueRule::Typed(data_type) if !data_type.accepts(value) => {
            let what = if rule.role == Role::Time {
                "time period"
            } else {
                "value"
            };
            Some(format!(
                "{what} {:?} is not valid (expected {})",
                shown(value),
                data_type.expected()
            ))
        }
        ValueRule::Coded(_) | ValueRule::Typed(_) => None,
    }
}

/// The id part of a value written with a label, when the file uses labels.
pub(crate) fn value_id(value: &str, labels: bool) -> &str {
    if labels { column_id(value) } else { value }
}

/// The message for a file with more keys than [`MAX_SERIES_KEYS`].
pub(crate) fn too_many_keys() -> String {
    format!(
        "more than {MAX_SERIES_KEYS} distinct series keys and time periods; split the file into \
         smaller releases"
    )
}
