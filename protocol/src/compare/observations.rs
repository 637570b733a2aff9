//! Reading one dataset's SDMX-CSV content into the observations a comparison needs: the key
//! (a code per dimension), the value, OBS_STATUS and whether it is confidential (CONF_STATUS
//! other than `F`; absent or empty counts as `F`).
//!
//! Content arrives in chunks ([`DatasetReader::feed`]) and is read with the same record reader
//! as validation, so memory grows with the observations kept, never with the file. Codes are
//! interned once per comparison ([`Codes`]), so 46 members' copies of one codelist cost one
//! copy. Observations outside the `--filter` are dropped as they are read, and `ACTION` `D`
//! rows (deletions) are not observations.
//!
//! A dataset that cannot be read (not SDMX-CSV any more, a dimension column missing, a value
//! that is not a number) is left out of the comparison with the reason; it does not stop the
//! others.

use std::collections::{BTreeSet, HashMap};

use super::options::Plan;
use super::{MAX_OBSERVATIONS, MAX_UNITS_SHOWN};
use crate::sdmx::SdmxError;
use crate::sdmx::csv::{Record, RecordReader};
use crate::sdmx::model::Dsd;

/// Values of a measure that mean "no value".
const NO_VALUE: [&str; 3] = ["", "NaN", "#N/A"];
/// The CONF_STATUS code of free (publishable) observations.
const FREE: &str = "F";

/// Codes interned per dimension, shared by every dataset of a comparison.
#[derive(Debug, Default)]
pub struct Codes {
    /// One interner per structure dimension.
    pub dimensions: Vec<Interner>,
    /// OBS_STATUS codes.
    pub statuses: Interner,
}

impl Codes {
    /// Interners for `dimensions` dimensions.
    pub fn new(dimensions: usize) -> Self {
        Self {
            dimensions: (0..dimensions).map(|_| Interner::default()).collect(),
            statuses: Interner::default(),
        }
    }
}

/// Texts numbered in order of first sight.
#[derive(Debug, Default)]
pub struct Interner {
    /// Text to number.
    numbers: HashMap<String, u32>,
    /// Number to text.
    pub texts: Vec<String>,
}

impl Interner {
    /// The number of `text`, given one if new.
    pub fn intern(&mut self, text: &str) -> u32 {
        if let Some(&n) = self.numbers.get(text) {
            return n;
        }
        let n = u32::try_from(self.texts.len()).unwrap_or(u32::MAX);
        self.numbers.insert(text.to_owned(), n);
        self.texts.push(text.to_owned());
        n
    }

    /// The text numbered `n`.
    pub fn text(&self, n: u32) -> &str {
        usize::try_from(n)
            .ok()
            .and_then(|n| self.texts.get(n))
            .map_or("", String::as_str)
    }
}

/// What one observation says, besides its key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observed {
    /// The value, when given and not confidential.
    pub value: Option<f64>,
    /// Its OBS_STATUS, interned in [`Codes::statuses`].
    pub status: Option<u32>,
    /// CONF_STATUS other than `F`.
    pub confidential: bool,
}

/// The observations read from one dataset.
#[derive(Debug, Default)]
pub struct Observations {
    /// The keys, one code number per structure dimension, one observation after another.
    pub keys: Vec<u32>,
    /// What each observation says, in the order of `keys`.
    pub cells: Vec<Observed>,
    /// The UNIT_MEASURE codes seen (at most [`MAX_UNITS_SHOWN`]).
    pub units: BTreeSet<String>,
    /// The first and last time period seen.
    pub periods: Option<(String, String)>,
}

/// Where the columns the comparison reads are in one file.
#[derive(Debug)]
struct Layout {
    /// Per structure dimension, its column.
    dimensions: Vec<usize>,
    /// The measure's column, if present.
    value: Option<usize>,
    obs_status: Option<usize>,
    conf_status: Option<usize>,
    unit: Option<usize>,
    action: Option<usize>,
}

/// Why reading stopped early.
#[derive(Debug)]
enum Stop {
    /// The dataset cannot be compared: the reason.
    Unreadable(String),
    /// The comparison holds too many observations.
    TooMany,
}

impl From<SdmxError> for Stop {
    fn from(e: SdmxError) -> Self {
        Stop::Unreadable(format!("its content does not read as SDMX-CSV: {e}"))
    }
}

/// What reading one dataset came to.
#[derive(Debug)]
pub enum ReadOutcome {
    /// Its observations.
    Read(Observations),
    /// It cannot be compared, for this reason.
    Unreadable(String),
    /// The comparison would hold more than [`MAX_OBSERVATIONS`] observations.
    TooMany,
}

/// Reads one dataset's content, fed in chunks.
pub struct DatasetReader<'c> {
    plan: &'c Plan,
    /// The measure's column id.
    measure: &'c str,
    codes: &'c mut Codes,
    /// Observations kept so far by the whole comparison.
    kept: &'c mut usize,
    reader: RecordReader,
    layout: Option<Layout>,
    out: Observations,
    stop: Option<Stop>,
    /// The key of the record being read.
    key: Vec<u32>,
}

impl<'c> DatasetReader<'c> {
    pub(super) fn new(
        plan: &'c Plan,
        dsd: &'c Dsd,
        codes: &'c mut Codes,
        kept: &'c mut usize,
    ) -> Self {
        let measure = dsd
            .measures
            .first()
            .map_or("OBS_VALUE", |m| m.component.id.as_str());
        Self {
            plan,
            measure,
            codes,
            kept,
            reader: RecordReader::new(),
            layout: None,
            out: Observations::default(),
            stop: None,
            key: Vec::new(),
        }
    }

    /// Reads the next bytes of the content. Returns false once reading has stopped (the
    /// dataset cannot be compared, or the comparison is full): feed no more.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        if self.stop.is_some() {
            return false;
        }
        let Self { reader, .. } = self;
        let mut reader = std::mem::replace(reader, RecordReader::new());
        let result = reader.feed(bytes, &mut |record: &Record<'_>| self.record(record));
        self.reader = reader;
        if let Err(stop) = result {
            self.stop = Some(stop);
        }
        self.stop.is_none()
    }

    /// Ends the content.
    pub fn finish(mut self) -> ReadOutcome {
        if self.stop.is_none() {
            let mut reader = std::mem::replace(&mut self.reader, RecordReader::new());
            if let Err(stop) = reader.finish(&mut |record: &Record<'_>| self.record(record)) {
                self.stop = Some(stop);
            }
        }
        match self.stop {
            Some(Stop::TooMany) => ReadOutcome::TooMany,
            Some(Stop::Unreadable(why)) => ReadOutcome::Unreadable(why),
            None if self.layout.is_none() => {
                ReadOutcome::Unreadable("its content is empty".to_owned())
            }
            None => ReadOutcome::Read(self.out),
        }
    }

    fn record(&mut self, record: &Record<'_>) -> Result<(), Stop> {
        if record.count == 0 {
            return Ok(());
        }
        match &self.layout {
            None => {
                self.layout = Some(self.header(record)?);
                Ok(())
            }
            Some(_) => self.observation(record),
        }
    }

    /// Finds the columns the comparison reads.
    fn header(&self, record: &Record<'_>) -> Result<Layout, Stop> {
        let ids: Vec<&str> = record.fields().map(crate::sdmx::column_id).collect();
        let find = |name: &str| ids.iter().position(|id| *id == name);
        let mut dimensions = Vec::new();
        for name in self
            .plan
            .dimensions
            .iter()
            .take(self.plan.structure_dimensions())
        {
            let at = find(name)
                .ok_or_else(|| Stop::Unreadable(format!("its content has no column {name}")))?;
            dimensions.push(at);
        }
        Ok(Layout {
            dimensions,
            value: find(self.measure),
            obs_status: find("OBS_STATUS"),
            conf_status: find("CONF_STATUS"),
            unit: find("UNIT_MEASURE"),
            action: find("ACTION"),
        })
    }

    fn observation(&mut self, record: &Record<'_>) -> Result<(), Stop> {
        let Some(layout) = &self.layout else {
            return Ok(());
        };
        let field = |at: Option<usize>| at.and_then(|at| record.get(at)).unwrap_or("");
        if field(layout.action) == "D" {
            return Ok(());
        }
        self.key.clear();
        for (dimension, &at) in layout.dimensions.iter().enumerate() {
            let code = record.get(at).unwrap_or("");
            if let Some(Some(keep)) = self.plan.keep.get(dimension)
                && !keep.contains(code)
            {
                return Ok(());
            }
            let Some(interner) = self.codes.dimensions.get_mut(dimension) else {
                return Ok(());
            };
            self.key.push(interner.intern(code));
        }
        let confidential = !matches!(field(layout.conf_status), "" | FREE);
        let text = field(layout.value);
        let value = if confidential || NO_VALUE.contains(&text) {
            None
        } else {
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    return Err(Stop::Unreadable(format!(
                        "line {}: {} {:?} is not a number; compare shows numbers only",
                        record.line,
                        self.measure,
                        crate::sdmx::shown(text)
                    )));
                }
            }
        };
        let status = match field(layout.obs_status) {
            "" => None,
            code => Some(self.codes.statuses.intern(code)),
        };
        *self.kept = self.kept.saturating_add(1);
        if *self.kept > MAX_OBSERVATIONS {
            return Err(Stop::TooMany);
        }
        self.note_context(record, layout.unit);
        self.out.keys.extend_from_slice(&self.key);
        self.out.cells.push(Observed {
            value,
            status,
            confidential,
        });
        Ok(())
    }

    /// Remembers the unit and the time period of an observation, for its methodology.
    fn note_context(&mut self, record: &Record<'_>, unit: Option<usize>) {
        if let Some(unit) = unit.and_then(|at| record.get(at))
            && !unit.is_empty()
            && self.out.units.len() < MAX_UNITS_SHOWN
        {
            self.out.units.insert(unit.to_owned());
        }
        if !self.plan.has_time {
            return;
        }
        let time = self.plan.structure_dimensions().saturating_sub(1);
        let Some(&code) = self.key.get(time) else {
            return;
        };
        let Some(interner) = self.codes.dimensions.get(time) else {
            return;
        };
        let period = interner.text(code);
        match &mut self.out.periods {
            None => self.out.periods = Some((period.to_owned(), period.to_owned())),
            Some((first, last)) => {
                if period < first.as_str() {
                    *first = period.to_owned();
                }
                if period > last.as_str() {
                    *last = period.to_owned();
                }
            }
        }
    }
}
