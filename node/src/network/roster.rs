//! The network's in-memory copy of the roster: which PeerIds are members, under which member
//! code, at which addresses. The swarm task (redials, sorting a new connection into member or
//! stranger), every connection's stream handler and the content server (who is asking) read
//! it without touching the store, so none of them ever waits on the disk. It is reloaded, off
//! the swarm task, whenever the roster changes, before the change is reported done.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use datapact_protocol::MemberCode;
use libp2p::{Multiaddr, PeerId};

use crate::store::Store;

/// One member as the network needs it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// Its member code, for logs and for catching up from it.
    pub code: MemberCode,
    /// Where to dial it (the roster's addresses that parse).
    pub addrs: Vec<Multiaddr>,
}

/// A shared, cheaply cloned view of the roster keyed by PeerId.
#[derive(Debug, Clone, Default)]
pub(crate) struct RosterSnapshot(Arc<RwLock<HashMap<PeerId, Member>>>);

impl RosterSnapshot {
    /// A snapshot loaded from `store` (empty if the store cannot be read).
    pub(crate) fn load(store: &Store) -> Self {
        let snapshot = Self::default();
        snapshot.reload(store);
        snapshot
    }

    /// Reloads the roster from `store` (reads the disk: call it off the swarm task). Kept as
    /// it was if the store cannot be read.
    pub(crate) fn reload(&self, store: &Store) {
        let Ok(roster) = store.roster() else {
            return;
        };
        let fresh = roster
            .iter()
            .map(|e| {
                let addrs = e.addrs.iter().filter_map(|a| a.parse().ok()).collect();
                let code = e.member.clone();
                (e.peer_id, Member { code, addrs })
            })
            .collect();
        if let Ok(mut held) = self.0.write() {
            *held = fresh;
        }
    }

    /// Whether `peer` is a roster member.
    pub(crate) fn contains(&self, peer: &PeerId) -> bool {
        self.0.read().is_ok_and(|r| r.contains_key(peer))
    }

    /// The roster entry of `peer`, if it is a roster member.
    pub(crate) fn get(&self, peer: &PeerId) -> Option<Member> {
        self.0.read().ok().and_then(|r| r.get(peer).cloned())
    }

    /// The member code of `peer`, if it is a roster member.
    pub(crate) fn member_of(&self, peer: &PeerId) -> Option<MemberCode> {
        self.0
            .read()
            .ok()
            .and_then(|r| r.get(peer).map(|m| m.code.clone()))
    }

    /// Every member, for the redial tick.
    pub(crate) fn members(&self) -> Vec<(PeerId, Member)> {
        self.0
            .read()
            .map(|r| r.iter().map(|(p, m)| (*p, m.clone())).collect())
            .unwrap_or_default()
    }
}
