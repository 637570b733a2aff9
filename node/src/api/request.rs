//! The control requests, one type each, and the [`Request`] enum that carries any of them on
//! the wire (`{"op": "members_add", ...}`: the op tag, then the request's own fields).

use datapact_protocol::{Audience, MemberCode};
use libp2p::PeerId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::charter::{CharterAdopted, CharterStatus, FederationAdopt, FederationStatus};
use super::disclosure::{DryRunResult, ReleaseDryRun};
use super::proposal::{
    FederationApprove, FederationExport, FederationImport, FederationPropose, ProposalMade,
    ProposalState,
};
use super::response::{
    AuditReport, CatalogEntry, DatasetInfo, ExportResult, IdInfo, LogLine, MemberInfo, PeerInfo,
    PullResult,
};
use super::structures::StructureEntry;
use datapact_protocol::compare::{Comparison, Options};

/// A control request: what it is sent as, and what the daemon answers it with.
pub trait Call: Into<Request> + std::fmt::Debug {
    /// The result of the request when it succeeds.
    type Response: Serialize + DeserializeOwned + std::fmt::Debug;
}

/// Any request, as it travels to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Request {
    /// [`Id`].
    Id(Id),
    /// [`MembersAdd`].
    MembersAdd(MembersAdd),
    /// [`MembersRemove`].
    MembersRemove(MembersRemove),
    /// [`MembersList`].
    MembersList(MembersList),
    /// [`ReleaseRequest`] (boxed: it is much larger than the others).
    Release(Box<ReleaseRequest>),
    /// [`Datasets`].
    Datasets(Datasets),
    /// [`Catalog`].
    Catalog(Catalog),
    /// [`Pull`].
    Pull(Pull),
    /// [`Export`].
    Export(Export),
    /// [`Revoke`].
    Revoke(Revoke),
    /// [`Audit`].
    Audit(Audit),
    /// [`Log`].
    Log(Log),
    /// [`Peers`].
    Peers(Peers),
    /// [`Structures`].
    Structures(Structures),
    /// [`ReleaseDryRun`] (boxed, as a release).
    ReleaseDryRun(Box<ReleaseDryRun>),
    /// [`FederationAdopt`].
    FederationAdopt(FederationAdopt),
    /// [`FederationStatus`].
    FederationStatus(FederationStatus),
    /// [`FederationPropose`].
    FederationPropose(FederationPropose),
    /// [`FederationApprove`].
    FederationApprove(FederationApprove),
    /// [`FederationImport`].
    FederationImport(FederationImport),
    /// [`FederationExport`].
    FederationExport(FederationExport),
    /// [`Compare`].
    Compare(Compare),
}

/// Who this node is and where it listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Id;

/// Add or replace a roster entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersAdd {
    /// Member code.
    pub member: MemberCode,
    /// The member's PeerId (it must embed an ed25519 key).
    #[serde(with = "datapact_protocol::identity::peer_id_text")]
    pub peer_id: PeerId,
    /// Addresses to dial it at (multiaddrs; checked by the daemon).
    pub addrs: Vec<String>,
}

/// Remove a roster entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersRemove {
    /// Member code.
    pub member: MemberCode,
}

/// The roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersList;

/// Release a file. Times are unix seconds (the CLI parses RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReleaseRequest {
    /// Absolute path of the file to release.
    pub path: String,
    /// Dataset name (checked by the daemon, which says what is wrong with it).
    pub name: String,
    /// Title.
    pub title: String,
    /// Who may pull: `public`, `members` or `only:CODE,...` on the wire.
    pub policy: Audience,
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
    /// Refuse SDMX-CSV data whose structure is not held here, instead of checking its syntax
    /// only (`--require-structure`; the config's `require_structure` does the same).
    #[serde(default)]
    pub require_structure: bool,
    /// Protect a table of counts before it is stored: N of `--suppress-below N` (N >= 2;
    /// docs/design.md section 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppress_below: Option<u64>,
}

/// Own and received datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Datasets;

/// What peers announced that we may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog;

/// Fetch a dataset from its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pull {
    /// Dataset id (checked by the daemon).
    pub id: String,
    /// Also write the content to this absolute path.
    pub out: Option<String>,
}

/// Write a dataset's announcement and content to a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// Dataset id (checked by the daemon).
    pub id: String,
    /// Absolute path of the directory.
    pub out: String,
    /// Replace files that already exist there (`--force`).
    #[serde(default)]
    pub force: bool,
}

/// Revoke one of our releases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoke {
    /// Dataset id (checked by the daemon).
    pub id: String,
    /// Why.
    pub reason: Option<String>,
}

/// Re-verify everything stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    /// Count revoked and expired datasets as failures.
    pub strict: bool,
}

/// The access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log;

/// Connected peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peers;

/// The SDMX structures this node holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Structures;

/// One indicator across the federation: the datasets held here that follow a structure,
/// lined up in one table (docs/design.md section 11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    /// The dataflow or data structure definition id, `AGENCY:ID(VERSION)`.
    pub structure: String,
    /// `--filter`, `--rows` and `--columns`.
    #[serde(flatten)]
    pub options: Options,
}

/// Ties a request type to its [`Request`] variant and to its response type.
macro_rules! call {
    ($($request:ident => $variant:ident, $response:ty;)*) => {$(
        impl From<$request> for Request {
            fn from(request: $request) -> Self {
                Request::$variant(request.into())
            }
        }

        impl Call for $request {
            type Response = $response;
        }
    )*};
}

call! {
    Id => Id, IdInfo;
    MembersAdd => MembersAdd, MemberInfo;
    MembersRemove => MembersRemove, MemberInfo;
    MembersList => MembersList, Vec<MemberInfo>;
    ReleaseRequest => Release, DatasetInfo;
    Datasets => Datasets, Vec<DatasetInfo>;
    Catalog => Catalog, Vec<CatalogEntry>;
    Pull => Pull, PullResult;
    Export => Export, ExportResult;
    Revoke => Revoke, DatasetInfo;
    Audit => Audit, AuditReport;
    Log => Log, Vec<LogLine>;
    Peers => Peers, Vec<PeerInfo>;
    Structures => Structures, Vec<StructureEntry>;
    ReleaseDryRun => ReleaseDryRun, DryRunResult;
    FederationAdopt => FederationAdopt, CharterAdopted;
    FederationStatus => FederationStatus, CharterStatus;
    FederationPropose => FederationPropose, ProposalMade;
    FederationApprove => FederationApprove, ProposalState;
    FederationImport => FederationImport, ProposalState;
    FederationExport => FederationExport, ProposalState;
    Compare => Compare, Comparison;
}
