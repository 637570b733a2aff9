//! A node's store opened from outside its daemon, as the audit's tests and benchmark do, and
//! how a test recognises a store that is still locked by a daemon (or a process) that has not
//! let go of it yet.

use std::path::Path;
use std::time::{Duration, Instant};

use datapact_node::home::Layout;
use datapact_node::store::{Store, StoreError};

/// Interval between two attempts to open a locked store.
const RETRY: Duration = Duration::from_millis(10);

/// Whether opening the store failed because another process holds it. sled 0.34 reports its
/// lock failure as an `io::ErrorKind::Other` with this text, which the node does not always map
/// to [`StoreError::Locked`], so both forms are recognised.
pub fn is_locked(e: &StoreError) -> bool {
    matches!(e, StoreError::Locked) || e.to_string().contains("could not acquire lock")
}

/// Opens the store of the node directory `dir`, trying again while it is locked, until
/// `deadline` has passed: a daemon that has just exited may hold it a moment longer, and so
/// may a child process another test thread forked while this process had it open.
pub fn open_store(dir: &Path, deadline: Duration) -> Result<Store, StoreError> {
    let give_up = Instant::now() + deadline;
    loop {
        match Store::open(&Layout::new(dir)) {
            Err(e) if is_locked(&e) && Instant::now() < give_up => std::thread::sleep(RETRY),
            other => return other,
        }
    }
}
