//! The control API: requests the CLI sends to the daemon over `DIR/control.sock`, and what
//! the daemon answers. One JSON document per line in each direction.
//!
//! Each request is its own type ([`request`]) and names the type of its answer through
//! [`Call::Response`] ([`response`]): the daemon builds that type, and a client decodes exactly
//! that type, so a request and its response cannot drift apart. On the wire a request is
//! [`Request`], tagged by `op`; the daemon answers zero or more [`Reply::Progress`] lines, then
//! exactly one [`Reply::Ok`] or [`Reply::Error`].

pub mod charter;
pub mod disclosure;
pub mod proposal;
pub mod request;
pub mod response;
pub mod structures;

use serde::{Deserialize, Serialize};

pub use crate::store::{LogEvent, RosterSource};
pub use charter::{
    CharterAdopted, CharterFork, CharterMemberInfo, CharterStatus, FederationAdopt,
    FederationStatus, PendingProposal,
};
pub use disclosure::{DisclosureInfo, DryRunResult, ProtectionReport, ReleaseDryRun};
pub use proposal::{
    FederationApprove, FederationExport, FederationImport, FederationPropose, ProposalMade,
    ProposalState, ProposedChange,
};
pub use request::{
    Audit, Call, Catalog, Compare, Datasets, Export, Id, Log, MembersAdd, MembersList,
    MembersRemove, Peers, Pull, ReleaseRequest, Request, Revoke, Structures,
};
pub use response::{
    AuditFailure, AuditReport, CatalogEntry, DatasetInfo, DatasetStatus, ExportResult, IdInfo,
    LogLine, MemberInfo, Outcome, PeerInfo, PullResult, Response,
};
pub use structures::{StructureCheck, StructureEntry, StructureUsed};

/// Longest request line the daemon reads.
pub const MAX_REQUEST_LINE: usize = 64 * 1024;
/// Longest reply line the client reads (a large catalogue or log fits).
pub const MAX_REPLY_LINE: usize = 64 * 1024 * 1024;

/// One line of the daemon's answer. The daemon writes `Reply<Response>`; a client that sent
/// request `R` reads `Reply<R::Response>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply<T = Response> {
    /// Work in progress: `done` of `total` bytes.
    Progress {
        /// Bytes done.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// Success, with the request's result.
    Ok {
        /// The result: the request's [`Call::Response`].
        result: T,
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
