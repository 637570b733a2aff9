//! A hostile peer for attack scenarios: a libp2p swarm of its own that speaks datapact's
//! protocols (`/datapact/direct/1` request-response, `/datapact/pull/1` streams, the gossip
//! topic) but decides every answer through code the test gives it, so it can misbehave in any
//! way a modified node could: answer forever, answer nothing, hold streams open in silence,
//! sign whatever it likes with its own key, or mint fresh keys.
//!
//! It is built from the same crates as the node, not from the node, so nothing of the node's
//! own discipline (caps, budgets, validation) protects the node under test from it. Each attack
//! scenario in `tests/tests/` is then a few lines: start a [`HostilePeer`] (with a fresh key, or a
//! seed the victim's roster lists), [`HostilePeer::connect`] to the victim, and act.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use datapact_node::network::pull::{read_frame, write_frame};
use datapact_protocol::Identity;
use datapact_protocol::wire::{
    DIRECT_PROTOCOL, DirectRequest, DirectResponse, GOSSIP_TOPIC, MAX_DIRECT_REQUEST_LEN,
    MAX_DIRECT_RESPONSE_LEN, MAX_GOSSIP_LEN, MAX_PULL_RESPONSE_LEN, PULL_PROTOCOL, PullRequest,
    PullResponse,
};
use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Stream, StreamProtocol, Swarm, gossipsub, noise, tcp, yamux};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::DEADLINE;

mod owner;
pub use owner::{PullsServed, Served};

/// How the hostile peer answers an inbound direct request: `Some` sends that response, `None`
/// keeps the request open without ever answering (until the requester's own timeout).
pub type Answer = Box<dyn FnMut(PeerId, &DirectRequest) -> Option<DirectResponse> + Send>;

/// Answers every request with an acknowledgement and every catch-up with an empty last page:
/// a peer that looks well-behaved.
pub fn polite() -> Answer {
    Box::new(|_, request| {
        Some(match request {
            DirectRequest::CatchUp { .. } => DirectResponse::CatchUp {
                statements: Vec::new(),
                next: None,
            },
            _ => DirectResponse::Ack,
        })
    })
}

/// Never answers anything.
pub fn silent() -> Answer {
    Box::new(|_, _| None)
}

/// What the hostile peer received, for tests to assert on.
#[derive(Debug, Default)]
pub struct Received {
    /// Direct requests of any kind.
    pub requests: AtomicU64,
    /// Of those, catch-up requests.
    pub catch_ups: AtomicU64,
    /// Of those, deliveries (announcements and revocations handed over directly).
    pub deliveries: AtomicU64,
}

impl Received {
    /// Direct requests received so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
    /// Catch-up requests received so far.
    pub fn catch_ups(&self) -> u64 {
        self.catch_ups.load(Ordering::SeqCst)
    }
    /// Deliveries received so far.
    pub fn deliveries(&self) -> u64 {
        self.deliveries.load(Ordering::SeqCst)
    }
}

#[derive(NetworkBehaviour)]
struct HostileBehaviour {
    direct: request_response::cbor::Behaviour<DirectRequest, DirectResponse>,
    stream: libp2p_stream::Behaviour,
    gossipsub: gossipsub::Behaviour,
}

/// What the test asks the hostile peer's swarm task.
enum Command {
    Connect {
        peer: PeerId,
        addr: Multiaddr,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Request {
        peer: PeerId,
        request: DirectRequest,
        reply: oneshot::Sender<Result<DirectResponse, String>>,
    },
    Publish {
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    GossipPeers {
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    SetAnswer(Answer),
}

/// A running hostile peer. Dropping it stops its swarm task and closes its connections.
pub struct HostilePeer {
    /// Its key: a test signs statements with it to play a member (or a forger).
    pub identity: Identity,
    /// Its PeerId, for the victim's roster.
    pub peer_id: PeerId,
    /// Where it listens (127.0.0.1, a port the OS chose).
    pub addr: Multiaddr,
    /// What it received.
    pub received: Arc<Received>,
    commands: mpsc::Sender<Command>,
    streams: libp2p_stream::Control,
    gossip: broadcast::Sender<Vec<u8>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HostilePeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HostilePeer {
    /// A hostile peer with a fresh key (a stranger), answering as `answer` says.
    pub async fn stranger(answer: Answer) -> HostilePeer {
        let fresh = libp2p::identity::ed25519::Keypair::generate();
        let seed: [u8; 32] = fresh
            .secret()
            .as_ref()
            .try_into()
            .expect("an ed25519 secret is 32 bytes");
        Self::start(Identity::from_seed(&seed), answer).await
    }

    /// A hostile peer with the key `identity` (which a victim's roster may list), answering as
    /// `answer` says.
    pub async fn start(identity: Identity, answer: Answer) -> HostilePeer {
        let mut swarm = build_swarm(&identity);
        swarm
            .listen_on(crate::LISTEN.parse().expect("listen multiaddr"))
            .expect("hostile peer listens");
        let addr = loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                break address;
            }
        };
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&gossipsub::IdentTopic::new(GOSSIP_TOPIC))
            .expect("subscribe to the gossip topic");
        let streams = swarm.behaviour().stream.new_control();
        let (commands, rx) = mpsc::channel(64);
        let (gossip, _) = broadcast::channel(4096);
        let received = Arc::new(Received::default());
        let task = tokio::spawn(
            SwarmTask {
                swarm,
                commands: rx,
                answer,
                received: received.clone(),
                gossip: gossip.clone(),
                pending: Default::default(),
                connecting: Default::default(),
                unanswered: Vec::new(),
            }
            .run(),
        );
        HostilePeer {
            peer_id: identity.peer_id(),
            identity,
            addr,
            received,
            commands,
            streams,
            gossip,
            task,
        }
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> T {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .expect("hostile swarm task runs");
        tokio::time::timeout(DEADLINE, rx)
            .await
            .expect("hostile swarm task answers in time")
            .expect("hostile swarm task answers")
    }

    /// A hostile peer with the key from `seed`, listed as member `code` (with its address) in
    /// the roster of each of `nodes`; returns once each of them has dialled it.
    pub async fn member_of(
        code: &str,
        seed: [u8; 32],
        answer: Answer,
        nodes: &[&crate::TestNode],
    ) -> HostilePeer {
        let peer = Self::start(Identity::from_seed(&seed), answer).await;
        for node in nodes {
            node.ok(datapact_node::api::MembersAdd {
                member: datapact_protocol::MemberCode::new(code).expect("member code"),
                peer_id: peer.peer_id,
                addrs: vec![peer.addr.to_string()],
            })
            .await;
        }
        for node in nodes {
            crate::wait_until(
                &format!("{} to connect to the hostile {code}", node.member),
                || async { node.peers().await.iter().any(|p| p.peer_id == peer.peer_id) },
            )
            .await;
        }
        peer
    }

    /// Dials `peer` at `addr` and waits until the connection is established.
    pub async fn connect(&self, peer: PeerId, addr: &str) {
        let addr: Multiaddr = addr.parse().expect("a multiaddr");
        self.ask(|reply| Command::Connect { peer, addr, reply })
            .await
            .unwrap_or_else(|e| panic!("hostile peer cannot connect to {peer}: {e}"));
    }

    /// Connects to a test node.
    pub async fn connect_to(&self, node: &crate::TestNode) {
        let peer: PeerId = node.peer_id().parse().expect("a PeerId");
        self.connect(peer, &node.addr()).await;
    }

    /// Sends a direct request and returns the answer (or why none came).
    pub async fn request(
        &self,
        peer: PeerId,
        request: DirectRequest,
    ) -> Result<DirectResponse, String> {
        self.ask(|reply| Command::Request {
            peer,
            request,
            reply,
        })
        .await
    }

    /// Replaces how inbound direct requests are answered.
    pub async fn set_answer(&self, answer: Answer) {
        self.commands
            .send(Command::SetAnswer(answer))
            .await
            .expect("hostile swarm task runs");
    }

    /// Opens a raw pull stream (`/datapact/pull/1`) to `peer`; what is written on it is up to
    /// the test (nothing at all, a garbage frame, a well-formed request...).
    pub async fn open_pull_stream(&self, peer: PeerId) -> Stream {
        let mut control = self.streams.clone();
        tokio::time::timeout(
            DEADLINE,
            control.open_stream(peer, StreamProtocol::new(PULL_PROTOCOL)),
        )
        .await
        .expect("pull stream opens in time")
        .expect("pull stream opens")
    }

    /// Asks `owner` for `id` on a new pull stream with a well-formed request (from chunk 0) and
    /// returns the owner's answer frame, with the stream: a granted pull's content follows on
    /// it, unread. `Err` says why no answer came (the stream was closed, reset, or timed out).
    pub async fn ask_pull(
        &self,
        owner: PeerId,
        id: &str,
    ) -> Result<(PullResponse, Stream), String> {
        let mut stream = self.open_pull_stream(owner).await;
        let request = PullRequest {
            id: id.to_owned(),
            from_chunk: 0,
        };
        write_frame(&mut stream, &request)
            .await
            .map_err(|e| e.to_string())?;
        let answer = read_frame(&mut stream, MAX_PULL_RESPONSE_LEN)
            .await
            .map_err(|e| e.to_string())?;
        Ok((answer, stream))
    }

    /// Accepts inbound pull streams, so the hostile peer can play an owner that serves content
    /// of its own making. Call at most once.
    pub fn accept_pull_streams(&self) -> libp2p_stream::IncomingStreams {
        self.streams
            .clone()
            .accept(StreamProtocol::new(PULL_PROTOCOL))
            .expect("pull protocol accepted once")
    }

    /// Publishes `data` on the gossip topic exactly as given (no framing added).
    pub async fn publish_raw(&self, data: Vec<u8>) -> Result<(), String> {
        self.ask(|reply| Command::Publish { data, reply }).await
    }

    /// Every gossip message received from now on, as the raw message data.
    pub fn gossip_messages(&self) -> broadcast::Receiver<Vec<u8>> {
        self.gossip.subscribe()
    }

    /// Peers known to be subscribed to the gossip topic.
    pub async fn gossip_peers(&self) -> Vec<PeerId> {
        self.ask(|reply| Command::GossipPeers { reply }).await
    }

    /// Waits until `peer` is subscribed to the gossip topic as this peer sees it.
    pub async fn wait_gossip_peer(&self, peer: PeerId) {
        crate::wait_until(
            "the victim to join the hostile peer's gossip topic",
            || async { self.gossip_peers().await.contains(&peer) },
        )
        .await;
    }
}

fn build_swarm(identity: &Identity) -> Swarm<HostileBehaviour> {
    let keypair =
        libp2p::identity::Keypair::ed25519_from_bytes(identity.seed()).expect("ed25519 seed");
    libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp transport")
        .with_behaviour(|key| {
            let gossip_config = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Strict)
                .max_transmit_size(MAX_GOSSIP_LEN * 2)
                .heartbeat_interval(Duration::from_millis(200))
                .build()
                .expect("gossip config");
            let codec = request_response::cbor::codec::Codec::default()
                .set_request_size_maximum(MAX_DIRECT_REQUEST_LEN * 4)
                .set_response_size_maximum(MAX_DIRECT_RESPONSE_LEN);
            HostileBehaviour {
                direct: request_response::Behaviour::with_codec(
                    codec,
                    [(StreamProtocol::new(DIRECT_PROTOCOL), ProtocolSupport::Full)],
                    request_response::Config::default().with_request_timeout(DEADLINE),
                ),
                stream: libp2p_stream::Behaviour::new(),
                gossipsub: gossipsub::Behaviour::new(
                    gossipsub::MessageAuthenticity::Signed(key.clone()),
                    gossip_config,
                )
                .expect("gossip behaviour"),
            }
        })
        .expect("hostile behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build()
}

/// The task that owns the hostile peer's swarm.
struct SwarmTask {
    swarm: Swarm<HostileBehaviour>,
    commands: mpsc::Receiver<Command>,
    answer: Answer,
    received: Arc<Received>,
    gossip: broadcast::Sender<Vec<u8>>,
    /// Outbound direct requests waiting for their answer.
    pending: std::collections::HashMap<
        OutboundRequestId,
        oneshot::Sender<Result<DirectResponse, String>>,
    >,
    /// Dials waiting for their connection, by peer.
    connecting: std::collections::HashMap<PeerId, Vec<oneshot::Sender<Result<(), String>>>>,
    /// Requests the answer chose never to answer: held, so the requester waits for nothing.
    unanswered: Vec<ResponseChannel<DirectResponse>>,
}

impl SwarmTask {
    async fn run(mut self) {
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_event(event),
                command = self.commands.recv() => match command {
                    Some(c) => self.on_command(c),
                    None => break,
                },
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Connect { peer, addr, reply } => {
                if self.swarm.is_connected(&peer) {
                    let _ = reply.send(Ok(()));
                    return;
                }
                self.swarm.add_peer_address(peer, addr.clone());
                match self.swarm.dial(addr) {
                    Ok(()) => self.connecting.entry(peer).or_default().push(reply),
                    Err(e) => {
                        let _ = reply.send(Err(e.to_string()));
                    }
                }
            }
            Command::Request {
                peer,
                request,
                reply,
            } => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .direct
                    .send_request(&peer, request);
                self.pending.insert(id, reply);
            }
            Command::Publish { data, reply } => {
                let result = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(gossipsub::IdentTopic::new(GOSSIP_TOPIC), data)
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                let _ = reply.send(result);
            }
            Command::GossipPeers { reply } => {
                let topic = gossipsub::IdentTopic::new(GOSSIP_TOPIC).hash();
                let peers = self
                    .swarm
                    .behaviour()
                    .gossipsub
                    .all_peers()
                    .filter(|(_, topics)| topics.contains(&&topic))
                    .map(|(p, _)| *p)
                    .collect();
                let _ = reply.send(peers);
            }
            Command::SetAnswer(answer) => self.answer = answer,
        }
    }

    fn on_event(&mut self, event: SwarmEvent<HostileBehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                for reply in self.connecting.remove(&peer_id).unwrap_or_default() {
                    let _ = reply.send(Ok(()));
                }
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                for reply in self.connecting.remove(&peer).unwrap_or_default() {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
            SwarmEvent::Behaviour(HostileBehaviourEvent::Gossipsub(
                gossipsub::Event::Message { message, .. },
            )) => {
                let _ = self.gossip.send(message.data);
            }
            SwarmEvent::Behaviour(HostileBehaviourEvent::Direct(event)) => self.on_direct(event),
            _ => {}
        }
    }

    fn on_direct(&mut self, event: request_response::Event<DirectRequest, DirectResponse>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                self.received.requests.fetch_add(1, Ordering::SeqCst);
                match &request {
                    DirectRequest::CatchUp { .. } => {
                        self.received.catch_ups.fetch_add(1, Ordering::SeqCst);
                    }
                    DirectRequest::Deliver(_) => {
                        self.received.deliveries.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => {}
                }
                match (self.answer)(peer, &request) {
                    Some(response) => {
                        let _ = self
                            .swarm
                            .behaviour_mut()
                            .direct
                            .send_response(channel, response);
                    }
                    None => self.unanswered.push(channel),
                }
            }
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Ok(response));
                }
            }
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
            _ => {}
        }
    }
}
