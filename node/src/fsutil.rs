//! Safe, durable file writes: a new file is written under an unpredictable name in its target's
//! directory (created exclusively, mode 0600, so a planted file or symlink is never opened),
//! fsync'd, renamed into place (a rename replaces a symlink at the target, never follows it),
//! and the directory is fsync'd. Used for the node's own files (config) and for the copies it
//! writes where the user asks (`export`, `pull --out`), whose directory other local users may be
//! able to write.
//!
//! Also the process file mode mask, so that files created by code we do not control (sled) are
//! owner-only as well.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// Random characters in a temp file's name: enough that nobody can guess it in advance.
const TEMP_NAME_RANDOM_CHARS: usize = 16;
/// Permission bits of every file the node creates: owner read and write only.
pub const OWNER_ONLY_FILE_MODE: u32 = 0o600;
/// The process file mode creation mask: no permission for group or others.
const OWNER_ONLY_UMASK: u32 = 0o077;

/// What to do when the target of a write already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    /// Replace it (a symlink there is replaced, not followed).
    Replace,
    /// Leave it and fail with [`io::ErrorKind::AlreadyExists`].
    Keep,
}

/// A file being written next to its target; dropped without [`Staged::commit`], it is
/// removed.
#[derive(Debug)]
pub struct Staged {
    temp: NamedTempFile,
    target: PathBuf,
}

impl Staged {
    /// Creates the temp file for `target` in the same directory (so the final rename stays
    /// on one file system), exclusively and with mode 0600.
    pub fn new(target: &Path) -> io::Result<Self> {
        let temp = tempfile::Builder::new()
            .prefix(".datapact-")
            .suffix(".tmp")
            .rand_bytes(TEMP_NAME_RANDOM_CHARS)
            .permissions(std::fs::Permissions::from_mode(OWNER_ONLY_FILE_MODE))
            .tempfile_in(parent_of(target))?;
        Ok(Self {
            temp,
            target: target.to_owned(),
        })
    }

    /// The open temp file, to write the content into.
    pub fn file(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    /// Fsyncs the content, renames it to the target (replacing an existing file there or
    /// not, per `if_exists`) and fsyncs the directory.
    pub fn commit(self, if_exists: IfExists) -> io::Result<()> {
        self.temp.as_file().sync_all()?;
        let persisted = match if_exists {
            IfExists::Replace => self.temp.persist(&self.target),
            IfExists::Keep => self.temp.persist_noclobber(&self.target),
        };
        persisted.map_err(|e| e.error)?;
        sync_dir(parent_of(&self.target))
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` so that after a crash the file holds either the old or the new
/// content, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut staged = Staged::new(path)?;
    staged.file().write_all(bytes)?;
    staged.commit(IfExists::Replace)
}

/// Copies `source` to `target` through a staged temp file: the target appears whole or not at
/// all.
pub fn copy_durably(source: &mut impl Read, target: &Path, if_exists: IfExists) -> io::Result<()> {
    let mut staged = Staged::new(target)?;
    io::copy(source, staged.file())?;
    staged.file().flush()?;
    staged.commit(if_exists)
}

/// Options that create a new file owner-only (mode 0600), whatever the process umask.
pub fn owner_only_create() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(OWNER_ONLY_FILE_MODE);
    options
}

/// Makes a rename or file creation in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Sets the process file mode creation mask to 077: every file and directory created from now
/// on is owner-only. The daemon sets it at start, and `init` before it creates the store.
///
/// Why a mask and not a chmod after opening: sled creates its files itself, with the default
/// mode, and not only when it opens (its log and snapshot files come and go as it runs), so a
/// chmod would miss the later ones. The node's own files are created 0600 explicitly as well,
/// so they stay owner-only where this library runs in a process that keeps a wider mask.
pub fn restrict_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(OWNER_ONLY_UMASK));
}
