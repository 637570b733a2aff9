//! The swarm task never blocks on the store: while a slow store operation runs (a hostile
//! member's catch-up page of thousands of valid statements, each verified and written), the
//! node keeps answering a stranger's direct requests and takes in its flood of gossip.
//!
//! The check does not rest on timing. A probe is sent only once the page's first statement is
//! stored, and its answer counts only if the page's last statement is still not stored when
//! it arrives: the answer came while the judging ran. Were the judging done on the swarm task
//! (or anything else that holds the task while the store works), no inbound request could be
//! answered until the last statement was stored, and the test fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use datapact_protocol::wire::{DirectRequest, DirectResponse, MAX_CATCHUP_PAGE, SignedStatement};
use datapact_protocol::{
    Announcement, Audience, ContentHasher, DatasetId, DatasetName, Identity, MemberCode, Meta,
    Policy, SignedAnnouncement,
};
use datapact_tests::hostile::{Answer, HostilePeer, polite};
use datapact_tests::{DEADLINE, TestNode, unix_now, wait_until};
use libp2p::PeerId;

const AUS_SEED: [u8; 32] = [0x5e; 32];
/// Garbage gossip messages the stranger publishes while the page is judged.
const FLOOD: u64 = 200;
/// Longest wait between two looks at the store while waiting for the judging to start.
const LOOK: Duration = Duration::from_millis(2);

/// AUS's signed `members` announcement number `n`, as short as it can be so that a whole
/// page of them fits one catch-up answer.
fn announcement(aus: &Identity, n: usize) -> (DatasetId, SignedStatement) {
    let name = format!("s-{n}");
    let mut hasher = ContentHasher::new();
    hasher.update(name.as_bytes());
    let digest = hasher.finish();
    let a = Announcement {
        owner: MemberCode::new("AUS").unwrap(),
        name: DatasetName::new(&name).unwrap(),
        version: 1,
        sha256: digest.sha256,
        size: digest.size,
        file_name: format!("{name}.csv"),
        chunk_root: digest.chunk_root(),
        policy: Policy {
            audience: Audience::Members,
            ..Policy::default()
        },
        meta: Meta {
            title: name.clone(),
            ..Meta::default()
        },
        issued_at: unix_now(),
    };
    let id = a.id();
    let signed = SignedAnnouncement::sign(a, aus).unwrap();
    (id, SignedStatement::Announcement(signed.bytes().to_vec()))
}

/// Answers the first catch-up with the whole `page` and no next page; later ones with an
/// empty last page.
fn one_big_page(page: Vec<SignedStatement>) -> Answer {
    let mut page = Some(page);
    Box::new(move |_, request| {
        Some(match request {
            DirectRequest::CatchUp { .. } => DirectResponse::CatchUp {
                statements: page.take().unwrap_or_default(),
                next: None,
            },
            _ => DirectResponse::Ack,
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_swarm_task_answers_while_a_slow_catch_up_is_judged() {
    let mut mmr = TestNode::start("MMR").await;
    let mmr_peer: PeerId = mmr.peer_id().parse().unwrap();
    let aus_key = Identity::from_seed(&AUS_SEED);
    let (ids, page): (Vec<DatasetId>, Vec<SignedStatement>) = (0..MAX_CATCHUP_PAGE)
        .map(|n| announcement(&aus_key, n))
        .unzip();
    let (first, last) = (ids[0].clone(), ids[ids.len() - 1].clone());

    // The stranger is connected and on the gossip topic before the slow work begins.
    let stranger = HostilePeer::stranger(polite()).await;
    stranger.connect_to(&mmr).await;
    stranger.wait_gossip_peer(mmr_peer).await;

    // AUS joins MMR's roster; MMR dials it and asks it to catch up, and judges its page.
    let store = mmr.ctx().store.clone();
    let rejected_before = mmr.rejected();
    let _aus = HostilePeer::member_of("AUS", AUS_SEED, one_big_page(page), &[&mmr]).await;
    let deadline = Instant::now() + DEADLINE;
    while !store.has_dataset(&first).unwrap() {
        assert!(
            Instant::now() < deadline,
            "MMR never began judging AUS's page"
        );
        tokio::time::sleep(LOOK).await;
    }
    let judging_seen = Instant::now();
    assert!(
        !store.has_dataset(&last).unwrap(),
        "the page of {MAX_CATCHUP_PAGE} statements was judged before the test could probe"
    );

    let flood = async {
        for n in 0..FLOOD {
            let garbage = format!("not a statement {n}").into_bytes();
            stranger.publish_raw(garbage).await.unwrap();
        }
    };
    let probes = async {
        let mut answered_while_judging = Vec::new();
        while !store.has_dataset(&last).unwrap() {
            let sent = Instant::now();
            let answer = stranger
                .request(mmr_peer, DirectRequest::CatchUp { from: 0 })
                .await
                .expect("MMR answers the stranger");
            assert_eq!(
                answer,
                DirectResponse::CatchUp {
                    statements: vec![],
                    next: None
                },
                "a stranger's catch-up is empty"
            );
            if store.has_dataset(&last).unwrap() {
                break;
            }
            answered_while_judging.push(sent.elapsed());
        }
        answered_while_judging
    };
    let ((), answered) = tokio::join!(flood, probes);
    wait_until("MMR to store AUS's whole page", || async {
        store.has_dataset(&last).unwrap()
    })
    .await;
    let judged_for = judging_seen.elapsed();
    let slowest = answered.iter().max().copied().unwrap_or_default();
    eprintln!(
        "{} probes answered while {MAX_CATCHUP_PAGE} statements were judged (for at least \
         {judged_for:?}); slowest round trip {slowest:?}",
        answered.len()
    );
    assert!(
        !answered.is_empty(),
        "no direct request was answered while the catch-up page was judged: the swarm task \
         waited for the store"
    );
    wait_until("MMR to reject the whole gossip flood", || async {
        mmr.rejected() >= rejected_before + FLOOD
    })
    .await;
    let held = (0..MAX_CATCHUP_PAGE)
        .filter(|n| store.has_dataset(&ids[*n]).unwrap())
        .count();
    assert_eq!(
        held, MAX_CATCHUP_PAGE,
        "every statement of the page is kept"
    );
    drop(store);
    mmr.stop().await;
}
