//! What an intruder with write access to a stopped node's directory can do to its access log:
//! read, overwrite and remove stored entries below the chain's own rules. It exists so that the
//! audit's tests can play that intruder through the store, the only code that touches the state
//! database; it is compiled only with the `tamper` feature, which only those tests turn on.

use super::{Store, StoreError};

/// The bytes of access-log entry `seq` exactly as stored, if there is one.
pub fn log_entry_bytes(store: &Store, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(store.log.get(seq.to_be_bytes())?.map(|v| v.to_vec()))
}

/// Stores `bytes` as access-log entry `seq`, replacing what was there, without touching the
/// log's length or head.
pub fn overwrite_log_entry(store: &Store, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
    store.log.insert(seq.to_be_bytes(), bytes)?;
    Ok(())
}

/// Removes access-log entry `seq`, without touching the log's length or head; whether there
/// was one.
pub fn remove_log_entry(store: &Store, seq: u64) -> Result<bool, StoreError> {
    Ok(store.log.remove(seq.to_be_bytes())?.is_some())
}
