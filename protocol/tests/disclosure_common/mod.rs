//! Shared test support for disclosure control: building tables, and an attacker written
//! independently of the crate's code path (bounds propagation and exhaustive branching over
//! small integer domains) that decides whether a published table lets a cell be 0 or N.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use datapact_protocol::disclosure::{CellValue, CountTable, Protection, TOTAL_CODE};

/// One dimension of a test table: its codes (the leaves first), which leaves each code covers,
/// and its relations, written here independently of the crate.
#[derive(Clone, Debug)]
pub struct Axis {
    /// Codes, leaves first.
    pub codes: Vec<String>,
    /// Number of leaf codes (the first ones).
    pub leaves: usize,
    /// For each code, the leaves it covers.
    pub covers: Vec<Vec<usize>>,
    /// Each relation: (total code, part codes).
    pub sums: Vec<(usize, Vec<usize>)>,
    /// Code to parent, for the codes that have one other than `_T`.
    pub parents: BTreeMap<String, String>,
}

/// `C0 .. C<size-1>` and `_T`, their sum.
pub fn flat_axis(size: usize) -> Axis {
    let mut codes: Vec<String> = (0..size).map(|code| format!("C{code}")).collect();
    codes.push(TOTAL_CODE.to_owned());
    let mut covers: Vec<Vec<usize>> = (0..size).map(|leaf| vec![leaf]).collect();
    covers.push((0..size).collect());
    Axis {
        codes,
        leaves: size,
        covers,
        sums: vec![(size, (0..size).collect())],
        parents: BTreeMap::new(),
    }
}

/// Leaves `a b` under `R1`, `c d` under `R2`, and `_T` = `R1 + R2`.
pub fn two_level_axis() -> Axis {
    let codes = ["a", "b", "c", "d", "R1", "R2", TOTAL_CODE]
        .map(str::to_owned)
        .to_vec();
    let covers = vec![
        vec![0],
        vec![1],
        vec![2],
        vec![3],
        vec![0, 1],
        vec![2, 3],
        vec![0, 1, 2, 3],
    ];
    let parents = [("a", "R1"), ("b", "R1"), ("c", "R2"), ("d", "R2")]
        .map(|(code, parent)| (code.to_owned(), parent.to_owned()));
    Axis {
        codes,
        leaves: 4,
        covers,
        sums: vec![(4, vec![0, 1]), (5, vec![2, 3]), (6, vec![4, 5])],
        parents: parents.into_iter().collect(),
    }
}

/// A dense table with `_T` totals on every dimension, given by its interior counts over
/// `sizes` codes per dimension (row-major); `absent` interior positions are left out.
pub fn table_with_totals(sizes: &[usize], interior: &[u64], absent: &[usize]) -> CountTable {
    let axes: Vec<Axis> = sizes.iter().map(|size| flat_axis(*size)).collect();
    table_of(&axes, interior, absent)
}

/// A table over `axes`, given by its counts on the leaves (row-major), every aggregate
/// computed; `absent` leaf positions are left out. Hierarchies are declared to the table.
pub fn table_of(axes: &[Axis], interior: &[u64], absent: &[usize]) -> CountTable {
    let dimensions = (0..axes.len()).map(|axis| format!("D{axis}")).collect();
    let mut table = CountTable::new(dimensions).unwrap();
    let limits: Vec<usize> = axes.iter().map(|axis| axis.codes.len()).collect();
    let leaf_limits: Vec<usize> = axes.iter().map(|axis| axis.leaves).collect();
    for coordinates in all_coordinates(&limits) {
        let leaf_only = coordinates
            .iter()
            .zip(axes)
            .all(|(code, axis)| *code < axis.leaves);
        if leaf_only && absent.contains(&position(&leaf_limits, &coordinates)) {
            continue;
        }
        let sum: u64 = all_coordinates(&leaf_limits)
            .into_iter()
            .filter(|leaf| {
                leaf.iter()
                    .zip(&coordinates)
                    .zip(axes)
                    .all(|((leaf, code), axis)| axis.covers[*code].contains(leaf))
            })
            .map(|leaf| interior[position(&leaf_limits, &leaf)])
            .sum();
        table
            .push(key_of(axes, &coordinates), CellValue::Count(sum))
            .unwrap();
    }
    for (position, axis) in axes.iter().enumerate() {
        if !axis.parents.is_empty() {
            table
                .set_hierarchy(&format!("D{position}"), axis.parents.clone())
                .unwrap();
        }
    }
    table
}

/// The codes of a cell.
pub fn key_of(axes: &[Axis], coordinates: &[usize]) -> Vec<String> {
    coordinates
        .iter()
        .zip(axes)
        .map(|(code, axis)| axis.codes[*code].clone())
        .collect()
}

/// Every coordinate vector with `coordinate[i] < limits[i]`, row-major.
pub fn all_coordinates(limits: &[usize]) -> Vec<Vec<usize>> {
    let mut all = vec![Vec::new()];
    for limit in limits {
        all = all
            .into_iter()
            .flat_map(|prefix| {
                (0..*limit).map(move |code| {
                    let mut next = prefix.clone();
                    next.push(code);
                    next
                })
            })
            .collect();
    }
    all
}

fn position(limits: &[usize], coordinates: &[usize]) -> usize {
    coordinates
        .iter()
        .zip(limits)
        .fold(0, |position, (code, limit)| position * limit + code)
}

/// What an attacker sees of a table over `axes`: every cell of the full grid, its published
/// count or `None` (suppressed or absent), and the relations of every axis at every
/// combination of the others.
pub struct AttackerView {
    /// Cell key to position.
    pub cells: BTreeMap<Vec<String>, usize>,
    /// Published counts, `None` for unknown.
    pub published: Vec<Option<i64>>,
    /// Each relation as (+1 total, -1 parts) terms.
    pub equations: Vec<Vec<(usize, i64)>>,
    /// A bound no count can need to exceed in the searches.
    pub ceiling: i64,
}

impl AttackerView {
    /// The view of a dense table with `_T` totals (see [`table_with_totals`]).
    pub fn new(sizes: &[usize], table: &CountTable, protection: Option<&Protection>) -> Self {
        let axes: Vec<Axis> = sizes.iter().map(|size| flat_axis(*size)).collect();
        Self::over(&axes, table, protection)
    }

    /// The view of `table` over `axes` as `protection` publishes it (everything without one).
    pub fn over(axes: &[Axis], table: &CountTable, protection: Option<&Protection>) -> Self {
        let limits: Vec<usize> = axes.iter().map(|axis| axis.codes.len()).collect();
        let grid = all_coordinates(&limits);
        let cells: BTreeMap<Vec<String>, usize> = grid
            .iter()
            .enumerate()
            .map(|(position, coordinates)| (key_of(axes, coordinates), position))
            .collect();
        let mut published = vec![None; grid.len()];
        for (index, cell) in table.cells().iter().enumerate() {
            let shown =
                protection.is_none_or(|protection| !protection.outcomes[index].is_suppressed());
            if let (true, CellValue::Count(count)) = (shown, cell.value) {
                published[cells[&cell.key]] = Some(count as i64);
            }
        }
        let mut equations = Vec::new();
        for coordinates in &grid {
            for (position, axis) in axes.iter().enumerate() {
                let sums = axis
                    .sums
                    .iter()
                    .filter(|(total, _)| *total == coordinates[position]);
                for (_, parts) in sums {
                    let mut equation = vec![(cells[&key_of(axes, coordinates)], 1)];
                    for part in parts {
                        let mut cell = coordinates.clone();
                        cell[position] = *part;
                        equation.push((cells[&key_of(axes, &cell)], -1));
                    }
                    equations.push(equation);
                }
            }
        }
        let grand: u64 = table
            .cells()
            .iter()
            .filter_map(|cell| cell.value.count())
            .max()
            .unwrap_or(0);
        AttackerView {
            cells,
            published,
            equations,
            ceiling: 2 * grand as i64 + 20,
        }
    }

    /// Whether some table consistent with the view has `cell` within `[low, high]`.
    pub fn admits(&self, cell: &[String], low: i64, high: i64) -> bool {
        let mut bounds: Vec<(i64, i64)> = self
            .published
            .iter()
            .map(|value| value.map_or((0, self.ceiling), |value| (value, value)))
            .collect();
        let target = self.cells[cell];
        bounds[target] = (bounds[target].0.max(low), bounds[target].1.min(high));
        search(&self.equations, bounds)
    }

    /// The attacker's exact interval of a cell (within the ceiling).
    pub fn interval(&self, cell: &[String]) -> (i64, i64) {
        let low = (0..=self.ceiling).find(|value| self.admits(cell, *value, *value));
        let high = (0..=self.ceiling)
            .rev()
            .find(|value| self.admits(cell, *value, *value));
        (low.unwrap_or(-1), high.unwrap_or(-1))
    }
}

/// Depth-first search with bounds propagation: is there an integer point within `bounds`
/// satisfying every equation?
fn search(equations: &[Vec<(usize, i64)>], mut bounds: Vec<(i64, i64)>) -> bool {
    if !propagate(equations, &mut bounds) {
        return false;
    }
    let open = (0..bounds.len())
        .filter(|cell| bounds[*cell].0 < bounds[*cell].1)
        .min_by_key(|cell| bounds[*cell].1 - bounds[*cell].0);
    let Some(cell) = open else {
        return equations.iter().all(|equation| {
            equation
                .iter()
                .map(|(cell, sign)| sign * bounds[*cell].0)
                .sum::<i64>()
                == 0
        });
    };
    (bounds[cell].0..=bounds[cell].1).any(|value| {
        let mut narrowed = bounds.clone();
        narrowed[cell] = (value, value);
        search(equations, narrowed)
    })
}

/// Tightens every variable's bounds from every equation until nothing changes; false when
/// some bounds become empty.
fn propagate(equations: &[Vec<(usize, i64)>], bounds: &mut [(i64, i64)]) -> bool {
    loop {
        let mut changed = false;
        for equation in equations {
            for (cell, sign) in equation {
                // sign * x = -(sum of the other terms)
                let (mut low, mut high) = (0i64, 0i64);
                for (other, other_sign) in equation.iter().filter(|(other, _)| other != cell) {
                    let (a, b) = (other_sign * bounds[*other].0, other_sign * bounds[*other].1);
                    low -= a.max(b);
                    high -= a.min(b);
                }
                let (low, high) = if *sign > 0 {
                    (low, high)
                } else {
                    (-high, -low)
                };
                let current = bounds[*cell];
                let tightened = (current.0.max(low), current.1.min(high));
                if tightened.0 > tightened.1 {
                    return false;
                }
                if tightened != current {
                    bounds[*cell] = tightened;
                    changed = true;
                }
            }
        }
        if !changed {
            return true;
        }
    }
}
