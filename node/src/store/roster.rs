//! The roster: the members this node trusts. It is the newest adopted charter's members
//! (source [`RosterSource::Charter`]) plus the operator's own entries (source
//! [`RosterSource::Local`], made by `members add`). A code or PeerId that the charter lists
//! wins over a local entry of the same code or PeerId, so that each member code and each key
//! stands for one member. A local entry hidden that way is kept, and shows again if the
//! charter stops listing that member: it is the operator's.
//!
//! Every reader of the roster (pulls, policy decisions, catch-up, delivery, audit) uses
//! [`Store::roster`], [`Store::roster_get`] or [`Store::roster_by_peer`], so they all see the
//! same effective roster.

use std::collections::HashSet;

use datapact_protocol::{MemberCode, PeerId};

use super::charter::RosterSource;
use super::records::{self, RosterEntry};
use super::{MAX_RECORD_LEN, Store, StoreError};

impl Store {
    /// Adds or replaces an entry of the operator's own (local) roster.
    pub fn roster_put(&self, entry: &RosterEntry) -> Result<(), StoreError> {
        self.roster
            .insert(entry.member.as_str().as_bytes(), records::encode(entry))?;
        Ok(())
    }

    /// Removes an entry of the operator's own roster; returns whether it was there.
    pub fn roster_remove(&self, member: &MemberCode) -> Result<bool, StoreError> {
        Ok(self.roster.remove(member.as_str().as_bytes())?.is_some())
    }

    /// The operator's own entry of `member`, whether or not the charter hides it.
    pub fn roster_local_get(&self, member: &MemberCode) -> Result<Option<RosterEntry>, StoreError> {
        self.roster
            .get(member.as_str().as_bytes())?
            .map(|v| records::decode(&v, MAX_RECORD_LEN))
            .transpose()
    }

    /// The effective roster entry of `member`.
    pub fn roster_get(&self, member: &MemberCode) -> Result<Option<RosterEntry>, StoreError> {
        let charter = self.charter_roster()?;
        if let Some(entry) = charter.iter().find(|e| e.member == *member) {
            return Ok(Some(entry.clone()));
        }
        Ok(self
            .roster_local_get(member)?
            .filter(|local| !charter.iter().any(|e| e.peer_id == local.peer_id)))
    }

    /// The effective roster, ordered by member code.
    pub fn roster(&self) -> Result<Vec<RosterEntry>, StoreError> {
        Ok(self
            .roster_with_sources()?
            .into_iter()
            .map(|(entry, _)| entry)
            .collect())
    }

    /// The effective roster with where each entry comes from, ordered by member code.
    pub fn roster_with_sources(&self) -> Result<Vec<(RosterEntry, RosterSource)>, StoreError> {
        let charter = self.charter_roster()?;
        let codes: HashSet<&MemberCode> = charter.iter().map(|e| &e.member).collect();
        let peers: HashSet<&PeerId> = charter.iter().map(|e| &e.peer_id).collect();
        let mut out: Vec<(RosterEntry, RosterSource)> = charter
            .iter()
            .map(|e| (e.clone(), RosterSource::Charter))
            .collect();
        for kv in self.roster.iter() {
            let local: RosterEntry = records::decode(&kv?.1, MAX_RECORD_LEN)?;
            if !codes.contains(&local.member) && !peers.contains(&local.peer_id) {
                out.push((local, RosterSource::Local));
            }
        }
        out.sort_by(|a, b| a.0.member.cmp(&b.0.member));
        Ok(out)
    }

    /// Where the effective entry of `member` comes from, if it is in the roster.
    pub fn roster_source(&self, member: &MemberCode) -> Result<Option<RosterSource>, StoreError> {
        if self.charter_roster()?.iter().any(|e| e.member == *member) {
            return Ok(Some(RosterSource::Charter));
        }
        Ok(self.roster_get(member)?.map(|_| RosterSource::Local))
    }

    /// The effective roster entry whose PeerId is `peer`, if any.
    pub fn roster_by_peer(&self, peer: &PeerId) -> Result<Option<RosterEntry>, StoreError> {
        if let Some(entry) = self.charter_roster()?.iter().find(|e| e.peer_id == *peer) {
            return Ok(Some(entry.clone()));
        }
        Ok(self.roster()?.into_iter().find(|e| e.peer_id == *peer))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use datapact_protocol::Identity;

    use super::super::charter::Adoption;
    use super::*;
    use crate::home::Layout;

    fn entry(code: &str, seed: u8) -> RosterEntry {
        RosterEntry {
            member: MemberCode::new(code).unwrap(),
            peer_id: Identity::from_seed(&[seed; 32]).peer_id(),
            addrs: vec![],
            added_at: 1,
        }
    }

    #[test]
    fn the_charter_wins_over_local_entries_of_its_codes_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Layout::new(dir.path())).unwrap();
        store.roster_put(&entry("MMR", 1)).unwrap(); // hidden: the charter lists MMR
        store.roster_put(&entry("OLD", 2)).unwrap(); // hidden: its key is KHM's in the charter
        store.roster_put(&entry("VNM", 3)).unwrap(); // kept
        store
            .adopt_charter(Adoption {
                versions: vec![(1, b"v1")],
                roster: vec![entry("MMR", 4), entry("KHM", 2)],
                resolves_fork: false,
            })
            .unwrap();
        let sourced = store.roster_with_sources().unwrap();
        assert_eq!(
            sourced,
            vec![
                (entry("KHM", 2), RosterSource::Charter),
                (entry("MMR", 4), RosterSource::Charter),
                (entry("VNM", 3), RosterSource::Local),
            ]
        );
        let mmr = MemberCode::new("MMR").unwrap();
        assert_eq!(store.roster_get(&mmr).unwrap(), Some(entry("MMR", 4)));
        assert_eq!(store.roster_local_get(&mmr).unwrap(), Some(entry("MMR", 1)));
        let old = MemberCode::new("OLD").unwrap();
        assert_eq!(store.roster_get(&old).unwrap(), None);
        assert_eq!(
            store.roster_by_peer(&entry("OLD", 2).peer_id).unwrap(),
            Some(entry("KHM", 2))
        );
        assert_eq!(
            store.roster_by_peer(&entry("MMR", 1).peer_id).unwrap(),
            None
        );
        assert_eq!(
            store
                .roster_source(&MemberCode::new("VNM").unwrap())
                .unwrap(),
            Some(RosterSource::Local)
        );
        assert_eq!(
            store.roster_source(&mmr).unwrap(),
            Some(RosterSource::Charter)
        );
    }
}
