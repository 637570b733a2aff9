//! `id` and the roster: `members add|remove|list`.

use datapact_protocol::{MemberCode, PublicKey};
use libp2p::PeerId;
use tokio::task::JoinError;

use super::{Context, OpError, Operation, Progress, blocking};
use crate::api::{ErrorKind, Id, IdInfo, MemberInfo, MembersAdd, MembersList, MembersRemove};
use crate::store::{LogEntry, LogEvent, RosterEntry, RosterSource, Store, StoreError, now};

/// Why a roster change failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MembersError {
    /// The PeerId embeds no usable ed25519 key.
    #[error("{0}")]
    PeerId(#[from] datapact_protocol::IdentityError),
    /// An address that is not a multiaddr (the first 100 characters of it).
    #[error("invalid address {0:?}: expected a multiaddr such as /ip4/192.0.2.10/tcp/7470")]
    Addr(String),
    /// More addresses than one entry may list.
    #[error("invalid address list: {0} addresses, more than {MAX_MEMBER_ADDRS}")]
    TooManyAddrs(usize),
    /// Our own member code.
    #[error("{0} is this node itself; the roster lists other members")]
    OurCode(MemberCode),
    /// Our own key.
    #[error("{0} is this node itself; the roster lists other members")]
    OurKey(PeerId),
    /// The PeerId is already in the roster under another code.
    #[error("PeerId {peer} is already in the roster as {member}")]
    DuplicatePeer {
        /// The PeerId.
        peer: PeerId,
        /// The code it is listed under.
        member: MemberCode,
    },
    /// Removing a member that is not there.
    #[error("{0} is not in the roster")]
    NotInRoster(MemberCode),
    /// Adding a local entry for a member the adopted charter lists: the charter's entry wins.
    #[error(
        "{0} is a member in the federation charter, whose entry wins over a local one; change it with `datapact federation propose`"
    )]
    CharterMemberAdd(MemberCode),
    /// Removing a member the adopted charter lists: only a new charter version removes it.
    #[error(
        "{0} is a member in the federation charter; propose its removal with `datapact federation propose remove {0}`"
    )]
    CharterMemberRemove(MemberCode),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The task reading or writing the roster ended before it finished.
    #[error("roster operation interrupted: {0}")]
    Interrupted(#[from] JoinError),
}

impl OpError for MembersError {
    fn kind(&self) -> ErrorKind {
        match self {
            MembersError::NotInRoster(_)
            | MembersError::Store(_)
            | MembersError::Interrupted(_) => ErrorKind::Failed,
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
        member: ctx.home.member.clone(),
        peer_id: ctx.home.identity.peer_id(),
        public_key: ctx.home.identity.public_key().to_string(),
        running: true,
        listen: if listening.is_empty() {
            ctx.home.listen.clone()
        } else {
            listening
        },
    }
}

/// How the API shows a roster entry that comes from `source`.
pub(crate) fn info(entry: &RosterEntry, source: RosterSource) -> MemberInfo {
    MemberInfo {
        member: entry.member.clone(),
        peer_id: entry.peer_id,
        public_key: PublicKey::from_peer_id(&entry.peer_id)
            .map(|k| k.to_string())
            .unwrap_or_default(),
        addrs: entry.addrs.clone(),
        source,
    }
}

/// `datapact members add CODE PEER_ID [--addr MULTIADDR]...`.
pub async fn add(ctx: &Context, request: MembersAdd) -> Result<MemberInfo, MembersError> {
    let MembersAdd {
        member,
        peer_id,
        addrs,
    } = request;
    let key = PublicKey::from_peer_id(&peer_id)?;
    if member == ctx.home.member {
        return Err(MembersError::OurCode(member));
    }
    if key == ctx.home.identity.public_key() {
        return Err(MembersError::OurKey(peer_id));
    }
    if addrs.len() > MAX_MEMBER_ADDRS {
        return Err(MembersError::TooManyAddrs(addrs.len()));
    }
    for a in &addrs {
        a.parse::<libp2p::Multiaddr>()
            .map_err(|_| MembersError::Addr(a.chars().take(100).collect()))?;
    }
    let entry = RosterEntry {
        member: member.clone(),
        peer_id,
        addrs,
        added_at: now(),
    };
    let entry = blocking(ctx, move |ctx| put_member(&ctx.store, entry)).await?;
    ctx.store.flush().await?;
    let _ = ctx.network.roster_changed().await;
    blocking(ctx, move |ctx| {
        super::announce::deliver_backlog(ctx, &member, peer_id);
        Ok::<_, MembersError>(())
    })
    .await?;
    Ok(info(&entry, RosterSource::Local))
}

/// Puts `entry` in the roster and logs it, unless its PeerId is listed under another code.
fn put_member(store: &Store, entry: RosterEntry) -> Result<RosterEntry, MembersError> {
    if store.roster_source(&entry.member)? == Some(RosterSource::Charter) {
        return Err(MembersError::CharterMemberAdd(entry.member));
    }
    if let Some(other) = store.roster_by_peer(&entry.peer_id)?
        && other.member != entry.member
    {
        return Err(MembersError::DuplicatePeer {
            peer: entry.peer_id,
            member: other.member,
        });
    }
    store.roster_put(&entry)?;
    let mut log = LogEntry::new(LogEvent::MemberAdded, entry.added_at);
    log.member = Some(entry.member.to_string());
    log.peer = Some(entry.peer_id.to_string());
    store.append_log(log)?;
    Ok(entry)
}

/// `datapact members remove CODE`.
pub async fn remove(ctx: &Context, member: MemberCode) -> Result<MemberInfo, MembersError> {
    let entry = blocking(ctx, move |ctx| {
        if ctx.store.roster_source(&member)? == Some(RosterSource::Charter) {
            return Err(MembersError::CharterMemberRemove(member));
        }
        let entry = ctx
            .store
            .roster_local_get(&member)?
            .ok_or_else(|| MembersError::NotInRoster(member.clone()))?;
        ctx.store.roster_remove(&member)?;
        let mut log = LogEntry::new(LogEvent::MemberRemoved, now());
        log.member = Some(member.to_string());
        log.peer = Some(entry.peer_id.to_string());
        ctx.store.append_log(log)?;
        Ok::<_, MembersError>(entry)
    })
    .await?;
    ctx.store.flush().await?;
    let _ = ctx.network.roster_changed().await;
    Ok(info(&entry, RosterSource::Local))
}

/// `datapact members list`.
pub async fn list(ctx: &Context) -> Result<Vec<MemberInfo>, MembersError> {
    blocking(ctx, |ctx| {
        Ok(ctx
            .store
            .roster_with_sources()?
            .iter()
            .map(|(entry, source)| info(entry, *source))
            .collect())
    })
    .await
}

impl Operation for Id {
    type Error = std::convert::Infallible;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<IdInfo, Self::Error> {
        Ok(id(ctx))
    }
}

impl Operation for MembersAdd {
    type Error = MembersError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<MemberInfo, MembersError> {
        add(ctx, self).await
    }
}

impl Operation for MembersRemove {
    type Error = MembersError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<MemberInfo, MembersError> {
        remove(ctx, self.member).await
    }
}

impl Operation for MembersList {
    type Error = MembersError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<Vec<MemberInfo>, MembersError> {
        list(ctx).await
    }
}
