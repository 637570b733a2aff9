//! Reading a stored content ahead of the stream that serves it: while the owner's side of a
//! pull sends one piece, a blocking-pool thread reads the next one with `pread` straight into
//! a buffer of its own, so the disk (or page cache) read overlaps the encryption and the
//! sending, and no byte is copied between buffers on the way.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

use datapact_protocol::{CHUNK_SIZE, Digest};
use tokio::task::JoinHandle;

use super::Store;

/// A stored content being read in order, a piece of [`CHUNK_SIZE`] bytes (the last one
/// shorter) ahead of the caller, for serving it to a puller.
#[derive(Debug)]
pub struct ContentReader {
    file: Arc<File>,
    /// Where the next read starts.
    offset: u64,
    /// Where the content ends.
    end: u64,
    /// The read in flight, filling the buffer that is not handed out.
    ahead: Option<JoinHandle<io::Result<Vec<u8>>>>,
    /// The piece last handed out; its buffer is read into again once the caller asks for the
    /// next one.
    current: Vec<u8>,
}

impl Store {
    /// Opens the content `digest`, `size` bytes long, for streaming from byte `offset`, and
    /// starts reading its first piece.
    pub fn read_content_at(
        &self,
        digest: &Digest,
        offset: u64,
        size: u64,
    ) -> io::Result<ContentReader> {
        let file = self.blobs.open_read(digest)?;
        let mut reader = ContentReader {
            file: Arc::new(file),
            offset,
            end: size,
            ahead: None,
            current: Vec::new(),
        };
        reader.read_ahead(Vec::new());
        Ok(reader)
    }
}

impl ContentReader {
    /// The next piece, or `None` at the end of the content. Valid until the next call, which
    /// reuses its buffer.
    pub async fn next(&mut self) -> io::Result<Option<&[u8]>> {
        let Some(ahead) = self.ahead.take() else {
            return Ok(None);
        };
        let filled = ahead.await.map_err(io::Error::other)??;
        let spare = std::mem::replace(&mut self.current, filled);
        self.read_ahead(spare);
        Ok(Some(&self.current))
    }

    /// Starts reading the piece at `offset` into `buf`, unless the content is read already.
    fn read_ahead(&mut self, mut buf: Vec<u8>) {
        if self.offset >= self.end {
            return;
        }
        let at = self.offset;
        let len = (self.end - at).min(CHUNK_SIZE);
        self.offset += len;
        // At most a chunk: the length fits in memory.
        buf.resize(len as usize, 0);
        let file = self.file.clone();
        self.ahead = Some(tokio::task::spawn_blocking(move || {
            file.read_exact_at(&mut buf, at)?;
            Ok(buf)
        }));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::home::Layout;

    #[tokio::test]
    async fn a_content_is_read_in_chunk_pieces_from_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Layout::new(dir.path())).unwrap();
        let size = 2 * CHUNK_SIZE as usize + 1000;
        let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let mut writer = store.blobs().writer().unwrap();
        writer.write(&data).unwrap();
        let digest = writer.commit().unwrap();
        for from in [0, CHUNK_SIZE, 2 * CHUNK_SIZE, size as u64] {
            let mut reader = store
                .read_content_at(&digest.sha256, from, size as u64)
                .unwrap();
            let mut back = Vec::new();
            let mut pieces = 0;
            while let Some(piece) = reader.next().await.unwrap() {
                assert!(piece.len() as u64 <= CHUNK_SIZE);
                back.extend_from_slice(piece);
                pieces += 1;
            }
            assert_eq!(back, &data[from as usize..], "from {from}");
            assert_eq!(pieces, (size as u64 - from).div_ceil(CHUNK_SIZE));
        }
    }
}
