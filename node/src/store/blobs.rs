//! The content-addressed blob directory: dataset content, one file per SHA-256, written through
//! a temp file that is fsync'd and renamed, so a crash leaves either the whole file or nothing.
//!
//! sled holds the state; content lives here because sled 0.34 writes large values slowly and
//! with several times their size on disk (measured in docs/design.md section 3).

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::num::NonZeroU64;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datapact_protocol::{ContentDigest, ContentHasher, Digest};
use sha2::{Digest as _, Sha256};

use super::space::{self, NoSpace};
use super::structures::content_check::{CheckError, ImportCheck};
use crate::fsutil::{owner_only_create, sync_dir};

/// Size of the buffer used to copy content.
pub const COPY_BUFFER: usize = 1 << 20;

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The source file could not be read.
    #[error("cannot read {path}: {source}", path = .path.display())]
    Source {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The content check refused the file (a bad SDMX-CSV row, data that do not match their
    /// structure, a structure message that is not valid or contradicts a held one), or could
    /// not run.
    #[error("{path}: {source}", path = .path.display())]
    Check {
        /// The file.
        path: PathBuf,
        /// Why (boxed: a validation report is large).
        source: Box<CheckError>,
    },
    /// Writing to the store failed.
    #[error("cannot write to the blob store: {0}")]
    Store(#[from] io::Error),
    /// The file does not fit in the free disk space (with the state's headroom kept).
    #[error(transparent)]
    NoSpace(NoSpace),
}

/// The blob directory.
#[derive(Debug)]
pub struct Blobs {
    root: PathBuf,
    tmp: PathBuf,
    /// Contents with an open [`PartialBlob`].
    partials: Arc<Mutex<HashSet<PartialKey>>>,
}

/// What a partial file holds: the whole-content digest and the chunk root that one
/// announcement signed. Both name the file, so chunks verified against one chunk list are
/// never resumed under another, whoever signed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartialKey {
    /// SHA-256 of the whole content: the blob's name once committed.
    pub sha256: Digest,
    /// The signed root of the chunk digests the chunks were verified against.
    pub chunk_root: Digest,
}

impl PartialKey {
    fn file_name(&self) -> String {
        format!("{}-{}.part", self.sha256, self.chunk_root)
    }

    /// Whether `name` is a partial file name of this layout.
    fn is_file_name(name: &str) -> bool {
        name.strip_suffix(".part")
            .and_then(|stem| stem.split_once('-'))
            .is_some_and(|(sha, root)| {
                Digest::from_hex(sha).is_ok() && Digest::from_hex(root).is_ok()
            })
    }
}

/// Why a partial content was not committed. Either way its file is gone: its bytes are not
/// the signed content, or the disk failed under it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// The bytes, each chunk verified, do not hash to the signed whole-content digest.
    #[error("the content's SHA-256 is {found}, not the signed {expected}")]
    Digest {
        /// The signed digest.
        expected: Digest,
        /// What the bytes hash to.
        found: Digest,
    },
    /// The disk failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Distinguishes temp files of concurrent writers in one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Blobs {
    /// Opens (creating) the blob directory and removes temp files a crash left behind, and
    /// partial files of an older layout (named by the digest alone), which nothing resumes.
    pub fn open(root: &Path) -> io::Result<Self> {
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp)?;
        for entry in fs::read_dir(&tmp)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                fs::remove_file(entry.path())?;
            }
        }
        let partial = root.join("partial");
        fs::create_dir_all(&partial)?;
        for entry in fs::read_dir(&partial)? {
            let entry = entry?;
            let current = entry
                .file_name()
                .to_str()
                .is_some_and(PartialKey::is_file_name);
            if entry.file_type()?.is_file() && !current {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(Self {
            root: root.to_owned(),
            tmp,
            partials: Arc::default(),
        })
    }

    fn path_of(&self, digest: &Digest) -> PathBuf {
        self.root.join(digest.to_string())
    }

    /// Whether the blob is present.
    pub fn contains(&self, digest: &Digest) -> bool {
        self.path_of(digest).is_file()
    }

    /// Opens a blob for reading.
    pub fn open_read(&self, digest: &Digest) -> io::Result<File> {
        File::open(self.path_of(digest))
    }

    /// Deletes a blob (after the last record that referenced it is gone).
    pub fn remove(&self, digest: &Digest) -> io::Result<()> {
        match fs::remove_file(self.path_of(digest)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every blob digest present on disk.
    pub fn list(&self) -> io::Result<Vec<Digest>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            if let Some(d) = entry
                .file_name()
                .to_str()
                .and_then(|n| Digest::from_hex(n).ok())
            {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Refuses with [`NoSpace`] unless `needed` bytes fit in the free space of the blob
    /// directory's file system with [`space::STATE_HEADROOM`] left over; `what` names the
    /// operation in the message.
    pub fn ensure_room(&self, what: &str, needed: u64) -> Result<(), super::StoreError> {
        space::ensure_room(&self.root, what, needed)
    }

    /// The partial files on disk (unfinished pulls).
    pub fn partial_files(&self) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(self.root.join("partial"))? {
            out.push(entry?.path());
        }
        Ok(out)
    }

    /// Opens (creating) the partial file of an unfinished pull of the content `key`,
    /// keeping its first `keep` bytes (the verified chunks) and dropping anything after them.
    /// Fails with `WouldBlock` while another [`PartialBlob`] of the same content is open: two
    /// pulls must never write one partial file.
    pub fn partial(&self, key: PartialKey, keep: u64) -> io::Result<PartialBlob> {
        let claim = PartialClaim::take(&self.partials, key)?;
        let dir = self.root.join("partial");
        fs::create_dir_all(&dir)?;
        let path = dir.join(key.file_name());
        let file = owner_only_create()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let len = file.metadata()?.len();
        let keep = keep.min(len);
        file.set_len(keep)?;
        Ok(PartialBlob {
            file,
            path,
            len: keep,
            root: self.root.clone(),
            target: key.sha256,
            _claim: claim,
        })
    }

    /// Starts writing a new blob.
    pub fn writer(&self) -> io::Result<BlobWriter> {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = self.tmp.join(format!("{}-{n}.part", std::process::id()));
        // Owner-only whatever the umask; the committed blob is this file, renamed.
        let file = owner_only_create()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(BlobWriter {
            file,
            tmp_path: Some(path),
            hasher: ContentHasher::new(),
            root: self.root.clone(),
        })
    }

    /// Copies the file at `source` into the store, hashing as it copies and feeding `check`
    /// every piece. Streams in [`COPY_BUFFER`] pieces: memory stays bounded whatever the file
    /// size. On any error, a refusal of `check` included, nothing is stored.
    pub fn import(
        &self,
        source: &Path,
        check: &mut dyn ImportCheck,
    ) -> Result<ContentDigest, ImportError> {
        let source_err = |e: io::Error| ImportError::Source {
            path: source.to_owned(),
            source: e,
        };
        let check_err = |e: CheckError| ImportError::Check {
            path: source.to_owned(),
            source: Box::new(e),
        };
        let mut input = File::open(source).map_err(source_err)?;
        if input.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(source_err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a directory",
            )));
        }
        let len = input.metadata().map(|m| m.len()).unwrap_or(0);
        let what = format!("releasing {}", source.display());
        match self.ensure_room(&what, len) {
            Ok(()) => {}
            Err(super::StoreError::NoSpace(no_space)) => {
                return Err(ImportError::NoSpace(no_space));
            }
            Err(super::StoreError::Io(e)) => return Err(ImportError::Store(e)),
            Err(other) => return Err(ImportError::Store(io::Error::other(other.to_string()))),
        }
        let mut writer = self.writer()?;
        let mut buf = vec![0u8; COPY_BUFFER];
        loop {
            let n = match read_full(&mut input, &mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => return Err(source_err(e)),
            };
            let piece = &buf[..n];
            check.feed(piece).map_err(check_err)?;
            writer.write(piece)?;
        }
        check.finish().map_err(check_err)?;
        Ok(writer.commit()?)
    }
}

/// Fills `buf` from `input` as far as the file goes, so that a check sees the start of the
/// file in its first piece; returns the bytes read (0 at the end).
fn read_full(input: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A blob being written. Dropped without [`BlobWriter::commit`], it deletes its temp file.
#[derive(Debug)]
pub struct BlobWriter {
    file: File,
    /// `None` once committed.
    tmp_path: Option<PathBuf>,
    hasher: ContentHasher,
    root: PathBuf,
}

impl BlobWriter {
    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hasher.update(bytes);
        self.file.write_all(bytes)
    }

    /// Fsyncs the content, renames it to its digest, fsyncs the directory, and returns the
    /// digests. The blob is durable when this returns.
    pub fn commit(mut self) -> io::Result<ContentDigest> {
        self.file.sync_all()?;
        let digest = std::mem::take(&mut self.hasher).finish();
        let tmp = self.tmp_path.take().unwrap_or_default();
        let target = self.root.join(digest.sha256.to_string());
        fs::rename(&tmp, &target)?;
        sync_dir(&self.root)?;
        Ok(digest)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp_path.take() {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Marks a content as having an open partial file; released on drop.
#[derive(Debug)]
struct PartialClaim {
    set: Arc<Mutex<HashSet<PartialKey>>>,
    key: PartialKey,
}

impl PartialClaim {
    fn take(set: &Arc<Mutex<HashSet<PartialKey>>>, key: PartialKey) -> io::Result<Self> {
        let mut held = set
            .lock()
            .map_err(|_| io::Error::other("partial-file registry poisoned"))?;
        if !held.insert(key) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "this content is already being pulled",
            ));
        }
        Ok(Self {
            set: set.clone(),
            key,
        })
    }
}

impl Drop for PartialClaim {
    fn drop(&mut self) {
        if let Ok(mut held) = self.set.lock() {
            held.remove(&self.key);
        }
    }
}

/// A handle on a [`PartialBlob`]'s file that only makes it durable ([`PartialBlob::sync_handle`]).
#[derive(Debug)]
pub struct PartialSync(File);

impl PartialSync {
    /// Makes every byte appended before this call durable, then drops the bytes from `from`
    /// to `to`, durable now, from the page cache. A pull's content is not read again soon,
    /// and the pages freed this way are the ones the next appends write into: on a VM that
    /// hands free memory back to its host, writing into pages freed a moment ago cost less
    /// than half the system time of writing into fresh ones (1 GiB in 32 MiB steps: 0.6 s
    /// against 1.4-1.6 s), and the wall time dropped about as much.
    pub fn sync(&self, from: u64, to: u64) -> io::Result<()> {
        self.0.sync_data()?;
        if let Some(len) = to.checked_sub(from).and_then(NonZeroU64::new) {
            // Advice only: if refused, the pages stay cached, which is harmless.
            let _ = rustix::fs::fadvise(&self.0, from, Some(len), rustix::fs::Advice::DontNeed);
        }
        Ok(())
    }
}

/// The content of an unfinished pull: verified chunks appended in order, kept across restarts
/// (unlike temp files) so a later pull resumes from them. It is committed under its digest
/// only with a [`ContentCheck`] that found the bytes hash to it.
#[derive(Debug)]
pub struct PartialBlob {
    file: File,
    path: PathBuf,
    len: u64,
    root: PathBuf,
    /// The signed whole-content digest: the name it is committed under, if its bytes match.
    target: Digest,
    /// Held while this partial file is open.
    _claim: PartialClaim,
}

/// The SHA-256 of a [`PartialBlob`]'s whole content, computed apart from its writes so that a
/// pipeline can hash on one thread while another writes: it is fed every byte appended after
/// it was made, and hashes the bytes the file held before that (a resumed pull's verified
/// prefix) from the file itself, first.
#[derive(Debug)]
pub struct ContentCheck {
    /// A handle on the partial file, to read the held prefix from.
    file: File,
    /// Length of the held prefix.
    prefix: u64,
    /// How much of the prefix is hashed.
    hashed: u64,
    hasher: Sha256,
}

impl ContentCheck {
    /// Hashes the held prefix, if not done yet.
    fn hash_prefix(&mut self) -> io::Result<()> {
        let mut buf = Vec::new();
        while self.hashed < self.prefix {
            let want = (self.prefix - self.hashed).min(COPY_BUFFER as u64) as usize;
            buf.resize(want, 0);
            self.file.read_exact_at(&mut buf, self.hashed)?;
            self.hasher.update(&buf);
            self.hashed += want as u64;
        }
        Ok(())
    }

    /// Feeds the next appended bytes.
    pub fn update(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hash_prefix()?;
        self.hasher.update(bytes);
        Ok(())
    }

    /// The digest of the prefix and of everything fed.
    fn finish(mut self) -> io::Result<Digest> {
        self.hash_prefix()?;
        Ok(Digest(self.hasher.finalize().into()))
    }
}

impl PartialBlob {
    /// Bytes held.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing is held yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The check of the whole content, to be fed every byte appended from now on.
    pub fn content_check(&self) -> io::Result<ContentCheck> {
        Ok(ContentCheck {
            file: self.file.try_clone()?,
            prefix: self.len,
            hashed: 0,
            hasher: Sha256::new(),
        })
    }

    /// Appends verified bytes (the [`ContentCheck`] is fed them apart).
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all_at(bytes, self.len)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// A second handle on the partial file, to make what was appended durable from another
    /// thread while appends go on: a pull's receive pipeline fsyncs its checkpoints this way,
    /// so the disk's writeback overlaps the transfer instead of stalling it.
    pub fn sync_handle(&self) -> io::Result<PartialSync> {
        Ok(PartialSync(self.file.try_clone()?))
    }

    /// Moves the content into the store under its signed digest, if `check` (fed every byte
    /// appended since it was made) found that the content hashes to it; fsyncs it first. On
    /// any failure the partial file is removed.
    pub fn commit(self, check: ContentCheck) -> Result<(), CommitError> {
        let checked = check
            .finish()
            .and_then(|found| self.file.sync_all().map(|()| found));
        let found = match checked {
            Ok(found) => found,
            Err(e) => {
                let _ = self.discard();
                return Err(e.into());
            }
        };
        if found != self.target {
            let expected = self.target;
            let _ = self.discard();
            return Err(CommitError::Digest { expected, found });
        }
        let target = self.root.join(self.target.to_string());
        if let Err(e) = fs::rename(&self.path, &target) {
            let _ = self.discard();
            return Err(e.into());
        }
        Ok(sync_dir(&self.root)?)
    }

    /// Removes the partial file: its pull failed in a way that resuming cannot mend (the disk
    /// failed, or the content is not the signed one).
    pub fn discard(self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
