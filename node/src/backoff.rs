//! The one retry schedule of the node: a delay that starts small and doubles up to a ceiling.
//! Deliveries, receipts and member redials all wait by it between attempts, so a peer that
//! stays unreachable costs fewer and fewer attempts. A retried job waits with
//! [`Backoff::wait_unless_cancelled`], so shutdown never waits for a pause between attempts.

use std::time::Duration;

use crate::tasks::Tasks;

/// The delays between the attempts of one retried job.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The wait before the next attempt.
    next: Duration,
    /// The longest wait: the schedule doubles up to it and stays there.
    max: Duration,
}

impl Backoff {
    /// A schedule waiting `first`, then twice as long each time, never longer than `max`.
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self { next: first, max }
    }

    /// The wait before the next attempt; the one after it is twice as long (up to the
    /// ceiling).
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next.min(self.max);
        self.next = self.next.saturating_mul(2).min(self.max);
        delay
    }

    /// Waits before the next attempt (a pause between retries, not synchronisation), unless
    /// shutdown begins first. Returns whether to make the next attempt.
    pub async fn wait_unless_cancelled(&mut self, tasks: &Tasks) -> bool {
        let delay = self.next_delay();
        tasks
            .unless_cancelled(tokio::time::sleep(delay))
            .await
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_up_to_its_ceiling() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(3));
        let delays: Vec<_> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(delays, vec![500, 1000, 2000, 3000, 3000]);
    }

    #[tokio::test]
    async fn shutdown_ends_the_wait() {
        let tasks = Tasks::new();
        let mut b = Backoff::new(Duration::from_secs(3600), Duration::from_secs(3600));
        let (go_on, ()) = tokio::join!(b.wait_unless_cancelled(&tasks), async {
            assert!(tasks.shut_down(Duration::from_secs(10)).await);
        });
        assert!(!go_on, "no attempt after shutdown began");
    }

    #[test]
    fn a_huge_ceiling_does_not_overflow() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::MAX);
        for _ in 0..200 {
            b.next_delay();
        }
        assert_eq!(b.next_delay(), Duration::MAX);
    }
}
