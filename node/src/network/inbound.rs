//! Inbound pull streams (`/datapact/pull/1`), taken from each connection the moment they are
//! negotiated and queued for the serving loop ([`super::serve`]): roster members' and
//! strangers' in separate bounded queues, so that however many streams strangers open, none
//! of theirs takes a member's place.
//!
//! libp2p-stream's own accept is not used for this protocol: it holds one stream for its
//! reader and drops any other that arrives meanwhile, whoever it comes from, so a stranger's
//! flood of streams pushed members' streams out whenever the runtime was slow to read. Our
//! outbound pulls still go through libp2p-stream.

use std::convert::Infallible;
use std::task::{Context, Poll};

use datapact_protocol::wire::PULL_PROTOCOL;
use libp2p::core::Endpoint;
use libp2p::core::transport::PortUse;
use libp2p::core::upgrade::{DeniedUpgrade, ReadyUpgrade};
use libp2p::swarm::handler::{ConnectionEvent, FullyNegotiatedInbound};
use libp2p::swarm::{
    ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm,
    NetworkBehaviour, SubstreamProtocol, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId, Stream, StreamProtocol};
use tokio::sync::mpsc;

use super::roster::RosterSnapshot;

/// Members' pull streams queued for the serving loop at once (each member's own share is
/// enforced right after, see [`super::admission`]).
pub const MEMBER_QUEUE: usize = 1024;
/// Strangers' pull streams queued at once; beyond it a stranger's new stream is closed.
pub const STRANGER_QUEUE: usize = 64;

/// A queued inbound stream and the authenticated peer that opened it.
type Queued = (PeerId, Stream);

/// The two queues' sending ends, one clone per connection.
#[derive(Clone)]
struct Queues {
    members: mpsc::Sender<Queued>,
    strangers: mpsc::Sender<Queued>,
    /// Sorts each stream into its queue without reading the store.
    roster: RosterSnapshot,
}

impl Queues {
    fn push(&self, peer: PeerId, stream: Stream) {
        let member = self.roster.contains(&peer);
        let queue = if member {
            &self.members
        } else {
            &self.strangers
        };
        if queue.try_send((peer, stream)).is_err() {
            tracing::debug!(%peer, member, "pull stream queue full; stream closed");
        }
    }
}

/// The behaviour that listens for `/datapact/pull/1` on every connection.
pub(crate) struct Behaviour {
    queues: Queues,
}

/// The serving loop's end of the queues.
pub(crate) struct Incoming {
    members: mpsc::Receiver<Queued>,
    strangers: mpsc::Receiver<Queued>,
}

/// The behaviour and the queues' receiving end; `roster` is kept up to date by the swarm task.
pub(crate) fn new(roster: RosterSnapshot) -> (Behaviour, Incoming) {
    let (members, member_streams) = mpsc::channel(MEMBER_QUEUE);
    let (strangers, stranger_streams) = mpsc::channel(STRANGER_QUEUE);
    let queues = Queues {
        members,
        strangers,
        roster,
    };
    let incoming = Incoming {
        members: member_streams,
        strangers: stranger_streams,
    };
    (Behaviour { queues }, incoming)
}

impl Incoming {
    /// The next inbound stream, members' first; `None` once the swarm is gone. Cancel-safe.
    pub async fn next(&mut self) -> Option<Queued> {
        tokio::select! {
            biased;
            Some(queued) = self.members.recv() => Some(queued),
            Some(queued) = self.strangers.recv() => Some(queued),
            else => None,
        }
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(Handler {
            peer,
            queues: self.queues.clone(),
        })
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(Handler {
            peer,
            queues: self.queues.clone(),
        })
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

/// One connection's side: accepts pull streams and queues them; opens none.
pub(crate) struct Handler {
    peer: PeerId,
    queues: Queues,
}

impl ConnectionHandler for Handler {
    type FromBehaviour = Infallible;
    type ToBehaviour = Infallible;
    type InboundProtocol = ReadyUpgrade<StreamProtocol>;
    type OutboundProtocol = DeniedUpgrade;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = Infallible;

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol, Self::InboundOpenInfo> {
        SubstreamProtocol::new(ReadyUpgrade::new(StreamProtocol::new(PULL_PROTOCOL)), ())
    }

    fn poll(
        &mut self,
        _: &mut Context<'_>,
    ) -> Poll<
        ConnectionHandlerEvent<Self::OutboundProtocol, Self::OutboundOpenInfo, Self::ToBehaviour>,
    > {
        Poll::Pending
    }

    fn on_behaviour_event(&mut self, event: Self::FromBehaviour) {
        match event {}
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<
            Self::InboundProtocol,
            Self::OutboundProtocol,
            Self::InboundOpenInfo,
            Self::OutboundOpenInfo,
        >,
    ) {
        if let ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
            protocol: stream,
            ..
        }) = event
        {
            self.queues.push(self.peer, stream);
        }
    }
}
