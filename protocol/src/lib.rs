//! # datapact-protocol
//!
//! The pure types and rules of datapact: member codes and dataset ids, the release policy and
//! the decision of a pull, the node identity, signed announcements and revocations (COSE_Sign1
//! with EdDSA), the federation charter (COSE_Sign, changed only by a quorum of members),
//! SHA-256 content digests, the wire messages nodes exchange, SDMX (structure messages in
//! SDMX-JSON and SDMX-ML 3.0, their consistency, the validation of SDMX-CSV data), and the
//! disclosure control of released tables of counts.
//!
//! This crate does no I/O, spawns nothing and has no async: every rule that decides something
//! is a pure function here, tested without a network.
//!
//! ## Verifying an announcement without datapact
//!
//! An exported `announcement.cose` is a tagged COSE_Sign1 message (RFC 9052) with algorithm
//! EdDSA. Any COSE library verifies it given only the owner's 32-byte ed25519 public key (the
//! `public_key` that `datapact id` prints). With Rust's `coset` crate and `ed25519-dalek`:
//!
//! ```ignore
//! use coset::{CoseSign1, TaggedCborSerializable};
//! let sign1 = CoseSign1::from_tagged_slice(&std::fs::read("announcement.cose")?)?;
//! let key = ed25519_dalek::VerifyingKey::from_bytes(&owner_public_key)?;
//! sign1.verify_signature(b"", |sig, data| {
//!     key.verify_strict(data, &ed25519_dalek::Signature::from_slice(sig)?)
//! })?;
//! ```
//!
//! The test `independent_cose_library_verifies` in `tests/golden.rs` runs exactly this.
//! With Python's `pycose`: `Sign1Message.decode(data)`, set `msg.key = OKPKey(crv='Ed25519',
//! x=public_key)`, then `msg.verify_signature()`.
//!
//! ## Verifying a charter without datapact
//!
//! A charter ([`charter`]) is a tagged COSE_Sign message (RFC 9052, CBOR tag 98) with one EdDSA
//! signature per signer, each carrying its signer's 32-byte public key as `kid`. With `coset`,
//! signature `i` verifies given that key:
//!
//! ```ignore
//! use coset::{CoseSign, TaggedCborSerializable};
//! let sign = CoseSign::from_tagged_slice(&std::fs::read("charter.cose")?)?;
//! let key = ed25519_dalek::VerifyingKey::from_bytes(&signer_public_key)?;
//! sign.verify_signature(i, b"", |sig, data| {
//!     key.verify_strict(data, &ed25519_dalek::Signature::from_slice(sig)?)
//! })?;
//! ```
//!
//! The test `independent_cose_library_verifies_each_signature` in `tests/golden_charter.rs`
//! runs this on every signature of the golden founding charter.

pub mod announcement;
pub mod bundle;
mod cbor;
pub mod charter;
pub mod compare;
pub mod cose;
pub mod digest;
pub mod disclosure;
pub mod identity;
pub mod ids;
mod meta;
pub mod policy;
pub mod sdmx;
pub mod time;
pub mod versions;
pub mod wire;

pub use announcement::{
    Announcement, DisclosureRef, Meta, Receipt, Revocation, Signed, SignedAnnouncement,
    SignedReceipt, SignedRevocation, Statement, StatementError, StructureRef,
};
pub use cbor::CborError;
pub use digest::{CHUNK_SIZE, ContentDigest, ContentHasher, Digest};
pub use identity::{Identity, IdentityError, PublicKey};
pub use ids::{DatasetId, DatasetName, IdError, MemberCode};
pub use libp2p_identity::PeerId;
pub use policy::{Audience, Decision, DenyReason, Policy, PolicyError, decide_pull};
