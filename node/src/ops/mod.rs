//! The operations behind each control request. Each request type of [`crate::api`] is an
//! [`Operation`]: it runs with the node's [`Context`] and returns its own response type or its
//! own error type, which says whether the input was bad (exit 2) or the operation failed
//! (exit 1). Store reads and writes run on the blocking pool ([`blocking`]), never on a
//! runtime thread.

pub mod announce;
pub mod audit;
pub mod charter;
mod charter_status;
pub mod compare;
pub mod datasets;
pub mod disclosure;
pub mod log;
pub mod members;
pub mod proposal;
pub mod protected;
pub mod pull;
pub mod release;
pub mod structures;

use std::future::Future;
use std::sync::Arc;

use tokio::task::JoinError;

use crate::api::{Call, ErrorKind, Reply, Request, Response};
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

/// Where a long operation reports how far it got: `(done, total)` bytes.
pub type Progress = tokio::sync::mpsc::UnboundedSender<(u64, u64)>;

/// An operation's error, ready for the wire: its kind and one line for the user.
pub trait OpError: std::fmt::Display {
    /// Exit code class.
    fn kind(&self) -> ErrorKind;
}

/// A control request the daemon can run.
pub trait Operation: Call + Send {
    /// Why it can fail.
    type Error: OpError + Send;

    /// Runs the request to completion; long operations report through `progress`.
    fn run(
        self,
        ctx: &Context,
        progress: &Progress,
    ) -> impl Future<Output = Result<Self::Response, Self::Error>> + Send;
}

/// Runs `work` with the context on the blocking pool (sled reads and file I/O may wait on the
/// disk), turning a task that died into `E`.
pub(crate) async fn blocking<T, E>(
    ctx: &Context,
    work: impl FnOnce(&Context) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<JoinError> + Send + 'static,
{
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || work(&ctx)).await?
}

/// Runs `request` and wraps its outcome for the wire, its result as `wrap` says.
async fn answer<R: Operation>(
    ctx: &Context,
    request: R,
    progress: &Progress,
    wrap: fn(R::Response) -> Response,
) -> Reply {
    match request.run(ctx, progress).await {
        Ok(result) => Reply::Ok {
            result: wrap(result),
        },
        Err(e) => Reply::Error {
            kind: e.kind(),
            message: e.to_string(),
        },
    }
}

/// Runs one request to completion and returns the final reply (never a progress line); long
/// operations report progress through `progress`.
pub async fn handle(ctx: &Context, request: Request, progress: &Progress) -> Reply {
    match request {
        Request::Id(r) => answer(ctx, r, progress, Response::Id).await,
        Request::MembersAdd(r) => answer(ctx, r, progress, Response::MembersAdd).await,
        Request::MembersRemove(r) => answer(ctx, r, progress, Response::MembersRemove).await,
        Request::MembersList(r) => answer(ctx, r, progress, Response::MembersList).await,
        Request::Release(r) => answer(ctx, *r, progress, Response::Release).await,
        Request::Datasets(r) => answer(ctx, r, progress, Response::Datasets).await,
        Request::Catalog(r) => answer(ctx, r, progress, Response::Catalog).await,
        Request::Pull(r) => answer(ctx, r, progress, Response::Pull).await,
        Request::Export(r) => answer(ctx, r, progress, Response::Export).await,
        Request::Revoke(r) => answer(ctx, r, progress, Response::Revoke).await,
        Request::Audit(r) => answer(ctx, r, progress, Response::Audit).await,
        Request::Log(r) => answer(ctx, r, progress, Response::Log).await,
        Request::Peers(r) => answer(ctx, r, progress, Response::Peers).await,
        Request::Structures(r) => answer(ctx, r, progress, Response::Structures).await,
        Request::ReleaseDryRun(r) => answer(ctx, *r, progress, Response::ReleaseDryRun).await,
        Request::FederationAdopt(r) => answer(ctx, r, progress, Response::FederationAdopt).await,
        Request::FederationStatus(r) => answer(ctx, r, progress, Response::FederationStatus).await,
        Request::FederationPropose(r) => {
            answer(ctx, r, progress, Response::FederationPropose).await
        }
        Request::FederationApprove(r) => {
            answer(ctx, r, progress, Response::FederationApprove).await
        }
        Request::FederationImport(r) => answer(ctx, r, progress, Response::FederationImport).await,
        Request::FederationExport(r) => answer(ctx, r, progress, Response::FederationExport).await,
        Request::Compare(r) => answer(ctx, r, progress, |c| Response::Compare(Box::new(c))).await,
    }
}

impl OpError for std::convert::Infallible {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Failed
    }
}
