//! Getting our own statements to their audience: `public` ones on gossip, restricted ones
//! directly to each roster member of the audience, retried until acknowledged. A revocation
//! also goes directly to every peer that was granted a pull of the release, in the roster or
//! not, at the addresses recorded with its pull. Catch-up covers whoever stays unreachable
//! longer than the retries.
//!
//! Deliveries are not kept on disk: one that shutdown stops (between attempts) is not resumed
//! as such at the next start. Nothing is lost by that: the statements are in the store, and
//! the peer gets them by catch-up when it next connects (a past puller that left the roster
//! gets the revocations of what it pulled the same way).

use std::time::Duration;

use datapact_protocol::wire::{DirectRequest, DirectResponse, SignedStatement};
use datapact_protocol::{Audience, DatasetId, MemberCode};
use libp2p::{Multiaddr, PeerId};

use super::Context;
use crate::backoff::Backoff;
use crate::federation;

/// First wait before retrying a delivery; doubles up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
/// Longest wait between two delivery attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// Attempts before a delivery is left to catch-up (about an hour of retries).
const MAX_ATTEMPTS: u32 = 70;

/// Sends `statement` (an announcement or revocation of a release with `audience`) on its way.
/// Returns at once; delivery continues in the background.
pub fn announce(ctx: &Context, statement: SignedStatement, audience: &Audience) {
    if *audience == Audience::Public {
        let network = ctx.network.clone();
        ctx.tasks.spawn(async move {
            if let Err(e) = network.publish(statement).await {
                // No subscriber yet: peers catch up when they connect.
                tracing::debug!(error = %e, "gossip publish deferred to catch-up");
            }
        });
        return;
    }
    let peers = match federation::audience_peers(&ctx.store, audience) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the roster; delivery left to catch-up");
            return;
        }
    };
    for peer in peers {
        deliver(ctx, peer, Vec::new(), vec![statement.clone()]);
    }
}

/// Sends the revocation of our release `id` (whose audience is `audience`) to that audience,
/// like [`announce`], and directly to every peer ever granted a pull of it: a member removed
/// from the roster since, or a stranger that pulled a `public` release, holds a copy too.
pub fn announce_revocation(
    ctx: &Context,
    id: &DatasetId,
    revocation: SignedStatement,
    audience: &Audience,
) {
    announce(ctx, revocation.clone(), audience);
    let pullers = match ctx.store.pullers(id) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read who pulled {id}; left to catch-up");
            return;
        }
    };
    // Gossip is not acknowledged, so for a `public` release every puller gets it directly.
    let reached = match audience {
        Audience::Public => Vec::new(),
        _ => federation::audience_peers(&ctx.store, audience).unwrap_or_default(),
    };
    for puller in pullers {
        let Ok(peer) = puller.peer_id.parse::<PeerId>() else {
            continue;
        };
        if reached.contains(&peer) {
            continue;
        }
        let addrs = puller.addrs.iter().filter_map(|a| a.parse().ok()).collect();
        deliver(ctx, peer, addrs, vec![revocation.clone()]);
    }
}

/// Hands a newly added member everything of ours it may now see: its audience changed, and an
/// earlier catch-up (while it was a stranger to us) showed it only what strangers see.
pub fn deliver_backlog(ctx: &Context, member: &MemberCode, peer: PeerId) {
    match federation::visible_to(&ctx.store, Some(member)) {
        Ok(statements) if !statements.is_empty() => deliver(ctx, peer, Vec::new(), statements),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read our releases; left to catch-up"),
    }
}

/// Delivers `statements` to `peer` in order, each retried until acknowledged; `addrs` are
/// dialled too when `peer` is not connected (empty: the roster's addresses suffice).
fn deliver(ctx: &Context, peer: PeerId, addrs: Vec<Multiaddr>, statements: Vec<SignedStatement>) {
    let network = ctx.network.clone();
    let store = ctx.store.clone();
    let tasks = ctx.tasks.clone();
    ctx.tasks.spawn(async move {
        for statement in statements {
            if !deliver_one(&network, &store, &tasks, peer, &addrs, statement).await {
                tracing::debug!(%peer, "shutting down; the rest is left to catch-up");
                return;
            }
        }
    });
}

/// Delivers one statement, retrying; returns false if shutdown stopped it.
async fn deliver_one(
    network: &crate::network::Client,
    store: &std::sync::Arc<crate::store::Store>,
    tasks: &crate::tasks::Tasks,
    peer: PeerId,
    addrs: &[Multiaddr],
    statement: SignedStatement,
) -> bool {
    let mut backoff = Backoff::new(FIRST_RETRY_DELAY, MAX_RETRY_DELAY);
    for _ in 0..MAX_ATTEMPTS {
        // The roster may have changed since the release: a removed member gets nothing more,
        // except the revocation of what it pulled.
        if !still_receives(store, tasks, peer, &statement).await {
            tracing::debug!(%peer, "no longer in the audience; delivery dropped");
            return true;
        }
        match network
            .request_at(
                peer,
                addrs.to_vec(),
                DirectRequest::Deliver(statement.clone()),
            )
            .await
        {
            Ok(DirectResponse::Ack) => {
                tracing::debug!(%peer, "delivered");
                return true;
            }
            Ok(DirectResponse::Rejected { reason }) => {
                tracing::warn!(%peer, %reason, "delivery rejected");
                return true;
            }
            Ok(_) => return true,
            Err(crate::network::NetError::Stopped) => return false,
            Err(e) => tracing::debug!(%peer, error = %e, "delivery failed; will retry"),
        }
        if !backoff.wait_unless_cancelled(tasks).await {
            return false;
        }
    }
    true
}

/// [`federation::may_receive`] on the blocking pool, since it reads the store; a check that
/// could not run counts as "no", so nothing goes out that the roster might forbid.
async fn still_receives(
    store: &std::sync::Arc<crate::store::Store>,
    tasks: &crate::tasks::Tasks,
    peer: PeerId,
    statement: &SignedStatement,
) -> bool {
    let (store, statement) = (store.clone(), statement.clone());
    tasks
        .spawn_blocking(move || federation::may_receive(&store, &peer, &statement))
        .await
        .unwrap_or(false)
}
