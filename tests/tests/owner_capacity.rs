//! The owner's serving capacity under attack from peers outside its roster (README,
//! "Security: the owner's side"): strangers that open pull streams and send nothing, send
//! their request slowly, or ask for content and never read it cannot lock a member out; and a
//! flood of requests from freshly minted keys leaves a bounded access log in which every
//! member's request still has its own entry.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use datapact_node::api::{Audit, AuditReport, LogEvent, LogLine, Outcome};
use datapact_protocol::MemberCode;
use datapact_protocol::wire::PullResponse;
use datapact_tests::hostile::{HostilePeer, polite};
use datapact_tests::{DEADLINE, Federation, TestNode, pseudo_random, wait_for};
use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::{PeerId, Stream};

fn peer_of(node: &TestNode) -> PeerId {
    node.peer_id().parse().unwrap()
}

/// A stranger (fresh key) connected to `node`.
async fn stranger_at(node: &TestNode) -> HostilePeer {
    let stranger = HostilePeer::stranger(polite()).await;
    stranger.connect_to(node).await;
    stranger
}

/// Opens `n` pull streams from `stranger` to `owner` and writes `prefix` on each (nothing, or
/// the start of a request that never ends); returns them, held open. A write fails when the
/// owner has already closed the stream, which is its right.
async fn hold_streams(
    stranger: &HostilePeer,
    owner: PeerId,
    n: usize,
    prefix: &[u8],
) -> Vec<Stream> {
    let mut held = Vec::new();
    for _ in 0..n {
        let mut stream = stranger.open_pull_stream(owner).await;
        if !prefix.is_empty() {
            let _ = stream.write_all(prefix).await;
            let _ = stream.flush().await;
        }
        held.push(stream);
    }
    held
}

/// Asserts that `member` pulls `id` from its owner, content and all.
async fn assert_member_pulls(member: &TestNode, id: &str, while_what: &str) {
    let pulled = member.pull(id, None).await.unwrap_or_else(|e| {
        panic!(
            "{} could not pull {id} while {while_what}: {e:?}",
            member.member
        )
    });
    assert_eq!(pulled.id, id);
    assert!(member.dataset(id).await.expect("held").has_content);
}

/// Waits until the owner has closed `stream` (it reads the end, or an error).
async fn wait_closed_by_owner(stream: &mut Stream) {
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(DEADLINE, stream.read(&mut byte)).await;
    match read {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        Ok(Ok(_)) => panic!("the owner sent something on a stream that never sent a request"),
        Err(_) => panic!("the owner kept a silent pull stream open for {DEADLINE:?}"),
    }
}

/// A stranger holds 64 pull streams open and sends nothing on them: a member's pull still
/// succeeds, and the owner closes the silent streams after its request deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_holding_silent_pull_streams_cannot_lock_members_out() {
    let fed = Federation::new(&["THA", "MMR"]).await;
    let (tha, mmr) = (&fed["THA"], &fed["MMR"]);
    let id = tha.release_text("mgi", "members").await.id;
    mmr.wait_entry(&id).await;
    let stranger = stranger_at(tha).await;

    let mut held = hold_streams(&stranger, peer_of(tha), 64, &[]).await;
    assert_member_pulls(mmr, &id, "a stranger holds 64 silent pull streams").await;
    wait_closed_by_owner(&mut held[0]).await;
    drop(held);
    drop(stranger);
    fed.shutdown().await;
}

/// Strangers hold their whole share with slow but well-formed requests: some send a request
/// frame a byte short and stall, others ask for a large `public` release and never read it.
/// A member's pull still succeeds, and a further stranger is told the owner is busy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_holding_their_share_with_slow_requests_cannot_lock_members_out() {
    let fed = Federation::new(&["THA", "MMR"]).await;
    let (tha, mmr) = (&fed["THA"], &fed["MMR"]);
    let owner = peer_of(tha);
    let first = tha.release_text("first", "members").await.id;
    let second = tha.release_text("second", "members").await.id;
    // Far more than the stream's flow-control window: serving it blocks until it is read.
    let big_file = tha.write_file("big.bin", &pseudo_random(8 << 20, 9));
    let big = tha.release(&big_file, "big", "public").await.id;
    mmr.wait_entry(&second).await;
    let (reader, trickler) = (stranger_at(tha).await, stranger_at(tha).await);

    let mut unread = Vec::new();
    let mut busy = 0;
    for _ in 0..40 {
        match reader.ask_pull(owner, &big).await {
            Ok((PullResponse::Granted { .. }, stream)) => unread.push(stream),
            Ok((PullResponse::Denied { reason }, _)) if reason.contains("busy") => busy += 1,
            other => panic!("unexpected answer to a pull of {big}: {other:?}"),
        }
    }
    assert!(busy > 0, "40 unread pulls of {big} were all served at once");
    assert_member_pulls(
        mmr,
        &first,
        "strangers hold 40 pulls of a large release unread",
    )
    .await;
    let (answer, _) = stranger_at(tha).await.ask_pull(owner, &big).await.unwrap();
    assert!(
        matches!(&answer, PullResponse::Denied { reason } if reason.contains("busy")),
        "strangers' share is full: {answer:?}"
    );

    // A frame header announcing 60 bytes, then 59 of them: well-formed so far, never done.
    let mut unfinished = 60u32.to_be_bytes().to_vec();
    unfinished.extend_from_slice(&[0xa2; 59]);
    let trickled = hold_streams(&trickler, owner, 40, &unfinished).await;
    assert_member_pulls(mmr, &second, "strangers also stall 40 unfinished requests").await;
    drop((trickled, unread, trickler, reader));
    fed.shutdown().await;
}

/// What a flood did to the owner's access log.
struct Flood {
    answered: u64,
    elapsed: Duration,
}

/// `keys` strangers, each asking `per_key` times in a row for `ids` in turn.
async fn flood(strangers: &[HostilePeer], owner: PeerId, per_key: usize, ids: &[&str]) -> Flood {
    let started = Instant::now();
    let answered = futures::future::join_all(strangers.iter().map(|s| async move {
        let mut answered = 0u64;
        for i in 0..per_key {
            if s.ask_pull(owner, ids[i % ids.len()]).await.is_ok() {
                answered += 1;
            }
        }
        answered
    }))
    .await;
    Flood {
        answered: answered.iter().sum(),
        elapsed: started.elapsed(),
    }
}

fn pull_entries_of<'a>(log: &'a [LogLine], member: &'a str) -> Vec<&'a LogLine> {
    log.iter()
        .filter(|l| {
            l.event == LogEvent::Pull && l.member.as_ref().map(MemberCode::as_str) == Some(member)
        })
        .collect()
}

/// 1,800 pull requests from 15 freshly minted keys add at most 200 entries to the owner's
/// access log (read back through its `log` operation): what is not logged one by one is
/// counted in a `pulls_refused` entry. A member's requests in the same window each have their
/// own entry, and the log's hash chain holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_fresh_keys_leaves_a_bounded_log_and_every_member_request_logged() {
    const KEYS: usize = 15;
    const PER_KEY: usize = 120;
    let fed = Federation::new(&["THA", "MMR"]).await;
    let (tha, mmr) = (&fed["THA"], &fed["MMR"]);
    let owner = peer_of(tha);
    let mut mine = Vec::new();
    for name in ["m1", "m2", "m3"] {
        mine.push(tha.release_text(name, "members").await.id);
    }
    mmr.wait_entry(&mine[2]).await;
    let mut strangers = Vec::new();
    for _ in 0..KEYS {
        strangers.push(stranger_at(tha).await);
    }
    let before = tha.log().await.len();

    let asked = [mine[0].as_str(), "THA/never-released@1"];
    let member_pulls = async {
        for id in &mine {
            mmr.pull(id, None)
                .await
                .expect("a member pulls during the flood");
        }
    };
    let (flood, ()) = tokio::join!(flood(&strangers, owner, PER_KEY, &asked), member_pulls);
    let log = tha.log().await;
    let added = log.len() - before;
    eprintln!(
        "flood: {} requests from {KEYS} fresh keys answered in {:?}; {added} access-log entries added",
        flood.answered, flood.elapsed
    );
    assert!(added <= 200, "the flood added {added} access-log entries");
    let granted: Vec<_> = pull_entries_of(&log, "MMR")
        .into_iter()
        .filter(|l| l.outcome == Outcome::Granted)
        .filter_map(|l| l.dataset.clone())
        .collect();
    assert_eq!(granted, mine, "each of MMR's pulls has its own entry");

    // The refusals not logged one by one are counted, all of them.
    let log = wait_for("the owner's summary of the refused requests", || async {
        let log = tha.log().await;
        log.iter()
            .any(|l| l.event == LogEvent::PullsRefused)
            .then_some(log)
    })
    .await;
    let new = &log[before..];
    let one_by_one = new
        .iter()
        .filter(|l| l.event == LogEvent::Pull && l.member.is_none())
        .count() as u64;
    let summary = new
        .iter()
        .find(|l| l.event == LogEvent::PullsRefused)
        .unwrap();
    assert_eq!(summary.member, None);
    assert_eq!(summary.outcome, Outcome::Denied);
    let reason = summary.reason.as_deref().unwrap();
    assert!(
        reason.contains(" outside the roster; not logged one by one"),
        "{reason}"
    );
    let counted: u64 = new.iter().filter_map(|l| l.count).sum();
    assert_eq!(
        one_by_one + counted,
        flood.answered,
        "every answered request is in the log"
    );
    let audit: AuditReport = tha.ok(Audit { strict: false }).await;
    assert!(audit.ok, "audit after the flood: {:?}", audit.failures);
    drop(strangers);
    fed.shutdown().await;
}
