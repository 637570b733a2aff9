//! How an in-process test waits: poll a condition (woken early by the nodes'
//! `accepted_events` where given) until [`DEADLINE`], then fail with a message saying what was
//! awaited. No test uses a sleep as synchronisation.

use std::future::Future;
use std::time::{Duration, Instant};

use datapact_protocol::DatasetId;
use tokio::sync::broadcast;

use crate::DEADLINE;

/// Longest interval between two checks of a condition (an accepted statement wakes a waiter
/// earlier).
pub const POLL: Duration = Duration::from_millis(50);
/// A wait longer than this is noted on stderr (shown for failing tests or with --nocapture).
pub(crate) const SLOW: Duration = Duration::from_secs(2);

/// Polls `check` until it returns `Some`, at most [`DEADLINE`]; panics naming `what` otherwise.
/// Between checks it waits [`POLL`], or less when one of `wake` (nodes' `accepted_events`)
/// fires.
pub async fn wait_for_woken<T, F, Fut>(
    what: &str,
    wake: &mut [broadcast::Receiver<DatasetId>],
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        let left = DEADLINE.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, check()).await {
            Ok(Some(value)) => {
                if start.elapsed() > SLOW {
                    eprintln!("note: waiting for {what} took {:?}", start.elapsed());
                }
                return value;
            }
            Ok(None) => {}
            Err(_) => panic!("timed out after {DEADLINE:?} waiting for {what} (a check hung)"),
        }
        let elapsed = start.elapsed();
        if elapsed > DEADLINE {
            panic!("timed out after {elapsed:?} waiting for {what}");
        }
        // An interval between polls with a deadline above, not synchronisation by sleeping.
        if wake.is_empty() {
            tokio::time::sleep(POLL).await;
        } else {
            let woken = futures::future::select_all(wake.iter_mut().map(|rx| Box::pin(rx.recv())));
            let _ = tokio::time::timeout(POLL, woken).await;
        }
    }
}

/// [`wait_for_woken`] without wake-ups: polls every [`POLL`] until [`DEADLINE`].
pub async fn wait_for<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    wait_for_woken(what, &mut [], check).await
}

/// [`wait_for`] for a condition without a value.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for(what, || {
        let fut = check();
        async move { fut.await.then_some(()) }
    })
    .await
}
