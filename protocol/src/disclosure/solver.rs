//! The integer solver behind the exact check: finds witnesses that simple moves cannot, and
//! completes the cells absent from a table.
//!
//! It uses `microlp`, a pure-Rust linear solver with integer variables (branch and bound). It
//! was chosen over the `good_lp` modelling layer because the models here are small and
//! regular, so the layer would only add a dependency, and over HiGHS or CBC because those need a
//! C or C++ toolchain and system libraries on every node. Nothing the solver says is trusted
//! where trust could overstate protection: every solution becomes a [`Witness`] only after
//! [`Model::verifies`] has checked it in exact integer arithmetic. A solver that fails, gives up
//! or is wrong about infeasibility can only make the release suppress more, or refuse.

use std::collections::HashSet;

use microlp::{ComparisonOp, Error, OptimizationDirection, Problem, SolveOptions, Variable};

use super::attacker::{Model, Side, Witness};
use super::relations::Structure;
use super::table::MAX_COUNT;

/// Branch-and-bound nodes one search may explore before it gives up (deterministic, unlike a
/// time limit, so the same table always gets the same suppressions).
const NODE_LIMIT: u64 = 2_000;
/// Objective weight of changing a cell that is already unpublished: small, so that witnesses
/// stay sparse and later un-suppressions rarely break them.
const FREE_CELL_COST: f64 = 1.0;
/// Objective weight of changing (and so suppressing) a published cell, plus up to as much
/// again for its value: far above [`FREE_CELL_COST`], so fewer cells come first.
const PUBLISHED_CELL_COST: f64 = 100.0;

/// What a witness search came to.
#[derive(Debug)]
pub(crate) enum Search {
    /// A witness, already verified exactly.
    Found(Witness),
    /// The solver found no consistent table with the cell there.
    Impossible,
    /// The solver gave up or failed; nothing is known.
    GaveUp(String),
}

/// Which cells a witness search may change.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'a> {
    /// Every free cell connected to the primary cell.
    Free,
    /// Also published cells (not those an earlier version disclosed), at a cost: the search
    /// then chooses which to suppress, and the caller suppresses the published cells the
    /// witness changes.
    Revealing,
    /// Only free cells whose code on every axis is marked in the masks (one per axis): a small
    /// sub-problem, quick to solve. Fixing the other free cells at their `base` counts only
    /// narrows the tables considered, so a witness found there is a witness.
    Near(&'a [Vec<bool>]),
}

/// Searches a witness for one side of `primary` within `scope`.
pub(crate) fn find_witness(model: &Model, primary: usize, side: Side, scope: Scope<'_>) -> Search {
    let may_reveal = matches!(scope, Scope::Revealing);
    let open = |cell: usize| match scope {
        Scope::Free => model.is_free(cell),
        Scope::Revealing => !model.known[cell] && (model.is_free(cell) || model.is_published(cell)),
        Scope::Near(masks) => {
            model.is_free(cell)
                && masks
                    .iter()
                    .enumerate()
                    .all(|(axis, mask)| mask[model.structure.coordinate(cell, axis) as usize])
        }
    };
    if !open(primary) {
        return Search::Impossible;
    }
    let region = model.region(primary, open);
    let largest = region.iter().map(|cell| model.value(*cell as usize)).max();
    let largest = largest.unwrap_or(0).max(1) as f64;
    let cost = |cell: usize| {
        if model.is_free(cell) {
            FREE_CELL_COST
        } else {
            PUBLISHED_CELL_COST * (1.0 + model.value(cell) as f64 / largest)
        }
    };
    let mut problem = Problem::new(OptimizationDirection::Minimize);
    let mut variables = Vec::with_capacity(region.len());
    for cell in &region {
        let cell = *cell as usize;
        let bounds = match (cell == primary, side) {
            (true, Side::Low) => (0, 0),
            (true, Side::High) => (model.threshold as i32, MAX_COUNT as i32),
            (false, _) => (0, MAX_COUNT as i32),
        };
        let value = problem.add_integer_var(0.0, bounds);
        // value = base + up - down; the objective counts the change.
        let up = problem.add_var(cost(cell), (0.0, f64::INFINITY));
        let down = problem.add_var(cost(cell), (0.0, f64::INFINITY));
        problem.add_constraint(
            [(value, 1.0), (up, -1.0), (down, 1.0)],
            ComparisonOp::Eq,
            model.value(cell) as f64,
        );
        variables.push(value);
    }
    add_relations(
        &mut problem,
        &model.structure,
        &region,
        &variables,
        |cell| model.value(cell),
    );
    match solve(&problem, &region, &variables) {
        Ok(Some(values)) => {
            let changes = region
                .iter()
                .zip(values)
                .map(|(cell, value)| (*cell, value - model.value(*cell as usize)))
                .collect();
            let witness = Witness::from_changes(changes);
            if model.verifies(primary, side, &witness, may_reveal) {
                Search::Found(witness)
            } else {
                Search::GaveUp("the solver's table did not check out exactly".to_owned())
            }
        }
        Ok(None) => Search::Impossible,
        Err(reason) => Search::GaveUp(reason),
    }
}

/// Completes the unknown cells (those for which `fixed` is `None`) so that every relation holds,
/// or `Ok(None)` when no non-negative integers do.
pub(crate) fn complete(
    structure: &Structure,
    fixed: &[Option<u64>],
) -> Result<Option<Vec<i64>>, String> {
    let unknown: Vec<u32> = (0..structure.len)
        .filter(|cell| fixed[*cell].is_none())
        .map(|cell| cell as u32)
        .collect();
    let mut base: Vec<i64> = fixed
        .iter()
        .map(|value| value.unwrap_or(0) as i64)
        .collect();
    if unknown.is_empty() {
        return Ok(Some(base));
    }
    let mut problem = Problem::new(OptimizationDirection::Minimize);
    let variables: Vec<Variable> = unknown
        .iter()
        .map(|_| problem.add_integer_var(0.0, (0, MAX_COUNT as i32)))
        .collect();
    add_relations(&mut problem, structure, &unknown, &variables, |cell| {
        fixed[cell].unwrap_or(0) as i64
    });
    let Some(values) = solve(&problem, &unknown, &variables)? else {
        return Ok(None);
    };
    for (cell, value) in unknown.iter().zip(values) {
        base[*cell as usize] = value;
    }
    Ok(Some(base))
}

/// Adds every relation that touches `region` (sorted): region cells are the variables, every
/// other cell is the constant `constant(cell)`.
fn add_relations(
    problem: &mut Problem,
    structure: &Structure,
    region: &[u32],
    variables: &[Variable],
    constant: impl Fn(usize) -> i64,
) {
    let relations: HashSet<u32> = region
        .iter()
        .flat_map(|cell| structure.touching[*cell as usize].iter().copied())
        .collect();
    let mut relations: Vec<u32> = relations.into_iter().collect();
    relations.sort_unstable();
    for relation in relations {
        let relation = &structure.relations[relation as usize];
        let mut terms = Vec::with_capacity(relation.parts.len() + 1);
        let mut right_side = 0i64;
        let signed = relation.parts.iter().map(|part| (*part, -1i64));
        for (cell, sign) in signed.chain([(relation.total, 1)]) {
            match region.binary_search(&cell) {
                Ok(position) => terms.push((variables[position], sign as f64)),
                Err(_) => right_side -= sign * constant(cell as usize),
            }
        }
        problem.add_constraint(&terms[..], ComparisonOp::Eq, right_side as f64);
    }
}

/// Solves and rounds the region's integer variables; `Ok(None)` when infeasible.
fn solve(
    problem: &Problem,
    region: &[u32],
    variables: &[Variable],
) -> Result<Option<Vec<i64>>, String> {
    let mut options = SolveOptions::default();
    options.node_limit = Some(NODE_LIMIT);
    match problem.solve_with(options) {
        Ok(outcome) => match outcome.into_solution() {
            Ok(solution) => Ok(Some(
                variables
                    .iter()
                    .map(|variable| solution.var_value(*variable).round() as i64)
                    .collect(),
            )),
            Err(_) => Err(format!(
                "the solver gave up after {NODE_LIMIT} nodes on {} cells",
                region.len()
            )),
        },
        Err(Error::Infeasible) => Ok(None),
        Err(other) => Err(format!("the solver failed: {other}")),
    }
}
