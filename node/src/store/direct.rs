//! Writing a pull's verified chunks straight to the disk (`O_DIRECT`), past the page cache.
//!
//! A buffered write copies every byte into the page cache and leaves the kernel to write it
//! back; on the two-core machine the benchmarks run on, that copy and the writeback cost about
//! as much CPU time as a SHA-256 pass over the same bytes, on a core the pull needs for its
//! hashing and decryption. A direct write hands the buffer to the device instead. Durability
//! is unchanged: a direct write skips the cache, not the fsync, which still comes at every
//! checkpoint and before the commit (it flushes the device's own cache and the file's size).
//!
//! Direct I/O wants the buffer address, the file offset and the length aligned to the
//! device's block size. [`AlignedBuf`] gives buffers that start on an [`ALIGN`] boundary;
//! chunks start at multiples of the chunk size; a write that does not fit (the shorter last
//! chunk) goes through the page cache. Where the file system refuses direct I/O (tmpfs, say),
//! every write goes through the page cache.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::path::Path;

/// Alignment of a direct write's address, offset and length: the largest logical block size
/// of common devices, and the page size.
pub const ALIGN: usize = 4096;

/// A zeroed byte buffer of a fixed length whose first byte is on an [`ALIGN`] boundary.
#[derive(Debug)]
pub struct AlignedBuf {
    /// `len` bytes plus room to slide the start to the boundary.
    bytes: Vec<u8>,
    /// Where the aligned bytes start in `bytes`.
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// A buffer of `len` zero bytes.
    pub fn new(len: usize) -> Self {
        let bytes = vec![0u8; len + ALIGN];
        // The heap block never moves: the vector is never grown.
        let start = (ALIGN - bytes.as_ptr().addr() % ALIGN) % ALIGN;
        Self { bytes, start, len }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[self.start..self.start + self.len]
    }

    /// The bytes, to fill.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..self.start + self.len]
    }
}

/// A file opened a second time for direct writes.
#[derive(Debug)]
pub struct DirectWriter(File);

impl DirectWriter {
    /// Opens `path` for direct writes, or `None` where the file system does not allow them.
    pub fn open(path: &Path) -> Option<Self> {
        OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(path)
            .ok()
            .map(Self)
    }

    /// Whether `bytes` at `offset` meet direct I/O's alignment.
    pub fn fits(bytes: &[u8], offset: u64) -> bool {
        !bytes.is_empty()
            && bytes.as_ptr().addr().is_multiple_of(ALIGN)
            && bytes.len().is_multiple_of(ALIGN)
            && offset.is_multiple_of(ALIGN as u64)
    }

    /// Writes `bytes` at `offset` directly. `Err(None)` when the device refused the alignment
    /// (a block size above [`ALIGN`]), and the caller should write through the page cache
    /// instead; `Err(Some(e))` when the disk failed.
    pub fn write_at(&self, bytes: &[u8], offset: u64) -> Result<(), Option<io::Error>> {
        match self.0.write_all_at(bytes, offset) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Err(None),
            Err(e) => Err(Some(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn an_aligned_buffer_starts_on_the_boundary_and_has_its_length() {
        for len in [ALIGN, 3 * ALIGN, 1 << 20] {
            let mut buf = AlignedBuf::new(len);
            assert_eq!(buf.as_slice().len(), len);
            assert!(buf.as_slice().iter().all(|b| *b == 0));
            assert_eq!(buf.as_mut_slice().as_ptr().addr() % ALIGN, 0);
            assert!(DirectWriter::fits(buf.as_slice(), 0));
            assert!(!DirectWriter::fits(&buf.as_slice()[1..], 0));
            assert!(!DirectWriter::fits(&buf.as_slice()[..len - 1], 0));
            assert!(!DirectWriter::fits(buf.as_slice(), 512));
        }
    }

    #[test]
    fn direct_and_buffered_writes_make_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let buffered = File::create(&path).unwrap();
        let mut first = AlignedBuf::new(2 * ALIGN);
        first.as_mut_slice().fill(7);
        match DirectWriter::open(&path) {
            Some(direct) => match direct.write_at(first.as_slice(), 0) {
                Ok(()) => {}
                Err(None) => buffered.write_all_at(first.as_slice(), 0).unwrap(),
                Err(Some(e)) => panic!("direct write failed: {e}"),
            },
            // A file system without direct I/O: the fallback is what runs there.
            None => buffered.write_all_at(first.as_slice(), 0).unwrap(),
        }
        buffered.write_all_at(b"tail", 2 * ALIGN as u64).unwrap();
        buffered.sync_all().unwrap();
        let back = std::fs::read(&path).unwrap();
        assert_eq!(back.len(), 2 * ALIGN + 4);
        assert!(back[..2 * ALIGN].iter().all(|b| *b == 7));
        assert_eq!(&back[2 * ALIGN..], b"tail");
    }
}
