//! What the daemon answers: one type per kind of result, and [`Response`], which carries any
//! of them to the wire (as the result itself, untagged: the client knows which request it sent,
//! and decodes that request's [`super::Call::Response`]).

use datapact_protocol::{Audience, MemberCode};
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

use super::charter::{CharterAdopted, CharterStatus};
use super::disclosure::{DisclosureInfo, DryRunResult, ProtectionReport};
use super::proposal::{ProposalMade, ProposalState};
use super::structures::{StructureCheck, StructureEntry, StructureUsed};
use crate::store::{LogEvent, RosterSource};

/// The result of any request, as the daemon writes it in [`super::Reply::Ok`]. Each variant is
/// named after the request it answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Response {
    /// [`super::Id`].
    Id(IdInfo),
    /// [`super::MembersAdd`].
    MembersAdd(MemberInfo),
    /// [`super::MembersRemove`].
    MembersRemove(MemberInfo),
    /// [`super::MembersList`].
    MembersList(Vec<MemberInfo>),
    /// [`super::ReleaseRequest`].
    Release(DatasetInfo),
    /// [`super::Datasets`].
    Datasets(Vec<DatasetInfo>),
    /// [`super::Catalog`].
    Catalog(Vec<CatalogEntry>),
    /// [`super::Pull`].
    Pull(PullResult),
    /// [`super::Export`].
    Export(ExportResult),
    /// [`super::Revoke`]: the revoked dataset as it stands now.
    Revoke(DatasetInfo),
    /// [`super::Audit`].
    Audit(AuditReport),
    /// [`super::Log`].
    Log(Vec<LogLine>),
    /// [`super::Peers`].
    Peers(Vec<PeerInfo>),
    /// [`super::Structures`].
    Structures(Vec<StructureEntry>),
    /// [`super::ReleaseDryRun`].
    ReleaseDryRun(DryRunResult),
    /// [`super::FederationAdopt`].
    FederationAdopt(CharterAdopted),
    /// [`super::FederationStatus`].
    FederationStatus(CharterStatus),
    /// [`super::FederationPropose`].
    FederationPropose(ProposalMade),
    /// [`super::FederationApprove`].
    FederationApprove(ProposalState),
    /// [`super::FederationImport`].
    FederationImport(ProposalState),
    /// [`super::FederationExport`].
    FederationExport(ProposalState),
    /// [`super::Compare`].
    Compare(Box<datapact_protocol::compare::Comparison>),
}

/// `datapact id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdInfo {
    /// Member code.
    pub member: MemberCode,
    /// libp2p PeerId.
    #[serde(with = "datapact_protocol::identity::peer_id_text")]
    pub peer_id: PeerId,
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
    pub member: MemberCode,
    /// PeerId.
    #[serde(with = "datapact_protocol::identity::peer_id_text")]
    pub peer_id: PeerId,
    /// ed25519 public key, hex.
    pub public_key: String,
    /// Addresses.
    pub addrs: Vec<String>,
    /// `charter` when the adopted federation charter lists the member, `local` when the
    /// operator added it.
    pub source: RosterSource,
}

/// A dataset as `datasets` and `release` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// `OWNER/NAME@VERSION`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Owner member code.
    pub owner: MemberCode,
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
    /// The structure the data were validated against at release, when the announcement
    /// records one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structure: Option<StructureUsed>,
    /// For a structure release: the ids of the structures it defines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub structures: Vec<String>,
    /// How the table was protected at release, when the announcement records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosure: Option<DisclosureInfo>,
    /// For our own protected release only: the information lost and which cells were primary
    /// (never announced, never served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protection: Option<ProtectionReport>,
    /// What the user should know about this release (from `release` only): that only the
    /// SDMX-CSV syntax was checked, say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A catalogue entry: a dataset a peer announced that we may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// `OWNER/NAME@VERSION`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Owner.
    pub owner: MemberCode,
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
    /// The structure the data were validated against at release, when the announcement
    /// records one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structure: Option<StructureUsed>,
    /// For a structure release: the ids of the structures it defines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub structures: Vec<String>,
    /// How the table was protected at release, when the announcement records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosure: Option<DisclosureInfo>,
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
    #[serde(with = "datapact_protocol::identity::peer_id_text::option")]
    pub peer: Option<PeerId>,
    /// Member code, if known.
    pub member: Option<MemberCode>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    #[serde(with = "datapact_protocol::identity::peer_id_text")]
    pub peer_id: PeerId,
    /// Its member code per our roster, if listed.
    pub member: Option<MemberCode>,
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
    /// What the pull made of the structure involved, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structure_check: Option<StructureCheck>,
    /// What the user should know about it (why the data were not validated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
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
