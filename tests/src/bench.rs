//! What the benchmark programs share: the measuring of [`measure`] (re-exported here), a temp
//! dir per run, generated input files, and the page-cache preparation before each timed
//! command; the pull benchmark's bare-stream ceiling in [`ceiling`]. Their daemons are [`crate::daemon::Daemon`]s, their commands [`crate::cli::Cli`]'s.

pub mod ceiling;
pub mod measure;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use tempfile::TempDir;

pub use crate::files::write_random_file;
pub use measure::*;

/// How much [`recycle_memory`] writes at a time.
const SCRATCH_WRITE: usize = 1 << 20;

/// A fresh temp dir named `PREFIX...`, deleted when dropped.
pub fn temp_dir(prefix: &str) -> io::Result<TempDir> {
    tempfile::Builder::new().prefix(prefix).tempdir()
}

/// Writes `size` bytes to a scratch file under `root` and deletes it, so that the next command
/// writes into recently freed page-cache memory. Without this, whichever command follows a
/// pause pays for fresh memory: on a VM that hands free pages back to its host (virtio-balloon
/// free page reporting), first touching them cost about 0.8 s of system time per GiB here,
/// against 0.2 s for memory freed a moment ago. Every timed command gets the same treatment.
pub fn recycle_memory(root: &Path, size: u64) -> io::Result<()> {
    let scratch = root.join("scratch.bin");
    let mut file = File::create(&scratch)?;
    let buf = vec![0u8; SCRATCH_WRITE];
    let mut left = size;
    while left > 0 {
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        file.write_all(&buf[..n])?;
        left -= n as u64;
    }
    drop(file);
    fs::remove_file(&scratch)
}
