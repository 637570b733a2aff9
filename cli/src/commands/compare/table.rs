//! The comparison as people read it on a terminal: a heading (the structure's name, the
//! dimensions that are the same in every row, the unit), the table (keys with their code
//! labels, `MMR  Myanmar`; member codes as headers; numbers right-aligned with thousands
//! separators and their flags; the spread), the closing line naming the largest disagreement,
//! the methodology side by side, and what was left out and why.
//!
//! A table wider than the terminal is cut into pages of columns, each repeating the key
//! columns, rather than wrapped into unreadable cells; long texts wrap within their column.

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use datapact_protocol::compare::{Comparison, Methodology, Row};

use super::cells;

/// Widest a column is counted as when cutting pages: longer texts wrap inside it.
const MAX_COUNTED_WIDTH: usize = 40;
/// What a column costs besides its text: padding and border.
const COLUMN_FRAME: usize = 3;

/// The whole report, for a terminal `width` characters wide.
pub fn render(c: &Comparison, width: usize) -> String {
    let mut out = String::new();
    out.push_str(&format!("{} ({})\n", c.name, c.structure));
    for (dimension, code) in &c.fixed.0 {
        out.push_str(&format!("{dimension}: {}\n", labelled(c, dimension, code)));
    }
    if let Some(unit) = &c.unit {
        out.push_str(&format!("unit: {unit}\n"));
    }
    if c.rows.is_empty() {
        out.push_str("\nno observations to compare\n");
    } else {
        out.push('\n');
        out.push_str(&values_table(c, width));
    }
    out.push_str(&closing_line(c));
    out.push('\n');
    if !c.methodology.is_empty() {
        out.push_str("\nMethodology\n");
        out.push_str(&methodology_table(&c.methodology, width));
    }
    if !c.left_out.is_empty() {
        out.push_str("\nLeft out\n");
        for left in &c.left_out {
            out.push_str(&format!("  {}: {}\n", left.dataset, left.reason));
        }
    }
    out
}

/// `code` with its name from the structure, when it has one: `MMR  Myanmar`.
fn labelled(c: &Comparison, dimension: &str, code: &str) -> String {
    match c
        .labels
        .get(dimension)
        .and_then(|labels| labels.codes.get(code))
    {
        Some(name) => format!("{code}  {name}"),
        None => code.to_owned(),
    }
}

fn values_table(c: &Comparison, width: usize) -> String {
    let keys: Vec<Vec<String>> = c
        .rows
        .iter()
        .map(|row| {
            c.row_dimensions
                .iter()
                .map(|d| labelled(c, d, row.key.get(d).map_or("", String::as_str)))
                .collect()
        })
        .collect();
    let mut headers = c.columns.clone();
    let mut values: Vec<Vec<String>> = c
        .rows
        .iter()
        .map(|row| {
            row.values
                .0
                .iter()
                .map(|(_, cell)| cells::text(cell, true))
                .collect()
        })
        .collect();
    if c.column_dimension == datapact_protocol::compare::OWNER {
        headers.push("SPREAD".to_owned());
        for (row, cells) in c.rows.iter().zip(values.iter_mut()) {
            cells.push(row.spread.map(cells::percent).unwrap_or_default());
        }
    }
    paged(
        &c.row_dimensions,
        &keys,
        &headers,
        &values,
        width,
        CellAlignment::Right,
    )
}

/// The last line: how many keys two or more owners report, and the largest disagreement.
pub fn closing_line(c: &Comparison) -> String {
    if c.column_dimension != datapact_protocol::compare::OWNER {
        return format!(
            "\nspreads are shown when the columns are the owners (now {})",
            c.column_dimension
        );
    }
    let Some(largest) = &c.largest else {
        return "\nno key is reported with a value by two or more members".to_owned();
    };
    let Some(row) = c.rows.get(largest.row) else {
        return String::new();
    };
    format!(
        "\n{} {} reported by two or more members; largest disagreement: {} {} ({})",
        c.compared_keys,
        if c.compared_keys == 1 { "key" } else { "keys" },
        key_text(c, row),
        cells::percent(largest.spread),
        row.values
            .0
            .iter()
            .filter(|(_, cell)| cell.comparable().is_some())
            .map(|(owner, cell)| format!("{owner} {}", cells::text(cell, true)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A row's key, as `REF_AREA=THA COUNTERPART_AREA=MMR`.
fn key_text(c: &Comparison, row: &Row) -> String {
    c.row_dimensions
        .iter()
        .filter_map(|d| Some(format!("{d}={}", row.key.get(d)?)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A dataset's protection at release, in words, or `-`.
fn protection(m: &Methodology) -> String {
    m.disclosure.as_ref().map_or_else(
        || "-".to_owned(),
        |d| {
            format!(
                "counts below {}, {} cells confidential",
                d.threshold, d.suppressed
            )
        },
    )
}

fn methodology_table(methodology: &[Methodology], width: usize) -> String {
    let fields = [
        "dataset",
        "title",
        "source",
        "unit",
        "period",
        "description",
        "licence",
        "structure",
        "protected",
    ];
    let keys: Vec<Vec<String>> = fields.iter().map(|f| vec![(*f).to_owned()]).collect();
    let headers: Vec<String> = methodology.iter().map(|m| m.owner.clone()).collect();
    let text = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_owned());
    let values: Vec<Vec<String>> = fields
        .iter()
        .map(|field| {
            methodology
                .iter()
                .map(|m| match *field {
                    "dataset" => m.dataset.clone(),
                    "title" => m.title.clone(),
                    "source" => text(&m.source),
                    "unit" => text(&m.unit),
                    "period" => text(&m.period),
                    "description" => text(&m.description),
                    "licence" => text(&m.licence),
                    "protected" => protection(m),
                    _ => m.structure.clone(),
                })
                .collect()
        })
        .collect();
    paged(
        &[String::new()],
        &keys,
        &headers,
        &values,
        width,
        CellAlignment::Left,
    )
}

/// Tables of the key columns and as many value columns as fit in `width`, page after page,
/// the value columns aligned as `align` says.
fn paged(
    key_headers: &[String],
    keys: &[Vec<String>],
    headers: &[String],
    values: &[Vec<String>],
    width: usize,
    align: CellAlignment,
) -> String {
    let key_width: usize = key_headers
        .iter()
        .enumerate()
        .map(|(i, h)| counted(h, keys.iter().filter_map(|k| k.get(i))))
        .sum();
    let mut pages: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    let mut used = key_width + 1;
    for (i, header) in headers.iter().enumerate() {
        let w = counted(header, values.iter().filter_map(|v| v.get(i)));
        if i > start && used + w > width {
            pages.push((start, i));
            start = i;
            used = key_width + 1;
        }
        used += w;
    }
    pages.push((start, headers.len()));
    let mut out = String::new();
    for (n, &(from, to)) in pages.iter().enumerate() {
        if pages.len() > 1 {
            out.push_str(&format!(
                "columns {}-{} of {} (page {} of {})\n",
                from + 1,
                to,
                headers.len(),
                n + 1,
                pages.len()
            ));
        }
        let columns = Columns {
            key_headers,
            keys,
            headers,
            values,
        };
        out.push_str(&page(&columns, (from, to), width, align));
        out.push('\n');
    }
    out
}

/// The width a column is counted as: its widest text (at most [`MAX_COUNTED_WIDTH`]) and its
/// frame.
fn counted<'a>(header: &'a str, column: impl Iterator<Item = &'a String>) -> usize {
    column
        .map(String::as_str)
        .chain(std::iter::once(header))
        .map(|text| text.chars().count().min(MAX_COUNTED_WIDTH))
        .max()
        .unwrap_or(0)
        + COLUMN_FRAME
}

/// What a table shows: key columns, then value columns.
struct Columns<'a> {
    key_headers: &'a [String],
    keys: &'a [Vec<String>],
    headers: &'a [String],
    values: &'a [Vec<String>],
}

/// One page: the key columns and the value columns `from..to`.
fn page(c: &Columns<'_>, (from, to): (usize, usize), width: usize, align: CellAlignment) -> String {
    let Columns {
        key_headers,
        keys,
        headers,
        values,
    } = c;
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(width).unwrap_or(u16::MAX));
    let mut header: Vec<String> = key_headers.to_vec();
    header.extend(headers.get(from..to).unwrap_or_default().iter().cloned());
    table.set_header(header);
    for (key, row) in keys.iter().zip(values.iter()) {
        let mut cells: Vec<String> = key.clone();
        cells.extend(row.get(from..to).unwrap_or_default().iter().cloned());
        table.add_row(cells);
    }
    for (i, column) in table.column_iter_mut().enumerate() {
        if i >= key_headers.len() {
            column.set_cell_alignment(align);
        }
    }
    table.to_string()
}
