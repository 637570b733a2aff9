//! The requester's side of the content stream, `/datapact/pull/1`: asks the owner for a
//! dataset, checks the owner's signed announcement and chunk list, refuses up front a content
//! that does not fit on disk, and streams the chunks to the store's receive pipeline, which
//! verifies every chunk as it arrives and the whole content before anything is stored under
//! the signed digest. Verified chunks survive an interruption, so a later pull resumes.
//!
//! Nothing here trusts that an owner's digest belongs to it: any member may sign an
//! announcement that pairs another member's digest with a chunk list of different bytes. The
//! content is committed under a digest only when it hashes to it, chunk lists are keyed by
//! digest and chunk root together, and a pull always transfers and verifies the whole content
//! (there is no "already have these bytes" shortcut, which would also tell the owner what this
//! node holds).

use std::sync::Arc;
use std::time::Instant;

use datapact_protocol::digest::{chunk_count, chunk_len, chunk_root};
use datapact_protocol::wire::{
    self, MAX_PULL_RESPONSE_LEN, MAX_REASON_LEN, PullRequest, PullResponse, WireError,
};
use datapact_protocol::{
    Announcement, CHUNK_SIZE, DatasetId, Digest, PublicKey, SignedAnnouncement, StatementError,
};
use futures::AsyncReadExt;
use libp2p::{PeerId, Stream};
use tokio::sync::mpsc;

use super::pull::{StreamError, read_frame, with_timeout, write_frame};
use crate::store::blobs::{CommitError, PartialKey};
use crate::store::receive::{
    ChunkBuf, PIPELINE_CHUNKS, Piece, ReceiveError, WriteFailure, Writer, Written,
};
use crate::store::space::mib;
use crate::store::stage_times::NetworkWaits;
use crate::store::{Store, StoreError};

pub use crate::store::receive::CHECKPOINT_CHUNKS;

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
    Open(#[source] libp2p_stream::OpenStreamError),
    /// The owner sent something that does not verify (boxed: it holds digests).
    #[error("verification failed: {0}")]
    Verification(Box<Unverified>),
    /// The receive pipeline could not start (the same content is being pulled, or the
    /// partial content is shorter than recorded).
    #[error(transparent)]
    Receive(Box<ReceiveError>),
    /// Writing the content failed (a full disk, say); its partial file is removed.
    #[error("cannot store the content: {0}; the unfinished pull was removed")]
    Write(std::io::Error),
    /// The local store failed, or the content does not fit on disk.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the owner sent that does not verify; nothing of it is committed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Unverified {
    /// Its announcement does not decode, or is not signed by the owner's roster key.
    #[error("{0}")]
    Announcement(#[source] StatementError),
    /// It granted another dataset than the one asked for.
    #[error("the owner sent {sent} instead")]
    OtherDataset {
        /// The dataset the owner's announcement is for.
        sent: DatasetId,
    },
    /// Its announcement is not the one we hold for this dataset.
    #[error("the owner's announcement differs from the one we hold")]
    DiffersFromHeld,
    /// Its chunk digest list is malformed.
    #[error("{0}")]
    ChunkList(#[source] WireError),
    /// Its chunk digest list does not fit the announcement's size and chunk root.
    #[error("chunk digests do not match the signed chunk root")]
    ChunkRoot,
    /// This chunk does not match its signed digest; the chunks before it are kept.
    #[error("chunk {0} does not match its digest")]
    Chunk(u64),
    /// Every chunk matched, but the whole content does not hash to the signed digest.
    #[error("the content is not the one the owner signed: {0}")]
    Content(#[source] CommitError),
}

impl From<Unverified> for FetchError {
    fn from(e: Unverified) -> Self {
        FetchError::Verification(Box::new(e))
    }
}

/// The owner's answer, checked.
enum Grant {
    NotFound,
    Denied(String),
    Granted(Box<SignedAnnouncement>, Vec<Digest>),
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
    // Resume only when we know what we are resuming: the announcement fixes the digests. It
    // also gives the size, so a content that cannot fit is refused before the owner hears.
    let from_chunk = match known {
        Some(known) => {
            let held = store.transfer(id)?;
            ensure_room(store, known.body(), held)?;
            held
        }
        None => 0,
    };
    let mut stream = control
        .open_stream(owner_peer, libp2p::StreamProtocol::new(wire::PULL_PROTOCOL))
        .await
        .map_err(FetchError::Open)?;
    write_frame(
        &mut stream,
        &PullRequest {
            id: id.to_string(),
            from_chunk,
        },
    )
    .await?;
    let (signed, chunks) = match read_grant(&mut stream, owner_key, id, known).await? {
        Grant::NotFound => return Ok(Fetched::NotFound),
        Grant::Denied(reason) => return Ok(Fetched::Denied(reason)),
        Grant::Granted(signed, chunks) => (signed, chunks),
    };
    let a = signed.body();
    if known.is_none() {
        ensure_room(store, a, 0)?;
    }
    let key = PartialKey {
        sha256: a.sha256,
        chunk_root: a.chunk_root,
    };
    let chunks = Arc::new(chunks);
    let (written_tx, written) = mpsc::unbounded_channel();
    let writer = store
        .receive(id, key, from_chunk, chunks.clone(), written_tx)
        .map_err(|e| match e {
            ReceiveError::Store(e) => FetchError::Store(e),
            other => FetchError::Receive(Box::new(other)),
        })?;
    let chunk_total = chunks.len() as u64;
    let inbox = Inbox {
        written,
        store,
        id,
        size: a.size,
        progress: &mut progress,
        free: Vec::new(),
        allocated: 0,
        committed: false,
    };
    receive(&mut stream, writer, inbox, chunk_total).await?;
    // Recorded once the content is committed, so every entry describes a blob that hashed to
    // its digest; a crash before this leaves an orphan blob, removed when the store opens.
    store.put_chunks(&a.sha256, &chunks)?;
    store.clear_transfer(id)?;
    Ok(Fetched::Done(signed))
}

/// Refuses, before anything is written, a content whose remaining bytes would not leave the
/// state its headroom.
fn ensure_room(store: &Store, a: &Announcement, held_chunks: u64) -> Result<(), FetchError> {
    let held = held_chunks.saturating_mul(CHUNK_SIZE).min(a.size);
    let what = format!("pulling {} ({})", a.id(), mib(a.size));
    Ok(store.ensure_room(&what, a.size - held)?)
}

/// Reads the owner's answer and checks a grant: the owner's signature, the id asked for, the
/// announcement we already hold, and the chunk list against the signed chunk root.
async fn read_grant(
    stream: &mut Stream,
    owner_key: &PublicKey,
    id: &DatasetId,
    known: Option<&SignedAnnouncement>,
) -> Result<Grant, FetchError> {
    let (announcement, chunks) = match read_frame(stream, MAX_PULL_RESPONSE_LEN).await? {
        PullResponse::NotFound => return Ok(Grant::NotFound),
        PullResponse::Denied { reason } => {
            return Ok(Grant::Denied(reason.chars().take(MAX_REASON_LEN).collect()));
        }
        PullResponse::Granted {
            announcement,
            chunk_digests,
        } => (announcement, chunk_digests),
    };
    let signed = SignedAnnouncement::decode(&announcement).map_err(Unverified::Announcement)?;
    signed
        .check_signer(owner_key)
        .map_err(Unverified::Announcement)?;
    if signed.body().id() != *id {
        let sent = signed.body().id();
        return Err(Unverified::OtherDataset { sent }.into());
    }
    if let Some(known) = known
        && known.bytes() != signed.bytes()
    {
        return Err(Unverified::DiffersFromHeld.into());
    }
    let a = signed.body();
    let chunks = wire::split_chunk_digests(&chunks).map_err(Unverified::ChunkList)?;
    if chunks.len() as u64 != chunk_count(a.size) || chunk_root(&chunks) != a.chunk_root {
        return Err(Unverified::ChunkRoot.into());
    }
    Ok(Grant::Granted(Box::new(signed), chunks))
}

/// Reads every chunk from the stream and hands it to the receive pipeline, with at most
/// [`PIPELINE_CHUNKS`] chunk buffers in use, until the pipeline has committed the content.
async fn receive<P: FnMut(u64, u64)>(
    stream: &mut Stream,
    mut writer: Writer,
    mut inbox: Inbox<'_, P>,
    total: u64,
) -> Result<(), FetchError> {
    let mut next = writer.held() / CHUNK_SIZE;
    let mut waits = NetworkWaits::default();
    (inbox.progress)(writer.held(), inbox.size);
    while next < total {
        inbox.handle_arrived()?;
        let waiting = Instant::now();
        let Some(mut buf) = inbox.buffer().await? else {
            break;
        };
        let reading = Instant::now();
        waits.pipeline += reading - waiting;
        let len = chunk_len(inbox.size, next) as usize;
        let read = read_chunk(stream, buf.first_mut(len)).await;
        waits.network += reading.elapsed();
        if let Err(e) = read {
            // Keep what arrived: the pipeline appends the verified chunks it holds and makes
            // them durable, so a later pull resumes after them.
            writer.close();
            inbox.drain().await;
            return Err(e.into());
        }
        let sending = Instant::now();
        let sent = writer.send(Piece { buf, len }).await;
        waits.pipeline += sending.elapsed();
        if !sent {
            // The pipeline stopped; its last report says why.
            break;
        }
        next += 1;
    }
    inbox.until_committed().await?;
    writer.finish(inbox.size, &waits);
    Ok(())
}

/// Reads one raw chunk, giving up after [`super::pull::STREAM_IDLE_TIMEOUT`] of silence.
async fn read_chunk(stream: &mut Stream, buf: &mut [u8]) -> Result<(), StreamError> {
    Ok(with_timeout(stream.read_exact(buf)).await?)
}

/// The network side's end of the receive pipeline: its reports, turned into progress,
/// checkpoints and errors, and the chunk buffers they hand back.
struct Inbox<'a, P> {
    written: mpsc::UnboundedReceiver<Written>,
    store: &'a Store,
    id: &'a DatasetId,
    size: u64,
    progress: P,
    /// Buffers handed back, to fill again.
    free: Vec<ChunkBuf>,
    /// Buffers made so far, at most [`PIPELINE_CHUNKS`].
    allocated: usize,
    /// Whether the pipeline reported the commit.
    committed: bool,
}

impl<P: FnMut(u64, u64)> Inbox<'_, P> {
    /// Handles one report, or says why the pull failed.
    fn handle(&mut self, report: Written) -> Result<(), FetchError> {
        match report {
            Written::Chunk { buf, held } => {
                (self.progress)(held, self.size);
                self.free.push(buf);
            }
            // The pipeline recorded it, once durable: a later pull resumes after these chunks.
            Written::Synced(chunks) => {
                tracing::debug!(dataset = %self.id, chunks, "pull checkpoint durable");
            }
            Written::Committed => self.committed = true,
            Written::Failed(WriteFailure::Mismatch(n)) => {
                return Err(Unverified::Chunk(n).into());
            }
            Written::Failed(WriteFailure::Content(e)) => {
                // The pipeline removed the partial file: nothing is left to resume.
                self.store.clear_transfer(self.id)?;
                return Err(Unverified::Content(e).into());
            }
            Written::Failed(WriteFailure::Io(e)) => {
                self.store.clear_transfer(self.id)?;
                return Err(FetchError::Write(e));
            }
        }
        Ok(())
    }

    /// Handles the reports that have arrived, without waiting.
    fn handle_arrived(&mut self) -> Result<(), FetchError> {
        while let Ok(report) = self.written.try_recv() {
            self.handle(report)?;
        }
        Ok(())
    }

    /// A buffer for the next chunk: one handed back, a new one while fewer than
    /// [`PIPELINE_CHUNKS`] exist, or else the next one handed back; `None` once the pipeline
    /// has ended.
    async fn buffer(&mut self) -> Result<Option<ChunkBuf>, FetchError> {
        loop {
            if let Some(buf) = self.free.pop() {
                return Ok(Some(buf));
            }
            if self.allocated < PIPELINE_CHUNKS {
                self.allocated += 1;
                return Ok(Some(ChunkBuf::new()));
            }
            match self.written.recv().await {
                Some(report) => self.handle(report)?,
                None => return Ok(None),
            }
        }
    }

    /// Waits for the commit.
    async fn until_committed(&mut self) -> Result<(), FetchError> {
        while !self.committed {
            let Some(report) = self.written.recv().await else {
                return Err(StoreError::Io(std::io::Error::other(
                    "the pull's receive pipeline stopped unexpectedly",
                ))
                .into());
            };
            self.handle(report)?;
        }
        Ok(())
    }

    /// After the transfer broke: handles the reports until the pipeline has ended.
    async fn drain(&mut self) {
        while let Some(report) = self.written.recv().await {
            if self.handle(report).is_err() {
                return;
            }
        }
    }
}
