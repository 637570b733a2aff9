//! Federation scenarios with real nodes on 127.0.0.1: who sees and pulls what (docs/design.md
//! section 4), owner-enforced embargo and expiry, revocation, and catch-up after a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use datapact_node::api::{
    CatalogEntry, DatasetStatus, ErrorKind, LogEvent, LogLine, Outcome, PullResult, ReleaseRequest,
};
use datapact_protocol::{Audience, MemberCode};
use datapact_tests::{Federation, RequestError, TestNode, sample, sha256_hex, unix_now, wait_for};

fn code(text: &str) -> Option<MemberCode> {
    Some(MemberCode::new(text).unwrap())
}

/// An id of THA's that was never released: the reference answer for confidentiality checks.
const NEVER_RELEASED: &str = "THA/never-released@1";

/// Asserts that asking for `id` got exactly the answer that asking for [`NEVER_RELEASED`] got:
/// the same error kind and the same message once each id is replaced by a placeholder.
fn assert_same_as_nonexistent(
    who: &str,
    id: &str,
    answer: &Result<PullResult, RequestError>,
    reference: &Result<PullResult, RequestError>,
) {
    let (kind, message) = match answer {
        Ok(r) => panic!("{who} pulled {id}, which it is not in the audience of: {r:?}"),
        Err(e) => e,
    };
    let (ref_kind, ref_message) = reference
        .as_ref()
        .expect_err("pulling a dataset that was never released must fail");
    assert_eq!(
        (kind, message.replace(id, "<ID>")),
        (ref_kind, ref_message.replace(NEVER_RELEASED, "<ID>")),
        "{who}: asking for {id} must get exactly the answer for a dataset that does not exist"
    );
    assert!(
        !message.contains("audience") && !message.contains("denied"),
        "{who}: the answer for {id} reveals a refusal: {message}"
    );
}

fn ids(catalog: &[CatalogEntry]) -> BTreeSet<String> {
    catalog.iter().map(|e| e.id.clone()).collect()
}

/// Pulls `id` into a file on `node` and checks the content against `original` byte for byte and
/// by SHA-256 (the pull's, and the one the owner announced).
async fn pull_and_check(node: &TestNode, id: &str, original: &[u8], announced_sha: &str) {
    let out = node.out_path("pulled.csv");
    let result = node
        .pull(id, Some(&out))
        .await
        .unwrap_or_else(|e| panic!("{} could not pull {id}: {e:?}", node.member));
    let content = std::fs::read(&out).expect("read pulled file");
    assert!(
        content == original,
        "{}: content of {id} differs",
        node.member
    );
    assert_eq!(
        result.sha256,
        sha256_hex(original),
        "{}: sha256 of {id}",
        node.member
    );
    assert_eq!(
        result.sha256, announced_sha,
        "{}: sha256 of {id}",
        node.member
    );
    assert_eq!(result.size, original.len() as u64);
    let held = node.dataset(id).await.expect("pulled dataset listed");
    assert_eq!(held.status, DatasetStatus::Received);
    assert!(held.has_content);
}

/// The pull entries of the owner's access log about `id`.
fn pulls_of<'a>(log: &'a [LogLine], id: &'a str) -> impl Iterator<Item = &'a LogLine> + 'a {
    log.iter()
        .filter(move |l| l.event == LogEvent::Pull && l.dataset.as_deref() == Some(id))
}

/// Scenarios 1, 2 and 8: a `public`, a `members` and an `only:MMR` release are seen and
/// pulled by exactly their audience; to everyone else a restricted id is indistinguishable
/// from one that does not exist, and an outsider (listing THA, not listed by it) sees only the
/// public release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_release_reaches_exactly_its_audience() {
    let fed = Federation::new(&["THA", "MMR", "AUS"]).await;
    let (tha, mmr, aus) = (&fed["THA"], &fed["MMR"], &fed["AUS"]);

    // Named so that the public release sorts last: catch-up answers in id order, so once an
    // outsider holds the public release it has handled every statement THA sent it.
    let files = [
        ("migrant_stock_2015_2017.csv", "public-stock", "public"),
        ("mgi_2016.csv", "members-mgi", "members"),
        (
            "trafficking_victims_tha_2017.csv",
            "mmr-trafficking",
            "only:MMR",
        ),
    ];
    let mut released = Vec::new();
    for (file, name, policy) in files {
        let info = tha.release(&tha.copy_sample(file), name, policy).await;
        assert_eq!(info.policy, policy.parse::<Audience>().unwrap());
        assert_eq!(info.status, DatasetStatus::Released);
        released.push((info, std::fs::read(sample(file)).expect("sample")));
    }
    let [public, members, only_mmr] = [0, 1, 2].map(|i| released[i].0.id.clone());

    // MMR is in every audience: sees all three, may pull all three.
    let catalog = mmr
        .wait_catalog("all three of THA's releases", |c| {
            [&public, &members, &only_mmr]
                .iter()
                .all(|id| c.iter().any(|e| &e.id == *id))
        })
        .await;
    for (info, _) in &released {
        let entry = catalog.iter().find(|e| e.id == info.id).expect("listed");
        assert_eq!(entry.policy, info.policy);
        assert!(
            entry.pullable,
            "MMR should be able to pull {}: {entry:?}",
            info.id
        );
        assert!(!entry.pulled);
    }
    for (info, content) in &released {
        pull_and_check(mmr, &info.id, content, &info.sha256).await;
    }

    // AUS is a member, not named by only:MMR.
    aus.wait_catalog("THA's public and members releases", |c| {
        c.iter().any(|e| e.id == public) && c.iter().any(|e| e.id == members)
    })
    .await;
    for (info, content) in &released[..2] {
        pull_and_check(aus, &info.id, content, &info.sha256).await;
    }
    let answer = aus.pull(&only_mmr, None).await;
    let reference = aus.pull(NEVER_RELEASED, None).await;
    assert_same_as_nonexistent("AUS", &only_mmr, &answer, &reference);
    aus.assert_never_seen(&only_mmr).await;

    // The owner logged AUS's refusal with the true reason, and MMR's grants.
    let log = tha.log().await;
    assert!(
        pulls_of(&log, &only_mmr).any(|l| l.member == code("AUS")
            && l.outcome == Outcome::Denied
            && l.reason.as_deref() == Some("denied: not in audience")),
        "THA's log lacks AUS's denied pull of {only_mmr}: {log:#?}"
    );
    assert!(
        pulls_of(&log, &only_mmr).any(|l| l.member == code("MMR") && l.outcome == Outcome::Granted),
        "THA's log lacks MMR's granted pull of {only_mmr}: {log:#?}"
    );

    // An outsider lists THA, THA does not list it: it catches up on the public release only.
    let idn = fed.start_outsider("IDN", &["THA"]).await;
    let catalog = idn.wait_entry(&public).await;
    assert!(catalog.pullable, "{catalog:?}");
    // Catch-up sends everything visible in one page, so the other releases would be here now.
    assert_eq!(ids(&idn.catalog().await), BTreeSet::from([public.clone()]));
    pull_and_check(&idn, &public, &released[0].1, &released[0].0.sha256).await;
    let reference = idn.pull(NEVER_RELEASED, None).await;
    for id in [&members, &only_mmr] {
        let answer = idn.pull(id, None).await;
        assert_same_as_nonexistent("the outsider", id, &answer, &reference);
        idn.assert_never_seen(id).await;
    }
    let log = tha.log().await;
    for id in [&members, &only_mmr] {
        assert!(
            pulls_of(&log, id).any(|l| l.peer == idn.peer_id().parse().ok()
                && l.member.is_none()
                && l.outcome == Outcome::Denied),
            "THA's log lacks the outsider's denied pull of {id}: {log:#?}"
        );
    }

    // Still nothing of the only:MMR release at AUS after all that traffic.
    aus.assert_never_seen(&only_mmr).await;
    let mut idn = idn;
    idn.stop().await;
    fed.shutdown().await;
}

/// Scenario 3: embargo and expiry are enforced by the owner on every pull, shown to receivers
/// in their catalogue, and refusals are written to the owner's access log with their reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embargo_and_expiry_are_enforced_by_the_owner() {
    let fed = Federation::new(&["THA", "MMR"]).await;
    let (tha, mmr) = (&fed["THA"], &fed["MMR"]);
    let now = unix_now();
    let request = |name: &str, embargo_until, expires_at| ReleaseRequest {
        path: tha
            .write_file(&format!("{name}.csv"), format!("x\n{name}\n").as_bytes())
            .display()
            .to_string(),
        name: name.to_owned(),
        title: name.to_owned(),
        policy: Audience::Members,
        embargo_until,
        expires_at,
        ..ReleaseRequest::default()
    };

    // A window in which nobody could ever pull is refused as bad input.
    let (kind, message) = tha
        .try_release(request("never-open", Some(now + 600), Some(now + 600)))
        .await
        .expect_err("expiry at the embargo's end must be refused");
    assert_eq!(kind, ErrorKind::BadInput);
    assert!(
        message.contains("expiry must come after the embargo"),
        "{message}"
    );

    let embargoed = tha
        .try_release(request("embargoed", Some(now + 3600), None))
        .await
        .expect("embargoed release")
        .id;
    // An expiry already passed is refused too: nobody could ever pull.
    let (kind, message) = tha
        .try_release(request("expired-already", None, Some(now - 60)))
        .await
        .expect_err("an expiry in the past must be refused");
    assert_eq!(kind, ErrorKind::BadInput);
    assert!(message.contains("in the past"), "{message}");

    // Expires two seconds from now: announced while valid, refused once the clock passes it.
    let expires_at = now + 2;
    let expired = tha
        .try_release(request("expired", None, Some(expires_at)))
        .await
        .expect("soon-expiring release")
        .id;
    let open = tha
        .try_release(request("open-window", Some(now - 60), Some(now + 3600)))
        .await
        .expect("release with an open window")
        .id;

    mmr.wait_catalog("the three windowed releases", |c| {
        [&embargoed, &expired, &open]
            .iter()
            .all(|id| c.iter().any(|e| &e.id == *id))
    })
    .await;
    // Waiting for the wall clock to pass the expiry, not for another node.
    datapact_tests::wait_until("the expiry second to pass", || async {
        unix_now() > expires_at
    })
    .await;
    let catalog = mmr.catalog().await;
    let entry = |id: &str| catalog.iter().find(|e| e.id == id).unwrap().clone();

    let e = entry(&embargoed);
    assert!(!e.pullable);
    assert_eq!(e.status, DatasetStatus::Received);
    let embargo_reason = e.reason.expect("reason");
    assert!(
        embargo_reason.starts_with("denied: embargoed until "),
        "{embargo_reason}"
    );
    let (kind, message) = mmr.pull(&embargoed, None).await.expect_err("embargoed");
    assert_eq!(kind, ErrorKind::Failed);
    assert_eq!(message, embargo_reason);

    let e = entry(&expired);
    assert!(!e.pullable);
    assert_eq!(e.status, DatasetStatus::Expired);
    let expiry_reason = e.reason.expect("reason");
    assert!(
        expiry_reason.starts_with("denied: expired at "),
        "{expiry_reason}"
    );
    let (kind, message) = mmr.pull(&expired, None).await.expect_err("expired");
    assert_eq!(kind, ErrorKind::Failed);
    assert_eq!(message, expiry_reason);

    let e = entry(&open);
    assert!(e.pullable, "{e:?}");
    mmr.pull(&open, None).await.expect("pull inside the window");

    let log = tha.log().await;
    for (id, reason) in [(&embargoed, &embargo_reason), (&expired, &expiry_reason)] {
        assert!(
            pulls_of(&log, id).any(|l| l.member == code("MMR")
                && l.outcome == Outcome::Denied
                && l.reason.as_ref() == Some(reason)),
            "THA's log lacks MMR's refused pull of {id} ({reason}): {log:#?}"
        );
    }
    assert!(
        pulls_of(&log, &open).any(|l| l.member == code("MMR") && l.outcome == Outcome::Granted)
    );
    assert_eq!(
        tha.dataset(&expired).await.unwrap().status,
        DatasetStatus::Expired
    );
    assert_eq!(
        tha.dataset(&embargoed).await.unwrap().status,
        DatasetStatus::Released
    );
    fed.shutdown().await;
}

/// Scenario 4: a revocation reaches receivers that already pulled (and those that did not),
/// for a public release (gossip) and a restricted one (direct delivery).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_reaches_receivers_that_pulled() {
    let fed = Federation::new(&["THA", "MMR", "AUS"]).await;
    let (tha, mmr, aus) = (&fed["THA"], &fed["MMR"], &fed["AUS"]);
    let public = tha.release_text("revoked-public", "public").await.id;
    let restricted = tha.release_text("revoked-restricted", "members").await.id;
    for node in [mmr, aus] {
        node.wait_catalog("both releases", |c| {
            c.iter().any(|e| e.id == public) && c.iter().any(|e| e.id == restricted)
        })
        .await;
    }
    for id in [&public, &restricted] {
        mmr.pull(id, None).await.expect("pull before revocation");
        assert_eq!(
            mmr.dataset(id).await.unwrap().status,
            DatasetStatus::Received
        );
    }

    for id in [&public, &restricted] {
        assert_eq!(tha.revoke(id).await.status, DatasetStatus::Revoked);
    }
    for id in [&public, &restricted] {
        wait_for(&format!("MMR's datasets to show {id} revoked"), || async {
            (mmr.dataset(id).await?.status == DatasetStatus::Revoked).then_some(())
        })
        .await;
        let entry = mmr.wait_status(id, DatasetStatus::Revoked).await;
        assert!(!entry.pullable);
        // AUS never pulled: its catalogue shows the revocation, and the owner refuses a pull.
        aus.wait_status(id, DatasetStatus::Revoked).await;
        let (_, message) = aus.pull(id, None).await.expect_err("revoked");
        assert_eq!(message, "denied: revoked by the owner");
    }
    fed.shutdown().await;
}

/// Scenario 5: a member that was down while the owner released and revoked catches up when it
/// comes back: its catalogue ends up as the one of a member that stayed up (for what it may
/// see), and catch-up tells it nothing about a release outside its audience.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_catches_up_after_restart() {
    let mut fed = Federation::new(&["THA", "MMR", "AUS"]).await;
    let early_public = fed["THA"].release_text("early-public", "public").await.id;
    let early_members = fed["THA"].release_text("early-members", "members").await.id;
    for m in ["MMR", "AUS"] {
        fed[m]
            .wait_catalog("the early releases", |c| {
                c.iter().any(|e| e.id == early_public) && c.iter().any(|e| e.id == early_members)
            })
            .await;
    }

    fed.stop("AUS").await;
    let tha = &fed["THA"];
    let late_public = tha.release_text("late-public", "public").await.id;
    let late_members = tha.release_text("late-members", "members").await.id;
    let late_secret = tha.release_text("late-secret", "only:MMR").await.id;
    tha.revoke(&early_members).await;
    let mmr_view = fed["MMR"]
        .wait_catalog("the late releases and the revocation", |c| {
            [&late_public, &late_members, &late_secret]
                .iter()
                .all(|id| c.iter().any(|e| &e.id == *id))
                && c.iter()
                    .any(|e| e.id == early_members && e.status == DatasetStatus::Revoked)
        })
        .await;
    let expected: BTreeSet<(String, DatasetStatus)> = mmr_view
        .iter()
        .filter(|e| !matches!(e.policy, Audience::Only(_)))
        .map(|e| (e.id.clone(), e.status))
        .collect();
    assert_eq!(expected.len(), 4, "{expected:?}");

    fed.restart("AUS").await;
    let aus = &fed["AUS"];
    aus.wait_catalog(&format!("ids and statuses equal to {expected:?}"), |c| {
        c.iter()
            .map(|e| (e.id.clone(), e.status))
            .collect::<BTreeSet<_>>()
            == expected
    })
    .await;
    aus.assert_never_seen(&late_secret).await;
    aus.pull(&late_members, None)
        .await
        .expect("pull what was released while AUS was down");
    fed.shutdown().await;
}
