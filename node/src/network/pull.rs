//! The content stream, `/datapact/pull/1`: the owner's side ([`serve`]) decides every request
//! with the protocol's policy function and logs it; the requester's side ([`fetch`]) verifies
//! every chunk against the signed chunk root as it arrives and appends it to a partial file
//! that survives restarts, so a later pull resumes from the verified chunks.

use std::sync::Arc;
use std::time::Duration;

use datapact_protocol::digest::{chunk_count, chunk_len, chunk_root};
use datapact_protocol::wire::{
    self, FRAME_HEADER_LEN, MAX_PULL_REQUEST_LEN, MAX_PULL_RESPONSE_LEN, MAX_REASON_LEN,
    PullRequest, PullResponse,
};
use datapact_protocol::{
    CHUNK_SIZE, DatasetId, Decision, DenyReason, Digest, MemberCode, PublicKey, SignedAnnouncement,
    decide_pull,
};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::{PeerId, Stream};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::AsyncReadExt as _;
use tokio::sync::broadcast;

use crate::federation;
use crate::home::Home;
use crate::store::{LogEntry, LogEvent, Origin, Store, StoreError, now};

/// Longest silence on a pull stream before it is given up.
pub const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Chunks between two durability checkpoints of a pull (fsync, then record progress).
pub const CHECKPOINT_CHUNKS: u64 = 32;

/// Why a stream exchange failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The stream broke or stalled.
    #[error("transfer interrupted: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent a malformed or oversize frame.
    #[error("malformed message from the peer: {0}")]
    Wire(#[from] wire::WireError),
}

async fn with_timeout<T>(
    f: impl std::future::Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    tokio::time::timeout(STREAM_IDLE_TIMEOUT, f)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "the peer went silent"))?
}

/// Reads one length-prefixed frame of at most `cap` bytes.
pub async fn read_frame<T: DeserializeOwned>(
    stream: &mut Stream,
    cap: usize,
) -> Result<T, StreamError> {
    let mut header = [0u8; FRAME_HEADER_LEN];
    with_timeout(stream.read_exact(&mut header)).await?;
    let len = wire::frame_len(header, cap)?;
    let mut body = vec![0u8; len];
    with_timeout(stream.read_exact(&mut body)).await?;
    Ok(wire::decode(&body, cap)?)
}

/// Writes one length-prefixed frame.
pub async fn write_frame<T: Serialize>(stream: &mut Stream, msg: &T) -> Result<(), StreamError> {
    let frame = wire::encode_frame(msg);
    with_timeout(stream.write_all(&frame)).await?;
    with_timeout(stream.flush()).await?;
    Ok(())
}

/// Accepts pull streams until shutdown; each is served by its own task.
pub(crate) async fn serve(
    mut incoming: libp2p_stream::IncomingStreams,
    home: Arc<Home>,
    store: Arc<Store>,
    mut shutdown: broadcast::Receiver<()>,
) {
    loop {
        tokio::select! {
            next = incoming.next() => match next {
                Some((peer, stream)) => {
                    let home = home.clone();
                    let store = store.clone();
                    tokio::spawn(async move {
                        if let Err(e) = serve_one(&home, &store, peer, stream).await {
                            tracing::debug!(%peer, error = %e, "pull stream ended early");
                        }
                    });
                }
                None => break,
            },
            _ = shutdown.recv() => break,
        }
    }
}

/// The owner's decision on one request, before anything is sent.
enum Answer {
    NotFound,
    Denied(String),
    Granted {
        announcement: Box<SignedAnnouncement>,
        chunks: Vec<Digest>,
    },
}

fn decide(
    home: &Home,
    store: &Store,
    requester: Option<&MemberCode>,
    request: &PullRequest,
    now: u64,
) -> Result<(Answer, Option<String>), StoreError> {
    let Ok(id) = request.id.parse::<DatasetId>() else {
        return Ok((Answer::NotFound, Some("no such dataset".into())));
    };
    if id.owner != home.member {
        return Ok((Answer::NotFound, Some("not one of our datasets".into())));
    }
    let Some(record) = store.dataset(&id)?.filter(|r| r.origin == Origin::Own) else {
        return Ok((Answer::NotFound, Some("no such dataset".into())));
    };
    let Ok(announcement) = record.announcement() else {
        return Ok((
            Answer::NotFound,
            Some("stored announcement does not verify".into()),
        ));
    };
    let policy = &announcement.body().policy;
    // Outside the audience: exactly the answer for a dataset that does not exist.
    if !policy.audience.admits(requester) {
        return Ok((
            Answer::NotFound,
            Some(DenyReason::NotInAudience.to_string()),
        ));
    }
    if record.revocation.is_some() {
        let reason = "denied: revoked by the owner".to_owned();
        return Ok((Answer::Denied(reason.clone()), Some(reason)));
    }
    match decide_pull(policy, requester, now) {
        Decision::Denied(reason) => {
            let reason = reason.to_string();
            Ok((Answer::Denied(reason.clone()), Some(reason)))
        }
        Decision::Granted => {
            let sha = announcement.body().sha256;
            let chunks = match store.chunks(&sha)? {
                Some(c) => c,
                None => return Ok((Answer::NotFound, Some("chunk digests missing".into()))),
            };
            let purpose = policy.purpose.clone();
            Ok((
                Answer::Granted {
                    announcement: Box::new(announcement),
                    chunks,
                },
                purpose,
            ))
        }
    }
}

async fn serve_one(
    home: &Home,
    store: &Store,
    peer: PeerId,
    mut stream: Stream,
) -> Result<(), StreamError> {
    let request: PullRequest = read_frame(&mut stream, MAX_PULL_REQUEST_LEN).await?;
    let requester = federation::member_of(store, &peer);
    let (answer, reason) =
        decide(home, store, requester.as_ref(), &request, now()).unwrap_or_else(|e| {
            (
                Answer::Denied(format!("denied: owner store error: {e}")),
                None,
            )
        });
    let granted = matches!(answer, Answer::Granted { .. });
    let mut entry = LogEntry::new(LogEvent::Pull, now());
    entry.peer = Some(peer.to_string());
    entry.member = requester.as_ref().map(ToString::to_string);
    entry.dataset = Some(request.id.chars().take(100).collect());
    entry.granted = Some(granted);
    entry.reason = reason;
    if let Err(e) = store.append_log(entry) {
        tracing::warn!(error = %e, "cannot write the access log; refusing the pull");
        write_frame(
            &mut stream,
            &PullResponse::Denied {
                reason: "denied: the owner cannot log the request".into(),
            },
        )
        .await?;
        return Ok(());
    }
    tracing::info!(%peer, member = ?requester, dataset = %request.id, granted, "pull request");
    match answer {
        Answer::NotFound => write_frame(&mut stream, &PullResponse::NotFound).await,
        Answer::Denied(reason) => {
            let reason = reason.chars().take(MAX_REASON_LEN).collect();
            write_frame(&mut stream, &PullResponse::Denied { reason }).await
        }
        Answer::Granted {
            announcement,
            chunks,
        } => {
            let a = announcement.body();
            write_frame(
                &mut stream,
                &PullResponse::Granted {
                    announcement: announcement.bytes().to_vec(),
                    chunk_digests: chunks.iter().flat_map(|d| d.0).collect(),
                },
            )
            .await?;
            send_chunks(store, &mut stream, &a.sha256, a.size, request.from_chunk).await
        }
    }
}

async fn send_chunks(
    store: &Store,
    stream: &mut Stream,
    sha256: &Digest,
    size: u64,
    from_chunk: u64,
) -> Result<(), StreamError> {
    let offset = from_chunk.saturating_mul(CHUNK_SIZE).min(size);
    let file = store.blobs().open_read_at(sha256, offset)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut remaining = size - offset;
    let mut buf = vec![0u8; CHUNK_SIZE as usize];
    while remaining > 0 {
        let want = remaining.min(CHUNK_SIZE) as usize;
        file.read_exact(&mut buf[..want]).await?;
        with_timeout(stream.write_all(&buf[..want])).await?;
        remaining -= want as u64;
    }
    with_timeout(stream.flush()).await?;
    with_timeout(stream.close()).await?;
    Ok(())
}

/// What the owner answered to a pull, on the requester's side.
pub enum Fetched {
    /// The content is now stored under its digest.
    Done(Box<SignedAnnouncement>),
    /// The owner has no such dataset for us.
    NotFound,
    /// The owner refused, with its reason.
    Denied(String),
}

/// Why the requester's side of a pull failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The exchange broke.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// The stream could not be opened.
    #[error("cannot reach the owner: {0}")]
    Open(String),
    /// The owner sent something that does not verify.
    #[error("verification failed: {0}")]
    Verification(String),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Pulls `id` from `owner_peer` (whose key is `owner_key`), resuming from verified chunks,
/// reporting `(bytes held, total)` to `progress`.
pub async fn fetch(
    store: &Store,
    mut control: libp2p_stream::Control,
    owner_peer: PeerId,
    owner_key: &PublicKey,
    id: &DatasetId,
    known: Option<&SignedAnnouncement>,
    mut progress: impl FnMut(u64, u64),
) -> Result<Fetched, FetchError> {
    // Resume only when we know what we are resuming: the announcement fixes the digests.
    let from_chunk = match known {
        Some(_) => store.transfer(id)?,
        None => 0,
    };
    let mut stream = control
        .open_stream(owner_peer, libp2p::StreamProtocol::new(wire::PULL_PROTOCOL))
        .await
        .map_err(|e| FetchError::Open(e.to_string()))?;
    write_frame(
        &mut stream,
        &PullRequest {
            id: id.to_string(),
            from_chunk,
        },
    )
    .await?;
    let (announcement, chunks) = match read_frame(&mut stream, MAX_PULL_RESPONSE_LEN).await? {
        PullResponse::NotFound => return Ok(Fetched::NotFound),
        PullResponse::Denied { reason } => {
            return Ok(Fetched::Denied(
                reason.chars().take(MAX_REASON_LEN).collect(),
            ));
        }
        PullResponse::Granted {
            announcement,
            chunk_digests,
        } => (announcement, chunk_digests),
    };
    let verify = |why: String| FetchError::Verification(why);
    let signed = SignedAnnouncement::decode(&announcement).map_err(|e| verify(e.to_string()))?;
    signed
        .check_signer(owner_key)
        .map_err(|e| verify(e.to_string()))?;
    if signed.body().id() != *id {
        return Err(verify(format!(
            "the owner sent {} instead",
            signed.body().id()
        )));
    }
    if let Some(known) = known
        && known.bytes() != signed.bytes()
    {
        return Err(verify(
            "the owner's announcement differs from the one we hold".into(),
        ));
    }
    let a = signed.body();
    let chunks = wire::split_chunk_digests(&chunks).map_err(|e| verify(e.to_string()))?;
    if chunks.len() as u64 != chunk_count(a.size) || chunk_root(&chunks) != a.chunk_root {
        return Err(verify(
            "chunk digests do not match the signed chunk root".into(),
        ));
    }
    let from_chunk = if known.is_some() { from_chunk } else { 0 };
    let mut partial = store
        .blobs()
        .partial(&a.sha256, from_chunk.saturating_mul(CHUNK_SIZE))
        .map_err(StoreError::Io)?;
    // The partial file may be shorter than the record says if it was removed by hand.
    let mut next = partial.len() / CHUNK_SIZE;
    if next != from_chunk {
        return Err(verify(
            "local partial content is shorter than recorded; pull again".into(),
        ))
        .inspect_err(|_| {
            let _ = store.clear_transfer(id);
        });
    }
    let total = chunks.len() as u64;
    let mut buf = vec![0u8; CHUNK_SIZE as usize];
    progress(partial.len(), a.size);
    while next < total {
        let len = chunk_len(a.size, next) as usize;
        with_timeout(stream.read_exact(&mut buf[..len]))
            .await
            .map_err(StreamError::Io)?;
        let piece = &buf[..len];
        if Digest::of(piece) != chunks[next as usize] {
            return Err(verify(format!("chunk {next} does not match its digest")));
        }
        partial.append(piece).map_err(StoreError::Io)?;
        next += 1;
        if next.is_multiple_of(CHECKPOINT_CHUNKS) {
            partial.sync().map_err(StoreError::Io)?;
            store.set_transfer(id, next)?;
        }
        progress(partial.len(), a.size);
    }
    partial.commit().map_err(StoreError::Io)?;
    store.put_chunks(&a.sha256, &chunks)?;
    store.clear_transfer(id)?;
    Ok(Fetched::Done(Box::new(signed)))
}
