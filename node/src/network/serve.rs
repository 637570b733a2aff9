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

/// Writes the refusals counted so far to the access log, off the accept loop.
fn write_summaries(tasks: &Tasks, store: &Arc<Store>, admission: &Admission) {
    let entries = admission.take_summaries();
    if entries.is_empty() {
        return;
    }
    let store = store.clone();
    tasks.spawn(async move {
        for entry in entries {
            if let Err(e) = store.append_log(entry) {
                tracing::warn!(error = %e, "cannot write a refusal summary to the access log");
            }
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
        Some(_slot) => serve_one(&home, &store, &requester, &request, &mut stream).await,
        None => refuse_busy(&mut stream).await,
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "pull stream ended early");
    }
}

async fn refuse_busy(stream: &mut Stream) -> Result<(), StreamError> {
    write_frame(
        stream,
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
            let reason = reason.to_string();
            Ok((Answer::Denied(reason.clone()), Some(reason)))
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

/// Logs the decision (and, for a grant, who pulled, so a revocation can reach it) durably.
async fn record(
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
    store.append_log(entry)?;
    // Durable before the requester hears anything.
    store.flush().await
}

async fn serve_one(
    home: &Home,
    store: &Store,
    requester: &Requester,
    request: &PullRequest,
    stream: &mut Stream,
) -> Result<(), StreamError> {
    let member = requester.member.as_ref();
    let (answer, reason) = decide(home, store, member, request, now()).unwrap_or_else(|e| {
        (
            Answer::Denied(format!("denied: owner store error: {e}")),
            None,
        )
    });
    if let Err(e) = record(store, requester, request, &answer, reason).await {
        tracing::warn!(error = %e, "cannot write the access log; refusing the pull");
        let reason = "denied: the owner cannot log the request".into();
        return write_frame(stream, &PullResponse::Denied { reason }).await;
    }
    let granted = matches!(answer, Answer::Granted { .. });
    let dataset = asked(request);
    tracing::info!(peer = %requester.peer, ?member, %dataset, granted, "pull request");
    match answer {
        Answer::NotFound => write_frame(stream, &PullResponse::NotFound).await,
        Answer::Denied(reason) => {
            let reason = reason.chars().take(MAX_REASON_LEN).collect();
            write_frame(stream, &PullResponse::Denied { reason }).await
        }
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
