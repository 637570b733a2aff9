//! Announcements and revocations: the owner's signed statements that a dataset version exists
//! (with its digest, size, metadata and release policy) or is withdrawn.
//!
//! Both travel as COSE_Sign1 ([`crate::cose`]) with a CBOR payload of text keys, in the order
//! the encoders below write them (docs/PROTOCOL.md section 3). Decoders take the exact bytes, verify the
//! signature, and refuse oversize input, trailing bytes, unknown payload versions and any
//! malformed field; unknown extra payload keys are ignored, so later minor additions stay
//! readable. Received statements are kept as their original bytes, never re-encoded.

use ciborium::value::Value;

pub use crate::bundle::{MAX_FILE_NAME_LEN, validate_file_name};
use crate::cbor::{CborError, TextMap, as_text, decode_value, encode_value, shape, text_map, uint};
use crate::cose::{self, CoseError};
use crate::digest::{CHUNK_SIZE, Digest, MAX_CONTENT_SIZE, chunk_count};
use crate::identity::{Identity, PublicKey};
use crate::ids::{DatasetId, DatasetName, IdError, MemberCode};
pub use crate::meta::{
    DisclosureRef, MAX_META_COLUMNS, MAX_META_STRUCTURES, MAX_META_TEXT_LEN, MIN_COUNT_RULE, Meta,
    StructureRef,
};
use crate::meta::{check_text, meta_from_value, meta_to_value, opt_text_value, validate_meta};
use crate::policy::{Audience, Policy, PolicyError};

/// Content type of an announcement, in the COSE protected header.
pub const ANNOUNCEMENT_CONTENT_TYPE: &str = "application/vnd.datapact.announcement+cbor";
/// Content type of a revocation, in the COSE protected header.
pub const REVOCATION_CONTENT_TYPE: &str = "application/vnd.datapact.revocation+cbor";
/// Content type of a receipt, in the COSE protected header.
pub const RECEIPT_CONTENT_TYPE: &str = "application/vnd.datapact.receipt+cbor";
/// The payload format version this crate writes and reads.
pub const PAYLOAD_VERSION: u64 = 1;
/// Largest signed statement (COSE bytes) accepted by any decoder.
pub const MAX_SIGNED_LEN: usize = 64 * 1024;

/// Why a statement could not be built, decoded or trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatementError {
    /// The COSE envelope is malformed or its signature does not verify.
    #[error(transparent)]
    Cose(#[from] CoseError),
    /// The payload is not well-formed CBOR of the expected shape.
    #[error("malformed payload: {0}")]
    Payload(#[from] CborError),
    /// A payload format version this node does not know.
    #[error("unsupported payload version {0}")]
    Version(u64),
    /// An id field is invalid.
    #[error(transparent)]
    Id(#[from] IdError),
    /// The policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Another field is out of its allowed range.
    #[error("invalid {field}: {why}")]
    Field {
        /// The payload key.
        field: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The statement would exceed [`MAX_SIGNED_LEN`] once signed.
    #[error("statement too large: {0} bytes, the limit is {MAX_SIGNED_LEN}")]
    TooLarge(usize),
    /// Signed by a key other than the one the verifier trusts for the owner.
    #[error("signed by a key that is not {owner}'s roster key")]
    NotOwnerKey {
        /// The owner the statement names.
        owner: MemberCode,
    },
}

/// The owner's statement that one dataset version exists, with its digests and policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// Member code of the owner, whose key signs.
    pub owner: MemberCode,
    /// Dataset name.
    pub name: DatasetName,
    /// Dataset version, from 1.
    pub version: u64,
    /// SHA-256 of the whole content.
    pub sha256: Digest,
    /// Content length in bytes.
    pub size: u64,
    /// The original file name; `export` writes the content under it.
    pub file_name: String,
    /// SHA-256 over the concatenated chunk digests ([`crate::digest`]), for verified pulls.
    pub chunk_root: Digest,
    /// Who may pull, and when.
    pub policy: Policy,
    /// Descriptive metadata.
    pub meta: Meta,
    /// Unix seconds when the owner signed it.
    pub issued_at: u64,
}

/// The owner's statement that a dataset version is withdrawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// Member code of the owner.
    pub owner: MemberCode,
    /// Dataset name.
    pub name: DatasetName,
    /// The revoked version.
    pub version: u64,
    /// Why, for people.
    pub reason: Option<String>,
    /// Unix seconds when the owner signed it.
    pub issued_at: u64,
}

impl Announcement {
    /// The dataset id this announcement is about.
    pub fn id(&self) -> DatasetId {
        DatasetId {
            owner: self.owner.clone(),
            name: self.name.clone(),
            version: self.version,
        }
    }

    /// Number of transfer chunks of the content.
    pub fn chunk_count(&self) -> u64 {
        chunk_count(self.size)
    }
}

impl Revocation {
    /// The dataset id this revocation withdraws.
    pub fn id(&self) -> DatasetId {
        DatasetId {
            owner: self.owner.clone(),
            name: self.name.clone(),
            version: self.version,
        }
    }
}

/// A receiver's signed statement that it received and verified one dataset version, sent to the
/// owner after a pull so that the owner can later prove who received what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The member that received the dataset and signs the receipt.
    pub receiver: MemberCode,
    /// The dataset received.
    pub dataset: DatasetId,
    /// SHA-256 of the content as received and verified.
    pub sha256: Digest,
    /// Unix seconds when the receiver verified the content.
    pub received_at: u64,
}

/// A signed receipt.
pub type SignedReceipt = Signed<Receipt>;

impl Statement for Receipt {
    const CONTENT_TYPE: &'static str = RECEIPT_CONTENT_TYPE;

    fn to_payload(&self) -> Value {
        text_map(vec![
            ("v", uint(PAYLOAD_VERSION)),
            ("receiver", Value::Text(self.receiver.to_string())),
            ("dataset", Value::Text(self.dataset.to_string())),
            ("sha256", Value::Bytes(self.sha256.0.to_vec())),
            ("received_at", uint(self.received_at)),
        ])
    }

    fn from_payload(payload: Value) -> Result<Self, StatementError> {
        let mut map = TextMap::new(payload, "receipt")?;
        check_version(&mut map)?;
        let receiver = MemberCode::new(&map.text("receiver")?)?;
        let dataset: DatasetId = map.text("dataset")?.parse()?;
        let sha256 =
            Digest::from_slice(&map.bytes("sha256")?).map_err(|_| StatementError::Field {
                field: "sha256",
                why: "not 32 bytes",
            })?;
        Ok(Self {
            receiver,
            dataset,
            sha256,
            received_at: map.uint("received_at")?,
        })
    }

    fn owner(&self) -> &MemberCode {
        &self.receiver
    }

    fn validate(&self) -> Result<(), StatementError> {
        Ok(())
    }
}

/// A kind of signed statement: its content type and payload encoding.
pub trait Statement: Sized {
    /// The COSE content type that distinguishes this kind.
    const CONTENT_TYPE: &'static str;
    /// The payload as a CBOR value, keys in their fixed order.
    fn to_payload(&self) -> Value;
    /// Parses and validates a payload.
    fn from_payload(payload: Value) -> Result<Self, StatementError>;
    /// The member the statement speaks for.
    fn owner(&self) -> &MemberCode;
    /// Checks every field's range.
    fn validate(&self) -> Result<(), StatementError>;
}

/// A statement together with its exact signed bytes and the key that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed<T> {
    bytes: Vec<u8>,
    body: T,
    signer: PublicKey,
}

/// A signed announcement.
pub type SignedAnnouncement = Signed<Announcement>;
/// A signed revocation.
pub type SignedRevocation = Signed<Revocation>;

impl<T: Statement> Signed<T> {
    /// Validates `body` and signs it with `identity`.
    pub fn sign(body: T, identity: &Identity) -> Result<Self, StatementError> {
        body.validate()?;
        let payload = encode_value(&body.to_payload());
        let bytes = cose::sign(identity, T::CONTENT_TYPE, &payload);
        if bytes.len() > MAX_SIGNED_LEN {
            return Err(StatementError::TooLarge(bytes.len()));
        }
        Ok(Self {
            bytes,
            body,
            signer: identity.public_key(),
        })
    }

    /// Decodes signed bytes (at most [`MAX_SIGNED_LEN`]), verifies the signature against the
    /// key id they carry, and parses and validates the payload. Whether the signer is trusted
    /// for the owner is [`Signed::check_signer`]'s question.
    pub fn decode(bytes: &[u8]) -> Result<Self, StatementError> {
        let verified = cose::verify(bytes, T::CONTENT_TYPE, MAX_SIGNED_LEN)?;
        let payload = decode_value(&verified.payload, MAX_SIGNED_LEN)?;
        let body = T::from_payload(payload)?;
        body.validate()?;
        Ok(Self {
            bytes: bytes.to_vec(),
            body,
            signer: verified.signer,
        })
    }

    /// Decodes signed bytes like [`Signed::decode`] but without checking the signature again:
    /// only for bytes whose signature this node verified (or made) before it stored them, read
    /// back from its own store on a hot path (answering a peer) where a signature check per
    /// request would make the work depend on more than what that peer may see. Never for
    /// bytes that come from a peer.
    pub fn decode_trusted(bytes: &[u8]) -> Result<Self, StatementError> {
        let opened = cose::open_verified_before(bytes, T::CONTENT_TYPE, MAX_SIGNED_LEN)?;
        let payload = decode_value(&opened.payload, MAX_SIGNED_LEN)?;
        let body = T::from_payload(payload)?;
        body.validate()?;
        Ok(Self {
            bytes: bytes.to_vec(),
            body,
            signer: opened.signer,
        })
    }

    /// Checks that the signer is `trusted`, the key the verifier holds for the owner.
    pub fn check_signer(&self, trusted: &PublicKey) -> Result<(), StatementError> {
        if self.signer == *trusted {
            Ok(())
        } else {
            Err(StatementError::NotOwnerKey {
                owner: self.body.owner().clone(),
            })
        }
    }

    /// The exact signed bytes (tagged COSE_Sign1).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The statement.
    pub fn body(&self) -> &T {
        &self.body
    }

    /// The key that signed it.
    pub fn signer(&self) -> &PublicKey {
        &self.signer
    }
}

fn check_version(map: &mut TextMap) -> Result<(), StatementError> {
    let v = map.uint("v")?;
    if v != PAYLOAD_VERSION {
        return Err(StatementError::Version(v));
    }
    Ok(())
}

impl Statement for Announcement {
    const CONTENT_TYPE: &'static str = ANNOUNCEMENT_CONTENT_TYPE;

    fn to_payload(&self) -> Value {
        text_map(vec![
            ("v", uint(PAYLOAD_VERSION)),
            ("owner", Value::Text(self.owner.to_string())),
            ("name", Value::Text(self.name.to_string())),
            ("version", uint(self.version)),
            ("sha256", Value::Bytes(self.sha256.0.to_vec())),
            ("size", uint(self.size)),
            ("file_name", Value::Text(self.file_name.clone())),
            ("chunk_size", uint(CHUNK_SIZE)),
            ("chunk_root", Value::Bytes(self.chunk_root.0.to_vec())),
            ("policy", policy_to_value(&self.policy)),
            ("meta", meta_to_value(&self.meta)),
            ("issued_at", uint(self.issued_at)),
        ])
    }

    fn from_payload(payload: Value) -> Result<Self, StatementError> {
        let mut map = TextMap::new(payload, "announcement")?;
        check_version(&mut map)?;
        let owner = MemberCode::new(&map.text("owner")?)?;
        let name = DatasetName::new(&map.text("name")?)?;
        let version = map.uint("version")?;
        let sha256 =
            Digest::from_slice(&map.bytes("sha256")?).map_err(|_| StatementError::Field {
                field: "sha256",
                why: "not 32 bytes",
            })?;
        let size = map.uint("size")?;
        let file_name = map.text("file_name")?;
        if map.uint("chunk_size")? != CHUNK_SIZE {
            return Err(StatementError::Field {
                field: "chunk_size",
                why: "unsupported chunk size",
            });
        }
        let chunk_root =
            Digest::from_slice(&map.bytes("chunk_root")?).map_err(|_| StatementError::Field {
                field: "chunk_root",
                why: "not 32 bytes",
            })?;
        let policy = policy_from_value(map.required("policy")?)?;
        let meta = meta_from_value(map.required("meta")?)?;
        let issued_at = map.uint("issued_at")?;
        Ok(Self {
            owner,
            name,
            version,
            sha256,
            size,
            file_name,
            chunk_root,
            policy,
            meta,
            issued_at,
        })
    }

    fn owner(&self) -> &MemberCode {
        &self.owner
    }

    fn validate(&self) -> Result<(), StatementError> {
        check_version_number(self.version)?;
        if self.size > MAX_CONTENT_SIZE {
            return Err(StatementError::Field {
                field: "size",
                why: "larger than the 256 GiB limit",
            });
        }
        validate_file_name(&self.file_name)?;
        self.policy.validate()?;
        validate_meta(&self.meta)
    }
}

/// Versions count from 1: version 0 would never be "the latest" and only confuses readers.
fn check_version_number(version: u64) -> Result<(), StatementError> {
    if version == 0 {
        return Err(StatementError::Field {
            field: "version",
            why: "must be at least 1",
        });
    }
    Ok(())
}

impl Statement for Revocation {
    const CONTENT_TYPE: &'static str = REVOCATION_CONTENT_TYPE;

    fn to_payload(&self) -> Value {
        let mut entries = vec![
            ("v", uint(PAYLOAD_VERSION)),
            ("owner", Value::Text(self.owner.to_string())),
            ("name", Value::Text(self.name.to_string())),
            ("version", uint(self.version)),
        ];
        opt_text_value(&mut entries, "reason", &self.reason);
        entries.push(("issued_at", uint(self.issued_at)));
        text_map(entries)
    }

    fn from_payload(payload: Value) -> Result<Self, StatementError> {
        let mut map = TextMap::new(payload, "revocation")?;
        check_version(&mut map)?;
        Ok(Self {
            owner: MemberCode::new(&map.text("owner")?)?,
            name: DatasetName::new(&map.text("name")?)?,
            version: map.uint("version")?,
            reason: map.opt_text("reason")?,
            issued_at: map.uint("issued_at")?,
        })
    }

    fn owner(&self) -> &MemberCode {
        &self.owner
    }

    fn validate(&self) -> Result<(), StatementError> {
        check_version_number(self.version)?;
        check_text("reason", self.reason.as_deref())
    }
}

fn policy_to_value(p: &Policy) -> Value {
    let mut entries = vec![("audience", Value::Text(p.audience.kind().to_owned()))];
    if let Audience::Only(named) = &p.audience {
        entries.push((
            "members",
            Value::Array(named.iter().map(|m| Value::Text(m.to_string())).collect()),
        ));
    }
    if let Some(t) = p.embargo_until {
        entries.push(("embargo_until", uint(t)));
    }
    if let Some(t) = p.expires_at {
        entries.push(("expires_at", uint(t)));
    }
    opt_text_value(&mut entries, "purpose", &p.purpose);
    opt_text_value(&mut entries, "licence", &p.licence);
    text_map(entries)
}

fn policy_from_value(value: Value) -> Result<Policy, StatementError> {
    let mut map = TextMap::new(value, "policy")?;
    let kind = map.text("audience")?;
    let audience = match kind.as_str() {
        "public" => Audience::Public,
        "members" => Audience::Members,
        "only" => {
            let Value::Array(items) = map.required("members")? else {
                return Err(shape("policy members is not an array").into());
            };
            let codes = items
                .into_iter()
                .map(|v| Ok(MemberCode::new(&as_text(v, "members")?)?))
                .collect::<Result<Vec<_>, StatementError>>()?;
            Audience::only(codes)?
        }
        _ => return Err(PolicyError::Audience(kind.chars().take(80).collect()).into()),
    };
    Ok(Policy {
        audience,
        embargo_until: map.opt_uint("embargo_until")?,
        expires_at: map.opt_uint("expires_at")?,
        purpose: map.opt_text("purpose")?,
        licence: map.opt_text("licence")?,
    })
}
