//! Every piece of background work the daemon starts, owned in one place: the swarm task, the
//! content server and each pull stream, the control socket and each connection, the work
//! inbound messages cause, catch-ups, deliveries, receipts and publishes. All of them are
//! spawned through [`Tasks`], which counts them until they end and gives them one cancellation
//! signal, so that shutdown can tell every task to stop and then know that none is left
//! holding the store.
//!
//! Cancellation is cooperative: a task watches [`Tasks::cancelled`] only where stopping loses
//! nothing (between retries, while waiting for a permit or the next request). Work that has
//! begun writing to the store is never dropped half-way; it runs to its end, which is short.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The daemon's background tasks and their shared cancellation signal. Clones share both.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    /// Counts every task spawned here until it ends, so shutdown can wait for the last one.
    tracker: TaskTracker,
    /// Fired once at shutdown; every long-lived or retrying task watches it.
    cancel: CancellationToken,
}

impl Tasks {
    /// An empty set of tasks, not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Spawns `task` on the runtime, counted until it ends.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        // The handle is not needed: the tracker is how the task is awaited.
        drop(self.tracker.spawn(task));
    }

    /// Runs `work` on the blocking pool, counted until it returns (also if the caller stops
    /// awaiting the handle).
    pub fn spawn_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        self.tracker.spawn_blocking(work)
    }

    /// Completes once shutdown has begun.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    /// Whether shutdown has begun.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Runs `work` unless shutdown begins first; `None` if it did (and `work` was dropped,
    /// so only pass work that may stop at any await point).
    pub async fn unless_cancelled<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        self.cancel.run_until_cancelled(work).await
    }

    /// How many tasks are running now.
    pub fn len(&self) -> usize {
        self.tracker.len()
    }

    /// Whether no task is running now.
    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }

    /// Begins shutdown: fires the cancellation signal, then waits until every task has ended
    /// or `grace` has passed. Returns whether they all ended.
    pub async fn shut_down(&self, grace: Duration) -> bool {
        self.cancel.cancel();
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn shutdown_waits_for_tasks_and_their_blocking_work() {
        let tasks = Tasks::new();
        let held = Arc::new(());
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let blocking_copy = held.clone();
        let inner = tasks.clone();
        let task_copy = held.clone();
        tasks.spawn(async move {
            let _copy = task_copy;
            // Stops where stopping loses nothing, then hands work to the blocking pool.
            inner.cancelled().await;
            let _ = wait.await;
            let _ = inner.spawn_blocking(move || drop(blocking_copy)).await;
        });
        let shutting_down = tokio::spawn({
            let tasks = tasks.clone();
            async move { tasks.shut_down(Duration::from_secs(10)).await }
        });
        go.send(()).unwrap();
        assert!(shutting_down.await.unwrap(), "every task ended");
        assert!(tasks.is_empty());
        assert_eq!(Arc::strong_count(&held), 1, "no task holds a copy any more");
    }

    #[tokio::test]
    async fn a_task_that_ignores_the_signal_is_reported() {
        let tasks = Tasks::new();
        let (_never, wait) = tokio::sync::oneshot::channel::<()>();
        tasks.spawn(async move {
            let _ = wait.await;
        });
        assert!(!tasks.shut_down(Duration::from_millis(50)).await);
        assert_eq!(tasks.len(), 1);
    }

    #[tokio::test]
    async fn work_stops_when_shutdown_begins() {
        let tasks = Tasks::new();
        let waiting = tasks.unless_cancelled(std::future::pending::<()>());
        let stopping = async {
            assert!(tasks.shut_down(Duration::from_secs(10)).await);
        };
        let (outcome, ()) = tokio::join!(waiting, stopping);
        assert_eq!(outcome, None);
        assert!(tasks.is_cancelled());
    }
}
