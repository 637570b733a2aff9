//! Why a charter, a proposal or a statement's key was refused: one enum per question, each
//! variant one clear line for the operator.

use crate::cbor::CborError;
use crate::ids::{IdError, MemberCode};

use super::{MAX_CHAIN_STEPS, MAX_CHARTER_LEN, MAX_SIGNATURES};

/// Why a charter message, or one version of a chain, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CharterError {
    /// Not decodable, too large, not canonical, or not the COSE_Sign / payload shape.
    #[error("not a valid charter: {0}")]
    Cbor(#[from] CborError),
    /// A signature uses another algorithm than EdDSA.
    #[error("unsupported signature algorithm (only EdDSA, -8)")]
    Algorithm,
    /// The content type is not the charter's.
    #[error("wrong content type {found:?}, expected {expected:?}")]
    ContentType {
        /// What the body's protected header says.
        found: String,
        /// The charter content type.
        expected: &'static str,
    },
    /// A signature's key id is not a usable ed25519 public key.
    #[error("a signature's key id is not a canonical ed25519 public key of large order")]
    KeyId,
    /// A signature does not verify against its key id.
    #[error("the signature of {signer} does not verify")]
    BadSignature {
        /// The PeerId of the failing signature's key id.
        signer: String,
    },
    /// The message would exceed [`MAX_CHARTER_LEN`] bytes once encoded.
    #[error("charter too large: {0} bytes, the limit is {MAX_CHARTER_LEN}")]
    TooLarge(usize),
    /// The message carries, or would carry, more than [`MAX_SIGNATURES`] signatures.
    #[error("{0} signatures, at most {MAX_SIGNATURES} are accepted")]
    TooManySignatures(usize),
    /// A payload format version this node does not know.
    #[error("unsupported charter payload version {0}")]
    Version(u64),
    /// A member code is invalid.
    #[error(transparent)]
    Id(#[from] IdError),
    /// Another field is out of its allowed range.
    #[error("invalid {field}: {why}")]
    Field {
        /// The payload key.
        field: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A member code is listed twice.
    #[error("member {0} is listed twice")]
    DuplicateCode(MemberCode),
    /// A public key is listed twice (for two members, or twice as retired).
    #[error("key {key} is listed twice (again for {code})")]
    DuplicateKey {
        /// The PeerId of the repeated key.
        key: String,
        /// The code of its second listing.
        code: MemberCode,
    },
    /// A member's key is not canonical or of small order.
    #[error("the public key of {0} is not a canonical ed25519 key of large order")]
    WeakKey(MemberCode),
    /// The threshold is not more than half and at most all of the members.
    #[error(
        "threshold {threshold} of {members} members: it must be more than half and at most all"
    )]
    Threshold {
        /// The threshold k.
        threshold: u64,
        /// The number of members n.
        members: usize,
    },
    /// A founding member did not sign version 1.
    #[error("version 1 is not signed by founding member {0}")]
    UnsignedFounder(MemberCode),
    /// The version names another federation than the one before.
    #[error("names federation {found:?}, expected {expected:?}")]
    Federation {
        /// The federation of the version before.
        expected: String,
        /// The federation this version names.
        found: String,
    },
    /// Not the version after the one before: a gap, a repeat, or version 1 out of place.
    #[error("expected version {expected}, found version {found}")]
    NotNextVersion {
        /// The only version that may come next.
        expected: u64,
        /// The version offered.
        found: u64,
    },
    /// `previous` is not the payload hash of the version before.
    #[error("version {0} does not link to the version before it")]
    Previous(u64),
    /// Not enough distinct members of one version signed.
    #[error(
        "signed by {have} distinct members of version {version}, {need} (its threshold) are needed"
    )]
    TooFewSignatures {
        /// The version whose members are counted.
        version: u64,
        /// Distinct members of that version who signed.
        have: usize,
        /// That version's threshold.
        need: u64,
    },
    /// A key that the version adds did not sign it.
    #[error("the new key of {0} did not sign: its holder must agree")]
    AddedKeyUnsigned(MemberCode),
    /// A retired entry names a key its member did not hold in the version before.
    #[error("retires a key that {0} did not hold in the version before")]
    RetiredKeyNotHeld(MemberCode),
    /// More steps than [`MAX_CHAIN_STEPS`] offered at once.
    #[error("{0} versions offered at once, at most {MAX_CHAIN_STEPS} are checked")]
    ChainTooLong(usize),
    /// Signatures of two messages with different payloads cannot be merged.
    #[error("the two charters have different payloads")]
    DifferentPayload,
}

/// Why a proposed change could not be drafted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProposalError {
    /// The member to add is already a member.
    #[error("{0} is already a member")]
    AlreadyMember(MemberCode),
    /// The member to remove or rotate is not a member.
    #[error("{0} is not a member")]
    NotAMember(MemberCode),
    /// The new key is already some member's key.
    #[error("the key is already the key of {0}")]
    KeyInUse(MemberCode),
    /// Removing the only member would leave nobody to sign.
    #[error("cannot remove {0}: it is the only member")]
    LastMember(MemberCode),
    /// The threshold asked for is not more than half and at most all of the members.
    #[error(
        "threshold {threshold} of {members} members: it must be more than half and at most all"
    )]
    Threshold {
        /// The threshold asked for.
        threshold: u64,
        /// The number of members.
        members: usize,
    },
    /// The change would leave the charter as it is.
    #[error("nothing would change: {0}")]
    NoChange(&'static str),
    /// The drafted version breaks a rule of every version (a bad address, too many members).
    #[error(transparent)]
    Charter(#[from] CharterError),
    /// This node already signed another charter for this version.
    #[error("this node already signed charter {signed} for version {version}")]
    AlreadySignedVersion {
        /// The version.
        version: u64,
        /// The id of the charter it signed.
        signed: String,
    },
}

/// Why a statement's signing key may not stand for the member it names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatementKeyError {
    /// The member is not in the newest charter: the charter has no key for it.
    #[error("{0} is not a member in the newest charter")]
    NotAMember(MemberCode),
    /// The key is neither the member's key nor one it retired.
    #[error("signed by a key that {0} neither holds nor retired")]
    NotMembersKey(MemberCode),
    /// The key is one the member retired, but the statement is not listed under it.
    #[error("signed by a key that {0} retired, and the statement is not among those it kept")]
    RetiredKeyUnlisted(MemberCode),
}
