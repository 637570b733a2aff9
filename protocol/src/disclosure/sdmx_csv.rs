//! The published form: reading an SDMX-CSV table of counts and writing its protected version.
//!
//! The adapter works on records already split into fields (any SDMX-CSV reader can feed it);
//! [`split_records`] is a small RFC 4180 splitter for callers that hold the text. Reading takes
//! the dimension columns from the caller (the structure's dimension ids) or, without a
//! structure, takes every column before `OBS_VALUE` other than `STRUCTURE`, `STRUCTURE_ID`,
//! `ACTION`, `DATAFLOW`, `SERIES_KEY`, `OBS_KEY` and `CONF_STATUS`, as SDMX-CSV writes
//! dimensions first.
//!
//! Writing publishes every suppressed observation with an empty `OBS_VALUE` and CONF_STATUS
//! `C`, every other one unchanged with CONF_STATUS `F`. The `CONF_STATUS` column is added last
//! when absent; every other column keeps its place and its text.

use super::error::DisclosureError;
use super::linked::PublishedTable;
use super::protect::Protection;
use super::table::{CellValue, CountTable};

/// Most fields in one record.
pub const MAX_FIELDS: usize = 1024;
/// Longest field accepted, in bytes.
pub const MAX_FIELD_LEN: usize = 64 * 1024;
/// Most records (the header included) in one table.
pub const MAX_RECORDS: usize = super::table::MAX_TABLE_CELLS + 1;

/// The column of the observation's count.
const OBS_VALUE: &str = "OBS_VALUE";
/// The column of the observation's confidentiality status.
const CONF_STATUS: &str = "CONF_STATUS";
/// Columns of SDMX-CSV that are never dimensions.
const NOT_DIMENSIONS: [&str; 6] = [
    "STRUCTURE",
    "STRUCTURE_ID",
    "ACTION",
    "DATAFLOW",
    "SERIES_KEY",
    "OBS_KEY",
];
/// Values of OBS_VALUE that mean "no value".
const NO_VALUE: [&str; 3] = ["", "NaN", "#N/A"];

/// One record of a CSV file: its fields and the physical line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRecord {
    /// The physical line the record starts on (the header is line 1).
    pub line: u64,
    /// Its fields, unquoted.
    pub fields: Vec<String>,
}

/// Splits CSV text (RFC 4180: commas, double quotes, LF or CRLF) into records. Empty lines
/// at the end are ignored; an optional byte-order mark is skipped.
pub fn split_records(text: &str) -> Result<Vec<CsvRecord>, DisclosureError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut splitter = Splitter::default();
    let mut chars = text.chars().peekable();
    while let Some(next) = chars.next() {
        if splitter.quoted {
            match next {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    splitter.push_char('"')?;
                }
                '"' => {
                    splitter.quoted = false;
                    splitter.closed = true;
                }
                '\n' => {
                    splitter.line += 1;
                    splitter.push_char('\n')?;
                }
                other => splitter.push_char(other)?,
            }
            continue;
        }
        if splitter.closed && !matches!(next, ',' | '\n' | '\r') {
            return Err(splitter.error("text after the closing quote of a field"));
        }
        match next {
            '"' if splitter.field.is_empty() => splitter.quoted = true,
            '"' => return Err(splitter.error("a quote inside an unquoted field")),
            ',' => splitter.end_field()?,
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => return Err(splitter.error("a carriage return outside quotes")),
            '\n' => records.push(splitter.end_record(&records)?),
            other => splitter.push_char(other)?,
        }
    }
    if splitter.quoted {
        return Err(splitter.error("a quoted field is not closed"));
    }
    if !splitter.field.is_empty() || !splitter.fields.is_empty() {
        records.push(splitter.end_record(&records)?);
    }
    while records
        .last()
        .is_some_and(|record: &CsvRecord| record.fields.len() == 1 && record.fields[0].is_empty())
    {
        records.pop();
    }
    Ok(records)
}

/// The state of [`split_records`] between characters.
#[derive(Debug, Default)]
struct Splitter {
    /// The current physical line, 0-based.
    line: u64,
    /// The line the current record starts on, 0-based.
    record_line: u64,
    /// Inside a quoted field.
    quoted: bool,
    /// Just after the closing quote of a field, where only a separator may follow.
    closed: bool,
    /// The field being read.
    field: String,
    /// The fields of the record being read.
    fields: Vec<String>,
}

impl Splitter {
    fn push_char(&mut self, next: char) -> Result<(), DisclosureError> {
        if self.field.len() >= MAX_FIELD_LEN {
            return Err(self.error(&format!("a field longer than {MAX_FIELD_LEN} bytes")));
        }
        self.field.push(next);
        Ok(())
    }

    fn end_field(&mut self) -> Result<(), DisclosureError> {
        if self.fields.len() >= MAX_FIELDS {
            return Err(self.error(&format!("more than {MAX_FIELDS} fields")));
        }
        self.fields.push(std::mem::take(&mut self.field));
        self.closed = false;
        Ok(())
    }

    fn end_record(&mut self, records: &[CsvRecord]) -> Result<CsvRecord, DisclosureError> {
        if records.len() >= MAX_RECORDS {
            return Err(self.error(&format!("more than {MAX_RECORDS} records")));
        }
        self.end_field()?;
        let record = CsvRecord {
            line: self.record_line + 1,
            fields: std::mem::take(&mut self.fields),
        };
        self.line += 1;
        self.record_line = self.line;
        Ok(record)
    }

    fn error(&self, reason: &str) -> DisclosureError {
        DisclosureError::Csv {
            line: self.record_line + 1,
            reason: reason.to_owned(),
        }
    }
}

/// Writes records as CSV text (LF line ends), quoting fields that need it.
pub fn write_records(rows: &[Vec<String>]) -> String {
    let mut text = String::new();
    for row in rows {
        let fields: Vec<String> = row.iter().map(|field| quote(field)).collect();
        text.push_str(&fields.join(","));
        text.push('\n');
    }
    text
}

/// A field as CSV writes it.
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// An SDMX-CSV table read as a table of counts, with what is needed to write it back.
#[derive(Debug, Clone)]
pub struct SdmxCountTable {
    /// The counts, one observation per data record, in record order.
    pub table: CountTable,
    /// The header as written.
    header: Vec<String>,
    /// The data records as written.
    records: Vec<CsvRecord>,
    /// Position of `OBS_VALUE`.
    value_column: usize,
    /// Position of `CONF_STATUS`, when the file has it.
    status_column: Option<usize>,
}

/// The column id of a header field: the text before `: ` for a header written with labels.
fn column_id(field: &str) -> &str {
    field.split_once(':').map_or(field, |(id, _)| id).trim()
}

/// Reads an SDMX-CSV table of counts. `dimensions` are the dimension column ids (from the
/// structure), or `None` to take the columns before `OBS_VALUE`.
pub fn read_count_table(
    header: &CsvRecord,
    records: &[CsvRecord],
    dimensions: Option<&[String]>,
) -> Result<SdmxCountTable, DisclosureError> {
    let ids: Vec<&str> = header.fields.iter().map(|field| column_id(field)).collect();
    let find = |wanted: &str| ids.iter().position(|id| *id == wanted);
    let bad_header = |reason: String| DisclosureError::Csv {
        line: header.line,
        reason,
    };
    let value_column = find(OBS_VALUE).ok_or_else(|| bad_header("no OBS_VALUE column".into()))?;
    let status_column = find(CONF_STATUS);
    let dimension_columns: Vec<usize> = match dimensions {
        Some(dimensions) => dimensions
            .iter()
            .map(|dimension| {
                find(dimension).ok_or_else(|| bad_header(format!("no {dimension} column")))
            })
            .collect::<Result<_, _>>()?,
        None => (0..value_column)
            .filter(|column| !NOT_DIMENSIONS.contains(&ids[*column]) && ids[*column] != CONF_STATUS)
            .collect(),
    };
    let names = dimension_columns
        .iter()
        .map(|column| ids[*column].to_owned());
    let mut table = CountTable::new(names.collect())?;
    for record in records {
        if record.fields.len() != header.fields.len() {
            return Err(DisclosureError::Csv {
                line: record.line,
                reason: format!(
                    "expected {} fields, found {}",
                    header.fields.len(),
                    record.fields.len()
                ),
            });
        }
        let key = dimension_columns
            .iter()
            .map(|column| record.fields[*column].clone());
        let count = parse_count(record.line, &record.fields[value_column])?;
        let status = status_column.map(|column| record.fields[column].trim());
        let value = match (status, count) {
            (Some(status), count) if !status.is_empty() && status != "F" => {
                CellValue::Confidential(count)
            }
            (_, Some(count)) => CellValue::Count(count),
            (_, None) => CellValue::Missing,
        };
        table
            .push(key.collect(), value)
            .map_err(|error| match error {
                DisclosureError::BadKey { .. } => DisclosureError::Csv {
                    line: record.line,
                    reason: "an empty dimension code".to_owned(),
                },
                other => other,
            })?;
    }
    Ok(SdmxCountTable {
        table,
        header: header.fields.clone(),
        records: records.to_vec(),
        value_column,
        status_column,
    })
}

/// An OBS_VALUE as a count: `None` for no value; negative and fractional values refused.
fn parse_count(line: u64, written: &str) -> Result<Option<u64>, DisclosureError> {
    let text = written.trim();
    if NO_VALUE.contains(&text) {
        return Ok(None);
    }
    let (negative, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = magnitude.split_once('.').unwrap_or((magnitude, ""));
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    let value = || written.to_owned();
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(DisclosureError::NonIntegerCount {
            line,
            value: value(),
        });
    }
    let zero = |part: &str| part.bytes().all(|byte| byte == b'0');
    if negative && !(zero(whole) && zero(fraction)) {
        return Err(DisclosureError::NegativeCount {
            line,
            value: value(),
        });
    }
    if !zero(fraction) {
        return Err(DisclosureError::NonIntegerCount {
            line,
            value: value(),
        });
    }
    whole
        .parse()
        .map(Some)
        .map_err(|_| DisclosureError::CountTooLarge {
            cell: format!("on line {line}"),
            value: u64::MAX,
        })
}

impl SdmxCountTable {
    /// The protected table: header and data rows, ready for [`write_records`].
    pub fn protected_rows(&self, protection: &Protection) -> Vec<Vec<String>> {
        let mut header = self.header.clone();
        let status_column = self.status_column.unwrap_or_else(|| {
            header.push(CONF_STATUS.to_owned());
            header.len() - 1
        });
        let mut rows = vec![header];
        for (record, outcome) in self.records.iter().zip(&protection.outcomes) {
            let mut row = record.fields.clone();
            if self.status_column.is_none() {
                row.push(String::new());
            }
            if outcome.is_suppressed() {
                row[self.value_column] = String::new();
                row[status_column] = "C".to_owned();
            } else {
                row[status_column] = "F".to_owned();
            }
            rows.push(row);
        }
        rows
    }

    /// What this release publishes, for the linked check of later versions.
    pub fn published(
        &self,
        protection: &Protection,
        version: u64,
    ) -> Result<PublishedTable, DisclosureError> {
        protection.published(&self.table, version)
    }
}

/// Reads an earlier protected release (as published: suppressed cells empty) as what it told
/// everyone.
pub fn read_published(
    header: &CsvRecord,
    records: &[CsvRecord],
    dimensions: Option<&[String]>,
    version: u64,
) -> Result<PublishedTable, DisclosureError> {
    let read = read_count_table(header, records, dimensions)?;
    let mut published = PublishedTable::new(version, read.table.dimensions().to_vec())?;
    for cell in read.table.cells() {
        let count = match cell.value {
            CellValue::Count(count) => Some(count),
            CellValue::Missing | CellValue::Confidential(_) => None,
        };
        published.push(cell.key.clone(), count)?;
    }
    Ok(published)
}
