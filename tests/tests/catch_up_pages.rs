//! Catch-up over several pages still brings everything, also when the first pages hold only
//! what the receiver has already: the bound that stops a member answering forever ("a page
//! that brings nothing new ends it") counts a statement the receiver already holds as
//! something, as long as this catch-up has not seen it before.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use datapact_node::api::MembersAdd;
use datapact_protocol::wire::{DirectRequest, DirectResponse, SignedStatement};
use datapact_protocol::{Audience, Identity, MemberCode, SignedAnnouncement};
use datapact_tests::TestNode;
use datapact_tests::hostile::{Answer, HostilePeer};
use datapact_tests::statements::{self, digest_of};

const AUS_SEED: [u8; 32] = [0x3d; 32];

/// AUS's signed `members` announcement of `name`.
fn announcement(aus: &Identity, name: &str) -> SignedStatement {
    let a = statements::announcement("AUS", name, &digest_of(name.as_bytes()), Audience::Members);
    SignedStatement::Announcement(SignedAnnouncement::sign(a, aus).unwrap().bytes().to_vec())
}

/// Answers catch-up with one statement of `pages` per page, then no next page.
fn one_per_page(pages: Arc<Mutex<Vec<SignedStatement>>>) -> Answer {
    Box::new(move |_, request| {
        Some(match request {
            DirectRequest::CatchUp { from } => {
                let pages = pages.lock().unwrap();
                let at = usize::try_from(*from).unwrap_or(usize::MAX);
                DirectResponse::CatchUp {
                    statements: pages.get(at).cloned().into_iter().collect(),
                    next: (at + 1 < pages.len()).then_some(*from + 1),
                }
            }
            _ => DirectResponse::Ack,
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_pages_of_known_statements_lead_on_to_new_ones() {
    let mut mmr = TestNode::start("MMR").await;
    let aus_key = Identity::from_seed(&AUS_SEED);
    let pages = Arc::new(Mutex::new(
        (0..3)
            .map(|n| announcement(&aus_key, &format!("page-{n}")))
            .collect::<Vec<_>>(),
    ));
    let aus = HostilePeer::member_of("AUS", AUS_SEED, one_per_page(pages.clone()), &[&mmr]).await;
    mmr.wait_catalog("three pages of AUS's releases", |c| c.len() == 3)
        .await;

    // A fourth release, behind three pages MMR already holds: a new catch-up (the roster
    // entry is written again) goes through them to it.
    pages.lock().unwrap().push(announcement(&aus_key, "page-3"));
    let asked = aus.received.catch_ups();
    mmr.ok(MembersAdd {
        member: MemberCode::new("AUS").unwrap(),
        peer_id: aus.peer_id,
        addrs: vec![aus.addr.to_string()],
    })
    .await;
    mmr.wait_entry("AUS/page-3@1").await;
    assert_eq!(
        aus.received.catch_ups(),
        asked + 4,
        "pages 0 to 3 asked once each"
    );
    mmr.stop().await;
}
