//! The set of series keys (with time period) seen in a file, kept as one 64-bit digest per key,
//! so that duplicate rows are found in memory proportional to the number of rows, about 8
//! bytes per key, with a named cap ([`MAX_SERIES_KEYS`]).
//!
//! Keys are spread over [`PARTITIONS`] small open-addressing tables by a digest of their series
//! key alone, so that the rows of one series, which files usually keep together, all land in
//! one table that stays in cache; the table stores 48 bits of the digest of the whole key (time
//! period included). Each table grows on its own by half, so memory never doubles at once.
//! Keys are thus told apart by about 60 bits: a collision between two different keys (about one
//! chance in 10^4 for fifteen million rows) would report a duplicate that is not one; a real
//! duplicate is never missed.

/// Most distinct series keys (with time period) one file may hold: at most about 190 MiB of
/// digests.
pub const MAX_SERIES_KEYS: usize = 24 << 20;

/// Number of tables the digests are spread over (by their top bits).
pub const PARTITIONS: usize = 1 << PARTITION_BITS;
const PARTITION_BITS: u32 = 12;

/// Bits of a digest stored in a table slot.
const STORED_BITS: u32 = 48;

/// A table grows when it would be fuller than this many eighths.
const MAX_LOAD_EIGHTHS: usize = 7;

/// One slot: the low 48 bits of a digest, little-endian; all zero when empty.
type Slot = [u8; 6];
const EMPTY: Slot = [0; 6];

/// The key set is full: the file has more than [`MAX_SERIES_KEYS`] distinct keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySetFull;

/// The digests of one key: of its series part (which picks the table) and of the whole key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDigest {
    /// Digest of the series key (the dimensions but time).
    pub series: u64,
    /// Digest of the whole key, time period included.
    pub key: u64,
}

/// Digests of the keys seen so far.
#[derive(Debug, Clone)]
pub struct KeySet {
    tables: Vec<Table>,
    len: usize,
}

/// One partition's table.
#[derive(Debug, Clone, Default)]
struct Table {
    slots: Vec<Slot>,
    /// Digests stored.
    count: usize,
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
            tables: vec![Table::default(); PARTITIONS],
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

    /// Reads the first slot that each digest's insertion will look at, all at once, so that
    /// the processor fetches them from memory in parallel: inserting a batch of digests after
    /// touching them waits for memory once rather than once per digest.
    pub fn touch(&self, digests: &[KeyDigest]) {
        let mut seen = 0u64;
        for &digest in digests {
            let (partition, stored) = split(digest);
            if let Some(table) = self.tables.get(partition)
                && let Some(&slot) = table.slots.get(home(stored, table.slots.len()))
            {
                seen ^= from_slot(slot);
            }
        }
        std::hint::black_box(seen);
    }

    /// Adds a digest; `Ok(false)` when it was already there.
    pub fn insert(&mut self, digest: KeyDigest) -> Result<bool, KeySetFull> {
        let (partition, stored) = split(digest);
        let Some(table) = self.tables.get_mut(partition) else {
            return Ok(false);
        };
        let needed = table.count.saturating_add(1);
        if needed.saturating_mul(8) > table.slots.len().saturating_mul(MAX_LOAD_EIGHTHS) {
            if probe(&table.slots, stored).is_none() {
                return Ok(false);
            }
            grow(&mut table.slots);
        }
        let Some(index) = probe(&table.slots, stored) else {
            return Ok(false);
        };
        if self.len >= MAX_SERIES_KEYS {
            return Err(KeySetFull);
        }
        if let Some(slot) = table.slots.get_mut(index) {
            *slot = to_slot(stored);
        }
        table.count = needed;
        self.len = self.len.saturating_add(1);
        Ok(true)
    }
}

/// A key's partition and the value stored for it (never 0, which marks an empty slot).
fn split(digest: KeyDigest) -> (usize, u64) {
    let partition = usize::try_from(digest.series >> (64 - PARTITION_BITS)).unwrap_or(0);
    (partition, (digest.key & ((1 << STORED_BITS) - 1)).max(1))
}

/// Where the probe for `stored` starts in a table of `len` slots.
fn home(stored: u64, len: usize) -> usize {
    // Mix, so that the stored bits spread over the table, then scale to its length.
    let mixed = stored.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    usize::try_from((u128::from(mixed) * len as u128) >> 64).unwrap_or(0)
}

fn to_slot(value: u64) -> Slot {
    let bytes = value.to_le_bytes();
    [bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]]
}

fn from_slot(slot: Slot) -> u64 {
    let [a, b, c, d, e, f] = slot;
    u64::from_le_bytes([a, b, c, d, e, f, 0, 0])
}

/// Walks the probe sequence of `stored`: `None` when it is there, else the free slot where it
/// goes. The table always has a free slot (its load stays under 7/8).
fn probe(table: &[Slot], stored: u64) -> Option<usize> {
    let len = table.len();
    if len == 0 {
        return Some(0);
    }
    let mut index = home(stored, len);
    for _ in 0..len {
        match table.get(index).copied().map(from_slot) {
            Some(0) => return Some(index),
            Some(value) if value == stored => return None,
            _ => {}
        }
        index += 1;
        if index == len {
            index = 0;
        }
    }
    Some(index)
}

/// Rebuilds a table half as large again (at least 8 slots): each key moves about twice.
fn grow(table: &mut Vec<Slot>) {
    let len = table.len();
    let new_len = (len + len / 2 + 1).max(8);
    let old = std::mem::replace(table, vec![EMPTY; new_len]);
    for stored in old.into_iter().map(from_slot).filter(|&v| v != 0) {
        if let Some(index) = probe(table, stored)
            && let Some(slot) = table.get_mut(index)
        {
            *slot = to_slot(stored);
        }
    }
}

/// Computes key digests: the fields one after another, each followed by a byte that UTF-8
/// text never contains (so `("ab", "c")` and `("a", "bc")` differ), hashed 8 bytes at a time
/// with a 128-bit multiply that mixes every input bit into the result.
#[derive(Debug, Clone, Default)]
pub struct KeyHasher {
    /// The fields of the key being hashed, reused from row to row.
    buffer: Vec<u8>,
}

impl KeyHasher {
    /// The byte after each field: UTF-8 text never contains it.
    pub const SEPARATOR: u8 = 0xFF;

    /// The digests of a key made of these fields, in order, the first `series_len` of them its
    /// series key; and the bytes hashed.
    pub fn digest<'a>(
        &mut self,
        fields: impl IntoIterator<Item = &'a str>,
        series_len: usize,
    ) -> (KeyDigest, &[u8]) {
        self.buffer.clear();
        let mut series_end = None;
        for (index, field) in fields.into_iter().enumerate() {
            if index == series_len {
                series_end = Some(self.buffer.len());
            }
            self.buffer.extend_from_slice(field.as_bytes());
            self.buffer.push(Self::SEPARATOR);
        }
        let series_end = series_end.unwrap_or(self.buffer.len());
        let series = hash(self.buffer.get(..series_end).unwrap_or_default());
        let time = hash(self.buffer.get(series_end..).unwrap_or_default());
        // The key's digest from the two, so that the series key is hashed once.
        let digest = KeyDigest {
            series,
            key: fold(series ^ 0x2D35_8DCC_AA6C_78A5, time ^ 0x8BB8_4B93_962E_ACC9),
        };
        (digest, &self.buffer)
    }
}

/// The product's two halves folded together.
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

fn hash(bytes: &[u8]) -> u64 {
    const K0: u64 = 0xA076_1D64_78BD_642F;
    const K1: u64 = 0xE703_7ED1_A0B4_28DB;
    const K2: u64 = 0x8EBC_6AF0_9C88_C6E3;
    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    let mut state = K2 ^ len;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        state = fold(state ^ u64::from_le_bytes(word), K0);
    }
    // Shifts rather than a copy into a byte array, which costs a call and a stalled load.
    let rest = chunks
        .remainder()
        .iter()
        .rev()
        .fold(0u64, |word, &byte| (word << 8) | u64::from(byte));
    state = fold(state ^ rest, K1);
    fold(state ^ K0, len ^ K1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_duplicates_and_grows() {
        let mut hasher = KeyHasher::default();
        let mut keys = KeySet::new();
        for i in 0..100_000u32 {
            let text = i.to_string();
            assert_eq!(
                keys.insert(hasher.digest([text.as_str(), "2017"], 1).0),
                Ok(true)
            );
        }
        assert_eq!(keys.len(), 100_000);
        for i in (0..100_000u32).step_by(997) {
            let text = i.to_string();
            assert_eq!(
                keys.insert(hasher.digest([text.as_str(), "2017"], 1).0),
                Ok(false)
            );
        }
        let ab_c = hasher.digest(["ab", "c"], 1).0;
        assert_ne!(ab_c, hasher.digest(["a", "bc"], 1).0);
        let zero = KeyDigest { series: 0, key: 0 };
        assert_eq!(keys.insert(zero), Ok(true));
        assert_eq!(
            keys.insert(KeyDigest { series: 0, key: 1 }),
            Ok(false),
            "0 is stored as 1"
        );
    }
}
