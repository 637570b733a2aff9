//! Whether a structure message agrees with the structures a node already holds, and what
//! `datapact structures` shows of each structure.
//!
//! An SDMX id and version name one definition, so a message is refused when it defines a data
//! structure definition or a dataflow that the node holds under the same `AGENCY:ID(VERSION)`
//! with different components (or, for a dataflow, a different data structure definition), or a
//! codelist whose codes contradict the one held under its id. A partial codelist is compared
//! only with a full one, and must be a subset of it; two partial codelists are not compared.

use std::collections::HashMap;

use serde::Serialize;

use super::model::{ArtefactRef, Codelist, StructureKind, StructureSet};

/// Why a structure message contradicts a structure the node holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsistencyError {
    /// A data structure definition with the same id but different components.
    #[error(
        "{path}: data structure {id} is already held with different components; give the \
         changed definition a new version"
    )]
    DataStructure {
        /// Where the new definition is in the message.
        path: String,
        /// Its id.
        id: String,
    },
    /// A dataflow with the same id but another data structure definition.
    #[error(
        "{path}: dataflow {id} is already held with structure {held}, not {found}; give the \
         changed dataflow a new version"
    )]
    Dataflow {
        /// Where the new definition is in the message.
        path: String,
        /// Its id.
        id: String,
        /// The data structure definition of the held dataflow.
        held: String,
        /// The one the message gives.
        found: String,
    },
    /// A codelist whose codes contradict the held one.
    #[error("{path}: codelist {id} contradicts the one already held: {detail}")]
    Codelist {
        /// Where the new codelist is in the message.
        path: String,
        /// Its id.
        id: String,
        /// The first difference found.
        detail: String,
    },
}

/// What `datapact structures --json` prints of one structure (the node adds `owner` and
/// `dataset`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StructureInfo {
    /// `AGENCY:ID(VERSION)`.
    pub id: String,
    /// `datastructure` or `dataflow`.
    pub kind: StructureKind,
    /// Its name, or its id when the message gives none.
    pub name: String,
    /// The dimension ids in key order, the time dimension last.
    pub dimensions: Vec<String>,
    /// Whether a codelist it uses is partial (validation then accepts only the codes listed).
    pub partial: bool,
}

impl Serialize for StructureKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for StructureKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "datastructure" => Ok(Self::DataStructure),
            "dataflow" => Ok(Self::Dataflow),
            _ => Err(serde::de::Error::unknown_variant(
                &text,
                &["datastructure", "dataflow"],
            )),
        }
    }
}

impl StructureSet {
    /// Every DSD and dataflow the message defines, DSDs first, as `structures` lists them.
    pub fn infos(&self) -> Vec<StructureInfo> {
        let dsds = self.dsds.iter().map(|dsd| StructureInfo {
            id: dsd.reference.to_string(),
            kind: StructureKind::DataStructure,
            name: dsd
                .name
                .clone()
                .unwrap_or_else(|| dsd.reference.to_string()),
            dimensions: dsd.dimension_ids(),
            partial: self.uses_partial_codelist(dsd),
        });
        let flows = self.dataflows.iter().filter_map(|flow| {
            let dsd = self.dsd(&flow.structure)?;
            Some(StructureInfo {
                id: flow.reference.to_string(),
                kind: StructureKind::Dataflow,
                name: flow
                    .name
                    .clone()
                    .unwrap_or_else(|| flow.reference.to_string()),
                dimensions: dsd.dimension_ids(),
                partial: self.uses_partial_codelist(dsd),
            })
        });
        dsds.chain(flows).collect()
    }
}

/// Checks a new message against every message the node holds; the first contradiction found
/// refuses it.
pub fn check_consistency<'a>(
    message: &StructureSet,
    held: impl IntoIterator<Item = &'a StructureSet>,
) -> Result<(), ConsistencyError> {
    for old in held {
        for dsd in &message.dsds {
            if let Some(old_dsd) = old.dsd(&dsd.reference)
                && !dsd.same_components(old_dsd)
            {
                return Err(ConsistencyError::DataStructure {
                    path: dsd.path.clone(),
                    id: dsd.reference.to_string(),
                });
            }
        }
        for flow in &message.dataflows {
            if let Some(old_flow) = old.dataflow(&flow.reference)
                && old_flow.structure != flow.structure
            {
                return Err(ConsistencyError::Dataflow {
                    path: flow.path.clone(),
                    id: flow.reference.to_string(),
                    held: old_flow.structure.to_string(),
                    found: flow.structure.to_string(),
                });
            }
        }
        for codelist in &message.codelists {
            if let Some(old_list) = old.codelist(&codelist.reference)
                && let Some(detail) = codelist_conflict(codelist, old_list)
            {
                return Err(ConsistencyError::Codelist {
                    path: codelist.path.clone(),
                    id: codelist.reference.to_string(),
                    detail,
                });
            }
        }
    }
    Ok(())
}

/// The first way two codelists of one id contradict each other, if they do.
fn codelist_conflict(new: &Codelist, held: &Codelist) -> Option<String> {
    match (new.partial, held.partial) {
        (true, true) => None,
        (true, false) => not_subset(new, held, "the partial codelist lists"),
        (false, true) => not_subset(held, new, "the held partial codelist lists"),
        (false, false) => not_subset(new, held, "the new codelist lists")
            .or_else(|| not_subset(held, new, "the held codelist lists")),
    }
}

/// The first code of `part` that `whole` lacks or places under another parent.
fn not_subset(part: &Codelist, whole: &Codelist, lists: &str) -> Option<String> {
    let parents: HashMap<&str, Option<&str>> = whole
        .codes
        .iter()
        .map(|code| (code.id.as_str(), code.parent.as_deref()))
        .collect();
    part.codes
        .iter()
        .find_map(|code| match parents.get(code.id.as_str()) {
            None => Some(format!("{lists} code {}, which the other lacks", code.id)),
            Some(parent) if *parent != code.parent.as_deref() => Some(format!(
                "code {} has parent {} here and {} in the other",
                code.id,
                code.parent.as_deref().unwrap_or("(none)"),
                parent.unwrap_or("(none)")
            )),
            Some(_) => None,
        })
}

/// Looks a structure up by the kind and id data names it with.
pub fn find_structure<'a>(
    sets: impl IntoIterator<Item = &'a StructureSet>,
    kind: StructureKind,
    id: &ArtefactRef,
) -> Option<&'a StructureSet> {
    sets.into_iter().find(|set| set.dsd_for(kind, id).is_some())
}
