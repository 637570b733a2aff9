//! Who gets the owner's serving capacity, and what the access log says about those who do not.
//!
//! Every peer may be hostile, and a peer outside the roster mints new keys for free. So:
//!
//! - A stream costs nothing until its request frame has arrived, whole and well formed, within
//!   [`REQUEST_DEADLINE`]; while it waits it holds a *waiting* place, of which each member has
//!   its own few and strangers (peers outside the roster) share a few. A stream beyond them is
//!   closed unread.
//! - A well-formed request then needs room in a *request budget* per [`REQUEST_WINDOW`] (each
//!   member its own, strangers one shared budget) and a *serving slot* (each member a few of
//!   the members' slots, strangers a small share of their own). So strangers can never lock
//!   members out, and one member can take only its own part.
//! - A request refused for lack of budget or slot is answered "busy" and counted, not logged
//!   one by one: every [`REFUSAL_SUMMARY_INTERVAL`] the counts become one access-log entry for
//!   strangers and one per member ([`LogEvent::PullsRefused`]). A flood leaves a bounded
//!   number of entries; a member's refusals are never dropped, only coalesced.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use datapact_protocol::MemberCode;
use libp2p::PeerId;

use super::roster::RosterSnapshot;
use crate::store::{LogEntry, LogEvent, now};

/// Longest time from a pull stream's opening to the end of its request frame. A stream that
/// has not sent a whole request by then is closed; it never held a serving slot.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
/// Streams of one member waiting for their request frame at once.
pub const MAX_WAITING_PER_MEMBER: usize = 8;
/// Streams of all strangers together waiting for their request frame at once.
pub const MAX_WAITING_STRANGERS: usize = 16;
/// Pull requests served at once for all members together.
pub const MAX_CONCURRENT_SERVES: usize = 32;
/// Pull requests of one member served at once.
pub const MAX_SERVES_PER_MEMBER: usize = 8;
/// Pull requests of all strangers together served at once: their own small share, beside the
/// members' slots.
pub const MAX_STRANGER_SERVES: usize = 4;
/// Pull requests one member may make per [`REQUEST_WINDOW`].
pub const MAX_REQUESTS_PER_WINDOW: u32 = 120;
/// Pull requests all strangers together may make per [`REQUEST_WINDOW`]; each of them is
/// decided and logged one by one.
pub const MAX_STRANGER_REQUESTS_PER_WINDOW: u32 = 100;
/// The window of the request budgets.
pub const REQUEST_WINDOW: Duration = Duration::from_secs(60);
/// How often the refusals counted since the last summary are written to the access log.
pub const REFUSAL_SUMMARY_INTERVAL: Duration = Duration::from_secs(10);
/// Distinct strangers counted by name in one summary; beyond that the count says "at least".
const MAX_COUNTED_STRANGERS: usize = 1024;

/// The peer behind a pull stream, as our roster sees it when the stream opens.
#[derive(Debug, Clone)]
pub(crate) struct Requester {
    /// Its authenticated PeerId.
    pub peer: PeerId,
    /// Its member code, if the roster lists it; `None` for a stranger.
    pub member: Option<MemberCode>,
    /// Its roster addresses, kept with a granted pull so a revocation can reach it later.
    pub addrs: Vec<String>,
}

impl Requester {
    /// Looks `peer` up in the in-memory roster (never the store: a flood of streams must not
    /// cost a roster read each).
    pub fn of(roster: &RosterSnapshot, peer: PeerId) -> Self {
        let (member, addrs) = match roster.get(&peer) {
            Some(m) => (
                Some(m.code),
                m.addrs.iter().map(ToString::to_string).collect(),
            ),
            None => (None, Vec::new()),
        };
        Self {
            peer,
            member,
            addrs,
        }
    }

    /// The share of capacity it draws on: its own as a member, the strangers' otherwise.
    fn class(&self) -> Class {
        self.member.as_ref().map(|_| self.peer)
    }
}

/// A member's PeerId, or `None` for all strangers together.
type Class = Option<PeerId>;

/// Refusals counted since the last summary.
#[derive(Default)]
struct Refused {
    /// Unix seconds of the first one.
    since: Option<u64>,
    /// Requests of strangers refused.
    strangers: u64,
    /// Which strangers (up to [`MAX_COUNTED_STRANGERS`]).
    stranger_peers: HashSet<PeerId>,
    /// Requests of each member refused, by PeerId.
    members: BTreeMap<PeerId, (MemberCode, u64)>,
}

#[derive(Default)]
struct State {
    waiting: HashMap<Class, usize>,
    serving: HashMap<Class, usize>,
    members_serving: usize,
    window_start: Option<Instant>,
    requests: HashMap<Class, u32>,
    refused: Refused,
}

/// The owner's serving capacity and request budgets, shared by every pull stream.
#[derive(Default)]
pub(crate) struct Admission {
    state: Mutex<State>,
}

/// A waiting place, held from a stream's opening until its request frame arrived.
pub(crate) struct Waiting {
    admission: Arc<Admission>,
    class: Class,
}

/// A serving slot, held while one request is answered and its content sent.
pub(crate) struct Serving {
    admission: Arc<Admission>,
    class: Class,
}

impl Admission {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The counts stay meaningful even if a holder panicked.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A waiting place for a newly opened stream of `requester`, if its class has one free.
    pub fn wait(self: &Arc<Self>, requester: &Requester) -> Option<Waiting> {
        let class = requester.class();
        let cap = match class {
            Some(_) => MAX_WAITING_PER_MEMBER,
            None => MAX_WAITING_STRANGERS,
        };
        let mut state = self.lock();
        let waiting = state.waiting.entry(class).or_insert(0);
        if *waiting >= cap {
            return None;
        }
        *waiting += 1;
        Some(Waiting {
            admission: self.clone(),
            class,
        })
    }

    /// Admits a well-formed request of `requester` at `now`: within its budget and with a free
    /// serving slot. `None` means "busy"; the refusal is counted for the next summary.
    pub fn admit(self: &Arc<Self>, requester: &Requester, now: Instant) -> Option<Serving> {
        let class = requester.class();
        let mut state = self.lock();
        if state
            .window_start
            .is_none_or(|start| now.duration_since(start) >= REQUEST_WINDOW)
        {
            state.window_start = Some(now);
            state.requests.clear();
        }
        let budget = match class {
            Some(_) => MAX_REQUESTS_PER_WINDOW,
            None => MAX_STRANGER_REQUESTS_PER_WINDOW,
        };
        let within_budget = state.requests.get(&class).copied().unwrap_or(0) < budget;
        let serving = state.serving.get(&class).copied().unwrap_or(0);
        let slot_free = match class {
            Some(_) => {
                serving < MAX_SERVES_PER_MEMBER && state.members_serving < MAX_CONCURRENT_SERVES
            }
            None => serving < MAX_STRANGER_SERVES,
        };
        if !(within_budget && slot_free) {
            state.refused.count(requester);
            return None;
        }
        *state.requests.entry(class).or_insert(0) += 1;
        *state.serving.entry(class).or_insert(0) += 1;
        if class.is_some() {
            state.members_serving += 1;
        }
        Some(Serving {
            admission: self.clone(),
            class,
        })
    }

    /// The refusals counted since the last call, as access-log entries (none if there were
    /// none): one for all strangers, one per member.
    pub fn take_summaries(&self) -> Vec<LogEntry> {
        let refused = std::mem::take(&mut self.lock().refused);
        refused.into_entries(now())
    }
}

impl Refused {
    fn count(&mut self, requester: &Requester) {
        self.since.get_or_insert_with(now);
        match &requester.member {
            Some(member) => {
                self.members
                    .entry(requester.peer)
                    .or_insert_with(|| (member.clone(), 0))
                    .1 += 1;
            }
            None => {
                self.strangers += 1;
                if self.stranger_peers.len() < MAX_COUNTED_STRANGERS {
                    self.stranger_peers.insert(requester.peer);
                }
            }
        }
    }

    fn into_entries(self, time: u64) -> Vec<LogEntry> {
        let Some(since) = self.since else {
            return Vec::new();
        };
        let refused = |count: u64| {
            format!(
                "{count} refused as busy (over the request budget or no free slot) since {}",
                datapact_protocol::time::format_unix(since)
            )
        };
        let entry = |count: u64, reason: String| {
            let mut e = LogEntry::new(LogEvent::PullsRefused, time);
            e.granted = Some(false);
            e.count = Some(count);
            e.reason = Some(reason);
            e
        };
        let mut out = Vec::new();
        if self.strangers > 0 {
            let peers = self.stranger_peers.len();
            let at_least = if peers >= MAX_COUNTED_STRANGERS {
                "at least "
            } else {
                ""
            };
            let noun = if peers == 1 { "peer" } else { "peers" };
            out.push(entry(
                self.strangers,
                format!(
                    "{}, from {at_least}{peers} {noun} outside the roster; not logged one by one",
                    refused(self.strangers)
                ),
            ));
        }
        for (peer, (member, count)) in self.members {
            let mut e = entry(count, format!("{}; not logged one by one", refused(count)));
            e.peer = Some(peer.to_string());
            e.member = Some(member.to_string());
            out.push(e);
        }
        out
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut state = self.admission.lock();
        if let Some(n) = state.waiting.get_mut(&self.class) {
            *n = n.saturating_sub(1);
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let mut state = self.admission.lock();
        if let Some(n) = state.serving.get_mut(&self.class) {
            *n = n.saturating_sub(1);
        }
        if self.class.is_some() {
            state.members_serving = state.members_serving.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn stranger() -> Requester {
        Requester {
            peer: PeerId::random(),
            member: None,
            addrs: Vec::new(),
        }
    }

    fn member(code: &str) -> Requester {
        Requester {
            peer: PeerId::random(),
            member: Some(MemberCode::new(code).unwrap()),
            addrs: Vec::new(),
        }
    }

    #[test]
    fn strangers_share_their_waiting_places_and_members_keep_theirs() {
        let admission = Arc::new(Admission::default());
        let held: Vec<Waiting> = (0..MAX_WAITING_STRANGERS)
            .map(|_| admission.wait(&stranger()).expect("a place"))
            .collect();
        assert!(
            admission.wait(&stranger()).is_none(),
            "a fresh key is no help"
        );
        let mmr = member("MMR");
        let mine: Vec<Waiting> = (0..MAX_WAITING_PER_MEMBER)
            .map(|_| admission.wait(&mmr).expect("a member's own place"))
            .collect();
        assert!(admission.wait(&mmr).is_none());
        assert!(admission.wait(&member("AUS")).is_some());
        drop(held);
        assert!(admission.wait(&stranger()).is_some(), "places come back");
        drop(mine);
    }

    #[test]
    fn strangers_never_take_the_members_slots() {
        let admission = Arc::new(Admission::default());
        let t0 = Instant::now();
        let held: Vec<Serving> = (0..MAX_STRANGER_SERVES)
            .map(|_| admission.admit(&stranger(), t0).expect("a slot"))
            .collect();
        assert!(admission.admit(&stranger(), t0).is_none());
        let mmr = member("MMR");
        let mine: Vec<Serving> = (0..MAX_SERVES_PER_MEMBER)
            .map(|_| admission.admit(&mmr, t0).expect("a member's slot"))
            .collect();
        assert!(
            admission.admit(&mmr, t0).is_none(),
            "one member's part only"
        );
        assert!(admission.admit(&member("AUS"), t0).is_some());
        drop((held, mine));
    }

    #[test]
    fn budgets_are_per_member_and_shared_by_strangers() {
        let admission = Arc::new(Admission::default());
        let t0 = Instant::now();
        for _ in 0..MAX_STRANGER_REQUESTS_PER_WINDOW {
            assert!(admission.admit(&stranger(), t0).is_some());
        }
        assert!(
            admission.admit(&stranger(), t0).is_none(),
            "fresh keys share one budget"
        );
        let mmr = member("MMR");
        for _ in 0..MAX_REQUESTS_PER_WINDOW {
            assert!(admission.admit(&mmr, t0).is_some());
        }
        assert!(admission.admit(&mmr, t0).is_none());
        assert!(
            admission.admit(&member("AUS"), t0).is_some(),
            "its own budget"
        );
        assert!(
            admission.admit(&stranger(), t0 + REQUEST_WINDOW).is_some(),
            "a new window starts afresh"
        );
    }

    #[test]
    fn refusals_become_one_entry_for_strangers_and_one_per_member() {
        let admission = Arc::new(Admission::default());
        let t0 = Instant::now();
        let strangers: Vec<Requester> = (0..3).map(|_| stranger()).collect();
        let mut held = Vec::new();
        for s in strangers.iter().cycle().take(MAX_STRANGER_SERVES + 30) {
            if let Some(slot) = admission.admit(s, t0) {
                held.push(slot);
            }
        }
        let mmr = member("MMR");
        for _ in 0..MAX_SERVES_PER_MEMBER + 2 {
            if let Some(slot) = admission.admit(&mmr, t0) {
                held.push(slot);
            }
        }
        let entries = admission.take_summaries();
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(entries[0].count, Some(30));
        assert_eq!(entries[0].member, None);
        let reason = entries[0].reason.as_deref().unwrap();
        assert!(
            reason
                .starts_with("30 refused as busy (over the request budget or no free slot) since "),
            "{reason}"
        );
        assert!(
            reason.ends_with(", from 3 peers outside the roster; not logged one by one"),
            "{reason}"
        );
        assert_eq!(entries[1].count, Some(2));
        assert_eq!(entries[1].member.as_deref(), Some("MMR"));
        assert_eq!(entries[1].peer, Some(mmr.peer.to_string()));
        assert!(
            entries
                .iter()
                .all(|e| e.event == LogEvent::PullsRefused && e.granted == Some(false))
        );
        assert!(admission.take_summaries().is_empty(), "counted once");
    }
}
