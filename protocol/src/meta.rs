//! The descriptive metadata an announcement carries ([`Meta`]), and its CBOR form: a map of
//! text keys, each written only when it has a value, in the order below (docs/PROTOCOL.md
//! section 3). Decoders ignore keys they do not know, so a later addition stays readable by
//! nodes that predate it.
//!
//! Two entries describe SDMX structures (docs/design.md section 8): `structures`, the ids a
//! structure message defines, and `structure`, the structure SDMX-CSV data were checked
//! against at release ([`StructureRef`]).
//!
//! One entry describes disclosure control (docs/design.md section 10): `disclosure`, the rule a
//! protected table was released under and how many cells it published empty
//! ([`DisclosureRef`]). Which of those cells were small counts is never written here.

use ciborium::value::Value;

use crate::announcement::StatementError;
use crate::cbor::{TextMap, as_text, shape, text_map, uint};
use crate::digest::Digest;

/// Largest metadata text field, in bytes.
pub const MAX_META_TEXT_LEN: usize = 1024;
/// Most column names recorded in the metadata.
pub const MAX_META_COLUMNS: usize = 256;
/// Most structure ids (`structures`) one announcement records: far more data structure
/// definitions and dataflows than one agreed structure message of a domain defines.
pub const MAX_META_STRUCTURES: usize = 256;

/// Descriptive metadata of a dataset. Only `title` is required.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meta {
    /// A short human title.
    pub title: String,
    /// Longer description.
    pub description: Option<String>,
    /// What is measured, e.g. "International migrant stock".
    pub indicator: Option<String>,
    /// Unit of measure, e.g. "persons".
    pub unit: Option<String>,
    /// Reference period, e.g. "2017".
    pub period: Option<String>,
    /// Who produced the data.
    pub source: Option<String>,
    /// MIME type of the content, e.g. `text/csv`.
    pub content_type: Option<String>,
    /// SDMX structure (dataflow) id, where the content is SDMX-CSV.
    pub sdmx_structure: Option<String>,
    /// Number of data rows, where the content is SDMX-CSV.
    pub rows: Option<u64>,
    /// Column names, where the content is SDMX-CSV.
    pub columns: Vec<String>,
    /// Where the content is an SDMX structure message: the id, as `AGENCY:ID(VERSION)`, of
    /// every data structure definition and dataflow it defines, so that members see what a
    /// structure release defines before they pull it.
    pub structures: Vec<String>,
    /// Where the content is SDMX-CSV data validated against a structure at release: which
    /// structure, so that a receiver checks it against the very same one.
    pub structure: Option<StructureRef>,
    /// Where the content is a table of counts protected at release: the rule, so that a
    /// receiver knows that empty cells are confidential, not zero or unknown.
    pub disclosure: Option<DisclosureRef>,
}

/// The only disclosure-control rule: cells with 0 < count < threshold are suppressed.
pub const MIN_COUNT_RULE: &str = "min-count";

/// How a table of counts was protected at release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureRef {
    /// The rule, [`MIN_COUNT_RULE`]: kept as text so a later rule stays readable.
    pub rule: String,
    /// N of `--suppress-below N`.
    pub threshold: u64,
    /// How many observations were published empty with CONF_STATUS `C`, small counts and
    /// their partners alike (which were which is not said).
    pub suppressed: u64,
}

/// The structure SDMX-CSV data were validated against when released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructureRef {
    /// The data's `STRUCTURE_ID`, as written (a dataflow or data structure definition id).
    pub id: String,
    /// The data structure definition it resolves to, `AGENCY:ID(VERSION)`.
    pub dsd: String,
    /// SHA-256 of the structure message the data were checked against: the content of the
    /// structure release that defines it.
    pub sha256: Digest,
}

pub(crate) fn opt_text_value(
    out: &mut Vec<(&'static str, Value)>,
    key: &'static str,
    v: &Option<String>,
) {
    if let Some(v) = v {
        out.push((key, Value::Text(v.clone())));
    }
}

pub(crate) fn check_text(field: &'static str, text: Option<&str>) -> Result<(), StatementError> {
    match text {
        Some(t) if t.len() > MAX_META_TEXT_LEN => Err(StatementError::Field {
            field,
            why: "longer than 1024 bytes",
        }),
        Some(t) if t.chars().any(|c| c.is_control() && c != '\n') => Err(StatementError::Field {
            field,
            why: "has control characters",
        }),
        _ => Ok(()),
    }
}

pub(crate) fn validate_meta(meta: &Meta) -> Result<(), StatementError> {
    if meta.title.trim().is_empty() {
        return Err(StatementError::Field {
            field: "title",
            why: "must not be empty",
        });
    }
    for (field, text) in [
        ("title", Some(meta.title.as_str())),
        ("description", meta.description.as_deref()),
        ("indicator", meta.indicator.as_deref()),
        ("unit", meta.unit.as_deref()),
        ("period", meta.period.as_deref()),
        ("source", meta.source.as_deref()),
        ("content_type", meta.content_type.as_deref()),
        ("sdmx_structure", meta.sdmx_structure.as_deref()),
    ] {
        check_text(field, text)?;
    }
    if meta.columns.len() > MAX_META_COLUMNS {
        return Err(StatementError::Field {
            field: "columns",
            why: "more than 256 columns",
        });
    }
    for c in &meta.columns {
        check_text("columns", Some(c))?;
    }
    if meta.structures.len() > MAX_META_STRUCTURES {
        return Err(StatementError::Field {
            field: "structures",
            why: "more than 256 structure ids",
        });
    }
    for id in &meta.structures {
        check_text("structures", Some(id))?;
    }
    if let Some(structure) = &meta.structure {
        check_text("structure", Some(&structure.id))?;
        check_text("structure", Some(&structure.dsd))?;
    }
    if let Some(disclosure) = &meta.disclosure {
        check_text("disclosure", Some(&disclosure.rule))?;
    }
    Ok(())
}

pub(crate) fn meta_to_value(m: &Meta) -> Value {
    let mut entries = vec![("title", Value::Text(m.title.clone()))];
    opt_text_value(&mut entries, "description", &m.description);
    opt_text_value(&mut entries, "indicator", &m.indicator);
    opt_text_value(&mut entries, "unit", &m.unit);
    opt_text_value(&mut entries, "period", &m.period);
    opt_text_value(&mut entries, "source", &m.source);
    opt_text_value(&mut entries, "content_type", &m.content_type);
    opt_text_value(&mut entries, "sdmx_structure", &m.sdmx_structure);
    if let Some(rows) = m.rows {
        entries.push(("rows", uint(rows)));
    }
    if !m.columns.is_empty() {
        entries.push(("columns", text_array(&m.columns)));
    }
    if !m.structures.is_empty() {
        entries.push(("structures", text_array(&m.structures)));
    }
    if let Some(s) = &m.structure {
        entries.push((
            "structure",
            text_map(vec![
                ("id", Value::Text(s.id.clone())),
                ("dsd", Value::Text(s.dsd.clone())),
                ("sha256", Value::Bytes(s.sha256.0.to_vec())),
            ]),
        ));
    }
    if let Some(d) = &m.disclosure {
        entries.push((
            "disclosure",
            text_map(vec![
                ("rule", Value::Text(d.rule.clone())),
                ("threshold", uint(d.threshold)),
                ("suppressed", uint(d.suppressed)),
            ]),
        ));
    }
    text_map(entries)
}

fn text_array(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::Text).collect())
}

/// An optional array of text under `key`.
fn opt_text_array(map: &mut TextMap, key: &'static str) -> Result<Vec<String>, StatementError> {
    match map.take(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items
            .into_iter()
            .map(|v| as_text(v, key))
            .collect::<Result<_, _>>()?),
        Some(_) => Err(shape(format!("meta {key} is not an array")).into()),
    }
}

fn structure_from_value(value: Value) -> Result<StructureRef, StatementError> {
    let mut map = TextMap::new(value, "meta structure")?;
    let id = map.text("id")?;
    let dsd = map.text("dsd")?;
    let sha256 = Digest::from_slice(&map.bytes("sha256")?).map_err(|_| StatementError::Field {
        field: "structure",
        why: "sha256 is not 32 bytes",
    })?;
    Ok(StructureRef { id, dsd, sha256 })
}

fn disclosure_from_value(value: Value) -> Result<DisclosureRef, StatementError> {
    let mut map = TextMap::new(value, "meta disclosure")?;
    Ok(DisclosureRef {
        rule: map.text("rule")?,
        threshold: map.uint("threshold")?,
        suppressed: map.uint("suppressed")?,
    })
}

pub(crate) fn meta_from_value(value: Value) -> Result<Meta, StatementError> {
    let mut map = TextMap::new(value, "meta")?;
    let columns = opt_text_array(&mut map, "columns")?;
    let structures = opt_text_array(&mut map, "structures")?;
    let structure = map
        .take("structure")
        .map(structure_from_value)
        .transpose()?;
    let disclosure = map
        .take("disclosure")
        .map(disclosure_from_value)
        .transpose()?;
    Ok(Meta {
        title: map.text("title")?,
        description: map.opt_text("description")?,
        indicator: map.opt_text("indicator")?,
        unit: map.opt_text("unit")?,
        period: map.opt_text("period")?,
        source: map.opt_text("source")?,
        content_type: map.opt_text("content_type")?,
        sdmx_structure: map.opt_text("sdmx_structure")?,
        rows: map.opt_uint("rows")?,
        columns,
        structures,
        structure,
        disclosure,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::announcement::Announcement;
    use crate::{DatasetName, Identity, MemberCode, Policy, SignedAnnouncement};

    fn announcement(meta: Meta) -> Announcement {
        Announcement {
            owner: MemberCode::new("THA").unwrap(),
            name: DatasetName::new("tip").unwrap(),
            version: 1,
            sha256: Digest::default(),
            size: 0,
            file_name: "tip.csv".into(),
            chunk_root: Digest::default(),
            policy: Policy::default(),
            meta,
            issued_at: 1_800_000_000,
        }
    }

    #[test]
    fn structure_entries_survive_signing_and_decoding() {
        let meta = Meta {
            title: "Victims".into(),
            structures: vec![
                "BPX:DSD_TIP_VICTIMS(1.0.0)".into(),
                "BPX:DF_TIP_VICTIMS(1.0.0)".into(),
            ],
            structure: Some(StructureRef {
                id: "BPX:DF_TIP_VICTIMS(1.0.0)".into(),
                dsd: "BPX:DSD_TIP_VICTIMS(1.0.0)".into(),
                sha256: Digest::of(b"structure message"),
            }),
            ..Meta::default()
        };
        let identity = Identity::from_seed(&[3; 32]);
        let signed = SignedAnnouncement::sign(announcement(meta.clone()), &identity).unwrap();
        let decoded = SignedAnnouncement::decode(signed.bytes()).unwrap();
        assert_eq!(decoded.body().meta, meta);
    }

    #[test]
    fn the_disclosure_entry_survives_signing_and_decoding() {
        let meta = Meta {
            title: "Victims".into(),
            disclosure: Some(DisclosureRef {
                rule: MIN_COUNT_RULE.into(),
                threshold: 5,
                suppressed: 12,
            }),
            ..Meta::default()
        };
        let identity = Identity::from_seed(&[3; 32]);
        let signed = SignedAnnouncement::sign(announcement(meta.clone()), &identity).unwrap();
        let decoded = SignedAnnouncement::decode(signed.bytes()).unwrap();
        assert_eq!(decoded.body().meta, meta);
        let no_threshold = text_map(vec![
            ("title", Value::Text("x".into())),
            (
                "disclosure",
                text_map(vec![("rule", Value::Text(MIN_COUNT_RULE.into()))]),
            ),
        ]);
        assert!(meta_from_value(no_threshold).is_err());
    }

    #[test]
    fn absent_structure_entries_are_not_written() {
        // Announcements without structures encode exactly as before the entries existed, so
        // the golden vectors and older readers are unaffected.
        let value = meta_to_value(&Meta {
            title: "x".into(),
            ..Meta::default()
        });
        assert_eq!(value, text_map(vec![("title", Value::Text("x".into()))]));
    }

    #[test]
    fn too_many_structure_ids_and_a_short_digest_are_refused() {
        let mut meta = Meta {
            title: "x".into(),
            structures: vec!["A:B(1.0)".into(); MAX_META_STRUCTURES + 1],
            ..Meta::default()
        };
        assert!(validate_meta(&meta).is_err());
        meta.structures.truncate(MAX_META_STRUCTURES);
        assert!(validate_meta(&meta).is_ok());

        let short = text_map(vec![
            ("title", Value::Text("x".into())),
            (
                "structure",
                text_map(vec![
                    ("id", Value::Text("A:B(1.0)".into())),
                    ("dsd", Value::Text("A:C(1.0)".into())),
                    ("sha256", Value::Bytes(vec![0; 31])),
                ]),
            ),
        ]);
        assert!(meta_from_value(short).is_err());
    }
}
