//! The network: one task owns the libp2p `Swarm` ([`event_loop`]); the rest of the node holds a
//! cloneable [`Client`] that sends it [`Command`]s, each with a oneshot reply.
//!
//! Transport: TCP + Noise + Yamux. Behaviours: identify, ping, gossipsub (one topic, manual
//! validation, `public` statements only), request-response CBOR on `/datapact/direct/1`
//! (delivery, catch-up, receipts), and libp2p-stream on `/datapact/pull/1` (content).

pub mod admission;
mod behaviour;
pub mod catch_up;
mod event_loop;
pub mod fetch;
mod inbound;
pub mod pull;
mod roster;
mod serve;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use datapact_protocol::wire::{DirectRequest, DirectResponse, SignedStatement};
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{broadcast, mpsc, oneshot};

pub use behaviour::{IDLE_CONNECTION_TIMEOUT, tcp_config, yamux_config};
pub use event_loop::start;

/// How long a direct request may take before it counts as failed.
pub const DIRECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound of the command channel: senders wait when the swarm task is this far behind.
const COMMAND_BUFFER: usize = 256;

/// Why a network operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The network task has stopped (the daemon is shutting down).
    #[error("the network task has stopped")]
    Stopped,
    /// The peer could not be reached or did not answer.
    #[error("{0}")]
    Unreachable(String),
    /// Publishing on gossip failed (e.g. no peer subscribed yet).
    #[error("gossip publish failed: {0}")]
    Publish(String),
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {why}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        why: String,
    },
}

/// A connected peer as the swarm sees it.
#[derive(Debug, Clone)]
pub struct ConnectedPeer {
    /// Its PeerId.
    pub peer: PeerId,
    /// Remote addresses of its connections.
    pub addrs: Vec<Multiaddr>,
}

/// What the rest of the node can ask the swarm task.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Command {
    /// Publish a `public` statement on gossip.
    Publish {
        statement: SignedStatement,
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    /// Send a direct request and wait for the answer; `addrs` are tried too if the peer must
    /// be dialled (a past puller no longer in the roster).
    Request {
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: DirectRequest,
        reply: oneshot::Sender<Result<DirectResponse, NetError>>,
    },
    /// Answer an inbound direct request (after the store was flushed).
    Respond {
        channel: libp2p::request_response::ResponseChannel<DirectResponse>,
        response: DirectResponse,
    },
    /// The verdict on a gossip message, reached off the swarm task.
    Validated {
        message_id: libp2p::gossipsub::MessageId,
        source: PeerId,
        acceptance: libp2p::gossipsub::MessageAcceptance,
    },
    /// The connected peers.
    Peers {
        reply: oneshot::Sender<Vec<ConnectedPeer>>,
    },
    /// The roster changed: reload the roster snapshot (off the swarm task).
    RosterChanged,
    /// The roster snapshot was reloaded: dial new members, catch up from connected ones.
    RosterReloaded,
}

/// Counters of what the network refused, for operators and tests.
#[derive(Debug, Default)]
pub struct Stats {
    /// Statements rejected (bad signature, unknown owner, replay, restricted on gossip...).
    pub rejected: AtomicU64,
    /// Statements accepted and stored.
    pub accepted: AtomicU64,
}

impl Stats {
    /// Rejected so far.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
    /// Accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
}

/// Tasks that write to the store on the network's behalf (inbound requests, catch-up, content
/// serving). Shutdown waits for them before the final flush, so nothing they wrote is lost.
#[derive(Debug, Default)]
pub struct Tasks {
    live: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

/// Counts one live task; dropped when the task ends, however it ends.
struct TaskGuard(Arc<Tasks>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Tasks {
    /// Spawns `task`, counting it until it ends.
    pub fn spawn(self: &Arc<Self>, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.live.fetch_add(1, Ordering::SeqCst);
        let guard = TaskGuard(self.clone());
        tokio::spawn(async move {
            let _guard = guard;
            task.await;
        });
    }

    /// Waits until no counted task runs, or `timeout` passes; returns whether they all ended.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.live.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }
}

/// A cloneable handle to the swarm task.
#[derive(Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    streams: libp2p_stream::Control,
    /// Counters shared with the swarm task.
    pub stats: Arc<Stats>,
    /// Fires whenever a statement is accepted, so waiters need not poll.
    pub accepted_events: broadcast::Sender<datapact_protocol::DatasetId>,
    /// Store-writing tasks spawned for the network, awaited at shutdown.
    pub tasks: Arc<Tasks>,
}

impl Client {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| NetError::Stopped)?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    /// Publishes a statement on gossip. The node calls this for its own `public` statements
    /// only; receivers validate whatever arrives.
    pub async fn publish(&self, statement: SignedStatement) -> Result<(), NetError> {
        self.ask(|reply| Command::Publish { statement, reply })
            .await?
    }

    /// Sends a direct request to `peer` (dialling it if needed) and returns its answer.
    pub async fn request(
        &self,
        peer: PeerId,
        request: DirectRequest,
    ) -> Result<DirectResponse, NetError> {
        self.request_at(peer, Vec::new(), request).await
    }

    /// Like [`Client::request`], also trying `addrs` if `peer` must be dialled.
    pub async fn request_at(
        &self,
        peer: PeerId,
        addrs: Vec<Multiaddr>,
        request: DirectRequest,
    ) -> Result<DirectResponse, NetError> {
        self.ask(|reply| Command::Request {
            peer,
            addrs,
            request,
            reply,
        })
        .await?
    }

    /// The connected peers.
    pub async fn peers(&self) -> Result<Vec<ConnectedPeer>, NetError> {
        self.ask(|reply| Command::Peers { reply }).await
    }

    /// Tells the swarm task that the roster changed.
    pub async fn roster_changed(&self) -> Result<(), NetError> {
        self.commands
            .send(Command::RosterChanged)
            .await
            .map_err(|_| NetError::Stopped)
    }

    /// A handle for opening content streams.
    pub fn streams(&self) -> libp2p_stream::Control {
        self.streams.clone()
    }
}
