//! `id` and the roster: `members add|remove|list`.

use datapact_protocol::{MemberCode, PublicKey};

use super::{Context, OpError};
use crate::api::{ErrorKind, IdInfo, MemberInfo};
use crate::store::{LogEntry, LogEvent, RosterEntry, StoreError, now};

/// Why a roster change failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MembersError {
    /// Bad member code.
    #[error("{0}")]
    Member(#[from] datapact_protocol::IdError),
    /// Bad PeerId.
    #[error("{0}")]
    PeerId(#[from] datapact_protocol::IdentityError),
    /// Bad multiaddr.
    #[error("invalid address {0:?}: expected a multiaddr such as /ip4/192.0.2.10/tcp/7470")]
    Addr(String),
    /// Our own code or key.
    #[error("{0} is this node itself; the roster lists other members")]
    Itself(String),
    /// The PeerId is already in the roster under another code.
    #[error("PeerId {peer} is already in the roster as {member}")]
    DuplicatePeer {
        /// The PeerId.
        peer: String,
        /// The code it is listed under.
        member: String,
    },
    /// Removing a member that is not there.
    #[error("{0} is not in the roster")]
    NotInRoster(String),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl OpError for MembersError {
    fn kind(&self) -> ErrorKind {
        match self {
            MembersError::NotInRoster(_) | MembersError::Store(_) => ErrorKind::Failed,
            _ => ErrorKind::BadInput,
        }
    }
}

/// Most addresses one roster entry may list.
pub const MAX_MEMBER_ADDRS: usize = 16;

/// `datapact id`.
pub fn id(ctx: &Context) -> IdInfo {
    let listening = ctx.listening.read().map(|l| l.clone()).unwrap_or_default();
    IdInfo {
        member: ctx.home.member.to_string(),
        peer_id: ctx.home.identity.peer_id().to_string(),
        public_key: ctx.home.identity.public_key().to_string(),
        running: true,
        listen: if listening.is_empty() {
            ctx.home.listen.clone()
        } else {
            listening
        },
    }
}

fn info(entry: &RosterEntry) -> MemberInfo {
    MemberInfo {
        member: entry.member.to_string(),
        peer_id: entry.peer_id.to_string(),
        public_key: PublicKey::from_peer_id(&entry.peer_id)
            .map(|k| k.to_string())
            .unwrap_or_default(),
        addrs: entry.addrs.clone(),
    }
}

/// `datapact members add CODE PEER_ID [--addr MULTIADDR]...`.
pub async fn add(
    ctx: &Context,
    member: &str,
    peer_id: &str,
    addrs: Vec<String>,
) -> Result<MemberInfo, MembersError> {
    let member = MemberCode::new(member)?;
    let key = PublicKey::from_peer_id_str(peer_id)?;
    let peer_id = key.peer_id();
    if member == ctx.home.member {
        return Err(MembersError::Itself(member.to_string()));
    }
    if key == ctx.home.identity.public_key() {
        return Err(MembersError::Itself(peer_id.to_string()));
    }
    if addrs.len() > MAX_MEMBER_ADDRS {
        return Err(MembersError::Addr(format!(
            "more than {MAX_MEMBER_ADDRS} addresses"
        )));
    }
    for a in &addrs {
        a.parse::<libp2p::Multiaddr>()
            .map_err(|_| MembersError::Addr(a.chars().take(100).collect()))?;
    }
    if let Some(other) = ctx
        .store
        .roster()?
        .into_iter()
        .find(|e| e.peer_id == peer_id)
        && other.member != member
    {
        return Err(MembersError::DuplicatePeer {
            peer: peer_id.to_string(),
            member: other.member.to_string(),
        });
    }
    let entry = RosterEntry {
        member: member.clone(),
        peer_id,
        addrs,
        added_at: now(),
    };
    ctx.store.roster_put(&entry)?;
    let mut log = LogEntry::new(LogEvent::MemberAdded, entry.added_at);
    log.member = Some(member.to_string());
    log.peer = Some(peer_id.to_string());
    ctx.store.append_log(log)?;
    ctx.store.flush().await?;
    let _ = ctx.network.roster_changed().await;
    super::announce::deliver_backlog(ctx, &member, peer_id);
    Ok(info(&entry))
}

/// `datapact members remove CODE`.
pub async fn remove(ctx: &Context, member: &str) -> Result<MemberInfo, MembersError> {
    let member = MemberCode::new(member)?;
    let entry = ctx
        .store
        .roster_get(&member)?
        .ok_or_else(|| MembersError::NotInRoster(member.to_string()))?;
    ctx.store.roster_remove(&member)?;
    let mut log = LogEntry::new(LogEvent::MemberRemoved, now());
    log.member = Some(member.to_string());
    log.peer = Some(entry.peer_id.to_string());
    ctx.store.append_log(log)?;
    ctx.store.flush().await?;
    let _ = ctx.network.roster_changed().await;
    Ok(info(&entry))
}

/// `datapact members list`.
pub fn list(ctx: &Context) -> Result<Vec<MemberInfo>, MembersError> {
    Ok(ctx.store.roster()?.iter().map(info).collect())
}
