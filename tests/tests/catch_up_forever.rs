//! A roster member that answers catch-up forever (empty pages whose cursor moves on by one)
//! is asked a bounded number of times and costs the receiver almost nothing: the receiver
//! stops at the first page that brings nothing new. The test measures the CPU time of its own
//! process (receiver and hostile peer together) over a window after the first request.
//!
//! Alone in its file, so no other test shares the process while CPU time is measured.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use datapact_node::network::catch_up::MAX_CATCHUP_PAGES;
use datapact_protocol::wire::{DirectRequest, DirectResponse};
use datapact_tests::hostile::{Answer, HostilePeer};
use datapact_tests::{TestNode, wait_until};

/// How long the receiver is watched after the hostile member's first catch-up answer.
const WINDOW: Duration = Duration::from_secs(3);
/// Most CPU the receiver may spend on such a member: 15 % of one core.
const MAX_CPU_SHARE: f64 = 0.15;
/// Clock ticks per second of `/proc/self/stat` (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time (user + system) this process has used so far, from `/proc/self/stat`.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_secs_f64(ticks as f64 / TICKS_PER_SECOND)
}

/// Answers every catch-up with an empty page and a cursor one further on, forever.
fn forever() -> Answer {
    Box::new(|_, request| {
        Some(match request {
            DirectRequest::CatchUp { from } => DirectResponse::CatchUp {
                statements: vec![],
                next: Some(from + 1),
            },
            _ => DirectResponse::Ack,
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_answering_catch_up_forever_is_asked_a_bounded_number_of_times() {
    let mut mmr = TestNode::start("MMR").await;
    let aus = HostilePeer::member_of("AUS", [0x3c; 32], forever(), &[&mmr]).await;
    wait_until("MMR to ask AUS for catch-up", || async {
        aus.received.catch_ups() >= 1
    })
    .await;
    let (cpu_before, started) = (process_cpu(), Instant::now());
    // A measurement window, not synchronisation: whatever the receiver does in it is counted.
    tokio::time::sleep(WINDOW).await;
    let asked = aus.received.catch_ups();
    let share = (process_cpu() - cpu_before).as_secs_f64() / started.elapsed().as_secs_f64();
    eprintln!(
        "catch-up requests AUS received: {asked}; CPU of the test process over {WINDOW:?}: {:.1} % of a core",
        share * 100.0
    );
    assert!(
        asked <= u64::from(MAX_CATCHUP_PAGES),
        "MMR asked {asked} times (bound {MAX_CATCHUP_PAGES})"
    );
    assert!(
        share <= MAX_CPU_SHARE,
        "{:.1} % of a core spent on a member answering forever",
        share * 100.0
    );
    assert!(mmr.catalog().await.is_empty());
    mmr.stop().await;
}
