//! COSE_Sign1 (RFC 9052, CBOR tag 18) with EdDSA over ed25519: the envelope of every signed
//! statement (announcements, revocations, receipts).
//!
//! Layout, as [`sign`] writes it:
//!
//! ```text
//! 18([                                  tag 18: COSE_Sign1
//!   << {1: -8, 3: CONTENT_TYPE, 4: KID} >>,   protected header (a byte string holding a map):
//!                                             alg EdDSA, content type, signer's 32-byte key
//!   {},                                       unprotected header: empty
//!   << payload >>,                            the statement, a CBOR map with text keys
//!   SIGNATURE                                 64-byte ed25519 signature over the Sig_structure
//! ])
//! Sig_structure = ["Signature1", protected, h'', payload]   (no external AAD)
//! ```
//!
//! The content type sits in the protected header, so a signature over one kind of statement
//! can never pass as another. The key id carries the signer's public key, so a statement can be
//! checked on its own; whether that key is trusted for the owner it names is for the caller
//! (the roster) to decide.

use ciborium::value::{Integer, Value};

use crate::cbor::{CborError, decode_value, encode_value, shape};
use crate::identity::{Identity, KEY_LEN, PublicKey, SIGNATURE_LEN};

/// CBOR tag of a COSE_Sign1 message.
pub const COSE_SIGN1_TAG: u64 = 18;
/// COSE algorithm id of EdDSA.
pub const ALG_EDDSA: i64 = -8;
/// Header label of the algorithm.
pub const LABEL_ALG: i64 = 1;
/// Header label of the critical-parameters list.
pub const LABEL_CRIT: i64 = 2;
/// Header label of the content type.
pub const LABEL_CONTENT_TYPE: i64 = 3;
/// Header label of the key id.
pub const LABEL_KID: i64 = 4;
/// Largest protected header accepted.
pub const MAX_PROTECTED_LEN: usize = 256;

/// Why a signed message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoseError {
    /// Not decodable, too large, or not the COSE_Sign1 shape.
    #[error("not a valid COSE_Sign1 message: {0}")]
    Cbor(#[from] CborError),
    /// Signed with another algorithm than EdDSA.
    #[error("unsupported signature algorithm (only EdDSA, -8)")]
    Algorithm,
    /// The content type is not the one expected here (e.g. a revocation offered as an
    /// announcement).
    #[error("wrong content type {found:?}, expected {expected:?}")]
    ContentType {
        /// What the protected header says.
        found: String,
        /// What the caller expected.
        expected: &'static str,
    },
    /// The key id is not a valid ed25519 public key.
    #[error("the key id is not an ed25519 public key")]
    KeyId,
    /// The signature does not verify against the key id.
    #[error("signature does not verify")]
    BadSignature,
}

/// A verified COSE_Sign1 message: the payload bytes and the key that signed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signed payload.
    pub payload: Vec<u8>,
    /// The key whose signature verified.
    pub signer: PublicKey,
}

fn protected_header(content_type: &str, kid: &[u8; KEY_LEN]) -> Vec<u8> {
    encode_value(&Value::Map(vec![
        (int(LABEL_ALG), int(ALG_EDDSA)),
        (
            int(LABEL_CONTENT_TYPE),
            Value::Text(content_type.to_owned()),
        ),
        (int(LABEL_KID), Value::Bytes(kid.to_vec())),
    ]))
}

fn int(n: i64) -> Value {
    Value::Integer(Integer::from(n))
}

fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    encode_value(&Value::Array(vec![
        Value::Text("Signature1".to_owned()),
        Value::Bytes(protected.to_vec()),
        Value::Bytes(Vec::new()),
        Value::Bytes(payload.to_vec()),
    ]))
}

/// Signs `payload` as a tagged COSE_Sign1 of `content_type` with `identity`.
pub fn sign(identity: &Identity, content_type: &str, payload: &[u8]) -> Vec<u8> {
    let protected = protected_header(content_type, &identity.public_key().to_bytes());
    let signature = identity.sign(&sig_structure(&protected, payload));
    encode_value(&Value::Tag(
        COSE_SIGN1_TAG,
        Box::new(Value::Array(vec![
            Value::Bytes(protected),
            Value::Map(Vec::new()),
            Value::Bytes(payload.to_vec()),
            Value::Bytes(signature.to_vec()),
        ])),
    ))
}

/// Decodes a tagged COSE_Sign1 of at most `cap` bytes, checks that it is EdDSA over
/// `content_type`, and verifies its signature against the key id it carries.
pub fn verify(bytes: &[u8], content_type: &'static str, cap: usize) -> Result<Verified, CoseError> {
    let opened = open(bytes, content_type, cap)?;
    if !opened.signer.verify(
        &sig_structure(&opened.protected, &opened.payload),
        &opened.signature,
    ) {
        return Err(CoseError::BadSignature);
    }
    Ok(Verified {
        payload: opened.payload,
        signer: opened.signer,
    })
}

/// Every check of [`verify`] except the signature itself: for a message whose signature the
/// caller checked before and kept unchanged (see [`crate::Signed::decode_trusted`]).
pub fn open_verified_before(
    bytes: &[u8],
    content_type: &'static str,
    cap: usize,
) -> Result<Verified, CoseError> {
    let opened = open(bytes, content_type, cap)?;
    Ok(Verified {
        payload: opened.payload,
        signer: opened.signer,
    })
}

/// A COSE_Sign1 message taken apart, its signature not yet checked.
struct Opened {
    protected: Vec<u8>,
    payload: Vec<u8>,
    signature: Vec<u8>,
    signer: PublicKey,
}

/// Decodes and checks the shape, algorithm, content type, key id and signature length.
fn open(bytes: &[u8], content_type: &'static str, cap: usize) -> Result<Opened, CoseError> {
    let Parts {
        protected,
        payload,
        signature,
    } = split(bytes, cap)?;
    let signer = check_protected(&protected, content_type)?;
    if signature.len() != SIGNATURE_LEN {
        return Err(CoseError::BadSignature);
    }
    Ok(Opened {
        protected,
        payload,
        signature,
        signer,
    })
}

/// The four parts of a COSE_Sign1 message, not yet checked.
/// Unwraps the `tag(array of 4)` frame that COSE_Sign1 (tag 18) and COSE_Sign (tag 98) share;
/// `name` names the structure in the error.
pub(crate) fn tagged_quadruple(
    value: Value,
    tag: u64,
    name: &str,
) -> Result<[Value; 4], CborError> {
    let inner = match value {
        Value::Tag(found, inner) if found == tag => inner,
        _ => return Err(shape(format!("not a tag-{tag} {name}"))),
    };
    let Value::Array(parts) = *inner else {
        return Err(shape(format!("{name} is not an array")));
    };
    parts
        .try_into()
        .map_err(|_| shape(format!("{name} does not have 4 elements")))
}

struct Parts {
    protected: Vec<u8>,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

/// Decodes a tagged COSE_Sign1 of at most `cap` bytes into its parts, refusing any encoding
/// but the canonical one and any unprotected header field.
fn split(bytes: &[u8], cap: usize) -> Result<Parts, CoseError> {
    let value = decode_value(bytes, cap)?;
    // One statement, one encoding: refuse non-minimal lengths, indefinite-length items and
    // anything else a relay could vary, so stored and exported copies are byte-identical.
    if encode_value(&value) != bytes {
        return Err(shape("not in the canonical encoding").into());
    }
    let [protected, unprotected, payload, signature] =
        tagged_quadruple(value, COSE_SIGN1_TAG, "COSE_Sign1")?;
    let (
        Value::Bytes(protected),
        Value::Map(unprotected),
        Value::Bytes(payload),
        Value::Bytes(signature),
    ) = (protected, unprotected, payload, signature)
    else {
        return Err(shape("COSE_Sign1 elements have the wrong types").into());
    };
    // Nothing unsigned may ride along.
    if !unprotected.is_empty() {
        return Err(shape("the unprotected header must be empty").into());
    }
    Ok(Parts {
        protected,
        payload,
        signature,
    })
}

/// The content type that the protected header of a tagged COSE_Sign1 (at most `cap` bytes)
/// names, so a receiver knows which kind of statement it holds before verifying it as that
/// kind. Checks the message's shape and algorithm, not its signature.
pub fn content_type(bytes: &[u8], cap: usize) -> Result<String, CoseError> {
    let parts = split(bytes, cap)?;
    Ok(read_protected(&parts.protected)?.content_type)
}

/// The protected header's fields, once its shape and algorithm are checked.
struct Protected {
    content_type: String,
    kid: Option<Value>,
}

/// Checks the protected header's shape and algorithm and reads its content type and key id.
fn read_protected(protected: &[u8]) -> Result<Protected, CoseError> {
    let Value::Map(entries) = decode_value(protected, MAX_PROTECTED_LEN)? else {
        return Err(shape("protected header is not a map").into());
    };
    let (mut alg, mut ctype, mut kid) = (None, None, None);
    for (label, value) in entries {
        let label = match label {
            Value::Integer(i) => {
                i64::try_from(i).map_err(|_| shape("header label out of range"))?
            }
            _ => return Err(shape("protected header has a non-integer label").into()),
        };
        let slot = match label {
            LABEL_ALG => &mut alg,
            LABEL_CONTENT_TYPE => &mut ctype,
            LABEL_KID => &mut kid,
            // `crit` lists labels the verifier must understand; we understand none beyond ours.
            LABEL_CRIT => return Err(shape("critical header parameters are not supported").into()),
            // RFC 9052 lets unknown labels pass unless marked critical; we sign none, and a
            // stranger's extra labels do not change what the signature covers.
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(shape("protected header repeats a label").into());
        }
    }
    match alg {
        Some(Value::Integer(i)) if i64::try_from(i) == Ok(ALG_EDDSA) => {}
        _ => return Err(CoseError::Algorithm),
    }
    match ctype {
        Some(Value::Text(content_type)) => Ok(Protected { content_type, kid }),
        _ => Err(shape("protected header lacks a text content type").into()),
    }
}

/// Checks alg and content type and returns the key id as a public key.
fn check_protected(protected: &[u8], content_type: &'static str) -> Result<PublicKey, CoseError> {
    let header = read_protected(protected)?;
    if header.content_type != content_type {
        return Err(CoseError::ContentType {
            found: header.content_type.chars().take(100).collect(),
            expected: content_type,
        });
    }
    match header.kid {
        Some(Value::Bytes(k)) => PublicKey::from_bytes(&k).map_err(|_| CoseError::KeyId),
        _ => Err(CoseError::KeyId),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "application/test+cbor";

    #[test]
    fn round_trip() {
        let id = Identity::from_seed(&[1; 32]);
        let signed = sign(&id, CT, b"\xa0");
        let v = verify(&signed, CT, 1024).unwrap();
        assert_eq!(v.payload, b"\xa0");
        assert_eq!(v.signer, id.public_key());
    }

    #[test]
    fn wrong_content_type_is_refused() {
        let id = Identity::from_seed(&[1; 32]);
        let signed = sign(&id, CT, b"\xa0");
        assert!(matches!(
            verify(&signed, "application/other", 1024),
            Err(CoseError::ContentType { .. })
        ));
    }

    #[test]
    fn opening_without_the_signature_check_still_checks_everything_else() {
        let id = Identity::from_seed(&[1; 32]);
        let mut signed = sign(&id, CT, b"\xa0");
        let opened = open_verified_before(&signed, CT, 1024).unwrap();
        assert_eq!(opened, verify(&signed, CT, 1024).unwrap());
        assert!(matches!(
            open_verified_before(&signed, "application/other", 1024),
            Err(CoseError::ContentType { .. })
        ));
        signed.push(0);
        assert!(open_verified_before(&signed, CT, 1024).is_err());
    }

    #[test]
    fn content_type_is_read_without_the_key() {
        let id = Identity::from_seed(&[1; 32]);
        let signed = sign(&id, CT, b"\xa0");
        assert_eq!(content_type(&signed, 1024).unwrap(), CT);
        assert!(content_type(b"\xa0", 1024).is_err());
    }

    #[test]
    fn cap_and_trailing_bytes() {
        let id = Identity::from_seed(&[1; 32]);
        let mut signed = sign(&id, CT, b"\xa0");
        assert!(matches!(
            verify(&signed, CT, 10),
            Err(CoseError::Cbor(CborError::TooLarge { .. }))
        ));
        signed.push(0);
        assert_eq!(
            verify(&signed, CT, 1024),
            Err(CoseError::Cbor(CborError::TrailingBytes))
        );
    }
}
