//! The requester's side of catch-up: when a member connects, ask it page by page for what it
//! released that we may see. Every peer may be hostile, a member too, so a catch-up is bounded:
//! at most [`MAX_CATCHUP_PAGES`] pages and [`MAX_CATCHUP_STATEMENTS`] statements per
//! connection, one catch-up of a peer at a time, and a page that brings nothing new (no valid
//! statement this catch-up has not seen already) ends it. A member that answers forever, with
//! empty pages whose cursor moves on, is asked once.
//!
//! Each page is judged on the blocking pool under the permits of all inbound work
//! ([`super::inbound_work`]), never on the swarm task; a catch-up ends when shutdown begins.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use datapact_protocol::wire::{DirectRequest, DirectResponse, MAX_CATCHUP_PAGE, SignedStatement};
use datapact_protocol::{Digest, MemberCode};
use libp2p::PeerId;

use super::inbound_work::InboundWork;
use crate::federation::{self, Verdict, Via};

/// Pages one catch-up asks for on one connection: an honest owner's full catalogue, at about
/// 2 MiB a page, fits many times over.
pub const MAX_CATCHUP_PAGES: u32 = 64;
/// Statements one catch-up takes in on one connection, over all its pages.
pub const MAX_CATCHUP_STATEMENTS: usize = 65_536;

/// Peers being caught up from right now, so that several connections (or a roster change) to
/// one peer never run two catch-ups of it at once. A request that comes while one runs is
/// not lost: the running one goes round once more when it ends.
#[derive(Debug, Default, Clone)]
pub(super) struct Running(Arc<Mutex<HashMap<PeerId, bool>>>);

/// Marks a peer's catch-up as running; released when the catch-up ends, however it ends.
struct RunningGuard {
    running: Running,
    peer: PeerId,
}

impl Running {
    /// Claims `peer`'s catch-up, or asks the running one for another round.
    fn claim(&self, peer: PeerId) -> Option<RunningGuard> {
        let mut map = self.0.lock().ok()?;
        match map.get_mut(&peer) {
            Some(again) => {
                *again = true;
                None
            }
            None => {
                map.insert(peer, false);
                Some(RunningGuard {
                    running: self.clone(),
                    peer,
                })
            }
        }
    }
}

impl RunningGuard {
    /// At the end of a round: whether another was asked for meanwhile (then it is due, and
    /// the request is cleared); if not, the peer is released in the same step, so a request
    /// that comes just after starts a catch-up of its own.
    fn go_again(&self) -> bool {
        let Ok(mut map) = self.running.0.lock() else {
            return false;
        };
        match map.get_mut(&self.peer) {
            Some(again) if *again => {
                *again = false;
                true
            }
            _ => {
                map.remove(&self.peer);
                false
            }
        }
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if let Ok(mut map) = self.running.0.lock() {
            map.remove(&self.peer);
        }
    }
}

/// Why a catch-up stopped asking.
#[derive(Debug)]
enum End {
    /// The owner said there is no next page.
    Done,
    /// A page brought no valid statement that this catch-up had not seen.
    NothingNew,
    /// [`MAX_CATCHUP_PAGES`] or [`MAX_CATCHUP_STATEMENTS`] reached.
    Bound,
    /// The owner refused, did not answer, or sent a cursor that does not move forward.
    Failed,
    /// Shutdown began.
    Stopped,
}

/// Catches up from `peer` (our roster's `member`); if a catch-up of it runs already, that one
/// goes round once more instead.
pub(super) async fn catch_up(
    work: InboundWork,
    running: Running,
    peer: PeerId,
    member: MemberCode,
) {
    let Some(guard) = running.claim(peer) else {
        tracing::debug!(%member, "catch-up already running; it will go round again");
        return;
    };
    loop {
        one_round(&work, peer, &member).await;
        if work.client().tasks.is_cancelled() || !guard.go_again() {
            break;
        }
    }
}

/// One catch-up from page 0, within the bounds.
async fn one_round(work: &InboundWork, peer: PeerId, member: &MemberCode) {
    let client = work.client();
    let mut from = 0u64;
    let mut seen: HashSet<Digest> = HashSet::new();
    let mut pages = 0u32;
    let end = loop {
        if pages >= MAX_CATCHUP_PAGES || seen.len() >= MAX_CATCHUP_STATEMENTS {
            break End::Bound;
        }
        pages += 1;
        let (statements, next) = match client.request(peer, DirectRequest::CatchUp { from }).await {
            Ok(DirectResponse::CatchUp { statements, next }) => (statements, next),
            Ok(other) => {
                tracing::debug!(%member, answer = ?other, "catch-up refused");
                break End::Failed;
            }
            Err(e) => {
                tracing::debug!(%member, error = %e, "catch-up failed");
                break End::Failed;
            }
        };
        let room = MAX_CATCHUP_STATEMENTS - seen.len();
        let fresh: Vec<SignedStatement> = statements
            .into_iter()
            .take(MAX_CATCHUP_PAGE)
            .filter(|s| seen.insert(Digest::of(s.bytes())))
            .take(room)
            .collect();
        match judge(work, peer, fresh).await {
            None => break End::Stopped,
            Some(0) => break End::NothingNew,
            Some(_) => {}
        }
        match next {
            Some(n) if n > from => from = n,
            Some(_) => break End::Failed,
            None => break End::Done,
        }
    };
    if let Err(e) = work.store().flush().await {
        tracing::warn!(error = %e, "flush after catch-up failed");
    }
    match end {
        End::Done => tracing::debug!(%member, pages, "caught up"),
        End::Bound => {
            tracing::warn!(%member, pages, statements = seen.len(), "catch-up stopped at its bound")
        }
        other => tracing::debug!(%member, pages, end = ?other, "catch-up ended"),
    }
}

/// Judges one page's statements on the blocking pool, under an inbound permit; returns how
/// many were valid (stored now, or held already), or `None` if shutdown began first.
async fn judge(
    work: &InboundWork,
    peer: PeerId,
    statements: Vec<SignedStatement>,
) -> Option<usize> {
    if statements.is_empty() {
        return Some(0);
    }
    let judged = work.blocking(move |store, me| {
        statements
            .iter()
            .map(|s| federation::accept(store, me, s, Via::Direct(peer)))
            .collect::<Vec<_>>()
    });
    let verdicts = judged.await?.unwrap_or_default();
    let mut valid = 0;
    for verdict in &verdicts {
        work.client().note(verdict, "catch-up");
        if !matches!(verdict, Verdict::Rejected(_)) {
            valid += 1;
        }
    }
    Some(valid)
}
