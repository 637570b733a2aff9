//! What the SDMX-JSON and SDMX-ML readers hand to [`super::resolve`]: the parts of a structure
//! message the node uses, as written, references still unresolved, each with the path of the
//! element it came from so that errors can name it.

/// A structure message as read.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawMessage {
    /// Codelists and value lists.
    pub codelists: Vec<RawCodelist>,
    /// Concept schemes.
    pub concept_schemes: Vec<RawConceptScheme>,
    /// Data structure definitions.
    pub dsds: Vec<RawDsd>,
    /// Dataflows.
    pub dataflows: Vec<RawDataflow>,
}

/// What every maintainable artefact has.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawHead {
    /// Where the artefact is in the message.
    pub path: String,
    /// `agencyID`.
    pub agency: Option<String>,
    /// `id`.
    pub id: Option<String>,
    /// `version` (SDMX's default is 1.0).
    pub version: Option<String>,
    /// The name, in English where the message has several languages.
    pub name: Option<String>,
}

/// A codelist or value list.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawCodelist {
    /// Its id and name.
    pub head: RawHead,
    /// `isPartial`.
    pub partial: bool,
    /// Its codes (or value items).
    pub codes: Vec<RawCode>,
}

/// A code.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawCode {
    /// Where the code is in the message.
    pub path: String,
    /// `id`.
    pub id: Option<String>,
    /// The name.
    pub name: Option<String>,
    /// `parent`: the id of another code of the same codelist.
    pub parent: Option<String>,
}

/// A concept scheme.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawConceptScheme {
    /// Its id and name.
    pub head: RawHead,
    /// Its concepts.
    pub concepts: Vec<RawConcept>,
}

/// A concept.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawConcept {
    /// `id`.
    pub id: Option<String>,
    /// The name.
    pub name: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// `coreRepresentation`: used by components that give no representation of their own.
    pub core: Option<RawRepresentation>,
}

/// A representation: a codelist reference or a text type.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawRepresentation {
    /// Where the representation is in the message.
    pub path: String,
    /// The URN of a codelist or value list.
    pub enumeration: Option<String>,
    /// `textType` (SDMX 2.1 layouts) or `dataType` (SDMX 3.0 layouts).
    pub data_type: Option<String>,
}

/// What an attribute is attached to, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum RawAttachment {
    /// Not given (dimensions, measures, or an attribute that does not say).
    #[default]
    None,
    /// The dataflow or dataset (`dataflow`, SDMX 2.1 `none`).
    Dataflow,
    /// These dimensions.
    Dimensions(Vec<String>),
    /// A group.
    Group(String),
    /// Observations (`observation`, SDMX 2.1 `primaryMeasure`).
    Observation,
}

/// A dimension, time dimension, attribute or measure.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawComponent {
    /// Where the component is in the message.
    pub path: String,
    /// `id`; when absent, the concept identity's id.
    pub id: Option<String>,
    /// The URN of its concept.
    pub concept: Option<String>,
    /// `localRepresentation`.
    pub local: Option<RawRepresentation>,
    /// Attributes and measures: whether mandatory (`usage`, `assignmentStatus`).
    pub mandatory: bool,
    /// Attributes: the attachment.
    pub attachment: RawAttachment,
}

/// A data structure definition.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawDsd {
    /// Its id and name.
    pub head: RawHead,
    /// Dimensions other than time, in document order.
    pub dimensions: Vec<RawComponent>,
    /// Time dimensions (SDMX allows at most one).
    pub time_dimensions: Vec<RawComponent>,
    /// Attributes, in document order.
    pub attributes: Vec<RawComponent>,
    /// Measures (the primary measure in SDMX 2.1 layouts), in document order.
    pub measures: Vec<RawComponent>,
}

/// A dataflow.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawDataflow {
    /// Its id and name.
    pub head: RawHead,
    /// The URN of its data structure definition.
    pub structure: Option<String>,
    /// Where that reference is in the message.
    pub structure_path: String,
}
