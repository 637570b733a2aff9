//! What removing a member takes back and what it cannot (README, "Security: the owner's
//! side"): it stops its future pulls, but it cannot unsend what the member pulled, so a later
//! revocation still reaches it, directly from the owner, whether it is up at the time or
//! comes back later.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_node::api::{DatasetStatus, MemberInfo, MembersRemove};
use datapact_protocol::MemberCode;
use datapact_tests::{Federation, TestNode, wait_for};

/// Removes `member` from `owner`'s roster.
async fn remove_member(owner: &TestNode, member: &TestNode) {
    let code = MemberCode::new(&member.member).unwrap();
    let removed: MemberInfo = owner
        .ok(MembersRemove {
            member: code.clone(),
        })
        .await;
    assert_eq!(removed.member, code);
}

/// Waits until `node`'s own copy of `id` (in `datasets`) shows `status`.
async fn wait_held_status(node: &TestNode, id: &str, status: DatasetStatus) {
    wait_for(
        &format!("{}'s copy of {id} to show {status}", node.member),
        || async { (node.dataset(id).await?.status == status).then_some(()) },
    )
    .await;
}

/// MMR pulls THA's `members` release; THA removes MMR from its roster, then revokes: MMR's
/// copy shows revoked. Removal stopped MMR's future pulls (a new version never reaches it) but
/// not the revocation of what it holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_that_pulled_still_learns_of_the_revocation() {
    let fed = Federation::new(&["THA", "MMR", "AUS"]).await;
    let (tha, mmr, aus) = (&fed["THA"], &fed["MMR"], &fed["AUS"]);
    let id = tha.release_text("members", "members").await.id;
    mmr.wait_entry(&id).await;
    mmr.pull(&id, None)
        .await
        .expect("MMR pulls while in the roster");

    remove_member(tha, mmr).await;
    // What removal takes back: a new version is neither announced to MMR nor served to it.
    let v2 = tha.release_text("members", "members").await.id;
    aus.wait_entry(&v2).await;
    let (_, refused) = mmr
        .pull(&v2, None)
        .await
        .expect_err("removed from the roster");
    assert_eq!(refused, format!("dataset {v2} not found"));

    // What it cannot take back: MMR holds version 1, and hears of its revocation.
    assert_eq!(tha.revoke(&id).await.status, DatasetStatus::Revoked);
    wait_held_status(mmr, &id, DatasetStatus::Revoked).await;
    assert_eq!(
        mmr.wait_status(&id, DatasetStatus::Revoked).await.status,
        DatasetStatus::Revoked
    );
    aus.wait_status(&id, DatasetStatus::Revoked).await;
    fed.shutdown().await;
}

/// The same while MMR is down: THA removes and revokes while MMR is stopped; when MMR comes
/// back (on a new port) and reconnects, the revocation reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_that_was_down_learns_of_the_revocation_when_it_returns() {
    let mut fed = Federation::new(&["THA", "MMR"]).await;
    let id = fed["THA"].release_text("members", "members").await.id;
    fed["MMR"].wait_entry(&id).await;
    fed["MMR"]
        .pull(&id, None)
        .await
        .expect("MMR pulls while in the roster");

    fed.stop("MMR").await;
    remove_member(&fed["THA"], &fed["MMR"]).await;
    fed["THA"].revoke(&id).await;
    // Restarted on its own, not through `Federation::restart`, which would put MMR back in
    // THA's roster: MMR dials THA from its roster.
    fed.node_mut("MMR").restart().await;
    fed["MMR"].wait_connected(&fed["THA"]).await;
    wait_held_status(&fed["MMR"], &id, DatasetStatus::Revoked).await;
    fed.shutdown().await;
}
