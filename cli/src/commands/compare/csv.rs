//! `compare --csv FILE`: the table for scripts and spreadsheets, one CSV column per table
//! column: every key dimension (the row dimensions, then the fixed ones), one column per
//! table column with the cell as the table shows it but without thousands separators
//! (`1965000 E`, `c`, `-`), and `SPREAD` as a fraction when the columns are the owners.

use datapact_protocol::compare::{Comparison, OWNER};

use super::cells;

/// The CSV text of `c`.
pub fn table(c: &Comparison) -> String {
    let key_columns: Vec<&str> = c
        .row_dimensions
        .iter()
        .map(String::as_str)
        .chain(c.fixed.0.iter().map(|(d, _)| d.as_str()))
        .collect();
    let spread = c.column_dimension == OWNER;
    let mut header: Vec<String> = key_columns.iter().map(|k| (*k).to_owned()).collect();
    header.extend(c.columns.iter().cloned());
    if spread {
        header.push("SPREAD".to_owned());
    }
    let mut out = line(&header);
    for row in &c.rows {
        let mut fields: Vec<String> = key_columns
            .iter()
            .map(|k| row.key.get(k).cloned().unwrap_or_default())
            .collect();
        fields.extend(
            row.values
                .0
                .iter()
                .map(|(_, cell)| cells::text(cell, false)),
        );
        if spread {
            fields.push(row.spread.map(|s| format!("{s:.4}")).unwrap_or_default());
        }
        out.push_str(&line(&fields));
    }
    out
}

/// One CSV line, fields quoted where they need it.
fn line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|field| {
            if field.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", field.replace('"', "\"\""))
            } else {
                field.clone()
            }
        })
        .collect();
    format!("{}\n", quoted.join(","))
}
