//! The control API of charter proposals (docs/design.md section 9): drafting the next version
//! with one change (`federation propose`), signing a pending one (`approve`), merging a copy
//! with more signatures (`import`) and writing one to a file (`export`).

use datapact_protocol::MemberCode;
use libp2p::PeerId;
use serde::{Deserialize, Serialize};

/// The one change a proposal makes, as the operator typed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ProposedChange {
    /// `propose add CODE PEER_ID [--addr MULTIADDR]...`.
    Add {
        /// The new member's code.
        code: MemberCode,
        /// Its node's PeerId (an ed25519 key).
        #[serde(with = "datapact_protocol::identity::peer_id_text")]
        peer_id: PeerId,
        /// Where its node listens (checked by the daemon).
        addrs: Vec<String>,
    },
    /// `propose remove CODE`.
    Remove {
        /// The member to remove.
        code: MemberCode,
    },
    /// `propose threshold K`.
    Threshold {
        /// The new k.
        threshold: u64,
    },
    /// `propose rotate CODE NEW_PEER_ID [--addr MULTIADDR]... [--keep FILE]`.
    Rotate {
        /// The member whose key changes.
        code: MemberCode,
        /// Its new node's PeerId.
        #[serde(with = "datapact_protocol::identity::peer_id_text")]
        peer_id: PeerId,
        /// Its new addresses; empty keeps the ones it has.
        addrs: Vec<String>,
        /// Absolute path of the file of sha256 hex digests to keep, one a line: read by the
        /// daemon, because a long list does not fit in one request line.
        keep: Option<String>,
    },
}

/// Draft, sign and record the next charter version (`datapact federation propose`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationPropose {
    /// What to change.
    pub change: ProposedChange,
}

/// What `propose` made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalMade {
    /// The proposal's id (SHA-256 of its payload, hex), which `approve` takes.
    pub id: String,
    /// The version it proposes.
    pub version: u64,
    /// Its threshold.
    pub threshold: u64,
    /// Set when the threshold had to change with the membership: the sentence that says so.
    pub adjusted: Option<String>,
    /// Where the proposal stands after this node's signature.
    pub state: ProposalState,
}

/// Add this node's signature to a pending proposal (`datapact federation approve ID`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationApprove {
    /// The proposal's id, hex (checked by the daemon).
    pub id: String,
}

/// Merge the signatures of a proposal file into the pending copy, adopting it once valid
/// (`datapact federation import FILE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationImport {
    /// Absolute path of the proposal file.
    pub path: String,
}

/// Write a pending proposal, with every signature it has, to a file
/// (`datapact federation export ID --out FILE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederationExport {
    /// The proposal's id, hex.
    pub id: String,
    /// Absolute path of the file to write (replaced if it exists).
    pub out: String,
}

/// Where a proposal stands, after `propose`, `approve`, `import` or `export`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalState {
    /// Its id, hex.
    pub id: String,
    /// The version it proposes.
    pub version: u64,
    /// Distinct signatures that count.
    pub signatures: usize,
    /// How many more it needs; 0 once adopted.
    pub needed: usize,
    /// Whether this node has adopted it: it is then the newest charter version.
    pub adopted: bool,
}
