//! Shared test support for disclosure control: building tables, and an attacker written
//! independently of the crate's code path (bounds propagation and exhaustive branching over
//! small integer domains) that decides whether a published table lets a cell be 0 or N.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use datapact_protocol::disclosure::{CellValue, CountTable, Protection, TOTAL_CODE};

/// A dense table given by its interior counts over `sizes` codes per dimension (row-major),
/// with a `_T` total on every dimension. `absent` interior positions are left out.
pub fn table_with_totals(sizes: &[usize], interior: &[u64], absent: &[usize]) -> CountTable {
    let dimensions = (0..sizes.len()).map(|axis| format!("D{axis}")).collect();
    let mut table = CountTable::new(dimensions).unwrap();
    for coordinates in all_coordinates(&sizes.iter().map(|size| size + 1).collect::<Vec<_>>()) {
        let is_interior = coordinates
            .iter()
            .zip(sizes)
            .all(|(code, size)| code < size);
        if is_interior && absent.contains(&interior_position(sizes, &coordinates)) {
            continue;
        }
        let sum = sum_over(sizes, interior, &coordinates);
        table
            .push(key_of(sizes, &coordinates), CellValue::Count(sum))
            .unwrap();
    }
    table
}

/// The codes of a cell: `C<i>` for an interior code, `_T` for the total.
pub fn key_of(sizes: &[usize], coordinates: &[usize]) -> Vec<String> {
    coordinates
        .iter()
        .zip(sizes)
        .map(|(code, size)| {
            if code == size {
                TOTAL_CODE.to_owned()
            } else {
                format!("C{code}")
            }
        })
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

fn interior_position(sizes: &[usize], coordinates: &[usize]) -> usize {
    coordinates
        .iter()
        .zip(sizes)
        .fold(0, |position, (code, size)| position * size + code)
}

/// The sum of the interior counts a (possibly total) cell covers.
fn sum_over(sizes: &[usize], interior: &[u64], coordinates: &[usize]) -> u64 {
    all_coordinates(sizes)
        .into_iter()
        .filter(|inner| {
            inner
                .iter()
                .zip(coordinates)
                .zip(sizes)
                .all(|((code, wanted), size)| wanted == size || code == wanted)
        })
        .map(|inner| interior[interior_position(sizes, &inner)])
        .sum()
}

/// What an attacker sees of a dense table with totals: every cell of the full grid, its
/// published count or `None` (suppressed or absent), and the relations `_T = sum of the other
/// codes` along every dimension, derived here from the sizes alone.
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
    /// The view of `table` as `protection` publishes it.
    pub fn new(sizes: &[usize], table: &CountTable, protection: Option<&Protection>) -> Self {
        let limits: Vec<usize> = sizes.iter().map(|size| size + 1).collect();
        let grid = all_coordinates(&limits);
        let cells: BTreeMap<Vec<String>, usize> = grid
            .iter()
            .enumerate()
            .map(|(position, coordinates)| (key_of(sizes, coordinates), position))
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
            for (axis, size) in sizes.iter().enumerate() {
                if coordinates[axis] != *size {
                    continue;
                }
                let mut equation = vec![(cells[&key_of(sizes, coordinates)], 1)];
                for code in 0..*size {
                    let mut part = coordinates.clone();
                    part[axis] = code;
                    equation.push((cells[&key_of(sizes, &part)], -1));
                }
                equations.push(equation);
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
