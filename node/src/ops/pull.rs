//! `datapact pull`, `catalog` and `peers`: what others announced to us, and fetching it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

use datapact_protocol::wire::{DirectRequest, DirectResponse, SignedStatement};
use datapact_protocol::{
    DatasetId, Decision, PublicKey, Receipt, SignedAnnouncement, SignedReceipt, decide_pull,
};

use super::{Context, OpError};
use crate::api::{CatalogEntry, ErrorKind, PeerInfo, PullResult};
use crate::backoff::Backoff;
use crate::federation::{self, Verdict, Via};
use crate::network::fetch::{FetchError, Fetched, fetch};
use crate::store::{Origin, StoreError, now};

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PullError {
    /// Bad id.
    #[error("{0}")]
    Id(#[from] datapact_protocol::IdError),
    /// The owner does not have it, or will not say (both look the same, on purpose).
    #[error("dataset {0} not found")]
    NotFound(String),
    /// The owner refused.
    #[error("{0}")]
    Denied(String),
    /// We cannot reach an owner we do not know.
    #[error("owner {0} is not in the roster; add it with `datapact members add`")]
    OwnerUnknown(String),
    /// Our own release.
    #[error("{0} is this node's own release")]
    Own(String),
    /// Another pull of the same dataset is running.
    #[error("{0} is already being pulled")]
    Busy(String),
    /// A relative `--out`.
    #[error("{0}: the daemon needs an absolute path")]
    RelativePath(String),
    /// Network or verification failure.
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// The content arrived, but the owner's announcement is not kept (its owner reached its
    /// cap here, say), so the dataset is not recorded.
    #[error("the owner's announcement was not accepted: {0}")]
    NotAccepted(String),
    /// Writing `--out` failed.
    #[error("cannot write {path}: {source}", path = .0.display(), source = .1)]
    Write(PathBuf, std::io::Error),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
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

/// `datapact pull ID [--out FILE]`.
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
        return Err(PullError::RelativePath(o.display().to_string()));
    }
    if id.owner == ctx.home.member {
        return Err(PullError::Own(id.to_string()));
    }
    let entry = ctx
        .store
        .roster_get(&id.owner)?
        .ok_or_else(|| PullError::OwnerUnknown(id.owner.to_string()))?;
    let owner_key = PublicKey::from_peer_id_str(&entry.peer_id)
        .map_err(|_| PullError::OwnerUnknown(id.owner.to_string()))?;
    let _guard = ctx
        .pulls
        .claim(&id)
        .ok_or_else(|| PullError::Busy(id.to_string()))?;
    let record = ctx.store.dataset(&id)?;
    let known = match &record {
        Some(r) => r.announcement().ok(),
        None => None,
    };
    let signed = if let (Some(r), Some(known)) = (&record, &known)
        && r.has_content
    {
        known.clone()
    } else {
        match fetch(
            &ctx.store,
            ctx.network.streams(),
            owner_key.peer_id(),
            &owner_key,
            &id,
            known.as_ref(),
            progress,
        )
        .await?
        {
            Fetched::NotFound => return Err(PullError::NotFound(id.to_string())),
            Fetched::Denied(reason) => return Err(PullError::Denied(reason)),
            Fetched::Done(signed) => {
                record_pull(ctx, owner_key.peer_id(), *signed, record.is_none()).await?
            }
        }
    };
    let a = signed.body();
    if let Some(out) = &out {
        let store = ctx.store.clone();
        let sha = a.sha256;
        let target = out.clone();
        tokio::task::spawn_blocking(move || {
            let mut source = store.blobs().open_read(&sha)?;
            // The user named the file, so an existing one is replaced (a symlink there too,
            // without following it).
            crate::fsutil::copy_durably(&mut source, &target, crate::fsutil::IfExists::Replace)
        })
        .await
        .map_err(|e| PullError::Write(out.clone(), std::io::Error::other(e.to_string())))?
        .map_err(|e| PullError::Write(out.clone(), e))?;
    }
    Ok(PullResult {
        id: id.to_string(),
        size: a.size,
        sha256: a.sha256.to_string(),
        out: out.map(|o| o.display().to_string()),
    })
}

/// Records a verified pull of `signed` from `owner` (and the announcement, when `first_seen`:
/// pulled by id before it was announced to us), durably, then sends the receipt.
async fn record_pull(
    ctx: &Context,
    owner: libp2p::PeerId,
    signed: SignedAnnouncement,
    first_seen: bool,
) -> Result<SignedAnnouncement, PullError> {
    let id = signed.body().id();
    if first_seen {
        let statement = SignedStatement::Announcement(signed.bytes().to_vec());
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
    ctx.store.mark_pulled(&id)?;
    ctx.store.flush().await?;
    send_receipt(ctx, owner, &signed);
    tracing::info!(dataset = %id, size = signed.body().size, "pulled and verified");
    Ok(signed)
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
/// whether we hold the content.
pub fn catalog(ctx: &Context) -> Result<Vec<CatalogEntry>, PullError> {
    let now = now();
    let mut out = Vec::new();
    for (_, record) in ctx.store.datasets()? {
        if record.origin != Origin::Received {
            continue;
        }
        let Ok(signed) = record.announcement() else {
            continue;
        };
        out.push(catalog_entry(
            ctx,
            &signed,
            record.revocation.is_some(),
            record.has_content,
            now,
        ));
    }
    Ok(out)
}

fn catalog_entry(
    ctx: &Context,
    signed: &SignedAnnouncement,
    revoked: bool,
    pulled: bool,
    now: u64,
) -> CatalogEntry {
    let a = signed.body();
    let (pullable, reason, status) = if revoked {
        (false, Some("revoked by the owner".to_owned()), "revoked")
    } else {
        match decide_pull(&a.policy, false, Some(&ctx.home.member), now) {
            Decision::Granted => (true, None, "received"),
            Decision::Denied(r) => {
                let status = if a.policy.is_expired(now) {
                    "expired"
                } else {
                    "received"
                };
                (false, Some(r.to_string()), status)
            }
        }
    };
    CatalogEntry {
        id: a.id().to_string(),
        title: a.meta.title.clone(),
        owner: a.owner.to_string(),
        policy: a.policy.audience.to_string(),
        size: a.size,
        pullable,
        reason,
        pulled,
        purpose: a.policy.purpose.clone(),
        licence: a.policy.licence.clone(),
        status: status.to_owned(),
    }
}

/// `datapact peers`.
pub async fn peers(ctx: &Context) -> Result<Vec<PeerInfo>, PullError> {
    let peers = ctx
        .network
        .peers()
        .await
        .map_err(|e| PullError::Fetch(FetchError::Open(e.to_string())))?;
    let mut out: Vec<PeerInfo> = peers
        .into_iter()
        .map(|p| PeerInfo {
            peer_id: p.peer.to_string(),
            member: federation::member_of(&ctx.store, &p.peer).map(|m| m.to_string()),
            addrs: p.addrs.iter().map(ToString::to_string).collect(),
        })
        .collect();
    out.sort_by(|a, b| a.member.cmp(&b.member).then(a.peer_id.cmp(&b.peer_id)));
    Ok(out)
}
