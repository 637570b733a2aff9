//! The federation charter: the federation's own membership list, changed only by a quorum of its
//! members, so that nobody hosts it and nobody can change it alone (docs/design.md section 9).
//!
//! Everything here is a pure function over bytes and values; storing versions, sending
//! proposals and building the roster from the newest charter are the node's job. The parts,
//! each in its own module:
//!
//! - [`document`]: the payload, a CBOR map of the federation's name, version, link to the
//!   previous version, threshold, members and retired keys, with the rules every single
//!   version keeps (each code and key once, more than half the members needed).
//! - [`envelope`]: the COSE_Sign message (RFC 9052, CBOR tag 98) that carries one EdDSA
//!   signature per signer, in one canonical encoding, so signatures can be added without
//!   touching the payload and two nodes holding the same signatures hold the same bytes.
//! - [`rules`]: when version 1, and version N+1 after version N, is valid; chains of versions;
//!   forks; the tally of a pending proposal.
//! - [`proposal`]: drafting version N+1 from version N with one change, and describing the
//!   change between two versions.
//! - [`keys`]: whether a statement signed by some key may stand for a member, given the newest
//!   charter and the keys its chain retired.
//!
//! A typical flow: `Charter::genesis` + `SignedCharter::unsigned` + `SignedCharter::sign` by each
//! founder, then `verify_genesis`; later `draft` a change, collect signatures with `sign` and
//! `merge`, watch `pending_status`, and adopt once `verify_step` accepts it.

pub mod document;
pub mod envelope;
mod error;
pub mod keys;
pub mod proposal;
pub mod rules;

pub use document::{
    Charter, CharterMember, RetiredKey, smallest_valid_threshold, threshold_is_valid,
};
pub use envelope::{CharterId, SignedCharter};
pub use error::{CharterError, ProposalError, StatementKeyError};
pub use keys::{KeyStanding, chain_retired, check_statement_key};
pub use proposal::{
    Change, ChangeItem, Proposal, ThresholdAdjustment, changes_between, describe, draft,
};
pub use rules::{
    Fork, PendingStatus, Tally, VerifiedCharter, check_one_charter_per_version,
    count_member_signers, detect_fork, pending_status, tally_step, verify_genesis, verify_step,
    verify_steps,
};

/// Content type of a charter, in the COSE body's protected header.
pub const CHARTER_CONTENT_TYPE: &str = "application/vnd.datapact.charter+cbor";
/// CBOR tag of a COSE_Sign message.
pub const COSE_SIGN_TAG: u64 = 98;
/// The charter payload format version this crate writes and reads.
pub const CHARTER_PAYLOAD_VERSION: u64 = 1;
/// Largest charter message (COSE bytes) accepted, signatures included. A rotation that keeps
/// 16,384 statements needs about 560 KiB; a version that changes one member is a few KiB.
pub const MAX_CHARTER_LEN: usize = 1 << 20;
/// Most members one charter may list.
pub const MAX_MEMBERS: usize = 256;
/// Most signatures one charter message may carry: every member of the version before and of
/// this one, which is all that can count; more is only work for the verifier.
pub const MAX_SIGNATURES: usize = 2 * MAX_MEMBERS;
/// Most addresses listed for one member.
pub const MAX_MEMBER_ADDRS: usize = 8;
/// Longest address text, in bytes.
pub const MAX_ADDR_LEN: usize = 256;
/// Longest federation name, in bytes.
pub const MAX_FEDERATION_NAME_LEN: usize = 64;
/// Most statement digests kept under one retired key.
pub const MAX_RETIRED_STATEMENTS: usize = 16_384;
/// Most versions verified in one call of [`verify_steps`]: a peer that offers a longer chain is
/// asked again from where this one ends, so a hostile peer cannot make a node verify forever.
pub const MAX_CHAIN_STEPS: usize = 1_024;
