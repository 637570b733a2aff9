//! The chart of a large comparison (10 members, 30 keys) and of one over time: every member in
//! the legend in its colour, every key labelled, confidential cells marked, flags written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_protocol::compare::{Cell, Comparison, Ordered, Row};

use super::{PALETTE, svg};

/// Members THA, MMR, ... (10), keys K01..K30; every seventh cell confidential, every fifth
/// estimated, every eleventh not reported.
pub(super) fn large(time_columns: bool) -> Comparison {
    let members = [
        "AUS", "BGD", "IDN", "KHM", "LAO", "MMR", "MYS", "PHL", "THA", "VNM",
    ];
    let (columns, row_dimensions): (Vec<String>, Vec<String>) = if time_columns {
        (
            (2010..2020).map(|y| y.to_string()).collect(),
            vec!["OWNER".into(), "REF_AREA".into()],
        )
    } else {
        (
            members.iter().map(|m| (*m).to_owned()).collect(),
            vec!["REF_AREA".into()],
        )
    };
    let keys = if time_columns { 3 } else { 30 };
    let mut rows = Vec::new();
    let mut n = 0u32;
    let owners: &[&str] = if time_columns { &members } else { &["-"] };
    for owner in owners {
        for k in 0..keys {
            let mut key = vec![("REF_AREA".to_owned(), format!("K{:02}", k + 1))];
            if time_columns {
                key.insert(0, ("OWNER".to_owned(), (*owner).to_owned()));
            }
            let values = columns
                .iter()
                .map(|column| {
                    n += 1;
                    let cell = if n.is_multiple_of(11) {
                        Cell::default()
                    } else if n.is_multiple_of(7) {
                        Cell {
                            confidential: true,
                            ..Cell::default()
                        }
                    } else {
                        Cell {
                            value: Some(f64::from(1000 + (n * 7919) % 50_000)),
                            obs_status: n.is_multiple_of(5).then(|| "E".to_owned()),
                            confidential: false,
                        }
                    };
                    (column.clone(), cell)
                })
                .collect();
            rows.push(Row {
                key: Ordered(key),
                values: Ordered(values),
                spread: None,
            });
        }
    }
    Comparison {
        structure: "BPX:DF_MIG_STOCK(1.0.0)".into(),
        name: "International migrant stock".into(),
        column_dimension: if time_columns { "TIME_PERIOD" } else { "OWNER" }.into(),
        time_columns,
        columns,
        row_dimensions,
        fixed: Ordered(Vec::new()),
        rows,
        compared_keys: 0,
        largest: None,
        unit: Some("persons".into()),
        labels: Ordered(Vec::new()),
        methodology: Vec::new(),
        left_out: Vec::new(),
    }
}

fn text_element(svg: &str, text: &str) -> bool {
    svg.contains(&format!(">\n{text}\n</text>"))
}

fn colour_of(n: usize) -> String {
    let c = PALETTE[n];
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

#[test]
fn ten_members_and_thirty_keys_each_have_their_place() {
    let chart = svg(&large(false)).unwrap();
    for member in ["AUS", "MMR", "VNM"] {
        assert!(text_element(&chart, member), "{member} not in the legend");
    }
    for key in ["K01", "K15", "K30"] {
        assert!(text_element(&chart, key), "key {key} not labelled");
    }
    assert!(text_element(&chart, "International migrant stock"));
    assert!(text_element(&chart, "persons"));
    assert!(text_element(&chart, "c") && text_element(&chart, "E"));
    for n in 0..10 {
        assert!(chart.contains(&colour_of(n)), "colour of member {n} unused");
    }
}

#[test]
fn periods_as_columns_draw_a_line_per_row() {
    let chart = svg(&large(true)).unwrap();
    assert!(chart.contains("<polyline"));
    assert!(text_element(&chart, "2010") && text_element(&chart, "2019"));
    assert!(text_element(&chart, "THA"));
    assert!(text_element(&chart, "c"));
}

#[test]
fn an_empty_comparison_has_no_chart() {
    let mut empty = large(false);
    empty.rows.clear();
    assert!(svg(&empty).is_err());
}
