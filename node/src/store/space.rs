//! Free disk space, and what the store does before sled opens, so a full disk makes an
//! operation fail cleanly instead of damaging the state.
//!
//! What sled 0.34 writes when it opens an existing database: when its log moved on since the
//! last snapshot, a new snapshot, as `state/snap.<LSN>.generating`, fsync'd, then renamed to
//! `state/snap.<LSN>`; when the log ends in a torn write, zeros over that tail. A snapshot
//! write that fails half-way (a full disk) leaves the `.generating` file behind, and sled
//! 0.34 takes any `snap.*` file for a snapshot: the truncated one sorts last, fails its
//! checksum, and every later open fails with "Read corrupted data". So before sled opens, the
//! store removes such leftovers (only while it holds sled's lock, so never those of a running
//! daemon) and refuses to open with less than [`STATE_HEADROOM`] free beyond the snapshot's
//! size.

use std::fs::{self, File};
use std::io;
use std::path::Path;

use fs2::FileExt;

use super::StoreError;

/// Free space the state database keeps for itself: a pull or release is refused unless this
/// much stays free after its content, and the store does not open with less (plus the
/// snapshot's size). sled writes a snapshot when it opens and grows its log in 512 KiB
/// segments; 32 MiB covers both many times over for a node's state.
pub const STATE_HEADROOM: u64 = 32 << 20;

/// An operation refused because it would leave the disk too full for the state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not enough free disk space in {dir}: {what} needs {} free, {} is free (the node keeps {} free for its state); free some space and try again",
    mib(.needed.saturating_add(STATE_HEADROOM)),
    mib(*.free),
    mib(STATE_HEADROOM)
)]
pub struct NoSpace {
    /// The directory whose file system is too full.
    pub dir: String,
    /// The operation refused.
    pub what: String,
    /// Bytes it would write (the headroom comes on top).
    pub needed: u64,
    /// Bytes free.
    pub free: u64,
}

/// The bytes an unprivileged process may still write on the file system that holds `path`.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    // statvfs: blocks available to unprivileged users times the fragment size.
    fs2::available_space(path)
}

/// `bytes` as MiB with one decimal, for messages.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}

/// Refuses with [`StoreError::NoSpace`] unless `needed` bytes plus [`STATE_HEADROOM`] are free
/// on the file system of `dir`.
pub fn ensure_room(dir: &Path, what: &str, needed: u64) -> Result<(), StoreError> {
    let free = free_bytes(dir)?;
    if needed.saturating_add(STATE_HEADROOM) > free {
        return Err(NoSpace {
            dir: dir.display().to_string(),
            what: what.to_owned(),
            needed,
            free,
        }
        .into());
    }
    Ok(())
}

/// Runs before sled opens `state`: refuses when another process holds the database, removes
/// the leftovers of an interrupted snapshot write, and refuses to open without room for the
/// snapshot sled may write. A state directory that does not exist yet needs only the headroom.
pub(super) fn prepare_state_dir(state: &Path) -> Result<(), StoreError> {
    let db_file = state.join("db");
    if !db_file.exists() {
        let parent = state.parent().unwrap_or(state);
        return ensure_room(parent, "creating the state database", 0);
    }
    // sled takes an exclusive flock on `state/db`; holding it ourselves for this check means
    // no running daemon is writing a snapshot now.
    let lock = File::open(&db_file)?;
    if let Err(e) = lock.try_lock_exclusive() {
        return Err(if e.kind() == fs2::lock_contended_error().kind() {
            StoreError::Locked
        } else {
            StoreError::Io(e)
        });
    }
    let mut snapshot_len = 0u64;
    for entry in fs::read_dir(state)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with("snap.") {
            continue;
        }
        if name.ends_with(".generating") {
            tracing::warn!(file = %name, "removing an unfinished state snapshot (an earlier open or flush was interrupted)");
            fs::remove_file(entry.path())?;
        } else {
            snapshot_len = snapshot_len.max(entry.metadata()?.len());
        }
    }
    ensure_room(state, "opening the state database", snapshot_len)
    // `lock` closes here, releasing the flock just before sled takes its own.
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn free_space_is_reported_and_a_huge_need_refused() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(dir.path()).unwrap();
        assert!(free > 0);
        ensure_room(dir.path(), "a test", 0).unwrap();
        let err = ensure_room(dir.path(), "pulling X", free).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, StoreError::NoSpace { .. }), "{text}");
        assert!(text.contains("pulling X") && !text.contains('\n'), "{text}");
    }
}
