//! Disclosure control on tables whose safe patterns are known by hand, its refusals, linked
//! releases, and the published SDMX-CSV form.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "disclosure_common/mod.rs"]
mod common;

use std::collections::BTreeMap;

use common::{AttackerView, table_with_totals};
use datapact_protocol::disclosure::sdmx_csv::{
    read_count_table, read_published, split_records, write_records,
};
use datapact_protocol::disclosure::{
    CellOutcome, CellValue, CountTable, DisclosureError, PublishedTable, protect,
};

fn key(codes: &[&str]) -> Vec<String> {
    codes.iter().map(|code| (*code).to_owned()).collect()
}

fn one_dimensional(counts: &[(&str, u64)]) -> CountTable {
    let mut table = CountTable::new(vec!["SEX".to_owned()]).unwrap();
    for (code, count) in counts {
        table.push(key(&[code]), CellValue::Count(*count)).unwrap();
    }
    table
}

fn outcome_of(table: &CountTable, outcomes: &[CellOutcome], codes: &[&str]) -> CellOutcome {
    outcomes[table.position(&key(codes)).unwrap()]
}

#[test]
fn one_dimension_suppresses_the_smallest_partner() {
    let table = one_dimensional(&[("A", 3), ("B", 7), ("C", 20), ("_T", 30)]);
    let protection = protect(&table, 5, &[]).unwrap();
    let outcomes = &protection.outcomes;
    assert_eq!(outcome_of(&table, outcomes, &["A"]), CellOutcome::Primary);
    assert_eq!(outcome_of(&table, outcomes, &["B"]), CellOutcome::Secondary);
    assert_eq!(outcome_of(&table, outcomes, &["C"]), CellOutcome::Published);
    assert_eq!(
        outcome_of(&table, outcomes, &["_T"]),
        CellOutcome::Published
    );
    let summary = protection.summary;
    assert_eq!((summary.primary, summary.secondary), (1, 1));
    assert_eq!(
        (summary.suppressed_cells, summary.suppressed_value),
        (2, 10)
    );
    assert_eq!(protection.proofs[0].lowest, 0);
    assert!(protection.proofs[0].highest_at_least >= 5);
}

#[test]
fn two_by_two_takes_the_cheapest_rectangle() {
    // Rows A, B; columns X, Y; A,X = 2 is primary at N = 5. Every safe pattern needs three more
    // cells; the interior rectangle is the one with the least total value (10 + 8 + 20).
    let table = table_with_totals(&[2, 2], &[2, 10, 8, 20], &[]);
    let protection = protect(&table, 5, &[]).unwrap();
    let suppressed: Vec<Vec<String>> = table
        .cells()
        .iter()
        .zip(&protection.outcomes)
        .filter(|(_, outcome)| outcome.is_suppressed())
        .map(|(cell, _)| cell.key.clone())
        .collect();
    let expected = [["C0", "C0"], ["C0", "C1"], ["C1", "C0"], ["C1", "C1"]];
    assert_eq!(suppressed, expected.map(|codes| key(&codes)).to_vec());
    assert_eq!(protection.summary.secondary, 3);
    assert_eq!(protection.summary.suppressed_value, 40);
}

#[test]
fn three_dimensions_need_a_whole_cube() {
    // In a 2x2x2 table with every total, the smallest change that keeps all relations touches
    // eight cells, so one primary cell needs exactly seven secondary cells.
    let interior = [3, 40, 50, 60, 70, 80, 90, 99];
    let table = table_with_totals(&[2, 2, 2], &interior, &[]);
    let protection = protect(&table, 5, &[]).unwrap();
    assert_eq!(protection.summary.primary, 1);
    assert_eq!(protection.summary.secondary, 7);
    let view = AttackerView::new(&[2, 2, 2], &table, Some(&protection));
    let primary = key(&["C0", "C0", "C0"]);
    assert!(view.admits(&primary, 0, 0));
    assert!(view.admits(&primary, 5, view.ceiling));
}

#[test]
fn a_small_total_whose_parts_are_smaller_still_is_protected() {
    // Row 0 adds up to 3 (primary at N = 5) from parts 1 and 2: no single box of cells can
    // take the total to 0, as each of its parts is below 3.
    let interior = [1, 2, 0, 10, 20, 30, 40, 50, 60];
    let table = table_with_totals(&[3, 3], &interior, &[]);
    let protection = protect(&table, 5, &[]).unwrap();
    assert_eq!(protection.summary.primary, 3);
    let view = AttackerView::new(&[3, 3], &table, Some(&protection));
    for cell in [["C0", "C0"], ["C0", "C1"], ["C0", "_T"]] {
        assert!(view.admits(&key(&cell), 0, 0), "{cell:?} told from 0");
        assert!(
            view.admits(&key(&cell), 5, view.ceiling),
            "{cell:?} told below 5"
        );
    }
}

/// The trap for the rule "every row and column with a suppressed cell has at least two":
/// two suppressed 2x2 rectangles joined by one suppressed cell.
#[test]
fn joined_rectangles_do_not_fool_the_check() {
    let sizes = [4, 4];
    #[rustfmt::skip]
    let interior = [
        10, 11, 1, 12,
        13, 14, 15, 16,
        17, 18, 19, 20,
        21, 22, 23, 24,
    ];
    let mut table = CountTable::new(vec!["D0".to_owned(), "D1".to_owned()]).unwrap();
    let rectangles = [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
        (2, 2),
        (2, 3),
        (3, 2),
        (3, 3),
    ];
    let dense = table_with_totals(&sizes, &interior, &[]);
    for cell in dense.cells() {
        let position = |code: &str| code.strip_prefix('C').and_then(|n| n.parse::<usize>().ok());
        let place = (position(&cell.key[0]), position(&cell.key[1]));
        let in_rectangle =
            matches!(place, (Some(row), Some(column)) if rectangles.contains(&(row, column)));
        let value = if in_rectangle {
            CellValue::Confidential(cell.value.count())
        } else {
            cell.value
        };
        table.push(cell.key.clone(), value).unwrap();
    }
    let join = key(&["C0", "C2"]);

    // As given (the rectangles confidential, the joining cell blank), every row and column
    // with a blank has at least two, yet the joining cell is exactly determined.
    let mut naive = table.clone();
    let naive_outcomes: Vec<bool> = naive
        .cells()
        .iter()
        .map(|cell| matches!(cell.value, CellValue::Confidential(_)) || cell.key == join)
        .collect();
    assert!(every_line_has_two(&naive, &naive_outcomes));
    naive = blank(&naive, &naive_outcomes);
    let naive_view = AttackerView::new(&sizes, &naive, None);
    assert_eq!(naive_view.interval(&join), (1, 1));

    // The release protects it.
    let protection = protect(&table, 3, &[]).unwrap();
    assert_eq!(
        outcome_of(&table, &protection.outcomes, &["C0", "C2"]),
        CellOutcome::Primary
    );
    assert!(protection.summary.secondary >= 1);
    let view = AttackerView::new(&sizes, &table, Some(&protection));
    assert!(
        view.admits(&join, 0, 0),
        "the joining cell can be told from zero"
    );
    assert!(
        view.admits(&join, 3, view.ceiling),
        "the joining cell can be told below 3"
    );
}

fn every_line_has_two(table: &CountTable, suppressed: &[bool]) -> bool {
    (0..2).all(|axis| {
        let mut per_line: BTreeMap<String, usize> = BTreeMap::new();
        for (cell, hidden) in table.cells().iter().zip(suppressed) {
            let line = cell.key[1 - axis].clone();
            *per_line.entry(line).or_default() += usize::from(*hidden);
        }
        per_line.values().all(|count| *count == 0 || *count >= 2)
    })
}

fn blank(table: &CountTable, suppressed: &[bool]) -> CountTable {
    let mut blanked = CountTable::new(table.dimensions().to_vec()).unwrap();
    for (cell, hidden) in table.cells().iter().zip(suppressed) {
        let value = if *hidden {
            CellValue::Missing
        } else {
            cell.value
        };
        blanked.push(cell.key.clone(), value).unwrap();
    }
    blanked
}

#[test]
fn a_hierarchy_makes_siblings_partners() {
    let mut table = CountTable::new(vec!["AREA".to_owned()]).unwrap();
    for (code, count) in [
        ("a", 2),
        ("b", 9),
        ("c", 30),
        ("d", 40),
        ("R1", 11),
        ("R2", 70),
        ("_T", 81),
    ] {
        table.push(key(&[code]), CellValue::Count(count)).unwrap();
    }
    let parents = [("a", "R1"), ("b", "R1"), ("c", "R2"), ("d", "R2")];
    let parents = parents
        .iter()
        .map(|(code, parent)| ((*code).to_owned(), (*parent).to_owned()));
    table.set_hierarchy("AREA", parents.collect()).unwrap();
    let protection = protect(&table, 5, &[]).unwrap();
    assert_eq!(
        outcome_of(&table, &protection.outcomes, &["b"]),
        CellOutcome::Secondary
    );
    assert_eq!(protection.summary.suppressed_cells, 2);
}

#[test]
fn a_hierarchy_that_contradicts_the_counts_is_refused() {
    let mut table = CountTable::new(vec!["AREA".to_owned()]).unwrap();
    for (code, count) in [("a", 2), ("b", 9), ("R1", 12), ("_T", 12)] {
        table.push(key(&[code]), CellValue::Count(count)).unwrap();
    }
    let parents = [
        ("a".to_owned(), "R1".to_owned()),
        ("b".to_owned(), "R1".to_owned()),
    ];
    table
        .set_hierarchy("AREA", parents.into_iter().collect())
        .unwrap();
    let refused = protect(&table, 5, &[]).unwrap_err();
    assert!(
        matches!(refused, DisclosureError::ContradictsTotals(_)),
        "{refused}"
    );
    assert!(
        refused
            .to_string()
            .contains("AREA=R1 is 12 but its parts add up to 11")
    );
}

#[test]
fn a_circular_hierarchy_is_refused() {
    let mut table = one_dimensional(&[("a", 2), ("b", 9)]);
    let parents = [
        ("a".to_owned(), "b".to_owned()),
        ("b".to_owned(), "a".to_owned()),
    ];
    table
        .set_hierarchy("SEX", parents.into_iter().collect())
        .unwrap();
    assert!(matches!(
        protect(&table, 5, &[]),
        Err(DisclosureError::HierarchyCycle { .. })
    ));
}

#[test]
fn a_total_alone_imposes_nothing_and_absent_rows_are_unknown() {
    // SEX has only _T: no relation. In row B the X cell is absent: unknown, not zero.
    let mut table = CountTable::new(vec!["ROW".to_owned(), "COL".to_owned()]).unwrap();
    for (row, column, count) in [
        ("A", "X", 3),
        ("A", "Y", 9),
        ("A", "_T", 12),
        ("B", "Y", 8),
        ("B", "_T", 20),
        ("_T", "X", 15),
        ("_T", "Y", 17),
        ("_T", "_T", 32),
    ] {
        table
            .push(key(&[row, column]), CellValue::Count(count))
            .unwrap();
    }
    let protection = protect(&table, 5, &[]).unwrap();
    assert_eq!(protection.summary.primary, 1);
    // A,X = 3 with B,X unknown: suppressing A,X alone leaves A,Y + A,X = 12 and
    // A,X + B,X = 15, so A,X is still exact; at least one partner is needed.
    assert!(protection.summary.secondary >= 1);

    let lone = one_dimensional(&[("_T", 3)]);
    let protection = protect(&lone, 5, &[]).unwrap();
    assert_eq!(
        (protection.summary.primary, protection.summary.secondary),
        (1, 0)
    );
}

#[test]
fn refusals() {
    let table = one_dimensional(&[("A", 3), ("B", 7), ("_T", 10)]);
    assert_eq!(
        protect(&table, 1, &[]).unwrap_err(),
        DisclosureError::ThresholdTooLow(1)
    );
    let wrong = one_dimensional(&[("A", 3), ("B", 7), ("_T", 11)]);
    let refused = protect(&wrong, 5, &[]).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the table contradicts its own totals: SEX=_T is 11 but its parts add up to 10"
    );
    let mut duplicate = one_dimensional(&[("A", 3)]);
    assert!(matches!(
        duplicate.push(key(&["A"]), CellValue::Count(4)),
        Err(DisclosureError::DuplicateCell { .. })
    ));
}

#[test]
fn an_earlier_version_that_published_the_cell_is_named() {
    let table = one_dimensional(&[("A", 3), ("B", 7), ("C", 20), ("_T", 30)]);
    let mut first = PublishedTable::new(1, vec!["SEX".to_owned()]).unwrap();
    first.push(key(&["A"]), Some(3)).unwrap();
    let refused = protect(&table, 5, &[first]).unwrap_err();
    assert_eq!(
        refused,
        DisclosureError::DisclosedByEarlierVersion {
            cell: "SEX=A".to_owned(),
            version: 1
        }
    );
}

#[test]
fn versions_that_disclose_only_together_name_the_later_one() {
    let table = one_dimensional(&[("A", 3), ("B", 7), ("C", 20), ("_T", 30)]);
    let mut first = PublishedTable::new(1, vec!["SEX".to_owned()]).unwrap();
    first.push(key(&["_T"]), Some(30)).unwrap();
    let mut second = PublishedTable::new(2, vec!["SEX".to_owned()]).unwrap();
    second.push(key(&["B"]), Some(7)).unwrap();
    second.push(key(&["C"]), Some(20)).unwrap();
    // Each alone leaves A undetermined; together they give A = 30 - 7 - 20.
    assert!(protect(&table, 5, std::slice::from_ref(&first)).is_ok());
    assert!(protect(&table, 5, std::slice::from_ref(&second)).is_ok());
    let refused = protect(&table, 5, &[second, first]).unwrap_err();
    assert_eq!(
        refused,
        DisclosureError::DisclosedByEarlierVersion {
            cell: "SEX=A".to_owned(),
            version: 2
        }
    );
}

#[test]
fn an_earlier_value_is_not_a_partner() {
    // Alone, the smallest partner of A is B; but version 1 published B, so suppressing it now
    // protects nothing: the release takes C instead.
    let table = one_dimensional(&[("A", 3), ("B", 7), ("C", 20), ("_T", 30)]);
    let alone = protect(&table, 5, &[]).unwrap();
    assert_eq!(
        outcome_of(&table, &alone.outcomes, &["B"]),
        CellOutcome::Secondary
    );
    let mut first = PublishedTable::new(1, vec!["SEX".to_owned()]).unwrap();
    first.push(key(&["A"]), None).unwrap();
    first.push(key(&["B"]), Some(7)).unwrap();
    let linked = protect(&table, 5, &[first]).unwrap();
    assert_eq!(
        outcome_of(&table, &linked.outcomes, &["B"]),
        CellOutcome::Published
    );
    assert_ne!(
        outcome_of(&table, &linked.outcomes, &["C"]),
        CellOutcome::Published
    );
    // A revised cell's old count is not knowledge about its new one.
    let mut revised = PublishedTable::new(1, vec!["SEX".to_owned()]).unwrap();
    revised.push(key(&["B"]), Some(6)).unwrap();
    let protection = protect(&table, 5, &[revised]).unwrap();
    assert_eq!(
        outcome_of(&table, &protection.outcomes, &["B"]),
        CellOutcome::Secondary
    );
}

const SAMPLE: &str = include_str!("../../cli/samples/trafficking_victims_tha_2017.csv");

#[test]
fn the_sample_is_published_with_conf_status_last() {
    let records = split_records(SAMPLE).unwrap();
    let read = read_count_table(&records[0], &records[1..], None).unwrap();
    assert_eq!(
        read.table.dimensions(),
        [
            "REF_AREA",
            "CITIZENSHIP",
            "EXPLOITATION",
            "SEX",
            "TIME_PERIOD"
        ]
    );
    let protection = protect(&read.table, 5, &[]).unwrap();
    let rows = read.protected_rows(&protection);
    let mut header = records[0].fields.clone();
    header.push("CONF_STATUS".to_owned());
    assert_eq!(rows[0], header);
    for ((row, record), outcome) in rows[1..]
        .iter()
        .zip(&records[1..])
        .zip(&protection.outcomes)
    {
        let (kept, status) = row.split_at(row.len() - 1);
        if outcome.is_suppressed() {
            assert_eq!(status, ["C"]);
            assert_eq!(kept[8], "");
        } else {
            assert_eq!(status, ["F"]);
            assert_eq!(kept, &record.fields[..]);
        }
    }
    // VNM,SEXUAL = 2 is small; the sample has 7 small counts.
    assert_eq!(protection.summary.primary, 7);
    let text = write_records(&rows);
    assert!(text.contains("THA,VNM,SEXUAL,_T,2017,,PS,C\n"));

    // The published table, read back, is what a later version must not be disclosed by.
    let published = split_records(&text).unwrap();
    let earlier = read_published(&published[0], &published[1..], None, 1).unwrap();
    assert_eq!(earlier, read.published(&protection, 1).unwrap());
    assert_eq!(
        protect(&read.table, 5, &[earlier]).unwrap().outcomes,
        protection.outcomes
    );
}

#[test]
fn an_existing_conf_status_stays_in_place_and_blanks_its_cells() {
    let text = "STRUCTURE,STRUCTURE_ID,ACTION,SEX: Sex,CONF_STATUS,OBS_VALUE: Value,UNIT\n\
                dataflow,X:Y(1.0),I,F,C,30,PS\n\
                dataflow,X:Y(1.0),I,M,,3,PS\n\
                dataflow,X:Y(1.0),I,O,F,50,PS\n\
                dataflow,X:Y(1.0),I,_T,F,83,PS\n";
    let records = split_records(text).unwrap();
    let read = read_count_table(&records[0], &records[1..], None).unwrap();
    assert_eq!(read.table.dimensions(), ["SEX"]);
    let protection = protect(&read.table, 5, &[]).unwrap();
    // M = 3 is primary; F, already confidential, is its partner at no further cost.
    assert_eq!(protection.outcomes[0], CellOutcome::AlreadyConfidential);
    assert_eq!(protection.outcomes[1], CellOutcome::Primary);
    assert_eq!(protection.summary.secondary, 0);
    assert_eq!(protection.summary.suppressed_cells, 2);
    assert_eq!(protection.summary.suppressed_value, 30 + 3);
    let rows = read.protected_rows(&protection);
    assert_eq!(rows[0], records[0].fields);
    assert_eq!(rows[1], ["dataflow", "X:Y(1.0)", "I", "F", "C", "", "PS"]);
    assert_eq!(rows[2], ["dataflow", "X:Y(1.0)", "I", "M", "C", "", "PS"]);
    assert_eq!(rows[3], ["dataflow", "X:Y(1.0)", "I", "O", "F", "50", "PS"]);
}

#[test]
fn bad_counts_are_refused_with_their_line() {
    let header = "STRUCTURE,STRUCTURE_ID,SEX,OBS_VALUE\n";
    for (value, expected) in [
        (
            "-3",
            "line 3: OBS_VALUE \"-3\" is negative; counts must be 0 or more",
        ),
        (
            "2.5",
            "line 3: OBS_VALUE \"2.5\" is not a whole number; counts must be integers",
        ),
        (
            "many",
            "line 3: OBS_VALUE \"many\" is not a whole number; counts must be integers",
        ),
    ] {
        let text = format!("{header}dataflow,X:Y(1.0),F,4\ndataflow,X:Y(1.0),M,{value}\n");
        let records = split_records(&text).unwrap();
        let refused = read_count_table(&records[0], &records[1..], None).unwrap_err();
        assert_eq!(refused.to_string(), expected);
    }
    let text = format!("{header}dataflow,X:Y(1.0),F,4.0\ndataflow,X:Y(1.0),M,\n");
    let records = split_records(&text).unwrap();
    let read = read_count_table(&records[0], &records[1..], None).unwrap();
    assert_eq!(read.table.cells()[0].value, CellValue::Count(4));
    assert_eq!(read.table.cells()[1].value, CellValue::Missing);
}

#[test]
fn the_splitter_follows_rfc_4180() {
    let records = split_records("\u{feff}A,B\r\n\"x,\"\"y\"\"\",\"two\nlines\"\nlast,row").unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[1].fields, ["x,\"y\"", "two\nlines"]);
    assert_eq!((records[1].line, records[2].line), (2, 4));
    let rows: Vec<Vec<String>> = records.iter().map(|record| record.fields.clone()).collect();
    assert_eq!(split_records(&write_records(&rows)).unwrap(), records);
    let refused = split_records("A,B\nx\"y,z\n").unwrap_err();
    assert_eq!(
        refused.to_string(),
        "line 2: a quote inside an unquoted field"
    );
    assert!(split_records("A\n\"open").is_err());
    let refused = split_records("A,B\n\"x\"y,z\n").unwrap_err();
    assert_eq!(
        refused.to_string(),
        "line 2: text after the closing quote of a field"
    );
}
