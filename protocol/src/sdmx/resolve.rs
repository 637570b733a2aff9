//! Reading a structure message into the [model](super::model): picks the reader by content
//! (SDMX-JSON or SDMX-ML), then checks and resolves what it read. Every id must be well-formed,
//! and every codelist (or value list) and data structure definition a component or dataflow
//! references must be defined in the message itself: there is no registry to look elsewhere.
//! A concept missing from the message only loses its name. Errors name the path of the
//! offending element.

use std::collections::{HashMap, HashSet};

use super::ids::{is_agency, is_artefact_id, is_code_id, is_component_id, is_version};
use super::model::{
    ArtefactRef, Attachment, Attribute, Code, Codelist, Component, Concept, Dataflow, Dsd, Measure,
    Representation, StructureSet,
};
use super::raw::{
    RawAttachment, RawCode, RawCodelist, RawComponent, RawConceptScheme, RawDataflow, RawDsd,
    RawHead, RawMessage, RawRepresentation,
};
use super::shown;
use super::time_period::TimeForm;
use super::value::DataType;

/// Largest structure message accepted, in bytes. Real messages of one domain are well under a
/// megabyte; a registry's complete codelist of countries is about 100 KiB.
pub const MAX_STRUCTURE_MESSAGE_LEN: usize = 16 << 20;

/// Longest id (of an agency, artefact, component or code) accepted, in characters.
pub const MAX_ID_LEN: usize = 255;

/// Why a structure message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StructureError {
    /// The message is larger than [`MAX_STRUCTURE_MESSAGE_LEN`].
    #[error("the structure message is larger than {max} bytes")]
    TooLarge {
        /// [`MAX_STRUCTURE_MESSAGE_LEN`].
        max: usize,
    },
    /// A document of another kind: neither JSON nor XML, JSON whose `data` holds no
    /// `dataStructures`, or XML whose root element is not `Structure`. A node releases such a
    /// file as a dataset like any other.
    #[error("not an SDMX structure message: {reason}")]
    OtherDocument {
        /// What was found instead.
        reason: String,
    },
    /// A structure message this reader does not take: one that defines no data structure
    /// definition, or an SDMX-ML `Structure` message of another version than 3.x.
    #[error("not an SDMX structure message: {reason}")]
    NotAStructureMessage {
        /// What was found instead.
        reason: String,
    },
    /// The JSON or XML itself is malformed.
    #[error("malformed {format}: {detail}")]
    Malformed {
        /// `JSON` or `XML`.
        format: &'static str,
        /// The parser's message, with its position.
        detail: String,
    },
    /// A codelist or data structure definition is referenced but not defined in the message.
    #[error("{path}: {what} {reference} is not defined in the message")]
    Unresolved {
        /// Path of the reference.
        path: String,
        /// `codelist` or `data structure definition`.
        what: &'static str,
        /// The reference as written (possibly cut short).
        reference: String,
    },
    /// Any other problem with one element.
    #[error("{path}: {problem}")]
    Invalid {
        /// Path of the element.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl StructureError {
    fn invalid(path: &str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Reads a structure message in SDMX-JSON (1.0 or 2.0/2.1 layout, whatever `meta.schema`
/// says) or SDMX-ML 3.0, recognised by its content.
pub fn parse_structure_message(bytes: &[u8]) -> Result<StructureSet, StructureError> {
    if bytes.len() > MAX_STRUCTURE_MESSAGE_LEN {
        return Err(StructureError::TooLarge {
            max: MAX_STRUCTURE_MESSAGE_LEN,
        });
    }
    let text = bytes.strip_prefix(&super::csv::BOM[..]).unwrap_or(bytes);
    let start = text.iter().find(|b| !b.is_ascii_whitespace());
    let raw = match start {
        Some(b'{') => super::json::read(text)?,
        Some(b'<') => super::xml::read(text)?,
        _ => {
            return Err(StructureError::OtherDocument {
                reason: "expected SDMX-JSON (starting with {) or SDMX-ML (starting with <)".into(),
            });
        }
    };
    resolve(raw)
}

/// True when `bytes` look like a structure message: JSON with a `dataStructures` member, or XML
/// in an SDMX-ML namespace with a `Structure` element. This only sniffs, to decide whether a
/// file is released as a structure; [`parse_structure_message`] then checks it.
pub fn looks_like_structure_message(bytes: &[u8]) -> bool {
    let text = bytes.strip_prefix(&super::csv::BOM[..]).unwrap_or(bytes);
    let contains = |needle: &[u8]| text.windows(needle.len()).any(|window| window == needle);
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => contains(b"\"dataStructures\""),
        Some(b'<') => contains(b"sdmx.org/resources/sdmxml/schemas/") && contains(b"Structure"),
        _ => false,
    }
}

/// Checks and resolves what a reader read.
pub(crate) fn resolve(raw: RawMessage) -> Result<StructureSet, StructureError> {
    if raw.dsds.is_empty() {
        return Err(StructureError::NotAStructureMessage {
            reason: "it defines no data structure definition".into(),
        });
    }
    let RawMessage {
        codelists: raw_codelists,
        concept_schemes,
        dsds,
        dataflows,
    } = raw;
    let mut defined = HashSet::new();
    let mut codelists = Vec::with_capacity(raw_codelists.len());
    for cl in raw_codelists {
        let codelist = codelist(cl)?;
        unique(
            &mut defined,
            "codelist",
            &codelist.reference,
            &codelist.path,
        )?;
        codelists.push(codelist);
    }
    let concepts = concepts(&concept_schemes)?;
    let mut set = StructureSet {
        codelists,
        ..StructureSet::default()
    };
    for raw_dsd in dsds {
        let dsd = dsd(raw_dsd, &set, &concepts)?;
        unique(&mut defined, "data structure", &dsd.reference, &dsd.path)?;
        set.dsds.push(dsd);
    }
    for raw_flow in dataflows {
        let flow = dataflow(raw_flow, &set)?;
        unique(&mut defined, "dataflow", &flow.reference, &flow.path)?;
        set.dataflows.push(flow);
    }
    Ok(set)
}

/// Refuses a second definition of the same kind and id in one message.
fn unique(
    defined: &mut HashSet<(&'static str, ArtefactRef)>,
    kind: &'static str,
    reference: &ArtefactRef,
    path: &str,
) -> Result<(), StructureError> {
    if defined.insert((kind, reference.clone())) {
        Ok(())
    } else {
        Err(StructureError::invalid(
            path,
            format!("{kind} {reference} is defined twice in the message"),
        ))
    }
}

/// An artefact's id, checked.
fn reference(head: &RawHead) -> Result<ArtefactRef, StructureError> {
    let path = &head.path;
    let agency = required(path, "agencyID", &head.agency)?;
    let id = required(path, "id", &head.id)?;
    let version = head.version.as_deref().unwrap_or("1.0");
    check(path, "agency id", agency, is_agency)?;
    check(path, "id", id, is_artefact_id)?;
    check(path, "version", version, is_version)?;
    Ok(ArtefactRef {
        agency: agency.to_owned(),
        id: id.to_owned(),
        version: version.to_owned(),
    })
}

fn required<'a>(
    path: &str,
    field: &str,
    value: &'a Option<String>,
) -> Result<&'a str, StructureError> {
    value
        .as_deref()
        .ok_or_else(|| StructureError::invalid(path, format!("{field} is missing")))
}

fn check(path: &str, what: &str, value: &str, ok: fn(&str) -> bool) -> Result<(), StructureError> {
    if ok(value) {
        Ok(())
    } else {
        Err(StructureError::invalid(
            path,
            format!("{what} {:?} is not well-formed", shown(value)),
        ))
    }
}

fn codelist(raw: RawCodelist) -> Result<Codelist, StructureError> {
    let reference = reference(&raw.head)?;
    let mut seen = HashSet::with_capacity(raw.codes.len());
    let mut codes = Vec::with_capacity(raw.codes.len());
    for RawCode {
        path,
        id,
        name,
        parent,
    } in raw.codes
    {
        let id = required(&path, "id", &id)?.to_owned();
        check(&path, "code", &id, is_code_id)?;
        if !seen.insert(id.clone()) {
            return Err(StructureError::invalid(
                &path,
                format!("code {id} is listed twice"),
            ));
        }
        codes.push((path, Code { id, name, parent }));
    }
    for (path, code) in &codes {
        if let Some(parent) = &code.parent
            && !seen.contains(parent)
        {
            return Err(StructureError::invalid(
                path,
                format!(
                    "parent {:?} of code {} is not in codelist {reference}",
                    shown(parent),
                    code.id
                ),
            ));
        }
    }
    check_hierarchy(&codes, &reference)?;
    Ok(Codelist {
        reference,
        name: raw.head.name,
        partial: raw.partial,
        codes: codes.into_iter().map(|(_, code)| code).collect(),
        path: raw.head.path,
    })
}

/// Refuses a code that is its own ancestor: totals computed from the hierarchy must end.
fn check_hierarchy(
    codes: &[(String, Code)],
    reference: &ArtefactRef,
) -> Result<(), StructureError> {
    let parents: HashMap<&str, &str> = codes
        .iter()
        .filter_map(|(_, code)| Some((code.id.as_str(), code.parent.as_deref()?)))
        .collect();
    for (path, code) in codes {
        let mut current = code.id.as_str();
        for _ in 0..=codes.len() {
            match parents.get(current) {
                Some(&parent) if parent == code.id => {
                    return Err(StructureError::invalid(
                        path,
                        format!(
                            "code {} of codelist {reference} is its own ancestor",
                            code.id
                        ),
                    ));
                }
                Some(&parent) => current = parent,
                None => break,
            }
        }
    }
    Ok(())
}

/// What a concept contributes: its name, description and core representation.
struct ConceptEntry<'a> {
    name: Option<String>,
    description: Option<String>,
    core: Option<&'a RawRepresentation>,
}

fn concepts(
    schemes: &[RawConceptScheme],
) -> Result<HashMap<(ArtefactRef, String), ConceptEntry<'_>>, StructureError> {
    let mut out = HashMap::new();
    for scheme in schemes {
        let scheme_ref = reference(&scheme.head)?;
        for concept in &scheme.concepts {
            let Some(id) = &concept.id else { continue };
            let entry = ConceptEntry {
                name: concept.name.clone(),
                description: concept.description.clone(),
                core: concept.core.as_ref(),
            };
            out.insert((scheme_ref.clone(), id.clone()), entry);
        }
    }
    Ok(out)
}

/// The parts of an SDMX URN (`urn:sdmx:org.sdmx.infomodel.codelist.Codelist=BPX:CL_SEX(1.0)`)
/// or of a bare `AGENCY:ID(VERSION)`: the artefact and, for an item, its id.
pub(crate) fn parse_urn(urn: &str) -> Option<(ArtefactRef, Option<&str>)> {
    let body = match urn.split_once('=') {
        Some((class, body)) if class.starts_with("urn:sdmx:") || !class.contains(':') => body,
        Some(_) => return None,
        None => urn,
    };
    let close = body.rfind(')')?;
    let (artefact, item) = body.split_at(close.saturating_add(1));
    let item = match item {
        "" => None,
        item => Some(item.strip_prefix('.')?),
    };
    Some((artefact.parse().ok()?, item))
}

fn dsd(
    raw: RawDsd,
    set: &StructureSet,
    concepts: &HashMap<(ArtefactRef, String), ConceptEntry<'_>>,
) -> Result<Dsd, StructureError> {
    let reference = reference(&raw.head)?;
    let resolver = ComponentResolver { set, concepts };
    if raw.time_dimensions.len() > 1 {
        let path = raw
            .time_dimensions
            .get(1)
            .map_or(raw.head.path.as_str(), |c| c.path.as_str());
        return Err(StructureError::invalid(
            path,
            "a data structure has at most one time dimension",
        ));
    }
    if raw.dimensions.is_empty() && raw.time_dimensions.is_empty() {
        return Err(StructureError::invalid(
            &raw.head.path,
            "the data structure has no dimension",
        ));
    }
    let text = DataType::String;
    let time = DataType::Time(TimeForm::Observational);
    let dimensions = raw
        .dimensions
        .iter()
        .map(|c| resolver.component(c, &text))
        .collect::<Result<Vec<_>, _>>()?;
    let time_dimension = raw
        .time_dimensions
        .first()
        .map(|c| resolver.component(c, &time))
        .transpose()?;
    let dimension_ids: HashSet<&str> = dimensions
        .iter()
        .chain(&time_dimension)
        .map(|d| d.id.as_str())
        .collect();
    let mut attributes = Vec::with_capacity(raw.attributes.len());
    for c in &raw.attributes {
        attributes.push(Attribute {
            component: resolver.component(c, &text)?,
            mandatory: c.mandatory,
            attachment: attachment(c, &dimension_ids)?,
        });
    }
    let mut measures = Vec::with_capacity(raw.measures.len());
    for c in &raw.measures {
        let component = resolver.component(c, &text)?;
        measures.push(Measure {
            component,
            mandatory: c.mandatory,
        });
    }
    let dsd = Dsd {
        reference,
        name: raw.head.name,
        dimensions,
        time_dimension,
        attributes,
        measures,
        path: raw.head.path,
    };
    distinct_components(&dsd, &raw.attributes, &raw.measures)?;
    Ok(dsd)
}

/// Refuses two components with one id: SDMX-CSV could not tell their columns apart.
fn distinct_components(
    dsd: &Dsd,
    attributes: &[RawComponent],
    measures: &[RawComponent],
) -> Result<(), StructureError> {
    let mut seen = HashSet::new();
    let ids = dsd
        .dimensions
        .iter()
        .chain(&dsd.time_dimension)
        .chain(dsd.attributes.iter().map(|a| &a.component))
        .chain(dsd.measures.iter().map(|m| &m.component));
    for component in ids {
        if !seen.insert(component.id.as_str()) {
            let path = attributes
                .iter()
                .chain(measures)
                .find(|c| c.id.as_deref() == Some(component.id.as_str()))
                .map_or(dsd.path.as_str(), |c| c.path.as_str());
            return Err(StructureError::invalid(
                path,
                format!(
                    "component {} is defined twice in {}",
                    component.id, dsd.reference
                ),
            ));
        }
        if matches!(
            component.id.as_str(),
            "STRUCTURE" | "STRUCTURE_ID" | "ACTION" | "SERIES_KEY" | "OBS_KEY" | "DATAFLOW"
        ) {
            return Err(StructureError::invalid(
                &dsd.path,
                format!("component id {} is reserved by SDMX-CSV", component.id),
            ));
        }
    }
    Ok(())
}

fn attachment(c: &RawComponent, dimensions: &HashSet<&str>) -> Result<Attachment, StructureError> {
    Ok(match &c.attachment {
        RawAttachment::None => Attachment::Unspecified,
        RawAttachment::Dataflow => Attachment::Dataflow,
        RawAttachment::Observation => Attachment::Observation,
        RawAttachment::Group(group) => Attachment::Group(group.clone()),
        RawAttachment::Dimensions(ids) => {
            if let Some(unknown) = ids.iter().find(|id| !dimensions.contains(id.as_str())) {
                return Err(StructureError::invalid(
                    &c.path,
                    format!(
                        "the attribute is attached to {:?}, which is not a dimension",
                        shown(unknown)
                    ),
                ));
            }
            Attachment::Dimensions(ids.clone())
        }
    })
}

/// Resolves a component's id, concept and representation against the message.
struct ComponentResolver<'a> {
    set: &'a StructureSet,
    concepts: &'a HashMap<(ArtefactRef, String), ConceptEntry<'a>>,
}

impl ComponentResolver<'_> {
    fn component(
        &self,
        raw: &RawComponent,
        default: &DataType,
    ) -> Result<Component, StructureError> {
        let concept_ref = match &raw.concept {
            Some(urn) => Some(
                parse_urn(urn)
                    .and_then(|(scheme, item)| Some((scheme, item?.to_owned())))
                    .ok_or_else(|| {
                        StructureError::invalid(
                            &raw.path,
                            format!("concept identity {:?} is not a concept URN", shown(urn)),
                        )
                    })?,
            ),
            None => None,
        };
        let id = match (&raw.id, &concept_ref) {
            (Some(id), _) => id.clone(),
            (None, Some((_, concept_id))) => concept_id.clone(),
            (None, None) => {
                return Err(StructureError::invalid(
                    &raw.path,
                    "the component has neither an id nor a concept identity",
                ));
            }
        };
        check(&raw.path, "component id", &id, is_component_id)?;
        let entry = concept_ref.as_ref().and_then(|key| self.concepts.get(key));
        let concept = concept_ref.as_ref().map(|(scheme, concept_id)| Concept {
            id: concept_id.clone(),
            scheme: scheme.clone(),
            name: entry.and_then(|e| e.name.clone()),
            description: entry.and_then(|e| e.description.clone()),
        });
        let written = raw.local.as_ref().or(entry.and_then(|e| e.core));
        let representation = match written {
            Some(repr) => self.representation(repr, default)?,
            None => Representation::Text(default.clone()),
        };
        Ok(Component {
            id,
            concept,
            representation,
        })
    }

    fn representation(
        &self,
        raw: &RawRepresentation,
        default: &DataType,
    ) -> Result<Representation, StructureError> {
        if let Some(urn) = &raw.enumeration {
            let (reference, item) = parse_urn(urn).ok_or_else(|| {
                StructureError::invalid(
                    &raw.path,
                    format!("enumeration {:?} is not a codelist URN", shown(urn)),
                )
            })?;
            if item.is_some() || self.set.codelist(&reference).is_none() {
                return Err(StructureError::Unresolved {
                    path: raw.path.clone(),
                    what: "codelist",
                    reference: shown(urn),
                });
            }
            return Ok(Representation::Coded(reference));
        }
        Ok(Representation::Text(match &raw.data_type {
            Some(name) => DataType::from_name(name),
            None => default.clone(),
        }))
    }
}

fn dataflow(raw: RawDataflow, set: &StructureSet) -> Result<Dataflow, StructureError> {
    let reference = reference(&raw.head)?;
    let urn = required(&raw.head.path, "structure", &raw.structure)?;
    let structure = parse_urn(urn)
        .filter(|(dsd, item)| item.is_none() && set.dsd(dsd).is_some())
        .map(|(dsd, _)| dsd)
        .ok_or_else(|| StructureError::Unresolved {
            path: raw.structure_path.clone(),
            what: "data structure definition",
            reference: shown(urn),
        })?;
    Ok(Dataflow {
        reference,
        name: raw.head.name,
        structure,
        path: raw.head.path,
    })
}
