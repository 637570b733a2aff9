//! A member cannot pass its bytes off under another member's digest. AUS, a roster member
//! played by a hostile peer, signs an announcement of its own (`AUS/fake@1`) whose `sha256` is
//! the digest of THA's dataset and whose chunk root describes other bytes, and serves those
//! bytes: every chunk matches AUS's chunk list, only the whole content does not match the
//! digest. A receiver must refuse the content, keep nothing of it under THA's digest, and still
//! pull THA's dataset with THA's bytes; THA itself, pulling AUS's dataset, must keep its own
//! chunk list, so others can still pull from it. And a pull of bytes already held still
//! transfers and verifies them all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use datapact_node::api::{Audit, Outcome};
use datapact_node::ops::pull;
use datapact_protocol::wire::{DirectRequest, DirectResponse, PullResponse, SignedStatement};
use datapact_protocol::{Audience, Digest, Identity, PeerId, SignedAnnouncement};
use datapact_tests::hostile::{HostilePeer, Served, polite};
use datapact_tests::statements::{self, digest_of};
use datapact_tests::{Federation, TestNode, pseudo_random, sha256_hex};

/// AUS's key seed: the hostile peer and the rosters that list it agree on it.
const AUS_SEED: [u8; 32] = [0xa5; 32];
/// Content length of the datasets: a few chunks, the last one short.
const CHUNKED_LEN: usize = 3 * datapact_protocol::CHUNK_SIZE as usize + 12_345;

/// An announcement AUS signs for `name`, claiming the digest `claimed_sha256` for `content`
/// (its true chunk list and size), and what it serves for it.
fn crafted(aus: &Identity, name: &str, claimed_sha256: Digest, content: &[u8]) -> (String, Served) {
    let digest = digest_of(content);
    let mut announcement = statements::announcement("AUS", name, &digest, Audience::Members);
    announcement.sha256 = claimed_sha256;
    announcement.meta.title = format!("{name}, by AUS");
    let id = announcement.id().to_string();
    let signed = SignedAnnouncement::sign(announcement, aus).unwrap();
    let served = Served {
        response: PullResponse::Granted {
            announcement: signed.bytes().to_vec(),
            chunk_digests: digest.chunks.iter().flat_map(|d| d.0).collect(),
        },
        content: content.to_vec(),
    };
    (id, served)
}

/// AUS hands its announcement in `served` to `node` directly, as an owner does.
async fn deliver(aus: &HostilePeer, node: &TestNode, id: &str, served: &Served) {
    let PullResponse::Granted { announcement, .. } = &served.response else {
        panic!("a grant");
    };
    let peer: PeerId = node.peer_id().parse().unwrap();
    let answer = aus
        .request(
            peer,
            DirectRequest::Deliver(SignedStatement::Announcement(announcement.clone())),
        )
        .await
        .unwrap();
    assert_eq!(
        answer,
        DirectResponse::Ack,
        "{} accepts AUS's announcement",
        node.member
    );
    node.wait_entry(id).await;
}

/// Whether `node` holds a blob under `sha256`, and its unfinished pulls' files.
fn blob_state(node: &TestNode, sha256: &Digest) -> (bool, Vec<std::path::PathBuf>) {
    let blobs = node.dir().join("blobs");
    let partial: Vec<_> = match std::fs::read_dir(blobs.join("partial")) {
        Ok(dir) => dir.map(|e| e.unwrap().path()).collect(),
        Err(_) => vec![],
    };
    (blobs.join(sha256.to_string()).is_file(), partial)
}

async fn audit_ok(node: &TestNode) {
    let report = node.ok(Audit { strict: false }).await;
    assert!(report.ok, "{}'s audit: {report:?}", node.member);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_never_stores_a_members_bytes_under_another_members_digest() {
    let fed = Federation::new(&["THA", "MMR"]).await;
    let (tha, mmr) = (&fed["THA"], &fed["MMR"]);
    let genuine = pseudo_random(CHUNKED_LEN, 1);
    let file = tha.write_file("arrivals.csv", &genuine);
    let real = tha.release(&file, "arrivals", "members").await.id;
    mmr.wait_entry(&real).await;
    let genuine_sha = Digest::of(&genuine);

    let aus = HostilePeer::member_of("AUS", AUS_SEED, polite(), &[mmr]).await;
    let theirs = pseudo_random(genuine.len(), 2);
    let (fake, fake_served) = crafted(&aus.identity, "fake", genuine_sha, &theirs);
    let (copy, copy_served) = crafted(&aus.identity, "copy", genuine_sha, &genuine);
    let served = aus.serve_pulls(HashMap::from([
        (fake.clone(), fake_served.clone()),
        (copy.clone(), copy_served.clone()),
    ]));
    deliver(&aus, mmr, &fake, &fake_served).await;

    let (_, refused) = mmr.pull(&fake, None).await.unwrap_err();
    assert!(
        refused.contains("not the one the owner signed"),
        "pull of {fake}: {refused}"
    );
    assert_eq!(served.requests(), 1, "the substitute did travel");
    assert_eq!(
        blob_state(mmr, &genuine_sha),
        (false, vec![]),
        "nothing kept under THA's digest, no partial file left"
    );
    assert!(!mmr.catalog_entry(&fake).await.unwrap().pulled);

    // THA's dataset still comes from THA, with THA's bytes.
    let out = mmr.out_path("arrivals.csv");
    let pulled = mmr.pull(&real, Some(&out)).await.unwrap();
    assert_eq!(pulled.sha256, sha256_hex(&genuine));
    assert!(
        std::fs::read(&out).unwrap() == genuine,
        "MMR got THA's bytes"
    );
    let log = tha.log().await;
    assert!(
        log.iter()
            .any(|l| l.dataset.as_deref() == Some(real.as_str()) && l.outcome == Outcome::Granted),
        "THA served the pull: {log:#?}"
    );

    // An honest copy of bytes MMR already holds is still transferred and verified in full:
    // no shortcut skips the check or tells the owner what MMR holds.
    deliver(&aus, mmr, &copy, &copy_served).await;
    let mut last = 0;
    let mut reports = 0;
    pull::pull(mmr.ctx(), &copy, None, |held, _| {
        last = held;
        reports += 1;
    })
    .await
    .unwrap();
    assert_eq!(
        last,
        genuine.len() as u64,
        "every byte of {copy} was received"
    );
    assert!(reports > 1, "{reports} progress reports");
    assert_eq!(served.requests(), 2);
    audit_ok(mmr).await;
    fed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_pulling_a_substitute_of_its_own_dataset_keeps_serving_it() {
    let fed = Federation::new(&["THA", "MMR"]).await;
    let (tha, mmr) = (&fed["THA"], &fed["MMR"]);
    let genuine = pseudo_random(CHUNKED_LEN, 3);
    let file = tha.write_file("returns.csv", &genuine);
    let real = tha.release(&file, "returns", "members").await.id;
    mmr.wait_entry(&real).await;
    let genuine_sha = Digest::of(&genuine);

    let aus = HostilePeer::member_of("AUS", AUS_SEED, polite(), &[tha]).await;
    let theirs = pseudo_random(genuine.len() + 5000, 4);
    let (fake, fake_served) = crafted(&aus.identity, "fake", genuine_sha, &theirs);
    let served = aus.serve_pulls(HashMap::from([(fake.clone(), fake_served.clone())]));
    deliver(&aus, tha, &fake, &fake_served).await;

    let (_, refused) = tha.pull(&fake, None).await.unwrap_err();
    assert!(
        refused.contains("not the one the owner signed"),
        "THA's pull of {fake}: {refused}"
    );
    assert_eq!(served.requests(), 1, "the substitute did travel");
    assert_eq!(blob_state(tha, &genuine_sha), (true, vec![]));

    // THA's own chunk list is intact: MMR pulls THA's dataset with THA's bytes.
    let out = mmr.out_path("returns.csv");
    let pulled = mmr
        .pull(&real, Some(&out))
        .await
        .unwrap_or_else(|(_, e)| panic!("MMR's pull of {real} after THA pulled {fake}: {e}"));
    assert_eq!(pulled.sha256, sha256_hex(&genuine));
    assert!(
        std::fs::read(&out).unwrap() == genuine,
        "MMR got THA's bytes"
    );
    audit_ok(tha).await;
    audit_ok(mmr).await;
    fed.shutdown().await;
}
