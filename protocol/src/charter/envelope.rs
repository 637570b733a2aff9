//! The charter's envelope: a tagged COSE_Sign message (RFC 9052 section 4.1, CBOR tag 98) with
//! one EdDSA signature per signer.
//!
//! Layout, as [`SignedCharter`] writes it:
//!
//! ```text
//! 98([                                          tag 98: COSE_Sign
//!   << {3: "application/vnd.datapact.charter+cbor"} >>,   body protected header: content type
//!   {},                                                   body unprotected header: empty
//!   << payload >>,                                        the charter payload (document.rs)
//!   [                                                     signatures, ascending by key id
//!     [ << {1: -8, 4: KID} >>, {}, SIGNATURE ],           alg EdDSA, signer's 32-byte key;
//!     ...                                                 64-byte ed25519 signature
//!   ]
//! ])
//! Sig_structure = ["Signature", body_protected, sign_protected, h'', payload]
//! ```
//!
//! Strictness, as for COSE_Sign1 ([`crate::cose`]): one canonical encoding only (shortest
//! forms, definite lengths, exactly the headers above and nothing else), unprotected headers
//! empty, `crit` refused, a size cap, no trailing bytes, every signature verified. Signatures
//! sit in ascending order of key id with each key once, so adding a signature never touches the
//! payload, and two nodes that hold the same signatures hold the same bytes, whatever order
//! they arrived in. A message without signatures is a draft (RFC 9052 wants at least one): it
//! is what `federation init` writes for the founders to sign, and no rule accepts it.

use std::fmt;

use ciborium::value::{Integer, Value};

use crate::cbor::{CborError, decode_value, encode_value, shape};
use crate::cose::{ALG_EDDSA, LABEL_ALG, LABEL_CONTENT_TYPE, LABEL_CRIT, LABEL_KID};
use crate::cose::{MAX_PROTECTED_LEN, tagged_quadruple};
use crate::digest::{Digest, DigestError};
use crate::identity::{Identity, PublicKey, SIGNATURE_LEN};

use super::document::{Charter, KeyCache};
use super::{
    CHARTER_CONTENT_TYPE, COSE_SIGN_TAG, CharterError, MAX_CHAIN_STEPS, MAX_CHARTER_LEN,
    MAX_SIGNATURES,
};

/// The most threads that verify a chain's signatures at once.
const MAX_VERIFY_THREADS: usize = 8;

/// A charter version's id: the SHA-256 of its payload, which is also what the next version
/// names as `previous`. Signatures do not change it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CharterId(pub Digest);

impl CharterId {
    /// Parses the 64 hex characters that [`CharterId`]'s `Display` writes.
    pub fn from_hex(text: &str) -> Result<Self, DigestError> {
        Digest::from_hex(text).map(Self)
    }
}

/// Lower-case hex, as `federation status` prints it.
impl fmt::Display for CharterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for CharterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CharterId({})", self.0)
    }
}

/// One signer's signature over the charter.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Signature {
    /// The key id; signatures are kept in ascending order of its bytes.
    signer: PublicKey,
    /// The ed25519 signature over the Sig_structure.
    bytes: [u8; SIGNATURE_LEN],
}

/// A charter version with its signatures, each verified against its key id. Whether the
/// signers are the members that count is [`crate::charter::rules`]' question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCharter {
    /// The parsed payload.
    charter: Charter,
    /// The exact payload bytes, which every signature covers.
    payload: Vec<u8>,
    /// SHA-256 of `payload`.
    id: CharterId,
    /// Ascending by signer, each signer once.
    signatures: Vec<Signature>,
    /// The whole message, as it is stored and sent.
    bytes: Vec<u8>,
}

impl SignedCharter {
    /// The draft message of `charter`, with no signature yet.
    pub fn unsigned(charter: &Charter) -> Result<Self, CharterError> {
        charter.validate()?;
        let payload = charter.encode();
        let mut signed = Self {
            charter: charter.clone(),
            id: CharterId(Digest::of(&payload)),
            payload,
            signatures: Vec::new(),
            bytes: Vec::new(),
        };
        signed.reencode()?;
        Ok(signed)
    }

    /// Decodes a message of at most [`MAX_CHARTER_LEN`] bytes in its canonical encoding,
    /// parses and validates the payload and verifies every signature.
    pub fn decode(bytes: &[u8]) -> Result<Self, CharterError> {
        Self::decode_with(bytes, &mut KeyCache::default())
    }

    /// Decodes the messages of a chain (a base version and at most [`MAX_CHAIN_STEPS`] after
    /// it), each as [`SignedCharter::decode`] does; cheaper than one by one, since the versions
    /// share their keys and their signatures are verified on every core. The first
    /// refusal is the answer: of the encodings first, then of the signatures, each in chain order.
    pub fn decode_chain<B: AsRef<[u8]>>(messages: &[B]) -> Result<Vec<Self>, CharterError> {
        if messages.len() > MAX_CHAIN_STEPS + 1 {
            return Err(CharterError::ChainTooLong(messages.len()));
        }
        let mut keys = KeyCache::default();
        let parsed = messages
            .iter()
            .map(|m| Self::parse_with(m.as_ref(), &mut keys))
            .collect::<Result<Vec<_>, _>>()?;
        verify_in_parallel(&parsed)?;
        Ok(parsed)
    }

    fn decode_with(bytes: &[u8], keys: &mut KeyCache) -> Result<Self, CharterError> {
        let parsed = Self::parse_with(bytes, keys)?;
        parsed.verify_signatures()?;
        Ok(parsed)
    }

    /// Checks every signature against its key id.
    fn verify_signatures(&self) -> Result<(), CharterError> {
        for s in &self.signatures {
            if !s
                .signer
                .verify(&sig_structure(&s.signer, &self.payload), &s.bytes)
            {
                return Err(CharterError::BadSignature {
                    signer: s.signer.peer_id().to_string(),
                });
            }
        }
        Ok(())
    }

    /// Everything [`SignedCharter::decode`] checks but the signatures.
    fn parse_with(bytes: &[u8], keys: &mut KeyCache) -> Result<Self, CharterError> {
        let value = decode_value(bytes, MAX_CHARTER_LEN)?;
        if encode_value(&value) != bytes {
            return Err(shape("not in the canonical encoding").into());
        }
        let (payload, entries) = split_message(value)?;
        let signatures = entries
            .into_iter()
            .map(|entry| signature_from(entry, keys))
            .collect::<Result<Vec<_>, _>>()?;
        if signatures
            .windows(2)
            .any(|w| w[0].signer.to_bytes() >= w[1].signer.to_bytes())
        {
            return Err(shape("signatures are not in ascending order of key id, each once").into());
        }
        let charter = Charter::decode_with(&payload, keys)?;
        Ok(Self {
            charter,
            id: CharterId(Digest::of(&payload)),
            payload,
            signatures,
            bytes: bytes.to_vec(),
        })
    }

    /// Adds `identity`'s signature; returns whether the message changed (signing twice with
    /// one key gives the same bytes). Fails, changing nothing, if the message would grow past
    /// its caps.
    pub fn sign(&mut self, identity: &Identity) -> Result<bool, CharterError> {
        let signer = identity.public_key();
        let bytes = identity.sign(&sig_structure(&signer, &self.payload));
        self.add_all(vec![Signature { signer, bytes }])
    }

    /// Adds the signatures of `other`, a copy of the same payload that travelled another way;
    /// returns how many were new. Where both hold a signature of one key (a signer can make
    /// more than one), the smaller bytes stay, so merges agree in any order.
    pub fn merge(&mut self, other: &SignedCharter) -> Result<usize, CharterError> {
        if other.payload != self.payload {
            return Err(CharterError::DifferentPayload);
        }
        let before = self.signatures.clone();
        self.add_all(other.signatures.clone())?;
        Ok(self
            .signatures
            .iter()
            .filter(|s| !before.contains(s))
            .count())
    }

    /// The exact message bytes (tagged COSE_Sign).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The charter version.
    pub fn charter(&self) -> &Charter {
        &self.charter
    }

    /// The exact payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The version's id: SHA-256 of the payload.
    pub fn id(&self) -> CharterId {
        self.id
    }

    /// The keys whose signatures verified, each once, ascending.
    pub fn signers(&self) -> impl Iterator<Item = &PublicKey> {
        self.signatures.iter().map(|s| &s.signer)
    }

    /// Whether `key` signed.
    pub fn is_signed_by(&self, key: &PublicKey) -> bool {
        let key = key.to_bytes();
        self.signatures
            .binary_search_by(|s| s.signer.to_bytes().cmp(&key))
            .is_ok()
    }

    /// Inserts verified signatures in order and re-encodes; on failure nothing changes.
    fn add_all(&mut self, signatures: Vec<Signature>) -> Result<bool, CharterError> {
        let mut next = self.signatures.clone();
        for s in signatures {
            match next.binary_search_by(|have| have.signer.to_bytes().cmp(&s.signer.to_bytes())) {
                Ok(at) if s.bytes < next[at].bytes => next[at] = s,
                Ok(_) => {}
                Err(at) => next.insert(at, s),
            }
        }
        if next == self.signatures {
            return Ok(false);
        }
        let previous = std::mem::replace(&mut self.signatures, next);
        if let Err(e) = self.reencode() {
            self.signatures = previous;
            return Err(e);
        }
        Ok(true)
    }

    fn reencode(&mut self) -> Result<(), CharterError> {
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(CharterError::TooManySignatures(self.signatures.len()));
        }
        let entries = self
            .signatures
            .iter()
            .map(|s| {
                Value::Array(vec![
                    Value::Bytes(sign_protected(&s.signer)),
                    Value::Map(Vec::new()),
                    Value::Bytes(s.bytes.to_vec()),
                ])
            })
            .collect();
        let bytes = encode_value(&Value::Tag(
            COSE_SIGN_TAG,
            Box::new(Value::Array(vec![
                Value::Bytes(body_protected()),
                Value::Map(Vec::new()),
                Value::Bytes(self.payload.clone()),
                Value::Array(entries),
            ])),
        ));
        if bytes.len() > MAX_CHARTER_LEN {
            return Err(CharterError::TooLarge(bytes.len()));
        }
        self.bytes = bytes;
        Ok(())
    }
}

/// Verifies the signatures of `charters` on every core: a chain of 1,000 versions carries some
/// 24,000 signatures, and verifying them is nearly all the work of checking it. The answer is
/// the one a sequential check gives: the first bad signature in chain order.
fn verify_in_parallel(charters: &[SignedCharter]) -> Result<(), CharterError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_VERIFY_THREADS);
    if threads <= 1 || charters.len() < 2 {
        return charters
            .iter()
            .try_for_each(SignedCharter::verify_signatures);
    }
    let per_thread = charters.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = charters
            .chunks(per_thread)
            .map(|part| scope.spawn(|| part.iter().try_for_each(SignedCharter::verify_signatures)))
            .collect();
        // Joined in chain order, so the first error reported is the earliest one.
        workers.into_iter().try_for_each(|worker| {
            worker
                .join()
                .unwrap_or_else(|_| Err(shape("a signature check stopped unexpectedly").into()))
        })
    })
}

fn int(n: i64) -> Value {
    Value::Integer(Integer::from(n))
}

/// The body's protected header: the content type, which every signature covers.
fn body_protected() -> Vec<u8> {
    encode_value(&Value::Map(vec![(
        int(LABEL_CONTENT_TYPE),
        Value::Text(CHARTER_CONTENT_TYPE.to_owned()),
    )]))
}

/// A signature's protected header: the algorithm and the signer's key.
fn sign_protected(signer: &PublicKey) -> Vec<u8> {
    encode_value(&Value::Map(vec![
        (int(LABEL_ALG), int(ALG_EDDSA)),
        (int(LABEL_KID), Value::Bytes(signer.to_bytes().to_vec())),
    ]))
}

fn sig_structure(signer: &PublicKey, payload: &[u8]) -> Vec<u8> {
    encode_value(&Value::Array(vec![
        Value::Text("Signature".to_owned()),
        Value::Bytes(body_protected()),
        Value::Bytes(sign_protected(signer)),
        Value::Bytes(Vec::new()),
        Value::Bytes(payload.to_vec()),
    ]))
}

/// Takes the tag-98 array apart: checks the body headers, returns the payload and the
/// signature entries.
fn split_message(value: Value) -> Result<(Vec<u8>, Vec<Value>), CharterError> {
    let [protected, unprotected, payload, signatures] =
        tagged_quadruple(value, COSE_SIGN_TAG, "COSE_Sign")?;
    let (
        Value::Bytes(protected),
        Value::Map(unprotected),
        Value::Bytes(payload),
        Value::Array(signatures),
    ) = (protected, unprotected, payload, signatures)
    else {
        return Err(shape("COSE_Sign elements have the wrong types").into());
    };
    // Nothing unsigned may ride along.
    if !unprotected.is_empty() {
        return Err(shape("the body's unprotected header must be empty").into());
    }
    if signatures.len() > MAX_SIGNATURES {
        return Err(CharterError::TooManySignatures(signatures.len()));
    }
    let mut headers = header_entries(&protected)?;
    match headers.pop() {
        Some((LABEL_CONTENT_TYPE, Value::Text(found))) if headers.is_empty() => {
            if found != CHARTER_CONTENT_TYPE {
                return Err(CharterError::ContentType {
                    found: found.chars().take(100).collect(),
                    expected: CHARTER_CONTENT_TYPE,
                });
            }
        }
        _ => return Err(shape("the body header must hold exactly a text content type").into()),
    }
    if protected != body_protected() {
        return Err(shape("the body header is not in its canonical form").into());
    }
    Ok((payload, signatures))
}

/// Parses one COSE_Signature: its headers, key id and signature (verified later).
fn signature_from(entry: Value, keys: &mut KeyCache) -> Result<Signature, CharterError> {
    let Value::Array(parts) = entry else {
        return Err(shape("a COSE_Signature is not an array").into());
    };
    let [protected, unprotected, signature]: [Value; 3] = parts
        .try_into()
        .map_err(|_| shape("a COSE_Signature does not have 3 elements"))?;
    let (Value::Bytes(protected), Value::Map(unprotected), Value::Bytes(signature)) =
        (protected, unprotected, signature)
    else {
        return Err(shape("COSE_Signature elements have the wrong types").into());
    };
    if !unprotected.is_empty() {
        return Err(shape("a signature's unprotected header must be empty").into());
    }
    let (mut alg, mut kid) = (None, None);
    for (label, value) in header_entries(&protected)? {
        match label {
            LABEL_ALG => alg = Some(value),
            LABEL_KID => kid = Some(value),
            _ => return Err(shape("a signature header has an unexpected label").into()),
        }
    }
    match alg {
        Some(Value::Integer(i)) if i64::try_from(i) == Ok(ALG_EDDSA) => {}
        _ => return Err(CharterError::Algorithm),
    }
    let signer = match kid {
        Some(Value::Bytes(k)) => keys.get(&k).ok_or(CharterError::KeyId)?,
        _ => return Err(CharterError::KeyId),
    };
    if !signer.is_canonical_and_strong() {
        return Err(CharterError::KeyId);
    }
    if protected != sign_protected(&signer) {
        return Err(shape("a signature header is not in its canonical form").into());
    }
    let bytes = <[u8; SIGNATURE_LEN]>::try_from(signature.as_slice()).map_err(|_| {
        CharterError::BadSignature {
            signer: signer.peer_id().to_string(),
        }
    })?;
    Ok(Signature { signer, bytes })
}

/// The entries of a protected header with integer labels, each once; `crit` is refused, since
/// it lists labels the verifier must understand and this one understands none beyond its own.
fn header_entries(protected: &[u8]) -> Result<Vec<(i64, Value)>, CborError> {
    let Value::Map(entries) = decode_value(protected, MAX_PROTECTED_LEN)? else {
        return Err(shape("a protected header is not a map"));
    };
    let mut out: Vec<(i64, Value)> = Vec::with_capacity(entries.len());
    for (label, value) in entries {
        let label = match label {
            Value::Integer(i) => {
                i64::try_from(i).map_err(|_| shape("header label out of range"))?
            }
            _ => return Err(shape("a protected header has a non-integer label")),
        };
        if label == LABEL_CRIT {
            return Err(shape("critical header parameters are not supported"));
        }
        if out.iter().any(|(seen, _)| *seen == label) {
            return Err(shape("a protected header repeats a label"));
        }
        out.push((label, value));
    }
    Ok(out)
}
