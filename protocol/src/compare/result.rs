//! The comparison as `datapact compare --json` prints it (docs/design.md section 11): the
//! table's columns and rows, each row's key and values, the spread, the methodology of every
//! dataset compared and the datasets left out, with what a reader of the table or the chart
//! needs besides (the structure's name, the unit, code labels, the largest disagreement).
//!
//! The daemon builds it and the CLI renders it, so both sides share these types; maps are kept
//! in the order the table shows them.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A map that keeps the order of its entries, serialised as a JSON object in that order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V> Ordered<V> {
    /// The value under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl<V: Serialize> Serialize for Ordered<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = access.next_entry()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(Entries(std::marker::PhantomData))
    }
}

/// One comparison: what `compare --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The structure id asked for, as given.
    pub structure: String,
    /// The structure's name (the chart's title), or its id when the message gives none.
    pub name: String,
    /// The dimension the columns take their codes from: `OWNER` (the default) or a dimension
    /// of the structure.
    pub column_dimension: String,
    /// Whether the columns are time periods (the chart then draws lines).
    pub time_columns: bool,
    /// The table's columns, in order: member codes, or the codes of `column_dimension`.
    pub columns: Vec<String>,
    /// The dimensions that tell the rows apart, in the order the table shows them.
    pub row_dimensions: Vec<String>,
    /// Dimensions with a single code in every row compared, shown once above the table.
    pub fixed: Ordered<String>,
    /// The rows, sorted by key in the order of the structure's codelists.
    pub rows: Vec<Row>,
    /// Rows whose spread is known: keys that two or more owners report with a value.
    pub compared_keys: usize,
    /// The row with the largest spread, if any.
    pub largest: Option<Largest>,
    /// The unit of the values (the chart's axis), from the datasets' metadata.
    pub unit: Option<String>,
    /// Names of the dimensions and of the codes that occur, from the structure.
    pub labels: Ordered<DimensionLabels>,
    /// Per dataset compared, what it says about how its figures were made.
    pub methodology: Vec<Methodology>,
    /// Datasets that name the structure but were not compared, and why.
    pub left_out: Vec<LeftOut>,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Every dimension that is not the column dimension, with its code: the row dimensions,
    /// then the fixed ones.
    pub key: Ordered<String>,
    /// One cell per column, in column order.
    pub values: Ordered<Cell>,
    /// (max - min) / max over the values that are reported and not confidential, when the
    /// columns are owners, at least two such values exist and the largest is above 0.
    pub spread: Option<f64>,
}

/// One cell: what one column reports for one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Cell {
    /// The value; `null` when not reported, empty or confidential.
    #[serde(serialize_with = "number")]
    pub value: Option<f64>,
    /// The observation's OBS_STATUS (`E` estimated, `P` provisional, ...), when given.
    pub obs_status: Option<String>,
    /// Whether the observation is confidential (CONF_STATUS other than `F`): never shown,
    /// summed or used in a spread.
    pub confidential: bool,
}

impl Cell {
    /// Whether the cell holds a value that may be compared.
    pub fn comparable(&self) -> Option<f64> {
        if self.confidential { None } else { self.value }
    }
}

/// Writes whole numbers without a fraction (`1910000`, not `1910000.0`), others as they are.
fn number<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    /// Beyond 2^53 an f64 no longer holds every whole number.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Some(v) if v.fract() == 0.0 && v.abs() < EXACT => {
            // Exact: the value is whole and within the range where i64 and f64 agree.
            #[allow(clippy::cast_possible_truncation)]
            serializer.serialize_i64(*v as i64)
        }
        Some(v) => serializer.serialize_f64(*v),
        None => serializer.serialize_none(),
    }
}

/// The largest disagreement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Largest {
    /// Its row, an index into `rows`.
    pub row: usize,
    /// Its spread.
    pub spread: f64,
}

/// The names of a dimension and of its codes that occur in the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DimensionLabels {
    /// The dimension's concept name, when the structure gives one.
    pub name: Option<String>,
    /// Code to name, for the codes that occur and that the codelist names.
    pub codes: Ordered<String>,
}

/// What one compared dataset says about how its figures were made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Methodology {
    /// Its owner's member code.
    pub owner: String,
    /// `OWNER/NAME@VERSION`.
    pub dataset: String,
    /// Its title.
    pub title: String,
    /// Who produced the data.
    pub source: Option<String>,
    /// The unit: the announcement's, else the UNIT_MEASURE codes of its observations.
    pub unit: Option<String>,
    /// The reference period: the announcement's, else the first and last time period.
    pub period: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its licence (SPDX id).
    pub licence: Option<String>,
    /// The structure it was validated against, as its data name it.
    pub structure: String,
    /// How the table was protected at release, when its announcement says (its empty cells
    /// are then confidential, never zero or missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosure: Option<Protection>,
}

/// The announcement's `meta.disclosure`, as a comparison shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protection {
    /// The rule, `min-count`.
    pub rule: String,
    /// N of `--suppress-below N`: counts below it were suppressed.
    pub threshold: u64,
    /// How many cells were published empty as confidential.
    pub suppressed: u64,
}

/// A dataset that was not compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// `OWNER/NAME@VERSION`.
    pub dataset: String,
    /// Why, in one line.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn whole_numbers_have_no_fraction_and_maps_keep_their_order() {
        let row = Row {
            key: Ordered(vec![
                ("REF_AREA".into(), "THA".into()),
                ("COUNTERPART_AREA".into(), "MMR".into()),
            ]),
            values: Ordered(vec![
                (
                    "THA".into(),
                    Cell {
                        value: Some(1_910_000.0),
                        obs_status: Some("E".into()),
                        confidential: false,
                    },
                ),
                (
                    "MMR".into(),
                    Cell {
                        value: Some(0.5),
                        ..Cell::default()
                    },
                ),
            ]),
            spread: None,
        };
        let text = serde_json::to_string(&row).unwrap();
        assert_eq!(
            text,
            r#"{"key":{"REF_AREA":"THA","COUNTERPART_AREA":"MMR"},"values":{"THA":{"value":1910000,"obs_status":"E","confidential":false},"MMR":{"value":0.5,"obs_status":null,"confidential":false}},"spread":null}"#
        );
        let back: Row = serde_json::from_str(&text).unwrap();
        assert_eq!(back, row);
    }
}
