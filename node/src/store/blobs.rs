//! The content-addressed blob directory: dataset content, one file per SHA-256, written through
//! a temp file that is fsync'd and renamed, so a crash leaves either the whole file or nothing.
//!
//! sled holds the state; content lives here because sled 0.34 writes large values slowly and
//! with several times their size on disk (measured in DESIGN.md section 3).

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datapact_protocol::sdmx::{SdmxError, SdmxSummary, SdmxValidator, looks_like_sdmx};
use datapact_protocol::{ContentDigest, ContentHasher, Digest};

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
    /// The file looks like SDMX-CSV and has a bad row.
    #[error("{path}: {source}", path = .path.display())]
    Sdmx {
        /// The file.
        path: PathBuf,
        /// The first problem found.
        source: SdmxError,
    },
    /// Writing to the store failed.
    #[error("cannot write to the blob store: {0}")]
    Store(#[from] io::Error),
}

/// What an import found out about the content.
#[derive(Debug)]
pub struct Imported {
    /// Digests and size.
    pub digest: ContentDigest,
    /// The SDMX summary, when the content is SDMX-CSV.
    pub sdmx: Option<SdmxSummary>,
}

/// The blob directory.
#[derive(Debug)]
pub struct Blobs {
    root: PathBuf,
    tmp: PathBuf,
    /// Contents with an open [`PartialBlob`].
    partials: Arc<Mutex<HashSet<Digest>>>,
}

/// Distinguishes temp files of concurrent writers in one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Blobs {
    /// Opens (creating) the blob directory and removes temp files a crash left behind.
    pub fn open(root: &Path) -> io::Result<Self> {
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp)?;
        for entry in fs::read_dir(&tmp)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
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

    /// Opens a blob for reading from `offset`.
    pub fn open_read_at(&self, digest: &Digest, offset: u64) -> io::Result<File> {
        let mut f = self.open_read(digest)?;
        f.seek(SeekFrom::Start(offset))?;
        Ok(f)
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

    /// Opens (creating) the partial file of an unfinished pull of the content `sha256`,
    /// keeping its first `keep` bytes (the verified chunks) and dropping anything after them.
    /// Fails with `WouldBlock` while another [`PartialBlob`] of the same content is open: two
    /// pulls must never write one partial file.
    pub fn partial(&self, sha256: &Digest, keep: u64) -> io::Result<PartialBlob> {
        let claim = PartialClaim::take(&self.partials, *sha256)?;
        let dir = self.root.join("partial");
        fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{sha256}.part"));
        let file = owner_only_create()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let len = file.metadata()?.len();
        let keep = keep.min(len);
        file.set_len(keep)?;
        let mut file = file;
        file.seek(SeekFrom::Start(keep))?;
        Ok(PartialBlob {
            file,
            path,
            len: keep,
            root: self.root.clone(),
            target: *sha256,
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

    /// Copies the file at `source` into the store, hashing as it copies and, when the file
    /// looks like SDMX-CSV, validating every row. Streams in [`COPY_BUFFER`] pieces: memory
    /// stays bounded whatever the file size. On any error nothing is stored.
    pub fn import(&self, source: &Path) -> Result<Imported, ImportError> {
        let mut input = File::open(source).map_err(|e| ImportError::Source {
            path: source.to_owned(),
            source: e,
        })?;
        if input.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(ImportError::Source {
                path: source.to_owned(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "is a directory"),
            });
        }
        let mut writer = self.writer()?;
        let mut buf = vec![0u8; COPY_BUFFER];
        let mut validator: Option<SdmxValidator> = None;
        let mut first = true;
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(ImportError::Source {
                        path: source.to_owned(),
                        source: e,
                    });
                }
            };
            let piece = &buf[..n];
            if first {
                first = false;
                if looks_like_sdmx(piece) {
                    validator = Some(SdmxValidator::new());
                }
            }
            if let Some(v) = validator.as_mut() {
                v.feed(piece).map_err(|e| ImportError::Sdmx {
                    path: source.to_owned(),
                    source: e,
                })?;
            }
            writer.write(piece)?;
        }
        let sdmx = validator
            .map(|v| v.finish())
            .transpose()
            .map_err(|e| ImportError::Sdmx {
                path: source.to_owned(),
                source: e,
            })?;
        let digest = writer.commit()?;
        Ok(Imported { digest, sdmx })
    }
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
    set: Arc<Mutex<HashSet<Digest>>>,
    digest: Digest,
}

impl PartialClaim {
    fn take(set: &Arc<Mutex<HashSet<Digest>>>, digest: Digest) -> io::Result<Self> {
        let mut held = set
            .lock()
            .map_err(|_| io::Error::other("partial-file registry poisoned"))?;
        if !held.insert(digest) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "this content is already being pulled",
            ));
        }
        Ok(Self {
            set: set.clone(),
            digest,
        })
    }
}

impl Drop for PartialClaim {
    fn drop(&mut self) {
        if let Ok(mut held) = self.set.lock() {
            held.remove(&self.digest);
        }
    }
}

/// The content of an unfinished pull: verified chunks appended in order, kept across restarts
/// (unlike temp files) so a later pull resumes from them.
#[derive(Debug)]
pub struct PartialBlob {
    file: File,
    path: PathBuf,
    len: u64,
    root: PathBuf,
    target: Digest,
    /// Held while this partial file is open.
    _claim: PartialClaim,
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

    /// Appends verified bytes.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Makes what was appended durable.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Fsyncs and moves the complete content into the store under its digest.
    pub fn commit(self) -> io::Result<()> {
        self.file.sync_all()?;
        let target = self.root.join(self.target.to_string());
        fs::rename(&self.path, &target)?;
        sync_dir(&self.root)
    }
}
