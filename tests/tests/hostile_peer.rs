//! The hostile-peer support itself, against a real node: a stranger with a fresh key connects,
//! asks for catch-up and for a restricted dataset by id, and learns nothing; a roster member
//! played by a hostile peer is asked for catch-up when it connects, as a real member would be.
//! The attack scenarios of other test files build on exactly these moves.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_node::network::pull::{read_frame, write_frame};
use datapact_protocol::Identity;
use datapact_protocol::wire::{
    DirectRequest, DirectResponse, MAX_PULL_RESPONSE_LEN, PullRequest, PullResponse,
};
use datapact_tests::hostile::{HostilePeer, polite};
use datapact_tests::{TestNode, wait_until};
use libp2p::PeerId;

#[tokio::test]
async fn a_stranger_learns_nothing_of_a_members_release() {
    let tha = TestNode::start("THA").await;
    let released = tha.release_text("trafficking", "members").await;
    let stranger = HostilePeer::stranger(polite()).await;
    stranger.connect_to(&tha).await;
    let owner: PeerId = tha.peer_id().parse().unwrap();

    let page = stranger
        .request(owner, DirectRequest::CatchUp { from: 0 })
        .await
        .unwrap();
    assert_eq!(
        page,
        DirectResponse::CatchUp {
            statements: vec![],
            next: None
        },
        "catch-up for a stranger is empty"
    );

    let mut stream = stranger.open_pull_stream(owner).await;
    write_frame(
        &mut stream,
        &PullRequest {
            id: released.id.clone(),
            from_chunk: 0,
        },
    )
    .await
    .unwrap();
    let answer: PullResponse = read_frame(&mut stream, MAX_PULL_RESPONSE_LEN)
        .await
        .unwrap();
    assert_eq!(
        answer,
        PullResponse::NotFound,
        "asked by id: as if it did not exist"
    );
}

#[tokio::test]
async fn a_hostile_member_is_asked_for_catch_up_when_it_connects() {
    let tha = TestNode::start("THA").await;
    let aus = HostilePeer::start(Identity::from_seed(&[42; 32]), polite()).await;
    tha.ok(datapact_node::api::MembersAdd {
        member: datapact_protocol::MemberCode::new("AUS").unwrap(),
        peer_id: aus.peer_id,
        addrs: vec![aus.addr.to_string()],
    })
    .await;
    wait_until("THA to dial AUS and ask it for catch-up", || async {
        aus.received.catch_ups() >= 1
    })
    .await;
}
