//! What travels on the gossip topic is exactly the owner's tagged COSE_Sign1, nothing around it
//! (docs/PROTOCOL.md section 4), so any libp2p peer with a COSE library can read and publish it: a
//! hostile subscriber receives the very bytes that `export` writes as `announcement.cose`; a raw
//! COSE announcement published by an independent peer holding a roster member's key is
//! accepted; the old enum-wrapped form and garbage are rejected.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use datapact_node::api::Export;
use datapact_protocol::announcement::{ANNOUNCEMENT_CONTENT_TYPE, MAX_SIGNED_LEN};
use datapact_protocol::cose;
use datapact_protocol::wire::{self, SignedStatement};
use datapact_protocol::{Audience, MemberCode, PeerId, SignedAnnouncement};
use datapact_tests::hostile::{HostilePeer, polite};
use datapact_tests::statements::{self, digest_of};
use datapact_tests::{DEADLINE, TestNode, wait_until};

/// Waits until gossip from `node` reaches `listener`: `node` publishes a probe (which fails
/// while it knows no subscriber) until the listener receives one.
async fn wait_gossip_to(node: &TestNode, listener: &HostilePeer) {
    let probe = b"gossip probe".to_vec();
    let mut messages = listener.gossip_messages();
    let start = std::time::Instant::now();
    loop {
        let _ = node
            .ctx()
            .network
            .publish(SignedStatement::Announcement(probe.clone()))
            .await;
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(250), messages.recv()).await {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "gossip from {} never reached the listener",
            node.member
        );
    }
}

/// A public announcement by AUS of a small content named `name`, signed with `aus`.
fn aus_announcement(aus: &datapact_protocol::Identity, name: &str) -> (String, Vec<u8>) {
    let digest = digest_of(format!("{name},AUS\n").as_bytes());
    let mut announcement = statements::announcement("AUS", name, &digest, Audience::Public);
    announcement.meta.title = format!("{name} (published by an independent client)");
    let id = announcement.id().to_string();
    let signed = SignedAnnouncement::sign(announcement, aus).unwrap();
    (id, signed.bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gossip_message_is_exactly_the_announcement_the_owner_exports() {
    let mut tha = TestNode::start("THA").await;
    let listener = HostilePeer::stranger(polite()).await;
    listener.connect_to(&tha).await;
    wait_gossip_to(&tha, &listener).await;
    let mut messages = listener.gossip_messages();

    let id = tha.release_text("arrivals", "public").await.id;
    let received = tokio::time::timeout(DEADLINE, messages.recv())
        .await
        .expect("the release's gossip message in time")
        .unwrap();
    let out = tha.out_path("bundle");
    tha.ok(Export {
        id: id.clone(),
        out: out.display().to_string(),
        force: false,
    })
    .await;
    let exported = std::fs::read(out.join("announcement.cose")).unwrap();
    assert!(
        received == exported,
        "gossip carried {} bytes starting {:02x?}, the export is {} bytes starting {:02x?}",
        received.len(),
        &received[..received.len().min(8)],
        exported.len(),
        &exported[..8]
    );
    assert_eq!(received, tha.announcement_bytes(&id));
    // An independent client tells the kind from the protected header alone.
    assert_eq!(
        cose::content_type(&received, MAX_SIGNED_LEN).unwrap(),
        ANNOUNCEMENT_CONTENT_TYPE
    );
    tha.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_cose_announcement_is_accepted_and_the_wrapped_form_or_garbage_is_not() {
    let mut tha = TestNode::start("THA").await;
    let aus = HostilePeer::member_of("AUS", [0x5e; 32], polite(), &[&tha]).await;
    let tha_peer: PeerId = tha.peer_id().parse().unwrap();
    aus.wait_gossip_peer(tha_peer).await;

    let (wrapped_id, wrapped) = aus_announcement(&aus.identity, "wrapped");
    let old_form = wire::encode(&SignedStatement::Announcement(wrapped));
    let before = tha.rejected();
    aus.publish_raw(old_form).await.unwrap();
    wait_until("THA to reject the enum-wrapped form", || async {
        tha.rejected() > before
    })
    .await;
    let before = tha.rejected();
    aus.publish_raw(b"\xd2\x84 not a statement".to_vec())
        .await
        .unwrap();
    wait_until("THA to reject garbage", || async {
        tha.rejected() > before
    })
    .await;

    let (raw_id, raw) = aus_announcement(&aus.identity, "raw");
    aus.publish_raw(raw.clone()).await.unwrap();
    let entry = tha.wait_entry(&raw_id).await;
    assert_eq!(entry.owner, MemberCode::new("AUS").unwrap());
    assert_eq!(tha.announcement_bytes(&raw_id), raw);
    tha.assert_never_seen(&wrapped_id).await;
    tha.stop().await;
}
