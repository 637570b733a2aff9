//! Names of things: member codes, dataset names and dataset ids (`OWNER/NAME@VERSION`).
//!
//! Every constructor validates, so a value of these types is always well formed; the rest of
//! datapact never has to re-check a name it was handed.

use std::fmt;
use std::str::FromStr;

/// Why a member code, dataset name or dataset id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// A member code is 2 to 16 of `A-Z 0-9 -` (ISO 3166-1 alpha-3 for states).
    #[error(
        "invalid member code {0:?}: expected 2 to 16 capital letters, digits or '-' (e.g. THA, IOM)"
    )]
    MemberCode(String),
    /// A dataset name is 1 to 64 of `a-z 0-9 -`.
    #[error("invalid dataset name {0:?}: expected 1 to 64 lower-case letters, digits or '-'")]
    DatasetName(String),
    /// A dataset id is `OWNER/NAME@VERSION` with VERSION from 1.
    #[error(
        "invalid dataset id {0:?}: expected OWNER/NAME@VERSION, e.g. THA/trafficking-victims@2"
    )]
    DatasetId(String),
}

/// Longest member code accepted.
pub const MAX_MEMBER_CODE_LEN: usize = 16;
/// Longest dataset name accepted.
pub const MAX_DATASET_NAME_LEN: usize = 64;

/// A federation member: an ISO 3166-1 alpha-3 state code or an organisation code.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberCode(String);

impl MemberCode {
    /// Validates `code` as a member code.
    pub fn new(code: &str) -> Result<Self, IdError> {
        let ok = (2..=MAX_MEMBER_CODE_LEN).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(code.to_owned()))
        } else {
            Err(IdError::MemberCode(truncate_for_error(code)))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MemberCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for MemberCode {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// The name of a dataset within its owner's namespace, shared by all its versions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DatasetName(String);

impl DatasetName {
    /// Validates `name` as a dataset name.
    pub fn new(name: &str) -> Result<Self, IdError> {
        let ok = (1..=MAX_DATASET_NAME_LEN).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(IdError::DatasetName(truncate_for_error(name)))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DatasetName {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// One version of one dataset: `OWNER/NAME@VERSION`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DatasetId {
    /// The member that released it and alone may serve it.
    pub owner: MemberCode,
    /// The dataset's name in the owner's namespace.
    pub name: DatasetName,
    /// 1 for the first release; each re-release of the name adds one and supersedes the last.
    pub version: u64,
}

impl DatasetId {
    /// Builds an id from checked parts; `version` must be at least 1.
    pub fn new(owner: MemberCode, name: DatasetName, version: u64) -> Result<Self, IdError> {
        if version == 0 {
            return Err(IdError::DatasetId(format!("{owner}/{name}@0")));
        }
        Ok(Self {
            owner,
            name,
            version,
        })
    }
}

impl fmt::Display for DatasetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.owner, self.name, self.version)
    }
}

impl FromStr for DatasetId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || IdError::DatasetId(truncate_for_error(s));
        let (owner, rest) = s.split_once('/').ok_or_else(bad)?;
        let (name, version) = rest.split_once('@').ok_or_else(bad)?;
        // Digits only: `u64::from_str` would also take a leading '+'.
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if version.len() > 1 && version.starts_with('0') {
            return Err(bad());
        }
        let version: u64 = version.parse().map_err(|_| bad())?;
        let owner = MemberCode::new(owner).map_err(|_| bad())?;
        let name = DatasetName::new(name).map_err(|_| bad())?;
        Self::new(owner, name, version).map_err(|_| bad())
    }
}

/// Gives a type whose canonical text is its `Display` and `FromStr` the serde form of that
/// text, so an API or a record carries the typed value and a decoded one is always valid.
macro_rules! serde_as_text {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_as_text;

serde_as_text!(MemberCode);
serde_as_text!(DatasetName);
serde_as_text!(DatasetId);

/// Keeps error messages one short line even when the input is huge or has control characters.
fn truncate_for_error(s: &str) -> String {
    const MAX: usize = 80;
    let mut out: String = s.chars().take(MAX).collect();
    if s.chars().count() > MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_codes() {
        for ok in ["THA", "MMR", "AUS", "IOM", "UNHCR", "EU-27", "A1"] {
            assert_eq!(
                MemberCode::new(ok).map(|c| c.to_string()),
                Ok(ok.to_owned())
            );
        }
        for bad in ["", "T", "tha", "THA ", "TH_A", "ABCDEFGHIJKLMNOPQ", "THÄ"] {
            assert!(MemberCode::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn dataset_names() {
        assert!(DatasetName::new("trafficking-victims").is_ok());
        assert!(DatasetName::new(&"a".repeat(64)).is_ok());
        for bad in ["", "Upper", "with space", "under_score", &"a".repeat(65)] {
            assert!(DatasetName::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn dataset_ids_round_trip() {
        let id: DatasetId = "THA/trafficking-victims@2".parse().unwrap();
        assert_eq!(id.owner.as_str(), "THA");
        assert_eq!(id.name.as_str(), "trafficking-victims");
        assert_eq!(id.version, 2);
        assert_eq!(id.to_string(), "THA/trafficking-victims@2");
    }

    #[test]
    fn bad_dataset_ids() {
        for bad in [
            "",
            "THA",
            "THA/x",
            "THA/x@",
            "THA/x@0",
            "THA/x@01",
            "THA/x@+1",
            "THA/x@-1",
            "tha/x@1",
            "THA/X@1",
            "THA/x@1@2",
            "THA//x@1",
            "THA/x@99999999999999999999999",
        ] {
            assert!(bad.parse::<DatasetId>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ids_serialise_as_their_text_and_refuse_bad_text() {
        let id: DatasetId = "THA/trafficking-victims@2".parse().unwrap();
        let code = MemberCode::new("THA").unwrap();
        let name = DatasetName::new("trafficking-victims").unwrap();
        assert_eq!(
            crate::wire::encode(&id),
            crate::wire::encode(&"THA/trafficking-victims@2")
        );
        let back: (MemberCode, DatasetName, DatasetId) =
            crate::wire::decode(&crate::wire::encode(&(&code, &name, &id)), 1024).unwrap();
        assert_eq!(back, (code, name, id));
        assert!(crate::wire::decode::<MemberCode>(&crate::wire::encode(&"tha"), 1024).is_err());
        assert!(crate::wire::decode::<DatasetId>(&crate::wire::encode(&"THA/x@0"), 1024).is_err());
    }
}
