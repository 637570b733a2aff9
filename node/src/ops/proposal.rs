//! `datapact federation propose`, `approve`, `import` and `export`: the next charter version,
//! drafted with one change, signed by this node's key and held as pending until enough members
//! have signed it; then adopted at once through the same path as `federation adopt`
//! (docs/design.md section 9).
//!
//! A node signs at most one charter for each version: proposing or approving claims the version
//! in the store first (atomically), so a second, different proposal for a version this node
//! signed is refused and a fork can only come from a member that cheats. Signatures from other
//! nodes meet through files: `export` writes a pending proposal with every signature it has,
//! `import` merges a copy's signatures into the pending one.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use datapact_protocol::charter::{
    Change, CharterError, CharterId, MAX_RETIRED_STATEMENTS, ProposalError, SignedCharter,
    VerifiedCharter, draft, pending_status, tally_step, verify_step,
};
use datapact_protocol::{Digest, PublicKey};
use libp2p::PeerId;
use tokio::task::JoinError;

use super::charter::{
    CharterOpError, Me, RosterChange, adopt_message, after_adoption, read_charter_file,
    verified_chain, write_adoption,
};
use super::{Context, OpError, Operation, Progress, blocking};
use crate::api::{
    ErrorKind, FederationApprove, FederationExport, FederationImport, FederationPropose,
    ProposalMade, ProposalState, ProposedChange,
};
use crate::home::{InvalidMultiaddr, check_multiaddr};
use crate::store::{Store, StoreError, now};

/// Largest `--keep` file read: every digest the charter can keep, 64 hex digits and a line end
/// each, with room for `\r\n` line ends.
const MAX_KEEP_FILE_LEN: usize = MAX_RETIRED_STATEMENTS * 66;

/// Why a proposal could not be made, signed, merged or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProposalOpError {
    /// No charter is adopted, so there is no version to follow.
    #[error(
        "no federation charter is adopted here: found one with `datapact federation init` or adopt one with `datapact federation adopt FILE`"
    )]
    NoCharter,
    /// A fork is recorded: adoption is frozen until the operator resolves it.
    #[error(
        "a fork at version {version} is recorded: resolve it first with `datapact federation adopt FILE` on one of {ids}",
        ids = .ids.join(", ")
    )]
    Frozen {
        /// The fork's version.
        version: u64,
        /// Its two ids.
        ids: Vec<String>,
    },
    /// An address given with `--addr` is not a multiaddr.
    #[error("{0}")]
    Addr(#[from] InvalidMultiaddr),
    /// The PeerId does not hold an ed25519 key.
    #[error("{peer}: {why}")]
    Key {
        /// The PeerId.
        peer: PeerId,
        /// Why.
        why: String,
    },
    /// The `--keep` file cannot be read or holds something other than digests.
    #[error("--keep {path}: {why}", path = .path.display())]
    Keep {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The change cannot be drafted (a threshold out of range, an unknown member...).
    #[error("not proposed: {0}")]
    Draft(#[source] ProposalError),
    /// This node signed another charter for that version already.
    #[error(
        "not signed: this node already signed charter {signed} for version {version}, and a node signs at most one charter for each version"
    )]
    AlreadySigned {
        /// The version.
        version: u64,
        /// The charter it signed.
        signed: CharterId,
    },
    /// The id is not 64 hex digits.
    #[error("invalid proposal id {0:?}: expected 64 hex digits")]
    BadId(String),
    /// No pending proposal has that id.
    #[error("no pending proposal {0}: `datapact federation status` lists them")]
    Unknown(CharterId),
    /// The proposal no longer follows the adopted head (another version was adopted).
    #[error("proposal {id} for version {version} no longer follows the adopted version {head}")]
    Stale {
        /// The proposal.
        id: CharterId,
        /// Its version.
        version: u64,
        /// The adopted head.
        head: u64,
    },
    /// This node is a member of neither the adopted version nor the proposal.
    #[error(
        "not signed: this node is a member of neither version {0} nor the proposal, so its signature would not count"
    )]
    NotASigner(u64),
    /// The proposal file is not the next version after the adopted one.
    #[error("not imported: {0}")]
    NotNext(#[source] CharterError),
    /// The file cannot be written.
    #[error("cannot write {path}: {source}", path = .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Reading the file or adopting failed.
    #[error(transparent)]
    Charter(#[from] CharterOpError),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The task ended before it finished.
    #[error("charter operation interrupted: {0}")]
    Interrupted(#[from] JoinError),
}

impl OpError for ProposalOpError {
    fn kind(&self) -> ErrorKind {
        use ProposalOpError as E;
        match self {
            E::NoCharter | E::Addr(_) | E::Key { .. } | E::Keep { .. } | E::BadId(_) => {
                ErrorKind::BadInput
            }
            E::NotASigner(_) => ErrorKind::BadInput,
            E::Draft(ProposalError::AlreadySignedVersion { .. }) => ErrorKind::Failed,
            E::Draft(_) => ErrorKind::BadInput,
            E::Charter(e) => e.kind(),
            _ => ErrorKind::Failed,
        }
    }
}

impl Operation for FederationPropose {
    type Error = ProposalOpError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<ProposalMade, ProposalOpError> {
        let (made, change) = blocking(ctx, move |ctx| propose(ctx, self.change)).await?;
        after_adoption(ctx, change).await?;
        Ok(made)
    }
}

impl Operation for FederationApprove {
    type Error = ProposalOpError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<ProposalState, ProposalOpError> {
        let (state, change) = blocking(ctx, move |ctx| approve(ctx, &self.id)).await?;
        after_adoption(ctx, change).await?;
        Ok(state)
    }
}

impl Operation for FederationImport {
    type Error = ProposalOpError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<ProposalState, ProposalOpError> {
        let (state, change) = blocking(ctx, move |ctx| {
            let bytes = read_charter_file(Path::new(&self.path))?;
            import(ctx, &bytes)
        })
        .await?;
        after_adoption(ctx, change).await?;
        Ok(state)
    }
}

impl Operation for FederationExport {
    type Error = ProposalOpError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<ProposalState, ProposalOpError> {
        blocking(ctx, move |ctx| {
            export(&ctx.store, &self.id, Path::new(&self.out))
        })
        .await
    }
}

/// Drafts, claims, signs and settles the next version with `change`.
fn propose(
    ctx: &Context,
    change: ProposedChange,
) -> Result<(ProposalMade, RosterChange), ProposalOpError> {
    let store = &ctx.store;
    check_not_frozen(store)?;
    let current = adopted_head(store)?;
    let proposal = draft(&current, to_change(change)?, now()).map_err(ProposalOpError::Draft)?;
    let mut signed = proposal.draft.clone();
    let (id, version) = (signed.id(), signed.charter().version);
    let threshold = signed.charter().threshold;
    claim(store, version, id)?;
    signed
        .sign(&ctx.home.identity)
        .map_err(CharterOpError::Invalid)?;
    let (state, change) = settle(store, Me::of(ctx), &current, signed)?;
    let made = ProposalMade {
        id: id.to_string(),
        version,
        threshold,
        adjusted: proposal.adjusted.map(|a| a.to_string()),
        state,
    };
    Ok((made, change))
}

/// Adds this node's signature to the pending proposal `id`.
fn approve(ctx: &Context, id: &str) -> Result<(ProposalState, RosterChange), ProposalOpError> {
    let store = &ctx.store;
    let id = parse_id(id)?;
    check_not_frozen(store)?;
    let current = adopted_head(store)?;
    let mut signed = pending_copy(store, &current, id)?;
    let key = ctx.home.identity.public_key();
    if current.charter().member_by_key(&key).is_none()
        && signed.charter().member_by_key(&key).is_none()
    {
        return Err(ProposalOpError::NotASigner(current.charter().version));
    }
    claim(store, signed.charter().version, id)?;
    signed
        .sign(&ctx.home.identity)
        .map_err(CharterOpError::Invalid)?;
    settle(store, Me::of(ctx), &current, signed)
}

/// Merges the signatures of a proposal file into the pending copy (or keeps it as a new
/// pending proposal), adopting it once valid. A file that is not the next version (a version 1,
/// a version adopted already, one side of a fork) goes the way of `federation adopt`.
fn import(ctx: &Context, bytes: &[u8]) -> Result<(ProposalState, RosterChange), ProposalOpError> {
    let store = &ctx.store;
    let offered = SignedCharter::decode(bytes).map_err(CharterOpError::Invalid)?;
    let next = store.charter_head()?.map(|h| h.saturating_add(1));
    if next != Some(offered.charter().version) || store.charter_fork()?.is_some() {
        let (adopted, change) = adopt_message(store, Me::of(ctx), bytes)?;
        let state = ProposalState {
            id: adopted.id,
            version: adopted.version,
            signatures: offered.signers().count(),
            needed: 0,
            adopted: true,
        };
        return Ok((state, change));
    }
    let current = adopted_head(store)?;
    pending_status(&current, &offered).map_err(ProposalOpError::NotNext)?;
    let merged = match store.charter_proposal(offered.id())? {
        Some(held) => {
            let mut held = SignedCharter::decode(&held).map_err(CharterOpError::Damaged)?;
            held.merge(&offered).map_err(CharterOpError::Invalid)?;
            held
        }
        None => offered,
    };
    settle(store, Me::of(ctx), &current, merged)
}

/// Writes the pending proposal `id` to `out`, or the adopted head when that is `id` (the
/// version just adopted here, for the nodes that have not seen all its signatures).
fn export(store: &Store, id: &str, out: &Path) -> Result<ProposalState, ProposalOpError> {
    if !out.is_absolute() {
        return Err(CharterOpError::RelativePath(out.to_owned()).into());
    }
    let id = parse_id(id)?;
    let current = adopted_head(store)?;
    let adopted = current.id() == id;
    let (bytes, state) = if adopted {
        let state = ProposalState {
            id: id.to_string(),
            version: current.charter().version,
            signatures: current.signed().signers().count(),
            needed: 0,
            adopted: true,
        };
        (current.signed().bytes().to_vec(), state)
    } else {
        let signed = pending_copy(store, &current, id)?;
        let state = state_of(&current, &signed);
        (signed.bytes().to_vec(), state)
    };
    crate::fsutil::write_atomic(out, &bytes).map_err(|source| ProposalOpError::Write {
        path: out.to_owned(),
        source,
    })?;
    Ok(state)
}

/// Adopts `signed` if it is now a valid step after `current`, else keeps it as pending.
fn settle(
    store: &Store,
    me: Me<'_>,
    current: &VerifiedCharter,
    signed: SignedCharter,
) -> Result<(ProposalState, RosterChange), ProposalOpError> {
    let mut state = state_of(current, &signed);
    match verify_step(current, signed.clone()) {
        Ok(verified) => {
            let (_, change) = write_adoption(store, me, &verified, false)?;
            forget_proposals_up_to(store, verified.charter().version)?;
            state.needed = 0;
            state.adopted = true;
            Ok((state, change))
        }
        Err(_) => {
            store.put_charter_proposal(signed.id(), signed.bytes())?;
            store.flush_blocking()?;
            Ok((state, RosterChange::default()))
        }
    }
}

/// Forgets the pending proposals of versions up to `head`: adopted, or overtaken.
fn forget_proposals_up_to(store: &Store, head: u64) -> Result<(), ProposalOpError> {
    for bytes in store.charter_proposals()? {
        match SignedCharter::decode(&bytes) {
            Ok(p) if p.charter().version > head => {}
            Ok(p) => store.remove_charter_proposal(p.id())?,
            Err(_) => {}
        }
    }
    Ok(())
}

fn state_of(current: &VerifiedCharter, signed: &SignedCharter) -> ProposalState {
    let tally = tally_step(current.charter(), signed);
    ProposalState {
        id: signed.id().to_string(),
        version: signed.charter().version,
        signatures: tally.signatures,
        needed: tally.needed,
        adopted: false,
    }
}

/// The adopted head, verified from version 1.
fn adopted_head(store: &Store) -> Result<VerifiedCharter, ProposalOpError> {
    let head = store.charter_head()?.ok_or(ProposalOpError::NoCharter)?;
    Ok(verified_chain(store, head)?)
}

fn check_not_frozen(store: &Store) -> Result<(), ProposalOpError> {
    match store.charter_fork()? {
        Some(fork) => Err(ProposalOpError::Frozen {
            version: fork.version,
            ids: fork.ids().to_vec(),
        }),
        None => Ok(()),
    }
}

/// Claims `version` for `id`: refused when this node signed another charter for it.
fn claim(store: &Store, version: u64, id: CharterId) -> Result<(), ProposalOpError> {
    match store.claim_charter_version(version, id)? {
        Some(signed) => Err(ProposalOpError::AlreadySigned { version, signed }),
        None => Ok(()),
    }
}

fn parse_id(text: &str) -> Result<CharterId, ProposalOpError> {
    CharterId::from_hex(text.trim())
        .map_err(|_| ProposalOpError::BadId(text.chars().take(100).collect()))
}

/// The pending proposal `id`, which must still be the version after `current`.
fn pending_copy(
    store: &Store,
    current: &VerifiedCharter,
    id: CharterId,
) -> Result<SignedCharter, ProposalOpError> {
    let bytes = store
        .charter_proposal(id)?
        .ok_or(ProposalOpError::Unknown(id))?;
    let signed = SignedCharter::decode(&bytes).map_err(CharterOpError::Damaged)?;
    if pending_status(current, &signed).is_err() {
        return Err(ProposalOpError::Stale {
            id,
            version: signed.charter().version,
            head: current.charter().version,
        });
    }
    Ok(signed)
}

/// The protocol's change from the operator's words, addresses and keys checked.
fn to_change(change: ProposedChange) -> Result<Change, ProposalOpError> {
    Ok(match change {
        ProposedChange::Add {
            code,
            peer_id,
            addrs,
        } => Change::Add {
            code,
            public_key: key_of(&peer_id)?,
            addrs: checked_addrs(addrs)?,
        },
        ProposedChange::Remove { code } => Change::Remove { code },
        ProposedChange::Threshold { threshold } => Change::Threshold(threshold),
        ProposedChange::Rotate {
            code,
            peer_id,
            addrs,
            keep,
        } => Change::Rotate {
            code,
            public_key: key_of(&peer_id)?,
            addrs: (!addrs.is_empty())
                .then(|| checked_addrs(addrs))
                .transpose()?,
            keep: match keep {
                Some(path) => read_keep_file(Path::new(&path))?,
                None => Vec::new(),
            },
        },
    })
}

fn key_of(peer: &PeerId) -> Result<PublicKey, ProposalOpError> {
    PublicKey::from_peer_id(peer).map_err(|e| ProposalOpError::Key {
        peer: *peer,
        why: e.to_string(),
    })
}

fn checked_addrs(addrs: Vec<String>) -> Result<Vec<String>, ProposalOpError> {
    for addr in &addrs {
        check_multiaddr(addr)?;
    }
    Ok(addrs)
}

/// Reads the `--keep` file: SHA-256 hex digests, one a line; blank lines are skipped.
fn read_keep_file(path: &Path) -> Result<Vec<Digest>, ProposalOpError> {
    let bad = |why: String| ProposalOpError::Keep {
        path: path.to_owned(),
        why,
    };
    if !path.is_absolute() {
        return Err(bad("the daemon needs an absolute path".into()));
    }
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut text = String::new();
    file.take(MAX_KEEP_FILE_LEN as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| bad(e.to_string()))?;
    if text.len() > MAX_KEEP_FILE_LEN {
        return Err(bad(format!("larger than {MAX_KEEP_FILE_LEN} bytes")));
    }
    text.lines()
        .map(str::trim)
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(at, line)| {
            Digest::from_hex(line).map_err(|_| {
                let shown: String = line.chars().take(80).collect();
                bad(format!(
                    "line {}: {shown:?} is not a sha256 hex digest",
                    at + 1
                ))
            })
        })
        .collect()
}
