//! The store's receive pipeline for a pull: [`Store::receive`] opens the partial content and
//! starts a thread that verifies each received chunk against its signed digest, appends it to
//! the partial content (which hashes the whole content as it grows), fsyncs every
//! [`CHECKPOINT_CHUNKS`] chunks, and at the end commits the content under its digest only if
//! the whole content hashes to it. The network side hands it chunks through a bounded
//! channel, so receiving and writing overlap with bounded memory, and never sees a file.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use datapact_protocol::{CHUNK_SIZE, DatasetId, Digest};
use tokio::sync::mpsc;

use super::blobs::{CommitError, PartialBlob, PartialKey};
use super::{Store, StoreError};

/// Chunks between two durability checkpoints of a pull (fsync, then record progress).
pub const CHECKPOINT_CHUNKS: u64 = 32;

/// Chunks in memory between the network and the disk writer of one pull, each of
/// [`datapact_protocol::CHUNK_SIZE`] bytes: the requester's memory stays bounded whatever the
/// dataset size.
pub const PIPELINE_CHUNKS: usize = 8;

/// A received chunk on its way to the writer thread, not yet verified.
pub(crate) struct Piece {
    /// A chunk-sized buffer, handed back for reuse once written.
    pub buf: Vec<u8>,
    /// How much of `buf` the chunk fills.
    pub len: usize,
}

/// What the writer thread reports, in order.
pub(crate) enum Written {
    /// A chunk was verified and appended; its buffer comes back for reuse. `held` is the
    /// partial content's length; `synced` the number of chunks made durable, when this chunk
    /// completed a checkpoint.
    Chunk {
        buf: Vec<u8>,
        held: u64,
        synced: Option<u64>,
    },
    /// Every chunk is appended, the whole content hashes to its digest, and it is committed.
    Committed,
    /// The writer stopped.
    Failed(WriteFailure),
}

/// Why the writer thread stopped.
pub(crate) enum WriteFailure {
    /// This chunk does not match its digest; nothing of it was written, and the chunks before
    /// it stay for a later pull to resume from.
    Mismatch(u64),
    /// Every chunk matched, but the whole content does not hash to the signed digest (the
    /// owner signed a digest and a chunk list of different contents). The partial file is
    /// removed.
    Content(CommitError),
    /// The disk failed (a full disk, say). The partial file is removed, so a failed pull
    /// does not keep the disk full.
    Io(std::io::Error),
}

/// Why the receive pipeline of a pull could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// Another pull writes the same content (under another dataset id) right now.
    #[error(
        "the same content is being pulled right now (another dataset id); try again when it is done"
    )]
    Busy,
    /// The partial content holds fewer chunks than the transfer record says (removed by hand,
    /// say); the record is cleared so the next pull starts over.
    #[error("local partial content is shorter than recorded; pull again")]
    Shorter,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Starts receiving the content `key` of dataset `id`, whose first `from_chunk` chunks
    /// are held from an earlier pull: verified chunks handed to the returned [`Writer`] are
    /// appended, checkpointed and finally committed, each step reported on `reports`.
    pub(crate) fn receive(
        &self,
        id: &DatasetId,
        key: PartialKey,
        from_chunk: u64,
        chunks: Arc<Vec<Digest>>,
        reports: mpsc::UnboundedSender<Written>,
    ) -> Result<Writer, ReceiveError> {
        let partial = self
            .blobs
            .partial(key, from_chunk.saturating_mul(CHUNK_SIZE))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::WouldBlock => ReceiveError::Busy,
                _ => StoreError::Io(e).into(),
            })?;
        if partial.len() / CHUNK_SIZE != from_chunk {
            let _ = self.clear_transfer(id);
            return Err(ReceiveError::Shorter);
        }
        Ok(Writer::spawn(partial, chunks, from_chunk, reports)?)
    }
}

/// The writer thread of one pull.
///
/// Dropping it (the pull failed or was cancelled) stops the thread and waits for it, so no
/// write to the partial file can outlive the pull that owns it: the next pull of the same
/// content may truncate that file. The wait is at most one append or one fsync.
pub(crate) struct Writer {
    /// Where chunks go to the thread; dropped to tell it no more come.
    pieces: Option<mpsc::Sender<Piece>>,
    /// Set when the pull is abandoned, so the thread stops before its next write.
    cancel: Arc<AtomicBool>,
    /// Joined on drop, so no write outlives the pull.
    thread: Option<std::thread::JoinHandle<()>>,
    /// Bytes the partial content held when the pull started (the resumed prefix).
    held: u64,
}

impl Writer {
    /// Starts the thread on `partial`, which holds the first `next` of the `chunks`.
    fn spawn(
        partial: PartialBlob,
        chunks: Arc<Vec<Digest>>,
        next: u64,
        reports: mpsc::UnboundedSender<Written>,
    ) -> Result<Self, StoreError> {
        let held = partial.len();
        let (pieces, received) = mpsc::channel(PIPELINE_CHUNKS);
        let cancel = Arc::new(AtomicBool::new(false));
        let stop = cancel.clone();
        let thread = std::thread::Builder::new()
            .name("datapact-pull-writer".into())
            .spawn(move || write_chunks(partial, &chunks, next, received, &reports, &stop))
            .map_err(StoreError::Io)?;
        Ok(Self {
            pieces: Some(pieces),
            cancel,
            thread: Some(thread),
            held,
        })
    }

    /// Bytes the partial content held when the pull started.
    pub(crate) fn held(&self) -> u64 {
        self.held
    }

    /// Hands a chunk to the thread; false if the thread has stopped.
    pub(crate) async fn send(&self, piece: Piece) -> bool {
        match &self.pieces {
            Some(p) => p.send(piece).await.is_ok(),
            None => false,
        }
    }

    /// Waits for the thread, which has reported that it committed (so this is immediate).
    pub(crate) fn finish(mut self) {
        self.pieces = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.pieces = None;
        self.cancel.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread's loop; see [`Writer`].
fn write_chunks(
    mut partial: PartialBlob,
    chunks: &[Digest],
    mut next: u64,
    mut pieces: mpsc::Receiver<Piece>,
    reports: &mpsc::UnboundedSender<Written>,
    cancel: &AtomicBool,
) {
    let cancelled = || cancel.load(Ordering::SeqCst);
    let fail = |partial: PartialBlob, e: std::io::Error| {
        let _ = partial.discard();
        let _ = reports.send(Written::Failed(WriteFailure::Io(e)));
    };
    let total = chunks.len() as u64;
    while next < total {
        let Some(piece) = pieces.blocking_recv() else {
            return;
        };
        let data = &piece.buf[..piece.len];
        if Digest::of(data) != chunks[next as usize] {
            let _ = reports.send(Written::Failed(WriteFailure::Mismatch(next)));
            return;
        }
        if cancelled() {
            return;
        }
        if let Err(e) = partial.append(data) {
            return fail(partial, e);
        }
        next += 1;
        let mut synced = None;
        if next.is_multiple_of(CHECKPOINT_CHUNKS) {
            if cancelled() {
                return;
            }
            if let Err(e) = partial.sync() {
                return fail(partial, e);
            }
            synced = Some(next);
        }
        let report = Written::Chunk {
            buf: piece.buf,
            held: partial.len(),
            synced,
        };
        if reports.send(report).is_err() {
            return;
        }
    }
    if cancelled() {
        return;
    }
    let _ = reports.send(match partial.commit() {
        Ok(()) => Written::Committed,
        Err(CommitError::Io(e)) => Written::Failed(WriteFailure::Io(e)),
        Err(e) => Written::Failed(WriteFailure::Content(e)),
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use datapact_protocol::{CHUNK_SIZE, ContentHasher};

    use super::*;
    use crate::store::blobs::{Blobs, PartialKey};

    /// `chunks` chunks of pseudo-random content (the last one shorter) and their digests.
    fn content(chunks: usize, seed: usize) -> (Vec<u8>, Digest, Vec<Digest>) {
        let len = chunks * CHUNK_SIZE as usize - 1000;
        let data: Vec<u8> = (0..len).map(|i| ((i + seed) * 31 % 253) as u8).collect();
        let mut hasher = ContentHasher::new();
        hasher.update(&data);
        let digest = hasher.finish();
        (data, digest.sha256, digest.chunks)
    }

    fn key(sha: &Digest, chunks: &[Digest]) -> PartialKey {
        PartialKey {
            sha256: *sha,
            chunk_root: datapact_protocol::digest::chunk_root(chunks),
        }
    }

    fn start(
        blobs: &Blobs,
        sha: &Digest,
        chunks: &[Digest],
    ) -> (Writer, mpsc::UnboundedReceiver<Written>) {
        let partial = blobs.partial(key(sha, chunks), 0).unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = Writer::spawn(partial, Arc::new(chunks.to_vec()), 0, tx).unwrap();
        (writer, rx)
    }

    fn piece(data: &[u8], index: usize) -> Piece {
        let start = index * CHUNK_SIZE as usize;
        let end = (start + CHUNK_SIZE as usize).min(data.len());
        Piece {
            buf: data[start..end].to_vec(),
            len: end - start,
        }
    }

    /// Sends every chunk of `data` and returns the reports up to the last one.
    async fn send_all(
        writer: &Writer,
        reports: &mut mpsc::UnboundedReceiver<Written>,
        data: &[u8],
        chunks: usize,
    ) -> (Vec<u64>, Written) {
        for i in 0..chunks {
            assert!(writer.send(piece(data, i)).await);
        }
        let mut held = Vec::new();
        loop {
            match reports.recv().await.expect("a report") {
                Written::Chunk { held: h, .. } => held.push(h),
                last => return (held, last),
            }
        }
    }

    #[tokio::test]
    async fn the_writer_appends_verified_chunks_and_commits() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let (data, sha, chunks) = content(3, 0);
        let (writer, mut reports) = start(&blobs, &sha, &chunks);
        let (held, last) = send_all(&writer, &mut reports, &data, chunks.len()).await;
        assert!(matches!(last, Written::Committed));
        writer.finish();
        let one = CHUNK_SIZE;
        assert_eq!(held, vec![one, 2 * one, data.len() as u64]);
        assert!(blobs.contains(&sha));
        assert_eq!(
            std::fs::read(dir.path().join(sha.to_string())).unwrap(),
            data
        );
        assert!(blobs.partial_files().unwrap().is_empty());
    }

    #[tokio::test]
    async fn chunks_that_match_their_list_but_not_the_signed_digest_are_never_committed() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        // Another member's digest, paired with this content's chunk list.
        let (data, _, chunks) = content(2, 0);
        let (_, other_sha, _) = content(2, 5);
        let (writer, mut reports) = start(&blobs, &other_sha, &chunks);
        let (_, last) = send_all(&writer, &mut reports, &data, chunks.len()).await;
        assert!(matches!(
            last,
            Written::Failed(WriteFailure::Content(CommitError::Digest { .. }))
        ));
        drop(writer);
        assert!(!blobs.contains(&other_sha));
        assert!(blobs.partial_files().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_resumed_partial_is_hashed_from_its_first_byte() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let (data, sha, chunks) = content(3, 0);
        // A partial file holding a first chunk that is not this content's (written through
        // a chunk list with another root, then renamed here by hand): each later chunk
        // matches, the whole does not.
        let (wrong, _, _) = content(3, 9);
        let name = format!(
            "{sha}-{}.part",
            datapact_protocol::digest::chunk_root(&chunks)
        );
        std::fs::write(
            dir.path().join("partial").join(name),
            &wrong[..CHUNK_SIZE as usize],
        )
        .unwrap();
        let partial = blobs.partial(key(&sha, &chunks), CHUNK_SIZE).unwrap();
        let (tx, mut reports) = mpsc::unbounded_channel();
        let writer = Writer::spawn(partial, Arc::new(chunks.clone()), 1, tx).unwrap();
        for i in 1..chunks.len() {
            assert!(writer.send(piece(&data, i)).await);
        }
        let last = loop {
            match reports.recv().await.expect("a report") {
                Written::Chunk { .. } => {}
                last => break last,
            }
        };
        assert!(matches!(last, Written::Failed(WriteFailure::Content(_))));
        drop(writer);
        assert!(!blobs.contains(&sha));
    }

    #[tokio::test]
    async fn the_writer_refuses_a_chunk_that_does_not_match() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let (data, sha, chunks) = content(3, 0);
        let (writer, mut reports) = start(&blobs, &sha, &chunks);
        assert!(writer.send(piece(&data, 0)).await);
        let mut bad = piece(&data, 1);
        bad.buf[10] ^= 1;
        assert!(writer.send(bad).await);
        assert!(matches!(
            reports.recv().await,
            Some(Written::Chunk { held, .. }) if held == CHUNK_SIZE
        ));
        assert!(matches!(
            reports.recv().await,
            Some(Written::Failed(WriteFailure::Mismatch(1)))
        ));
        drop(writer);
        assert!(!blobs.contains(&sha));
        // Only the verified chunk is in the partial file.
        let partial = blobs.partial(key(&sha, &chunks), u64::MAX).unwrap();
        assert_eq!(partial.len(), CHUNK_SIZE);
    }

    #[tokio::test]
    async fn dropping_the_writer_stops_it_before_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let (data, sha, chunks) = content(3, 0);
        let (writer, mut reports) = start(&blobs, &sha, &chunks);
        assert!(writer.send(piece(&data, 0)).await);
        drop(writer);
        // The thread is gone: its report channel is closed once drained.
        while let Some(report) = reports.recv().await {
            assert!(matches!(report, Written::Chunk { .. }));
        }
        assert!(!blobs.contains(&sha));
    }
}
