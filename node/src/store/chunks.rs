//! Chunk digest lists: for serving a content and checking a pull of it. A list is keyed by the
//! content's SHA-256 and its chunk root together, so the list under a key is the one that
//! hashes to it: an announcement (anyone's) that pairs a digest with another chunk list gets
//! its own entry and never replaces one.

use datapact_protocol::Digest;
use datapact_protocol::digest::chunk_root;
use datapact_protocol::wire::split_chunk_digests;

use super::{Store, StoreError};

impl Store {
    /// Records the chunk digests of a content, under its digest and their root.
    pub fn put_chunks(&self, sha256: &Digest, chunks: &[Digest]) -> Result<(), StoreError> {
        let bytes: Vec<u8> = chunks.iter().flat_map(|d| d.0).collect();
        let key = chunk_key(sha256, &chunk_root(chunks));
        self.chunks.insert(key, bytes)?;
        Ok(())
    }

    /// The chunk digests of the content `sha256` whose root is `chunk_root`, if recorded.
    pub fn chunks(
        &self,
        sha256: &Digest,
        chunk_root: &Digest,
    ) -> Result<Option<Vec<Digest>>, StoreError> {
        self.chunks
            .get(chunk_key(sha256, chunk_root))?
            .map(|v| split_chunk_digests(&v).map_err(StoreError::BadChunkList))
            .transpose()
    }

    /// Re-keys chunk lists that an older version stored under the content digest alone.
    pub(super) fn migrate_chunk_keys(&self) -> Result<(), StoreError> {
        for kv in self.chunks.iter() {
            let (key, value) = kv?;
            let Ok(sha256) = Digest::from_slice(&key) else {
                continue;
            };
            let chunks = split_chunk_digests(&value).map_err(StoreError::BadChunkList)?;
            let root = chunk_root(&chunks);
            self.chunks.insert(chunk_key(&sha256, &root), value)?;
            self.chunks.remove(key)?;
        }
        Ok(())
    }
}

/// Key of a chunk list: the content digest, then the chunk root.
fn chunk_key(sha256: &Digest, chunk_root: &Digest) -> [u8; 64] {
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(&sha256.0);
    key[32..].copy_from_slice(&chunk_root.0);
    key
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::home::Layout;

    #[test]
    fn chunk_lists_of_one_digest_with_other_roots_are_kept_apart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Layout::new(dir.path())).unwrap();
        let sha = Digest::of(b"the owner's content");
        let genuine = vec![Digest::of(b"chunk 0"), Digest::of(b"chunk 1")];
        let substitute = vec![Digest::of(b"other bytes")];
        store.put_chunks(&sha, &genuine).unwrap();
        // Another member's announcement pairs the same digest with its own chunk list.
        store.put_chunks(&sha, &substitute).unwrap();
        assert_eq!(
            store.chunks(&sha, &chunk_root(&genuine)).unwrap(),
            Some(genuine)
        );
        assert_eq!(
            store.chunks(&sha, &chunk_root(&substitute)).unwrap(),
            Some(substitute)
        );
    }

    #[test]
    fn chunk_lists_under_the_digest_alone_are_rekeyed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let sha = Digest::of(b"released before the upgrade");
        let chunks = vec![Digest::of(b"only chunk")];
        {
            let store = Store::open(&layout).unwrap();
            let bytes: Vec<u8> = chunks.iter().flat_map(|d| d.0).collect();
            store.chunks.insert(sha.0, bytes).unwrap();
            store.flush_blocking().unwrap();
        }
        let store = Store::open(&layout).unwrap();
        assert_eq!(
            store.chunks(&sha, &chunk_root(&chunks)).unwrap(),
            Some(chunks)
        );
        assert!(store.chunks.get(sha.0).unwrap().is_none());
    }
}
