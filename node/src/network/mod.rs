//! The network: one task owns the libp2p `Swarm` ([`event_loop`]); the rest of the node holds a
//! cloneable [`Client`] that sends it [`Command`]s, each with a oneshot reply.
//!
//! Transport: TCP + Noise + Yamux. Behaviours: identify, ping, gossipsub (one topic, manual
//! validation, `public` statements only), request-response CBOR on `/datapact/direct/1`
//! (delivery, catch-up, receipts), and libp2p-stream on `/datapact/pull/1` (content).
//!
//! The swarm task never waits on the disk: the work inbound messages cause runs in
//! [`inbound_work`] and catch-ups in [`catch_up`], on the blocking pool under one set of
//! permits, and the roster it consults is an in-memory copy, reloaded off the task when the
//! roster changes. Every task the network starts runs under the daemon's tracker
//! ([`crate::tasks`]).

pub mod admission;
mod behaviour;
pub mod catch_up;
mod event_loop;
pub mod fetch;
mod inbound;
pub mod inbound_work;
pub mod pull;
mod roster;
mod serve;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use datapact_protocol::wire::{DirectRequest, DirectResponse, SignedStatement};
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{broadcast, mpsc, oneshot};

pub use behaviour::{IDLE_CONNECTION_TIMEOUT, SwarmBuildError, tcp_config, yamux_config};
pub use event_loop::start;

/// How long a direct request may take before it counts as failed.
pub const DIRECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound of the command channel: senders wait when the swarm task is this far behind.
const COMMAND_BUFFER: usize = 256;

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The network task has stopped (the daemon is shutting down).
    #[error("the network task has stopped")]
    Stopped,
    /// The peer could not be reached or did not answer a direct request.
    #[error("{0}")]
    Unreachable(#[source] libp2p::request_response::OutboundFailure),
    /// Publishing on gossip failed (e.g. no peer subscribed yet).
    #[error("gossip publish failed: {0}")]
    Publish(#[source] libp2p::gossipsub::PublishError),
    /// Subscribing to the federation's gossip topic failed, so no gossip would reach us.
    #[error("cannot subscribe to the gossip topic: {0}")]
    Subscribe(#[source] libp2p::gossipsub::SubscriptionError),
    /// The swarm could not be built, so the node has no network at all.
    #[error("cannot start the network: {0}")]
    Swarm(#[from] behaviour::SwarmBuildError),
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {why}")]
    Listen {
        /// The address as configured (or which listener, when libp2p does not say).
        addr: String,
        /// Why.
        why: ListenError,
    },
}

/// Why a listen address could not be bound.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// The configured address does not parse.
    #[error("not a multiaddr")]
    NotAMultiaddr,
    /// Another process holds the port.
    #[error("the port is already in use (another daemon, or another program?)")]
    PortInUse,
    /// The trial bind of the port failed otherwise.
    #[error("{0}")]
    Bind(#[source] std::io::Error),
    /// libp2p's TCP transport could not listen there.
    #[error("{0} ({kind:?})", kind = .0.kind())]
    Transport(#[source] std::io::Error),
    /// Not an address the TCP transport listens on.
    #[error("{0} is not a TCP address this node can listen on")]
    NotTcp(Multiaddr),
    /// The listeners did not report their addresses within the start-up deadline.
    #[error("no listen address was bound in time")]
    Timeout,
    /// A listener failed while starting.
    #[error("{0}")]
    Listener(#[source] std::io::Error),
    /// A listener closed while starting (with libp2p's reason).
    #[error("{0:?}")]
    Closed(Result<(), std::io::Error>),
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
    /// The roster changed: reload the roster snapshot (off the swarm task), then say so.
    RosterChanged { reloaded: oneshot::Sender<()> },
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

/// A cloneable handle to the swarm task.
#[derive(Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    streams: libp2p_stream::Control,
    /// Counters shared with the swarm task.
    pub stats: Arc<Stats>,
    /// Fires whenever a statement is accepted, so waiters need not poll.
    pub accepted_events: broadcast::Sender<datapact_protocol::DatasetId>,
    /// The daemon's tracker: every task the network spawns runs under it, and the swarm task
    /// ends when its cancellation signal fires.
    pub tasks: crate::tasks::Tasks,
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

    /// Tells the swarm task that the roster changed; returns once the network's copy of the
    /// roster is reloaded, so what the network does from then on (sorting a pull stream into
    /// member or stranger, redialling) follows the change.
    pub async fn roster_changed(&self) -> Result<(), NetError> {
        self.ask(|reloaded| Command::RosterChanged { reloaded })
            .await
    }

    /// A handle for opening content streams.
    pub fn streams(&self) -> libp2p_stream::Control {
        self.streams.clone()
    }

    /// Counts and logs a verdict reached outside the swarm task (inbound work, catch-up, a
    /// pull of an announcement not seen before).
    pub(crate) fn note(&self, verdict: &crate::federation::Verdict, from: &str) {
        use crate::federation::Verdict;
        match verdict {
            Verdict::Accepted(id) => {
                self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                tracing::info!(dataset = %id, from, "accepted");
                let _ = self.accepted_events.send(id.clone());
            }
            Verdict::Known => {}
            Verdict::Rejected(why) => {
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(from, reason = %why, "statement rejected");
            }
        }
    }
}
