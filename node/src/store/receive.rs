//! The store's receive pipeline for a pull: [`Store::receive`] opens the partial content and
//! starts the threads of [`super::pipeline`], which verify each received chunk against its
//! signed digest, hash the whole content, append the chunks, make them durable every
//! [`CHECKPOINT_CHUNKS`] chunks, and at the end commit the content under its digest only if
//! the whole content hashes to it. The network side hands chunks in through a bounded
//! channel and gets every report back, in order, on one channel; it never sees a file.
//! Memory stays bounded: the network side owns a fixed number of chunk buffers
//! ([`PIPELINE_CHUNKS`]), which travel through the threads and come back with the reports.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use datapact_protocol::{CHUNK_SIZE, DatasetId, Digest};
use tokio::sync::mpsc;

use super::blobs::{CommitError, PartialBlob, PartialKey};
use super::pipeline;
use super::stage_times::{NetworkWaits, StageTimes};
use super::{Store, StoreError};

/// Chunks between two durability checkpoints of a pull (fsync, then record progress).
pub const CHECKPOINT_CHUNKS: u64 = 32;

/// Chunk buffers of one pull, each of [`datapact_protocol::CHUNK_SIZE`] bytes, in the network
/// side's hands or on their way through the pipeline: the requester's memory stays bounded
/// whatever the dataset size. Enough for the network read and each thread to hold one, with
/// the queues between them ([`super::pipeline::VERIFIED_QUEUE`],
/// [`super::pipeline::HASHED_QUEUE`]) partly full. Measured (the pull benchmark's stage
/// times): with 16, the network side waited 0.6-0.9 s per GiB for a free buffer while the
/// writer was held up by the disk during checkpoint fsyncs, and a stalled reader stalls the
/// owner too; 32 (32 MiB) absorbs those stalls.
pub const PIPELINE_CHUNKS: usize = 32;

/// A chunk-sized buffer, filled by the network side and handed through the pipeline.
pub(crate) struct ChunkBuf(Vec<u8>);

impl ChunkBuf {
    /// A new buffer of [`CHUNK_SIZE`] bytes.
    pub(crate) fn new() -> Self {
        Self(vec![0u8; CHUNK_SIZE as usize])
    }

    /// Its first `len` bytes (at most a chunk), to fill.
    pub(crate) fn first_mut(&mut self, len: usize) -> &mut [u8] {
        &mut self.0[..len]
    }

    /// Its first `len` bytes.
    pub(super) fn first(&self, len: usize) -> &[u8] {
        &self.0[..len]
    }
}

/// A received chunk on its way to the verifier, not yet verified.
pub(crate) struct Piece {
    /// A chunk-sized buffer, handed back for reuse once written.
    pub buf: ChunkBuf,
    /// How much of `buf` the chunk fills.
    pub len: usize,
}

/// What the pipeline reports, in order.
pub(crate) enum Written {
    /// A chunk was verified and appended; its buffer comes back for reuse. `held` is the
    /// partial content's length.
    Chunk { buf: ChunkBuf, held: u64 },
    /// The first this many chunks are durable and recorded as the pull's progress: a later
    /// pull resumes after them.
    Synced(u64),
    /// Every chunk is appended, the whole content hashes to its digest, and it is committed.
    Committed,
    /// The pipeline stopped.
    Failed(WriteFailure),
}

/// Why the pipeline stopped.
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
    /// are held from an earlier pull: chunks handed to the returned [`Writer`] are verified,
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
        let progress = Progress {
            store: self.transfers.clone(),
            id: id.clone(),
        };
        Ok(Writer::spawn(
            partial, chunks, from_chunk, progress, reports,
        )?)
    }
}

/// Where the receive pipeline records how many chunks of a pull are durable (the store's
/// transfer record of [`Store::transfer`]).
pub(super) struct Progress {
    /// The store's transfers tree.
    store: sled::Tree,
    /// The dataset being pulled.
    id: DatasetId,
}

impl Progress {
    /// Records that the first `chunks` chunks are durable; call only after the fsync.
    pub(super) fn record(&self, chunks: u64) -> Result<(), StoreError> {
        super::put_transfer(&self.store, &self.id, chunks)
    }
}

/// The threads of one pull's receive pipeline.
///
/// Dropping it (the pull failed or was cancelled) stops the threads and waits for them, so
/// no write to the partial file can outlive the pull that owns it: the next pull of the same
/// content may truncate that file. The wait is at most one append or one fsync.
pub(crate) struct Writer {
    /// Where chunks go to the verifier; dropped to tell it no more come.
    pieces: Option<mpsc::Sender<Piece>>,
    /// Set when the pull is abandoned, so the threads stop before their next write or fsync.
    cancel: Arc<AtomicBool>,
    /// Joined on drop, so no write outlives the pull.
    threads: Vec<JoinHandle<()>>,
    /// Bytes the partial content held when the pull started (the resumed prefix).
    held: u64,
    /// The threads' busy time, logged when the content is committed.
    times: Arc<StageTimes>,
    /// When the pipeline started, for the logged wall time.
    started: Instant,
}

impl Writer {
    /// Starts the threads on `partial`, which holds the first `next` of the `chunks`.
    fn spawn(
        partial: PartialBlob,
        chunks: Arc<Vec<Digest>>,
        next: u64,
        progress: Progress,
        reports: mpsc::UnboundedSender<Written>,
    ) -> Result<Self, StoreError> {
        let held = partial.len();
        let syncer = partial.sync_handle().map_err(StoreError::Io)?;
        let check = partial.content_check().map_err(StoreError::Io)?;
        let (pieces, received) = mpsc::channel(PIPELINE_CHUNKS);
        let (verified_tx, verified) = std_mpsc::sync_channel(pipeline::VERIFIED_QUEUE);
        let (hashed_tx, hashed) = std_mpsc::sync_channel(pipeline::HASHED_QUEUE);
        let (checkpoints_tx, checkpoints) = std_mpsc::channel();
        let (synced_all, syncer_done) = std_mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let times = Arc::new(StageTimes::default());
        let mut writer = Self {
            pieces: Some(pieces),
            cancel: cancel.clone(),
            threads: Vec::new(),
            held,
            times: times.clone(),
            started: Instant::now(),
        };
        let syncing = pipeline::Syncer {
            file: syncer,
            progress,
            checkpoints,
            durable: held,
            reports: reports.clone(),
            cancel: cancel.clone(),
            times: times.clone(),
            _done: synced_all,
        };
        writer.spawn_thread("datapact-pull-sync", move || syncing.run())?;
        let total = chunks.len() as u64;
        let (stop, clock) = (cancel.clone(), times.clone());
        writer.spawn_thread("datapact-pull-verify", move || {
            pipeline::verify(&chunks, next, received, &verified_tx, &stop, &clock);
        })?;
        let (stop, clock) = (cancel.clone(), times.clone());
        writer.spawn_thread("datapact-pull-hash", move || {
            pipeline::hash(check, total - next, &verified, &hashed_tx, &stop, &clock);
        })?;
        let appending = pipeline::Appender {
            partial,
            next,
            hashed,
            checkpoints: checkpoints_tx,
            syncer_done,
            reports,
            cancel,
            times,
        };
        writer.spawn_thread("datapact-pull-write", move || appending.run())?;
        Ok(writer)
    }

    /// Starts one thread of the pipeline; joined when the pipeline ends.
    fn spawn_thread(
        &mut self,
        name: &str,
        f: impl FnOnce() + Send + 'static,
    ) -> Result<(), StoreError> {
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .map_err(StoreError::Io)?;
        self.threads.push(thread);
        Ok(())
    }

    /// Bytes the partial content held when the pull started.
    pub(crate) fn held(&self) -> u64 {
        self.held
    }

    /// Hands a chunk to the verifier; false if the pipeline has stopped.
    pub(crate) async fn send(&self, piece: Piece) -> bool {
        match &self.pieces {
            Some(p) => p.send(piece).await.is_ok(),
            None => false,
        }
    }

    /// Tells the pipeline that no more chunks come (the transfer broke): it appends the
    /// verified chunks it holds, makes them durable, reports them (a last [`Written::Synced`])
    /// and ends, closing the report channel.
    pub(crate) fn close(&mut self) {
        self.pieces = None;
    }

    /// Waits for the threads, which have reported that they committed (so this is
    /// immediate), and logs where the pull's time went, with the network side's `waits`,
    /// for a content of `size` bytes.
    pub(crate) fn finish(mut self, size: u64, waits: &NetworkWaits) {
        self.pieces = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        let received = size.saturating_sub(self.held);
        self.times.log(received, self.started.elapsed(), waits);
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Cancel first: the threads end one after the other once the chunks stop, and none
        // may take that end for a broken transfer and fsync (see `close`).
        self.cancel.store(true, Ordering::SeqCst);
        self.pieces = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
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

    /// Progress records in a temporary sled tree.
    fn progress() -> Progress {
        let db = sled::Config::new().temporary(true).open().unwrap();
        Progress {
            store: db.open_tree("transfers").unwrap(),
            id: "THA/big@1".parse().unwrap(),
        }
    }

    fn start(
        blobs: &Blobs,
        sha: &Digest,
        chunks: &[Digest],
    ) -> (Writer, mpsc::UnboundedReceiver<Written>) {
        let partial = blobs.partial(key(sha, chunks), 0).unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = Writer::spawn(partial, Arc::new(chunks.to_vec()), 0, progress(), tx).unwrap();
        (writer, rx)
    }

    fn piece(data: &[u8], index: usize) -> Piece {
        let start = index * CHUNK_SIZE as usize;
        let end = (start + CHUNK_SIZE as usize).min(data.len());
        let mut buf = ChunkBuf::new();
        buf.first_mut(end - start)
            .copy_from_slice(&data[start..end]);
        Piece {
            buf,
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
        writer.finish(0, &NetworkWaits::default());
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
        let writer = Writer::spawn(partial, Arc::new(chunks.clone()), 1, progress(), tx).unwrap();
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
        bad.buf.first_mut(11)[10] ^= 1;
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
    async fn a_checkpoint_is_reported_once_durable_and_before_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let chunks_n = CHECKPOINT_CHUNKS as usize + 1;
        let (data, sha, chunks) = content(chunks_n, 3);
        let (writer, mut reports) = start(&blobs, &sha, &chunks);
        for i in 0..chunks_n {
            assert!(writer.send(piece(&data, i)).await);
        }
        let mut held = Vec::new();
        let mut synced = Vec::new();
        loop {
            match reports.recv().await.expect("a report") {
                Written::Chunk { held: h, .. } => held.push(h),
                Written::Synced(n) => {
                    // Every chunk it counts was appended (and reported) before.
                    assert!(
                        held.len() as u64 >= n,
                        "{n} synced, {} appended",
                        held.len()
                    );
                    synced.push(n);
                }
                Written::Committed => break,
                Written::Failed(_) => panic!("the pipeline failed"),
            }
        }
        writer.finish(0, &NetworkWaits::default());
        assert_eq!(synced, vec![CHECKPOINT_CHUNKS]);
        assert_eq!(held.len(), chunks_n);
        assert!(blobs.contains(&sha));
    }

    #[tokio::test]
    async fn a_closed_pipeline_keeps_and_syncs_what_it_received() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let (data, sha, chunks) = content(3, 0);
        let (mut writer, mut reports) = start(&blobs, &sha, &chunks);
        assert!(writer.send(piece(&data, 0)).await);
        assert!(writer.send(piece(&data, 1)).await);
        // The transfer broke after two chunks.
        writer.close();
        let mut seen = Vec::new();
        while let Some(report) = reports.recv().await {
            seen.push(match report {
                Written::Chunk { held, .. } => format!("chunk {held}"),
                Written::Synced(n) => format!("synced {n}"),
                Written::Committed => "committed".to_owned(),
                Written::Failed(_) => "failed".to_owned(),
            });
        }
        let one = CHUNK_SIZE;
        assert_eq!(
            seen,
            vec![
                format!("chunk {one}"),
                format!("chunk {}", 2 * one),
                "synced 2".to_owned()
            ]
        );
        writer.finish(0, &NetworkWaits::default());
        assert!(!blobs.contains(&sha));
        let partial = blobs.partial(key(&sha, &chunks), u64::MAX).unwrap();
        assert_eq!(partial.len(), 2 * CHUNK_SIZE);
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
