//! Keys over time: whether a statement signed by some key may stand for the member it names.
//!
//! A statement is checked against the key its member has in the newest charter. A key that the
//! member retired (in any version of the chain) still stands, but only for the statements
//! listed under it in that version's `retired`: the member's own list at `rotate-key`, or, for
//! a lost key, what the new key's holder stands by. So a stolen old key cannot be used to
//! backdate anything.

use crate::digest::Digest;
use crate::identity::PublicKey;
use crate::ids::MemberCode;

use super::StatementKeyError;
use super::document::{Charter, RetiredKey};
use super::rules::VerifiedCharter;

/// Why a statement's key was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStanding {
    /// It is the member's key in the newest charter.
    Current,
    /// It is a key the member retired, and the statement is listed under it.
    Retired,
}

/// Decides whether the statement with SHA-256 `statement`, signed by `key`, may stand for
/// `member`, given the `newest` charter and the `retired` entries of its whole chain.
pub fn check_statement_key<'a>(
    newest: &Charter,
    retired: impl IntoIterator<Item = &'a RetiredKey>,
    member: &MemberCode,
    key: &PublicKey,
    statement: &Digest,
) -> Result<KeyStanding, StatementKeyError> {
    let current = newest
        .member(member)
        .ok_or_else(|| StatementKeyError::NotAMember(member.clone()))?;
    if current.public_key == *key {
        return Ok(KeyStanding::Current);
    }
    let mut retired_by_member = false;
    for r in retired {
        if r.code == *member && r.public_key == *key {
            if r.statements.binary_search(statement).is_ok() {
                return Ok(KeyStanding::Retired);
            }
            retired_by_member = true;
        }
    }
    Err(if retired_by_member {
        StatementKeyError::RetiredKeyUnlisted(member.clone())
    } else {
        StatementKeyError::NotMembersKey(member.clone())
    })
}

/// The retired entries of every version of `chain`, oldest first, for [`check_statement_key`].
pub fn chain_retired(chain: &[VerifiedCharter]) -> impl Iterator<Item = &RetiredKey> {
    chain.iter().flat_map(|v| v.charter().retired.iter())
}
