//! One model of an SDMX structure message, whichever format it was read from: data structure
//! definitions (dimensions in order, the time dimension, attributes with their usage and
//! attachment, measures with their representation), codelists with their code hierarchy,
//! concept names and descriptions, and dataflows referencing data structure definitions.
//!
//! A [`StructureSet`] is only built by [`super::resolve`], which guarantees that every reference
//! in it resolves inside the set and that every id is well-formed.

use std::fmt;
use std::str::FromStr;

use super::value::DataType;

/// The id of a maintainable artefact: `AGENCY:ID(VERSION)`, as SDMX-CSV's `STRUCTURE_ID` and the
/// announcement's `meta.structures` write it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArtefactRef {
    /// The maintenance agency, e.g. `BPX` or `OECD.SDD`.
    pub agency: String,
    /// The artefact's id within the agency, e.g. `DSD_MIG_STOCK`.
    pub id: String,
    /// The artefact's version, e.g. `1.0`.
    pub version: String,
}

impl fmt::Display for ArtefactRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}({})", self.agency, self.id, self.version)
    }
}

/// Why a text is not of the form `AGENCY:ID(VERSION)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a structure id of the form AGENCY:ID(VERSION)")]
pub struct ArtefactRefError(pub String);

impl FromStr for ArtefactRef {
    type Err = ArtefactRefError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ArtefactRefError(super::shown(text));
        let (agency, rest) = text.split_once(':').ok_or_else(bad)?;
        let (id, version) = rest
            .strip_suffix(')')
            .and_then(|rest| rest.split_once('('))
            .ok_or_else(bad)?;
        let ok = super::ids::is_agency(agency)
            && super::ids::is_artefact_id(id)
            && super::ids::is_version(version);
        if !ok {
            return Err(bad());
        }
        Ok(Self {
            agency: agency.to_owned(),
            id: id.to_owned(),
            version: version.to_owned(),
        })
    }
}

/// The two kinds of structure that data can name in SDMX-CSV's `STRUCTURE` column and that
/// `datapact structures` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StructureKind {
    /// A data structure definition.
    DataStructure,
    /// A dataflow, which uses a data structure definition.
    Dataflow,
}

impl StructureKind {
    /// The name SDMX-CSV writes in its `STRUCTURE` column: `datastructure` or `dataflow`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DataStructure => "datastructure",
            Self::Dataflow => "dataflow",
        }
    }
}

impl fmt::Display for StructureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything one structure message defines that the node uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StructureSet {
    /// Codelists and value lists, in document order.
    pub codelists: Vec<Codelist>,
    /// Data structure definitions, in document order.
    pub dsds: Vec<Dsd>,
    /// Dataflows, in document order.
    pub dataflows: Vec<Dataflow>,
}

/// A codelist (or value list): the codes a coded component may take.
#[derive(Debug, Clone, PartialEq)]
pub struct Codelist {
    /// Its id.
    pub reference: ArtefactRef,
    /// Its name, when the message gives one.
    pub name: Option<String>,
    /// Whether the message lists only some of its codes (`isPartial`, as registries send for
    /// constrained dataflows); validation then uses the codes listed.
    pub partial: bool,
    /// The codes, in document order.
    pub codes: Vec<Code>,
    /// Where the codelist is defined in the message, for error messages.
    pub path: String,
}

impl Codelist {
    /// The code with this id, if listed.
    pub fn code(&self, id: &str) -> Option<&Code> {
        self.codes.iter().find(|code| code.id == id)
    }
}

/// One code of a codelist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// The code itself, as data carries it (`F`, `_T`).
    pub id: String,
    /// What it means, when the message says.
    pub name: Option<String>,
    /// The code it is part of in the codelist's hierarchy (totals are computed from it).
    pub parent: Option<String>,
}

/// A data structure definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Dsd {
    /// Its id.
    pub reference: ArtefactRef,
    /// Its name, when the message gives one.
    pub name: Option<String>,
    /// The dimensions other than time, in the order of the document (not of `position`,
    /// which real files count from 0 or from 1).
    pub dimensions: Vec<Component>,
    /// The time dimension, if the structure has one.
    pub time_dimension: Option<Component>,
    /// The attributes, in document order.
    pub attributes: Vec<Attribute>,
    /// The measures, in document order (SDMX 2.1 structures have one, the primary measure).
    pub measures: Vec<Measure>,
    /// Where the structure is defined in the message, for error messages.
    pub path: String,
}

impl Dsd {
    /// The dimension ids in key order, the time dimension last.
    pub fn dimension_ids(&self) -> Vec<String> {
        self.dimensions
            .iter()
            .chain(&self.time_dimension)
            .map(|component| component.id.clone())
            .collect()
    }

    /// Every codelist the structure's components use.
    pub fn codelist_refs(&self) -> impl Iterator<Item = &ArtefactRef> {
        let dimensions = self.dimensions.iter().chain(&self.time_dimension);
        let attributes = self.attributes.iter().map(|a| &a.component);
        let measures = self.measures.iter().map(|m| &m.component);
        dimensions
            .chain(attributes)
            .chain(measures)
            .filter_map(|component| match &component.representation {
                Representation::Coded(reference) => Some(reference),
                Representation::Text(_) => None,
            })
    }

    /// Whether `other` defines the same components: ids, order, roles, representation, usage
    /// and attachment. Names and descriptions may differ.
    pub fn same_components(&self, other: &Dsd) -> bool {
        fn same(a: &[Component], b: &[Component]) -> bool {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.same_as(b))
        }
        let same_time = match (&self.time_dimension, &other.time_dimension) {
            (Some(a), Some(b)) => a.same_as(b),
            (None, None) => true,
            _ => false,
        };
        let same_attributes = self.attributes.len() == other.attributes.len()
            && self.attributes.iter().zip(&other.attributes).all(|(a, b)| {
                a.component.same_as(&b.component)
                    && a.mandatory == b.mandatory
                    && a.attachment == b.attachment
            });
        let same_measures = self.measures.len() == other.measures.len()
            && self
                .measures
                .iter()
                .zip(&other.measures)
                .all(|(a, b)| a.component.same_as(&b.component) && a.mandatory == b.mandatory);
        same(&self.dimensions, &other.dimensions) && same_time && same_attributes && same_measures
    }
}

/// A dimension, attribute or measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// Its id: the column name in SDMX-CSV.
    pub id: String,
    /// The concept it takes its meaning from, when the message defines it.
    pub concept: Option<Concept>,
    /// The values it may take.
    pub representation: Representation,
}

impl Component {
    /// Same id and representation.
    fn same_as(&self, other: &Component) -> bool {
        self.id == other.id && self.representation == other.representation
    }
}

/// What a concept says about a component: its name and description (a concept missing from
/// the message only loses these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concept {
    /// The concept's id in its scheme, e.g. `SEX`.
    pub id: String,
    /// The concept scheme it belongs to.
    pub scheme: ArtefactRef,
    /// Its name, when given.
    pub name: Option<String>,
    /// Its description, when given.
    pub description: Option<String>,
}

/// The values a component may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Representation {
    /// A code of this codelist (or value list), which the set holds.
    Coded(ArtefactRef),
    /// Uncoded text of this data type.
    Text(DataType),
}

/// An attribute of a data structure definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// Its id, concept and representation.
    pub component: Component,
    /// Whether data must give it (SDMX 3.0 `usage="mandatory"`, SDMX 2.1 `Mandatory`).
    pub mandatory: bool,
    /// What it is attached to.
    pub attachment: Attachment,
}

/// What an attribute's value is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attachment {
    /// The whole dataflow (dataset).
    Dataflow,
    /// These dimensions (series or partial keys).
    Dimensions(Vec<String>),
    /// A group of the structure.
    Group(String),
    /// Each observation.
    Observation,
    /// The message does not say.
    Unspecified,
}

/// A measure of a data structure definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// Its id, concept and representation.
    pub component: Component,
    /// Whether every observation must give a value (SDMX 3.0 `usage="mandatory"`; the SDMX 2.1
    /// primary measure is not).
    pub mandatory: bool,
}

/// A dataflow: data reported against a data structure definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataflow {
    /// Its id.
    pub reference: ArtefactRef,
    /// Its name, when the message gives one.
    pub name: Option<String>,
    /// The data structure definition it uses, which the set holds.
    pub structure: ArtefactRef,
    /// Where the dataflow is defined in the message, for error messages.
    pub path: String,
}

impl StructureSet {
    /// The codelist with this id.
    pub fn codelist(&self, reference: &ArtefactRef) -> Option<&Codelist> {
        self.codelists.iter().find(|cl| &cl.reference == reference)
    }

    /// The data structure definition with this id.
    pub fn dsd(&self, reference: &ArtefactRef) -> Option<&Dsd> {
        self.dsds.iter().find(|dsd| &dsd.reference == reference)
    }

    /// The dataflow with this id.
    pub fn dataflow(&self, reference: &ArtefactRef) -> Option<&Dataflow> {
        self.dataflows.iter().find(|df| &df.reference == reference)
    }

    /// The data structure definition that data of this kind and id is reported against: the
    /// DSD itself, or the one a dataflow uses.
    pub fn dsd_for(&self, kind: StructureKind, reference: &ArtefactRef) -> Option<&Dsd> {
        match kind {
            StructureKind::DataStructure => self.dsd(reference),
            StructureKind::Dataflow => self.dsd(&self.dataflow(reference)?.structure),
        }
    }

    /// The id, as `AGENCY:ID(VERSION)`, of every DSD and dataflow the message defines, DSDs
    /// first, each in document order: what the announcement's `meta.structures` records.
    pub fn defined_ids(&self) -> Vec<String> {
        let dsds = self.dsds.iter().map(|dsd| dsd.reference.to_string());
        let flows = self.dataflows.iter().map(|df| df.reference.to_string());
        dsds.chain(flows).collect()
    }

    /// Whether any codelist that this DSD uses is partial.
    pub fn uses_partial_codelist(&self, dsd: &Dsd) -> bool {
        dsd.codelist_refs()
            .any(|reference| self.codelist(reference).is_some_and(|cl| cl.partial))
    }
}
