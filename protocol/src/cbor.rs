//! Strict CBOR decoding helpers shared by every decoder of the protocol: a size cap before
//! parsing, no trailing bytes, and typed field access on text-keyed maps with clear errors.

use ciborium::value::{Integer, Value};

/// Why CBOR input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CborError {
    /// The input is larger than the decoder's cap.
    #[error("message of {len} bytes exceeds the {cap}-byte limit")]
    TooLarge {
        /// Input length.
        len: usize,
        /// The decoder's cap.
        cap: usize,
    },
    /// Not well-formed CBOR.
    #[error("malformed CBOR")]
    Malformed,
    /// Bytes left over after one complete item.
    #[error("trailing bytes after the CBOR item")]
    TrailingBytes,
    /// Well-formed, but not the expected shape.
    #[error("unexpected structure: {0}")]
    Shape(String),
}

/// Parses exactly one CBOR item from `bytes`, refusing input longer than `cap`.
pub(crate) fn decode_value(bytes: &[u8], cap: usize) -> Result<Value, CborError> {
    if bytes.len() > cap {
        return Err(CborError::TooLarge {
            len: bytes.len(),
            cap,
        });
    }
    let mut reader = bytes;
    let value: Value = ciborium::from_reader(&mut reader).map_err(|_| CborError::Malformed)?;
    if !reader.is_empty() {
        return Err(CborError::TrailingBytes);
    }
    Ok(value)
}

/// Serialises a value; writing into a `Vec` cannot fail for the values this crate builds.
pub(crate) fn encode_value(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    if ciborium::into_writer(value, &mut out).is_err() {
        // Only an I/O error of the writer can fail here, and a Vec never fails.
        out.clear();
    }
    out
}

pub(crate) fn shape(what: impl Into<String>) -> CborError {
    CborError::Shape(what.into())
}

/// Typed access to a CBOR map with text keys; each key may appear once.
pub(crate) struct TextMap {
    entries: Vec<(String, Value)>,
}

impl TextMap {
    pub(crate) fn new(value: Value, what: &str) -> Result<Self, CborError> {
        let Value::Map(pairs) = value else {
            return Err(shape(format!("{what} is not a map")));
        };
        let mut entries: Vec<(String, Value)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let Value::Text(k) = k else {
                return Err(shape(format!("{what} has a non-text key")));
            };
            if entries.iter().any(|(seen, _)| *seen == k) {
                return Err(shape(format!("{what} has key {k:?} twice")));
            }
            entries.push((k, v));
        }
        Ok(Self { entries })
    }

    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.swap_remove(at).1)
    }

    pub(crate) fn required(&mut self, key: &str) -> Result<Value, CborError> {
        self.take(key)
            .ok_or_else(|| shape(format!("missing key {key:?}")))
    }

    pub(crate) fn uint(&mut self, key: &str) -> Result<u64, CborError> {
        as_uint(self.required(key)?, key)
    }

    pub(crate) fn opt_uint(&mut self, key: &str) -> Result<Option<u64>, CborError> {
        self.take(key).map(|v| as_uint(v, key)).transpose()
    }

    pub(crate) fn text(&mut self, key: &str) -> Result<String, CborError> {
        as_text(self.required(key)?, key)
    }

    pub(crate) fn opt_text(&mut self, key: &str) -> Result<Option<String>, CborError> {
        self.take(key).map(|v| as_text(v, key)).transpose()
    }

    /// Refuses any key not taken yet, for payloads where an ignored key would be a key whose
    /// meaning some readers know and others do not.
    pub(crate) fn finish(self, what: &str) -> Result<(), CborError> {
        match self.entries.first() {
            None => Ok(()),
            Some((key, _)) => Err(shape(format!(
                "{what} has unknown key {:?}",
                key.chars().take(40).collect::<String>()
            ))),
        }
    }

    pub(crate) fn bytes(&mut self, key: &str) -> Result<Vec<u8>, CborError> {
        match self.required(key)? {
            Value::Bytes(b) => Ok(b),
            _ => Err(shape(format!("{key:?} is not a byte string"))),
        }
    }
}

pub(crate) fn as_uint(value: Value, key: &str) -> Result<u64, CborError> {
    match value {
        Value::Integer(i) => u64::try_from(i).map_err(|_| shape(format!("{key:?} is not a uint"))),
        _ => Err(shape(format!("{key:?} is not a uint"))),
    }
}

pub(crate) fn as_text(value: Value, key: &str) -> Result<String, CborError> {
    match value {
        Value::Text(t) => Ok(t),
        _ => Err(shape(format!("{key:?} is not text"))),
    }
}

/// Builds a text-keyed map in the given key order (the order is part of the golden vectors).
pub(crate) fn text_map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::Text(k.to_owned()), v))
            .collect(),
    )
}

pub(crate) fn uint(n: u64) -> Value {
    Value::Integer(Integer::from(n))
}
