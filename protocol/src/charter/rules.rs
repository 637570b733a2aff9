//! When a charter version is valid (docs/design.md section 9), as pure functions over decoded
//! messages: version 1, version N+1 after version N, a chain of versions, forks, and the tally
//! of a pending proposal.
//!
//! Signatures are counted per key, never per signature, and only for keys that a version lists
//! as a member: a key that signs twice counts once, and strangers count for nothing.

use std::collections::HashSet;

use crate::identity::PublicKey;

use super::document::{Charter, CharterMember};
use super::envelope::{CharterId, SignedCharter};
use super::proposal::{changes_between, describe};
use super::{CharterError, MAX_CHAIN_STEPS, ProposalError};

/// A charter version that passed [`verify_genesis`] or [`verify_step`]; only those make one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCharter {
    /// The message, signatures included.
    signed: SignedCharter,
}

impl VerifiedCharter {
    /// The message.
    pub fn signed(&self) -> &SignedCharter {
        &self.signed
    }

    /// The charter version.
    pub fn charter(&self) -> &Charter {
        self.signed.charter()
    }

    /// The version's id.
    pub fn id(&self) -> CharterId {
        self.signed.id()
    }

    /// The message, for storing.
    pub fn into_signed(self) -> SignedCharter {
        self.signed
    }
}

/// How many distinct members of `charter` are among `signers`: each key once however often it
/// appears, keys that are not members not at all.
pub fn count_member_signers<'a>(
    signers: impl IntoIterator<Item = &'a PublicKey>,
    charter: &Charter,
) -> usize {
    let members: HashSet<&PublicKey> = charter.members.iter().map(|m| &m.public_key).collect();
    let mut counted = HashSet::new();
    signers
        .into_iter()
        .filter(|key| members.contains(key) && counted.insert(*key))
        .count()
}

/// Version 1 is valid when every member it lists signed it.
pub fn verify_genesis(signed: SignedCharter) -> Result<VerifiedCharter, CharterError> {
    let charter = signed.charter();
    if charter.version != 1 {
        return Err(CharterError::NotNextVersion {
            expected: 1,
            found: charter.version,
        });
    }
    if let Some(m) = charter
        .members
        .iter()
        .find(|m| !signed.is_signed_by(&m.public_key))
    {
        return Err(CharterError::UnsignedFounder(m.code.clone()));
    }
    Ok(VerifiedCharter { signed })
}

/// Version N+1 is valid after version N when it names the same federation, its version is N+1,
/// its `previous` is N's id, the keys it retires were held in N, and it is signed by at least
/// k(N) distinct members of N, at least k(N+1) distinct members of N+1, and every key it adds.
pub fn verify_step(
    previous: &VerifiedCharter,
    next: SignedCharter,
) -> Result<VerifiedCharter, CharterError> {
    check_link(previous, next.charter())?;
    check_quorums(previous.charter(), &next)?;
    Ok(VerifiedCharter { signed: next })
}

/// Verifies `steps`, which must follow `base` one version after the other (a gap is refused),
/// at most [`MAX_CHAIN_STEPS`] at once. All or nothing: the first refusal is the answer.
pub fn verify_steps(
    base: &VerifiedCharter,
    steps: Vec<SignedCharter>,
) -> Result<Vec<VerifiedCharter>, CharterError> {
    if steps.len() > MAX_CHAIN_STEPS {
        return Err(CharterError::ChainTooLong(steps.len()));
    }
    let mut verified: Vec<VerifiedCharter> = Vec::with_capacity(steps.len());
    for next in steps {
        let step = verify_step(verified.last().unwrap_or(base), next)?;
        verified.push(step);
    }
    Ok(verified)
}

/// Everything but the signatures: federation, version, link, retired keys.
fn check_link(previous: &VerifiedCharter, next: &Charter) -> Result<(), CharterError> {
    let prev = previous.charter();
    if next.federation != prev.federation {
        return Err(CharterError::Federation {
            expected: prev.federation.clone(),
            found: next.federation.chars().take(100).collect(),
        });
    }
    let expected = prev.version.saturating_add(1);
    if next.version != expected {
        return Err(CharterError::NotNextVersion {
            expected,
            found: next.version,
        });
    }
    if next.previous != Some(previous.id().0) {
        return Err(CharterError::Previous(next.version));
    }
    for r in &next.retired {
        if prev.member(&r.code).map(|m| m.public_key) != Some(r.public_key) {
            return Err(CharterError::RetiredKeyNotHeld(r.code.clone()));
        }
    }
    Ok(())
}

fn check_quorums(prev: &Charter, next: &SignedCharter) -> Result<(), CharterError> {
    for charter in [prev, next.charter()] {
        let have = count_member_signers(next.signers(), charter);
        if (have as u64) < charter.threshold {
            return Err(CharterError::TooFewSignatures {
                version: charter.version,
                have,
                need: charter.threshold,
            });
        }
    }
    if let Some(m) = added_members(prev, next.charter()).find(|m| !next.is_signed_by(&m.public_key))
    {
        return Err(CharterError::AddedKeyUnsigned(m.code.clone()));
    }
    Ok(())
}

/// Members of `next` whose key `prev` does not list: new members and rotated keys.
fn added_members<'a>(
    prev: &'a Charter,
    next: &'a Charter,
) -> impl Iterator<Item = &'a CharterMember> + 'a {
    next.members
        .iter()
        .filter(|m| prev.member_by_key(&m.public_key).is_none())
}

/// Two different valid charters with the same version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fork {
    /// The version both claim.
    pub version: u64,
    /// Their ids, ascending.
    pub ids: [CharterId; 2],
}

/// The fork that `a` and `b` make, if they are different versions of one number (possible only
/// if some member signed twice). Two copies of one payload with different signatures are one
/// charter, not a fork: merge them.
pub fn detect_fork(a: &VerifiedCharter, b: &VerifiedCharter) -> Option<Fork> {
    let version = a.charter().version;
    if version != b.charter().version || a.id() == b.id() {
        return None;
    }
    let mut ids = [a.id(), b.id()];
    ids.sort();
    Some(Fork { version, ids })
}

/// A node signs at most one charter for each version: signing `candidate` is refused when it
/// already signed another one (`signed_before`) for `version`; signing the same one again is
/// harmless.
pub fn check_one_charter_per_version(
    version: u64,
    signed_before: Option<CharterId>,
    candidate: CharterId,
) -> Result<(), ProposalError> {
    match signed_before {
        Some(signed) if signed != candidate => Err(ProposalError::AlreadySignedVersion {
            version,
            signed: signed.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Where a proposed version N+1 stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Distinct signers that are members of N or of N+1.
    pub signatures: usize,
    /// The fewest further signatures that would make it valid; 0 when it is.
    pub needed: usize,
}

/// Counts the signatures of `next` that count, and how many more it needs: every added key,
/// then enough members of N+1 and of N (a member of both counts for both).
pub fn tally_step(prev: &Charter, next: &SignedCharter) -> Tally {
    let prev_keys: HashSet<&PublicKey> = prev.members.iter().map(|m| &m.public_key).collect();
    let next_keys: HashSet<&PublicKey> = next
        .charter()
        .members
        .iter()
        .map(|m| &m.public_key)
        .collect();
    let signatures = next
        .signers()
        .filter(|k| prev_keys.contains(k) || next_keys.contains(k))
        .count();
    let missing = |have: usize, need: u64| need.saturating_sub(have as u64);
    let of_prev = missing(count_member_signers(next.signers(), prev), prev.threshold);
    let of_next = missing(
        count_member_signers(next.signers(), next.charter()),
        next.charter().threshold,
    );
    let added_unsigned = added_members(prev, next.charter())
        .filter(|m| !next.is_signed_by(&m.public_key))
        .count() as u64;
    // Added keys count only for N+1; the rest must come from members of both, which count for N
    // as well, so whichever of the two shortfalls is larger decides.
    let rest = of_next.saturating_sub(added_unsigned).max(of_prev);
    let needed = added_unsigned.saturating_add(rest);
    Tally {
        signatures,
        needed: usize::try_from(needed).unwrap_or(usize::MAX),
    }
}

/// A pending proposal as `federation status` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingStatus {
    /// The proposal's id.
    pub id: CharterId,
    /// The version it proposes.
    pub version: u64,
    /// What it changes, in words.
    pub change: String,
    /// Distinct signatures that count.
    pub signatures: usize,
    /// How many more it needs.
    pub needed: usize,
}

/// The status of `proposal` as the next version after `current`; refused if it is not one.
pub fn pending_status(
    current: &VerifiedCharter,
    proposal: &SignedCharter,
) -> Result<PendingStatus, CharterError> {
    check_link(current, proposal.charter())?;
    let tally = tally_step(current.charter(), proposal);
    Ok(PendingStatus {
        id: proposal.id(),
        version: proposal.charter().version,
        change: describe(&changes_between(current.charter(), proposal.charter())),
        signatures: tally.signatures,
        needed: tally.needed,
    })
}
