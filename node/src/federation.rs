//! The federation rules that need the store: whether to believe a received statement, and
//! what this node tells a peer that asks to catch up.
//!
//! A statement is believed only when its signature verifies against the roster key of the
//! member it names as owner. Restricted (`members`, `only:`) announcements are believed only
//! from their owner directly, never from gossip, and are never passed on (docs/design.md section 4).
//! What one member can make this node keep is capped ([`ReceiveLimits`]): past its cap, its
//! statements are refused, and another member's are not affected.

use datapact_protocol::wire::{self, DirectResponse, SignedStatement};
use datapact_protocol::{
    Audience, MemberCode, PeerId, PublicKey, SignedAnnouncement, SignedReceipt, SignedRevocation,
};

use crate::home::ReceiveLimits;
use crate::store::{Admission, DatasetRecord, Origin, Store, StoreError, Usage, now};
pub use crate::verdict::{ReceiptRefused, Rejection, Verdict};

/// How a statement reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Relayed on gossipsub by anyone.
    Gossip,
    /// Handed to us directly (delivery or catch-up) by this peer.
    Direct(PeerId),
}

/// Checks the signer against the owner's roster key; returns the owner's PeerId.
fn owner_peer(store: &Store, owner: &MemberCode, signer: &PublicKey) -> Result<PeerId, Rejection> {
    let entry = store
        .roster_get(owner)
        .map_err(Rejection::Store)?
        .ok_or_else(|| Rejection::OwnerNotInRoster(owner.clone()))?;
    let key = PublicKey::from_peer_id(&entry.peer_id).map_err(Rejection::RosterKey)?;
    if key != *signer {
        return Err(Rejection::NotOwnersKey(owner.clone()));
    }
    Ok(key.peer_id())
}

/// Who "we" are, for judging statements: a statement naming us as owner must carry our key.
#[derive(Debug, Clone)]
pub struct Local {
    /// Our member code.
    pub member: MemberCode,
    /// Our public key.
    pub key: PublicKey,
    /// How much we keep of each other member's statements.
    pub limits: ReceiveLimits,
}

impl Local {
    /// The local member of a loaded node directory.
    pub fn of(home: &crate::home::Home) -> Self {
        Self {
            member: home.member.clone(),
            key: home.identity.public_key(),
            limits: home.limits,
        }
    }
}

/// The verdict on a statement refused because its owner reached its cap. The refusal is
/// logged as a warning at the 1st, 2nd, 4th, 8th... refusal of that owner, so a flood shows
/// in the log without filling it.
fn over_cap(owner: &MemberCode, usage: Usage, limits: &ReceiveLimits) -> Verdict {
    if usage.refused.is_power_of_two() {
        tracing::warn!(
            %owner,
            held = usage.statements,
            held_bytes = usage.bytes,
            refused = usage.refused,
            cap = limits.statements_per_member,
            cap_bytes = limits.bytes_per_member,
            "{owner} reached its cap of stored statements; refusing more (received_per_member, received_bytes_per_member)"
        );
    }
    Verdict::Rejected(Rejection::OverCap {
        owner: owner.clone(),
        statements: limits.statements_per_member,
        bytes: limits.bytes_per_member,
    })
}

/// The checks every statement passes first. One that names us as owner must carry our key
/// (otherwise it is a forgery; if it does, it is simply ours). Any other must be signed with the
/// roster key of the owner it names, and when handed over directly, by that owner itself.
/// `Err` is the verdict to return at once.
fn check_origin(
    store: &Store,
    me: &Local,
    owner: &MemberCode,
    signer: &PublicKey,
    via: Via,
) -> Result<(), Verdict> {
    if *owner == me.member {
        return Err(if *signer == me.key {
            Verdict::Known
        } else {
            Verdict::Rejected(Rejection::ForgedAsOurs(me.member.clone()))
        });
    }
    let owner_peer = owner_peer(store, owner, signer).map_err(Verdict::Rejected)?;
    match via {
        Via::Direct(from) if from != owner_peer => {
            Err(Verdict::Rejected(Rejection::NotFromOwner(owner.clone())))
        }
        _ => Ok(()),
    }
}

/// Decides whether to believe `statement` and stores it if so.
pub fn accept(store: &Store, me: &Local, statement: &SignedStatement, via: Via) -> Verdict {
    let result = match statement {
        SignedStatement::Announcement(bytes) => accept_announcement(store, me, bytes, via),
        SignedStatement::Revocation(bytes) => accept_revocation(store, me, bytes, via),
    };
    result.unwrap_or_else(|e| Verdict::Rejected(Rejection::Store(e)))
}

fn accept_announcement(
    store: &Store,
    me: &Local,
    bytes: &[u8],
    via: Via,
) -> Result<Verdict, StoreError> {
    let signed = match SignedAnnouncement::decode(bytes) {
        Ok(s) => s,
        Err(e) => return Ok(Verdict::Rejected(Rejection::InvalidAnnouncement(e))),
    };
    let a = signed.body();
    if let Err(verdict) = check_origin(store, me, &a.owner, signed.signer(), via) {
        return Ok(verdict);
    }
    if via == Via::Gossip && a.policy.audience != Audience::Public {
        return Ok(Verdict::Rejected(Rejection::RestrictedOnGossip));
    }
    let id = a.id();
    if let Some(existing) = store.dataset(&id)? {
        return Ok(if existing.announcement == bytes {
            Verdict::Known
        } else {
            Verdict::Rejected(Rejection::Conflicts(id))
        });
    }
    if via == Via::Gossip
        && let Some(latest) = store.latest_version(&a.owner, a.name.as_str())?
        && a.version <= latest
    {
        return Ok(Verdict::Rejected(Rejection::Replayed { id, latest }));
    }
    let record = DatasetRecord::new(Origin::Received, &signed, false, now());
    match store.insert_received(&id, &record, &me.limits)? {
        Admission::Stored => {}
        // Stored a moment ago by a concurrent receiver of the same statement.
        Admission::AlreadyHeld => return Ok(Verdict::Known),
        Admission::OverCap(usage) => return Ok(over_cap(&a.owner, usage, &me.limits)),
    }
    // The owner's revocation may have overtaken its announcement (separate retries).
    if let Some(revocation) = store.take_pending_revocation(&id)? {
        let mut revoked = record;
        revoked.revocation = Some(revocation);
        store.put_dataset(&id, &revoked)?;
    }
    warn_if_clock_off(&a.owner, a.issued_at);
    Ok(Verdict::Accepted(id))
}

fn accept_revocation(
    store: &Store,
    me: &Local,
    bytes: &[u8],
    via: Via,
) -> Result<Verdict, StoreError> {
    let signed = match SignedRevocation::decode(bytes) {
        Ok(s) => s,
        Err(e) => return Ok(Verdict::Rejected(Rejection::InvalidRevocation(e))),
    };
    let r = signed.body();
    if let Err(verdict) = check_origin(store, me, &r.owner, signed.signer(), via) {
        return Ok(verdict);
    }
    let id = r.id();
    // A revocation of something we never saw: nothing to pass on (it could name a restricted
    // release). From the owner directly, keep it for when the announcement arrives: the two
    // are retried separately and may arrive out of order.
    let Some(mut record) = store.dataset(&id)? else {
        if let Via::Direct(_) = via
            && let Admission::OverCap(usage) =
                store.put_pending_revocation(&id, bytes, &me.limits)?
        {
            return Ok(over_cap(&r.owner, usage, &me.limits));
        }
        return Ok(Verdict::Known);
    };
    if via == Via::Gossip {
        let public = record
            .announcement()
            .is_ok_and(|a| a.body().policy.audience == Audience::Public);
        if !public {
            // Only the owner delivers revocations of restricted releases; never relay them.
            return Ok(Verdict::Known);
        }
    }
    if record.revocation.is_some() {
        return Ok(Verdict::Known);
    }
    record.revocation = Some(bytes.to_vec());
    store.put_dataset(&id, &record)?;
    Ok(Verdict::Accepted(id))
}

/// Everything this node released that `requester` (our roster's code for the asking peer,
/// `None` outside the roster) may see: each announcement, followed by its revocation if any.
/// Nothing else is revealed, not even a count. Read from the store's audience index, so the
/// work is in proportion to what `requester` may see; our statements were verified when they
/// were stored and are not verified again.
pub fn visible_to(
    store: &Store,
    requester: Option<&MemberCode>,
) -> Result<Vec<SignedStatement>, StoreError> {
    let mut out = Vec::new();
    for id in store.own_visible_ids(requester)? {
        let Some(record) = store.dataset(&id)?.filter(|r| r.origin == Origin::Own) else {
            continue;
        };
        out.push(SignedStatement::Announcement(record.announcement));
        if let Some(rev) = record.revocation {
            out.push(SignedStatement::Revocation(rev));
        }
    }
    Ok(out)
}

/// What this node tells `peer` when it asks to catch up: everything it may see now
/// ([`visible_to`]), then the revocation of each release it was granted a pull of but may no
/// longer see (it left our roster since). It learns nothing it did not hold already, and a
/// revocation reaches every past puller even when its direct delivery ran out of retries.
pub fn catch_up_for(store: &Store, peer: &PeerId) -> Result<Vec<SignedStatement>, StoreError> {
    let requester = member_of(store, peer);
    let mut out = visible_to(store, requester.as_ref())?;
    for id in store.pulled_by(peer)? {
        if store.own_visible(&id, requester.as_ref())? {
            continue;
        }
        if let Some(revocation) = store.dataset(&id)?.and_then(|r| r.revocation) {
            out.push(SignedStatement::Revocation(revocation));
        }
    }
    Ok(out)
}

/// The answer to `peer`'s request for the catch-up page starting at `from`.
pub fn catch_up_page(store: &Store, peer: &PeerId, from: u64) -> DirectResponse {
    match catch_up_for(store, peer) {
        Ok(all) => {
            let (statements, next) = wire::catch_up_page(&all, from);
            DirectResponse::CatchUp { statements, next }
        }
        Err(e) => DirectResponse::Rejected {
            reason: format!("catch-up failed: {e}"),
        },
    }
}

/// The PeerIds of the roster members in `audience` (for direct delivery).
pub fn audience_peers(store: &Store, audience: &Audience) -> Result<Vec<PeerId>, StoreError> {
    Ok(store
        .roster()?
        .into_iter()
        .filter(|entry| audience.admits(Some(&entry.member)))
        .map(|entry| entry.peer_id)
        .collect())
}

/// The member code our roster binds to `peer`.
pub fn member_of(store: &Store, peer: &PeerId) -> Option<MemberCode> {
    store.roster_by_peer(peer).ok().flatten().map(|e| e.member)
}

/// Checks a receipt sent by `peer` and attaches it to the access-log entry of the granted pull
/// it acknowledges; returns that entry's sequence number. Only a peer we granted a pull of that
/// dataset gets past the first check, so the dataset is read only for those already allowed
/// to know it. A refusal is logged here; the peer is told only [`ReceiptRefused::ANSWER`].
pub fn accept_receipt(
    store: &Store,
    me: &MemberCode,
    peer: PeerId,
    bytes: &[u8],
) -> Result<u64, ReceiptRefused> {
    check_receipt(store, me, peer, bytes).inspect_err(|why| {
        tracing::debug!(%peer, %why, "receipt refused");
    })
}

fn check_receipt(
    store: &Store,
    me: &MemberCode,
    peer: PeerId,
    bytes: &[u8],
) -> Result<u64, ReceiptRefused> {
    let store_error = ReceiptRefused::Store;
    let signed = SignedReceipt::decode(bytes).map_err(ReceiptRefused::Invalid)?;
    let key = PublicKey::from_peer_id(&peer).map_err(ReceiptRefused::SenderKey)?;
    signed
        .check_signer(&key)
        .map_err(|_| ReceiptRefused::NotSignedBySender)?;
    let r = signed.body();
    if r.dataset.owner != *me {
        return Err(ReceiptRefused::NotOurs);
    }
    let seq = store
        .pull_awaiting_receipt(&peer.to_string(), &r.dataset.to_string())
        .map_err(store_error)?
        .ok_or(ReceiptRefused::NoPullAwaits)?;
    if let Some(m) = member_of(store, &peer)
        && m != r.receiver
    {
        return Err(ReceiptRefused::OtherMember);
    }
    // Our own release, verified when it was stored.
    let announced = store
        .dataset(&r.dataset)
        .map_err(store_error)?
        .filter(|record| record.origin == Origin::Own)
        .and_then(|record| SignedAnnouncement::decode_trusted(&record.announcement).ok())
        .ok_or(ReceiptRefused::DatasetGone)?;
    if announced.body().sha256 != r.sha256 {
        return Err(ReceiptRefused::DigestDiffers);
    }
    store.attach_receipt(seq, bytes).map_err(store_error)?;
    Ok(seq)
}

/// Whether `peer` may still receive `statement` (one of ours): its roster entry may have been
/// removed, or the release's audience may not include it. A revocation also goes to every peer
/// that was granted a pull of the release, in the roster or not: it holds a copy.
pub fn may_receive(store: &Store, peer: &PeerId, statement: &SignedStatement) -> bool {
    let member = member_of(store, peer);
    let audience = match statement {
        SignedStatement::Announcement(bytes) => SignedAnnouncement::decode(bytes)
            .ok()
            .map(|a| a.body().policy.audience.clone()),
        SignedStatement::Revocation(bytes) => {
            let Ok(revocation) = SignedRevocation::decode(bytes) else {
                return false;
            };
            let id = revocation.body().id();
            if store.has_pulled(peer, &id).unwrap_or(false) {
                return true;
            }
            store
                .dataset(&id)
                .ok()
                .flatten()
                .and_then(|record| record.announcement().ok())
                .map(|a| a.body().policy.audience.clone())
        }
    };
    audience.is_some_and(|a| a.admits(member.as_ref()))
}

/// How far in the future a signed timestamp may lie before we say a clock is off.
const CLOCK_TOLERANCE_SECS: u64 = 300;

/// Embargo and expiry are decided by clocks: a statement signed "in the future" means the
/// owner's clock or ours is wrong, which an operator must hear about.
fn warn_if_clock_off(owner: &MemberCode, issued_at: u64) {
    let now = now();
    if issued_at > now + CLOCK_TOLERANCE_SECS {
        tracing::warn!(
            %owner,
            ahead_secs = issued_at - now,
            "clock far off: {owner} signed a statement {} s in our future; check both clocks (NTP)",
            issued_at - now
        );
    }
}

#[cfg(test)]
mod tests {
    use datapact_protocol::{
        Announcement, DatasetName, Digest, Identity, Meta, Policy, Revocation, SignedRevocation,
    };

    use super::*;
    use crate::home::Layout;
    use crate::store::RosterEntry;

    fn setup() -> (tempfile::TempDir, Store, Identity, Local) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Layout::new(dir.path())).unwrap();
        let owner = Identity::from_seed(&[7; 32]);
        store
            .roster_put(&RosterEntry {
                member: MemberCode::new("THA").unwrap(),
                peer_id: owner.peer_id(),
                addrs: vec![],
                added_at: 0,
            })
            .unwrap();
        let me = Identity::from_seed(&[8; 32]);
        let local = Local {
            member: MemberCode::new("MMR").unwrap(),
            key: me.public_key(),
            limits: ReceiveLimits::default(),
        };
        (dir, store, owner, local)
    }

    fn announcement(owner: &Identity, audience: &str) -> SignedStatement {
        let a = Announcement {
            owner: MemberCode::new("THA").unwrap(),
            name: DatasetName::new("x").unwrap(),
            version: 1,
            sha256: Digest::of(b"x"),
            size: 1,
            file_name: "x.csv".into(),
            chunk_root: Digest::of(b""),
            policy: Policy {
                audience: audience.parse().unwrap(),
                ..Policy::default()
            },
            meta: Meta {
                title: "X".into(),
                ..Meta::default()
            },
            issued_at: 1,
        };
        SignedStatement::Announcement(SignedAnnouncement::sign(a, owner).unwrap().bytes().to_vec())
    }

    fn revocation(owner: &Identity) -> SignedStatement {
        let r = Revocation {
            owner: MemberCode::new("THA").unwrap(),
            name: DatasetName::new("x").unwrap(),
            version: 1,
            reason: None,
            issued_at: 2,
        };
        SignedStatement::Revocation(SignedRevocation::sign(r, owner).unwrap().bytes().to_vec())
    }

    #[test]
    fn a_revocation_that_overtakes_its_announcement_still_applies() {
        let (_dir, store, owner, me) = setup();
        let from = Via::Direct(owner.peer_id());
        assert!(matches!(
            accept(&store, &me, &revocation(&owner), from),
            Verdict::Known
        ));
        let id: datapact_protocol::DatasetId = "THA/x@1".parse().unwrap();
        assert!(matches!(
            accept(&store, &me, &announcement(&owner, "members"), from),
            Verdict::Accepted(_)
        ));
        assert!(store.dataset(&id).unwrap().unwrap().revocation.is_some());
    }

    #[test]
    fn restricted_announcements_are_refused_on_gossip_and_from_relays() {
        let (_dir, store, owner, me) = setup();
        let relay = Identity::from_seed(&[9; 32]).peer_id();
        let restricted = announcement(&owner, "members");
        assert!(matches!(
            accept(&store, &me, &restricted, Via::Gossip),
            Verdict::Rejected(_)
        ));
        assert!(matches!(
            accept(&store, &me, &restricted, Via::Direct(relay)),
            Verdict::Rejected(_)
        ));
        assert!(store.datasets().unwrap().is_empty());
    }

    #[test]
    fn a_statement_naming_us_with_another_key_is_a_forgery() {
        let (_dir, store, owner, _) = setup();
        // Pretend to be THA: a statement naming THA but signed by THA's own key is ours.
        let as_owner = Local {
            member: MemberCode::new("THA").unwrap(),
            key: owner.public_key(),
            limits: ReceiveLimits::default(),
        };
        assert!(matches!(
            accept(
                &store,
                &as_owner,
                &announcement(&owner, "public"),
                Via::Gossip
            ),
            Verdict::Known
        ));
        let forger = Identity::from_seed(&[3; 32]);
        assert!(matches!(
            accept(
                &store,
                &as_owner,
                &announcement(&forger, "public"),
                Via::Gossip
            ),
            Verdict::Rejected(_)
        ));
    }
}
