//! The charter payload: one version of the federation's membership list, and the rules that
//! every single version keeps whatever came before it.
//!
//! The payload is a CBOR map with text keys in this fixed order (docs/design.md section 9): `v`,
//! `federation`, `version`, `previous` (absent in version 1), `threshold`, `members`,
//! `retired`, `issued_at`. A payload is accepted only in exactly the encoding [`Charter::encode`]
//! writes: its SHA-256 names the version and links the next one to it, so one charter must
//! have one spelling. Unknown keys are refused rather than ignored: membership is what every
//! node must read the same way, and a later change of meaning gets a new `v`.

use std::collections::{HashMap, HashSet};

use ciborium::value::Value;

use crate::cbor::{CborError, TextMap, as_text, decode_value, encode_value, shape, text_map, uint};
use crate::digest::Digest;
use crate::identity::{KEY_LEN, PublicKey};
use crate::ids::MemberCode;

use super::{
    CHARTER_PAYLOAD_VERSION, CharterError, MAX_ADDR_LEN, MAX_CHARTER_LEN, MAX_FEDERATION_NAME_LEN,
    MAX_MEMBER_ADDRS, MAX_MEMBERS, MAX_RETIRED_STATEMENTS,
};

/// One member of the federation as a charter version lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharterMember {
    /// The member's code; statements name their owner by it.
    pub code: MemberCode,
    /// The member's node key: its PeerId and the key its statements must verify against.
    pub public_key: PublicKey,
    /// Multiaddrs where the member's node listens, so other nodes can dial it.
    pub addrs: Vec<String>,
}

/// A key that its member no longer uses, with the statements signed by it that still stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredKey {
    /// The member who held the key.
    pub code: MemberCode,
    /// The retired key.
    pub public_key: PublicKey,
    /// SHA-256 of each statement (its exact signed bytes) that the member stands by, in
    /// ascending order; every other statement of this key is refused, so a stolen old key
    /// cannot backdate anything.
    pub statements: Vec<Digest>,
}

/// One version of the federation's charter: the payload that its members sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charter {
    /// The federation's name; every version of one chain carries the same.
    pub federation: String,
    /// 1 for the founding version, then one more for each change.
    pub version: u64,
    /// SHA-256 of the previous version's payload; `None` exactly in version 1.
    pub previous: Option<Digest>,
    /// k: how many members must sign the next version (and this one, as a version N+1).
    pub threshold: u64,
    /// The members, each code and each key once.
    pub members: Vec<CharterMember>,
    /// The keys this version retires (held by their member in the version before).
    pub retired: Vec<RetiredKey>,
    /// Unix seconds when it was drafted.
    pub issued_at: u64,
}

/// The smallest threshold that needs more than half of `members`.
pub fn smallest_valid_threshold(members: usize) -> u64 {
    members as u64 / 2 + 1
}

/// Whether `threshold` needs more than half and at most all of `members` (n/2 < k <= n), so that
/// two disjoint quorums cannot exist.
pub fn threshold_is_valid(threshold: u64, members: usize) -> bool {
    let n = members as u64;
    threshold.saturating_mul(2) > n && threshold <= n
}

impl Charter {
    /// A founding version 1 of `federation` with `members` (sorted by code) and `threshold`.
    pub fn genesis(
        federation: &str,
        threshold: u64,
        mut members: Vec<CharterMember>,
        issued_at: u64,
    ) -> Result<Self, CharterError> {
        members.sort_by(|a, b| a.code.cmp(&b.code));
        let charter = Self {
            federation: federation.to_owned(),
            version: 1,
            previous: None,
            threshold,
            members,
            retired: Vec::new(),
            issued_at,
        };
        charter.validate()?;
        Ok(charter)
    }

    /// The member with `code`, if listed.
    pub fn member(&self, code: &MemberCode) -> Option<&CharterMember> {
        self.members.iter().find(|m| m.code == *code)
    }

    /// The member whose key is `key`, if any.
    pub fn member_by_key(&self, key: &PublicKey) -> Option<&CharterMember> {
        self.members.iter().find(|m| m.public_key == *key)
    }

    /// Checks the rules of every version: fields in range, each code and key once, the
    /// threshold more than half and at most all of the members.
    pub fn validate(&self) -> Result<(), CharterError> {
        validate_federation(&self.federation)?;
        if self.version == 0 {
            return Err(field("version", "must be at least 1"));
        }
        match (self.version, self.previous) {
            (1, Some(_)) => return Err(field("previous", "must be absent in version 1")),
            (2.., None) => return Err(field("previous", "is required after version 1")),
            _ => {}
        }
        let keys = validate_members(&self.members)?;
        if !threshold_is_valid(self.threshold, self.members.len()) {
            return Err(CharterError::Threshold {
                threshold: self.threshold,
                members: self.members.len(),
            });
        }
        if self.version == 1 && !self.retired.is_empty() {
            return Err(field("retired", "must be empty in version 1"));
        }
        validate_retired(&self.retired, &keys)
    }

    /// The payload bytes: the one encoding of this version.
    pub fn encode(&self) -> Vec<u8> {
        encode_value(&self.to_payload())
    }

    /// Parses payload bytes, refusing anything but the encoding [`Charter::encode`] writes, and
    /// validates the result.
    pub fn decode(payload: &[u8]) -> Result<Self, CharterError> {
        Self::decode_with(payload, &mut KeyCache::default())
    }

    /// [`Charter::decode`], taking member keys already seen from `keys`.
    pub(crate) fn decode_with(payload: &[u8], keys: &mut KeyCache) -> Result<Self, CharterError> {
        let charter = Self::from_value(decode_value(payload, MAX_CHARTER_LEN)?, keys)?;
        if charter.encode() != payload {
            return Err(shape("the payload is not in its canonical encoding").into());
        }
        charter.validate()?;
        Ok(charter)
    }

    fn to_payload(&self) -> Value {
        let mut entries = vec![
            ("v", uint(CHARTER_PAYLOAD_VERSION)),
            ("federation", Value::Text(self.federation.clone())),
            ("version", uint(self.version)),
        ];
        if let Some(previous) = self.previous {
            entries.push(("previous", digest_value(&previous)));
        }
        entries.push(("threshold", uint(self.threshold)));
        entries.push((
            "members",
            Value::Array(self.members.iter().map(member_value).collect()),
        ));
        entries.push((
            "retired",
            Value::Array(self.retired.iter().map(retired_value).collect()),
        ));
        entries.push(("issued_at", uint(self.issued_at)));
        text_map(entries)
    }

    fn from_value(value: Value, keys: &mut KeyCache) -> Result<Self, CharterError> {
        let mut map = TextMap::new(value, "charter")?;
        let v = map.uint("v")?;
        if v != CHARTER_PAYLOAD_VERSION {
            return Err(CharterError::Version(v));
        }
        let charter = Self {
            federation: map.text("federation")?,
            version: map.uint("version")?,
            previous: map.take("previous").map(digest_from).transpose()?,
            threshold: map.uint("threshold")?,
            members: array(map.required("members")?, "members", MAX_MEMBERS)?
                .into_iter()
                .map(|v| member_from(v, keys))
                .collect::<Result<_, _>>()?,
            retired: array(map.required("retired")?, "retired", MAX_MEMBERS)?
                .into_iter()
                .map(|v| retired_from(v, keys))
                .collect::<Result<_, _>>()?,
            issued_at: map.uint("issued_at")?,
        };
        map.finish("charter")?;
        Ok(charter)
    }
}

/// Public keys already decompressed, by their bytes. The versions of one chain list mostly the
/// same keys, and turning 32 bytes into a curve point costs about as much as a tenth of a
/// signature check; a chain of 1,000 versions of 46 members would do it 46,000 times.
#[derive(Default)]
pub(crate) struct KeyCache {
    /// Keys seen so far, at most [`KeyCache::MAX_KEYS`].
    keys: HashMap<[u8; KEY_LEN], PublicKey>,
}

impl KeyCache {
    /// Most keys kept: a hostile chain can list new keys in every version, and past this many
    /// the cache just stops growing.
    const MAX_KEYS: usize = 4 * MAX_MEMBERS;

    /// The public key of `bytes`, if they are one.
    pub(crate) fn get(&mut self, bytes: &[u8]) -> Option<PublicKey> {
        let bytes: [u8; KEY_LEN] = bytes.try_into().ok()?;
        if let Some(key) = self.keys.get(&bytes) {
            return Some(*key);
        }
        let key = PublicKey::from_bytes(&bytes).ok()?;
        if self.keys.len() < Self::MAX_KEYS {
            self.keys.insert(bytes, key);
        }
        Some(key)
    }
}

fn field(field: &'static str, why: &'static str) -> CharterError {
    CharterError::Field { field, why }
}

fn validate_federation(name: &str) -> Result<(), CharterError> {
    if name.is_empty() || name.len() > MAX_FEDERATION_NAME_LEN {
        return Err(field("federation", "must be 1 to 64 bytes"));
    }
    if name.trim() != name || name.chars().any(char::is_control) {
        return Err(field(
            "federation",
            "has control characters or surrounding spaces",
        ));
    }
    Ok(())
}

/// Checks each member and that codes and keys are unique; returns the set of member keys.
fn validate_members(members: &[CharterMember]) -> Result<HashSet<PublicKey>, CharterError> {
    if members.is_empty() {
        return Err(field("members", "must list at least one member"));
    }
    if members.len() > MAX_MEMBERS {
        return Err(field("members", "more than 256 members"));
    }
    let mut codes = HashSet::with_capacity(members.len());
    let mut keys = HashSet::with_capacity(members.len());
    for m in members {
        if !codes.insert(&m.code) {
            return Err(CharterError::DuplicateCode(m.code.clone()));
        }
        if !m.public_key.is_canonical_and_strong() {
            return Err(CharterError::WeakKey(m.code.clone()));
        }
        if !keys.insert(m.public_key) {
            return Err(CharterError::DuplicateKey {
                key: m.public_key.peer_id().to_string(),
                code: m.code.clone(),
            });
        }
        validate_addrs(&m.addrs)?;
    }
    Ok(keys)
}

/// Addresses are kept as text: the node parses them as multiaddrs when it dials, and one it
/// cannot parse costs only that address.
fn validate_addrs(addrs: &[String]) -> Result<(), CharterError> {
    if addrs.len() > MAX_MEMBER_ADDRS {
        return Err(field("addrs", "more than 8 addresses for one member"));
    }
    for addr in addrs {
        let ok = (2..=MAX_ADDR_LEN).contains(&addr.len())
            && addr.starts_with('/')
            && addr.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(field(
                "addrs",
                "an address is not multiaddr text (/ip4/.../tcp/..., at most 256 bytes)",
            ));
        }
    }
    Ok(())
}

fn validate_retired(
    retired: &[RetiredKey],
    member_keys: &HashSet<PublicKey>,
) -> Result<(), CharterError> {
    let mut seen = HashSet::with_capacity(retired.len());
    for r in retired {
        if !r.public_key.is_canonical_and_strong() {
            return Err(CharterError::WeakKey(r.code.clone()));
        }
        if member_keys.contains(&r.public_key) || !seen.insert(r.public_key) {
            return Err(CharterError::DuplicateKey {
                key: r.public_key.peer_id().to_string(),
                code: r.code.clone(),
            });
        }
        if r.statements.len() > MAX_RETIRED_STATEMENTS {
            return Err(field("statements", "more than 16384 under one key"));
        }
        // Ascending without repeats: one spelling, and a binary search finds a statement.
        if r.statements.windows(2).any(|w| w[0] >= w[1]) {
            return Err(field(
                "statements",
                "not in ascending order without repeats",
            ));
        }
    }
    Ok(())
}

fn digest_value(d: &Digest) -> Value {
    Value::Bytes(d.0.to_vec())
}

fn key_value(k: &PublicKey) -> Value {
    Value::Bytes(k.to_bytes().to_vec())
}

fn member_value(m: &CharterMember) -> Value {
    text_map(vec![
        ("code", Value::Text(m.code.to_string())),
        ("public_key", key_value(&m.public_key)),
        (
            "addrs",
            Value::Array(m.addrs.iter().cloned().map(Value::Text).collect()),
        ),
    ])
}

fn retired_value(r: &RetiredKey) -> Value {
    text_map(vec![
        ("code", Value::Text(r.code.to_string())),
        ("public_key", key_value(&r.public_key)),
        (
            "statements",
            Value::Array(r.statements.iter().map(digest_value).collect()),
        ),
    ])
}

fn array(value: Value, what: &str, max: usize) -> Result<Vec<Value>, CborError> {
    match value {
        Value::Array(items) if items.len() <= max => Ok(items),
        Value::Array(_) => Err(shape(format!("{what} has more than {max} entries"))),
        _ => Err(shape(format!("{what} is not an array"))),
    }
}

fn digest_from(value: Value) -> Result<Digest, CharterError> {
    match value {
        Value::Bytes(b) => Digest::from_slice(&b).map_err(|_| field("digest", "not 32 bytes")),
        _ => Err(shape("a digest is not a byte string").into()),
    }
}

fn key_from(map: &mut TextMap, keys: &mut KeyCache) -> Result<PublicKey, CharterError> {
    keys.get(&map.bytes("public_key")?)
        .ok_or_else(|| field("public_key", "not an ed25519 public key"))
}

fn member_from(value: Value, keys: &mut KeyCache) -> Result<CharterMember, CharterError> {
    let mut map = TextMap::new(value, "member")?;
    let member = CharterMember {
        code: MemberCode::new(&map.text("code")?)?,
        public_key: key_from(&mut map, keys)?,
        addrs: array(map.required("addrs")?, "addrs", MAX_MEMBER_ADDRS)?
            .into_iter()
            .map(|v| as_text(v, "addrs"))
            .collect::<Result<_, _>>()?,
    };
    map.finish("member")?;
    Ok(member)
}

fn retired_from(value: Value, keys: &mut KeyCache) -> Result<RetiredKey, CharterError> {
    let mut map = TextMap::new(value, "retired key")?;
    let retired = RetiredKey {
        code: MemberCode::new(&map.text("code")?)?,
        public_key: key_from(&mut map, keys)?,
        statements: array(
            map.required("statements")?,
            "statements",
            MAX_RETIRED_STATEMENTS,
        )?
        .into_iter()
        .map(digest_from)
        .collect::<Result<_, _>>()?,
    };
    map.finish("retired key")?;
    Ok(retired)
}
