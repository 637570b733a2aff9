//! The content stream, `/datapact/pull/1`: its framing, and the owner's side ([`serve`]), which
//! decides every request with the protocol's policy function and logs it. The requester's side
//! is [`super::fetch`].

use std::sync::Arc;
use std::time::Duration;

use datapact_protocol::wire::{
    self, FRAME_HEADER_LEN, MAX_PULL_REQUEST_LEN, MAX_REASON_LEN, PullRequest, PullResponse,
};
use datapact_protocol::{
    CHUNK_SIZE, DatasetId, Decision, DenyReason, Digest, MemberCode, SignedAnnouncement,
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
    tasks: Arc<super::Tasks>,
    mut shutdown: broadcast::Receiver<()>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_SERVES));
    let mut budget = RequestBudget::default();
    loop {
        tokio::select! {
            next = incoming.next() => match next {
                Some((peer, stream)) => {
                    let home = home.clone();
                    let store = store.clone();
                    let within_budget = budget.allow(peer, std::time::Instant::now());
                    let slot = slots.clone().try_acquire_owned().ok();
                    tasks.spawn(async move {
                        let result = match slot {
                            Some(_slot) if within_budget => {
                                serve_one(&home, &store, peer, stream).await
                            }
                            _ => refuse_busy(stream).await,
                        };
                        if let Err(e) = result {
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

/// Pull requests one peer may make per [`REQUEST_WINDOW`]; beyond that it is told to come
/// back later and nothing is logged, so a stranger cannot fill the owner's access log.
pub const MAX_REQUESTS_PER_WINDOW: u32 = 120;
/// The window of [`MAX_REQUESTS_PER_WINDOW`].
pub const REQUEST_WINDOW: Duration = Duration::from_secs(60);

/// Counts each peer's pull requests in the current window.
#[derive(Default)]
struct RequestBudget {
    window_start: Option<std::time::Instant>,
    counts: std::collections::HashMap<PeerId, u32>,
}

impl RequestBudget {
    fn allow(&mut self, peer: PeerId, now: std::time::Instant) -> bool {
        match self.window_start {
            Some(start) if now.duration_since(start) < REQUEST_WINDOW => {}
            _ => {
                self.window_start = Some(now);
                self.counts.clear();
            }
        }
        let count = self.counts.entry(peer).or_insert(0);
        *count += 1;
        *count <= MAX_REQUESTS_PER_WINDOW
    }
}

/// Pull streams served at once; a request beyond that is told to come back later, so a crowd
/// of requesters cannot exhaust the owner's memory or file handles.
pub const MAX_CONCURRENT_SERVES: usize = 32;

async fn refuse_busy(mut stream: Stream) -> Result<(), StreamError> {
    let _: PullRequest = read_frame(&mut stream, MAX_PULL_REQUEST_LEN).await?;
    write_frame(
        &mut stream,
        &PullResponse::Denied {
            reason: "denied: the owner is busy; try again later".into(),
        },
    )
    .await
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
            let chunks = match store.chunks(&sha, &announcement.body().chunk_root)? {
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
    // The requester's text goes into the log only as a well-formed id: no control characters
    // or lookalike rows in `datapact log`.
    let asked = match request.id.parse::<DatasetId>() {
        Ok(id) => id.to_string(),
        Err(_) => "(malformed id)".to_owned(),
    };
    entry.dataset = Some(asked.clone());
    entry.granted = Some(granted);
    entry.reason = reason;
    let logged = match store.append_log(entry) {
        // Durable before the requester hears anything.
        Ok(_) => store.flush().await,
        Err(e) => Err(e),
    };
    if let Err(e) = logged {
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
    tracing::info!(%peer, member = ?requester, dataset = %asked, granted, "pull request");
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn each_peer_gets_a_request_budget_per_window() {
        let mut budget = RequestBudget::default();
        let (a, b) = (PeerId::random(), PeerId::random());
        let t0 = std::time::Instant::now();
        for _ in 0..MAX_REQUESTS_PER_WINDOW {
            assert!(budget.allow(a, t0));
        }
        assert!(!budget.allow(a, t0), "one over the budget");
        assert!(budget.allow(b, t0), "another peer has its own budget");
        assert!(
            budget.allow(a, t0 + REQUEST_WINDOW),
            "a new window starts afresh"
        );
    }
}
