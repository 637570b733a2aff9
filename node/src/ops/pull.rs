//! `datapact pull`, `catalog` and `peers`: what others announced to us, and fetching it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

use datapact_protocol::wire::{DirectRequest, DirectResponse, SignedStatement};
use datapact_protocol::{
    DatasetId, Decision, MemberCode, PublicKey, Receipt, SignedAnnouncement, SignedReceipt,
    decide_pull,
};
use tokio::task::JoinError;

use super::structures::Received;
use super::{Context, OpError, Operation, Progress, blocking};
use crate::api::{
    Catalog, CatalogEntry, DatasetStatus, ErrorKind, PeerInfo, Peers, Pull, PullResult,
};
use crate::backoff::Backoff;
use crate::federation::{self, Verdict, Via};
use crate::network::NetError;
use crate::network::fetch::{FetchError, Fetched, fetch};
use crate::store::{DatasetRecord, Origin, Store, StoreError, now};

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PullError {
    /// Bad id.
    #[error("{0}")]
    Id(#[from] datapact_protocol::IdError),
    /// The owner does not have it, or will not say (both look the same, on purpose).
    #[error("dataset {0} not found")]
    NotFound(DatasetId),
    /// The owner refused, with its reason as it sent it (another node's words, not ours).
    #[error("{0}")]
    Denied(String),
    /// We cannot reach an owner we do not know.
    #[error("owner {0} is not in the roster; add it with `datapact members add`")]
    OwnerUnknown(MemberCode),
    /// Our own release.
    #[error("{0} is this node's own release")]
    Own(DatasetId),
    /// Another pull of the same dataset is running.
    #[error("{0} is already being pulled")]
    Busy(DatasetId),
    /// A relative `--out`.
    #[error("{path}: the daemon needs an absolute path", path = .0.display())]
    RelativePath(PathBuf),
    /// Network or verification failure.
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// The content arrived, but the owner's announcement is not kept (its owner reached its
    /// cap here, say), so the dataset is not recorded.
    #[error("the owner's announcement was not accepted: {0}")]
    NotAccepted(crate::verdict::Rejection),
    /// The content arrived and verified, but does not hold to its structure (or, a structure
    /// message, contradicts one held here), so it is not kept.
    #[error("{0}")]
    Structure(Box<super::structures::ReceivedError>),
    /// Writing `--out` failed.
    #[error("cannot write {path}: {source}", path = .0.display(), source = .1)]
    Write(PathBuf, std::io::Error),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The swarm task did not answer (the daemon is stopping).
    #[error("the network did not answer: {0}")]
    Network(#[from] NetError),
    /// A task reading the store or writing `--out` ended before it finished.
    #[error("interrupted: {0}")]
    Interrupted(#[from] JoinError),
}

impl From<super::structures::ReceivedError> for PullError {
    fn from(e: super::structures::ReceivedError) -> Self {
        Self::Structure(Box::new(e))
    }
}

impl OpError for PullError {
    fn kind(&self) -> ErrorKind {
        match self {
            PullError::Id(_) | PullError::RelativePath(_) => ErrorKind::BadInput,
            _ => ErrorKind::Failed,
        }
    }
}

/// Pulls in progress, so two pulls of one dataset never write the same partial file.
#[derive(Debug, Default)]
pub struct InFlight(Mutex<HashSet<DatasetId>>);

/// Removes its id from [`InFlight`] when the pull ends, however it ends.
struct InFlightGuard<'a> {
    set: &'a InFlight,
    id: DatasetId,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.set.0.lock() {
            s.remove(&self.id);
        }
    }
}

impl InFlight {
    fn claim(&self, id: &DatasetId) -> Option<InFlightGuard<'_>> {
        let mut set = self.0.lock().ok()?;
        set.insert(id.clone()).then(|| InFlightGuard {
            set: self,
            id: id.clone(),
        })
    }
}

/// `datapact pull ID [--out FILE]`, reporting `(bytes held, total)` to `progress`.
pub async fn pull(
    ctx: &Context,
    id: &str,
    out: Option<String>,
    progress: impl FnMut(u64, u64),
) -> Result<PullResult, PullError> {
    let id: DatasetId = id.parse()?;
    let out = out.map(PathBuf::from);
    if let Some(o) = &out
        && !o.is_absolute()
    {
        return Err(PullError::RelativePath(o.clone()));
    }
    if id.owner == ctx.home.member {
        return Err(PullError::Own(id));
    }
    let owner = id.owner.clone();
    let owner_key = blocking(ctx, move |ctx| owner_key(&ctx.store, owner)).await?;
    let _guard = ctx
        .pulls
        .claim(&id)
        .ok_or_else(|| PullError::Busy(id.clone()))?;
    // Read once this pull holds the claim: a pull that finished meanwhile left the content.
    let (record, known) = {
        let id = id.clone();
        blocking(ctx, move |ctx| {
            let record = ctx.store.dataset(&id)?;
            let known = record.as_ref().and_then(|r| r.announcement().ok());
            Ok::<_, PullError>((record, known))
        })
        .await?
    };
    let (signed, received) = match (&record, known) {
        (Some(r), Some(known)) if r.has_content => (known, None),
        (_, known) => {
            let fetched = fetch(
                &ctx.store,
                ctx.network.streams(),
                owner_key.peer_id(),
                &owner_key,
                &id,
                known.as_ref(),
                progress,
            )
            .await?;
            match fetched {
                Fetched::NotFound => return Err(PullError::NotFound(id)),
                Fetched::Denied(reason) => return Err(PullError::Denied(reason)),
                Fetched::Done(signed) => {
                    record_pull(ctx, owner_key.peer_id(), *signed, record.is_none()).await?
                }
            }
        }
    };
    let a = signed.body();
    if let Some(out) = &out {
        let sha = a.sha256;
        let target = out.clone();
        blocking(ctx, move |ctx| {
            let write = |e| PullError::Write(target.clone(), e);
            let mut source = ctx.store.blobs().open_read(&sha).map_err(write)?;
            // The user named the file, so an existing one is replaced (a symlink there too,
            // without following it).
            crate::fsutil::copy_durably(&mut source, &target, crate::fsutil::IfExists::Replace)
                .map_err(write)
        })
        .await?;
    }
    Ok(PullResult {
        id: id.to_string(),
        size: a.size,
        sha256: a.sha256.to_string(),
        out: out.map(|o| o.display().to_string()),
        structure_check: received.as_ref().map(|r| r.check),
        note: received.and_then(|r| r.note),
    })
}

/// The roster key of `owner`, whose release is to be pulled.
fn owner_key(store: &Store, owner: MemberCode) -> Result<PublicKey, PullError> {
    match store.roster_get(&owner)? {
        Some(entry) => {
            PublicKey::from_peer_id(&entry.peer_id).map_err(|_| PullError::OwnerUnknown(owner))
        }
        None => Err(PullError::OwnerUnknown(owner)),
    }
}

/// Checks the content of a verified pull of `signed` from `owner` against the structures held
/// here (`structures::check_pulled`), then records it (and the announcement, when
/// `first_seen`: pulled by id before it was announced to us), durably, and sends the receipt.
async fn record_pull(
    ctx: &Context,
    owner: libp2p::PeerId,
    signed: SignedAnnouncement,
    first_seen: bool,
) -> Result<(SignedAnnouncement, Option<Received>), PullError> {
    let received = super::structures::check_pulled(ctx, &signed).await?;
    let id = signed.body().id();
    let statement = SignedStatement::Announcement(signed.bytes().to_vec());
    let recorded = id.clone();
    blocking(ctx, move |ctx| {
        if first_seen {
            let verdict = federation::accept(
                &ctx.store,
                &federation::Local::of(&ctx.home),
                &statement,
                Via::Direct(owner),
            );
            ctx.network.note(&verdict, "pull");
            if let Verdict::Rejected(reason) = verdict {
                return Err(PullError::NotAccepted(reason));
            }
        }
        Ok(ctx.store.mark_pulled(&recorded)?)
    })
    .await?;
    ctx.store.flush().await?;
    send_receipt(ctx, owner, &signed);
    tracing::info!(dataset = %id, size = signed.body().size, "pulled and verified");
    Ok((signed, received))
}

/// Attempts to deliver a receipt before it is left undelivered (the owner's log then shows the
/// grant without receipt).
const RECEIPT_ATTEMPTS: u32 = 5;
/// First wait before resending a receipt; doubles up to [`MAX_RECEIPT_RETRY_DELAY`].
const FIRST_RECEIPT_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(200);
/// Longest wait between two receipt attempts.
const MAX_RECEIPT_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(4);

/// Signs a receipt for a verified pull and sends it to the owner in the background.
fn send_receipt(ctx: &Context, owner: libp2p::PeerId, signed: &SignedAnnouncement) {
    let receipt = Receipt {
        receiver: ctx.home.member.clone(),
        dataset: signed.body().id(),
        sha256: signed.body().sha256,
        received_at: now(),
    };
    let bytes = match SignedReceipt::sign(receipt, &ctx.home.identity) {
        Ok(r) => r.bytes().to_vec(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot sign a receipt");
            return;
        }
    };
    let network = ctx.network.clone();
    let tasks = ctx.tasks.clone();
    ctx.tasks.spawn(async move {
        let mut backoff = Backoff::new(FIRST_RECEIPT_RETRY_DELAY, MAX_RECEIPT_RETRY_DELAY);
        for _ in 0..RECEIPT_ATTEMPTS {
            match network
                .request(owner, DirectRequest::Receipt(bytes.clone()))
                .await
            {
                Ok(DirectResponse::Ack) => return,
                Ok(other) => {
                    tracing::debug!(answer = ?other, "receipt not accepted");
                    return;
                }
                // Shutting down: the owner's log shows the grant without its receipt.
                Err(crate::network::NetError::Stopped) => return,
                Err(e) => tracing::debug!(error = %e, "receipt not delivered; will retry"),
            }
            if !backoff.wait_unless_cancelled(&tasks).await {
                return;
            }
        }
    });
}

/// `datapact catalog`: received announcements, whether a pull would be granted now, and
/// whether we hold the content. Read on the blocking pool (each announcement is verified).
pub async fn catalog(ctx: &Context) -> Result<Vec<CatalogEntry>, PullError> {
    blocking(ctx, |ctx| {
        let now = now();
        let mut out = Vec::new();
        for (_, record) in ctx.store.datasets()? {
            if let Some(entry) = catalog_entry(&ctx.home.member, &record, now) {
                out.push(entry);
            }
        }
        Ok(out)
    })
    .await
}

/// The catalogue entry of a stored record, as `me` sees it at `now`: none for our own releases
/// and for an announcement that no longer verifies.
fn catalog_entry(me: &MemberCode, record: &DatasetRecord, now: u64) -> Option<CatalogEntry> {
    if record.origin != Origin::Received {
        return None;
    }
    let signed = record.announcement().ok()?;
    let a = signed.body();
    let (pullable, reason, status) = if record.revocation.is_some() {
        (
            false,
            Some("revoked by the owner".to_owned()),
            DatasetStatus::Revoked,
        )
    } else {
        match decide_pull(&a.policy, false, Some(me), now) {
            Decision::Granted => (true, None, DatasetStatus::Received),
            Decision::Denied(r) => {
                let status = if a.policy.is_expired(now) {
                    DatasetStatus::Expired
                } else {
                    DatasetStatus::Received
                };
                (false, Some(r.to_string()), status)
            }
        }
    };
    Some(CatalogEntry {
        id: a.id().to_string(),
        title: a.meta.title.clone(),
        owner: a.owner.clone(),
        policy: a.policy.audience.clone(),
        size: a.size,
        pullable,
        reason,
        pulled: record.has_content,
        purpose: a.policy.purpose.clone(),
        licence: a.policy.licence.clone(),
        status,
        structure: a.meta.structure.as_ref().map(super::structures::used),
        structures: a.meta.structures.clone(),
        disclosure: a.meta.disclosure.as_ref().map(super::protected::info),
    })
}

/// `datapact peers`: the swarm's connections, each with its member code per our roster.
pub async fn peers(ctx: &Context) -> Result<Vec<PeerInfo>, PullError> {
    let peers = ctx.network.peers().await?;
    blocking(ctx, move |ctx| {
        let mut out: Vec<PeerInfo> = peers
            .into_iter()
            .map(|p| PeerInfo {
                peer_id: p.peer,
                member: federation::member_of(&ctx.store, &p.peer),
                addrs: p.addrs.iter().map(ToString::to_string).collect(),
            })
            .collect();
        // By member code, then by PeerId as text (the order the listing has always had).
        out.sort_by_cached_key(|p| (p.member.clone(), p.peer_id.to_string()));
        Ok(out)
    })
    .await
}

impl Operation for Pull {
    type Error = PullError;

    async fn run(self, ctx: &Context, progress: &Progress) -> Result<PullResult, PullError> {
        pull(ctx, &self.id, self.out, |done, total| {
            // The request's connection may be gone; the pull goes on regardless.
            let _ = progress.send((done, total));
        })
        .await
    }
}

impl Operation for Catalog {
    type Error = PullError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<Vec<CatalogEntry>, PullError> {
        catalog(ctx).await
    }
}

impl Operation for Peers {
    type Error = PullError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<Vec<PeerInfo>, PullError> {
        peers(ctx).await
    }
}
