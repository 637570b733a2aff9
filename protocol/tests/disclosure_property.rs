//! Property test of disclosure control: for random small tables (2-D and 3-D, totals on every
//! dimension, some with a two-level hierarchy, random small counts, some interior cells
//! absent), the released table never lets
//! an independent attacker (the exhaustive search in `common`, which shares no code with the
//! crate) rule out 0 or N for a primary cell, and never changes a published value; with an
//! earlier version, it protects against an attacker who also knows that version, or refuses
//! only a cell that version really discloses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "disclosure_common/mod.rs"]
mod common;

use common::{AttackerView, Axis, flat_axis, table_of, two_level_axis};
use datapact_protocol::disclosure::{
    CellOutcome, CellValue, DisclosureError, PublishedTable, is_primary, protect,
};
use proptest::prelude::*;

/// Table shapes small enough for the exhaustive attacker.
fn shape() -> impl Strategy<Value = Vec<Axis>> {
    let flat = |sizes: &[usize]| {
        sizes
            .iter()
            .map(|size| flat_axis(*size))
            .collect::<Vec<_>>()
    };
    prop_oneof![
        Just(flat(&[2, 2])),
        Just(flat(&[2, 3])),
        Just(flat(&[3, 3])),
        Just(flat(&[2, 2, 2])),
        Just(flat(&[3, 2, 2])),
        Just(vec![two_level_axis()]),
        Just(vec![two_level_axis(), flat_axis(2)]),
        Just(vec![two_level_axis(), flat_axis(2), flat_axis(2)]),
    ]
}

/// Axes, their leaf counts (many small), absent leaf positions, and a threshold.
type Case = (Vec<Axis>, Vec<u64>, Vec<usize>, u64);

/// A random [`Case`].
fn case() -> impl Strategy<Value = Case> {
    shape().prop_flat_map(|axes| {
        let cells: usize = axes.iter().map(|axis| axis.leaves).product();
        let count = prop_oneof![3 => 0u64..5, 2 => 5u64..25];
        (
            Just(axes),
            proptest::collection::vec(count, cells),
            proptest::collection::vec(0..cells, 0..2),
            2u64..6,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn released_tables_protect_every_small_count((axes, interior, absent, threshold) in case()) {
        let table = table_of(&axes, &interior, &absent);
        let protection = protect(&table, threshold, &[]).unwrap();
        let view = AttackerView::over(&axes, &table, Some(&protection));
        for (cell, outcome) in table.cells().iter().zip(&protection.outcomes) {
            let count = cell.value.count().unwrap();
            prop_assert_eq!(
                *outcome == CellOutcome::Primary,
                is_primary(count, threshold),
                "primary rule at {:?}", cell.key
            );
            if !outcome.is_suppressed() {
                prop_assert_eq!(cell.value, CellValue::Count(count));
                prop_assert_eq!(view.published[view.cells[&cell.key]], Some(count as i64));
            }
            if *outcome == CellOutcome::Primary {
                prop_assert!(view.admits(&cell.key, 0, 0), "{:?} told from 0", cell.key);
                prop_assert!(
                    view.admits(&cell.key, threshold as i64, view.ceiling),
                    "{:?} told below {}", cell.key, threshold
                );
            }
        }
        let summary = protection.summary;
        prop_assert_eq!(summary.suppressed_cells, summary.primary + summary.secondary);
    }
}

/// A table case plus the cells (positions in the table) an earlier version published.
fn linked_case() -> impl Strategy<Value = (Case, Vec<usize>)> {
    case().prop_flat_map(|case| {
        let cells: usize = case.0.iter().map(|axis| axis.codes.len()).product();
        (Just(case), proptest::collection::vec(0..cells, 0..4))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// With an earlier version that published some cells, the release either protects every
    /// small count against an attacker who also knows those values, or is refused naming a cell
    /// that those values disclose whatever this release suppresses.
    #[test]
    fn linked_releases_protect_or_refuse(((axes, interior, absent, threshold), shown) in linked_case()) {
        let table = table_of(&axes, &interior, &absent);
        let mut earlier = PublishedTable::new(1, table.dimensions().to_vec()).unwrap();
        let shown: Vec<usize> = shown.into_iter().filter(|cell| *cell < table.cells().len()).collect();
        for cell in &shown {
            let observation = &table.cells()[*cell];
            earlier.push(observation.key.clone(), observation.value.count()).unwrap();
        }
        let with_earlier = |view: &mut AttackerView| {
            for cell in &shown {
                let observation = &table.cells()[*cell];
                view.published[view.cells[&observation.key]] = observation.value.count().map(|count| count as i64);
            }
        };
        match protect(&table, threshold, &[earlier]) {
            Ok(protection) => {
                let mut view = AttackerView::over(&axes, &table, Some(&protection));
                with_earlier(&mut view);
                for (cell, outcome) in table.cells().iter().zip(&protection.outcomes) {
                    if *outcome == CellOutcome::Primary {
                        prop_assert!(view.admits(&cell.key, 0, 0), "{:?} told from 0", cell.key);
                        prop_assert!(view.admits(&cell.key, threshold as i64, view.ceiling));
                    }
                }
            }
            Err(DisclosureError::DisclosedByEarlierVersion { cell, version }) => {
                prop_assert_eq!(version, 1);
                let mut view = AttackerView::over(&axes, &table, None);
                view.published.iter_mut().for_each(|value| *value = None);
                with_earlier(&mut view);
                let named = table
                    .cells()
                    .iter()
                    .find(|observation| table.describe(&observation.key) == cell)
                    .unwrap();
                let free = view.admits(&named.key, 0, 0)
                    && view.admits(&named.key, threshold as i64, view.ceiling);
                prop_assert!(!free, "{} was refused but can be protected", cell);
            }
            Err(other) => prop_assert!(false, "unexpected refusal: {}", other),
        }
    }
}
