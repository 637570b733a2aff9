//! The records the store keeps, and their encoding (CBOR, bounded on decode).

use datapact_protocol::{MemberCode, PeerId, SignedAnnouncement, SignedRevocation, StatementError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::StoreError;

/// Where a dataset came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Released by this node.
    Own,
    /// Announced by another member.
    Received,
}

/// One dataset version, own or received.
///
/// Its statements were verified once, when they entered the store: signed here (a release, a
/// revocation) or accepted by the federation rules (gossip, catch-up, direct delivery, a
/// pull), which decode and verify every statement before anything is written. Reading a
/// record back therefore only decodes them ([`DatasetRecord::announcement`]); `audit`, whose
/// job is to distrust the store, verifies them again ([`DatasetRecord::verified_announcement`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetRecord {
    /// Released here or received.
    pub origin: Origin,
    /// The signed announcement, exactly as signed, verified before it was stored.
    #[serde(with = "serde_bytes")]
    pub announcement: Vec<u8>,
    /// The signed revocation, once the owner revoked it, verified before it was stored.
    #[serde(default, with = "serde_bytes")]
    pub revocation: Option<Vec<u8>>,
    /// Whether the content is in the blob store (always for own; after a pull for received).
    pub has_content: bool,
    /// Unix seconds when this node recorded it.
    pub recorded_at: u64,
}

impl DatasetRecord {
    /// A new record of `announcement`, which the caller verified (or signed): the only bytes
    /// a record may hold.
    pub fn new(
        origin: Origin,
        announcement: &SignedAnnouncement,
        has_content: bool,
        recorded_at: u64,
    ) -> Self {
        Self {
            origin,
            announcement: announcement.bytes().to_vec(),
            revocation: None,
            has_content,
            recorded_at,
        }
    }

    /// Decodes the stored announcement, without checking its signature again: it was
    /// verified before it was stored (see [`DatasetRecord`]).
    pub fn announcement(&self) -> Result<SignedAnnouncement, StatementError> {
        SignedAnnouncement::decode_trusted(&self.announcement)
    }

    /// Decodes the stored revocation, if any, without checking its signature again.
    pub fn revocation(&self) -> Option<Result<SignedRevocation, StatementError>> {
        self.revocation
            .as_deref()
            .map(SignedRevocation::decode_trusted)
    }

    /// Decodes the stored announcement and verifies its signature again, as if it came from
    /// a peer: for `audit`, which checks that the store holds what was verified.
    pub fn verified_announcement(&self) -> Result<SignedAnnouncement, StatementError> {
        SignedAnnouncement::decode(&self.announcement)
    }

    /// Decodes the stored revocation, if any, and verifies its signature again (for `audit`).
    pub fn verified_revocation(&self) -> Option<Result<SignedRevocation, StatementError>> {
        self.revocation.as_deref().map(SignedRevocation::decode)
    }
}

/// A member in this node's roster, parsed once when it is read: a stored entry always names a
/// valid member code and PeerId (both stored as their text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterEntry {
    /// Member code.
    pub member: MemberCode,
    /// The member's PeerId (which embeds its public key).
    #[serde(with = "datapact_protocol::identity::peer_id_text")]
    pub peer_id: PeerId,
    /// Multiaddrs to dial it at.
    pub addrs: Vec<String>,
    /// Unix seconds when added.
    pub added_at: u64,
}

/// A peer that was granted a pull of one of our releases: where its revocation must go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullerRecord {
    /// The puller's PeerId, which the revocation is delivered to.
    pub peer_id: String,
    /// Its member code per our roster when it pulled, if it was listed (for the operator).
    pub member: Option<String>,
    /// Addresses to dial it at, as our roster listed them when it pulled: a member removed
    /// since then can still be reached.
    pub addrs: Vec<String>,
    /// Unix seconds of its latest granted pull.
    pub pulled_at: u64,
}

/// What an access-log entry records. Its serde names are also the control API's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogEvent {
    /// A peer asked to pull one of our datasets.
    Pull,
    /// We released a dataset.
    Release,
    /// We revoked a dataset.
    Revoke,
    /// We added a member to the roster.
    MemberAdded,
    /// We removed a member from the roster.
    MemberRemoved,
    /// Pull requests refused without an entry each (over a request budget, or no free
    /// serving slot), counted over a window and written as this one entry.
    PullsRefused,
}

impl std::fmt::Display for LogEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogEvent::Pull => "pull",
            LogEvent::Release => "release",
            LogEvent::Revoke => "revoke",
            LogEvent::MemberAdded => "member_added",
            LogEvent::MemberRemoved => "member_removed",
            LogEvent::PullsRefused => "pulls_refused",
        })
    }
}

/// One entry of the owner's access log. Each entry holds the hash of the one before it, so an
/// edit, removal or reordering breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Position in the log, from 1 (set by the store).
    pub seq: u64,
    /// Unix seconds.
    pub time: u64,
    /// What happened.
    pub event: LogEvent,
    /// The peer involved, if any.
    pub peer: Option<String>,
    /// That peer's member code per our roster, if any.
    pub member: Option<String>,
    /// The dataset involved, if any.
    pub dataset: Option<String>,
    /// For pulls: whether it was granted.
    pub granted: Option<bool>,
    /// Why (the denial reason, the purpose, a revocation reason).
    pub reason: Option<String>,
    /// For an entry that stands for several requests ([`LogEvent::PullsRefused`]): how many.
    /// Absent from other entries, so entries written before it existed decode and hash alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// SHA-256 of the previous entry's stored bytes (zeros for the first; set by the store).
    #[serde(with = "serde_bytes")]
    pub prev: Vec<u8>,
}

impl LogEntry {
    /// A new entry of `event` at `time`; the store fills in `seq` and `prev`.
    pub fn new(event: LogEvent, time: u64) -> Self {
        Self {
            seq: 0,
            time,
            event,
            peer: None,
            member: None,
            dataset: None,
            granted: None,
            reason: None,
            count: None,
            prev: Vec::new(),
        }
    }
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    datapact_protocol::wire::encode(value)
}

pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8], cap: usize) -> Result<T, StoreError> {
    datapact_protocol::wire::decode(bytes, cap).map_err(StoreError::Undecodable)
}

pub(super) fn seq_of(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}
