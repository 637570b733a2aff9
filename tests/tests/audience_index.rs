//! The work an owner does to answer a peer depends only on what that peer may see (README,
//! "Security: the owner's side"): a stranger's catch-up, and its pull of a release it may not
//! see, read no more of the owner's records after 200 `only:AUS` releases than before them,
//! so neither their timing nor anything else tells it they exist. Members inside the audience
//! see and pull exactly as before.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_node::api::{MemberInfo, MembersAdd};
use datapact_protocol::wire::{DirectRequest, DirectResponse, PullResponse, SignedStatement};
use datapact_protocol::{Identity, MemberCode};
use datapact_tests::TestNode;
use datapact_tests::hostile::{HostilePeer, polite};
use libp2p::PeerId;

/// Restricted releases made between the two measurements.
const RESTRICTED: usize = 200;

/// The owner's records read while `work` runs.
async fn cost<T>(owner: &TestNode, work: impl std::future::Future<Output = T>) -> (T, u64) {
    let store = &owner.ctx().store;
    let before = store.dataset_records_read();
    let out = work.await;
    (out, store.dataset_records_read() - before)
}

/// Every statement `peer` gets from `owner`'s catch-up, page by page.
async fn catch_up(peer: &HostilePeer, owner: PeerId) -> Vec<SignedStatement> {
    let mut all = Vec::new();
    let mut from = 0;
    loop {
        match peer
            .request(owner, DirectRequest::CatchUp { from })
            .await
            .unwrap()
        {
            DirectResponse::CatchUp { statements, next } => {
                all.extend(statements);
                match next {
                    Some(n) => from = n,
                    None => return all,
                }
            }
            other => panic!("catch-up refused: {other:?}"),
        }
    }
}

/// The answer frame to a pull of `id`.
async fn pull_answer(peer: &HostilePeer, owner: PeerId, id: &str) -> PullResponse {
    peer.ask_pull(owner, id).await.unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_a_stranger_costs_the_same_however_many_releases_it_may_not_see() {
    let mut tha = TestNode::start("THA").await;
    let owner: PeerId = tha.peer_id().parse().unwrap();
    let aus = HostilePeer::start(Identity::from_seed(&[31; 32]), polite()).await;
    let _: MemberInfo = tha
        .ok(MembersAdd {
            member: MemberCode::new("AUS").unwrap(),
            peer_id: aus.peer_id,
            addrs: vec![],
        })
        .await;
    let public = tha.release_text("open-data", "public").await.id;
    let stranger = HostilePeer::stranger(polite()).await;
    stranger.connect_to(&tha).await;
    aus.connect_to(&tha).await;

    let (seen, catch_up_before) = cost(&tha, catch_up(&stranger, owner)).await;
    assert_eq!(seen.len(), 1, "a stranger sees the public release only");
    let (answer, absent_before) =
        cost(&tha, pull_answer(&stranger, owner, "THA/never-released@1")).await;
    assert_eq!(answer, PullResponse::NotFound);

    let mut restricted = Vec::new();
    for i in 0..RESTRICTED {
        restricted.push(tha.release_text(&format!("aus-{i}"), "only:AUS").await.id);
    }

    let (seen_after, catch_up_after) = cost(&tha, catch_up(&stranger, owner)).await;
    assert_eq!(seen_after, seen, "the stranger's catch-up is unchanged");
    assert_eq!(
        catch_up_after, catch_up_before,
        "records read for a stranger's catch-up grew with releases it may not see"
    );
    let (answer, hidden) = cost(&tha, pull_answer(&stranger, owner, &restricted[7])).await;
    assert_eq!(answer, PullResponse::NotFound, "as if it did not exist");
    let (_, absent_after) = cost(&tha, pull_answer(&stranger, owner, "THA/never-released@1")).await;
    assert_eq!(
        (hidden, absent_after),
        (absent_before, absent_before),
        "records read for \"exists, not for you\" and for \"no such dataset\""
    );

    // Inside the audience nothing changed: AUS sees every release and may pull each.
    let for_aus = catch_up(&aus, owner).await;
    assert_eq!(for_aus.len(), RESTRICTED + 1);
    for id in [&public, &restricted[7]] {
        assert!(
            matches!(
                pull_answer(&aus, owner, id).await,
                PullResponse::Granted { .. }
            ),
            "AUS pulls {id}"
        );
    }
    drop((stranger, aus));
    tha.stop().await;
}
