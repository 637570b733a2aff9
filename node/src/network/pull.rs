//! The content stream, `/datapact/pull/1`: its framing, and the requester's side ([`fetch`]),
//! which verifies every chunk against the signed chunk root as it arrives and appends it to a
//! partial file that survives restarts, so a later pull resumes from the verified chunks. The
//! owner's side is [`super::serve`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use datapact_protocol::digest::{chunk_count, chunk_len, chunk_root};
use datapact_protocol::wire::{
    self, FRAME_HEADER_LEN, MAX_PULL_RESPONSE_LEN, MAX_REASON_LEN, PullRequest, PullResponse,
};
use datapact_protocol::{CHUNK_SIZE, DatasetId, Digest, PublicKey, SignedAnnouncement};
use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::{PeerId, Stream};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::store::blobs::PartialBlob;
use crate::store::{Store, StoreError};

/// Longest silence on a pull stream before it is given up.
pub const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Chunks between two durability checkpoints of a pull (fsync, then record progress).
pub const CHECKPOINT_CHUNKS: u64 = 32;

/// Why a stream exchange failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The stream broke or stalled.
    #[error("transfer interrupted: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent a malformed or oversize frame.
    #[error("malformed message from the peer: {0}")]
    Wire(#[from] wire::WireError),
}

/// Runs one stream read or write, giving up after [`STREAM_IDLE_TIMEOUT`] of silence.
pub(crate) async fn with_timeout<T>(
    f: impl std::future::Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    tokio::time::timeout(STREAM_IDLE_TIMEOUT, f)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "the peer went silent"))?
}

/// Reads one length-prefixed frame of at most `cap` bytes.
pub async fn read_frame<T: DeserializeOwned>(
    stream: &mut Stream,
    cap: usize,
) -> Result<T, StreamError> {
    let mut header = [0u8; FRAME_HEADER_LEN];
    with_timeout(stream.read_exact(&mut header)).await?;
    let len = wire::frame_len(header, cap)?;
    let mut body = vec![0u8; len];
    with_timeout(stream.read_exact(&mut body)).await?;
    Ok(wire::decode(&body, cap)?)
}

/// Writes one length-prefixed frame.
pub async fn write_frame<T: Serialize>(stream: &mut Stream, msg: &T) -> Result<(), StreamError> {
    let frame = wire::encode_frame(msg);
    with_timeout(stream.write_all(&frame)).await?;
    with_timeout(stream.flush()).await?;
    Ok(())
}

/// What the owner answered to a pull, on the requester's side.
pub enum Fetched {
    /// The content is now stored under its digest.
    Done(Box<SignedAnnouncement>),
    /// The owner has no such dataset for us.
    NotFound,
    /// The owner refused, with its reason.
    Denied(String),
}

/// Why the requester's side of a pull failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The exchange broke.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// The stream could not be opened.
    #[error("cannot reach the owner: {0}")]
    Open(String),
    /// The owner sent something that does not verify.
    #[error("verification failed: {0}")]
    Verification(String),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Pulls `id` from `owner_peer` (whose key is `owner_key`), resuming from verified chunks,
/// reporting `(bytes held, total)` to `progress`.
pub async fn fetch(
    store: &Store,
    mut control: libp2p_stream::Control,
    owner_peer: PeerId,
    owner_key: &PublicKey,
    id: &DatasetId,
    known: Option<&SignedAnnouncement>,
    mut progress: impl FnMut(u64, u64),
) -> Result<Fetched, FetchError> {
    // Resume only when we know what we are resuming: the announcement fixes the digests.
    let from_chunk = match known {
        Some(_) => store.transfer(id)?,
        None => 0,
    };
    let mut stream = control
        .open_stream(owner_peer, libp2p::StreamProtocol::new(wire::PULL_PROTOCOL))
        .await
        .map_err(|e| FetchError::Open(e.to_string()))?;
    write_frame(
        &mut stream,
        &PullRequest {
            id: id.to_string(),
            from_chunk,
        },
    )
    .await?;
    let (announcement, chunks) = match read_frame(&mut stream, MAX_PULL_RESPONSE_LEN).await? {
        PullResponse::NotFound => return Ok(Fetched::NotFound),
        PullResponse::Denied { reason } => {
            return Ok(Fetched::Denied(
                reason.chars().take(MAX_REASON_LEN).collect(),
            ));
        }
        PullResponse::Granted {
            announcement,
            chunk_digests,
        } => (announcement, chunk_digests),
    };
    let verify = |why: String| FetchError::Verification(why);
    let signed = SignedAnnouncement::decode(&announcement).map_err(|e| verify(e.to_string()))?;
    signed
        .check_signer(owner_key)
        .map_err(|e| verify(e.to_string()))?;
    if signed.body().id() != *id {
        return Err(verify(format!(
            "the owner sent {} instead",
            signed.body().id()
        )));
    }
    if let Some(known) = known
        && known.bytes() != signed.bytes()
    {
        return Err(verify(
            "the owner's announcement differs from the one we hold".into(),
        ));
    }
    let a = signed.body();
    let chunks = wire::split_chunk_digests(&chunks).map_err(|e| verify(e.to_string()))?;
    if chunks.len() as u64 != chunk_count(a.size) || chunk_root(&chunks) != a.chunk_root {
        return Err(verify(
            "chunk digests do not match the signed chunk root".into(),
        ));
    }
    if store.blobs().contains(&a.sha256) {
        // The same content is already here (another version or dataset with identical bytes):
        // the owner granted the pull, and nothing needs to travel.
        store.put_chunks(&a.sha256, &chunks)?;
        store.clear_transfer(id)?;
        return Ok(Fetched::Done(Box::new(signed)));
    }
    // Recorded before any byte is written, so the blob is never taken for an orphan.
    store.put_chunks(&a.sha256, &chunks)?;
    let from_chunk = if known.is_some() { from_chunk } else { 0 };
    let partial = store
        .blobs()
        .partial(&a.sha256, from_chunk.saturating_mul(CHUNK_SIZE))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => FetchError::Verification(
                "the same content is being pulled right now (another dataset id); try again when it is done".into(),
            ),
            _ => StoreError::Io(e).into(),
        })?;
    // The partial file may be shorter than the record says if it was removed by hand.
    let mut next = partial.len() / CHUNK_SIZE;
    if next != from_chunk {
        return Err(verify(
            "local partial content is shorter than recorded; pull again".into(),
        ))
        .inspect_err(|_| {
            let _ = store.clear_transfer(id);
        });
    }
    let total = chunks.len() as u64;
    let size = a.size;
    progress(partial.len(), size);
    // The network side (this task) and the disk side (a writer thread: verify, append,
    // checkpoint fsync, commit) overlap, with at most PIPELINE_CHUNKS chunks in between.
    let chunks = Arc::new(chunks);
    let (written_tx, mut written) = mpsc::unbounded_channel();
    let writer = Writer::spawn(partial, chunks.clone(), next, written_tx)?;
    // What the writer reports: a checkpoint is recorded before the progress that passes it.
    let mut on_written = |report: Written| -> Result<Option<Vec<u8>>, FetchError> {
        match report {
            Written::Chunk { buf, held, synced } => {
                if let Some(n) = synced {
                    store.set_transfer(id, n)?;
                }
                progress(held, size);
                Ok(Some(buf))
            }
            Written::Committed => Ok(None),
            Written::Failed(WriteFailure::Mismatch(n)) => Err(FetchError::Verification(format!(
                "chunk {n} does not match its digest"
            ))),
            Written::Failed(WriteFailure::Io(e)) => Err(StoreError::Io(e).into()),
        }
    };
    let mut committed = false;
    let mut free: Vec<Vec<u8>> = Vec::new();
    let mut allocated = 0;
    while next < total {
        while let Ok(report) = written.try_recv() {
            match on_written(report)? {
                Some(buf) => free.push(buf),
                None => committed = true,
            }
        }
        let mut buf = match free.pop() {
            Some(buf) => buf,
            None if allocated < PIPELINE_CHUNKS => {
                allocated += 1;
                vec![0u8; CHUNK_SIZE as usize]
            }
            None => match written.recv().await {
                Some(report) => match on_written(report)? {
                    Some(buf) => buf,
                    None => {
                        committed = true;
                        break;
                    }
                },
                None => break,
            },
        };
        let len = chunk_len(size, next) as usize;
        with_timeout(stream.read_exact(&mut buf[..len]))
            .await
            .map_err(StreamError::Io)?;
        if !writer.send(Piece { buf, len }).await {
            // The writer stopped; its last report says why.
            break;
        }
        next += 1;
    }
    while !committed {
        match written.recv().await {
            Some(report) => committed = on_written(report)?.is_none(),
            None => {
                return Err(StoreError::Io(std::io::Error::other(
                    "the pull's disk writer stopped unexpectedly",
                ))
                .into());
            }
        }
    }
    writer.finish();
    store.clear_transfer(id)?;
    Ok(Fetched::Done(Box::new(signed)))
}

/// Chunks in memory between the network and the disk writer of one pull, each of
/// [`CHUNK_SIZE`] bytes: the requester's memory stays bounded whatever the dataset size.
pub const PIPELINE_CHUNKS: usize = 8;

/// A received chunk on its way to the writer thread, not yet verified.
struct Piece {
    buf: Vec<u8>,
    len: usize,
}

/// What the writer thread reports, in order.
enum Written {
    /// A chunk was verified and appended; its buffer comes back for reuse. `held` is the
    /// partial content's length; `synced` the number of chunks made durable, when this chunk
    /// completed a checkpoint.
    Chunk {
        buf: Vec<u8>,
        held: u64,
        synced: Option<u64>,
    },
    /// Every chunk is appended and the content is committed under its digest.
    Committed,
    /// The writer stopped.
    Failed(WriteFailure),
}

/// Why the writer thread stopped.
enum WriteFailure {
    /// This chunk does not match its digest; nothing of it was written.
    Mismatch(u64),
    /// The disk failed.
    Io(std::io::Error),
}

/// The disk side of a pull: a thread that verifies each chunk against its digest, appends it
/// to the partial content, fsyncs every [`CHECKPOINT_CHUNKS`] chunks and commits at the end.
///
/// Dropping it (the pull failed or was cancelled) stops the thread and waits for it, so no
/// write to the partial file can outlive the pull that owns it: the next pull of the same
/// content may truncate that file. The wait is at most one append or one fsync.
struct Writer {
    pieces: Option<mpsc::Sender<Piece>>,
    cancel: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    /// Starts the thread on `partial`, which holds the first `next` of the `chunks`.
    fn spawn(
        partial: PartialBlob,
        chunks: Arc<Vec<Digest>>,
        next: u64,
        reports: mpsc::UnboundedSender<Written>,
    ) -> Result<Self, StoreError> {
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
        })
    }

    /// Hands a chunk to the thread; false if the thread has stopped.
    async fn send(&self, piece: Piece) -> bool {
        match &self.pieces {
            Some(p) => p.send(piece).await.is_ok(),
            None => false,
        }
    }

    /// Waits for the thread, which has reported that it committed (so this is immediate).
    fn finish(mut self) {
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
            let _ = reports.send(Written::Failed(WriteFailure::Io(e)));
            return;
        }
        next += 1;
        let mut synced = None;
        if next.is_multiple_of(CHECKPOINT_CHUNKS) {
            if cancelled() {
                return;
            }
            if let Err(e) = partial.sync() {
                let _ = reports.send(Written::Failed(WriteFailure::Io(e)));
                return;
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
        Err(e) => Written::Failed(WriteFailure::Io(e)),
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use datapact_protocol::ContentHasher;

    use super::*;

    use crate::store::blobs::Blobs;

    /// `chunks` chunks of pseudo-random content (the last one shorter) and their digests.
    fn content(chunks: usize) -> (Vec<u8>, Digest, Vec<Digest>) {
        let len = chunks * CHUNK_SIZE as usize - 1000;
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 253) as u8).collect();
        let mut hasher = ContentHasher::new();
        hasher.update(&data);
        let digest = hasher.finish();
        (data, digest.sha256, digest.chunks)
    }

    fn start(
        blobs: &Blobs,
        sha: &Digest,
        chunks: &[Digest],
    ) -> (Writer, mpsc::UnboundedReceiver<Written>) {
        let partial = blobs.partial(sha, 0).unwrap();
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

    #[tokio::test]
    async fn the_writer_appends_verified_chunks_and_commits() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let (data, sha, chunks) = content(3);
        let (writer, mut reports) = start(&blobs, &sha, &chunks);
        for i in 0..chunks.len() {
            assert!(writer.send(piece(&data, i)).await);
        }
        let mut held = Vec::new();
        loop {
            match reports.recv().await.expect("a report") {
                Written::Chunk {
                    held: h, synced, ..
                } => {
                    assert_eq!(synced, None, "no checkpoint within 3 chunks");
                    held.push(h);
                }
                Written::Committed => break,
                Written::Failed(_) => panic!("the writer failed"),
            }
        }
        writer.finish();
        let one = CHUNK_SIZE;
        assert_eq!(held, vec![one, 2 * one, data.len() as u64]);
        assert!(blobs.contains(&sha));
        assert_eq!(
            std::fs::read(dir.path().join(sha.to_string())).unwrap(),
            data
        );
    }

    #[tokio::test]
    async fn the_writer_refuses_a_chunk_that_does_not_match() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let (data, sha, chunks) = content(3);
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
        let partial = blobs.partial(&sha, u64::MAX).unwrap();
        assert_eq!(partial.len(), CHUNK_SIZE);
    }

    #[tokio::test]
    async fn dropping_the_writer_stops_it_before_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let (data, sha, chunks) = content(3);
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
