//! What became of a statement or receipt another peer sent, as types: the federation rules
//! ([`crate::federation`]) decide, and the network layer and `pull` act on the outcome.

use datapact_protocol::wire::{DirectResponse, WireError};
use datapact_protocol::{DatasetId, IdentityError, MemberCode, StatementError};
use tokio::task::JoinError;

use crate::store::StoreError;

/// What became of a received statement.
#[derive(Debug)]
pub enum Verdict {
    /// New, stored.
    Accepted(DatasetId),
    /// Already held, or our own: nothing to do, nothing to forward.
    Known,
    /// Not believed, with the reason (logged at debug, counted, never forwarded).
    Rejected(Rejection),
}

/// Why a statement was not believed. Its text is what the sender is told.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// A gossip message that is not a statement at all.
    #[error("malformed gossip message: {0}")]
    Malformed(#[source] WireError),
    /// The check itself did not finish (its task was cancelled or panicked).
    #[error("validation failed: {0}")]
    Interrupted(#[source] JoinError),
    /// The store failed while judging it.
    #[error("store error: {0}")]
    Store(#[source] StoreError),
    /// The announcement does not decode or its signature does not verify.
    #[error("invalid announcement: {0}")]
    InvalidAnnouncement(StatementError),
    /// The revocation does not decode or its signature does not verify.
    #[error("invalid revocation: {0}")]
    InvalidRevocation(StatementError),
    /// It names an owner our roster does not list.
    #[error("owner {0} is not in the roster")]
    OwnerNotInRoster(MemberCode),
    /// The owner's roster entry holds no usable key.
    #[error("{0}")]
    RosterKey(IdentityError),
    /// Signed by a key other than the owner's roster key.
    #[error("signed by a key that is not {0}'s roster key")]
    NotOwnersKey(MemberCode),
    /// It names us as owner but is not signed with our key: a forgery.
    #[error("signed by a key that is not ours but names us ({0}) as owner")]
    ForgedAsOurs(MemberCode),
    /// Handed over directly by a peer other than its owner.
    #[error("only {0} delivers its own statements")]
    NotFromOwner(MemberCode),
    /// A `members` or `only:` announcement relayed on gossip.
    #[error("a restricted announcement never travels on gossip")]
    RestrictedOnGossip,
    /// A different announcement of the same id is already held.
    #[error("{0} conflicts with the announcement already held")]
    Conflicts(DatasetId),
    /// An old version replayed on gossip.
    #[error("{id} is not newer than version {latest} (replayed old version)")]
    Replayed {
        /// The replayed id.
        id: DatasetId,
        /// The newest version held of that name.
        latest: u64,
    },
    /// Its owner reached what this node keeps of one member's statements.
    #[error("{owner} has reached this node's cap of {statements} statements or {bytes} bytes")]
    OverCap {
        /// The owner over its cap.
        owner: MemberCode,
        /// The cap on statements.
        statements: u64,
        /// The cap on bytes.
        bytes: u64,
    },
}

/// Why a receipt was not attached to the pull it claims to acknowledge. The sender is told
/// only [`ReceiptRefused::ANSWER`], whatever the reason: a receipt must not tell a stranger
/// whether some dataset exists. The variant is for this node's log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptRefused {
    /// It does not decode, or its signature does not verify.
    #[error("{0}")]
    Invalid(StatementError),
    /// The sending peer's id holds no usable key.
    #[error("{0}")]
    SenderKey(IdentityError),
    /// Signed by a key other than the sending peer's.
    #[error("not signed by the sending peer")]
    NotSignedBySender,
    /// It acknowledges a dataset another member released.
    #[error("not one of our datasets")]
    NotOurs,
    /// No granted pull of that dataset by that peer awaits a receipt.
    #[error("no granted pull awaits this receipt")]
    NoPullAwaits,
    /// It names a member other than the one our roster binds to the sender.
    #[error("the receipt names another member")]
    OtherMember,
    /// The dataset is no longer held as our own.
    #[error("dataset gone")]
    DatasetGone,
    /// It acknowledges other content than we released.
    #[error("digest differs")]
    DigestDiffers,
    /// The store failed.
    #[error("{0}")]
    Store(#[source] StoreError),
    /// The check did not finish (its task was cancelled or panicked).
    #[error("the check was interrupted")]
    Interrupted,
}

impl ReceiptRefused {
    /// The one answer a refused receipt gets.
    pub const ANSWER: &str = "receipt not accepted";

    /// [`ReceiptRefused::ANSWER`] as the direct response the sender gets.
    pub fn answer() -> DirectResponse {
        DirectResponse::Rejected {
            reason: Self::ANSWER.to_owned(),
        }
    }
}

impl Rejection {
    /// The direct response the peer that handed us the statement gets: the reason, in words.
    pub fn answer(&self) -> DirectResponse {
        DirectResponse::Rejected {
            reason: self.to_string(),
        }
    }
}
