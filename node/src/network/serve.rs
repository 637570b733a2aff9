//! The owner's side of the content stream, `/datapact/pull/1`: accepts pull streams, admits
//! their requests ([`super::admission`]), decides each with the protocol's policy function,
//! logs the decision durably before answering, and sends the content of a granted pull.
//!
//! What a peer may see is read from the store's audience index, so the work to answer a peer
//! depends only on what that peer may see; our own statements were verified when they were
//! stored and are not verified again per request.

use std::sync::Arc;
use std::time::Instant;

use datapact_protocol::wire::{MAX_PULL_REQUEST_LEN, MAX_REASON_LEN, PullRequest, PullResponse};
use datapact_protocol::{
    CHUNK_SIZE, DatasetId, Decision, DenyReason, Digest, MemberCode, SignedAnnouncement,
    decide_pull,
};
use futures::AsyncWriteExt;
use libp2p::Stream;

use super::admission::{Admission, REFUSAL_SUMMARY_INTERVAL, REQUEST_DEADLINE, Requester};
use super::pull::{StreamError, read_frame, with_timeout, write_frame};
use super::roster::RosterSnapshot;
use crate::home::Home;
use crate::store::{LogEntry, LogEvent, Origin, PullerRecord, Store, StoreError, now};
use crate::tasks::Tasks;

/// Accepts pull streams until shutdown; each is handled by its own task. The refusals that
/// were not logged one by one are written as summaries every [`REFUSAL_SUMMARY_INTERVAL`] and
/// once more at shutdown.
pub(crate) async fn serve(
    mut incoming: super::inbound::Incoming,
    home: Arc<Home>,
    store: Arc<Store>,
    roster: RosterSnapshot,
    tasks: Tasks,
) {
    let admission = Arc::new(Admission::default());
    let mut summaries = tokio::time::interval(REFUSAL_SUMMARY_INTERVAL);
    summaries.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            next = incoming.next() => match next {
                Some((peer, stream)) => tasks.spawn(handle_stream(
                    home.clone(),
                    store.clone(),
                    tasks.clone(),
                    admission.clone(),
                    Requester::of(&roster, peer),
                    stream,
                )),
                None => break,
            },
            _ = summaries.tick() => write_summaries(&tasks, &store, &admission),
            () = tasks.cancelled() => break,
        }
    }
    write_summaries(&tasks, &store, &admission);
}

/// Writes the refusals counted so far to the access log, off the accept loop and on the
/// blocking pool (a store write may wait for the disk).
fn write_summaries(tasks: &Tasks, store: &Arc<Store>, admission: &Admission) {
    let entries = admission.take_summaries();
    if entries.is_empty() {
        return;
    }
    let (store, blocking) = (store.clone(), tasks.clone());
    tasks.spawn(async move {
        let writer = store.clone();
        let appended = blocking.spawn_blocking(move || {
            for entry in entries {
                if let Err(e) = writer.append_log(entry) {
                    tracing::warn!(error = %e, "cannot write a refusal summary to the access log");
                }
            }
        });
        if appended.await.is_err() {
            tracing::warn!("the refusal summaries' write did not finish");
        }
        if let Err(e) = store.flush().await {
            tracing::warn!(error = %e, "cannot flush the access log");
        }
    });
}

/// One pull stream: a waiting place until the request frame arrives, then a serving slot.
async fn handle_stream(
    home: Arc<Home>,
    store: Arc<Store>,
    tasks: Tasks,
    admission: Arc<Admission>,
    requester: Requester,
    mut stream: Stream,
) {
    let peer = requester.peer;
    let Some(waiting) = admission.wait(&requester) else {
        tracing::debug!(%peer, "too many pull streams waiting for their request; closed");
        return;
    };
    let request: PullRequest = match tokio::time::timeout(
        REQUEST_DEADLINE,
        read_frame(&mut stream, MAX_PULL_REQUEST_LEN),
    )
    .await
    {
        Ok(Ok(request)) => request,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "no well-formed pull request");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "no pull request within the deadline; closed");
            return;
        }
    };
    drop(waiting);
    let result = match admission.admit(&requester, Instant::now()) {
        Some(_slot) => {
            let decided = decide_off_runtime(&tasks, &home, &store, &requester, &request);
            serve_one(decided, &store, &requester, &request, &mut stream).await
        }
        None => refuse_busy(&mut stream).await,
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "pull stream ended early");
    }
}

async fn refuse_busy(stream: &mut Stream) -> Result<(), StreamError> {
    deny(stream, &Refusal::Busy).await
}

/// Sends `refusal` as the answer to a pull.
async fn deny(stream: &mut Stream, refusal: &Refusal) -> Result<(), StreamError> {
    let reason = refusal.to_string().chars().take(MAX_REASON_LEN).collect();
    write_frame(stream, &PullResponse::Denied { reason }).await
}

/// Why the owner refuses a pull it does not answer with "not found"; the text is the reason
/// the requester is sent.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// The policy refuses this requester now (embargoed, expired, revoked, ...).
    #[error("{0}")]
    Policy(DenyReason),
    /// The owner's store failed while deciding.
    #[error("denied: owner store error: {0}")]
    Store(StoreError),
    /// Every serving slot this requester may use is taken.
    #[error("denied: the owner is busy; try again later")]
    Busy,
    /// The decision could not be written to the access log, so nothing is served.
    #[error("denied: the owner cannot log the request")]
    Unlogged,
}

/// The owner's decision on one request, before anything is sent.
enum Answer {
    NotFound,
    Denied(Refusal),
    Granted {
        announcement: Box<SignedAnnouncement>,
        chunks: Vec<Digest>,
    },
}

/// Decides `request` of `requester`; the second value is the reason for the access log.
fn decide(
    home: &Home,
    store: &Store,
    requester: Option<&MemberCode>,
    request: &PullRequest,
    now: u64,
) -> Result<(Answer, Option<String>), StoreError> {
    let not_found = |why: &str| Ok((Answer::NotFound, Some(why.to_owned())));
    let Ok(id) = request.id.parse::<DatasetId>() else {
        return not_found("no such dataset");
    };
    if id.owner != home.member {
        return not_found("not one of our datasets");
    }
    // The audience index first: outside the audience, exactly the answer and the work for a
    // dataset that does not exist (the existence check only words the owner's log entry).
    if !store.own_visible(&id, requester)? {
        let reason = if store.has_dataset(&id)? {
            DenyReason::NotInAudience.to_string()
        } else {
            "no such dataset".to_owned()
        };
        return not_found(&reason);
    }
    let Some(record) = store.dataset(&id)?.filter(|r| r.origin == Origin::Own) else {
        return not_found("no such dataset");
    };
    // Verified when it was stored; only decoded here.
    let Ok(announcement) = SignedAnnouncement::decode_trusted(&record.announcement) else {
        return not_found("stored announcement cannot be read");
    };
    let policy = &announcement.body().policy;
    let revoked = record.revocation.is_some();
    match decide_pull(policy, revoked, requester, now) {
        // The index and the policy agree on the audience; this only guards against a damaged
        // index.
        Decision::Denied(reason) if reason.answers_not_found() => not_found(&reason.to_string()),
        Decision::Denied(reason) => {
            let logged = reason.to_string();
            Ok((Answer::Denied(Refusal::Policy(reason)), Some(logged)))
        }
        Decision::Granted => {
            let body = announcement.body();
            let Some(chunks) = store.chunks(&body.sha256, &body.chunk_root)? else {
                return not_found("chunk digests missing");
            };
            let purpose = policy.purpose.clone();
            let announcement = Box::new(announcement);
            Ok((
                Answer::Granted {
                    announcement,
                    chunks,
                },
                purpose,
            ))
        }
    }
}

/// The id asked for, as the log and the daemon's own log show it. The requester's text is
/// shown only as a well-formed id: no control characters or lookalike rows in `datapact log`.
fn asked(request: &PullRequest) -> String {
    match request.id.parse::<DatasetId>() {
        Ok(id) => id.to_string(),
        Err(_) => "(malformed id)".to_owned(),
    }
}

/// The access-log entry of one decided request.
fn log_entry(requester: &Requester, request: &PullRequest, granted: bool) -> LogEntry {
    let mut entry = LogEntry::new(LogEvent::Pull, now());
    entry.peer = Some(requester.peer.to_string());
    entry.member = requester.member.as_ref().map(ToString::to_string);
    entry.dataset = Some(asked(request));
    entry.granted = Some(granted);
    entry
}

/// Logs the decision (and, for a grant, who pulled, so a revocation can reach it); the
/// caller flushes it.
fn record(
    store: &Store,
    requester: &Requester,
    request: &PullRequest,
    answer: &Answer,
    reason: Option<String>,
) -> Result<(), StoreError> {
    let granted = matches!(answer, Answer::Granted { .. });
    let mut entry = log_entry(requester, request, granted);
    entry.reason = reason;
    if let Answer::Granted { announcement, .. } = answer {
        let puller = PullerRecord {
            peer_id: requester.peer.to_string(),
            member: entry.member.clone(),
            addrs: requester.addrs.clone(),
            pulled_at: entry.time,
        };
        store.record_puller(&announcement.body().id(), &puller)?;
    }
    store.append_log(entry).map(drop)
}

/// Decides `request` and logs the decision, on the blocking pool: both read or write the
/// store, which may wait for the disk. `Err` means the decision could not be logged.
fn decide_off_runtime(
    tasks: &Tasks,
    home: &Arc<Home>,
    store: &Arc<Store>,
    requester: &Requester,
    request: &PullRequest,
) -> tokio::task::JoinHandle<Result<Answer, StoreError>> {
    let (home, store) = (home.clone(), store.clone());
    let (requester, request) = (requester.clone(), request.clone());
    tasks.spawn_blocking(move || {
        let member = requester.member.as_ref();
        let (answer, reason) = decide(&home, &store, member, &request, now())
            .unwrap_or_else(|e| (Answer::Denied(Refusal::Store(e)), None));
        record(&store, &requester, &request, &answer, reason)?;
        Ok(answer)
    })
}

async fn serve_one(
    decided: tokio::task::JoinHandle<Result<Answer, StoreError>>,
    store: &Store,
    requester: &Requester,
    request: &PullRequest,
    stream: &mut Stream,
) -> Result<(), StreamError> {
    let logged = match decided.await {
        // Durable before the requester hears anything.
        Ok(Ok(answer)) => store.flush().await.map(|()| answer),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(StoreError::Io(std::io::Error::other(e))),
    };
    let answer = match logged {
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!(error = %e, "cannot write the access log; refusing the pull");
            return deny(stream, &Refusal::Unlogged).await;
        }
    };
    let member = requester.member.as_ref();
    let granted = matches!(answer, Answer::Granted { .. });
    let dataset = asked(request);
    tracing::info!(peer = %requester.peer, ?member, %dataset, granted, "pull request");
    match answer {
        Answer::NotFound => write_frame(stream, &PullResponse::NotFound).await,
        Answer::Denied(refusal) => deny(stream, &refusal).await,
        Answer::Granted {
            announcement,
            chunks,
        } => {
            let a = announcement.body();
            write_frame(
                stream,
                &PullResponse::Granted {
                    announcement: announcement.bytes().to_vec(),
                    chunk_digests: chunks.iter().flat_map(|d| d.0).collect(),
                },
            )
            .await?;
            send_chunks(store, stream, &a.sha256, a.size, request.from_chunk).await
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
    // Read ahead: the next piece comes off the disk while this one is sent.
    let mut content = store.read_content_at(sha256, offset, size)?;
    while let Some(piece) = content.next().await? {
        with_timeout(stream.write_all(piece)).await?;
    }
    with_timeout(stream.flush()).await?;
    with_timeout(stream.close()).await?;
    Ok(())
}
