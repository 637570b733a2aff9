//! Disclosure control as people read it (docs/design.md section 10): `release --dry-run`, the
//! summary of what a protection suppressed, the line `catalog` and `datasets` print for a
//! protected dataset, and a protected table drawn as a grid in which suppressed cells read as
//! confidential, never as zero or as missing.

use std::collections::BTreeMap;
use std::process::ExitCode;

use datapact_node::api::{DisclosureInfo, ProtectionReport, ReleaseDryRun, ReleaseRequest};
use datapact_protocol::disclosure::sdmx_csv::split_records;

use crate::failure::bad_input;
use crate::output;
use crate::settings::Settings;

/// What a suppressed cell reads as in a grid.
pub const CONFIDENTIAL: &str = "C";
/// The legend under a grid that has suppressed cells.
pub const LEGEND: &str = "C = confidential: suppressed at release (a small count, or a cell that would give one away); not zero, not missing";

/// Refuses N < 2 before anything is sent, with the daemon's own words.
pub fn check_threshold(threshold: Option<u64>) -> anyhow::Result<()> {
    match threshold {
        Some(n) if n < 2 => Err(bad_input(format!(
            "--suppress-below must be at least 2, got {n}"
        ))),
        _ => Ok(()),
    }
}

/// `release FILE --suppress-below N --dry-run`: prints the protected table and what it
/// suppresses; stores nothing.
pub fn dry_run(
    settings: &Settings,
    release: ReleaseRequest,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let result = super::remote::call(settings, ReleaseDryRun { release })?;
    if let Some(note) = &result.note {
        eprintln!("note: {note}");
    }
    if json {
        output::json(&result)?;
    } else {
        output::lines(&result.table)?;
        output::lines(&format!(
            "\ndry run: nothing stored or announced\n{}",
            summary(&result.protection)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The owner's summary of a protection: the information lost and the primary cells.
pub fn summary(report: &ProtectionReport) -> String {
    let mut text = format!(
        "protected: counts below {}: {} primary, {} secondary{}; information lost: {} cells, total value {}",
        report.threshold,
        report.primary,
        report.secondary,
        if report.already_confidential > 0 {
            format!(", {} already confidential", report.already_confidential)
        } else {
            String::new()
        },
        report.suppressed_cells,
        report.suppressed_value,
    );
    for cell in &report.primary_cells {
        let key: Vec<String> = report
            .dimensions
            .iter()
            .filter_map(|d| Some(format!("{d}={}", cell.get(d)?)))
            .collect();
        text.push_str(&format!(
            "\n  primary (known only here): {}",
            key.join(", ")
        ));
    }
    text
}

/// The line `catalog` and `datasets` print under their table for a protected dataset.
pub fn listing_note(id: &str, disclosure: &DisclosureInfo) -> String {
    format!(
        "{id}: protected at release ({}, counts below {}): {} cells confidential (CONF_STATUS C), not zero",
        disclosure.rule, disclosure.threshold, disclosure.suppressed
    )
}

/// Prints, under a listing, one line per protected dataset.
pub fn print_listing_notes<'a>(
    entries: impl Iterator<Item = (&'a str, Option<&'a DisclosureInfo>)>,
) -> anyhow::Result<()> {
    let notes: Vec<String> = entries
        .filter_map(|(id, d)| d.map(|d| listing_note(id, d)))
        .collect();
    if notes.is_empty() {
        return Ok(());
    }
    output::lines(&format!("\n{}", notes.join("\n")))
}

/// Draws a protected SDMX-CSV table as a grid of `rows` by `columns` (two dimension ids),
/// each cell its OBS_VALUE, or [`CONFIDENTIAL`] when its CONF_STATUS says so.
pub fn grid(csv: &str, rows: &str, columns: &str) -> anyhow::Result<String> {
    let records = split_records(csv).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (header, data) = records
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("an empty table"))?;
    let find = |id: &str| {
        header
            .fields
            .iter()
            .position(|f| f == id)
            .ok_or_else(|| anyhow::anyhow!("the table has no {id} column"))
    };
    let (row_at, column_at, value_at) = (find(rows)?, find(columns)?, find("OBS_VALUE")?);
    let status_at = find("CONF_STATUS").ok();
    let mut row_codes: Vec<String> = Vec::new();
    let mut column_codes: Vec<String> = Vec::new();
    let mut cells: BTreeMap<(String, String), String> = BTreeMap::new();
    for record in data {
        let field = |at: usize| record.fields.get(at).cloned().unwrap_or_default();
        let (row, column) = (field(row_at), field(column_at));
        let confidential = status_at.is_some_and(|at| !matches!(field(at).as_str(), "" | "F"));
        let shown = if confidential {
            CONFIDENTIAL.to_owned()
        } else {
            field(value_at)
        };
        for (codes, code) in [(&mut row_codes, &row), (&mut column_codes, &column)] {
            if !codes.contains(code) {
                codes.push(code.clone());
            }
        }
        cells.insert((row, column), shown);
    }
    let mut table = vec![
        std::iter::once(rows.to_owned())
            .chain(column_codes.clone())
            .collect::<Vec<_>>(),
    ];
    for row in &row_codes {
        let mut line = vec![row.clone()];
        for column in &column_codes {
            let cell = cells.get(&(row.clone(), column.clone()));
            line.push(cell.cloned().unwrap_or_else(|| "-".to_owned()));
        }
        table.push(line);
    }
    Ok(align(&table))
}

/// Right-aligned columns (the first left-aligned), two spaces apart.
fn align(table: &[Vec<String>]) -> String {
    let columns = table.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            table
                .iter()
                .map(|r| r.get(c).map_or(0, |s| s.len()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in table {
        let mut line = String::new();
        for (c, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if c == 0 {
                line.push_str(&format!("{cell:<width$}"));
            } else {
                line.push_str(&format!("  {cell:>width$}"));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}
