//! The work that inbound messages cause, done off the swarm task. The swarm task hands each
//! gossip message and direct request (delivery, catch-up page, receipt) to [`InboundWork`] and
//! goes straight back to its loop. The work then waits for one of [`MAX_INBOUND_WORK`] permits,
//! so that a flood queues instead of crowding out the node's own work, runs its signature and
//! store work on the blocking pool, and answers back through the command channel. The
//! statements a catch-up brings in ([`super::catch_up`]) are judged under the same permits.
//!
//! Every piece of it is a task of the daemon's tracker. At shutdown, work still waiting for a
//! permit is dropped unstarted (the peer sees no answer and retries or catches up later); work
//! that has started runs to its end.

use std::sync::Arc;

use datapact_protocol::wire::{DirectRequest, DirectResponse, SignedStatement};
use libp2p::request_response::ResponseChannel;
use libp2p::{PeerId, gossipsub};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinError;

use super::{Client, Command};
use crate::federation::{self, Local, ReceiptRefused, Rejection, Verdict, Via};
use crate::store::Store;

/// Inbound messages (and catch-up pages) processed at once.
pub const MAX_INBOUND_WORK: usize = 4;

/// What inbound work needs; cheap to clone, one clone per piece of work.
#[derive(Clone)]
pub(super) struct InboundWork {
    /// The way back into the swarm task, and the tracker the work runs under.
    client: Client,
    /// Where statements and receipts are checked and kept.
    store: Arc<Store>,
    /// Who we are, for judging statements.
    me: Local,
    /// Bounds the work done at once, see [`MAX_INBOUND_WORK`].
    permits: Arc<Semaphore>,
}

impl InboundWork {
    pub(super) fn new(client: Client, store: Arc<Store>, me: Local) -> Self {
        Self {
            client,
            store,
            me,
            permits: Arc::new(Semaphore::new(MAX_INBOUND_WORK)),
        }
    }

    /// The handle to the swarm task.
    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    /// The store.
    pub(super) fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Waits for a permit; `None` once shutdown has begun (nothing was started).
    async fn permit(&self) -> Option<OwnedSemaphorePermit> {
        let acquire = self.permits.clone().acquire_owned();
        self.client.tasks.unless_cancelled(acquire).await?.ok()
    }

    /// Runs `work` on the blocking pool under a permit. `None` if shutdown began before it
    /// could start; `Some(Err)` if it panicked.
    pub(super) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store, &Local) -> T + Send + 'static,
    ) -> Option<Result<T, JoinError>> {
        let _permit = self.permit().await?;
        let (store, me) = (self.store.clone(), self.me.clone());
        Some(
            self.client
                .tasks
                .spawn_blocking(move || work(&store, &me))
                .await,
        )
    }

    /// Spawns `job` with a clone of this, under the daemon's tracker.
    fn spawn<F>(&self, job: impl FnOnce(Self) -> F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.client.tasks.spawn(job(self.clone()));
    }

    /// Hands an answer to the swarm task, which sends it on `channel`.
    async fn respond(&self, channel: ResponseChannel<DirectResponse>, response: DirectResponse) {
        let _ = self
            .client
            .commands
            .send(Command::Respond { channel, response })
            .await;
    }

    /// Validates a gossip message and reports the verdict to gossipsub, which holds the message
    /// (unforwarded) until then.
    pub(super) fn gossip(&self, source: PeerId, message_id: gossipsub::MessageId, data: Vec<u8>) {
        self.spawn(|work| async move {
            let judged = work.blocking(move |store, me| match SignedStatement::from_cose(&data) {
                Ok(statement) => federation::accept(store, me, &statement, Via::Gossip),
                Err(e) => Verdict::Rejected(Rejection::Malformed(e)),
            });
            let Some(verdict) = judged.await else {
                return;
            };
            let verdict = verdict.unwrap_or_else(|e| Verdict::Rejected(Rejection::Interrupted(e)));
            work.client.note(&verdict, "gossip");
            let acceptance = match verdict {
                Verdict::Accepted(_) => gossipsub::MessageAcceptance::Accept,
                Verdict::Known => gossipsub::MessageAcceptance::Ignore,
                Verdict::Rejected(_) => gossipsub::MessageAcceptance::Reject,
            };
            let validated = Command::Validated {
                message_id,
                source,
                acceptance,
            };
            let _ = work.client.commands.send(validated).await;
        });
    }

    /// Starts the work of an inbound direct request from `peer`, answered on `channel`.
    pub(super) fn direct(
        &self,
        peer: PeerId,
        request: DirectRequest,
        channel: ResponseChannel<DirectResponse>,
    ) {
        match request {
            DirectRequest::Deliver(statement) => self.deliver(peer, statement, channel),
            DirectRequest::CatchUp { from } => self.catch_up_page(peer, from, channel),
            DirectRequest::Receipt(bytes) => self.receipt(peer, bytes, channel),
        }
    }

    /// A statement handed over by `peer`: acknowledged only once it is on disk.
    fn deliver(
        &self,
        peer: PeerId,
        statement: SignedStatement,
        channel: ResponseChannel<DirectResponse>,
    ) {
        self.spawn(|work| async move {
            let judged = work.blocking(move |store, me| {
                federation::accept(store, me, &statement, Via::Direct(peer))
            });
            let Some(verdict) = judged.await else {
                return;
            };
            let verdict = verdict.unwrap_or_else(|e| Verdict::Rejected(Rejection::Interrupted(e)));
            work.client.note(&verdict, "direct");
            let response = match verdict {
                Verdict::Rejected(why) => why.answer(),
                Verdict::Known => DirectResponse::Ack,
                // Acknowledge only what is on disk.
                Verdict::Accepted(_) => match work.store.flush().await {
                    Ok(()) => DirectResponse::Ack,
                    Err(e) => {
                        tracing::warn!(error = %e, "flush failed; not acknowledging");
                        return;
                    }
                },
            };
            work.respond(channel, response).await;
        });
    }

    /// `peer` asks for the catch-up page starting at `from`.
    fn catch_up_page(&self, peer: PeerId, from: u64, channel: ResponseChannel<DirectResponse>) {
        self.spawn(|work| async move {
            let page = work.blocking(move |store, _| federation::catch_up_page(store, &peer, from));
            let Some(response) = page.await else {
                return;
            };
            let response = response.unwrap_or_else(|e| DirectResponse::Rejected {
                reason: format!("catch-up failed: {e}"),
            });
            work.respond(channel, response).await;
        });
    }

    /// `peer`'s receipt for a pull we granted: kept with the access-log entry of the grant.
    fn receipt(&self, peer: PeerId, bytes: Vec<u8>, channel: ResponseChannel<DirectResponse>) {
        self.spawn(|work| async move {
            let checked = work.blocking(move |store, me| {
                federation::accept_receipt(store, &me.member, peer, &bytes)
            });
            let Some(result) = checked.await else {
                return;
            };
            let result = result.unwrap_or(Err(ReceiptRefused::Interrupted));
            let response = match result {
                Ok(seq) => {
                    tracing::info!(%peer, entry = seq, "receipt stored");
                    match work.store.flush().await {
                        Ok(()) => DirectResponse::Ack,
                        Err(e) => DirectResponse::Rejected {
                            reason: format!("owner store error: {e}"),
                        },
                    }
                }
                Err(_) => ReceiptRefused::answer(),
            };
            work.respond(channel, response).await;
        });
    }
}
