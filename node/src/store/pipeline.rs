//! The four threads of a pull's receive pipeline ([`super::receive`]), each with one job, so
//! that the two SHA-256 passes, the disk and the network overlap:
//!
//! - the *verifier* checks each received chunk against its signed digest;
//! - the *hasher* feeds verified chunks to the whole-content check;
//! - the *writer* appends them to the partial content, asks for checkpoints, reports each
//!   chunk (handing its buffer back) and at the end commits the content, only if the check
//!   found that the whole content hashes to the signed digest;
//! - the *syncer* makes the appended chunks durable (fsync) every [`CHECKPOINT_CHUNKS`]
//!   chunks while appends go on, and reports each checkpoint once it is durable.
//!
//! Chunks travel verifier → hasher → writer in order, over bounded queues. A mismatch travels
//! the same way, so every report reaches the network side in chunk order. The pipeline ends
//! early when its input closes (the transfer broke): the writer appends what reached it and
//! has the syncer make it durable. A cancelled pipeline (the pull was dropped) stops before
//! its next write or fsync. Each thread counts its busy time in [`StageTimes`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;

use datapact_protocol::Digest;
use tokio::sync::mpsc;

use super::blobs::{CommitError, ContentCheck, PartialBlob, PartialSync};
use super::receive::{CHECKPOINT_CHUNKS, Piece, WriteFailure, Written};
use super::stage_times::{Stage, StageTimes};

/// Verified chunks queued for the hasher.
pub(super) const VERIFIED_QUEUE: usize = 4;
/// Hashed chunks queued for the writer: room for the disk to fall behind for a moment (an
/// append held up by a checkpoint's writeback) without holding up the hashing.
pub(super) const HASHED_QUEUE: usize = 24;

/// What the verifier passes on, in chunk order.
pub(super) enum Verified {
    /// A chunk that matches its digest.
    Chunk(Piece),
    /// This chunk does not match its digest; nothing after it comes.
    Mismatch(u64),
}

/// What the hasher passes on to the writer, in chunk order.
pub(super) enum Hashed {
    /// A verified chunk, fed to the check.
    Chunk(Piece),
    /// See [`Verified::Mismatch`].
    Mismatch(u64),
    /// The held prefix could not be read back to hash it.
    Failed(std::io::Error),
    /// Every chunk is fed: the check, to commit with.
    Done(ContentCheck),
}

fn cancelled(cancel: &AtomicBool) -> bool {
    cancel.load(Ordering::SeqCst)
}

/// The verifier's loop: checks each chunk, from chunk `next` on, against its digest.
pub(super) fn verify(
    chunks: &[Digest],
    mut next: u64,
    mut pieces: mpsc::Receiver<Piece>,
    verified: &std_mpsc::SyncSender<Verified>,
    cancel: &AtomicBool,
    times: &StageTimes,
) {
    while let Some(piece) = pieces.blocking_recv() {
        if cancelled(cancel) {
            return;
        }
        let matches = chunks.get(next as usize).is_some_and(|d| {
            times.time(Stage::Verify, || Digest::of(piece.buf.first(piece.len))) == *d
        });
        let step = if matches {
            Verified::Chunk(piece)
        } else {
            Verified::Mismatch(next)
        };
        if verified.send(step).is_err() || !matches {
            return;
        }
        next += 1;
    }
}

/// The hasher's loop: feeds `left` chunks to `check`, then hands the check on.
pub(super) fn hash(
    mut check: ContentCheck,
    mut left: u64,
    verified: &std_mpsc::Receiver<Verified>,
    hashed: &std_mpsc::SyncSender<Hashed>,
    cancel: &AtomicBool,
    times: &StageTimes,
) {
    while left > 0 {
        let step = match verified.recv() {
            Ok(Verified::Chunk(piece)) => {
                match times.time(Stage::Hash, || check.update(piece.buf.first(piece.len))) {
                    Ok(()) => Hashed::Chunk(piece),
                    Err(e) => Hashed::Failed(e),
                }
            }
            Ok(Verified::Mismatch(n)) => Hashed::Mismatch(n),
            // The input closed early, or the verifier stopped: so does the hasher.
            Err(_) => return,
        };
        let last = !matches!(step, Hashed::Chunk(_));
        if cancelled(cancel) || hashed.send(step).is_err() || last {
            return;
        }
        left -= 1;
    }
    let _ = hashed.send(Hashed::Done(check));
}

/// The writer: appends hashed chunks, asks for checkpoints, commits at the end.
pub(super) struct Appender {
    /// The partial content, appended to and finally committed.
    pub partial: PartialBlob,
    /// The index of the next chunk to append.
    pub next: u64,
    /// Chunks from the hasher.
    pub hashed: std_mpsc::Receiver<Hashed>,
    /// Checkpoints to make durable, for the syncer; dropped when appending ends.
    pub checkpoints: std_mpsc::Sender<Checkpoint>,
    /// Disconnected once the syncer has ended, so its reports precede the commit's.
    pub syncer_done: std_mpsc::Receiver<()>,
    /// Where every chunk, failure and the commit are reported.
    pub reports: mpsc::UnboundedSender<Written>,
    /// Set when the pull is abandoned.
    pub cancel: Arc<AtomicBool>,
    /// Where the appends and the commit count their time.
    pub times: Arc<StageTimes>,
}

impl Appender {
    pub(super) fn run(mut self) {
        loop {
            let piece = match self.hashed.recv() {
                Ok(Hashed::Chunk(piece)) => piece,
                Ok(Hashed::Done(check)) => return self.commit(check),
                Ok(Hashed::Mismatch(n)) => {
                    let _ = self
                        .reports
                        .send(Written::Failed(WriteFailure::Mismatch(n)));
                    return;
                }
                Ok(Hashed::Failed(e)) => return self.fail(e),
                // The transfer broke: make what was appended durable, so a later pull
                // resumes after it, and end.
                Err(_) => {
                    let _ = self.checkpoints.send(self.checkpoint());
                    return;
                }
            };
            if cancelled(&self.cancel) {
                return;
            }
            let appended = self.times.time(Stage::Append, || {
                self.partial.append(piece.buf.first(piece.len))
            });
            if let Err(e) = appended {
                return self.fail(e);
            }
            self.next += 1;
            if self.next.is_multiple_of(CHECKPOINT_CHUNKS) {
                let _ = self.checkpoints.send(self.checkpoint());
            }
            let report = Written::Chunk {
                buf: piece.buf,
                held: self.partial.len(),
            };
            if self.reports.send(report).is_err() {
                return;
            }
        }
    }

    /// What is appended so far.
    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            chunks: self.next,
            bytes: self.partial.len(),
        }
    }

    /// Discards the partial file after a disk failure and reports it.
    fn fail(self, e: std::io::Error) {
        let _ = self.partial.discard();
        let _ = self.reports.send(Written::Failed(WriteFailure::Io(e)));
    }

    /// Commits the content once every chunk is appended and the syncer has reported its
    /// last checkpoint (the commit's own fsync covers the chunks after it).
    fn commit(self, check: ContentCheck) {
        let Self {
            partial,
            checkpoints,
            syncer_done,
            reports,
            cancel,
            times,
            ..
        } = self;
        drop(checkpoints);
        let _ = syncer_done.recv();
        if cancelled(&cancel) {
            return;
        }
        let _ = reports.send(match times.time(Stage::Commit, || partial.commit(check)) {
            Ok(()) => Written::Committed,
            Err(CommitError::Io(e)) => Written::Failed(WriteFailure::Io(e)),
            Err(e) => Written::Failed(WriteFailure::Content(e)),
        });
    }
}

/// A point the writer has appended up to and wants durable.
pub(super) struct Checkpoint {
    /// Chunks appended.
    chunks: u64,
    /// Bytes the partial file holds.
    bytes: u64,
}

/// The syncer: fsyncs the partial file at each checkpoint the writer asks for, records it as
/// the pull's progress (so a later pull resumes after it), then reports it.
pub(super) struct Syncer {
    /// A handle on the partial file, only to fsync it.
    pub file: PartialSync,
    /// Where the progress of this pull is recorded, once durable: on this thread, so the
    /// network side never writes the store.
    pub progress: super::receive::Progress,
    /// Checkpoints the writer wants durable.
    pub checkpoints: std_mpsc::Receiver<Checkpoint>,
    /// Bytes already durable and out of the page cache: the resumed prefix, then each
    /// checkpoint's.
    pub durable: u64,
    /// Where each durable checkpoint is reported.
    pub reports: mpsc::UnboundedSender<Written>,
    /// Set when the pull is abandoned.
    pub cancel: Arc<AtomicBool>,
    /// Where the fsyncs count their time.
    pub times: Arc<StageTimes>,
    /// Dropped when the syncer ends (see [`Appender::syncer_done`]).
    pub _done: std_mpsc::Sender<()>,
}

impl Syncer {
    pub(super) fn run(mut self) {
        while let Ok(mut upto) = self.checkpoints.recv() {
            // Checkpoints that queued up during the last fsync are covered by one.
            while let Ok(later) = self.checkpoints.try_recv() {
                upto = later;
            }
            if cancelled(&self.cancel) {
                return;
            }
            let (file, durable) = (&self.file, self.durable);
            match self
                .times
                .time(Stage::Sync, || file.sync(durable, upto.bytes))
            {
                Ok(()) => {
                    self.durable = upto.bytes;
                    if let Err(e) = self.progress.record(upto.chunks) {
                        tracing::warn!(error = %e, "cannot record a pull's checkpoint");
                        return;
                    }
                    if self.reports.send(Written::Synced(upto.chunks)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    // The writer's next write or the commit's fsync meets the same disk;
                    // without the checkpoint a later pull resumes from an earlier one.
                    tracing::warn!(error = %e, "cannot make a pull's checkpoint durable");
                    return;
                }
            }
        }
    }
}
