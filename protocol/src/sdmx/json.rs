//! The SDMX-JSON structure message reader, for both layouts found in real files, whatever
//! their `meta.schema` claims: the SDMX 2.1 layout of SDMX-JSON 1.0 (`primaryMeasure`,
//! `assignmentStatus`, `textFormat.textType`, `timeDimensions`) and the SDMX 3.0 layout of
//! SDMX-JSON 2.0 and 2.1 (`measures`, `usage`, `format.dataType`, `timeDimension`).
//!
//! Serde types of our own pick out what the node uses; every other member (annotations, links,
//! agency schemes, constraints, categorisations, ...) is ignored. [`super::resolve`] then
//! checks and resolves the result. Input size is capped by the caller
//! ([`MAX_STRUCTURE_MESSAGE_LEN`](super::resolve::MAX_STRUCTURE_MESSAGE_LEN)); `serde_json`
//! caps nesting depth.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::raw::{
    RawAttachment, RawCode, RawCodelist, RawComponent, RawConcept, RawConceptScheme, RawDataflow,
    RawDsd, RawHead, RawMessage, RawRepresentation,
};
use super::resolve::StructureError;

#[derive(Deserialize)]
struct Message {
    data: Option<Data>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Data {
    data_structures: Option<Vec<JsonDsd>>,
    codelists: Vec<JsonCodelist>,
    value_lists: Vec<JsonValueList>,
    concept_schemes: Vec<JsonConceptScheme>,
    dataflows: Vec<JsonDataflow>,
}

/// What every maintainable artefact has.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Head {
    #[serde(rename = "agencyID")]
    agency_id: Option<String>,
    id: Option<String>,
    version: Option<String>,
    name: Option<Value>,
    names: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonCodelist {
    #[serde(flatten)]
    head: Head,
    is_partial: Option<bool>,
    codes: Vec<JsonItem>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonValueList {
    #[serde(flatten)]
    head: Head,
    value_items: Vec<JsonItem>,
}

/// A code, value item or concept.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonItem {
    id: Option<String>,
    name: Option<Value>,
    names: Option<BTreeMap<String, String>>,
    description: Option<Value>,
    descriptions: Option<BTreeMap<String, String>>,
    parent: Option<String>,
    core_representation: Option<JsonRepresentation>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonConceptScheme {
    #[serde(flatten)]
    head: Head,
    concepts: Vec<JsonItem>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonDataflow {
    #[serde(flatten)]
    head: Head,
    structure: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonDsd {
    #[serde(flatten)]
    head: Head,
    data_structure_components: Option<Components>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Components {
    dimension_list: Option<DimensionList>,
    attribute_list: Option<AttributeList>,
    measure_list: Option<MeasureList>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DimensionList {
    dimensions: Vec<JsonComponent>,
    time_dimension: Option<JsonComponent>,
    time_dimensions: Vec<JsonComponent>,
    measure_dimensions: Vec<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct AttributeList {
    attributes: Vec<JsonComponent>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct MeasureList {
    measures: Vec<JsonComponent>,
    primary_measure: Option<JsonComponent>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonComponent {
    id: Option<String>,
    concept_identity: Option<String>,
    local_representation: Option<JsonRepresentation>,
    /// SDMX 3.0 layout: `mandatory` or `optional`.
    usage: Option<String>,
    /// SDMX 2.1 layout: `Mandatory` or `Conditional`.
    assignment_status: Option<String>,
    attribute_relationship: Option<Relationship>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JsonRepresentation {
    enumeration: Option<String>,
    /// SDMX 2.1 layout.
    text_format: Option<Format>,
    /// SDMX 3.0 layout.
    format: Option<Format>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Format {
    text_type: Option<String>,
    data_type: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Relationship {
    dimensions: Option<Vec<String>>,
    group: Option<String>,
    attachment_groups: Option<Vec<String>>,
    /// SDMX 2.1 layout: attached to the observation.
    primary_measure: Option<Value>,
    /// SDMX 2.1 layout: attached to the dataset.
    none: Option<Value>,
    dataflow: Option<Value>,
    observation: Option<Value>,
}

/// Reads an SDMX-JSON structure message.
pub(crate) fn read(bytes: &[u8]) -> Result<RawMessage, StructureError> {
    let message: Message =
        serde_json::from_slice(bytes).map_err(|err| StructureError::Malformed {
            format: "JSON",
            detail: err.to_string(),
        })?;
    let Some(data) = message.data else {
        return Err(not_structure("the JSON has no data member"));
    };
    let Some(dsds) = data.data_structures else {
        return Err(not_structure("the JSON's data has no dataStructures"));
    };
    let mut raw = RawMessage::default();
    for (i, cl) in data.codelists.into_iter().enumerate() {
        raw.codelists.push(codelist(
            format!("data.codelists[{i}]"),
            cl.head,
            cl.is_partial,
            cl.codes,
        ));
    }
    for (i, vl) in data.value_lists.into_iter().enumerate() {
        raw.codelists.push(codelist(
            format!("data.valueLists[{i}]"),
            vl.head,
            None,
            vl.value_items,
        ));
    }
    for (i, cs) in data.concept_schemes.into_iter().enumerate() {
        raw.concept_schemes
            .push(concept_scheme(format!("data.conceptSchemes[{i}]"), cs));
    }
    for (i, dsd) in dsds.into_iter().enumerate() {
        raw.dsds
            .push(data_structure(format!("data.dataStructures[{i}]"), dsd)?);
    }
    for (i, flow) in data.dataflows.into_iter().enumerate() {
        let path = format!("data.dataflows[{i}]");
        raw.dataflows.push(RawDataflow {
            structure_path: format!("{path}.structure"),
            structure: flow.structure,
            head: head(path, flow.head),
        });
    }
    Ok(raw)
}

fn not_structure(reason: &str) -> StructureError {
    StructureError::OtherDocument {
        reason: reason.to_owned(),
    }
}

/// A localised text: the plain string, else the English one, else the first language's.
fn text(single: Option<Value>, localised: Option<BTreeMap<String, String>>) -> Option<String> {
    if let Some(Value::String(text)) = single {
        return Some(text);
    }
    let mut localised = localised?;
    localised
        .remove("en")
        .or_else(|| localised.into_values().next())
}

fn head(path: String, head: Head) -> RawHead {
    RawHead {
        path,
        agency: head.agency_id,
        id: head.id,
        version: head.version,
        name: text(head.name, head.names),
    }
}

fn codelist(path: String, h: Head, partial: Option<bool>, items: Vec<JsonItem>) -> RawCodelist {
    let codes = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| RawCode {
            path: format!("{path}.codes[{i}]"),
            id: item.id,
            name: text(item.name, item.names),
            parent: item.parent,
        })
        .collect();
    RawCodelist {
        head: head(path, h),
        partial: partial.unwrap_or(false),
        codes,
    }
}

fn concept_scheme(path: String, cs: JsonConceptScheme) -> RawConceptScheme {
    let concepts = cs
        .concepts
        .into_iter()
        .enumerate()
        .map(|(i, item)| RawConcept {
            id: item.id,
            name: text(item.name, item.names),
            description: text(item.description, item.descriptions),
            core: item
                .core_representation
                .map(|r| representation(format!("{path}.concepts[{i}].coreRepresentation"), r)),
        })
        .collect();
    RawConceptScheme {
        head: head(path, cs.head),
        concepts,
    }
}

fn representation(path: String, r: JsonRepresentation) -> RawRepresentation {
    let data_type = [r.format, r.text_format]
        .into_iter()
        .flatten()
        .find_map(|f| f.data_type.or(f.text_type));
    let path = if r.enumeration.is_some() {
        format!("{path}.enumeration")
    } else {
        path
    };
    RawRepresentation {
        path,
        enumeration: r.enumeration,
        data_type,
    }
}

fn data_structure(path: String, dsd: JsonDsd) -> Result<RawDsd, StructureError> {
    let components_path = format!("{path}.dataStructureComponents");
    let components = dsd.data_structure_components.unwrap_or_default();
    let mut raw = RawDsd {
        head: head(path, dsd.head),
        ..RawDsd::default()
    };
    let list = components.dimension_list.unwrap_or_default();
    let list_path = format!("{components_path}.dimensionList");
    if !list.measure_dimensions.is_empty() {
        return Err(StructureError::Invalid {
            path: format!("{list_path}.measureDimensions"),
            problem: "measure dimensions are not supported".into(),
        });
    }
    raw.dimensions = components_of(&format!("{list_path}.dimensions"), list.dimensions);
    raw.time_dimensions =
        components_of(&format!("{list_path}.timeDimensions"), list.time_dimensions);
    if let Some(time) = list.time_dimension {
        raw.time_dimensions
            .insert(0, component(format!("{list_path}.timeDimension"), time));
    }
    let attributes = components.attribute_list.unwrap_or_default().attributes;
    raw.attributes = components_of(
        &format!("{components_path}.attributeList.attributes"),
        attributes,
    );
    let measures = components.measure_list.unwrap_or_default();
    let measure_path = format!("{components_path}.measureList");
    if let Some(primary) = measures.primary_measure {
        raw.measures
            .push(component(format!("{measure_path}.primaryMeasure"), primary));
    }
    raw.measures.extend(components_of(
        &format!("{measure_path}.measures"),
        measures.measures,
    ));
    Ok(raw)
}

fn components_of(path: &str, list: Vec<JsonComponent>) -> Vec<RawComponent> {
    list.into_iter()
        .enumerate()
        .map(|(i, c)| component(format!("{path}[{i}]"), c))
        .collect()
}

fn component(path: String, c: JsonComponent) -> RawComponent {
    let mandatory = [c.usage, c.assignment_status]
        .iter()
        .flatten()
        .any(|usage| usage.eq_ignore_ascii_case("mandatory"));
    let attachment = c.attribute_relationship.map(attachment).unwrap_or_default();
    RawComponent {
        local: c
            .local_representation
            .map(|r| representation(format!("{path}.localRepresentation"), r)),
        path,
        id: c.id,
        concept: c.concept_identity,
        mandatory,
        attachment,
    }
}

fn attachment(r: Relationship) -> RawAttachment {
    if let Some(dimensions) = r.dimensions {
        RawAttachment::Dimensions(dimensions)
    } else if let Some(group) = r.group.or_else(|| r.attachment_groups?.into_iter().next()) {
        RawAttachment::Group(group)
    } else if r.observation.is_some() || r.primary_measure.is_some() {
        RawAttachment::Observation
    } else if r.dataflow.is_some() || r.none.is_some() {
        RawAttachment::Dataflow
    } else {
        RawAttachment::None
    }
}
