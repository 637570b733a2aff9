//! One member cannot make a receiver store an unbounded number of announcements: past the
//! per-member caps of the receiver's config (`received_per_member`,
//! `received_bytes_per_member`), its deliveries are refused, the caps hold across a restart,
//! and another member's announcements are still accepted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_protocol::wire::{DirectRequest, DirectResponse, SignedStatement};
use datapact_protocol::{Audience, Identity, MemberCode, PeerId, SignedAnnouncement};
use datapact_tests::hostile::{HostilePeer, polite};
use datapact_tests::statements::{self, digest_of};
use datapact_tests::{Federation, TestNode};

/// The receiver's caps in this test.
const CAP_STATEMENTS: usize = 5;
const CAP_BYTES: usize = 6000;
/// Length of the description in KHM's announcements, so that two fit in [`CAP_BYTES`] and
/// three do not.
const BIG_DESCRIPTION: usize = 1000;

/// `owner`'s signed `members` announcement `name`@1, with a description of `description` bytes.
fn announcement(owner: &str, key: &Identity, name: &str, description: usize) -> Vec<u8> {
    let text = |n: usize| (n > 0).then(|| "x".repeat(n));
    let mut a =
        statements::announcement(owner, name, &digest_of(name.as_bytes()), Audience::Members);
    a.meta.description = text(description);
    a.meta.source = text(description);
    SignedAnnouncement::sign(a, key).unwrap().bytes().to_vec()
}

/// `from` delivers `bytes` to `node`; returns whether it was acknowledged.
async fn delivered(from: &HostilePeer, node: &TestNode, bytes: Vec<u8>) -> bool {
    let peer: PeerId = node.peer_id().parse().unwrap();
    let request = DirectRequest::Deliver(SignedStatement::Announcement(bytes));
    match from.request(peer, request).await.unwrap() {
        DirectResponse::Ack => true,
        DirectResponse::Rejected { reason } => {
            assert!(
                reason.contains("cap"),
                "refused for another reason: {reason}"
            );
            false
        }
        other => panic!("unexpected answer {other:?}"),
    }
}

async fn held_from(node: &TestNode, owner: &str) -> usize {
    let owner = MemberCode::new(owner).unwrap();
    node.catalog()
        .await
        .iter()
        .filter(|e| e.owner == owner)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_past_its_cap_is_refused_and_another_member_is_not() {
    let mut fed = Federation::new(&["THA", "MMR"]).await;
    fed.stop("MMR").await;
    let path = fed["MMR"].dir().join("config.toml");
    let mut config: String = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("received_"))
        .map(|l| format!("{l}\n"))
        .collect();
    config.push_str(&format!(
        "received_per_member = {CAP_STATEMENTS}\nreceived_bytes_per_member = {CAP_BYTES}\n"
    ));
    std::fs::write(&path, config).unwrap();
    fed.restart("MMR").await;

    let aus = HostilePeer::member_of("AUS", [0xa1; 32], polite(), &[&fed["MMR"]]).await;
    let mut acked = 0;
    for n in 0..CAP_STATEMENTS + 3 {
        let bytes = announcement("AUS", &aus.identity, &format!("flood-{n}"), 0);
        if delivered(&aus, &fed["MMR"], bytes).await {
            acked += 1;
        }
    }
    assert_eq!(acked, CAP_STATEMENTS, "AUS's deliveries acknowledged");
    assert_eq!(held_from(&fed["MMR"], "AUS").await, CAP_STATEMENTS);

    // The byte cap: KHM's announcements are large, and only two fit.
    let khm = HostilePeer::member_of("KHM", [0xa2; 32], polite(), &[&fed["MMR"]]).await;
    let sizes: Vec<usize> = (0..3)
        .map(|n| announcement("KHM", &khm.identity, &format!("big-{n}"), BIG_DESCRIPTION).len())
        .collect();
    assert!(
        sizes[0] * 2 <= CAP_BYTES && sizes[0] * 3 > CAP_BYTES,
        "{sizes:?}"
    );
    let mut kept = Vec::new();
    for n in 0..3 {
        let bytes = announcement("KHM", &khm.identity, &format!("big-{n}"), BIG_DESCRIPTION);
        kept.push(delivered(&khm, &fed["MMR"], bytes).await);
    }
    assert_eq!(kept, [true, true, false]);

    // Another member is not affected.
    let id = fed["THA"]
        .release_text("after-the-flood", "members")
        .await
        .id;
    fed["MMR"].wait_entry(&id).await;

    // The count is the store's, not the process's: after a restart AUS is still at its cap.
    fed.restart("MMR").await;
    aus.connect_to(&fed["MMR"]).await;
    let one_more = announcement("AUS", &aus.identity, "after-restart", 0);
    assert!(!delivered(&aus, &fed["MMR"], one_more).await);
    assert_eq!(held_from(&fed["MMR"], "AUS").await, CAP_STATEMENTS);
    assert_eq!(held_from(&fed["MMR"], "KHM").await, 2);
    fed.shutdown().await;
}
