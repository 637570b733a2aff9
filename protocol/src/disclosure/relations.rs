//! The table's relations, derived from the data: which cells are sums of which.
//!
//! Every dimension becomes an axis of codes: the codes that occur in the table, plus the
//! ancestors that a declared hierarchy gives them. The cells of the full grid (every combination
//! of codes) are the unknowns an attacker reasons about; cells absent from the table are in the
//! grid too, as unknown non-negative counts, never as zeros.
//!
//! Along each axis a code with children is their sum, at every combination of the other
//! dimensions. Without a hierarchy, `_T` has every other code of its dimension as children (a
//! `_T` alone imposes nothing); with one, each parent has its children, and `_T` has the codes
//! that have no parent.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::error::DisclosureError;
use super::table::{CountTable, TOTAL_CODE};

/// Most cells of the full grid (the product of the axes' sizes) handled.
pub const MAX_GRID_CELLS: usize = 250_000;

/// One dimension's codes and how they nest.
#[derive(Debug, Clone)]
pub(crate) struct Axis {
    /// Codes in order of first appearance, ancestors from the hierarchy after them.
    pub codes: Vec<String>,
    /// Code to its position in `codes`.
    lookup: HashMap<String, u32>,
    /// Position of each code's parent, if it has one.
    pub parent: Vec<Option<u32>>,
    /// Positions of each code's children (empty for a leaf).
    pub children: Vec<Vec<u32>>,
}

impl Axis {
    /// Whether this code takes part in a relation of its axis.
    pub fn is_related(&self, code: u32) -> bool {
        self.parent[code as usize].is_some() || !self.children[code as usize].is_empty()
    }

    /// The codes with no children under `code`, `code` itself when it is one.
    pub fn leaves_under(&self, code: u32) -> Vec<u32> {
        let mut leaves = Vec::new();
        let mut pending = vec![code];
        while let Some(next) = pending.pop() {
            let children = &self.children[next as usize];
            if children.is_empty() {
                leaves.push(next);
            } else {
                pending.extend(children.iter().rev());
            }
        }
        leaves
    }

    /// `code` and every ancestor of it.
    pub fn with_ancestors(&self, code: u32) -> Vec<u32> {
        let mut chain = vec![code];
        let mut current = code;
        while let Some(parent) = self.parent[current as usize] {
            chain.push(parent);
            current = parent;
        }
        chain
    }
}

/// One additive relation: `total` equals the sum of `parts` (grid cell indices).
#[derive(Debug, Clone)]
pub(crate) struct Relation {
    /// The cell that is the sum.
    pub total: u32,
    /// The cells summed.
    pub parts: Vec<u32>,
}

/// The full grid of a table and its relations.
#[derive(Debug, Clone)]
pub(crate) struct Structure {
    /// One axis per dimension, in the table's order.
    pub axes: Vec<Axis>,
    /// Index step of one code along each axis (row-major grid).
    strides: Vec<usize>,
    /// Number of grid cells.
    pub len: usize,
    /// Every relation of the table.
    pub relations: Vec<Relation>,
    /// For each grid cell, the relations it takes part in.
    pub touching: Vec<Vec<u32>>,
    /// For each grid cell, the table's observation there, if any.
    pub observation: Vec<Option<u32>>,
    /// For each observation of the table, its grid cell.
    pub cell_of: Vec<u32>,
}

impl Structure {
    /// Derives the grid and relations of a table.
    pub fn derive(table: &CountTable) -> Result<Structure, DisclosureError> {
        let dimensions = table.dimensions();
        let mut axes = Vec::with_capacity(dimensions.len());
        for (position, dimension) in dimensions.iter().enumerate() {
            let codes = table.cells().iter().map(|cell| cell.key[position].as_str());
            axes.push(build_axis(dimension, codes, table.hierarchy(dimension))?);
        }
        let mut strides = vec![1usize; axes.len()];
        let mut len = 1usize;
        for (position, axis) in axes.iter().enumerate().rev() {
            strides[position] = len;
            len = len
                .checked_mul(axis.codes.len())
                .filter(|len| *len <= MAX_GRID_CELLS)
                .ok_or_else(|| {
                    DisclosureError::TooLarge(format!(
                        "the combinations of its codes exceed {MAX_GRID_CELLS} cells"
                    ))
                })?;
        }
        let mut structure = Structure {
            axes,
            strides,
            len,
            relations: Vec::new(),
            touching: vec![Vec::new(); len],
            observation: vec![None; len],
            cell_of: Vec::with_capacity(table.cells().len()),
        };
        for (position, cell) in table.cells().iter().enumerate() {
            // Every code of every key is on its axis, so the lookup cannot fail.
            let index = structure
                .index_of(&cell.key)
                .ok_or(DisclosureError::BadKey {
                    expected: table.dimensions().len(),
                })?;
            structure.observation[index] = Some(position as u32);
            structure.cell_of.push(index as u32);
        }
        structure.derive_relations();
        Ok(structure)
    }

    /// Builds every relation and the per-cell index of them.
    fn derive_relations(&mut self) {
        for index in 0..self.len {
            for axis in 0..self.axes.len() {
                let code = self.coordinate(index, axis);
                let children = &self.axes[axis].children[code as usize];
                if children.is_empty() {
                    continue;
                }
                let parts = children
                    .iter()
                    .map(|child| self.with_code(index, axis, *child) as u32)
                    .collect();
                self.relations.push(Relation {
                    total: index as u32,
                    parts,
                });
            }
        }
        for (position, relation) in self.relations.iter().enumerate() {
            self.touching[relation.total as usize].push(position as u32);
            for part in &relation.parts {
                self.touching[*part as usize].push(position as u32);
            }
        }
    }

    /// The code position of a grid cell along one axis.
    pub fn coordinate(&self, index: usize, axis: usize) -> u32 {
        ((index / self.strides[axis]) % self.axes[axis].codes.len()) as u32
    }

    /// The grid cell that differs from `index` only by having `code` on `axis`.
    pub fn with_code(&self, index: usize, axis: usize, code: u32) -> usize {
        let current = self.coordinate(index, axis) as usize;
        index - current * self.strides[axis] + code as usize * self.strides[axis]
    }

    /// The grid cell of a key given in the table's dimension order.
    pub fn index_of(&self, key: &[String]) -> Option<usize> {
        let mut index = 0usize;
        for ((axis, stride), code) in self.axes.iter().zip(&self.strides).zip(key) {
            index += *axis.lookup.get(code)? as usize * stride;
        }
        Some(index)
    }

    /// The codes of a grid cell, in the table's dimension order.
    pub fn key_of(&self, index: usize) -> Vec<String> {
        (0..self.axes.len())
            .map(|axis| self.axes[axis].codes[self.coordinate(index, axis) as usize].clone())
            .collect()
    }
}

/// Refuses a hierarchy in which some code is its own ancestor.
fn check_cycles(
    dimension: &str,
    parents: &BTreeMap<String, String>,
    parent_code: &impl Fn(&str) -> Option<String>,
) -> Result<(), DisclosureError> {
    for code in parents.keys() {
        let mut visited = HashSet::new();
        let mut current = code.clone();
        while let Some(parent) = parent_code(&current) {
            if !visited.insert(current.clone()) {
                return Err(DisclosureError::HierarchyCycle {
                    dimension: dimension.to_owned(),
                    code: current,
                });
            }
            current = parent;
        }
    }
    Ok(())
}

/// The codes of the hierarchy linked to a code of the table: its ancestors and descendants,
/// and, when the table has `_T`, every code (`_T` is the sum of all the codes without a
/// parent). They are cells of the grid whose counts are unknown.
fn linked_codes<'a>(present: &'a [String], parents: &'a BTreeMap<String, String>) -> Vec<String> {
    let mut neighbours: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut link = |one: &'a str, other: &'a str| {
        neighbours.entry(one).or_default().push(other);
        neighbours.entry(other).or_default().push(one);
    };
    let has_total = present.iter().any(|code| code == TOTAL_CODE);
    for (child, parent) in parents.iter().filter(|(child, _)| *child != TOTAL_CODE) {
        if parent != TOTAL_CODE {
            link(child, parent);
        }
        let root = if parent == TOTAL_CODE {
            Some(child)
        } else if !parents.contains_key(parent) {
            Some(parent)
        } else {
            None
        };
        if let (true, Some(root)) = (has_total, root) {
            link(root, TOTAL_CODE);
        }
    }
    let mut seen: HashSet<&str> = present.iter().map(String::as_str).collect();
    let mut pending: Vec<&str> = present.iter().map(String::as_str).collect();
    let mut linked = Vec::new();
    while let Some(code) = pending.pop() {
        for next in neighbours.get(code).into_iter().flatten() {
            if seen.insert(next) {
                linked.push((*next).to_owned());
                pending.push(next);
            }
        }
    }
    linked
}

/// Builds one axis from the codes seen in the table and the dimension's hierarchy.
fn build_axis<'a>(
    dimension: &str,
    seen: impl Iterator<Item = &'a str>,
    hierarchy: Option<&BTreeMap<String, String>>,
) -> Result<Axis, DisclosureError> {
    let mut codes: Vec<String> = Vec::new();
    let mut lookup: HashMap<String, u32> = HashMap::new();
    let mut add = |code: &str, codes: &mut Vec<String>| {
        if !lookup.contains_key(code) {
            lookup.insert(code.to_owned(), codes.len() as u32);
            codes.push(code.to_owned());
        }
    };
    for code in seen {
        add(code, &mut codes);
    }
    let parent_code = |code: &str| -> Option<String> {
        hierarchy
            .and_then(|parents| parents.get(code))
            .filter(|parent| parent.as_str() != TOTAL_CODE && code != TOTAL_CODE)
            .cloned()
    };
    if let Some(parents) = hierarchy {
        check_cycles(dimension, parents, &parent_code)?;
        for code in linked_codes(&codes, parents) {
            add(&code, &mut codes);
        }
    }
    let lookup: HashMap<String, u32> = codes
        .iter()
        .enumerate()
        .map(|(position, code)| (code.clone(), position as u32))
        .collect();
    let total = lookup.get(TOTAL_CODE).copied();
    let parent: Vec<Option<u32>> = codes
        .iter()
        .map(|code| match parent_code(code) {
            Some(parent) => lookup.get(&parent).copied(),
            None if code == TOTAL_CODE => None,
            None => total,
        })
        .collect();
    let mut children = vec![Vec::new(); codes.len()];
    for (child, parent) in parent.iter().enumerate() {
        if let Some(parent) = parent {
            children[*parent as usize].push(child as u32);
        }
    }
    Ok(Axis {
        codes,
        lookup,
        parent,
        children,
    })
}
