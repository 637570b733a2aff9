//! The checks of one data row against its structure (see [`super`] for the list).

use super::super::csv::Record;
use super::super::keys::{KeyDigest, KeyHasher, KeySet, KeySetFull};
use super::super::rules::{Role, Rule, ValueRule};
use super::super::shown;
use super::super::syntax::Header;
use super::{Checker, Layout, Output, Stop, too_many_keys, value_id, value_problem};

/// Rows whose keys are inserted into the key set together (see [`KeySet::touch`]).
const KEY_BATCH: usize = 32;

/// The duplicate check: keys of recent rows wait here and go into the key set in batches, so
/// that the memory of the set is read in parallel. Their errors are reported in line order all
/// the same ([`Output::error`] keeps errors sorted).
#[derive(Debug, Default)]
pub(super) struct KeyBatch {
    set: KeySet,
    hasher: KeyHasher,
    digests: Vec<KeyDigest>,
    /// Per waiting row: its line, and where its key ends in `keys`.
    rows: Vec<(u64, usize)>,
    /// The waiting keys as hashed: each value followed by [`KeyHasher::SEPARATOR`].
    keys: Vec<u8>,
    /// Whether the last value of a key is a time period.
    has_time: bool,
}

impl KeyBatch {
    /// Queues a row's key; inserts the batch when it is full.
    fn push<'k>(
        &mut self,
        out: &mut Output,
        line: u64,
        key: impl Iterator<Item = &'k str>,
        series_len: usize,
    ) -> Result<(), Stop> {
        let (digest, bytes) = self.hasher.digest(key, series_len);
        self.digests.push(digest);
        self.keys.extend_from_slice(bytes);
        self.rows.push((line, self.keys.len()));
        if self.digests.len() >= KEY_BATCH {
            self.flush(out)?;
        }
        Ok(())
    }

    /// Inserts every waiting key, reporting duplicates.
    pub(super) fn flush(&mut self, out: &mut Output) -> Result<(), Stop> {
        self.set.touch(&self.digests);
        let mut start = 0;
        let mut outcome = Ok(());
        for (&digest, &(line, end)) in self.digests.iter().zip(&self.rows) {
            let key = self.keys.get(start..end).unwrap_or_default();
            start = end;
            match self.set.insert(digest) {
                Ok(true) => {}
                Ok(false) => out.error(line, None, || duplicate(key, self.has_time)),
                Err(KeySetFull) => {
                    outcome = Err(out.fatal(line, None, too_many_keys));
                    break;
                }
            }
        }
        self.digests.clear();
        self.rows.clear();
        self.keys.clear();
        outcome
    }
}

/// The message for a duplicate key, from the key as hashed.
fn duplicate(key: &[u8], has_time: bool) -> String {
    let mut values: Vec<String> = key
        .split(|&b| b == KeyHasher::SEPARATOR)
        .map(|value| shown(&String::from_utf8_lossy(value)))
        .collect();
    values.pop(); // After the last separator.
    let time = match has_time {
        true => values.pop().map(|t| format!(" and time period {t}")),
        false => None,
    };
    format!(
        "series key {}{} already appear on an earlier row (expected each once)",
        values.join("."),
        time.unwrap_or_default()
    )
}

/// Actions whose rows must carry mandatory attributes and measures: `I` (the default, also
/// written as an empty `ACTION`) and `R`. `M`, `A` and `D` rows need not.
fn adds_data(action: &str) -> bool {
    matches!(action, "" | "I" | "R")
}

/// Values that stand for a missing measure.
fn is_missing_measure(value: &str) -> bool {
    matches!(value, "" | "NaN" | "#N/A")
}

/// The rows a component's value is needed on, for error messages.
fn expected_rows(role: Role) -> &'static str {
    match role {
        Role::Dimension | Role::Time => "every row but D rows",
        Role::Attribute | Role::Measure => "I and R rows",
    }
}

/// Whether a row with this action needs a value of this component.
fn needed(rule: &Rule, action: &str) -> bool {
    match rule.role {
        Role::Dimension | Role::Time => action != "D",
        Role::Attribute | Role::Measure => rule.mandatory && adds_data(action),
    }
}

impl Checker {
    pub(super) fn check_row(&mut self, record: &Record<'_>) -> Result<(), Stop> {
        let Checker {
            header: Some(header),
            layout: Some(layout),
            out,
            keys,
            labels,
            ..
        } = self
        else {
            return Err(Stop::Fatal);
        };
        let mut row = Row {
            record,
            header,
            layout,
            out,
            labels: *labels,
        };
        row.check(keys)
    }
}

/// One row being checked, with the parts of the checker it needs.
struct Row<'c, 'r> {
    record: &'c Record<'r>,
    header: &'c Header,
    layout: &'c mut Layout,
    out: &'c mut Output,
    /// Whether values may be written with labels (`F: Female`).
    labels: bool,
}

impl<'r> Row<'_, 'r> {
    fn check(&mut self, keys: &mut KeyBatch) -> Result<(), Stop> {
        let action = self.action();
        self.check_structure();
        let Layout {
            rules,
            columns,
            reported_missing,
            ..
        } = &mut *self.layout;
        let (record, line, labels) = (self.record, self.record.line, self.labels);
        let components = rules.components.iter().zip(columns.iter());
        for ((rule, column), reported) in components.zip(reported_missing.iter_mut()) {
            match column.and_then(|index| record.get(index)) {
                Some(value) => check_value(self.out, line, rule, value, action, labels),
                None => missing_column(self.out, line, rule, action, reported),
            }
        }
        self.check_key(keys)
    }

    /// The row's action; an invalid one is reported and read as `I`.
    fn action(&mut self) -> &'r str {
        let record: &Record<'r> = self.record;
        let action = self
            .header
            .action
            .and_then(|index| record.get(index))
            .unwrap_or_default();
        if matches!(action, "" | "I" | "A" | "M" | "R" | "D") {
            return action;
        }
        self.out.error(record.line, Some("ACTION"), || {
            format!(
                "{:?} is not an SDMX-CSV action (expected one of I, A, M, R, D)",
                shown(action)
            )
        });
        ""
    }

    /// Every row names the structure the first one did.
    fn check_structure(&mut self) {
        let (record, header, layout) = (self.record, self.header, &*self.layout);
        if let Some(kind) = header.structure_kind.and_then(|index| record.get(index))
            && kind != layout.rules.kind.as_str()
        {
            let expected = layout.rules.kind.as_str();
            self.out.error(record.line, Some("STRUCTURE"), || {
                format!(
                    "{:?} does not match the structure checked against (expected {expected})",
                    shown(kind)
                )
            });
        }
        let id = record.get(header.structure_id).unwrap_or_default();
        if id != layout.written_id {
            let column = header.ids.get(header.structure_id).map(String::as_str);
            let expected = &layout.written_id;
            self.out.error(record.line, column, || {
                format!(
                    "{:?} does not match the structure checked against (expected {expected})",
                    shown(id)
                )
            });
        }
    }

    /// No two rows share a series key and time period: queues the row's key.
    fn check_key(&mut self, keys: &mut KeyBatch) -> Result<(), Stop> {
        let (record, layout, labels) = (self.record, &*self.layout, self.labels);
        let key = |index: usize| -> &str {
            let raw = layout
                .columns
                .get(index)
                .copied()
                .flatten()
                .and_then(|c| record.get(c));
            let raw = raw.unwrap_or_default();
            match layout.rules.components.get(index).map(|rule| &rule.value) {
                Some(ValueRule::Coded(_)) => value_id(raw, labels),
                _ => raw,
            }
        };
        let key_len = layout.rules.key_len;
        let last = layout.rules.components.get(key_len.wrapping_sub(1));
        keys.has_time = last.is_some_and(|rule| rule.role == Role::Time);
        let series_len = key_len.saturating_sub(usize::from(keys.has_time));
        keys.push(self.out, record.line, (0..key_len).map(key), series_len)
    }
}

/// A component whose column the header lacks: reported once, at the first row needing it.
fn missing_column(out: &mut Output, line: u64, rule: &Rule, action: &str, reported: &mut bool) {
    if needed(rule, action) && !*reported {
        *reported = true;
        let (role, id) = (rule.role.name(), &rule.id);
        let rows = expected_rows(rule.role);
        out.error(line, Some(id), || {
            format!("{role} {id} has no column in the header (expected on {rows})")
        });
    }
}

fn check_value(out: &mut Output, line: u64, rule: &Rule, raw: &str, action: &str, labels: bool) {
    let coded = matches!(rule.value, ValueRule::Coded(_));
    let value = if coded { value_id(raw, labels) } else { raw };
    let absent = match rule.role {
        Role::Dimension | Role::Time | Role::Attribute => value.is_empty(),
        Role::Measure => is_missing_measure(value),
    };
    if absent {
        if needed(rule, action) {
            let (role, id) = (rule.role.name(), &rule.id);
            let qualifier = match rule.role {
                Role::Dimension | Role::Time => "",
                Role::Attribute | Role::Measure => "mandatory ",
            };
            let rows = expected_rows(rule.role);
            out.error(line, Some(id), || {
                format!("{qualifier}{role} {id} has no value (expected one on {rows})")
            });
        }
        return;
    }
    if let Some(problem) = value_problem(rule, value) {
        out.error(line, Some(&rule.id), || problem);
    }
}
