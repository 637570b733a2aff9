//! The control API of the federation charter (docs/design.md section 9): adopting a charter
//! file, and the status `datapact federation status` shows, in the contract's JSON shape.

use datapact_protocol::MemberCode;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

/// Check a charter file and adopt it (`datapact federation adopt FILE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationAdopt {
    /// Absolute path of the charter file (read by the daemon, at most the charter size cap).
    pub path: String,
}

/// The adopted charter, pending proposals and any fork (`datapact federation status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationStatus;

/// What `federation adopt` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharterAdopted {
    /// The federation's name.
    pub federation: String,
    /// The version now adopted.
    pub version: u64,
    /// The version's id: SHA-256 of its payload, hex.
    pub id: String,
    /// False when this very version was adopted already (nothing changed).
    pub changed: bool,
}

/// `federation status`: the newest adopted charter; all fields but `pending` and `fork` are
/// null before any charter is adopted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharterStatus {
    /// The federation's name.
    pub federation: Option<String>,
    /// The newest adopted version.
    pub version: Option<u64>,
    /// Its threshold k: how many of its members must sign the next version.
    pub threshold: Option<u64>,
    /// Its members, this node included, by code.
    pub members: Vec<CharterMemberInfo>,
    /// Proposals for the next version, oldest first.
    pub pending: Vec<PendingProposal>,
    /// Two valid charters of one version, while the operator has not chosen one.
    pub fork: Option<CharterFork>,
}

/// A member as the charter lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharterMemberInfo {
    /// Member code.
    pub code: MemberCode,
    /// The PeerId of the member's key.
    #[serde(with = "datapact_protocol::identity::peer_id_text")]
    pub peer_id: PeerId,
    /// Where its node listens.
    pub addrs: Vec<String>,
}

/// A proposal for the next version and how far its signing got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingProposal {
    /// Its id (SHA-256 of its payload, hex), which `approve` takes.
    pub id: String,
    /// The version it proposes.
    pub version: u64,
    /// What it changes, in words.
    pub change: String,
    /// Distinct signatures that count.
    pub signatures: usize,
    /// How many more it needs.
    pub needed: usize,
}

/// Two valid charters with the same version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharterFork {
    /// The version both claim.
    pub version: u64,
    /// Both ids, hex, ascending.
    pub ids: Vec<String>,
}
