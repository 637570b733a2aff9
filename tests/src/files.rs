//! Files and bytes of tests and benches: the sample datasets shipped in `cli/samples`,
//! deterministic pseudo-random content (in memory or as a file), SHA-256 of bytes and files,
//! directory listings, permission bits, and the clock.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest as _, Sha256};

/// How much is read or written at a time.
const BUFFER: usize = 1 << 20;

/// Path of a sample dataset shipped in `cli/samples`.
pub fn sample(file_name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../cli/samples")).join(file_name)
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A deterministic stream of pseudo-random bytes (xorshift64*), different for each seed.
struct PseudoRandom(u64);

impl PseudoRandom {
    fn new(seed: u64) -> Self {
        // Spread the seed over the state (nearby seeds give unrelated streams); never zero.
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Fills `buf`, whose length is a multiple of 8, with the next bytes.
    fn fill(&mut self, buf: &mut [u8]) {
        for word in buf.chunks_exact_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            word.copy_from_slice(&self.0.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
    }
}

/// `len` deterministic pseudo-random bytes, different for each `seed`.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0u8; len.next_multiple_of(8)];
    PseudoRandom::new(seed).fill(&mut out);
    out.truncate(len);
    out
}

/// Writes `len` pseudo-random bytes (as [`pseudo_random`] makes them) to `path`, a piece at a
/// time, and fsyncs it, so that no writeback of it competes with what runs next.
pub fn write_random_file(path: &Path, len: u64, seed: u64) -> io::Result<()> {
    let mut file = File::create(path)?;
    let mut random = PseudoRandom::new(seed);
    let mut buf = vec![0u8; BUFFER];
    let mut left = len;
    while left > 0 {
        random.fill(&mut buf);
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        file.write_all(&buf[..n])?;
        left -= n as u64;
    }
    file.sync_all()
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 of a file, lower-case hex, read a piece at a time.
pub fn sha256_file(path: &Path) -> String {
    let mut file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = file
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hex::encode(hasher.finalize())
}

/// The system `sha256sum` of a file, when that tool is installed.
pub fn system_sha256sum(path: &Path) -> Option<String> {
    let out = Command::new("sha256sum").arg(path).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace().next().map(str::to_owned)
}

/// Sorted names of the regular files directly in `dir` (empty when it does not exist).
pub fn list_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|e| e.expect("dir entry"))
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The Unix permission bits of a path.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}
