//! The set of series keys (with time period) seen in a file, kept as one 64-bit digest per key,
//! so that duplicate rows are found in memory proportional to the number of rows, about 11
//! bytes per key, with a named cap ([`MAX_SERIES_KEYS`]).
//!
//! The digests are spread over [`PARTITIONS`] small open-addressing tables that each grow on
//! their own by a quarter, so memory never doubles at once while a table grows. A digest
//! collision between two different keys (about one chance in 10^5 for ten million rows) would
//! report a duplicate that is not one; a real duplicate is never missed.

use std::hash::{BuildHasher, Hasher};

/// Most distinct series keys (with time period) one file may hold: about 180 MiB of digests.
pub const MAX_SERIES_KEYS: usize = 16 << 20;

/// Number of tables the digests are spread over (by their top bits).
const PARTITIONS: usize = 1 << PARTITION_BITS;
const PARTITION_BITS: u32 = 12;

/// A table grows when it would be fuller than this many eighths.
const MAX_LOAD_EIGHTHS: usize = 7;

/// Marks an empty slot; a digest of 0 is stored as 1.
const EMPTY: u64 = 0;

/// The key set is full: the file has more than [`MAX_SERIES_KEYS`] distinct keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySetFull;

/// Digests of the keys seen so far.
#[derive(Debug, Clone)]
pub struct KeySet {
    tables: Vec<Vec<u64>>,
    /// Digests stored per table.
    counts: Vec<usize>,
    len: usize,
}

impl Default for KeySet {
    fn default() -> Self {
        Self::new()
    }
}

impl KeySet {
    /// An empty set.
    pub fn new() -> Self {
        Self {
            tables: vec![Vec::new(); PARTITIONS],
            counts: vec![0; PARTITIONS],
            len: 0,
        }
    }

    /// Number of keys stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a digest; `Ok(false)` when it was already there.
    pub fn insert(&mut self, digest: u64) -> Result<bool, KeySetFull> {
        let digest = if digest == EMPTY { 1 } else { digest };
        let partition = usize::try_from(digest >> (64 - PARTITION_BITS)).unwrap_or(0);
        let (Some(table), Some(count)) = (
            self.tables.get_mut(partition),
            self.counts.get_mut(partition),
        ) else {
            return Ok(false);
        };
        if contains(table, digest) {
            return Ok(false);
        }
        if self.len >= MAX_SERIES_KEYS {
            return Err(KeySetFull);
        }
        if count.saturating_add(1).saturating_mul(8) > table.len().saturating_mul(MAX_LOAD_EIGHTHS)
        {
            grow(table);
        }
        place(table, digest);
        *count = count.saturating_add(1);
        self.len = self.len.saturating_add(1);
        Ok(true)
    }
}

/// The slot a digest's probe starts at in a table of `len` slots.
fn home(digest: u64, len: usize) -> usize {
    // The top bits chose the partition; mix so that the rest spreads over the table.
    let mixed = digest.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let slot = (u128::from(mixed) * len as u128) >> 64;
    usize::try_from(slot).unwrap_or(0)
}

fn contains(table: &[u64], digest: u64) -> bool {
    if table.is_empty() {
        return false;
    }
    let start = home(digest, table.len());
    let (tail, head) = (
        table.get(start..).unwrap_or_default(),
        table.get(..start).unwrap_or_default(),
    );
    for &slot in tail.iter().chain(head) {
        if slot == digest {
            return true;
        }
        if slot == EMPTY {
            return false;
        }
    }
    false
}

/// Puts a digest (known to be absent) in the first free slot of its probe sequence.
fn place(table: &mut [u64], digest: u64) {
    let len = table.len();
    let start = home(digest, len);
    for offset in 0..len {
        let index = (start + offset) % len;
        if let Some(slot) = table.get_mut(index)
            && *slot == EMPTY
        {
            *slot = digest;
            return;
        }
    }
}

/// Rebuilds a table a quarter larger (at least 16 slots).
fn grow(table: &mut Vec<u64>) {
    let len = table.len();
    let new_len = (len + len / 4 + 1).max(16);
    let old = std::mem::replace(table, vec![EMPTY; new_len]);
    for digest in old.into_iter().filter(|&d| d != EMPTY) {
        place(table, digest);
    }
}

/// Computes key digests: one field after another, each followed by a separator byte that UTF-8
/// text never contains, so `("ab", "c")` and `("a", "bc")` differ.
#[derive(Debug, Clone, Default)]
pub struct KeyHasher {
    build: std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>,
}

impl KeyHasher {
    /// The digest of a key made of these fields, in order.
    pub fn digest<'a>(&self, fields: impl IntoIterator<Item = &'a str>) -> u64 {
        let mut hasher = self.build.build_hasher();
        for field in fields {
            hasher.write(field.as_bytes());
            hasher.write_u8(0xFF);
        }
        hasher.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_duplicates_and_grows() {
        let hasher = KeyHasher::default();
        let mut keys = KeySet::new();
        for i in 0..100_000u32 {
            let text = i.to_string();
            assert_eq!(
                keys.insert(hasher.digest([text.as_str(), "2017"])),
                Ok(true)
            );
        }
        assert_eq!(keys.len(), 100_000);
        for i in (0..100_000u32).step_by(997) {
            let text = i.to_string();
            assert_eq!(
                keys.insert(hasher.digest([text.as_str(), "2017"])),
                Ok(false)
            );
        }
        assert_ne!(hasher.digest(["ab", "c"]), hasher.digest(["a", "bc"]));
        assert_eq!(keys.insert(0), Ok(true));
        assert_eq!(keys.insert(1), Ok(false), "0 is stored as 1");
    }
}
