//! Proposals: drafting version N+1 from version N with one change, and saying in words what
//! changed between two versions.
//!
//! A draft keeps the rule of every version: adding a member that would leave k <= n/2 raises k
//! to the smallest valid value, removing one that would leave k > n lowers k to n, and the
//! [`Proposal`] says so. The description is computed from the two versions themselves, not from
//! the request, so every node that receives the proposal describes it the same way.

use std::fmt;

use crate::digest::Digest;
use crate::identity::PublicKey;
use crate::ids::MemberCode;

use super::document::{
    Charter, CharterMember, RetiredKey, smallest_valid_threshold, threshold_is_valid,
};
use super::envelope::{CharterId, SignedCharter};
use super::rules::VerifiedCharter;
use super::{CharterError, ProposalError};

/// The one change a proposal makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Add a member.
    Add {
        /// Its code.
        code: MemberCode,
        /// Its node key.
        public_key: PublicKey,
        /// Where its node listens.
        addrs: Vec<String>,
    },
    /// Remove a member.
    Remove {
        /// Its code.
        code: MemberCode,
    },
    /// Set the threshold to K.
    Threshold(u64),
    /// Give a member a new key, retiring the old one.
    Rotate {
        /// The member.
        code: MemberCode,
        /// Its new node key.
        public_key: PublicKey,
        /// Its new addresses; `None` keeps the ones it has.
        addrs: Option<Vec<String>>,
        /// SHA-256 of the old key's statements that still stand.
        keep: Vec<Digest>,
    },
}

/// A threshold that a draft changed to keep n/2 < k <= n.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThresholdAdjustment {
    /// k before.
    pub from: u64,
    /// k in the draft.
    pub to: u64,
    /// n in the draft.
    pub members: usize,
}

impl fmt::Display for ThresholdAdjustment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (verb, why) = if self.to > self.from {
            ("raised", "more than half")
        } else {
            ("lowered", "at most all")
        };
        write!(
            f,
            "threshold {verb} from {} to {}, so that {why} of the {} members are needed",
            self.from, self.to, self.members
        )
    }
}

/// A drafted version N+1, not signed yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// The draft message; sign it and send it on.
    pub draft: SignedCharter,
    /// Set when the threshold had to change with the membership.
    pub adjusted: Option<ThresholdAdjustment>,
    /// What it changes, in words (as [`changes_between`] describes it).
    pub description: String,
}

impl Proposal {
    /// The proposal's id: the SHA-256 of its payload.
    pub fn id(&self) -> CharterId {
        self.draft.id()
    }
}

/// Drafts the version after `current` with `change`, issued at `issued_at` (unix seconds).
pub fn draft(
    current: &VerifiedCharter,
    change: Change,
    issued_at: u64,
) -> Result<Proposal, ProposalError> {
    let prev = current.charter();
    let mut next = Charter {
        version: prev.version.checked_add(1).ok_or(CharterError::Field {
            field: "version",
            why: "no version after the largest",
        })?,
        previous: Some(current.id().0),
        retired: Vec::new(),
        issued_at,
        ..prev.clone()
    };
    let adjusted = apply(&mut next, change)?;
    let draft = SignedCharter::unsigned(&next)?;
    Ok(Proposal {
        draft,
        adjusted,
        description: describe(&changes_between(prev, &next)),
    })
}

/// Applies `change` to `next`; returns the threshold adjustment that an addition or a removal
/// forced.
fn apply(next: &mut Charter, change: Change) -> Result<Option<ThresholdAdjustment>, ProposalError> {
    let before = next.threshold;
    match change {
        Change::Add {
            code,
            public_key,
            addrs,
        } => {
            if next.member(&code).is_some() {
                return Err(ProposalError::AlreadyMember(code));
            }
            check_key_unused(next, &public_key)?;
            let at = next.members.partition_point(|m| m.code < code);
            let member = CharterMember {
                code,
                public_key,
                addrs,
            };
            next.members.insert(at, member);
            if !threshold_is_valid(next.threshold, next.members.len()) {
                next.threshold = smallest_valid_threshold(next.members.len());
            }
        }
        Change::Remove { code } => {
            let at = position(next, &code)?;
            if next.members.len() == 1 {
                return Err(ProposalError::LastMember(code));
            }
            next.members.remove(at);
            next.threshold = next.threshold.min(next.members.len() as u64);
        }
        Change::Threshold(k) => {
            set_threshold(next, k)?;
            return Ok(None);
        }
        Change::Rotate {
            code,
            public_key,
            addrs,
            keep,
        } => rotate(next, code, public_key, addrs, keep)?,
    }
    Ok((next.threshold != before).then_some(ThresholdAdjustment {
        from: before,
        to: next.threshold,
        members: next.members.len(),
    }))
}

fn position(charter: &Charter, code: &MemberCode) -> Result<usize, ProposalError> {
    charter
        .members
        .iter()
        .position(|m| m.code == *code)
        .ok_or_else(|| ProposalError::NotAMember(code.clone()))
}

fn check_key_unused(charter: &Charter, key: &PublicKey) -> Result<(), ProposalError> {
    match charter.member_by_key(key) {
        Some(holder) => Err(ProposalError::KeyInUse(holder.code.clone())),
        None => Ok(()),
    }
}

fn set_threshold(next: &mut Charter, k: u64) -> Result<(), ProposalError> {
    if !threshold_is_valid(k, next.members.len()) {
        return Err(ProposalError::Threshold {
            threshold: k,
            members: next.members.len(),
        });
    }
    if k == next.threshold {
        return Err(ProposalError::NoChange("the threshold is already that"));
    }
    next.threshold = k;
    Ok(())
}

fn rotate(
    next: &mut Charter,
    code: MemberCode,
    public_key: PublicKey,
    addrs: Option<Vec<String>>,
    mut keep: Vec<Digest>,
) -> Result<(), ProposalError> {
    let at = position(next, &code)?;
    let old_key = next.members[at].public_key;
    if old_key == public_key {
        return Err(ProposalError::NoChange("that is already the member's key"));
    }
    check_key_unused(next, &public_key)?;
    keep.sort();
    keep.dedup();
    let member = &mut next.members[at];
    member.public_key = public_key;
    if let Some(addrs) = addrs {
        member.addrs = addrs;
    }
    next.retired = vec![RetiredKey {
        code,
        public_key: old_key,
        statements: keep,
    }];
    Ok(())
}

/// One thing that differs between two versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeItem {
    /// A member joined.
    Added {
        /// Its code.
        code: MemberCode,
        /// Its key.
        public_key: PublicKey,
    },
    /// A member left.
    Removed {
        /// Its code.
        code: MemberCode,
    },
    /// A member has a new key.
    Rotated {
        /// Its code.
        code: MemberCode,
        /// Its new key.
        public_key: PublicKey,
        /// Statements of the old key that still stand.
        kept: usize,
    },
    /// A member, same key, has new addresses.
    Readdressed {
        /// Its code.
        code: MemberCode,
    },
    /// The threshold changed.
    Threshold {
        /// k before.
        from: u64,
        /// k after.
        to: u64,
    },
}

/// Keys are shown as PeerIds, the form operators exchange and type.
impl fmt::Display for ChangeItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Added { code, public_key } => write!(f, "add {code} {}", public_key.peer_id()),
            Self::Removed { code } => write!(f, "remove {code}"),
            Self::Rotated {
                code,
                public_key,
                kept,
            } => write!(
                f,
                "rotate {code} to {}, keeping {kept} statements",
                public_key.peer_id()
            ),
            Self::Readdressed { code } => write!(f, "new addresses for {code}"),
            Self::Threshold { from, to } => write!(f, "threshold {from} -> {to}"),
        }
    }
}

/// What changes from `prev` to `next`: members added, rotated or readdressed (in `next`'s
/// order), members removed (in `prev`'s order), then the threshold.
pub fn changes_between(prev: &Charter, next: &Charter) -> Vec<ChangeItem> {
    let mut items = Vec::new();
    for m in &next.members {
        let code = m.code.clone();
        match prev.member(&m.code) {
            None => items.push(ChangeItem::Added {
                code,
                public_key: m.public_key,
            }),
            Some(old) if old.public_key != m.public_key => {
                let kept = next
                    .retired
                    .iter()
                    .find(|r| r.code == m.code && r.public_key == old.public_key)
                    .map_or(0, |r| r.statements.len());
                items.push(ChangeItem::Rotated {
                    code,
                    public_key: m.public_key,
                    kept,
                });
            }
            Some(old) if old.addrs != m.addrs => items.push(ChangeItem::Readdressed { code }),
            Some(_) => {}
        }
    }
    for m in &prev.members {
        if next.member(&m.code).is_none() {
            items.push(ChangeItem::Removed {
                code: m.code.clone(),
            });
        }
    }
    if prev.threshold != next.threshold {
        items.push(ChangeItem::Threshold {
            from: prev.threshold,
            to: next.threshold,
        });
    }
    items
}

/// The items as one line, e.g. `add KHM 12D3KooW..., threshold 2 -> 3`.
pub fn describe(items: &[ChangeItem]) -> String {
    if items.is_empty() {
        return "no change".to_owned();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
