//! Scenario 7: forged, tampered, replayed, unknown-owner and wrongly relayed statements are
//! rejected by every receiver and never reach anyone's catalogue, while genuine releases sent
//! the same way right after them do arrive (so their absence means something).
//!
//! The attacker is MMR, a member in good standing: it injects statements through its own
//! network handle, on gossip (which a node does not validate when it publishes) and by direct
//! delivery. Receivers: THA (the owner being impersonated) and AUS, both connected to MMR, and
//! KHM, which knows THA's key but hears of THA only through gossip relayed by MMR.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_node::api::DatasetStatus;
use datapact_protocol::wire::{DirectRequest, DirectResponse, SignedStatement};
use datapact_protocol::{
    Announcement, Audience, DatasetName, Identity, MemberCode, PeerId, Revocation,
    SignedAnnouncement, SignedRevocation,
};
use datapact_tests::statements::{self, digest_of};
use datapact_tests::{DEADLINE, Dial, Federation, TestNode, unix_now, wait_gossip, wait_until};

/// A well-formed public announcement of a small content, not yet signed.
fn announcement(owner: &str, name: &str) -> Announcement {
    let content = format!("forged,{owner},{name}\n");
    let mut a = statements::announcement(
        owner,
        name,
        &digest_of(content.as_bytes()),
        Audience::Public,
    );
    a.meta.title = format!("{name} (forged)");
    a
}

fn signed(announcement: Announcement, key: &Identity) -> SignedStatement {
    let signed = SignedAnnouncement::sign(announcement, key).expect("sign");
    SignedStatement::Announcement(signed.bytes().to_vec())
}

fn names(nodes: &[&TestNode]) -> String {
    nodes
        .iter()
        .map(|n| n.member.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `attacker` publishes `statement` on gossip; waits until each of `receivers` rejected one
/// more statement.
async fn gossip_rejected(
    what: &str,
    attacker: &TestNode,
    statement: &SignedStatement,
    receivers: &[&TestNode],
) {
    let before: Vec<u64> = receivers.iter().map(|n| n.rejected()).collect();
    attacker.publish_raw(statement.clone()).await;
    wait_until(
        &format!("{what} on gossip to be rejected by {}", names(receivers)),
        || async {
            receivers
                .iter()
                .zip(&before)
                .all(|(n, b)| n.rejected() > *b)
        },
    )
    .await;
}

/// `attacker` delivers `statement` directly to `receiver`, which must answer `Rejected` and
/// count it.
async fn delivery_rejected(
    what: &str,
    attacker: &TestNode,
    statement: &SignedStatement,
    receiver: &TestNode,
) {
    let before = receiver.rejected();
    let peer: PeerId = receiver.peer_id().parse().unwrap();
    let delivery = attacker
        .ctx()
        .network
        .request(peer, DirectRequest::Deliver(statement.clone()));
    let answer = tokio::time::timeout(DEADLINE, delivery)
        .await
        .unwrap_or_else(|_| panic!("{} did not answer {what} in time", receiver.member))
        .unwrap_or_else(|e| panic!("delivering {what} to {}: {e}", receiver.member));
    assert!(
        matches!(answer, DirectResponse::Rejected { .. }),
        "{} answered {answer:?} to {what}",
        receiver.member
    );
    assert!(
        receiver.rejected() > before,
        "{} did not count {what}",
        receiver.member
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_statements_are_rejected_and_never_spread() {
    // THA releases version 1 while it has no peer at all: nothing goes on gossip, so the others
    // learn of it only by catch-up from THA, which nobody relays. KHM, never connected to THA,
    // can therefore never hold it.
    let tha = TestNode::start("THA").await;
    let v1_file = tha.write_file("arrivals.csv", b"month,arrivals\n2017-01,100\n");
    let v1 = tha.release(&v1_file, "arrivals", "public").await.id;
    let (mmr, aus) = futures::join!(TestNode::start("MMR"), TestNode::start("AUS"));
    let fed = Federation::join(vec![tha, mmr, aus]).await;
    let (tha, mmr, aus) = (&fed["THA"], &fed["MMR"], &fed["AUS"]);
    mmr.wait_entry(&v1).await;
    aus.wait_entry(&v1).await;

    let mut khm = TestNode::start("KHM").await;
    khm.add_member(tha, Dial::No).await;
    khm.add_member(mmr, Dial::Yes).await;
    khm.wait_connected(mmr).await;
    wait_gossip(mmr, &[&khm]).await;

    // Genuine material for the attacker: version 2, a public release to tamper with, and a
    // release for MMR's eyes only.
    let v2_file = tha.write_file("arrivals.csv", b"month,arrivals\n2017-01,100\n2017-02,90\n");
    let v2 = tha.release(&v2_file, "arrivals", "public").await.id;
    let base = tha.release_text("tamper-base", "public").await.id;
    let secret = tha.release_text("mmr-eyes-only", "only:MMR").await.id;
    mmr.wait_catalog("THA's genuine releases", |c| {
        [&v2, &base, &secret]
            .iter()
            .all(|id| c.iter().any(|e| &e.id == *id))
    })
    .await;
    aus.wait_catalog("THA's public releases", |c| {
        [&v2, &base].iter().all(|id| c.iter().any(|e| &e.id == *id))
    })
    .await;
    // Anyone may relay a public statement: MMR relays version 2 (only) to KHM.
    mmr.publish_raw(SignedStatement::Announcement(mmr.announcement_bytes(&v2)))
        .await;
    khm.wait_entry(&v2).await;

    // (a) Signed with a fresh key, naming THA as its owner.
    let impostor = Identity::from_seed(&[0x5a; 32]);
    let wrong_key = announcement("THA", "forged-key");
    let wrong_key_id = wrong_key.id().to_string();
    let a = signed(wrong_key, &impostor);
    gossip_rejected("(a) a wrong-key announcement", mmr, &a, &[aus, &khm]).await;
    delivery_rejected("(a) a wrong-key announcement", mmr, &a, aus).await;

    // (b) A genuine THA announcement with one payload byte changed (its name, so its id is
    // new: tamper-base becomes tamper-basf).
    let mut bytes = mmr.announcement_bytes(&base);
    let at = bytes
        .windows(b"tamper-base".len())
        .position(|w| w == b"tamper-base")
        .expect("name in the payload");
    bytes[at + b"tamper-bas".len()] = b'f';
    let tampered_id = base.replace("tamper-base", "tamper-basf");
    let b = SignedStatement::Announcement(bytes);
    gossip_rejected("(b) a tampered announcement", mmr, &b, &[tha, aus, &khm]).await;
    delivery_rejected("(b) a tampered announcement", mmr, &b, aus).await;
    delivery_rejected("(b) a tampered announcement", mmr, &b, tha).await;

    // (c) Version 1's exact bytes, replayed on gossip after version 2 is known.
    let c = SignedStatement::Announcement(mmr.announcement_bytes(&v1));
    gossip_rejected("(c) a replayed old version", mmr, &c, &[&khm]).await;

    // (d) From an owner that nobody lists, signed with its own key.
    let stranger = Identity::from_seed(&[0x4c; 32]);
    let unknown = announcement("LAO", "lao-stats");
    let unknown_id = unknown.id().to_string();
    let d = signed(unknown, &stranger);
    gossip_rejected(
        "(d) an unknown owner's announcement",
        mmr,
        &d,
        &[tha, aus, &khm],
    )
    .await;
    delivery_rejected("(d) an unknown owner's announcement", mmr, &d, aus).await;
    delivery_rejected("(d) an unknown owner's announcement", mmr, &d, tha).await;

    // (e) THA's genuine only:MMR announcement, passed on by its receiver: only the owner may
    // deliver a restricted announcement, and never on gossip.
    let e = SignedStatement::Announcement(mmr.announcement_bytes(&secret));
    gossip_rejected(
        "(e) a relayed restricted announcement",
        mmr,
        &e,
        &[aus, &khm],
    )
    .await;
    delivery_rejected("(e) a relayed restricted announcement", mmr, &e, aus).await;

    // (f) A revocation of THA's release signed with the wrong key.
    let revocation = Revocation {
        owner: MemberCode::new("THA").unwrap(),
        name: DatasetName::new("tamper-base").unwrap(),
        version: 1,
        reason: Some("forged".into()),
        issued_at: unix_now(),
    };
    let f = SignedStatement::Revocation(
        SignedRevocation::sign(revocation, &impostor)
            .unwrap()
            .bytes()
            .to_vec(),
    );
    gossip_rejected("(f) a forged revocation", mmr, &f, &[aus, &khm]).await;
    delivery_rejected("(f) a forged revocation", mmr, &f, aus).await;

    // A genuine release sent the same way right after: it arrives everywhere. Gossip from MMR
    // to each peer is delivered in order, so every forgery above was handled before it.
    let genuine = mmr.release_text("mmr-genuine", "public").await.id;
    for node in [tha, aus, &khm] {
        node.wait_entry(&genuine).await;
    }
    for node in [tha, aus, &khm] {
        for id in [&wrong_key_id, &tampered_id, &unknown_id] {
            node.assert_never_seen(id).await;
        }
    }
    for node in [aus, &khm] {
        node.assert_never_seen(&secret).await;
    }
    khm.assert_never_seen(&v1).await;
    assert_eq!(
        khm.catalog_entry(&v2).await.unwrap().status,
        DatasetStatus::Received
    );
    assert_eq!(
        aus.catalog_entry(&base).await.unwrap().status,
        DatasetStatus::Received
    );
    assert_eq!(
        mmr.catalog_entry(&base).await.unwrap().status,
        DatasetStatus::Received
    );

    khm.stop().await;
    fed.shutdown().await;
}
