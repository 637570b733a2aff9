//! `datapact federation adopt` and `federation status`: the node adopts a charter version only
//! when the rules of `datapact_protocol::charter` accept it after the versions it holds, and
//! its roster follows the newest adopted version (docs/design.md section 9).
//!
//! What adopting a message does, by its version N and the adopted head H:
//!
//! - nothing adopted yet: N must be 1 and signed by every member it lists;
//! - N = H + 1: it must be a valid step after H;
//! - N <= H and the same payload as the adopted N: nothing changes;
//! - N <= H and another payload that is a valid step after N - 1 (or a valid version 1): two
//!   valid charters of one version, a fork. The node keeps its own, records the fork, and stops
//!   adopting until the operator adopts one of the two (which is then the only way forward).
//!
//! The adopted chain is verified again from version 1 before each step (signatures on all
//! cores, at most [`MAX_CHAIN_STEPS`] at once), so a damaged store is noticed, never built on.

use std::collections::HashSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use datapact_protocol::charter::{
    Charter, CharterError, MAX_CHAIN_STEPS, MAX_CHARTER_LEN, SignedCharter, VerifiedCharter,
    verify_genesis, verify_step, verify_steps,
};
use datapact_protocol::{MemberCode, PublicKey};
use libp2p::PeerId;
use tokio::task::JoinError;

use super::{Context, OpError, Operation, Progress, blocking};
use crate::api::{CharterAdopted, CharterStatus, ErrorKind, FederationAdopt, FederationStatus};
use crate::store::{Adoption, ForkRecord, LogEntry, LogEvent, RosterEntry, Store, StoreError, now};

/// Why a charter could not be adopted, or the status not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CharterOpError {
    /// The file's path is relative: the daemon does not share the caller's directory.
    #[error("{path}: the daemon needs an absolute path", path = .0.display())]
    RelativePath(PathBuf),
    /// The file cannot be read.
    #[error("cannot read {path}: {source}", path = .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than any charter.
    #[error("{path}: larger than {MAX_CHARTER_LEN} bytes, not a charter", path = .0.display())]
    TooLarge(PathBuf),
    /// The charter is not valid after the versions held here (or not valid at all).
    #[error("not adopted: {0}")]
    Invalid(#[source] CharterError),
    /// A version after 1 offered to a node that holds no charter yet.
    #[error(
        "not adopted: this node holds no charter yet, and version {0} needs the versions before it; adopt version 1 first"
    )]
    NoChain(u64),
    /// Versions are missing between the adopted head and the one offered.
    #[error("not adopted: version {found} does not follow the adopted version {head}")]
    Gap {
        /// The adopted head.
        head: u64,
        /// The version offered.
        found: u64,
    },
    /// The charter is of another federation than the one this node follows.
    #[error("not adopted: this node follows federation {ours:?}, the charter is of {theirs:?}")]
    OtherFederation {
        /// The federation adopted here.
        ours: String,
        /// The federation the charter names.
        theirs: String,
    },
    /// A valid charter of a version this node adopted another one of: a fork, now recorded.
    #[error(
        "not adopted: version {version} is valid but differs from the adopted version {version} ({kept}): a member signed twice; the fork is recorded and adoption stops until `datapact federation adopt` is run on one of the two"
    )]
    Fork {
        /// The version.
        version: u64,
        /// The id of the version adopted here.
        kept: String,
    },
    /// A fork is recorded, and the charter is neither of its two versions.
    #[error(
        "not adopted: a fork at version {version} must be resolved first: adopt one of {ids}",
        ids = .ids.join(", ")
    )]
    ForkUnresolved {
        /// The fork's version.
        version: u64,
        /// Its two ids.
        ids: Vec<String>,
    },
    /// The charter versions held here no longer verify.
    #[error("the stored charter is damaged: {0}")]
    Damaged(#[source] CharterError),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The task ended before it finished.
    #[error("charter operation interrupted: {0}")]
    Interrupted(#[from] JoinError),
}

impl OpError for CharterOpError {
    fn kind(&self) -> ErrorKind {
        match self {
            CharterOpError::RelativePath(_) | CharterOpError::Read { .. } => ErrorKind::BadInput,
            _ => ErrorKind::Failed,
        }
    }
}

impl Operation for FederationAdopt {
    type Error = CharterOpError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<CharterAdopted, CharterOpError> {
        adopt(ctx, PathBuf::from(self.path)).await
    }
}

impl Operation for FederationStatus {
    type Error = CharterOpError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<CharterStatus, CharterOpError> {
        blocking(ctx, |ctx| super::charter_status::status(&ctx.store)).await
    }
}

/// Reads a charter file of at most [`MAX_CHARTER_LEN`] bytes.
pub(super) fn read_charter_file(path: &Path) -> Result<Vec<u8>, CharterOpError> {
    if !path.is_absolute() {
        return Err(CharterOpError::RelativePath(path.to_owned()));
    }
    let read_err = |source| CharterOpError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_CHARTER_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() > MAX_CHARTER_LEN {
        return Err(CharterOpError::TooLarge(path.to_owned()));
    }
    Ok(bytes)
}

/// Who this node is, so that the roster built from a charter leaves it out.
#[derive(Debug, Clone, Copy)]
pub(super) struct Me<'a> {
    /// Our member code.
    code: &'a MemberCode,
    /// Our key.
    key: PublicKey,
}

impl<'a> Me<'a> {
    /// This node, as the context knows it.
    pub(super) fn of(ctx: &'a Context) -> Self {
        Me {
            code: &ctx.home.member,
            key: ctx.home.identity.public_key(),
        }
    }
}

/// What an adoption changed in the roster.
#[derive(Debug, Default)]
pub(super) struct RosterChange {
    /// Entries that are new (a new member, or a member's new key), to hand our backlog to.
    added: Vec<(MemberCode, PeerId)>,
    /// Whether the roster changed at all.
    changed: bool,
}

/// `datapact federation adopt FILE`.
pub async fn adopt(ctx: &Context, path: PathBuf) -> Result<CharterAdopted, CharterOpError> {
    let bytes = tokio::task::spawn_blocking(move || read_charter_file(&path)).await??;
    let (adopted, change) = blocking(ctx, move |ctx| {
        adopt_message(&ctx.store, Me::of(ctx), &bytes)
    })
    .await?;
    after_adoption(ctx, change).await?;
    Ok(adopted)
}

/// What follows an adoption, once it is written: the store flushed, the network told of a
/// changed roster, and our backlog handed to every member the charter added.
pub(super) async fn after_adoption(
    ctx: &Context,
    change: RosterChange,
) -> Result<(), CharterOpError> {
    ctx.store.flush().await?;
    if change.changed {
        let _ = ctx.network.roster_changed().await;
    }
    if !change.added.is_empty() {
        blocking(ctx, move |ctx| {
            for (member, peer) in &change.added {
                super::announce::deliver_backlog(ctx, member, *peer);
            }
            Ok::<_, CharterOpError>(())
        })
        .await?;
    }
    Ok(())
}

/// Checks `bytes` against the charter held in `store` and adopts it (see the module comment).
pub(super) fn adopt_message(
    store: &Store,
    me: Me<'_>,
    bytes: &[u8],
) -> Result<(CharterAdopted, RosterChange), CharterOpError> {
    let offered = SignedCharter::decode(bytes).map_err(CharterOpError::Invalid)?;
    let version = offered.charter().version;
    let Some(head) = store.charter_head()? else {
        if version != 1 {
            return Err(CharterOpError::NoChain(version));
        }
        let verified = verify_genesis(offered).map_err(CharterOpError::Invalid)?;
        return write_adoption(store, me, &verified, false);
    };
    let held = stored_version(store, head)?;
    if offered.charter().federation != held.charter().federation {
        return Err(CharterOpError::OtherFederation {
            ours: held.charter().federation.clone(),
            theirs: offered.charter().federation.chars().take(100).collect(),
        });
    }
    if let Some(fork) = store.charter_fork()? {
        return resolve_fork(store, me, &fork, offered);
    }
    if version > head.saturating_add(1) {
        return Err(CharterOpError::Gap {
            head,
            found: version,
        });
    }
    if version == head + 1 {
        let base = verified_chain(store, head)?;
        let verified = verify_step(&base, offered).map_err(CharterOpError::Invalid)?;
        return write_adoption(store, me, &verified, false);
    }
    let adopted = stored_version(store, version)?;
    if adopted.id() == offered.id() {
        return Ok((adopted_answer(&adopted, false), RosterChange::default()));
    }
    let verified = verify_at(store, offered)?;
    store.record_charter_fork(&ForkRecord {
        version,
        kept: adopted.id().to_string(),
        other: verified.signed().bytes().to_vec(),
        other_id: verified.id().to_string(),
        noticed_at: now(),
    })?;
    tracing::warn!(version, "charter fork: two valid versions; adoption stops");
    Err(CharterOpError::Fork {
        version,
        kept: adopted.id().to_string(),
    })
}

/// Adopting one of the two versions of a recorded fork resolves it: the kept one clears the
/// fork; the other one replaces the kept one and the versions built on it.
fn resolve_fork(
    store: &Store,
    me: Me<'_>,
    fork: &ForkRecord,
    offered: SignedCharter,
) -> Result<(CharterAdopted, RosterChange), CharterOpError> {
    let id = offered.id().to_string();
    if id != fork.kept && id != fork.other_id {
        return Err(CharterOpError::ForkUnresolved {
            version: fork.version,
            ids: fork.ids().to_vec(),
        });
    }
    let verified = verify_at(store, offered)?;
    if id == fork.kept {
        let head = store.charter_head()?.unwrap_or(fork.version);
        let head = verified_chain(store, head)?;
        return write_adoption(store, me, &head, true);
    }
    write_adoption(store, me, &verified, true)
}

/// Verifies `offered` as version N after the adopted version N - 1 (or as a version 1).
fn verify_at(store: &Store, offered: SignedCharter) -> Result<VerifiedCharter, CharterOpError> {
    let version = offered.charter().version;
    if version <= 1 {
        return verify_genesis(offered).map_err(CharterOpError::Invalid);
    }
    let base = verified_chain(store, version - 1)?;
    verify_step(&base, offered).map_err(CharterOpError::Invalid)
}

/// The stored message of `version`, decoded (signatures verified, not the rules).
fn stored_version(store: &Store, version: u64) -> Result<SignedCharter, CharterOpError> {
    let bytes = store
        .charter_message(version)?
        .ok_or(CharterOpError::Damaged(CharterError::NotNextVersion {
            expected: version,
            found: 0,
        }))?;
    SignedCharter::decode(&bytes).map_err(CharterOpError::Damaged)
}

/// Verifies the stored chain from version 1 to `upto` by the rules, [`MAX_CHAIN_STEPS`]
/// versions at a time; returns version `upto`.
pub(crate) fn verified_chain(store: &Store, upto: u64) -> Result<VerifiedCharter, CharterOpError> {
    let damaged = CharterOpError::Damaged;
    let first = store.charter_messages(1, upto.min(MAX_CHAIN_STEPS as u64 + 1))?;
    let mut decoded = SignedCharter::decode_chain(&first)
        .map_err(damaged)?
        .into_iter();
    let genesis = decoded.next().ok_or(CharterOpError::NoChain(upto))?;
    let mut last = verify_genesis(genesis).map_err(damaged)?;
    let mut steps: Vec<SignedCharter> = decoded.collect();
    loop {
        if let Some(verified) = verify_steps(&last, steps).map_err(damaged)?.pop() {
            last = verified;
        }
        let next = last.charter().version + 1;
        if next > upto {
            break;
        }
        let window = store.charter_messages(next, upto.min(next + MAX_CHAIN_STEPS as u64 - 1))?;
        if window.is_empty() {
            return Err(CharterOpError::Damaged(CharterError::NotNextVersion {
                expected: next,
                found: 0,
            }));
        }
        steps = SignedCharter::decode_chain(&window).map_err(damaged)?;
    }
    Ok(last)
}

/// The roster entries `charter` makes: its members but this node, reachable at their listed
/// addresses. An entry that was in the roster already keeps its `added_at`.
fn charter_roster(store: &Store, me: Me<'_>, charter: &Charter) -> Vec<RosterEntry> {
    let before = store.charter_roster().unwrap_or_default();
    charter
        .members
        .iter()
        .filter(|m| m.code != *me.code && m.public_key != me.key)
        .map(|m| {
            let peer_id = m.public_key.peer_id();
            let added_at = before
                .iter()
                .find(|e| e.member == m.code && e.peer_id == peer_id)
                .map_or_else(now, |e| e.added_at);
            RosterEntry {
                member: m.code.clone(),
                peer_id,
                addrs: m.addrs.clone(),
                added_at,
            }
        })
        .collect()
}

/// Stores `head` (the chain below it is held already) as the adopted head with its roster, logs
/// the members it adds and removes, and says what changed.
pub(super) fn write_adoption(
    store: &Store,
    me: Me<'_>,
    head: &VerifiedCharter,
    resolves_fork: bool,
) -> Result<(CharterAdopted, RosterChange), CharterOpError> {
    let before: HashSet<(MemberCode, PeerId)> = effective(store)?;
    let roster = charter_roster(store, me, head.charter());
    store.adopt_charter(Adoption {
        versions: vec![(head.charter().version, head.signed().bytes())],
        roster,
        resolves_fork,
    })?;
    let after = effective(store)?;
    let reason = format!("federation charter version {}", head.charter().version);
    for (event, entries) in [
        (LogEvent::MemberAdded, after.difference(&before)),
        (LogEvent::MemberRemoved, before.difference(&after)),
    ] {
        for (member, peer) in entries {
            let mut log = LogEntry::new(event, now());
            log.member = Some(member.to_string());
            log.peer = Some(peer.to_string());
            log.reason = Some(reason.clone());
            store.append_log(log)?;
        }
    }
    let change = RosterChange {
        added: after.difference(&before).cloned().collect(),
        changed: before != after,
    };
    tracing::info!(version = head.charter().version, "charter adopted");
    Ok((adopted_answer(head.signed(), true), change))
}

/// The effective roster as (code, PeerId) pairs.
fn effective(store: &Store) -> Result<HashSet<(MemberCode, PeerId)>, StoreError> {
    Ok(store
        .roster()?
        .into_iter()
        .map(|e| (e.member, e.peer_id))
        .collect())
}

fn adopted_answer(signed: &SignedCharter, changed: bool) -> CharterAdopted {
    CharterAdopted {
        federation: signed.charter().federation.clone(),
        version: signed.charter().version,
        id: signed.id().to_string(),
        changed,
    }
}

#[cfg(test)]
#[path = "charter_tests.rs"]
mod tests;
