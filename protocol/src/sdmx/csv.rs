//! The SDMX-CSV record reader: turns bytes, fed in chunks cut anywhere, into records of fields
//! (RFC 4180 quoting) with the physical line where each record starts.
//!
//! Both the syntax check ([`super::syntax`]) and the validation against a structure
//! ([`super::validate`]) read through it, so they agree on what a record is and on line numbers.
//! It holds one record at a time: at most [`MAX_RECORD_LEN`] bytes.
//!
//! * Text is UTF-8, optionally starting with a byte-order mark. Records end with LF or CRLF; a
//!   carriage return anywhere else outside quotes is refused. The last record may lack its line
//!   terminator.
//! * Fields are separated by commas. A field may be enclosed in double quotes, and then `""`
//!   stands for one quote while commas, CR and LF are literal, so one record may span several
//!   physical lines. A quote anywhere else in a field is refused.

use super::SdmxError;

/// Longest record (one row, without its line terminator) accepted, in bytes.
pub const MAX_RECORD_LEN: usize = 1 << 20;

/// Most columns accepted in the header; data records with more fields are counted, not kept.
pub const MAX_COLUMNS: usize = 1024;

/// Bytes that end a run of unquoted field content: comma, quote, CR, LF.
const ENDS_UNQUOTED: [bool; 256] = {
    let mut table = [false; 256];
    table[b',' as usize] = true;
    table[b'"' as usize] = true;
    table[b'\r' as usize] = true;
    table[b'\n' as usize] = true;
    table
};

/// What a byte means to [`RecordReader::plain_record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Content,
    Comma,
    LineFeed,
    CarriageReturn,
    Quote,
}

/// The class of every byte.
const PLAIN_CLASS: [Class; 256] = {
    let mut table = [Class::Content; 256];
    table[b',' as usize] = Class::Comma;
    table[b'\n' as usize] = Class::LineFeed;
    table[b'\r' as usize] = Class::CarriageReturn;
    table[b'"' as usize] = Class::Quote;
    table
};

/// Seven low bits of every byte of a word.
const LOW_SEVEN: u64 = 0x7F7F_7F7F_7F7F_7F7F;

/// A word with every byte `byte`.
const fn splat(byte: u8) -> u64 {
    0x0101_0101_0101_0101 * byte as u64
}

/// The top bit of every byte of `x` that is zero, exactly (no borrow between bytes).
fn zero_bytes(x: u64) -> u64 {
    !(((x & LOW_SEVEN).wrapping_add(LOW_SEVEN)) | x | LOW_SEVEN)
}

/// For 8 bytes, the top bit of each that is a comma, line feed, carriage return or quote (for
/// another length, all bits: the caller then looks at each byte).
fn special_bytes(bytes: &[u8]) -> u64 {
    let Ok(bytes) = <[u8; 8]>::try_from(bytes) else {
        return u64::MAX;
    };
    let word = u64::from_le_bytes(bytes);
    zero_bytes(word ^ splat(b','))
        | zero_bytes(word ^ splat(b'\n'))
        | zero_bytes(word ^ splat(b'\r'))
        | zero_bytes(word ^ splat(b'"'))
}

/// The UTF-8 byte-order mark.
pub(crate) const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// One record: its fields, all valid UTF-8.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    /// Physical line (1-based) where the record starts.
    pub line: u64,
    /// Physical line where the record ends.
    pub end_line: u64,
    /// The fields' text, concatenated.
    text: &'a str,
    /// End offset in `text` of each kept field.
    ends: &'a [usize],
    /// Bytes between one field's end and the next one's start: 1 (the comma) when `text` is
    /// the record as written, 0 when it holds the fields' content only.
    gap: usize,
    /// Number of fields in the record, kept or not (0 for an empty line).
    pub count: usize,
}

impl<'a> Record<'a> {
    /// The field at `index` (0-based), if the record has it.
    pub fn get(&self, index: usize) -> Option<&'a str> {
        let end = *self.ends.get(index)?;
        let start = match index.checked_sub(1) {
            Some(previous) => self.ends.get(previous)?.saturating_add(self.gap),
            None => 0,
        };
        self.text.get(start..end)
    }

    /// The kept fields, in order.
    pub fn fields(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.ends.len()).filter_map(|index| self.get(index))
    }
}

/// Where the reader is within a record.
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

/// Incremental record reader. After an error its state is unspecified: callers stop feeding.
#[derive(Debug, Clone)]
pub(crate) struct RecordReader {
    /// Bytes of a possible BOM matched so far; `None` once past it.
    bom: Option<usize>,
    state: State,
    /// Physical line of the next byte.
    line: u64,
    /// Physical line where the current record starts.
    record_line: u64,
    /// Bytes of the current record so far, quotes included, line terminator excluded.
    record_len: usize,
    /// Content of the current record's kept fields, quotes removed.
    buf: Vec<u8>,
    /// End offset in `buf` of each kept field of the current record.
    ends: Vec<usize>,
    /// Fields of the current record completed so far.
    count: usize,
    /// Whether a record has been completed (the header is the first).
    past_header: bool,
}

impl RecordReader {
    /// A reader expecting the first byte of a file.
    pub fn new() -> Self {
        Self {
            bom: Some(0),
            state: State::FieldStart,
            line: 1,
            record_line: 1,
            record_len: 0,
            buf: Vec::new(),
            ends: Vec::new(),
            count: 0,
            past_header: false,
        }
    }

    /// Reads the next bytes, handing every completed record to `sink`.
    pub fn feed<E, F>(&mut self, mut input: &[u8], sink: &mut F) -> Result<(), E>
    where
        E: From<SdmxError>,
        F: FnMut(&Record<'_>) -> Result<(), E>,
    {
        while let Some(matched) = self.bom {
            let Some((&byte, rest)) = input.split_first() else {
                return Ok(());
            };
            if BOM.get(matched) == Some(&byte) {
                input = rest;
                let matched = matched.saturating_add(1);
                self.bom = (matched < BOM.len()).then_some(matched);
            } else {
                // Not a BOM after all: the bytes held back are content.
                self.bom = None;
                self.parse(BOM.get(..matched).unwrap_or_default(), sink)?;
            }
        }
        self.parse(input, sink)
    }

    /// Ends the input: completes the last record, if any.
    pub fn finish<E, F>(&mut self, sink: &mut F) -> Result<(), E>
    where
        E: From<SdmxError>,
        F: FnMut(&Record<'_>) -> Result<(), E>,
    {
        if let Some(matched) = self.bom.take() {
            self.parse(BOM.get(..matched).unwrap_or_default(), sink)?;
        }
        let line = self.record_line;
        match self.state {
            State::Quoted => Err(SdmxError::UnterminatedQuote { line }.into()),
            State::Cr => Err(SdmxError::BareCarriageReturn { line }.into()),
            State::FieldStart | State::Unquoted | State::QuoteInQuoted if self.record_len > 0 => {
                self.end_record(sink)
            }
            State::FieldStart | State::Unquoted | State::QuoteInQuoted => Ok(()),
        }
    }

    fn parse<E, F>(&mut self, mut input: &[u8], sink: &mut F) -> Result<(), E>
    where
        E: From<SdmxError>,
        F: FnMut(&Record<'_>) -> Result<(), E>,
    {
        while let Some(&first) = input.first() {
            if self.state == State::FieldStart && self.record_len == 0 {
                // At the start of a record: most records are plain lines read at once.
                if let Some(rest) = self.plain_record(input, sink)? {
                    input = rest;
                    continue;
                }
            }
            // A plain byte at the start of a field starts an unquoted field: take it in the run.
            if self.state == State::FieldStart && !ENDS_UNQUOTED[usize::from(first)] {
                self.state = State::Unquoted;
            }
            // Fast path: take a run of plain content bytes at once.
            let run = match self.state {
                State::Unquoted => input
                    .iter()
                    .position(|&b| ENDS_UNQUOTED[usize::from(b)])
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
            self.step(byte, sink)?;
        }
        Ok(())
    }

    /// Reads a whole record without copying it when the input holds all of it and it is a plain
    /// line: no quote, no carriage return but one before the line feed, not too long. Returns
    /// the input after it, or `None` (nothing consumed) to read it byte by byte instead.
    fn plain_record<'i, E, F>(
        &mut self,
        input: &'i [u8],
        sink: &mut F,
    ) -> Result<Option<&'i [u8]>, E>
    where
        E: From<SdmxError>,
        F: FnMut(&Record<'_>) -> Result<(), E>,
    {
        // One pass: field ends at commas, up to the line feed; give up at a quote, a carriage
        // return not before the line feed, or a record too long.
        self.ends.clear();
        let mut count = 0usize;
        let mut at = 0usize;
        let (line_len, rest_at) = loop {
            // Eight bytes at a time to the next byte that matters.
            if let Some(word) = input.get(at..at.saturating_add(8)) {
                let mask = special_bytes(word);
                if mask == 0 {
                    at = at.saturating_add(8);
                    if at > MAX_RECORD_LEN {
                        return Ok(self.give_up());
                    }
                    continue;
                }
                at = at.saturating_add(usize::try_from(mask.trailing_zeros() / 8).unwrap_or(0));
            }
            let Some(&byte) = input.get(at) else {
                return Ok(self.give_up());
            };
            match PLAIN_CLASS[usize::from(byte)] {
                Class::Content => {}
                Class::Comma => {
                    self.keep_end(at)?;
                    count = count.saturating_add(1);
                }
                Class::LineFeed => break (at, at.saturating_add(1)),
                Class::CarriageReturn if input.get(at.saturating_add(1)) == Some(&b'\n') => {
                    break (at, at.saturating_add(2));
                }
                Class::CarriageReturn | Class::Quote => return Ok(self.give_up()),
            }
            at = at.saturating_add(1);
            if at > MAX_RECORD_LEN {
                return Ok(self.give_up());
            }
        };
        let line = input.get(..line_len).unwrap_or_default();
        let rest = input.get(rest_at..).unwrap_or_default();
        if !line.is_empty() {
            self.keep_end(line.len())?;
            count = count.saturating_add(1);
        }
        let record_line = self.record_line;
        let text =
            std::str::from_utf8(line).map_err(|_| SdmxError::InvalidUtf8 { line: record_line })?;
        let record = Record {
            line: record_line,
            end_line: record_line,
            text,
            ends: &self.ends,
            gap: 1,
            count,
        };
        sink(&record)?;
        self.ends.clear();
        self.past_header = true;
        self.line = self.line.saturating_add(1);
        self.record_line = self.line;
        Ok(Some(rest))
    }

    /// Leaves a record to the byte-by-byte reader.
    fn give_up<T>(&mut self) -> Option<T> {
        self.ends.clear();
        None
    }

    /// Keeps the end of one more field of a plain record (see [`Self::end_field`]).
    fn keep_end(&mut self, end: usize) -> Result<(), SdmxError> {
        if self.ends.len() < MAX_COLUMNS {
            self.ends.push(end);
            Ok(())
        } else if !self.past_header {
            Err(SdmxError::TooManyColumns {
                line: self.record_line,
                max: MAX_COLUMNS,
            })
        } else {
            Ok(())
        }
    }

    /// Handles one structural byte (or one content byte at the start of a field).
    fn step<E, F>(&mut self, byte: u8, sink: &mut F) -> Result<(), E>
    where
        E: From<SdmxError>,
        F: FnMut(&Record<'_>) -> Result<(), E>,
    {
        use State::*;
        let line = self.record_line;
        match (self.state, byte) {
            (Cr | FieldStart | Unquoted | QuoteInQuoted, b'\n') => {
                self.end_record(sink)?;
                self.line = self.line.saturating_add(1);
                self.record_line = self.line;
            }
            (Cr, _) => return Err(SdmxError::BareCarriageReturn { line }.into()),
            (FieldStart | Unquoted | QuoteInQuoted, b'\r') => self.state = Cr,
            (FieldStart | Unquoted | QuoteInQuoted, b',') => {
                self.count_bytes(1)?;
                self.end_field()?;
                self.state = FieldStart;
            }
            (FieldStart, b'"') => {
                self.count_bytes(1)?;
                self.state = Quoted;
            }
            (Quoted, b'"') => {
                self.count_bytes(1)?;
                self.state = QuoteInQuoted;
            }
            (QuoteInQuoted, b'"') => {
                // `""` inside quotes: one literal quote.
                self.content(b"\"")?;
                self.state = Quoted;
            }
            (Unquoted, b'"') | (QuoteInQuoted, _) => {
                return Err(SdmxError::StrayQuote { line }.into());
            }
            (FieldStart | Unquoted, _) => {
                self.content(&[byte])?;
                self.state = Unquoted;
            }
            (Quoted, _) => self.content(&[byte])?,
        }
        Ok(())
    }

    /// Counts `n` bytes of the current record against [`MAX_RECORD_LEN`].
    fn count_bytes(&mut self, n: usize) -> Result<(), SdmxError> {
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
        self.count_bytes(bytes.len())?;
        if self.state == State::Quoted {
            let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
            self.line = self
                .line
                .saturating_add(u64::try_from(newlines).unwrap_or(u64::MAX));
        }
        if self.ends.len() < MAX_COLUMNS {
            self.buf.extend_from_slice(bytes);
        }
        Ok(())
    }

    /// Ends the current field.
    fn end_field(&mut self) -> Result<(), SdmxError> {
        if self.ends.len() < MAX_COLUMNS {
            self.ends.push(self.buf.len());
        } else if !self.past_header {
            return Err(SdmxError::TooManyColumns {
                line: self.record_line,
                max: MAX_COLUMNS,
            });
        }
        self.count = self.count.saturating_add(1);
        Ok(())
    }

    /// Ends the current record (its last field included), hands it over and resets.
    fn end_record<E, F>(&mut self, sink: &mut F) -> Result<(), E>
    where
        E: From<SdmxError>,
        F: FnMut(&Record<'_>) -> Result<(), E>,
    {
        // An empty line is a record of no fields; otherwise the last field ends here.
        if self.record_len > 0 {
            self.end_field()?;
        }
        let line = self.record_line;
        let text = std::str::from_utf8(&self.buf).map_err(|_| SdmxError::InvalidUtf8 { line })?;
        // A character cut by a field boundary is invalid in both fields.
        if !self.ends.iter().all(|&end| text.is_char_boundary(end)) {
            return Err(SdmxError::InvalidUtf8 { line }.into());
        }
        let record = Record {
            line,
            end_line: self.line,
            text,
            ends: &self.ends,
            gap: 0,
            count: self.count,
        };
        sink(&record)?;
        self.past_header = true;
        self.state = State::FieldStart;
        self.record_len = 0;
        self.count = 0;
        self.buf.clear();
        self.ends.clear();
        Ok(())
    }
}
