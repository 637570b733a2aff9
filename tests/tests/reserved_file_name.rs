//! A received announcement whose `file_name` is the exported bundle's own `announcement.cose`
//! is refused on every path, as a bad statement: its content would overwrite the signature in
//! an export. The sender is MMR, a roster member that signs, with its own key, what the
//! release command would never build: on gossip and by direct delivery, THA refuses it, while
//! a genuine release of MMR's sent right after arrives.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_protocol::announcement::{ANNOUNCEMENT_CONTENT_TYPE, Statement};
use datapact_protocol::wire::{DirectRequest, DirectResponse, SignedStatement};
use datapact_protocol::{Audience, Identity, PeerId};
use datapact_tests::statements::{self, digest_of};
use datapact_tests::{DEADLINE, Federation, wait_until};

/// MMR's announcement of `name` with the bundle's own file name, signed by `key` without the
/// checks that `Signed::sign` makes.
fn colliding(name: &str, audience: Audience, key: &Identity) -> SignedStatement {
    let digest = digest_of(b"year,arrivals\n2017,100\n");
    let mut announcement = statements::announcement("MMR", name, &digest, audience);
    announcement.file_name = "announcement.cose".into();
    announcement.meta.title = "Arrivals".into();
    let mut payload = Vec::new();
    ciborium::into_writer(&announcement.to_payload(), &mut payload).unwrap();
    SignedStatement::Announcement(datapact_protocol::cose::sign(
        key,
        ANNOUNCEMENT_CONTENT_TYPE,
        &payload,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announcement_naming_the_bundle_file_is_refused_on_every_path() {
    let fed = Federation::new(&["THA", "MMR"]).await;
    let (tha, mmr) = (&fed["THA"], &fed["MMR"]);
    let key = mmr.ctx().home.identity.clone();

    // Direct delivery, as the owner of a `members` release.
    let before = tha.rejected();
    let statement = colliding("collide-direct", Audience::Members, &key);
    let peer: PeerId = tha.peer_id().parse().unwrap();
    let answer = tokio::time::timeout(
        DEADLINE,
        mmr.ctx()
            .network
            .request(peer, DirectRequest::Deliver(statement)),
    )
    .await
    .expect("THA answers in time")
    .expect("delivery reaches THA");
    assert!(
        matches!(answer, DirectResponse::Rejected { .. }),
        "THA answered {answer:?}"
    );
    assert!(tha.rejected() > before, "THA counts the refusal");

    // Gossip, as a `public` release.
    let before = tha.rejected();
    mmr.publish_raw(colliding("collide-gossip", Audience::Public, &key))
        .await;
    wait_until("THA to refuse the gossiped announcement", || async {
        tha.rejected() > before
    })
    .await;

    // A genuine release sent the same way right after arrives: the refusals were the name's.
    let genuine = mmr.release_text("arrivals", "public").await.id;
    tha.wait_entry(&genuine).await;
    for id in ["MMR/collide-direct@1", "MMR/collide-gossip@1"] {
        tha.assert_never_seen(id).await;
    }
    fed.shutdown().await;
}
