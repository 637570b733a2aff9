//! The hostile peer as an owner: it answers pull streams with content of its own making (a
//! grant whose bytes match its chunk list but not its digest, say), counting what it served.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datapact_node::network::pull::{read_frame, write_frame};
use datapact_protocol::CHUNK_SIZE;
use datapact_protocol::wire::{MAX_PULL_REQUEST_LEN, PullRequest, PullResponse};
use futures::{AsyncWriteExt, StreamExt};
use libp2p::Stream;

use super::HostilePeer;

/// What a hostile owner sends on a pull stream that asks for one dataset id: this answer frame,
/// then (for a grant) `content` from the requested chunk on, as raw bytes.
#[derive(Debug, Clone)]
pub struct Served {
    /// The answer frame.
    pub response: PullResponse,
    /// The bytes that follow a grant.
    pub content: Vec<u8>,
}

/// What a hostile owner's pull streams saw.
#[derive(Debug, Default)]
pub struct PullsServed {
    /// Pull requests read.
    pub requests: AtomicU64,
    /// Content bytes written that the stream took (the requester kept reading).
    pub bytes_sent: AtomicU64,
}

impl PullsServed {
    /// Pull requests read so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
    /// Content bytes sent so far.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent.load(Ordering::SeqCst)
    }
}

impl HostilePeer {
    /// Plays an owner that answers a pull of each id in `offers` with what is given there
    /// (content of its own making: bytes that match its chunk list but not its digest, say),
    /// and any other id with `NotFound`. Call at most once, instead of
    /// [`HostilePeer::accept_pull_streams`].
    pub fn serve_pulls(&self, offers: HashMap<String, Served>) -> Arc<PullsServed> {
        let counters = Arc::new(PullsServed::default());
        let mut incoming = self.accept_pull_streams();
        let (served, seen) = (Arc::new(offers), counters.clone());
        tokio::spawn(async move {
            while let Some((_, stream)) = incoming.next().await {
                tokio::spawn(serve_one(stream, served.clone(), seen.clone()));
            }
        });
        counters
    }
}

async fn serve_one(
    mut stream: Stream,
    offers: Arc<HashMap<String, Served>>,
    seen: Arc<PullsServed>,
) {
    let Ok(request) = read_frame::<PullRequest>(&mut stream, MAX_PULL_REQUEST_LEN).await else {
        return;
    };
    seen.requests.fetch_add(1, Ordering::SeqCst);
    let Some(served) = offers.get(&request.id) else {
        let _ = write_frame(&mut stream, &PullResponse::NotFound).await;
        return;
    };
    if write_frame(&mut stream, &served.response).await.is_err() {
        return;
    }
    if !matches!(served.response, PullResponse::Granted { .. }) {
        return;
    }
    let start = usize::try_from(request.from_chunk.saturating_mul(CHUNK_SIZE))
        .unwrap_or(usize::MAX)
        .min(served.content.len());
    for piece in served.content[start..].chunks(CHUNK_SIZE as usize) {
        if stream.write_all(piece).await.is_err() {
            return;
        }
        seen.bytes_sent
            .fetch_add(piece.len() as u64, Ordering::SeqCst);
    }
    let _ = stream.close().await;
}
