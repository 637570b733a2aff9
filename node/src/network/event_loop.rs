//! The one task that owns the `Swarm`: it reacts to swarm events and to [`Command`]s from
//! [`Client`]s, and never blocks: the work inbound messages cause ([`InboundWork`]), catch-ups
//! and roster reloads run in tasks it spawns, which answer back through the same command
//! channel; what it needs of the roster it reads from the in-memory [`RosterSnapshot`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use datapact_protocol::MemberCode;
use datapact_protocol::wire::{DirectRequest, DirectResponse, GOSSIP_TOPIC, SignedStatement};
use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::SwarmEvent;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId, Swarm, gossipsub};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::behaviour::{Behaviour, BehaviourEvent, build_swarm};
use super::inbound_work::InboundWork;
use super::roster::RosterSnapshot;
use super::{COMMAND_BUFFER, Client, Command, ConnectedPeer, ListenError, NetError, Stats};
use crate::backoff::Backoff;
use crate::federation;
use crate::home::Home;
use crate::store::Store;
use crate::tasks::Tasks;

/// How often the roster is checked for members to (re)dial.
const REDIAL_TICK: Duration = Duration::from_secs(1);
/// First wait before dialling an unreachable member again; doubles up to
/// [`MAX_REDIAL_BACKOFF`].
const FIRST_REDIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between two dials of an unreachable member.
const MAX_REDIAL_BACKOFF: Duration = Duration::from_secs(30);

/// Builds the swarm, binds the listen addresses, and spawns the swarm task and the content
/// server under `tasks`; both end when its cancellation signal fires.
pub async fn start(
    home: Arc<Home>,
    store: Arc<Store>,
    listening: Arc<RwLock<Vec<String>>>,
    tasks: Tasks,
) -> Result<Client, NetError> {
    let roster = {
        let store = store.clone();
        tasks
            .spawn_blocking(move || RosterSnapshot::load(&store))
            .await
            .unwrap_or_default()
    };
    let (pulls, incoming) = super::inbound::new(roster.clone());
    let mut swarm = build_swarm(&home.identity, pulls)?;
    for addr in &home.listen {
        let parsed: Multiaddr = addr.parse().map_err(|_| NetError::Listen {
            addr: addr.clone(),
            why: ListenError::NotAMultiaddr,
        })?;
        check_port_free(&parsed).map_err(|why| NetError::Listen {
            addr: addr.clone(),
            why,
        })?;
        swarm.listen_on(parsed).map_err(|e| NetError::Listen {
            addr: addr.clone(),
            why: listen_error(e),
        })?;
    }
    wait_for_listen_addrs(&mut swarm, home.listen.len(), &listening).await?;
    let topic = gossipsub::IdentTopic::new(GOSSIP_TOPIC);
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&topic)
        .map_err(NetError::Subscribe)?;

    let streams = swarm.behaviour().stream.new_control();
    let (commands_tx, commands_rx) = mpsc::channel(COMMAND_BUFFER);
    let (accepted_tx, _) = broadcast::channel(1024);
    let client = Client {
        commands: commands_tx,
        streams,
        stats: Arc::new(Stats::default()),
        accepted_events: accepted_tx,
        tasks: tasks.clone(),
    };
    tasks.spawn(super::serve::serve(
        incoming,
        home.clone(),
        store.clone(),
        roster.clone(),
        tasks.clone(),
    ));
    let work = InboundWork::new(client.clone(), store.clone(), federation::Local::of(&home));
    let event_loop = EventLoop {
        swarm,
        commands: commands_rx,
        client: client.clone(),
        store,
        work,
        listening,
        topic,
        pending: HashMap::new(),
        connected: HashMap::new(),
        backoff: HashMap::new(),
        roster,
        catching_up: super::catch_up::Running::default(),
    };
    tasks.spawn(event_loop.run());
    Ok(client)
}

/// libp2p's TCP listeners set SO_REUSEPORT, so a second daemon on the same port would bind
/// silently and share the traffic. A plain bind first turns that into a clear error.
fn check_port_free(addr: &Multiaddr) -> Result<(), ListenError> {
    use libp2p::multiaddr::Protocol;
    let mut parts = addr.iter();
    let ip: std::net::IpAddr = match parts.next() {
        Some(Protocol::Ip4(ip)) => ip.into(),
        Some(Protocol::Ip6(ip)) => ip.into(),
        _ => return Ok(()),
    };
    match parts.next() {
        Some(Protocol::Tcp(port)) if port != 0 => match std::net::TcpListener::bind((ip, port)) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(ListenError::PortInUse),
            Err(e) => Err(ListenError::Bind(e)),
        },
        _ => Ok(()),
    }
}

/// How long binding the listen addresses may take.
const LISTEN_DEADLINE: Duration = Duration::from_secs(10);

/// Drives the swarm until every listener reported an address, so `datapact id` shows the real
/// ports (port 0 resolved) as soon as the daemon accepts commands.
async fn wait_for_listen_addrs(
    swarm: &mut Swarm<Behaviour>,
    listeners: usize,
    listening: &RwLock<Vec<String>>,
) -> Result<(), NetError> {
    let mut pending = listeners;
    let deadline = tokio::time::Instant::now() + LISTEN_DEADLINE;
    while pending > 0 {
        let event = tokio::time::timeout_at(deadline, swarm.select_next_some())
            .await
            .map_err(|_| NetError::Listen {
                addr: "(all)".into(),
                why: ListenError::Timeout,
            })?;
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                if let Ok(mut l) = listening.write() {
                    l.push(address.to_string());
                }
                pending -= 1;
            }
            SwarmEvent::ListenerError { error, .. } => {
                return Err(NetError::Listen {
                    addr: "(listener)".into(),
                    why: ListenError::Listener(error),
                });
            }
            SwarmEvent::ListenerClosed {
                addresses, reason, ..
            } => {
                return Err(NetError::Listen {
                    addr: addresses
                        .first()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    why: ListenError::Closed(reason),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

fn listen_error(e: libp2p::TransportError<std::io::Error>) -> ListenError {
    match e {
        libp2p::TransportError::Other(io) if io.kind() == std::io::ErrorKind::AddrInUse => {
            ListenError::PortInUse
        }
        libp2p::TransportError::Other(io) => ListenError::Transport(io),
        libp2p::TransportError::MultiaddrNotSupported(a) => ListenError::NotTcp(a),
    }
}

struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    /// To hand spawned tasks a way back into this loop, and the tracker they run under.
    client: Client,
    /// Read only off this task: to reload the roster snapshot.
    store: Arc<Store>,
    /// Where inbound gossip and direct requests are handed off, and catch-ups judged.
    work: InboundWork,
    /// Our actual listen addresses, shown by `datapact id`.
    listening: Arc<RwLock<Vec<String>>>,
    topic: gossipsub::IdentTopic,
    /// Outbound direct requests waiting for their answer.
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<DirectResponse, NetError>>>,
    /// Remote addresses of each connected peer, one per connection.
    connected: HashMap<PeerId, Vec<Multiaddr>>,
    /// When each unreachable member may be dialled again, and its retry schedule.
    backoff: HashMap<PeerId, (Instant, Backoff)>,
    /// The roster in memory: redials, new connections and inbound pull streams read it
    /// instead of the store.
    roster: RosterSnapshot,
    /// Peers whose catch-up runs now: one at a time per peer.
    catching_up: super::catch_up::Running,
}

impl EventLoop {
    async fn run(mut self) {
        let tasks = self.client.tasks.clone();
        let mut redial = tokio::time::interval(REDIAL_TICK);
        redial.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(c) => self.on_command(c),
                    None => break,
                },
                _ = redial.tick() => self.redial(),
                () = tasks.cancelled() => break,
            }
        }
        tracing::debug!("network task stopped");
    }

    fn redial(&mut self) {
        let now = Instant::now();
        for (peer, member) in self.roster.members() {
            if self.swarm.is_connected(&peer) {
                continue;
            }
            if self.backoff.get(&peer).is_some_and(|(next, _)| *next > now) {
                continue;
            }
            let addrs = member.addrs;
            if addrs.is_empty() {
                continue;
            }
            for a in &addrs {
                self.swarm.add_peer_address(peer, a.clone());
            }
            let mut schedule = self.backoff.get(&peer).map_or(
                Backoff::new(FIRST_REDIAL_BACKOFF, MAX_REDIAL_BACKOFF),
                |(_, b)| *b,
            );
            let delay = schedule.next_delay();
            self.backoff.insert(peer, (now + delay, schedule));
            let opts = DialOpts::peer_id(peer)
                .addresses(addrs)
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(e) = self.swarm.dial(opts) {
                tracing::debug!(member = %member.code, error = %e, "dial failed");
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { statement, reply } => {
                let _ = reply.send(self.publish(&statement));
            }
            Command::Request {
                peer,
                addrs,
                request,
                reply,
            } => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .direct
                    .send_request_with_addresses(&peer, request, addrs);
                self.pending.insert(id, reply);
            }
            Command::Respond { channel, response } => {
                let direct = &mut self.swarm.behaviour_mut().direct;
                if direct.send_response(channel, response).is_err() {
                    tracing::debug!("peer left before our answer");
                }
            }
            Command::Validated {
                message_id,
                source,
                acceptance,
            } => {
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &source, acceptance);
            }
            Command::Peers { reply } => {
                let _ = reply.send(self.peers());
            }
            Command::RosterChanged { reloaded } => self.reload_roster(reloaded),
            Command::RosterReloaded => self.on_roster_reloaded(),
        }
    }

    /// Publishes one of our `public` statements on gossip.
    fn publish(&mut self, statement: &SignedStatement) -> Result<(), NetError> {
        // The message is the COSE_Sign1 itself (docs/PROTOCOL.md section 4): its protected
        // header says which kind of statement it is.
        let data = statement.bytes().to_vec();
        self.swarm
            .behaviour_mut()
            .gossipsub
            .publish(self.topic.clone(), data)
            .map(|_| ())
            .map_err(NetError::Publish)
    }

    fn peers(&self) -> Vec<ConnectedPeer> {
        self.connected
            .iter()
            .map(|(peer, addrs)| ConnectedPeer {
                peer: *peer,
                addrs: addrs.clone(),
            })
            .collect()
    }

    /// Reloads the roster snapshot off this task; `reloaded` hears when it is done, and this
    /// loop then acts on it ([`Self::on_roster_reloaded`]).
    fn reload_roster(&self, reloaded: oneshot::Sender<()>) {
        let store = self.store.clone();
        let roster = self.roster.clone();
        let commands = self.client.commands.clone();
        let tasks = self.client.tasks.clone();
        self.client.tasks.spawn(async move {
            if tasks
                .spawn_blocking(move || roster.reload(&store))
                .await
                .is_ok()
            {
                let _ = commands.send(Command::RosterReloaded).await;
            }
            let _ = reloaded.send(());
        });
    }

    /// The roster snapshot changed: dial new members at once, and catch up from members that
    /// are connected already.
    fn on_roster_reloaded(&mut self) {
        self.backoff.clear();
        self.redial();
        // A member added while already connected (it dialled us first, as a stranger) gets no
        // new connection event: catch up from it now.
        let connected: Vec<PeerId> = self.connected.keys().copied().collect();
        for peer in connected {
            if let Some(member) = self.roster.member_of(&peer) {
                self.spawn_catch_up(peer, member);
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                if let Ok(mut l) = self.listening.write() {
                    l.push(address.to_string());
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                if let Ok(mut l) = self.listening.write() {
                    l.retain(|a| *a != address.to_string());
                }
            }
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                self.backoff.remove(&peer_id);
                self.connected
                    .entry(peer_id)
                    .or_default()
                    .push(endpoint.get_remote_address().clone());
                if let Some(member) = self.roster.member_of(&peer_id) {
                    tracing::info!(%member, peer = %peer_id, "member connected");
                    self.spawn_catch_up(peer_id, member);
                } else {
                    tracing::debug!(peer = %peer_id, "peer outside the roster connected");
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                if num_established == 0 {
                    self.connected.remove(&peer_id);
                    tracing::debug!(peer = %peer_id, "disconnected");
                } else if let Some(addrs) = self.connected.get_mut(&peer_id) {
                    let gone = endpoint.get_remote_address();
                    if let Some(i) = addrs.iter().position(|a| a == gone) {
                        addrs.remove(i);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self
                .work
                .gossip(propagation_source, message_id, message.data),
            SwarmEvent::Behaviour(BehaviourEvent::Direct(event)) => self.on_direct(event),
            _ => {}
        }
    }

    fn on_direct(&mut self, event: request_response::Event<DirectRequest, DirectResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => self.work.direct(peer, request, channel),
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(reply) = self.pending.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(NetError::Unreachable(error)));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound direct request failed");
            }
            _ => {}
        }
    }

    /// After a member connects: ask it, page by page, for what it released that we may see
    /// (bounded: see [`super::catch_up`]).
    fn spawn_catch_up(&self, peer: PeerId, member: MemberCode) {
        let catch_up =
            super::catch_up::catch_up(self.work.clone(), self.catching_up.clone(), peer, member);
        self.client.tasks.spawn(catch_up);
    }
}
