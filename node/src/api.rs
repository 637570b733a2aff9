//! The control API: requests the CLI sends to the daemon over `DIR/control.sock`, and what
//! the daemon answers. One JSON document per line in each direction.
//!
//! A request gets zero or more [`Reply::Progress`] lines, then exactly one [`Reply::Ok`] or
//! [`Reply::Error`].

use datapact_protocol::Audience;
use serde::{Deserialize, Serialize};

pub use crate::store::LogEvent;

/// Longest request line the daemon reads.
pub const MAX_REQUEST_LINE: usize = 64 * 1024;
/// Longest reply line the client reads (a large catalogue or log fits).
pub const MAX_REPLY_LINE: usize = 64 * 1024 * 1024;

/// A request to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Request {
    /// Who this node is and where it listens.
    Id,
    /// Add or replace a roster entry.
    MembersAdd {
        /// Member code.
        member: String,
        /// The member's PeerId.
        peer_id: String,
        /// Addresses to dial it at.
        addrs: Vec<String>,
    },
    /// Remove a roster entry.
    MembersRemove {
        /// Member code.
        member: String,
    },
    /// The roster.
    MembersList,
    /// Release a file.
    Release(Box<ReleaseRequest>),
    /// Own and received datasets.
    Datasets,
    /// What peers announced that we may see.
    Catalog,
    /// Fetch a dataset from its owner.
    Pull {
        /// Dataset id.
        id: String,
        /// Also write the content to this absolute path.
        out: Option<String>,
    },
    /// Write a dataset's announcement and content to a directory.
    Export {
        /// Dataset id.
        id: String,
        /// Absolute path of the directory.
        out: String,
        /// Replace files that already exist there (`--force`).
        #[serde(default)]
        force: bool,
    },
    /// Revoke one of our releases.
    Revoke {
        /// Dataset id.
        id: String,
        /// Why.
        reason: Option<String>,
    },
    /// Re-verify everything stored.
    Audit {
        /// Count revoked and expired datasets as failures.
        strict: bool,
    },
    /// The access log.
    Log,
    /// Connected peers.
    Peers,
}

/// What `datapact release` asks for. Times are unix seconds (the CLI parses RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReleaseRequest {
    /// Absolute path of the file to release.
    pub path: String,
    /// Dataset name.
    pub name: String,
    /// Title.
    pub title: String,
    /// `public`, `members` or `only:CODE,...`.
    pub policy: String,
    /// Embargo end.
    pub embargo_until: Option<u64>,
    /// Expiry.
    pub expires_at: Option<u64>,
    /// Purpose.
    pub purpose: Option<String>,
    /// SPDX licence.
    pub licence: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Indicator.
    pub indicator: Option<String>,
    /// Unit.
    pub unit: Option<String>,
    /// Period.
    pub period: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Release even if the new version reaches members that earlier versions of the name did
    /// not, revealing that those exist (`--widen`).
    #[serde(default)]
    pub widen: bool,
}

/// One line of the daemon's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// Work in progress: `done` of `total` bytes.
    Progress {
        /// Bytes done.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// Success, with the command's result.
    Ok {
        /// The result document.
        result: serde_json::Value,
    },
    /// Failure.
    Error {
        /// Whether the input was bad (exit 2) or the operation failed (exit 1).
        kind: ErrorKind,
        /// One line for the user.
        message: String,
    },
}

/// The two kinds of failure the CLI distinguishes by exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Bad usage or bad input: exit code 2.
    BadInput,
    /// The operation failed (denied, not found, verification failed): exit code 1.
    Failed,
}

/// `datapact id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdInfo {
    /// Member code.
    pub member: String,
    /// libp2p PeerId.
    pub peer_id: String,
    /// ed25519 public key, 64 hex characters.
    pub public_key: String,
    /// Whether the daemon answered: then `listen` holds the addresses it actually bound,
    /// otherwise the configured ones.
    #[serde(default)]
    pub running: bool,
    /// Listen multiaddrs (the actual ones while the daemon runs).
    pub listen: Vec<String>,
}

/// A roster entry as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// Member code.
    pub member: String,
    /// PeerId.
    pub peer_id: String,
    /// ed25519 public key, hex.
    pub public_key: String,
    /// Addresses.
    pub addrs: Vec<String>,
}

/// A dataset as `datasets` and `release` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// `OWNER/NAME@VERSION`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Owner member code.
    pub owner: String,
    /// Audience, as text such as `only:MMR` (constraints in their own fields).
    pub policy: Audience,
    /// Content size in bytes.
    pub size: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// Released here, received, revoked or expired.
    pub status: DatasetStatus,
    /// Original file name.
    pub file_name: String,
    /// Whether the content is stored here.
    pub has_content: bool,
    /// Embargo end, RFC 3339.
    pub embargo_until: Option<String>,
    /// Expiry, RFC 3339.
    pub expires_at: Option<String>,
    /// Purpose.
    pub purpose: Option<String>,
    /// Licence.
    pub licence: Option<String>,
    /// When signed, RFC 3339.
    pub issued_at: String,
    /// SDMX structure id, where known.
    pub sdmx_structure: Option<String>,
    /// SDMX data rows, where known.
    pub rows: Option<u64>,
}

/// A catalogue entry: a dataset a peer announced that we may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// `OWNER/NAME@VERSION`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Owner.
    pub owner: String,
    /// Audience, as text such as `only:MMR`.
    pub policy: Audience,
    /// Content size.
    pub size: u64,
    /// Whether a pull would be granted now.
    pub pullable: bool,
    /// Why not, when not.
    pub reason: Option<String>,
    /// Whether we hold the content.
    pub pulled: bool,
    /// Purpose, shown to receivers.
    pub purpose: Option<String>,
    /// Licence.
    pub licence: Option<String>,
    /// Received, revoked or expired.
    pub status: DatasetStatus,
}

/// An access-log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Position in the log.
    pub seq: u64,
    /// RFC 3339.
    pub time: String,
    /// What happened (`pulls_refused` is one entry for many refused pull requests; see
    /// `count`).
    pub event: LogEvent,
    /// PeerId, if a peer was involved.
    pub peer: Option<String>,
    /// Member code, if known.
    pub member: Option<String>,
    /// Dataset id.
    pub dataset: Option<String>,
    /// Granted or denied for pulls, done otherwise.
    pub outcome: Outcome,
    /// Reason or purpose.
    pub reason: Option<String>,
    /// For `pulls_refused`: how many requests the entry stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Whether this entry's link to the one before holds.
    pub intact: bool,
    /// For granted pulls: whether the receiver's signed receipt arrived.
    pub receipt: Option<bool>,
}

/// Where a dataset stands on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetStatus {
    /// Our own release, in force.
    Released,
    /// Received from its owner, in force.
    Received,
    /// Its owner revoked it.
    Revoked,
    /// Its policy's expiry has passed.
    Expired,
}

/// How an access-log entry ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A pull that was served.
    Granted,
    /// A pull (or pulls) refused.
    Denied,
    /// Anything other than a pull: it happened.
    Done,
}

impl std::fmt::Display for DatasetStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DatasetStatus::Released => "released",
            DatasetStatus::Received => "received",
            DatasetStatus::Revoked => "revoked",
            DatasetStatus::Expired => "expired",
        })
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Granted => "granted",
            Outcome::Denied => "denied",
            Outcome::Done => "done",
        })
    }
}

/// A connected peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// PeerId.
    pub peer_id: String,
    /// Its member code per our roster, if listed.
    pub member: Option<String>,
    /// Remote addresses of its connections.
    pub addrs: Vec<String>,
}

/// `datapact audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReport {
    /// Whether everything holds.
    pub ok: bool,
    /// Datasets checked.
    pub checked: u64,
    /// Problems found.
    pub failures: Vec<AuditFailure>,
    /// Revoked or expired datasets, reported but not failures (unless strict).
    pub notes: Vec<AuditFailure>,
}

/// One audit finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFailure {
    /// Dataset id, or `access-log`.
    pub id: String,
    /// In words an auditor understands.
    pub problem: String,
}

/// `datapact pull`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResult {
    /// Dataset id.
    pub id: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Where `--out` wrote it.
    pub out: Option<String>,
}

/// `datapact export`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportResult {
    /// Dataset id.
    pub id: String,
    /// Path of `announcement.cose`.
    pub announcement: String,
    /// Path of the content file.
    pub content: String,
}
