//! The checks of one data row against its structure (see [`super`] for the list).

use super::super::csv::Record;
use super::super::keys::KeySetFull;
use super::super::rules::{Role, Rule, ValueRule};
use super::super::shown;
use super::super::syntax::Header;
use super::{Checker, Layout, Stop, too_many_keys, value_id, value_problem};

/// Actions whose rows must carry mandatory attributes and measures: `I` (the default, also
/// written as an empty `ACTION`) and `R`. `M`, `A` and `D` rows need not.
fn adds_data(action: &str) -> bool {
    matches!(action, "" | "I" | "R")
}

/// Values that stand for a missing measure.
fn is_missing_measure(value: &str) -> bool {
    matches!(value, "" | "NaN" | "#N/A")
}

impl Checker {
    pub(super) fn check_row(&mut self, record: &Record<'_>) -> Result<(), Stop> {
        let (Some(header), Some(mut layout)) = (self.header.take(), self.layout.take()) else {
            return Err(Stop::Fatal);
        };
        let outcome = self.check_with(record, &header, &mut layout);
        self.header = Some(header);
        self.layout = Some(layout);
        outcome
    }

    fn check_with(
        &mut self,
        record: &Record<'_>,
        header: &Header,
        layout: &mut Layout,
    ) -> Result<(), Stop> {
        let line = record.line;
        let action = self.action(record, header);
        self.check_structure(record, header, layout);
        let Layout {
            rules,
            columns,
            reported_missing,
            ..
        } = layout;
        for ((rule, column), reported) in rules
            .components
            .iter()
            .zip(columns.iter())
            .zip(reported_missing.iter_mut())
        {
            match column.and_then(|index| record.get(index)) {
                Some(value) => self.check_value(line, rule, value, action),
                None => self.missing_column(line, rule, action, reported),
            }
        }
        self.check_key(record, layout)
    }

    /// The row's action; an invalid one is reported and read as `I`.
    fn action<'r>(&mut self, record: &Record<'r>, header: &Header) -> &'r str {
        let action = header
            .action
            .and_then(|index| record.get(index))
            .unwrap_or_default();
        if matches!(action, "" | "I" | "A" | "M" | "R" | "D") {
            return action;
        }
        self.error(record.line, Some("ACTION"), || {
            format!(
                "{:?} is not an SDMX-CSV action (expected one of I, A, M, R, D)",
                shown(action)
            )
        });
        ""
    }

    /// Every row names the structure the first one did.
    fn check_structure(&mut self, record: &Record<'_>, header: &Header, layout: &Layout) {
        let line = record.line;
        if let Some(kind) = header.structure_kind.and_then(|index| record.get(index))
            && kind != layout.rules.kind.as_str()
        {
            let expected = layout.rules.kind.as_str();
            self.error(line, Some("STRUCTURE"), || {
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
            self.error(line, column, || {
                format!(
                    "{:?} does not match the structure checked against (expected {expected})",
                    shown(id)
                )
            });
        }
    }

    /// A component whose column the header lacks: reported once, at the first row needing it.
    fn missing_column(&mut self, line: u64, rule: &Rule, action: &str, reported: &mut bool) {
        let needed = match rule.role {
            Role::Dimension | Role::Time => action != "D",
            Role::Attribute | Role::Measure => rule.mandatory && adds_data(action),
        };
        if needed && !*reported {
            *reported = true;
            let (role, id) = (rule.role.name(), &rule.id);
            let rows = if matches!(rule.role, Role::Dimension | Role::Time) {
                "every row but D rows"
            } else {
                "I and R rows"
            };
            self.error(line, Some(&rule.id), || {
                format!("{role} {id} has no column in the header (expected on {rows})")
            });
        }
    }

    fn check_value(&mut self, line: u64, rule: &Rule, raw: &str, action: &str) {
        let coded = matches!(rule.value, ValueRule::Coded(_));
        let value = if coded {
            value_id(raw, self.labels)
        } else {
            raw
        };
        let (role, id) = (rule.role.name(), &rule.id);
        let absent = match rule.role {
            Role::Dimension | Role::Time => value.is_empty(),
            Role::Attribute => value.is_empty(),
            Role::Measure => is_missing_measure(value),
        };
        if absent {
            let needed = match rule.role {
                Role::Dimension | Role::Time => action != "D",
                Role::Attribute | Role::Measure => rule.mandatory && adds_data(action),
            };
            if needed {
                let qualifier = if matches!(rule.role, Role::Dimension | Role::Time) {
                    ""
                } else {
                    "mandatory "
                };
                self.error(line, Some(id), || {
                    format!(
                        "{qualifier}{role} {id} has no value (expected one on {})",
                        expected_rows(rule.role)
                    )
                });
            }
            return;
        }
        if let Some(problem) = value_problem(rule, value) {
            self.error(line, Some(id), || problem);
        }
    }

    /// No two rows share a series key and time period.
    fn check_key(&mut self, record: &Record<'_>, layout: &Layout) -> Result<(), Stop> {
        let labels = self.labels;
        let key = |index: usize| -> &str {
            let rule = layout.rules.components.get(index);
            let raw = layout
                .columns
                .get(index)
                .copied()
                .flatten()
                .and_then(|c| record.get(c))
                .unwrap_or_default();
            match rule.map(|r| &r.value) {
                Some(ValueRule::Coded(_)) => value_id(raw, labels),
                _ => raw,
            }
        };
        let key_len = layout.rules.key_len;
        let digest = self.hasher.digest((0..key_len).map(key));
        match self.keys.insert(digest) {
            Ok(true) => Ok(()),
            Ok(false) => {
                let has_time = layout
                    .rules
                    .components
                    .get(key_len.wrapping_sub(1))
                    .is_some_and(|r| r.role == Role::Time);
                let series_len = if has_time {
                    key_len.saturating_sub(1)
                } else {
                    key_len
                };
                let series = (0..series_len).map(key).collect::<Vec<_>>().join(".");
                let time = if has_time {
                    format!(" and time period {}", shown(key(series_len)))
                } else {
                    String::new()
                };
                self.error(record.line, None, || {
                    format!(
                        "series key {}{time} already appear on an earlier row (expected each once)",
                        shown(&series)
                    )
                });
                Ok(())
            }
            Err(KeySetFull) => Err(self.fatal(record.line, None, too_many_keys)),
        }
    }
}

fn expected_rows(role: Role) -> &'static str {
    match role {
        Role::Dimension | Role::Time => "every row but D rows",
        Role::Attribute | Role::Measure => "I and R rows",
    }
}
