//! Where a pull's time went: the busy time of each thread of the receive pipeline
//! ([`super::pipeline`]) and the network side's waits, logged once per committed pull so that
//! an operator (and the pull benchmark, which reads the receiving daemon's log) can tell
//! whether hashing, the disk or the network held the pull back.
//!
//! Each stage adds to its own counter after each piece of work; reading a clock twice per
//! 1 MiB chunk costs nothing measurable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The message of the log event, which the pull benchmark looks for.
pub const STAGE_TIMES_EVENT: &str = "pull stage times";

/// One counted step of a pull.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stage {
    /// The verifier hashing a chunk to compare it with its signed digest.
    Verify,
    /// The hasher feeding a chunk (or the resumed prefix) to the whole-content check.
    Hash,
    /// The writer appending a chunk to the partial file.
    Append,
    /// The syncer making a checkpoint durable.
    Sync,
    /// The commit: last fsync, digest check, rename.
    Commit,
}

/// Nanoseconds spent per [`Stage`], shared by the pipeline's threads.
#[derive(Debug, Default)]
pub(crate) struct StageTimes {
    /// Indexed by `Stage as usize`.
    nanos: [AtomicU64; 5],
    /// Checkpoint fsyncs made, to tell a few slow ones from many.
    syncs: AtomicU64,
}

impl StageTimes {
    /// Runs `work`, counting its time under `stage`.
    pub(crate) fn time<T>(&self, stage: Stage, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = work();
        self.add(stage, start.elapsed());
        if matches!(stage, Stage::Sync) {
            self.syncs.fetch_add(1, Ordering::Relaxed);
        }
        out
    }

    fn add(&self, stage: Stage, spent: Duration) {
        let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        self.nanos[stage as usize].fetch_add(nanos, Ordering::Relaxed);
    }

    fn secs(&self, stage: Stage) -> f64 {
        Duration::from_nanos(self.nanos[stage as usize].load(Ordering::Relaxed)).as_secs_f64()
    }

    /// Logs the counters with the network side's `waits`, for a pull of `bytes` that took
    /// `wall` from its first chunk to its commit.
    pub(crate) fn log(&self, bytes: u64, wall: Duration, waits: &NetworkWaits) {
        tracing::info!(
            bytes,
            wall_s = wall.as_secs_f64(),
            network_wait_s = waits.network.as_secs_f64(),
            pipeline_wait_s = waits.pipeline.as_secs_f64(),
            verify_s = self.secs(Stage::Verify),
            hash_s = self.secs(Stage::Hash),
            append_s = self.secs(Stage::Append),
            sync_s = self.secs(Stage::Sync),
            syncs = self.syncs.load(Ordering::Relaxed),
            commit_s = self.secs(Stage::Commit),
            "{STAGE_TIMES_EVENT}"
        );
    }
}

/// What the network side of a pull waited for.
#[derive(Debug, Default, Clone, Copy)]
pub struct NetworkWaits {
    /// Reading chunks from the stream: the owner, the connection and decryption.
    pub network: Duration,
    /// A free chunk buffer or room in the pipeline's queue: the pipeline falling behind.
    pub pipeline: Duration,
}
