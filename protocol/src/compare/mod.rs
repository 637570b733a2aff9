//! Comparing members' figures (docs/design.md section 11): one indicator across the
//! federation, lined up in one table.
//!
//! A structure made for comparison defines its dimensions by the phenomenon (country of
//! residence, country of birth), not by who reports, so what a country of origin says about its
//! emigrants in Thailand and what Thailand counts share a key: mirror statistics. A
//! [`Comparer`] takes the datasets a node holds ([`select`]: the newest version of each whose
//! data were validated against the structure asked for, with the reason for every one left
//! out), reads their SDMX-CSV content ([`observations`]) and lays the observations out
//! ([`table`]): one row per key, one column per owner (or per code of `--columns`), each
//! cell with its OBS_STATUS, confidential cells never shown, summed or spread, and the spread
//! (max - min) / max where two or more owners report a value.
//!
//! Everything here is pure: the daemon feeds content it read from its store, and gets a
//! [`Comparison`] to send to the CLI.

pub mod error;
mod methodology;
pub mod observations;
pub mod options;
pub mod result;
pub mod select;
mod table;

pub use error::{CompareError, OptionsError};
pub use observations::{DatasetReader, ReadOutcome};
pub use options::{Filter, Options, Plan};
pub use result::{
    Cell, Comparison, DimensionLabels, Largest, LeftOut, Methodology, Ordered, Protection, Row,
};
pub use select::{Candidate, Selection, Target};
pub use table::spread;

use crate::Digest;
use crate::sdmx::model::{ArtefactRef, Attribute, Component, Dsd, Representation, StructureSet};
use observations::Codes;
use table::Compared;

/// The name of the pseudo-dimension of owners: the default columns, and a dimension that
/// `--rows` and `--filter` may name.
pub const OWNER: &str = "OWNER";
/// Most observations one comparison holds, over all datasets (after `--filter`).
pub const MAX_OBSERVATIONS: usize = 2_000_000;
/// Most cells (rows times columns) of one comparison's table.
pub const MAX_TABLE_CELLS: usize = 1_000_000;
/// Most codes one `--filter` names.
pub const MAX_FILTER_CODES: usize = 1024;
/// Most UNIT_MEASURE codes a dataset's methodology lists.
pub const MAX_UNITS_SHOWN: usize = 16;

/// The structure compared against, with the lookups labels and sorting need.
pub struct Structure<'s> {
    set: &'s StructureSet,
    dsd: &'s Dsd,
    /// The dimensions, the time dimension last.
    components: Vec<&'s Component>,
    /// The name of the dataflow or structure asked for.
    name: String,
}

impl<'s> Structure<'s> {
    /// The structure `asked` of `set`: a dataflow (and the DSD it uses) or a DSD.
    pub fn new(set: &'s StructureSet, asked: &ArtefactRef) -> Option<Self> {
        let (dsd, name) = match set.dataflow(asked) {
            Some(flow) => (set.dsd(&flow.structure)?, flow.name.clone()),
            None => {
                let dsd = set.dsd(asked)?;
                (dsd, dsd.name.clone())
            }
        };
        Some(Self {
            set,
            dsd,
            components: dsd.dimensions.iter().chain(&dsd.time_dimension).collect(),
            name: name.unwrap_or_else(|| asked.to_string()),
        })
    }

    fn codelist_of(&self, component: &Component) -> Option<&'s crate::sdmx::model::Codelist> {
        match &component.representation {
            Representation::Coded(reference) => self.set.codelist(reference),
            Representation::Text(_) => None,
        }
    }

    /// Where `code` stands in the codelist of dimension `d` (`None` when uncoded).
    fn position(&self, d: usize, code: &str) -> Option<usize> {
        let list = self.codelist_of(self.components.get(d)?)?;
        list.codes.iter().position(|c| c.id == code)
    }

    /// The name of `code` of dimension `d`.
    fn code_name(&self, d: usize, code: &str) -> Option<String> {
        let list = self.codelist_of(self.components.get(d)?)?;
        list.code(code)?.name.clone()
    }

    /// The concept name of dimension `d`.
    fn dimension_name(&self, d: usize) -> Option<String> {
        self.components.get(d)?.concept.as_ref()?.name.clone()
    }

    /// The name of a UNIT_MEASURE code.
    fn unit_name(&self, code: &str) -> Option<String> {
        let unit: &Attribute = self
            .dsd
            .attributes
            .iter()
            .find(|a| a.component.id == "UNIT_MEASURE")?;
        self.codelist_of(&unit.component)?.code(code)?.name.clone()
    }
}

/// One comparison being made: the datasets are selected, then read one by one, then laid out.
pub struct Comparer<'s> {
    structure: Structure<'s>,
    target: Target,
    plan: Plan,
    codes: Codes,
    /// Observations kept so far.
    kept: usize,
    datasets: Vec<Compared>,
    left_out: Vec<LeftOut>,
    /// Whether the comparison ran over [`MAX_OBSERVATIONS`].
    too_many: bool,
}

impl<'s> Comparer<'s> {
    /// A comparison of the structure `asked` (a dataflow or DSD id that `set`, the structure
    /// message with digest `sha256`, defines) with `options`.
    pub fn new(
        set: &'s StructureSet,
        asked: &str,
        sha256: Digest,
        options: &Options,
    ) -> Result<Self, OptionsError> {
        let reference: ArtefactRef = asked.parse()?;
        let Some(structure) = Structure::new(set, &reference) else {
            return Err(OptionsError::UnknownDimension {
                dimension: asked.to_owned(),
                known: "none: the structure message does not define it".to_owned(),
            });
        };
        let plan = Plan::new(set, structure.dsd, options)?;
        let target = Target {
            asked: asked.to_owned(),
            reference,
            dsd: structure.dsd.reference.clone(),
            sha256,
        };
        Ok(Self {
            codes: Codes::new(plan.structure_dimensions()),
            structure,
            target,
            plan,
            kept: 0,
            datasets: Vec::new(),
            left_out: Vec::new(),
            too_many: false,
        })
    }

    /// Chooses among the datasets held: returns those to read (the most recently issued
    /// first) and remembers the others that name the structure, with the reason.
    pub fn select(&mut self, candidates: Vec<Candidate>) -> Vec<Candidate> {
        let selection = select::select(&self.target, candidates, self.plan.owners.as_ref());
        self.left_out.extend(selection.left_out);
        selection.chosen
    }

    /// Reads the content of `candidate` through `fill`, which feeds it to the reader in chunks.
    pub fn read<E>(
        &mut self,
        candidate: Candidate,
        fill: impl FnOnce(&mut DatasetReader<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut reader = DatasetReader::new(
            &self.plan,
            self.structure.dsd,
            &mut self.codes,
            &mut self.kept,
        );
        fill(&mut reader)?;
        match reader.finish() {
            ReadOutcome::Read(observations) => self.datasets.push(Compared {
                candidate,
                observations,
            }),
            ReadOutcome::Unreadable(reason) => self.left_out.push(LeftOut {
                dataset: candidate.dataset.to_string(),
                reason,
            }),
            ReadOutcome::TooMany => self.too_many = true,
        }
        Ok(())
    }

    /// The datasets left out so far, with the reason.
    pub fn left_out(&self) -> &[LeftOut] {
        &self.left_out
    }

    /// Whether no further dataset need be read: the comparison is already too large.
    pub fn is_full(&self) -> bool {
        self.too_many
    }

    /// Lays the datasets read out as the comparison.
    pub fn finish(self) -> Result<Comparison, CompareError> {
        if self.too_many {
            return Err(CompareError::TooManyObservations);
        }
        let mut left_out = self.left_out;
        let width = self.plan.structure_dimensions();
        let datasets = table::settle_owners(self.datasets, width, &mut left_out);
        let axes = table::Axes::new(&self.structure, &self.codes, &datasets);
        let shape = table::shape(&self.plan, &axes, &datasets)?;
        let laid = table::lay_out(&self.plan, &axes, &shape, &datasets, &self.codes)?;
        let mut methodology: Vec<Methodology> = datasets
            .iter()
            .map(|d| methodology::of(&self.structure, d))
            .collect();
        methodology.sort_by(|a, b| a.owner.cmp(&b.owner).then(a.dataset.cmp(&b.dataset)));
        left_out.sort_by(|a, b| a.dataset.cmp(&b.dataset));
        Ok(Comparison {
            structure: self.target.asked,
            name: self.structure.name.clone(),
            column_dimension: self
                .plan
                .dimensions
                .get(self.plan.column)
                .cloned()
                .unwrap_or_default(),
            time_columns: self.plan.time_columns(),
            columns: laid.columns,
            row_dimensions: shape
                .rows
                .iter()
                .filter_map(|&d| self.plan.dimensions.get(d).cloned())
                .collect(),
            fixed: Ordered(
                shape
                    .fixed
                    .iter()
                    .filter_map(|&(d, c)| {
                        let name = self.plan.dimensions.get(d)?.clone();
                        let code = axes.texts.get(d)?.get(usize::try_from(c).ok()?)?.clone();
                        Some((name, code))
                    })
                    .collect(),
            ),
            rows: laid.rows,
            compared_keys: laid.compared_keys,
            largest: laid.largest,
            unit: methodology::common_unit(&methodology),
            labels: table::labels(&self.structure, &self.plan, &axes),
            methodology,
            left_out,
        })
    }
}

/// Compares datasets whose whole content is at hand: `candidates` with their SDMX-CSV bytes.
/// The daemon reads content in chunks through [`Comparer`] instead.
pub fn compare(
    set: &StructureSet,
    asked: &str,
    sha256: Digest,
    options: &Options,
    candidates: Vec<(Candidate, &[u8])>,
) -> Result<Comparison, CompareError> {
    let mut comparer = Comparer::new(set, asked, sha256, options)?;
    let (metas, contents): (Vec<Candidate>, Vec<&[u8]>) = candidates.into_iter().unzip();
    let content_of: std::collections::HashMap<String, &[u8]> = metas
        .iter()
        .map(|c| c.dataset.to_string())
        .zip(contents)
        .collect();
    for candidate in comparer.select(metas) {
        let bytes = content_of
            .get(&candidate.dataset.to_string())
            .copied()
            .unwrap_or_default();
        comparer
            .read(candidate, |reader| {
                reader.feed(bytes);
                Ok::<(), std::convert::Infallible>(())
            })
            .unwrap_or(());
        if comparer.is_full() {
            break;
        }
    }
    comparer.finish()
}
