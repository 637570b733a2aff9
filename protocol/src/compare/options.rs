//! What a comparison is asked to show (`--filter`, `--rows`, `--columns`), checked against the
//! structure: every dimension named must be one of the structure's (or `OWNER`), every code in
//! its codelist (a time period for the time dimension). The checked form is a [`Plan`].

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::error::OptionsError;
use super::{MAX_FILTER_CODES, OWNER};
use crate::MemberCode;
use crate::sdmx::model::{Component, Dsd, Representation, StructureSet};
use crate::sdmx::time_period::TimeForm;

/// The options of one comparison, as the user gave them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Options {
    /// `--filter DIM=CODE[,CODE]...`: keep only observations with one of these codes.
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// `--rows DIM,...`: the dimensions that tell rows apart, in this order; empty for every
    /// dimension that varies.
    #[serde(default)]
    pub rows: Vec<String>,
    /// `--columns DIM`: the dimension whose codes are the columns; `None` for the owners.
    #[serde(default)]
    pub columns: Option<String>,
}

/// One `--filter`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// The dimension, or `OWNER`.
    pub dimension: String,
    /// The codes to keep.
    pub codes: Vec<String>,
}

impl std::str::FromStr for Filter {
    type Err = OptionsError;

    /// Reads `DIM=CODE[,CODE]...`.
    fn from_str(text: &str) -> Result<Self, OptionsError> {
        let bad = || OptionsError::FilterSyntax(crate::sdmx::shown(text));
        let (dimension, codes) = text.split_once('=').ok_or_else(bad)?;
        let codes: Vec<String> = codes.split(',').map(|c| c.trim().to_owned()).collect();
        if dimension.trim().is_empty() || codes.iter().any(String::is_empty) {
            return Err(bad());
        }
        Ok(Self {
            dimension: dimension.trim().to_owned(),
            codes,
        })
    }
}

/// The options checked against a structure. Dimensions are numbered as the structure orders
/// them, the time dimension last; `OWNER` is the number after the last.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The dimension ids, the time dimension last, then `OWNER`.
    pub dimensions: Vec<String>,
    /// Whether the last structure dimension is a time dimension.
    pub has_time: bool,
    /// Per dimension (not `OWNER`), the codes to keep; `None` keeps every code.
    pub keep: Vec<Option<HashSet<String>>>,
    /// The owners to keep; `None` keeps every owner.
    pub owners: Option<HashSet<String>>,
    /// The column dimension.
    pub column: usize,
    /// The row dimensions asked for, in order; empty for every dimension that varies.
    pub rows: Vec<usize>,
}

impl Plan {
    /// Checks `options` against the data structure definition `dsd` of `set`.
    pub fn new(set: &StructureSet, dsd: &Dsd, options: &Options) -> Result<Self, OptionsError> {
        let components: Vec<&Component> =
            dsd.dimensions.iter().chain(&dsd.time_dimension).collect();
        let mut dimensions: Vec<String> = components.iter().map(|c| c.id.clone()).collect();
        dimensions.push(OWNER.to_owned());
        let index = |name: &str| -> Result<usize, OptionsError> {
            dimensions.iter().position(|d| d == name).ok_or_else(|| {
                OptionsError::UnknownDimension {
                    dimension: crate::sdmx::shown(name),
                    known: dimensions.join(", "),
                }
            })
        };
        let mut keep: Vec<Option<HashSet<String>>> = vec![None; components.len()];
        let mut owners: Option<HashSet<String>> = None;
        for filter in &options.filters {
            let at = index(&filter.dimension)?;
            if filter.codes.len() > MAX_FILTER_CODES {
                return Err(OptionsError::TooManyCodes(filter.dimension.clone()));
            }
            let slot = match components.get(at) {
                Some(component) => {
                    for code in &filter.codes {
                        check_code(set, component, dsd, code)?;
                    }
                    keep.get_mut(at)
                }
                None => {
                    for code in &filter.codes {
                        MemberCode::new(code).map_err(|_| OptionsError::UnknownCode {
                            dimension: OWNER.to_owned(),
                            code: crate::sdmx::shown(code),
                            expected: "a member code such as THA".into(),
                        })?;
                    }
                    Some(&mut owners)
                }
            };
            if let Some(slot) = slot {
                slot.get_or_insert_with(HashSet::new)
                    .extend(filter.codes.iter().cloned());
            }
        }
        let column = match &options.columns {
            Some(name) => index(name)?,
            None => components.len(),
        };
        let mut rows = Vec::new();
        for name in &options.rows {
            let at = index(name)?;
            if at == column {
                return Err(OptionsError::RowIsColumn(name.clone()));
            }
            if !rows.contains(&at) {
                rows.push(at);
            }
        }
        Ok(Self {
            dimensions,
            has_time: dsd.time_dimension.is_some(),
            keep,
            owners,
            column,
            rows,
        })
    }

    /// The number of the `OWNER` dimension.
    pub fn owner(&self) -> usize {
        self.dimensions.len().saturating_sub(1)
    }

    /// The number of structure dimensions (without `OWNER`).
    pub fn structure_dimensions(&self) -> usize {
        self.owner()
    }

    /// Whether the columns are time periods.
    pub fn time_columns(&self) -> bool {
        self.has_time && self.column + 1 == self.owner()
    }
}

/// Checks that `code` is a value `component` may take.
fn check_code(
    set: &StructureSet,
    component: &Component,
    dsd: &Dsd,
    code: &str,
) -> Result<(), OptionsError> {
    let unknown = |expected: String| OptionsError::UnknownCode {
        dimension: component.id.clone(),
        code: crate::sdmx::shown(code),
        expected,
    };
    let is_time = dsd
        .time_dimension
        .as_ref()
        .is_some_and(|t| t.id == component.id);
    match &component.representation {
        Representation::Coded(reference) => match set.codelist(reference) {
            Some(list) if list.code(code).is_some() => Ok(()),
            _ => Err(unknown(format!("a code of {reference}"))),
        },
        Representation::Text(crate::sdmx::value::DataType::Time(form)) => {
            if form.accepts(code) {
                Ok(())
            } else {
                Err(unknown(form.expected().to_owned()))
            }
        }
        Representation::Text(_) if is_time => {
            if TimeForm::Observational.accepts(code) {
                Ok(())
            } else {
                Err(unknown(TimeForm::Observational.expected().to_owned()))
            }
        }
        Representation::Text(data_type) => {
            if data_type.accepts(code) {
                Ok(())
            } else {
                Err(unknown(data_type.expected().to_owned()))
            }
        }
    }
}
