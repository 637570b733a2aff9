//! Lays the observations of the datasets compared out as one table: rows by key, columns by
//! owner (or by the codes of `--columns`), a cell per observation, and the spread of each row
//! where two or more owners report a value for its key.
//!
//! Before that, one owner's datasets that report the same key are settled: the most recently
//! issued one is used and the older one left out, so no owner ever speaks twice in a cell.

use std::collections::{HashMap, HashSet};

use super::error::{CompareError, OptionsError};
use super::observations::{Codes, Observations, Observed};
use super::options::Plan;
use super::result::{Cell, DimensionLabels, Largest, LeftOut, Ordered, Row};
use super::select::Candidate;
use super::{MAX_TABLE_CELLS, Structure};

/// Most codes named in the message of a dimension that varies.
const CODES_NAMED: usize = 5;

/// One dataset compared: its announcement's view and its observations.
pub(super) struct Compared {
    pub candidate: Candidate,
    pub observations: Observations,
}

/// Among one owner's datasets (newest issued first), leaves out each that reports a key that a
/// newer one reports.
pub(super) fn settle_owners(
    datasets: Vec<Compared>,
    width: usize,
    left_out: &mut Vec<LeftOut>,
) -> Vec<Compared> {
    let mut seen: HashMap<String, (String, HashSet<Vec<u32>>)> = HashMap::new();
    let mut kept = Vec::new();
    for dataset in datasets {
        let owner = dataset.candidate.dataset.owner.to_string();
        let keys = || dataset.observations.keys.chunks_exact(width.max(1));
        match seen.get_mut(&owner) {
            Some((newer, held)) => {
                let shared = keys().filter(|key| held.contains(*key)).count();
                if shared > 0 {
                    left_out.push(LeftOut {
                        dataset: dataset.candidate.dataset.to_string(),
                        reason: format!(
                            "{newer}, issued later by the same owner, reports {shared} of the \
                             same keys"
                        ),
                    });
                    continue;
                }
                held.extend(keys().map(<[u32]>::to_vec));
            }
            None => {
                let held = keys().map(<[u32]>::to_vec).collect();
                seen.insert(owner, (dataset.candidate.dataset.to_string(), held));
            }
        }
        kept.push(dataset);
    }
    kept
}

/// The codes of every dimension (the owners last), with the order rows and columns take.
pub(super) struct Axes {
    /// Per dimension, its code texts by number; the last holds the owners.
    pub texts: Vec<Vec<String>>,
    /// Per dimension, each code number's place in the sort order.
    pub rank: Vec<Vec<usize>>,
    /// Per dataset, the number of its owner.
    pub owner_of: Vec<u32>,
}

impl Axes {
    pub(super) fn new(structure: &Structure<'_>, codes: &Codes, datasets: &[Compared]) -> Self {
        let mut owners: Vec<String> = datasets
            .iter()
            .map(|d| d.candidate.dataset.owner.to_string())
            .collect();
        owners.sort();
        owners.dedup();
        let owner_of = datasets
            .iter()
            .map(|d| {
                let owner = d.candidate.dataset.owner.as_str();
                let at = owners.iter().position(|o| o == owner).unwrap_or(0);
                u32::try_from(at).unwrap_or(u32::MAX)
            })
            .collect();
        let mut texts: Vec<Vec<String>> =
            codes.dimensions.iter().map(|i| i.texts.clone()).collect();
        texts.push(owners);
        let rank = texts
            .iter()
            .enumerate()
            .map(|(dimension, codes)| {
                let mut order: Vec<usize> = (0..codes.len()).collect();
                order.sort_by_key(|&n| {
                    let text = codes.get(n).map_or("", String::as_str);
                    (structure.position(dimension, text), text.to_owned())
                });
                let mut rank = vec![0; codes.len()];
                for (place, n) in order.into_iter().enumerate() {
                    if let Some(slot) = rank.get_mut(n) {
                        *slot = place;
                    }
                }
                rank
            })
            .collect();
        Self {
            texts,
            rank,
            owner_of,
        }
    }

    fn text(&self, dimension: usize, code: u32) -> &str {
        self.texts
            .get(dimension)
            .and_then(|codes| codes.get(usize::try_from(code).ok()?))
            .map_or("", String::as_str)
    }

    fn rank(&self, dimension: usize, code: u32) -> usize {
        self.rank
            .get(dimension)
            .and_then(|r| r.get(usize::try_from(code).ok()?))
            .copied()
            .unwrap_or(usize::MAX)
    }
}

/// The code of dimension `d` in observation `i` of `dataset`, the owner for the last.
fn code_of(plan: &Plan, axes: &Axes, at: usize, dataset: &Compared, i: usize, d: usize) -> u32 {
    if d == plan.owner() {
        return axes.owner_of.get(at).copied().unwrap_or(0);
    }
    let width = plan.structure_dimensions();
    dataset
        .observations
        .keys
        .get(i.saturating_mul(width).saturating_add(d))
        .copied()
        .unwrap_or(0)
}

/// The row and fixed dimensions: those asked for, or every dimension that varies.
pub(super) struct Shape {
    pub rows: Vec<usize>,
    /// Dimensions with one code, and that code.
    pub fixed: Vec<(usize, u32)>,
}

pub(super) fn shape(
    plan: &Plan,
    axes: &Axes,
    datasets: &[Compared],
) -> Result<Shape, OptionsError> {
    let dimensions = plan.dimensions.len();
    let mut used: Vec<HashSet<u32>> = vec![HashSet::new(); dimensions];
    for (at, dataset) in datasets.iter().enumerate() {
        for i in 0..dataset.observations.cells.len() {
            for (d, set) in used.iter_mut().enumerate() {
                set.insert(code_of(plan, axes, at, dataset, i, d));
            }
        }
    }
    let rows: Vec<usize> = if plan.rows.is_empty() {
        (0..dimensions)
            .filter(|&d| d != plan.column && used.get(d).is_some_and(|s| s.len() > 1))
            .collect()
    } else {
        plan.rows.clone()
    };
    let mut fixed = Vec::new();
    for (d, set) in used.iter().enumerate() {
        if d == plan.column || rows.contains(&d) {
            continue;
        }
        let mut codes: Vec<u32> = set.iter().copied().collect();
        codes.sort_by_key(|&c| axes.rank(d, c));
        match codes.as_slice() {
            [] => {}
            [only] => fixed.push((d, *only)),
            several => {
                let named: Vec<&str> = several
                    .iter()
                    .take(CODES_NAMED)
                    .map(|&c| axes.text(d, c))
                    .collect();
                let more = if several.len() > CODES_NAMED {
                    ", ..."
                } else {
                    ""
                };
                return Err(OptionsError::Varies {
                    dimension: plan.dimensions.get(d).cloned().unwrap_or_default(),
                    codes: format!("{}{more}", named.join(", ")),
                });
            }
        }
    }
    Ok(Shape { rows, fixed })
}

/// The table: columns, rows (sorted), the number of keys compared and the largest spread.
pub(super) struct Laid {
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    pub compared_keys: usize,
    pub largest: Option<Largest>,
}

pub(super) fn lay_out(
    plan: &Plan,
    axes: &Axes,
    shape: &Shape,
    datasets: &[Compared],
    codes: &Codes,
) -> Result<Laid, CompareError> {
    let column_codes = column_codes(plan, axes, datasets);
    let grid = fill(plan, axes, shape, datasets, &column_codes)?;
    let columns: Vec<String> = column_codes
        .iter()
        .map(|&c| axes.text(plan.column, c).to_owned())
        .collect();
    let rows = rows_out(plan, axes, shape, &columns, grid, codes);
    let mut compared_keys = 0;
    let mut largest: Option<Largest> = None;
    for (row, r) in rows.iter().enumerate() {
        let Some(spread) = r.spread else { continue };
        compared_keys += 1;
        if largest.as_ref().is_none_or(|l| spread > l.spread) {
            largest = Some(Largest { row, spread });
        }
    }
    Ok(Laid {
        columns,
        rows,
        compared_keys,
        largest,
    })
}

/// The codes of the column dimension that occur, in order.
fn column_codes(plan: &Plan, axes: &Axes, datasets: &[Compared]) -> Vec<u32> {
    let mut seen = HashSet::new();
    for (at, dataset) in datasets.iter().enumerate() {
        for i in 0..dataset.observations.cells.len() {
            seen.insert(code_of(plan, axes, at, dataset, i, plan.column));
        }
    }
    let mut codes: Vec<u32> = seen.into_iter().collect();
    codes.sort_by_key(|&c| axes.rank(plan.column, c));
    codes
}

/// The table's cells before sorting: each row's key codes and one slot per column.
struct Grid {
    keys: Vec<Vec<u32>>,
    cells: Vec<Vec<Option<Observed>>>,
}

/// Puts every observation in its row and column.
fn fill(
    plan: &Plan,
    axes: &Axes,
    shape: &Shape,
    datasets: &[Compared],
    column_codes: &[u32],
) -> Result<Grid, CompareError> {
    let column_at: HashMap<u32, usize> = column_codes
        .iter()
        .enumerate()
        .map(|(i, &c)| (c, i))
        .collect();
    let width = column_codes.len();
    let mut index: HashMap<Vec<u32>, usize> = HashMap::new();
    let mut grid = Grid {
        keys: Vec::new(),
        cells: Vec::new(),
    };
    for (at, dataset) in datasets.iter().enumerate() {
        for (i, observed) in dataset.observations.cells.iter().enumerate() {
            let key: Vec<u32> = shape
                .rows
                .iter()
                .map(|&d| code_of(plan, axes, at, dataset, i, d))
                .collect();
            let row = match index.get(&key) {
                Some(&row) => row,
                None => {
                    let rows = grid.keys.len();
                    if rows.saturating_add(1).saturating_mul(width) > MAX_TABLE_CELLS {
                        return Err(CompareError::TooManyCells);
                    }
                    index.insert(key.clone(), rows);
                    grid.keys.push(key);
                    grid.cells.push(vec![None; width]);
                    rows
                }
            };
            let column = code_of(plan, axes, at, dataset, i, plan.column);
            let slot = column_at
                .get(&column)
                .and_then(|&c| grid.cells.get_mut(row)?.get_mut(c));
            if let Some(slot) = slot {
                *slot = Some(*observed);
            }
        }
    }
    Ok(grid)
}

/// The rows, sorted by key in the order of the codelists, with their spreads.
fn rows_out(
    plan: &Plan,
    axes: &Axes,
    shape: &Shape,
    columns: &[String],
    mut grid: Grid,
    codes: &Codes,
) -> Vec<Row> {
    let mut order: Vec<usize> = (0..grid.keys.len()).collect();
    order.sort_by_cached_key(|&r| {
        let key = grid.keys.get(r).map(Vec::as_slice).unwrap_or_default();
        shape
            .rows
            .iter()
            .zip(key)
            .map(|(&d, &c)| axes.rank(d, c))
            .collect::<Vec<usize>>()
    });
    let spread_by_owner = plan.column == plan.owner();
    let fixed: Vec<(String, String)> = shape
        .fixed
        .iter()
        .map(|&(d, c)| (dimension_name(plan, d), axes.text(d, c).to_owned()))
        .collect();
    let mut rows = Vec::with_capacity(order.len());
    for r in order {
        let key = grid.keys.get(r).map(Vec::as_slice).unwrap_or_default();
        let mut entries: Vec<(String, String)> = shape
            .rows
            .iter()
            .zip(key)
            .map(|(&d, &c)| (dimension_name(plan, d), axes.text(d, c).to_owned()))
            .collect();
        entries.extend(fixed.iter().cloned());
        // Each row's slots are freed as soon as its cells are made: the peak stays lower.
        let slots = grid
            .cells
            .get_mut(r)
            .map(std::mem::take)
            .unwrap_or_default();
        let values: Vec<(String, Cell)> = columns
            .iter()
            .zip(slots)
            .map(|(column, observed)| (column.clone(), cell(observed.as_ref(), codes)))
            .collect();
        let spread = if spread_by_owner {
            spread(values.iter().map(|(_, c)| c))
        } else {
            None
        };
        rows.push(Row {
            key: Ordered(entries),
            values: Ordered(values),
            spread,
        });
    }
    rows
}

fn dimension_name(plan: &Plan, d: usize) -> String {
    plan.dimensions.get(d).cloned().unwrap_or_default()
}

/// The cell of one observation (or of none: not reported).
fn cell(observed: Option<&Observed>, codes: &Codes) -> Cell {
    match observed {
        None => Cell::default(),
        Some(o) => Cell {
            value: if o.confidential { None } else { o.value },
            obs_status: o.status.map(|s| codes.statuses.text(s).to_owned()),
            confidential: o.confidential,
        },
    }
}

/// (max - min) / max over the comparable values, when there are two or more and max > 0.
pub fn spread<'a>(cells: impl Iterator<Item = &'a Cell>) -> Option<f64> {
    let values: Vec<f64> = cells.filter_map(Cell::comparable).collect();
    if values.len() < 2 {
        return None;
    }
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    (max > 0.0).then(|| (max - min) / max)
}

/// Labels of every structure dimension: its concept name and the names of its codes that
/// occur.
pub(super) fn labels(
    structure: &Structure<'_>,
    plan: &Plan,
    axes: &Axes,
) -> Ordered<DimensionLabels> {
    let mut out = Vec::new();
    for d in 0..plan.structure_dimensions() {
        let codes = axes
            .texts
            .get(d)
            .map(|texts| {
                texts
                    .iter()
                    .filter_map(|code| Some((code.clone(), structure.code_name(d, code)?)))
                    .collect()
            })
            .unwrap_or_default();
        out.push((
            dimension_name(plan, d),
            DimensionLabels {
                name: structure.dimension_name(d),
                codes: Ordered(codes),
            },
        ));
    }
    Ordered(out)
}
