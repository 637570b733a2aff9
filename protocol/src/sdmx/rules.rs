//! What validation checks for each component of one data structure definition, prepared once
//! so that checking a row is a few lookups: the role of each component, whether it is
//! mandatory, and its codes (in a hash set) or data type.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use super::model::{ArtefactRef, Component, Representation, StructureKind, StructureSet};
use super::value::DataType;

/// Most codes an error message lists as expected.
const MAX_LISTED_CODES: usize = 12;

/// A fast hash for looking codes up: codelists come from a signed structure and are fixed
/// while a file is checked, so there is nothing to flood.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &byte in bytes {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

/// The codes of one codelist, ready for lookups: codes of up to 7 bytes (most are) packed in
/// a word each, so that a lookup compares words rather than strings.
#[derive(Debug, Clone)]
pub(crate) struct CodeSet {
    /// The codelist's id, for error messages.
    pub reference: ArtefactRef,
    /// Packed short codes in an open-addressing table (0: empty), a power of two long.
    short: Vec<u64>,
    long: HashSet<String, BuildHasherDefault<Fnv>>,
    /// The first codes, for "expected one of ...".
    pub listing: String,
}

impl CodeSet {
    fn new(reference: &ArtefactRef, set: &StructureSet) -> Self {
        let codes: Vec<&str> = set
            .codelist(reference)
            .map(|cl| cl.codes.iter().map(|code| code.id.as_str()).collect())
            .unwrap_or_default();
        let mut listing = codes
            .iter()
            .take(MAX_LISTED_CODES)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if codes.len() > MAX_LISTED_CODES {
            listing.push_str(&format!(", ... ({} codes)", codes.len()));
        }
        let (short, long): (Vec<&str>, Vec<&str>) = codes.iter().partition(|c| pack(c).is_some());
        Self {
            reference: reference.clone(),
            short: word_table(short.iter().filter_map(|code| pack(code))),
            long: long.iter().map(|&code| code.to_owned()).collect(),
            listing,
        }
    }

    pub fn contains(&self, code: &str) -> bool {
        match pack(code) {
            Some(word) => table_contains(&self.short, word),
            None => self.long.contains(code),
        }
    }
}

/// Where a packed code's probe starts: every bit of the word mixed into the low ones.
fn slot_of(word: u64, mask: usize) -> usize {
    let mut x = word ^ (word >> 33);
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    usize::try_from(x).unwrap_or(0) & mask
}

/// An open-addressing table of distinct non-zero words, at most half full.
fn word_table(words: impl Iterator<Item = u64>) -> Vec<u64> {
    let words: Vec<u64> = words.collect();
    let len = words.len().saturating_mul(2).next_power_of_two().max(8);
    let mut table = vec![0u64; len];
    for word in words {
        let mut index = slot_of(word, len - 1);
        while let Some(&slot) = table.get(index) {
            if slot == 0 || slot == word {
                break;
            }
            index = (index + 1) & (len - 1);
        }
        if let Some(slot) = table.get_mut(index) {
            *slot = word;
        }
    }
    table
}

fn table_contains(table: &[u64], word: u64) -> bool {
    let mask = table.len().saturating_sub(1);
    let mut index = slot_of(word, mask);
    for _ in 0..table.len() {
        match table.get(index) {
            Some(&slot) if slot == word => return true,
            Some(0) | None => return false,
            Some(_) => index = (index + 1) & mask,
        }
    }
    false
}

/// A text of at most 7 bytes as one word: its bytes, then its length in the top byte.
fn pack(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.len() > 7 {
        return None;
    }
    // Shifts rather than a copy into a byte array, which costs a call and a stalled load.
    let word = bytes
        .iter()
        .rev()
        .fold(0u64, |word, &byte| (word << 8) | u64::from(byte));
    Some(word | ((bytes.len() as u64) << 56))
}

/// What a component's values must be.
#[derive(Debug, Clone)]
pub(crate) enum ValueRule {
    /// One of these codes.
    Coded(Arc<CodeSet>),
    /// Of this type.
    Typed(DataType),
}

/// The part a component plays in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Dimension,
    Time,
    Attribute,
    Measure,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Self::Dimension => "dimension",
            Self::Time => "time dimension",
            Self::Attribute => "attribute",
            Self::Measure => "measure",
        }
    }
}

/// One component to check.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub id: String,
    pub role: Role,
    /// Attributes and measures: whether rows that add data (`I`, `R`) must give a value.
    pub mandatory: bool,
    pub value: ValueRule,
}

/// Everything checked against one structure.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// The kind of structure the data names.
    pub kind: StructureKind,
    /// The data structure definition it resolves to.
    pub dsd: ArtefactRef,
    /// Dimensions in key order, the time dimension last, then attributes, then measures.
    pub components: Vec<Rule>,
    /// How many of `components` are dimensions (time included).
    pub key_len: usize,
}

impl Rules {
    /// The rules for data of this kind and id, if the set defines it.
    pub fn new(set: &StructureSet, kind: StructureKind, structure: &ArtefactRef) -> Option<Self> {
        let dsd = set.dsd_for(kind, structure)?;
        let mut codesets: Vec<Arc<CodeSet>> = Vec::new();
        let mut rule = |component: &Component, role: Role, mandatory: bool| {
            let value = match &component.representation {
                Representation::Coded(reference) => {
                    let existing = codesets.iter().find(|c| &c.reference == reference).cloned();
                    let codes = existing.unwrap_or_else(|| {
                        let codes = Arc::new(CodeSet::new(reference, set));
                        codesets.push(codes.clone());
                        codes
                    });
                    ValueRule::Coded(codes)
                }
                Representation::Text(data_type) => ValueRule::Typed(data_type.clone()),
            };
            Rule {
                id: component.id.clone(),
                role,
                mandatory,
                value,
            }
        };
        let mut components: Vec<Rule> = dsd
            .dimensions
            .iter()
            .map(|d| rule(d, Role::Dimension, true))
            .collect();
        components.extend(dsd.time_dimension.iter().map(|t| rule(t, Role::Time, true)));
        let key_len = components.len();
        components.extend(
            dsd.attributes
                .iter()
                .map(|a| rule(&a.component, Role::Attribute, a.mandatory)),
        );
        components.extend(
            dsd.measures
                .iter()
                .map(|m| rule(&m.component, Role::Measure, m.mandatory)),
        );
        Some(Self {
            kind,
            dsd: dsd.reference.clone(),
            components,
            key_len,
        })
    }

    /// The component with this id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.components.iter().position(|rule| rule.id == id)
    }

    /// The DSD's components, for "expected one of ...".
    pub fn component_ids(&self) -> String {
        self.components
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Finds the structure data names: SDMX-CSV 1.0 (`kind` unknown) tries a dataflow, then a DSD.
pub(crate) fn find(
    set: &StructureSet,
    kind: Option<StructureKind>,
    id: &ArtefactRef,
) -> Option<Rules> {
    match kind {
        Some(kind) => Rules::new(set, kind, id),
        None => Rules::new(set, StructureKind::Dataflow, id)
            .or_else(|| Rules::new(set, StructureKind::DataStructure, id)),
    }
}
