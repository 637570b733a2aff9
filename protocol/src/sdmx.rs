//! Streaming validation of SDMX-CSV files (SDMX-CSV 1.0 and 2.0, RFC 4180 quoting).
//!
//! The daemon feeds a file to an [`SdmxValidator`] chunk by chunk while it streams the file into
//! its store; if the validator refuses the file, nothing is stored and the publisher is told the
//! line of the first bad record. The validator does no I/O, never panics, gives the same answer
//! however the input is cut into chunks, and never holds more than one record (at most
//! [`MAX_RECORD_LEN`] bytes) plus the header and the structure id in memory.
//!
//! # What is accepted
//!
//! * Text is UTF-8, optionally starting with a byte-order mark. Records end with LF or CRLF; a
//!   carriage return anywhere else outside quotes is refused. The last record may lack its line
//!   terminator.
//! * Fields are separated by commas. A field may be enclosed in double quotes, and then `""`
//!   stands for one quote while commas, CR and LF are literal, so one record may span several
//!   physical lines. A quote anywhere else in a field is refused.
//! * The header (line 1) starts with `STRUCTURE,STRUCTURE_ID` (SDMX-CSV 2.0: the structure id is
//!   the value of column 2) or `DATAFLOW` (SDMX-CSV 1.0: the structure id is the value of
//!   column 1). Its column names are non-empty and distinct, there are at most [`MAX_COLUMNS`] of
//!   them, and one of them is `OBS_VALUE` (or, for a header written with labels,
//!   `OBS_VALUE: <label>`).
//! * Every data record has as many fields as the header, a non-empty structure id that is the
//!   same on every record, and a non-empty `OBS_VALUE`. There is at least one data record.
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

/// Longest record (one row, without its line terminator) accepted, in bytes.
pub const MAX_RECORD_LEN: usize = 1 << 20;

/// Most columns accepted in the header.
pub const MAX_COLUMNS: usize = 1024;

/// The UTF-8 byte-order mark.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Most characters of a value from the file quoted in an error message.
const MAX_SHOWN_CHARS: usize = 80;

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
    /// The header's column names, in order.
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
    /// The header starts with neither `STRUCTURE,STRUCTURE_ID` nor `DATAFLOW`.
    #[error(
        "line {line}: not an SDMX-CSV header: expected it to start with STRUCTURE,STRUCTURE_ID \
         (SDMX-CSV 2.0) or DATAFLOW (SDMX-CSV 1.0), found {found:?}"
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
    /// Two header columns have the same name.
    #[error("line {line}: column {name:?} appears more than once in the header")]
    DuplicateColumn {
        /// Always 1.
        line: u64,
        /// The repeated name (possibly cut short).
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
    /// The header has no `OBS_VALUE` column.
    #[error("line {line}: the header has no OBS_VALUE column")]
    MissingObsValue {
        /// Always 1.
        line: u64,
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
    /// A data record's `OBS_VALUE` is empty.
    #[error("line {line}: OBS_VALUE is empty")]
    EmptyObsValue {
        /// Line where the record starts.
        line: u64,
    },
    /// A record is longer than [`MAX_RECORD_LEN`] bytes.
    #[error("line {line}: record longer than {max} bytes")]
    RecordTooLong {
        /// Line where the record starts.
        line: u64,
        /// [`MAX_RECORD_LEN`].
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
            | Self::MissingObsValue { line }
            | Self::FieldCount { line, .. }
            | Self::EmptyStructureId { line }
            | Self::StructureIdMismatch { line, .. }
            | Self::EmptyObsValue { line }
            | Self::RecordTooLong { line, .. }
            | Self::InvalidUtf8 { line }
            | Self::UnterminatedQuote { line }
            | Self::StrayQuote { line }
            | Self::BareCarriageReturn { line }
            | Self::NoDataRows { line } => *line,
        }
    }
}

/// Where the parser is within a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field (start of a record, or after a comma).
    FieldStart,
    /// Inside a field that does not start with a quote.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: the closing quote, or the first of `""`.
    QuoteInQuoted,
    /// Just after a carriage return outside quotes; only a line feed may follow.
    Cr,
}

/// Progress through an optional byte-order mark at the start of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bom {
    /// This many bytes of the input so far match the BOM.
    Matching(usize),
    /// Past the BOM (or there was none).
    Done,
}

/// What the header says about data records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    /// Number of columns.
    expected: usize,
    /// 0-based index of the structure id column.
    structure_col: usize,
    /// 0-based index of the `OBS_VALUE` column.
    obs_col: usize,
}

/// Incremental SDMX-CSV validator: [`feed`](Self::feed) it the file in chunks of any size, then
/// call [`finish`](Self::finish). See the [module documentation](self) for the rules.
///
/// After an error, every further call returns that same error.
#[derive(Debug, Clone)]
pub struct SdmxValidator {
    bom: Bom,
    state: State,
    /// Physical line of the next byte.
    line: u64,
    /// Physical line where the current record starts.
    record_line: u64,
    /// Bytes of the current record so far, quotes included, line terminator excluded.
    record_len: usize,
    /// Fields of the current record completed so far.
    field_index: usize,
    /// Content of the current field, quotes removed.
    field: Vec<u8>,
    /// Header column names (complete once `layout` is set).
    columns: Vec<String>,
    /// `None` until the header has been read.
    layout: Option<Layout>,
    /// Physical line where the header ends.
    header_end_line: u64,
    /// Structure id of the current data record.
    row_structure_id: String,
    /// Whether the current data record's `OBS_VALUE` is empty.
    row_obs_empty: bool,
    /// Structure id of the first data record and the line where it starts.
    first: Option<(String, u64)>,
    /// First line of a run of empty lines not yet followed by a record.
    pending_blank: Option<u64>,
    /// Data records accepted.
    rows: u64,
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
            bom: Bom::Matching(0),
            state: State::FieldStart,
            line: 1,
            record_line: 1,
            record_len: 0,
            field_index: 0,
            field: Vec::new(),
            columns: Vec::new(),
            layout: None,
            header_end_line: 1,
            row_structure_id: String::new(),
            row_obs_empty: true,
            first: None,
            pending_blank: None,
            rows: 0,
            failed: None,
        }
    }

    /// Validates the next bytes of the file. Chunks may be cut anywhere, even inside a UTF-8
    /// character, a CRLF or the BOM; the outcome only depends on the concatenated input.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), SdmxError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        match self.feed_inner(bytes) {
            Ok(()) => Ok(()),
            Err(err) => {
                let err = self.blame_blank(err);
                self.failed = Some(err.clone());
                Err(err)
            }
        }
    }

    /// Ends the input (the last record may lack its line terminator) and says what the file
    /// holds, or why it is refused.
    pub fn finish(mut self) -> Result<SdmxSummary, SdmxError> {
        if let Some(err) = self.failed.take() {
            return Err(err);
        }
        if let Err(err) = self.finish_input() {
            return Err(self.blame_blank(err));
        }
        if self.layout.is_none() {
            return Err(SdmxError::Empty { line: 1 });
        }
        let Some((structure_id, _)) = self.first.take() else {
            return Err(SdmxError::NoDataRows {
                line: self.header_end_line.saturating_add(1),
            });
        };
        Ok(SdmxSummary {
            structure_id,
            columns: self.columns,
            rows: self.rows,
        })
    }

    /// Skips a leading BOM, which may be split across chunks, then parses.
    fn feed_inner(&mut self, mut input: &[u8]) -> Result<(), SdmxError> {
        while let Bom::Matching(matched) = self.bom {
            let Some((&byte, rest)) = input.split_first() else {
                return Ok(());
            };
            if BOM.get(matched) == Some(&byte) {
                input = rest;
                let matched = matched.saturating_add(1);
                self.bom = if matched >= BOM.len() {
                    Bom::Done
                } else {
                    Bom::Matching(matched)
                };
            } else {
                // Not a BOM after all: the bytes held back are content.
                self.bom = Bom::Done;
                self.parse(BOM.get(..matched).unwrap_or_default())?;
            }
        }
        self.parse(input)
    }

    /// Ends the last record, if any.
    fn finish_input(&mut self) -> Result<(), SdmxError> {
        if let Bom::Matching(matched) = self.bom {
            self.bom = Bom::Done;
            self.parse(BOM.get(..matched).unwrap_or_default())?;
        }
        match self.state {
            State::Quoted => Err(SdmxError::UnterminatedQuote {
                line: self.record_line,
            }),
            State::Cr => Err(SdmxError::BareCarriageReturn {
                line: self.record_line,
            }),
            State::FieldStart | State::Unquoted | State::QuoteInQuoted => {
                if self.record_len > 0 {
                    self.end_record()
                } else {
                    Ok(())
                }
            }
        }
    }

    /// An error found after an empty line that is not at the end of the file: the empty line is
    /// the first bad record.
    fn blame_blank(&self, err: SdmxError) -> SdmxError {
        match (self.pending_blank, self.layout, &err) {
            (_, _, SdmxError::NoDataRows { .. }) => err,
            (Some(line), Some(layout), _) => SdmxError::FieldCount {
                line,
                expected: layout.expected,
                found: 0,
            },
            _ => err,
        }
    }

    /// Parses bytes after the BOM.
    fn parse(&mut self, mut input: &[u8]) -> Result<(), SdmxError> {
        while !input.is_empty() {
            // Fast path: take a run of plain content bytes at once.
            let run = match self.state {
                State::Unquoted => input
                    .iter()
                    .position(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
                    .unwrap_or(input.len()),
                State::Quoted => input.iter().position(|&b| b == b'"').unwrap_or(input.len()),
                State::FieldStart | State::QuoteInQuoted | State::Cr => 0,
            };
            if run > 0 {
                let (content, rest) = input.split_at_checked(run).unwrap_or((input, &[]));
                self.content(content)?;
                input = rest;
                continue;
            }
            let Some((&byte, rest)) = input.split_first() else {
                break;
            };
            input = rest;
            self.step(byte)?;
        }
        Ok(())
    }

    /// Handles one byte.
    fn step(&mut self, byte: u8) -> Result<(), SdmxError> {
        use State::*;
        match (self.state, byte) {
            (Cr, b'\n') | (FieldStart | Unquoted | QuoteInQuoted, b'\n') => self.end_line(),
            (Cr, _) => Err(SdmxError::BareCarriageReturn {
                line: self.record_line,
            }),
            (FieldStart | Unquoted | QuoteInQuoted, b'\r') => {
                self.state = Cr;
                Ok(())
            }
            (FieldStart | Unquoted | QuoteInQuoted, b',') => {
                self.count(1)?;
                self.end_field()?;
                self.state = FieldStart;
                Ok(())
            }
            (FieldStart, b'"') => {
                self.count(1)?;
                self.state = Quoted;
                Ok(())
            }
            (Quoted, b'"') => {
                self.count(1)?;
                self.state = QuoteInQuoted;
                Ok(())
            }
            (QuoteInQuoted, b'"') => {
                // `""` inside quotes: one literal quote.
                self.content(b"\"")?;
                self.state = Quoted;
                Ok(())
            }
            (Unquoted, b'"') | (QuoteInQuoted, _) => Err(SdmxError::StrayQuote {
                line: self.record_line,
            }),
            (FieldStart | Unquoted, _) => {
                self.content(&[byte])?;
                self.state = Unquoted;
                Ok(())
            }
            (Quoted, _) => self.content(&[byte]),
        }
    }

    /// Counts `n` structural bytes (commas, quotes) of the current record.
    fn count(&mut self, n: usize) -> Result<(), SdmxError> {
        let len = self.record_len.saturating_add(n);
        if len > MAX_RECORD_LEN {
            return Err(SdmxError::RecordTooLong {
                line: self.record_line,
                max: MAX_RECORD_LEN,
            });
        }
        self.record_len = len;
        Ok(())
    }

    /// Appends field content; line feeds in it (inside quotes) start new physical lines.
    fn content(&mut self, bytes: &[u8]) -> Result<(), SdmxError> {
        self.count(bytes.len())?;
        let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
        self.line = self
            .line
            .saturating_add(u64::try_from(newlines).unwrap_or(u64::MAX));
        self.field.extend_from_slice(bytes);
        Ok(())
    }

    /// A line feed outside quotes: ends the record and the physical line.
    fn end_line(&mut self) -> Result<(), SdmxError> {
        self.end_record()?;
        self.line = self.line.saturating_add(1);
        self.record_line = self.line;
        Ok(())
    }

    /// Ends the current record (its last field included) and resets for the next one.
    fn end_record(&mut self) -> Result<(), SdmxError> {
        match self.layout {
            Some(_) if self.record_len == 0 => {
                // An empty line: harmless at the end of the file, an error before a record.
                if self.pending_blank.is_none() {
                    self.pending_blank = Some(self.record_line);
                }
            }
            Some(layout) => {
                self.end_field()?;
                self.check_row(layout)?;
            }
            None => {
                self.end_field()?;
                self.check_header()?;
            }
        }
        self.state = State::FieldStart;
        self.record_len = 0;
        self.field_index = 0;
        self.row_structure_id.clear();
        self.row_obs_empty = true;
        Ok(())
    }

    /// Ends the current field.
    fn end_field(&mut self) -> Result<(), SdmxError> {
        let line = self.record_line;
        let text = std::str::from_utf8(&self.field).map_err(|_| SdmxError::InvalidUtf8 { line })?;
        match self.layout {
            None => {
                if self.columns.len() >= MAX_COLUMNS {
                    return Err(SdmxError::TooManyColumns {
                        line,
                        max: MAX_COLUMNS,
                    });
                }
                self.columns.push(text.to_owned());
                let recognised = match self.columns.as_slice() {
                    [first] => first == "STRUCTURE" || first == "DATAFLOW",
                    [first, second] => first != "STRUCTURE" || second == "STRUCTURE_ID",
                    _ => true,
                };
                if !recognised {
                    return Err(self.unrecognised_header());
                }
            }
            Some(layout) => {
                if self.field_index == layout.structure_col {
                    self.row_structure_id.clear();
                    self.row_structure_id.push_str(text);
                }
                if self.field_index == layout.obs_col {
                    self.row_obs_empty = text.is_empty();
                }
            }
        }
        self.field.clear();
        self.field_index = self.field_index.saturating_add(1);
        Ok(())
    }

    fn unrecognised_header(&self) -> SdmxError {
        SdmxError::UnrecognisedHeader {
            line: self.record_line,
            found: shown(&self.columns.join(",")),
        }
    }

    /// Checks the complete header and records the layout of data records.
    fn check_header(&mut self) -> Result<(), SdmxError> {
        let line = self.record_line;
        let structure_col = match self.columns.as_slice() {
            [first, ..] if first == "DATAFLOW" => 0,
            [first, second, ..] if first == "STRUCTURE" && second == "STRUCTURE_ID" => 1,
            _ => return Err(self.unrecognised_header()),
        };
        let mut seen = HashSet::with_capacity(self.columns.len());
        for (index, name) in self.columns.iter().enumerate() {
            if name.is_empty() {
                return Err(SdmxError::EmptyColumnName {
                    line,
                    column: index.saturating_add(1),
                });
            }
            if !seen.insert(name.as_str()) {
                return Err(SdmxError::DuplicateColumn {
                    line,
                    name: shown(name),
                });
            }
        }
        let obs_col = self
            .columns
            .iter()
            .position(|name| is_obs_value(name))
            .ok_or(SdmxError::MissingObsValue { line })?;
        self.layout = Some(Layout {
            expected: self.columns.len(),
            structure_col,
            obs_col,
        });
        self.header_end_line = self.line;
        Ok(())
    }

    /// Checks a complete data record.
    fn check_row(&mut self, layout: Layout) -> Result<(), SdmxError> {
        let line = self.record_line;
        if let Some(blank) = self.pending_blank {
            return Err(SdmxError::FieldCount {
                line: blank,
                expected: layout.expected,
                found: 0,
            });
        }
        if self.field_index != layout.expected {
            return Err(SdmxError::FieldCount {
                line,
                expected: layout.expected,
                found: self.field_index,
            });
        }
        if self.row_structure_id.is_empty() {
            return Err(SdmxError::EmptyStructureId { line });
        }
        match &self.first {
            None => self.first = Some((self.row_structure_id.clone(), line)),
            Some((first, first_line)) if *first != self.row_structure_id => {
                return Err(SdmxError::StructureIdMismatch {
                    line,
                    found: shown(&self.row_structure_id),
                    expected: shown(first),
                    first_line: *first_line,
                });
            }
            Some(_) => {}
        }
        if self.row_obs_empty {
            return Err(SdmxError::EmptyObsValue { line });
        }
        self.rows = self.rows.saturating_add(1);
        Ok(())
    }
}

/// `OBS_VALUE`, or `OBS_VALUE: <label>` in a header written with labels.
fn is_obs_value(name: &str) -> bool {
    name == "OBS_VALUE" || name.starts_with("OBS_VALUE:")
}

/// A value from the file, cut short for an error message.
fn shown(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(MAX_SHOWN_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE_2_0: &str = "STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,MGI_DOMAIN,TIME_PERIOD,OBS_VALUE\n\
        dataflow,BPX:DF_MGI(1.0.0),I,BHR,INST_CAP,2016,EMERGING\n\
        dataflow,BPX:DF_MGI(1.0.0),I,BHR,MIG_RIGHTS,2016,EMERGING\n";
    const SAMPLE_1_0: &str = "DATAFLOW,REF_AREA,TIME_PERIOD,OBS_VALUE\nBPX:DF_X(1.0),THA,2017,46\n";
    const HEADER_2_0: &str =
        "STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,MGI_DOMAIN,TIME_PERIOD,OBS_VALUE\n";
    const ROW_2_0: &str = "dataflow,BPX:DF_MGI(1.0.0),I,BHR,INST_CAP,2016,EMERGING\n";

    fn validate(input: &[u8]) -> Result<SdmxSummary, SdmxError> {
        let mut v = SdmxValidator::new();
        v.feed(input)?;
        v.finish()
    }

    /// Feeds `input` in chunks of the given sizes (cycled; 0 means an empty chunk).
    fn validate_chunked(input: &[u8], sizes: &[usize]) -> Result<SdmxSummary, SdmxError> {
        let mut v = SdmxValidator::new();
        let mut rest = input;
        let mut sizes = sizes.iter().cycle();
        while !rest.is_empty() {
            let mut size = sizes.next().copied().unwrap_or(1).min(rest.len());
            if size == 0 {
                // An empty chunk changes nothing; then move on by one byte so the loop ends.
                v.feed(&[])?;
                size = 1;
            }
            let (chunk, tail) = rest.split_at(size);
            if let Err(err) = v.feed(chunk) {
                // The validator stays failed with the same error.
                assert_eq!(v.feed(tail), Err(err.clone()));
                assert_eq!(v.clone().finish(), Err(err.clone()));
                return Err(err);
            }
            rest = tail;
        }
        v.finish()
    }

    #[allow(clippy::panic)] // fails the test
    fn error(input: &str) -> SdmxError {
        let whole = validate(input.as_bytes());
        let bytewise = validate_chunked(input.as_bytes(), &[1]);
        assert_eq!(whole, bytewise, "input {input:?}");
        match whole {
            Err(err) => err,
            Ok(summary) => panic!("accepted {input:?}: {summary:?}"),
        }
    }

    #[allow(clippy::panic)] // fails the test
    fn summary(input: &str) -> SdmxSummary {
        let whole = validate(input.as_bytes());
        assert_eq!(whole, validate_chunked(input.as_bytes(), &[1]));
        assert_eq!(whole, validate_chunked(input.as_bytes(), &[2, 3, 0, 5]));
        match whole {
            Ok(summary) => summary,
            Err(err) => panic!("refused {input:?}: {err}"),
        }
    }

    fn columns(names: &[&str]) -> Vec<String> {
        names.iter().map(|&n| n.to_owned()).collect()
    }

    #[test]
    fn sample_2_0() {
        assert_eq!(
            summary(SAMPLE_2_0),
            SdmxSummary {
                structure_id: "BPX:DF_MGI(1.0.0)".to_owned(),
                columns: columns(&[
                    "STRUCTURE",
                    "STRUCTURE_ID",
                    "ACTION",
                    "REF_AREA",
                    "MGI_DOMAIN",
                    "TIME_PERIOD",
                    "OBS_VALUE"
                ]),
                rows: 2,
            }
        );
    }

    #[test]
    fn sample_1_0() {
        assert_eq!(
            summary(SAMPLE_1_0),
            SdmxSummary {
                structure_id: "BPX:DF_X(1.0)".to_owned(),
                columns: columns(&["DATAFLOW", "REF_AREA", "TIME_PERIOD", "OBS_VALUE"]),
                rows: 1,
            }
        );
    }

    #[test]
    fn sample_without_trailing_newline() {
        let s = summary(SAMPLE_1_0.trim_end_matches('\n'));
        assert_eq!(s.rows, 1);
        assert_eq!(s.structure_id, "BPX:DF_X(1.0)");
        let s = summary(SAMPLE_2_0.trim_end_matches('\n'));
        assert_eq!(s.rows, 2);
        // The last field is complete even when it is quoted or empty-but-quoted.
        let s = summary("DATAFLOW,OBS_VALUE\nX,\"1\"");
        assert_eq!(s.rows, 1);
        assert_eq!(
            error("DATAFLOW,A,OBS_VALUE\nX,1,"),
            SdmxError::EmptyObsValue { line: 2 }
        );
    }

    #[test]
    fn sample_2_0_with_labels_and_quoted_header() {
        let s = summary(
            "\"STRUCTURE\",\"STRUCTURE_ID\",\"ACTION\",\"REF_AREA: Reference area\",\
             \"OBS_VALUE: Observation value\"\n\
             dataflow,BPX:DF_MGI(1.0.0),I,THA: Thailand,46\n",
        );
        assert_eq!(s.structure_id, "BPX:DF_MGI(1.0.0)");
        assert_eq!(s.columns.len(), 5);
        assert_eq!(
            s.columns.last().map(String::as_str),
            Some("OBS_VALUE: Observation value")
        );
        assert_eq!(s.rows, 1);
    }

    #[test]
    fn crlf_and_bom() {
        let crlf = SAMPLE_2_0.replace('\n', "\r\n");
        assert_eq!(summary(&crlf), summary(SAMPLE_2_0));
        let bom = format!("\u{feff}{SAMPLE_2_0}");
        assert_eq!(summary(&bom), summary(SAMPLE_2_0));
        let both = format!("\u{feff}{crlf}");
        assert_eq!(summary(&both), summary(SAMPLE_2_0));
        // A BOM-like prefix that is not a BOM is content (and here invalid UTF-8).
        let mut bad = vec![0xEF, 0xBB];
        bad.extend_from_slice(SAMPLE_1_0.as_bytes());
        assert_eq!(
            validate_chunked(&bad, &[1]),
            Err(SdmxError::InvalidUtf8 { line: 1 })
        );
        assert_eq!(validate(&bad), Err(SdmxError::InvalidUtf8 { line: 1 }));
        // A BOM alone, or part of one, is an empty file / not a header.
        assert_eq!(validate(&BOM), Err(SdmxError::Empty { line: 1 }));
        assert_eq!(validate(&BOM[..2]), Err(SdmxError::InvalidUtf8 { line: 1 }));
    }

    #[test]
    fn quoted_comma_and_newline() {
        let input = "DATAFLOW,NOTE,OBS_VALUE\n\
                     X,\"a, b\",1\n\
                     X,\"two\nlines, and \"\"quotes\"\"\",2\n\
                     X,\"three\r\nphysical\nlines\",3\n\
                     X,plain,\n";
        // Line 1 header; line 2 "a, b"; lines 3-4 "two/lines"; lines 5-7 "three/physical/lines";
        // line 8 the bad record.
        assert_eq!(error(input), SdmxError::EmptyObsValue { line: 8 });
        let good = input.replace("plain,\n", "plain,4\n");
        let s = summary(&good);
        assert_eq!(s.rows, 4);
        // The error names the line where a multi-line record starts.
        let input = "DATAFLOW,NOTE,OBS_VALUE\nX,\"a\nb\nc\",1,extra\nX,y,1\n";
        assert_eq!(
            error(input),
            SdmxError::FieldCount {
                line: 2,
                expected: 3,
                found: 4
            }
        );
    }

    #[test]
    fn empty_file() {
        assert_eq!(error(""), SdmxError::Empty { line: 1 });
    }

    #[test]
    fn unrecognised_header() {
        for (input, found) in [
            ("REF_AREA,OBS_VALUE\nTHA,1\n", "REF_AREA"),
            ("STRUCTURE,ACTION,OBS_VALUE\nx,I,1\n", "STRUCTURE,ACTION"),
            ("STRUCTURE\n", "STRUCTURE"),
            ("\nDATAFLOW,OBS_VALUE\nX,1\n", ""),
            ("dataflow,OBS_VALUE\nX,1\n", "dataflow"),
        ] {
            assert_eq!(
                error(input),
                SdmxError::UnrecognisedHeader {
                    line: 1,
                    found: found.to_owned()
                },
                "{input:?}"
            );
        }
    }

    #[test]
    fn header_column_names() {
        assert_eq!(
            error("DATAFLOW,,OBS_VALUE\nX,a,1\n"),
            SdmxError::EmptyColumnName { line: 1, column: 2 }
        );
        assert_eq!(
            error("DATAFLOW,A,OBS_VALUE,A\nX,a,1,b\n"),
            SdmxError::DuplicateColumn {
                line: 1,
                name: "A".to_owned()
            }
        );
        assert_eq!(
            error("DATAFLOW,A,B\nX,a,1\n"),
            SdmxError::MissingObsValue { line: 1 }
        );
        let mut wide = String::from("DATAFLOW,OBS_VALUE");
        for i in 0..MAX_COLUMNS {
            wide.push_str(&format!(",C{i}"));
        }
        wide.push('\n');
        assert_eq!(
            error(&wide),
            SdmxError::TooManyColumns {
                line: 1,
                max: MAX_COLUMNS
            }
        );
        // Exactly MAX_COLUMNS is fine.
        let mut names = vec!["DATAFLOW".to_owned(), "OBS_VALUE".to_owned()];
        names.extend((2..MAX_COLUMNS).map(|i| format!("C{i}")));
        let row = vec!["X"; MAX_COLUMNS].join(",");
        let s = summary(&format!("{}\n{row}\n", names.join(",")));
        assert_eq!(s.columns, names);
    }

    #[test]
    fn field_count() {
        let input =
            format!("{HEADER_2_0}{ROW_2_0}{ROW_2_0}{ROW_2_0}{ROW_2_0}{ROW_2_0}a,b,c,d,e,f\n");
        let err = error(&input);
        assert_eq!(
            err,
            SdmxError::FieldCount {
                line: 7,
                expected: 7,
                found: 6
            }
        );
        assert_eq!(err.to_string(), "line 7: expected 7 fields, found 6");
        assert_eq!(err.line(), 7);
        assert_eq!(
            error(&format!("{HEADER_2_0}{ROW_2_0}a,b,c,d,e,f,g,h")),
            SdmxError::FieldCount {
                line: 3,
                expected: 7,
                found: 8
            }
        );
    }

    #[test]
    fn structure_id() {
        assert_eq!(
            error("DATAFLOW,OBS_VALUE\nX,1\n,2\n"),
            SdmxError::EmptyStructureId { line: 3 }
        );
        let mut input = String::from(HEADER_2_0);
        for _ in 0..7 {
            input.push_str(ROW_2_0);
        }
        input.push_str("dataflow,BPX:DF_OTHER(1.0),I,BHR,INST_CAP,2016,EMERGING\n");
        let err = error(&input);
        assert_eq!(
            err,
            SdmxError::StructureIdMismatch {
                line: 9,
                found: "BPX:DF_OTHER(1.0)".to_owned(),
                expected: "BPX:DF_MGI(1.0.0)".to_owned(),
                first_line: 2
            }
        );
        assert_eq!(
            err.to_string(),
            "line 9: structure id \"BPX:DF_OTHER(1.0)\" differs from \"BPX:DF_MGI(1.0.0)\" on line 2"
        );
        // The STRUCTURE column itself is not the structure id.
        let s = summary("STRUCTURE,STRUCTURE_ID,OBS_VALUE\ndataflow,A:B(1.0),1\nx,A:B(1.0),2\n");
        assert_eq!(s.structure_id, "A:B(1.0)");
        assert_eq!(
            error("STRUCTURE,STRUCTURE_ID,OBS_VALUE\ndataflow,,1\n"),
            SdmxError::EmptyStructureId { line: 2 }
        );
    }

    #[test]
    fn obs_value() {
        assert_eq!(
            error("DATAFLOW,A,OBS_VALUE,B\nX,a,1,b\nX,a,,b\n"),
            SdmxError::EmptyObsValue { line: 3 }
        );
        assert_eq!(
            error("DATAFLOW,A,OBS_VALUE,B\nX,a,\"\",b\n"),
            SdmxError::EmptyObsValue { line: 2 }
        );
    }

    #[test]
    fn record_too_long() {
        let header = "DATAFLOW,NOTE,OBS_VALUE\n";
        // A record of exactly MAX_RECORD_LEN bytes is accepted.
        let fixed = "X,,1".len();
        let ok = format!("{header}X,{},1\n", "n".repeat(MAX_RECORD_LEN - fixed));
        assert_eq!(summary(&ok).rows, 1);
        let long = format!("{header}X,a,1\nX,{},1\n", "n".repeat(MAX_RECORD_LEN));
        assert_eq!(
            error(&long),
            SdmxError::RecordTooLong {
                line: 3,
                max: MAX_RECORD_LEN
            }
        );
        // Inside quotes too, and with no line feed at all.
        let long = format!("{header}X,\"{}", "\n".repeat(MAX_RECORD_LEN));
        assert_eq!(
            validate(long.as_bytes()),
            Err(SdmxError::RecordTooLong {
                line: 2,
                max: MAX_RECORD_LEN
            })
        );
        let long = ",".repeat(MAX_RECORD_LEN + 1);
        assert_eq!(
            validate(long.as_bytes()),
            Err(SdmxError::UnrecognisedHeader {
                line: 1,
                found: String::new()
            })
        );
        let long = format!("DATAFLOW{}", ",A".repeat(MAX_RECORD_LEN));
        assert_eq!(
            validate(long.as_bytes()),
            Err(SdmxError::TooManyColumns {
                line: 1,
                max: MAX_COLUMNS
            })
        );
    }

    #[test]
    fn invalid_utf8() {
        let mut input = b"DATAFLOW,NOTE,OBS_VALUE\nX,ok,1\nX,\"multi\nline\",2\nX,".to_vec();
        input.extend_from_slice(&[0xC3, 0x28]);
        input.extend_from_slice(b",3\n");
        assert_eq!(validate(&input), Err(SdmxError::InvalidUtf8 { line: 5 }));
        assert_eq!(
            validate_chunked(&input, &[1]),
            Err(SdmxError::InvalidUtf8 { line: 5 })
        );
        // A multi-byte character split across chunks is fine.
        let s = "DATAFLOW,NOTE,OBS_VALUE\nX,Ñoño €,1\n";
        assert_eq!(summary(s).rows, 1);
        assert_eq!(
            validate(b"DATAFLOW,OBS\xff_VALUE\nX,1\n"),
            Err(SdmxError::InvalidUtf8 { line: 1 })
        );
    }

    #[test]
    fn unterminated_quote() {
        assert_eq!(
            error("DATAFLOW,NOTE,OBS_VALUE\nX,a,1\nX,\"open\nstill open,1\n"),
            SdmxError::UnterminatedQuote { line: 3 }
        );
    }

    #[test]
    fn stray_quote() {
        assert_eq!(
            error("DATAFLOW,NOTE,OBS_VALUE\nX,a,1\nX,ab\"c,1\n"),
            SdmxError::StrayQuote { line: 3 }
        );
        assert_eq!(
            error("DATAFLOW,NOTE,OBS_VALUE\nX,\"ab\"c,1\n"),
            SdmxError::StrayQuote { line: 2 }
        );
        assert_eq!(
            error("DATAFLOW,NOTE,OBS_VALUE\nX,\"a\nb\" ,1\n"),
            SdmxError::StrayQuote { line: 2 }
        );
    }

    #[test]
    fn bare_carriage_return() {
        assert_eq!(
            error("DATAFLOW,OBS_VALUE\rX,1\r"),
            SdmxError::BareCarriageReturn { line: 1 }
        );
        assert_eq!(
            error("DATAFLOW,OBS_VALUE\nX,1\nX,2\r"),
            SdmxError::BareCarriageReturn { line: 3 }
        );
        // Inside quotes a lone CR is content.
        assert_eq!(summary("DATAFLOW,N,OBS_VALUE\nX,\"a\rb\",1\n").rows, 1);
    }

    #[test]
    fn no_data_rows() {
        for input in [
            "DATAFLOW,OBS_VALUE\n",
            "DATAFLOW,OBS_VALUE",
            "DATAFLOW,OBS_VALUE\r\n",
            "DATAFLOW,OBS_VALUE\n\n",
            "DATAFLOW,OBS_VALUE\n\n\n",
        ] {
            let err = error(input);
            assert_eq!(err, SdmxError::NoDataRows { line: 2 }, "{input:?}");
            assert_eq!(err.to_string(), "line 2: no data rows");
        }
        // A header spanning lines 1-2.
        assert_eq!(
            error("DATAFLOW,\"OBS\nNOTE\",OBS_VALUE\n"),
            SdmxError::NoDataRows { line: 3 }
        );
    }

    #[test]
    fn blank_lines() {
        // Empty lines at the end are ignored.
        assert_eq!(summary(&format!("{SAMPLE_1_0}\n")).rows, 1);
        assert_eq!(summary(&format!("{SAMPLE_1_0}\n\n")).rows, 1);
        assert_eq!(summary(&format!("{SAMPLE_1_0}\r\n\n\r\n")).rows, 1);
        // An empty line before another record is a record of 0 fields.
        let err = error("DATAFLOW,OBS_VALUE\nX,1\n\nX,2\n");
        assert_eq!(
            err,
            SdmxError::FieldCount {
                line: 3,
                expected: 2,
                found: 0
            }
        );
        assert_eq!(err.to_string(), "line 3: expected 2 fields, found 0");
        assert_eq!(
            error("DATAFLOW,OBS_VALUE\n\nX,1\n"),
            SdmxError::FieldCount {
                line: 2,
                expected: 2,
                found: 0
            }
        );
        // ... even when the record after it is bad in another way.
        for after in ["X,\"open", "X,a\"b\n", "Y,\r", "X,\n", "\r\n\r\nX,1"] {
            assert_eq!(
                error(&format!("DATAFLOW,OBS_VALUE\nX,1\n\r\n\n{after}")),
                SdmxError::FieldCount {
                    line: 3,
                    expected: 2,
                    found: 0
                },
                "{after:?}"
            );
        }
        // A line holding only whitespace or quotes is not empty.
        assert_eq!(
            error("DATAFLOW,OBS_VALUE\nX,1\n \n"),
            SdmxError::FieldCount {
                line: 3,
                expected: 2,
                found: 1
            }
        );
    }

    #[test]
    fn failed_validator_repeats_its_error() {
        let mut v = SdmxValidator::new();
        let err = v.feed(b"nope,OBS_VALUE\n").err();
        assert!(err.is_some());
        assert_eq!(v.feed(SAMPLE_1_0.as_bytes()).err(), err);
        assert_eq!(v.finish().err(), err);
    }

    #[test]
    fn sniffing() {
        assert!(looks_like_sdmx(SAMPLE_2_0.as_bytes()));
        assert!(looks_like_sdmx(SAMPLE_1_0.as_bytes()));
        assert!(looks_like_sdmx(b"\xEF\xBB\xBFDATAFLOW,OBS_VALUE"));
        assert!(looks_like_sdmx(b"\"STRUCTURE\",\"STRUCTURE_ID\""));
        assert!(!looks_like_sdmx(b"DATAFLOW"));
        assert!(!looks_like_sdmx(b"REF_AREA,OBS_VALUE\n"));
        assert!(!looks_like_sdmx(b"\xEF\xBBDATAFLOW,"));
        assert!(!looks_like_sdmx(b""));
        assert!(!looks_like_sdmx(b"structure,"));
    }

    /// Encodes one field, quoting it when it must be (or when `force`).
    fn encode_field(value: &str, force: bool) -> String {
        if force || value.contains([',', '"', '\r', '\n']) {
            format!("\"{}\"", value.replace('"', "\"\""))
        } else {
            value.to_owned()
        }
    }

    prop_compose! {
        /// A valid SDMX-CSV file and its summary.
        fn valid_file()(
            v2 in any::<bool>(),
            dims in 0usize..4,
            rows in 1usize..8,
            crlf in any::<bool>(),
            bom in any::<bool>(),
            trailer in 0u8..3,
            structure_id in "[A-Z]{1,4}:[A-Z_]{1,8}\\([0-9]\\.[0-9]\\)",
        )(
            cells in proptest::collection::vec(
                proptest::collection::vec(("[a-z0-9 ,\"\r\n.é€-]{0,6}", any::<bool>()), dims),
                rows,
            ),
            obs in proptest::collection::vec(("[0-9a-z\" ,\n]{1,5}", any::<bool>()), rows),
            v2 in Just(v2), dims in Just(dims), crlf in Just(crlf), bom in Just(bom),
            trailer in Just(trailer), structure_id in Just(structure_id),
        ) -> (Vec<u8>, SdmxSummary) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut names: Vec<String> = if v2 {
                columns(&["STRUCTURE", "STRUCTURE_ID", "ACTION"])
            } else {
                columns(&["DATAFLOW"])
            };
            names.extend((0..dims).map(|i| format!("DIM_{i}")));
            names.push("OBS_VALUE".to_owned());
            let mut text = String::new();
            if bom {
                text.push('\u{feff}');
            }
            text.push_str(&names.join(","));
            for (row, (obs, force)) in cells.iter().zip(&obs) {
                text.push_str(eol);
                let mut fields: Vec<String> = if v2 {
                    vec!["dataflow".to_owned(), structure_id.clone(), "I".to_owned()]
                } else {
                    vec![structure_id.clone()]
                };
                fields.extend(row.iter().map(|(value, force)| encode_field(value, *force)));
                fields.push(encode_field(obs, *force));
                text.push_str(&fields.join(","));
            }
            for _ in 0..trailer {
                text.push_str(eol);
            }
            let expected = SdmxSummary { structure_id, columns: names, rows: cells.len() as u64 };
            (text.into_bytes(), expected)
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..512),
            sizes in proptest::collection::vec(0usize..40, 1..8),
        ) {
            let whole = validate(&bytes);
            prop_assert_eq!(validate_chunked(&bytes, &sizes), whole);
        }

        #[test]
        fn csv_like_bytes_chunk_independently(
            header in prop_oneof![
                Just("DATAFLOW,A,OBS_VALUE\n"),
                Just("STRUCTURE,STRUCTURE_ID,OBS_VALUE\r\n"),
                Just("\u{feff}DATAFLOW,OBS_VALUE\n"),
                Just(""),
            ],
            body in proptest::collection::vec(
                prop_oneof![
                    Just(b','), Just(b'"'), Just(b'\r'), Just(b'\n'), Just(b'X'), Just(b'1'),
                    Just(0xEF), Just(0xBB), Just(0xBF), Just(0xC3), Just(0xA9),
                ],
                0..256,
            ),
            sizes in proptest::collection::vec(0usize..17, 1..8),
        ) {
            let mut bytes = header.as_bytes().to_vec();
            bytes.extend_from_slice(&body);
            let whole = validate(&bytes);
            if let Err(err) = &whole {
                let prefix = format!("line {}: ", err.line());
                let message = err.to_string();
                prop_assert!(message.starts_with(&prefix), "{}", message);
                prop_assert!(!message.contains('\n'), "{}", message);
            }
            prop_assert_eq!(validate_chunked(&bytes, &sizes), whole.clone());
            prop_assert_eq!(validate_chunked(&bytes, &[1]), whole);
        }

        #[test]
        fn valid_files_in_any_chunks(
            (bytes, expected) in valid_file(),
            sizes in proptest::collection::vec(0usize..64, 1..20),
        ) {
            let whole = validate(&bytes);
            prop_assert_eq!(&whole, &Ok(expected));
            prop_assert_eq!(validate_chunked(&bytes, &sizes), whole);
        }
    }
}
