//! Getting our own statements to their audience: `public` ones on gossip, restricted ones
//! directly to each roster member of the audience, retried until acknowledged. Catch-up
//! covers whoever stays unreachable longer than the retries.

use std::time::Duration;

use datapact_protocol::wire::{DirectRequest, DirectResponse, SignedStatement};
use datapact_protocol::{Audience, MemberCode};
use libp2p::PeerId;

use super::Context;
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
        tokio::spawn(async move {
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
        deliver(ctx, peer, vec![statement.clone()]);
    }
}

/// Hands a newly added member everything of ours it may now see: its audience changed, and an
/// earlier catch-up (while it was a stranger to us) showed it only what strangers see.
pub fn deliver_backlog(ctx: &Context, member: &MemberCode, peer: PeerId) {
    match federation::visible_to(&ctx.store, Some(member)) {
        Ok(statements) if !statements.is_empty() => deliver(ctx, peer, statements),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read our releases; left to catch-up"),
    }
}

/// Delivers `statements` to `peer` in order, each retried until acknowledged.
fn deliver(ctx: &Context, peer: PeerId, statements: Vec<SignedStatement>) {
    let network = ctx.network.clone();
    let store = ctx.store.clone();
    tokio::spawn(async move {
        for statement in statements {
            deliver_one(&network, &store, peer, statement).await;
        }
    });
}

async fn deliver_one(
    network: &crate::network::Client,
    store: &crate::store::Store,
    peer: PeerId,
    statement: SignedStatement,
) {
    let mut delay = FIRST_RETRY_DELAY;
    for _ in 0..MAX_ATTEMPTS {
        // The roster may have changed since the release: a removed member gets nothing more.
        if !federation::may_receive(store, &peer, &statement) {
            tracing::debug!(%peer, "no longer in the audience; delivery dropped");
            return;
        }
        match network
            .request(peer, DirectRequest::Deliver(statement.clone()))
            .await
        {
            Ok(DirectResponse::Ack) => {
                tracing::debug!(%peer, "delivered");
                return;
            }
            Ok(DirectResponse::Rejected { reason }) => {
                tracing::warn!(%peer, %reason, "delivery rejected");
                return;
            }
            Ok(_) => return,
            Err(crate::network::NetError::Stopped) => return,
            Err(e) => tracing::debug!(%peer, error = %e, "delivery failed; will retry"),
        }
        // Backoff between retries of an unreachable peer, not synchronisation.
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_RETRY_DELAY);
    }
}
