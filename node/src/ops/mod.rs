//! The operations behind each control request. Each operation has its own error type, which
//! says whether the input was bad (exit 2) or the operation failed (exit 1).

pub mod announce;
pub mod audit;
pub mod datasets;
pub mod log;
pub mod members;
pub mod pull;
pub mod release;

use std::sync::Arc;

use serde::Serialize;

use crate::api::{ErrorKind, Reply, Request};
use crate::home::Home;
use crate::store::Store;

/// What every operation needs: who we are and the store.
#[derive(Clone)]
pub struct Context {
    /// Identity, member code, layout.
    pub home: Arc<Home>,
    /// The store.
    pub store: Arc<Store>,
    /// Listen addresses actually bound (empty until the network is up).
    pub listening: Arc<std::sync::RwLock<Vec<String>>>,
    /// The swarm task's handle.
    pub network: crate::network::Client,
    /// Pulls in progress.
    pub pulls: Arc<pull::InFlight>,
    /// Where operations spawn what outlives them (deliveries, receipts, publishes), so that
    /// shutdown stops and awaits it before releasing the store.
    pub tasks: crate::tasks::Tasks,
}

/// An operation's error, ready for the wire: its kind and one line for the user.
pub trait OpError: std::fmt::Display {
    /// Exit code class.
    fn kind(&self) -> ErrorKind;
}

fn reply<T: Serialize, E: OpError>(result: Result<T, E>) -> Reply {
    match result {
        Ok(value) => match serde_json::to_value(value) {
            Ok(result) => Reply::Ok { result },
            Err(e) => Reply::Error {
                kind: ErrorKind::Failed,
                message: format!("cannot encode the result: {e}"),
            },
        },
        Err(e) => Reply::Error {
            kind: e.kind(),
            message: e.to_string(),
        },
    }
}

/// Runs one request to completion and returns the final reply; long operations report
/// progress through `progress`.
pub async fn handle(
    ctx: &Context,
    request: Request,
    progress: &tokio::sync::mpsc::UnboundedSender<Reply>,
) -> Reply {
    match request {
        Request::Pull { id, out } => reply(
            pull::pull(ctx, &id, out, |done, total| {
                let _ = progress.send(Reply::Progress { done, total });
            })
            .await,
        ),
        Request::Catalog => reply(pull::catalog(ctx)),
        Request::Peers => reply(pull::peers(ctx).await),
        Request::Log => reply(log::list(ctx)),
        Request::Audit { strict } => reply(audit::audit(ctx, strict).await),
        Request::Id => reply::<_, std::convert::Infallible>(Ok(members::id(ctx))),
        Request::MembersAdd {
            member,
            peer_id,
            addrs,
        } => reply(members::add(ctx, &member, &peer_id, addrs).await),
        Request::MembersRemove { member } => reply(members::remove(ctx, &member).await),
        Request::MembersList => reply(members::list(ctx)),
        Request::Release(req) => reply(release::release(ctx, *req).await),
        Request::Datasets => reply(datasets::list(ctx)),
        Request::Export { id, out, force } => reply(datasets::export(ctx, &id, &out, force).await),
        Request::Revoke { id, reason } => reply(match datasets::revoke(ctx, &id, reason).await {
            Ok(_) => datasets::show(ctx, &id),
            Err(e) => Err(e),
        }),
    }
}

impl OpError for std::convert::Infallible {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Failed
    }
}
