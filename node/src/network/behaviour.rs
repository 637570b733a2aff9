//! The composed libp2p behaviour and the swarm built from the node identity.

use std::time::Duration;

use datapact_protocol::wire::{
    DIRECT_PROTOCOL, DirectRequest, DirectResponse, MAX_DIRECT_REQUEST_LEN,
    MAX_DIRECT_RESPONSE_LEN, MAX_GOSSIP_LEN,
};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    StreamProtocol, Swarm, connection_limits, gossipsub, identify, noise, ping, tcp, yamux,
};

use super::DIRECT_TIMEOUT;

/// How long an idle connection stays open. Members stay connected: the redial loop reopens
/// what drops, and ping keeps NAT state warm.
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3600);

/// Connections a single peer may hold open to us at once.
pub const MAX_CONNECTIONS_PER_PEER: u32 = 4;
/// Incoming connections accepted at once: anyone may connect for `public` data, so cap it.
pub const MAX_INCOMING_CONNECTIONS: u32 = 256;
/// Incoming connections still in their handshake at once.
pub const MAX_PENDING_INCOMING: u32 = 64;

/// The TCP settings of every connection: Nagle off, so small frames (requests, grants) are not
/// held back behind a full segment.
pub fn tcp_config() -> tcp::Config {
    tcp::Config::default().nodelay(true)
}

/// The Yamux settings of every connection: libp2p's defaults (a receive window auto-tuned up
/// to 1 GiB per connection, 16 KiB data frames), which libp2p 0.57 does not let us change
/// beyond the stream count. The pull benchmark's bare-stream ceiling uses this too.
pub fn yamux_config() -> yamux::Config {
    yamux::Config::default()
}

/// Every behaviour of a datapact node.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub limits: connection_limits::Behaviour,
    pub identify: identify::Behaviour,
    pub ping: ping::Behaviour,
    pub gossipsub: gossipsub::Behaviour,
    pub direct: request_response::cbor::Behaviour<DirectRequest, DirectResponse>,
    /// Outbound content streams (our pulls).
    pub stream: libp2p_stream::Behaviour,
    /// Inbound content streams (pulls from us), queued by who opened them.
    pub pulls: super::inbound::Behaviour,
}

/// Why the swarm could not be built: each part libp2p may refuse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SwarmBuildError {
    /// The identity's seed is not a usable ed25519 key for libp2p.
    #[error("identity key: {0}")]
    Key(#[source] libp2p::identity::DecodingError),
    /// The noise handshake of the TCP transport could not be set up.
    #[error("transport: {0}")]
    Transport(#[source] noise::Error),
    /// A network behaviour (gossipsub, say) refused its configuration.
    #[error("behaviour: {0}")]
    Behaviour(#[source] libp2p::BehaviourBuilderError),
}

/// Builds the swarm for `identity`, serving inbound pull streams through `pulls`.
pub(crate) fn build_swarm(
    identity: &datapact_protocol::Identity,
    pulls: super::inbound::Behaviour,
) -> Result<Swarm<Behaviour>, SwarmBuildError> {
    let keypair = libp2p::identity::Keypair::ed25519_from_bytes(identity.seed())
        .map_err(SwarmBuildError::Key)?;
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(tcp_config(), noise::Config::new, yamux_config)
        .map_err(SwarmBuildError::Transport)?
        .with_behaviour(|key| {
            let gossip_config = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Strict)
                .validate_messages()
                .max_transmit_size(MAX_GOSSIP_LEN)
                .heartbeat_interval(Duration::from_millis(500))
                .build()
                .map_err(|e| e.to_string())?;
            let gossipsub = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gossip_config,
            )?;
            let codec = request_response::cbor::codec::Codec::default()
                .set_request_size_maximum(MAX_DIRECT_REQUEST_LEN)
                .set_response_size_maximum(MAX_DIRECT_RESPONSE_LEN);
            let direct = request_response::Behaviour::with_codec(
                codec,
                [(StreamProtocol::new(DIRECT_PROTOCOL), ProtocolSupport::Full)],
                request_response::Config::default().with_request_timeout(DIRECT_TIMEOUT),
            );
            let limits = connection_limits::ConnectionLimits::default()
                .with_max_established_per_peer(Some(MAX_CONNECTIONS_PER_PEER))
                .with_max_established_incoming(Some(MAX_INCOMING_CONNECTIONS))
                .with_max_pending_incoming(Some(MAX_PENDING_INCOMING));
            Ok(Behaviour {
                limits: connection_limits::Behaviour::new(limits),
                identify: identify::Behaviour::new(identify::Config::new(
                    "/datapact/1".to_owned(),
                    key.public(),
                )),
                ping: ping::Behaviour::new(ping::Config::new()),
                gossipsub,
                direct,
                stream: libp2p_stream::Behaviour::new(),
                pulls,
            })
        })
        .map_err(SwarmBuildError::Behaviour)?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .build();
    Ok(swarm)
}
