//! The syntax check of SDMX-CSV files (SDMX-CSV 1.0 and 2.0), for data whose structure the node
//! does not hold.
//!
//! The daemon feeds a file to an [`SdmxValidator`] chunk by chunk while it streams the file into
//! its store; if the validator refuses the file, nothing is stored and the publisher is told the
//! line of the first bad record. The validator does no I/O, never panics, gives the same answer
//! however the input is cut into chunks, and never holds more than one record (at most
//! [`MAX_RECORD_LEN`](super::MAX_RECORD_LEN) bytes) plus the header and the structure id in
//! memory. Records are read as [`super::csv`] describes.
//!
//! # What is accepted
//!
//! * The header (line 1) starts with `STRUCTURE` (SDMX-CSV 2.0: the structure id is the value
//!   of the `STRUCTURE_ID` column, wherever it is) or `DATAFLOW` (SDMX-CSV 1.0: the structure id
//!   is the value of column 1). The other columns may come in any order. Column names are
//!   non-empty, at most [`MAX_COLUMNS`] of them, and distinct by their id: a header written with
//!   labels (`FREQ: Frequency`) is read by the id before the colon.
//! * Every data record has as many fields as the header, a non-empty structure id that is the
//!   same on every record, a `STRUCTURE` value of `dataflow`, `datastructure` or `dataprovision`
//!   (SDMX-CSV 2.0), and, where there is an `ACTION` column, an action of `I`, `A`, `M`, `R` or
//!   `D` (empty meaning `I`). Measures and attributes may be empty or absent, as SDMX-CSV 2.0
//!   allows (attribute-only rows, `D` rows). There is at least one data record.
//!
//! # Blank lines
//!
//! Empty lines at the very end of the file (for instance a file ending in `\n\n`) are ignored.
//! An empty line followed by another record is refused as a record with the wrong number of
//! fields: "line N: expected 7 fields, found 0", N being the empty line.
//!
//! # Line numbers
//!
//! Every error carries the 1-based physical line where the offending record starts (the header
//! is line 1), counting the lines inside quoted fields, and its message starts with `line N: `.

use std::collections::HashSet;

#[cfg(doc)]
use super::csv::MAX_COLUMNS;
use super::csv::{BOM, Record, RecordReader};
use super::{column_id, shown};

/// True when the file's first bytes look like SDMX-CSV: after an optional UTF-8 BOM, the header
/// starts with `STRUCTURE,` (SDMX-CSV 2.0) or `DATAFLOW,` (SDMX-CSV 1.0), either name possibly
/// enclosed in double quotes (`"STRUCTURE",`).
///
/// This only sniffs the format, to decide whether to run an [`SdmxValidator`]; it does not
/// validate anything.
pub fn looks_like_sdmx(prefix: &[u8]) -> bool {
    let text = prefix.strip_prefix(&BOM[..]).unwrap_or(prefix);
    [
        &b"STRUCTURE,"[..],
        b"DATAFLOW,",
        b"\"STRUCTURE\",",
        b"\"DATAFLOW\",",
    ]
    .iter()
    .any(|start| text.starts_with(start))
}

/// What a valid SDMX-CSV file holds, as far as the validator looked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdmxSummary {
    /// The structure (dataflow) id shared by every row, e.g. `BPX:DF_MGI(1.0.0)`.
    pub structure_id: String,
    /// The header's column names, in order, as written.
    pub columns: Vec<String>,
    /// Number of data rows (records after the header).
    pub rows: u64,
}

/// Why an SDMX-CSV file was refused. Every variant carries the 1-based physical line where the
/// offending record starts (see [`SdmxError::line`]); the message starts with `line N: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdmxError {
    /// The input holds nothing but, perhaps, a byte-order mark.
    #[error("line {line}: the file is empty; expected an SDMX-CSV header")]
    Empty {
        /// Always 1.
        line: u64,
    },
    /// The header starts with neither `STRUCTURE` (with a `STRUCTURE_ID` column) nor `DATAFLOW`.
    #[error(
        "line {line}: not an SDMX-CSV header: expected it to start with STRUCTURE and have a \
         STRUCTURE_ID column (SDMX-CSV 2.0), or to start with DATAFLOW (SDMX-CSV 1.0), found \
         {found:?}"
    )]
    UnrecognisedHeader {
        /// Always 1.
        line: u64,
        /// The start of the header (possibly cut short).
        found: String,
    },
    /// A header column has an empty name.
    #[error("line {line}: column {column} of the header has an empty name")]
    EmptyColumnName {
        /// Always 1.
        line: u64,
        /// 1-based position of the column.
        column: usize,
    },
    /// Two header columns have the same id.
    #[error("line {line}: column {name:?} appears more than once in the header")]
    DuplicateColumn {
        /// Always 1.
        line: u64,
        /// The repeated id (possibly cut short).
        name: String,
    },
    /// The header has more than [`MAX_COLUMNS`] columns.
    #[error("line {line}: the header has more than {max} columns")]
    TooManyColumns {
        /// Always 1.
        line: u64,
        /// [`MAX_COLUMNS`].
        max: usize,
    },
    /// A data record has more or fewer fields than the header; an empty line followed by more
    /// records counts as a record of 0 fields.
    #[error("line {line}: expected {expected} fields, found {found}")]
    FieldCount {
        /// Line where the record starts.
        line: u64,
        /// Number of header columns.
        expected: usize,
        /// Number of fields in the record (0 for an empty line).
        found: usize,
    },
    /// A data record's structure id (`DATAFLOW` or `STRUCTURE_ID` value) is empty.
    #[error("line {line}: the structure id is empty")]
    EmptyStructureId {
        /// Line where the record starts.
        line: u64,
    },
    /// A data record's structure id differs from the first data record's.
    #[error("line {line}: structure id {found:?} differs from {expected:?} on line {first_line}")]
    StructureIdMismatch {
        /// Line where the record starts.
        line: u64,
        /// This record's structure id (possibly cut short).
        found: String,
        /// The first data record's structure id (possibly cut short).
        expected: String,
        /// Line where the first data record starts.
        first_line: u64,
    },
    /// A data record's `STRUCTURE` value is not a kind of structure SDMX-CSV 2.0 names.
    #[error(
        "line {line}: STRUCTURE is {found:?}; expected dataflow, datastructure or dataprovision"
    )]
    UnknownStructureKind {
        /// Line where the record starts.
        line: u64,
        /// The value (possibly cut short).
        found: String,
    },
    /// A data record's `ACTION` value is not one of SDMX-CSV's actions.
    #[error("line {line}: ACTION is {found:?}; expected one of I, A, M, R, D")]
    InvalidAction {
        /// Line where the record starts.
        line: u64,
        /// The value (possibly cut short).
        found: String,
    },
    /// A record is longer than [`MAX_RECORD_LEN`](super::MAX_RECORD_LEN) bytes.
    #[error("line {line}: record longer than {max} bytes")]
    RecordTooLong {
        /// Line where the record starts.
        line: u64,
        /// [`MAX_RECORD_LEN`](super::MAX_RECORD_LEN).
        max: usize,
    },
    /// A field is not valid UTF-8.
    #[error("line {line}: text is not valid UTF-8")]
    InvalidUtf8 {
        /// Line where the record starts.
        line: u64,
    },
    /// The file ends inside a quoted field.
    #[error("line {line}: quoted field not closed before the end of the file")]
    UnterminatedQuote {
        /// Line where the record starts.
        line: u64,
    },
    /// A double quote inside an unquoted field, or after the closing quote of a quoted field.
    #[error(
        "line {line}: stray double quote in a field; enclose the whole field in quotes and \
         double each quote inside it"
    )]
    StrayQuote {
        /// Line where the record starts.
        line: u64,
    },
    /// A carriage return outside quotes that is not followed by a line feed.
    #[error(
        "line {line}: carriage return not followed by a line feed; lines must end with LF or CRLF"
    )]
    BareCarriageReturn {
        /// Line where the record starts.
        line: u64,
    },
    /// The file has a header but no data record.
    #[error("line {line}: no data rows")]
    NoDataRows {
        /// The line after the header.
        line: u64,
    },
}

impl SdmxError {
    /// The 1-based physical line where the offending record starts.
    pub fn line(&self) -> u64 {
        match self {
            Self::Empty { line }
            | Self::UnrecognisedHeader { line, .. }
            | Self::EmptyColumnName { line, .. }
            | Self::DuplicateColumn { line, .. }
            | Self::TooManyColumns { line, .. }
            | Self::FieldCount { line, .. }
            | Self::EmptyStructureId { line }
            | Self::StructureIdMismatch { line, .. }
            | Self::UnknownStructureKind { line, .. }
            | Self::InvalidAction { line, .. }
            | Self::RecordTooLong { line, .. }
            | Self::InvalidUtf8 { line }
            | Self::UnterminatedQuote { line }
            | Self::StrayQuote { line }
            | Self::BareCarriageReturn { line }
            | Self::NoDataRows { line } => *line,
        }
    }
}

/// Where the columns that the syntax check reads are, once the header is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// The column names as written.
    pub names: Vec<String>,
    /// The column ids (names without a label).
    pub ids: Vec<String>,
    /// 0-based index of the structure id column (`DATAFLOW` or `STRUCTURE_ID`).
    pub structure_id: usize,
    /// 0-based index of the `STRUCTURE` column (SDMX-CSV 2.0 only; always 0).
    pub structure_kind: Option<usize>,
    /// 0-based index of the `ACTION` column, if any.
    pub action: Option<usize>,
    /// Physical line where the header ends.
    pub end_line: u64,
}

impl Header {
    /// Reads and checks the header record.
    pub(crate) fn read(record: &Record<'_>) -> Result<Self, SdmxError> {
        let line = record.line;
        let names: Vec<String> = record.fields().map(str::to_owned).collect();
        let ids: Vec<String> = names
            .iter()
            .map(|name| column_id(name).to_owned())
            .collect();
        let unrecognised = || SdmxError::UnrecognisedHeader {
            line,
            found: shown(&names.join(",")),
        };
        let position = |wanted: &str| ids.iter().position(|id| id == wanted);
        let (structure_id, structure_kind) = match ids.first().map(String::as_str) {
            Some("DATAFLOW") => (0, None),
            Some("STRUCTURE") => (position("STRUCTURE_ID").ok_or_else(unrecognised)?, Some(0)),
            _ => return Err(unrecognised()),
        };
        let mut seen = HashSet::with_capacity(ids.len());
        for (index, (name, id)) in names.iter().zip(&ids).enumerate() {
            if name.is_empty() || id.is_empty() {
                return Err(SdmxError::EmptyColumnName {
                    line,
                    column: index.saturating_add(1),
                });
            }
            if !seen.insert(id.as_str()) {
                return Err(SdmxError::DuplicateColumn {
                    line,
                    name: shown(id),
                });
            }
        }
        let action = position("ACTION");
        Ok(Self {
            names,
            ids,
            structure_id,
            structure_kind,
            action,
            end_line: record.end_line,
        })
    }

    /// Checks what every data record must satisfy whatever its structure: field count, a
    /// non-empty structure id, the kind of structure and the action. Returns the structure id.
    pub(crate) fn check_record<'r>(&self, record: &Record<'r>) -> Result<&'r str, SdmxError> {
        let line = record.line;
        if record.count != self.ids.len() {
            return Err(SdmxError::FieldCount {
                line,
                expected: self.ids.len(),
                found: record.count,
            });
        }
        let structure_id = record.get(self.structure_id).unwrap_or_default();
        if structure_id.is_empty() {
            return Err(SdmxError::EmptyStructureId { line });
        }
        if let Some(kind) = self.structure_kind.and_then(|index| record.get(index))
            && !matches!(kind, "dataflow" | "datastructure" | "dataprovision")
        {
            return Err(SdmxError::UnknownStructureKind {
                line,
                found: shown(kind),
            });
        }
        if let Some(action) = self.action.and_then(|index| record.get(index))
            && !matches!(action, "" | "I" | "A" | "M" | "R" | "D")
        {
            return Err(SdmxError::InvalidAction {
                line,
                found: shown(action),
            });
        }
        Ok(structure_id)
    }
}

/// What the syntax check knows between records.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// `None` until the header has been read.
    header: Option<Header>,
    /// Structure id of the first data record and the line where it starts.
    first: Option<(String, u64)>,
    /// First line of a run of empty lines not yet followed by a record.
    pending_blank: Option<u64>,
    /// Data records accepted.
    rows: u64,
}

impl Progress {
    /// Checks one record (the header first).
    fn record(&mut self, record: &Record<'_>) -> Result<(), SdmxError> {
        let Some(header) = &self.header else {
            self.header = Some(Header::read(record)?);
            return Ok(());
        };
        if record.count == 0 {
            // An empty line: harmless at the end of the file, an error before a record.
            self.pending_blank.get_or_insert(record.line);
            return Ok(());
        }
        if let Some(blank) = self.pending_blank {
            return Err(SdmxError::FieldCount {
                line: blank,
                expected: header.ids.len(),
                found: 0,
            });
        }
        let structure_id = header.check_record(record)?;
        match &self.first {
            None => self.first = Some((structure_id.to_owned(), record.line)),
            Some((first, first_line)) if first != structure_id => {
                return Err(SdmxError::StructureIdMismatch {
                    line: record.line,
                    found: shown(structure_id),
                    expected: shown(first),
                    first_line: *first_line,
                });
            }
            Some(_) => {}
        }
        self.rows = self.rows.saturating_add(1);
        Ok(())
    }

    /// An error found after an empty line that is not at the end of the file: the empty line is
    /// the first bad record.
    fn blame_blank(&self, err: SdmxError) -> SdmxError {
        match (self.pending_blank, &self.header, &err) {
            (_, _, SdmxError::NoDataRows { .. }) => err,
            (Some(line), Some(header), _) => SdmxError::FieldCount {
                line,
                expected: header.ids.len(),
                found: 0,
            },
            _ => err,
        }
    }
}

/// Incremental SDMX-CSV syntax validator: [`feed`](Self::feed) it the file in chunks of any
/// size, then call [`finish`](Self::finish). See the [module documentation](self) for the rules.
///
/// After an error, every further call returns that same error.
#[derive(Debug, Clone)]
pub struct SdmxValidator {
    reader: RecordReader,
    progress: Progress,
    /// The first error, repeated by every later call.
    failed: Option<SdmxError>,
}

impl Default for SdmxValidator {
    fn default() -> Self {
        Self::new()
    }
}

impl SdmxValidator {
    /// A validator expecting the first byte of a file.
    pub fn new() -> Self {
        Self {
            reader: RecordReader::new(),
            progress: Progress::default(),
            failed: None,
        }
    }

    /// Validates the next bytes of the file. Chunks may be cut anywhere, even inside a UTF-8
    /// character, a CRLF or the BOM; the outcome only depends on the concatenated input.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), SdmxError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let progress = &mut self.progress;
        let outcome = self
            .reader
            .feed(bytes, &mut |record: &Record<'_>| progress.record(record));
        outcome.map_err(|err| {
            let err = self.progress.blame_blank(err);
            self.failed = Some(err.clone());
            err
        })
    }

    /// Ends the input (the last record may lack its line terminator) and says what the file
    /// holds, or why it is refused.
    pub fn finish(mut self) -> Result<SdmxSummary, SdmxError> {
        if let Some(err) = self.failed.take() {
            return Err(err);
        }
        let progress = &mut self.progress;
        let outcome = self
            .reader
            .finish(&mut |record: &Record<'_>| progress.record(record));
        if let Err(err) = outcome {
            return Err(self.progress.blame_blank(err));
        }
        let Some(header) = self.progress.header else {
            return Err(SdmxError::Empty { line: 1 });
        };
        let Some((structure_id, _)) = self.progress.first else {
            return Err(SdmxError::NoDataRows {
                line: header.end_line.saturating_add(1),
            });
        };
        Ok(SdmxSummary {
            structure_id,
            columns: header.names,
            rows: self.progress.rows,
        })
    }
}

#[cfg(test)]
#[path = "syntax_tests.rs"]
mod tests;
