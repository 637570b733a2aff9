//! The content stream, `/datapact/pull/1`: its framing. The owner's side is [`super::serve`];
//! the requester's side is [`super::fetch`], which hands the chunks to the store's receive
//! pipeline.

use std::time::Duration;

use datapact_protocol::wire::{self, FRAME_HEADER_LEN};
use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::Stream;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Longest silence on a pull stream before it is given up.
pub const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

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
