//! SHA-256 content digests: of the whole content (so `sha256sum` checks an exported file), and
//! per chunk (so a pull verifies every chunk as it arrives and can resume from the verified ones).
//!
//! A content of `size` bytes is cut into chunks of [`CHUNK_SIZE`] bytes, the last one shorter.
//! The announcement signs the whole-content digest and the *chunk root*: the SHA-256 of the
//! concatenated chunk digests. An empty content has no chunk and its root is SHA-256 of nothing.

use std::fmt;

use sha2::{Digest as _, Sha256};

/// Bytes per chunk of content, for digests and for transfer.
pub const CHUNK_SIZE: u64 = 1 << 20;
/// Most chunks one dataset may have (256 GiB at [`CHUNK_SIZE`]); caps the chunk-digest list a
/// receiver holds in memory at 8 MiB.
pub const MAX_CHUNKS: u64 = 1 << 18;
/// Largest content a dataset may have.
pub const MAX_CONTENT_SIZE: u64 = CHUNK_SIZE * MAX_CHUNKS;
/// Length of a digest, in bytes.
pub const DIGEST_LEN: usize = 32;

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Digest(pub [u8; DIGEST_LEN]);

/// Why a digest could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SHA-256 digest: expected 64 hex characters")]
pub struct DigestError;

impl Digest {
    /// SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Parses 64 hex characters (either case).
    pub fn from_hex(text: &str) -> Result<Self, DigestError> {
        let bytes = text.as_bytes();
        if bytes.len() != 2 * DIGEST_LEN {
            return Err(DigestError);
        }
        let mut out = [0u8; DIGEST_LEN];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            *o = (hex_val(pair[0]).ok_or(DigestError)? << 4)
                | hex_val(pair[1]).ok_or(DigestError)?;
        }
        Ok(Self(out))
    }

    /// Parses the 32 raw bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, DigestError> {
        bytes.try_into().map(Self).map_err(|_| DigestError)
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Lower-case hex, as `sha256sum` prints it.
impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// Number of chunks of a content of `size` bytes.
pub fn chunk_count(size: u64) -> u64 {
    size.div_ceil(CHUNK_SIZE)
}

/// Length of chunk `index` of a content of `size` bytes (0 past the end).
pub fn chunk_len(size: u64, index: u64) -> u64 {
    let start = index.saturating_mul(CHUNK_SIZE);
    size.saturating_sub(start).min(CHUNK_SIZE)
}

/// The chunk root: SHA-256 over the concatenated chunk digests.
pub fn chunk_root(chunks: &[Digest]) -> Digest {
    let mut h = Sha256::new();
    for c in chunks {
        h.update(c.0);
    }
    Digest(h.finalize().into())
}

/// Everything the announcement needs to know about a content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentDigest {
    /// SHA-256 of the whole content.
    pub sha256: Digest,
    /// Content length in bytes.
    pub size: u64,
    /// SHA-256 of each [`CHUNK_SIZE`] chunk, in order.
    pub chunks: Vec<Digest>,
}

impl ContentDigest {
    /// The root over [`ContentDigest::chunks`].
    pub fn chunk_root(&self) -> Digest {
        chunk_root(&self.chunks)
    }
}

/// Hashes a content fed in pieces of any size: whole digest and chunk digests in one pass,
/// so a file of any size is hashed in bounded memory.
#[derive(Clone, Default, Debug)]
pub struct ContentHasher {
    whole: Sha256,
    chunk: Sha256,
    /// Bytes of the current chunk hashed so far.
    in_chunk: u64,
    size: u64,
    chunks: Vec<Digest>,
}

impl ContentHasher {
    /// A hasher that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the content.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.whole.update(bytes);
        self.size += bytes.len() as u64;
        while !bytes.is_empty() {
            let room = usize::try_from(CHUNK_SIZE - self.in_chunk).unwrap_or(usize::MAX);
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.chunk.update(now);
            self.in_chunk += now.len() as u64;
            if self.in_chunk == CHUNK_SIZE {
                let done = std::mem::take(&mut self.chunk);
                self.chunks.push(Digest(done.finalize().into()));
                self.in_chunk = 0;
            }
            bytes = rest;
        }
    }

    /// Bytes fed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Finishes and returns the digests.
    pub fn finish(mut self) -> ContentDigest {
        if self.in_chunk > 0 {
            self.chunks.push(Digest(self.chunk.finalize().into()));
        }
        ContentDigest {
            sha256: Digest(self.whole.finalize().into()),
            size: self.size,
            chunks: self.chunks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_content() {
        let d = ContentHasher::new().finish();
        assert_eq!(
            d.sha256.to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(d.chunks.is_empty());
        assert_eq!(d.chunk_root(), Digest::of(b""));
    }

    #[test]
    fn chunking_is_independent_of_how_bytes_are_fed() {
        let size = (2 * CHUNK_SIZE + 12345) as usize;
        let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let mut whole = ContentHasher::new();
        whole.update(&data);
        let whole = whole.finish();
        let mut pieces = ContentHasher::new();
        for piece in data.chunks(99_991) {
            pieces.update(piece);
        }
        let pieces = pieces.finish();
        assert_eq!(whole, pieces);
        assert_eq!(whole.chunks.len() as u64, chunk_count(size as u64));
        assert_eq!(whole.sha256, Digest::of(&data));
        assert_eq!(
            whole.chunks[2],
            Digest::of(&data[2 * CHUNK_SIZE as usize..])
        );
        assert_eq!(chunk_len(size as u64, 2), 12345);
        assert_eq!(chunk_len(size as u64, 3), 0);
    }

    #[test]
    fn exact_multiple_has_no_empty_tail_chunk() {
        let data = vec![1u8; CHUNK_SIZE as usize];
        let mut h = ContentHasher::new();
        h.update(&data);
        assert_eq!(h.finish().chunks.len(), 1);
        assert_eq!(chunk_count(CHUNK_SIZE), 1);
    }

    #[test]
    fn hex_round_trip() {
        let d = Digest::of(b"abc");
        assert_eq!(Digest::from_hex(&d.to_string()), Ok(d));
        assert_eq!(Digest::from_hex(&d.to_string().to_uppercase()), Ok(d));
        assert!(Digest::from_hex("zz").is_err());
        assert!(Digest::from_hex(&"g".repeat(64)).is_err());
    }
}
