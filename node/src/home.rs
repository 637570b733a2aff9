//! The node's directory (`--dir`): its layout, the config file and the identity key file.
//!
//! ```text
//! DIR/config.toml     member code, listen addresses, per-member caps (see deploy/config.example.toml)
//! DIR/identity.key    the ed25519 secret seed, 32 raw bytes, mode 0600, never logged
//! DIR/state/          the sled database (roster, announcements, access log, transfers)
//! DIR/blobs/          dataset content, one file per SHA-256
//! DIR/control.sock    the daemon's control socket, mode 0600, while it runs
//! ```

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use datapact_protocol::{Identity, MemberCode};
use serde::{Deserialize, Serialize};

/// Default listen address of a new node: all interfaces, TCP port 7470.
pub const DEFAULT_LISTEN: &str = "/ip4/0.0.0.0/tcp/7470";
/// Largest config file read.
const MAX_CONFIG_LEN: u64 = 64 * 1024;
/// Default of `received_per_member`: announcements (and revocations waiting for theirs)
/// received from one member that the node keeps. Far above what a statistics office releases.
pub const DEFAULT_RECEIVED_PER_MEMBER: u64 = 10_000;
/// Default of `received_bytes_per_member`: the signed bytes of those statements, 32 MiB.
pub const DEFAULT_RECEIVED_BYTES_PER_MEMBER: u64 = 32 << 20;

/// Why the node's directory could not be created or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HomeError {
    /// `init` on a directory that already has an identity.
    #[error("{0} already holds a node identity; refusing to overwrite it")]
    AlreadyInitialised(PathBuf),
    /// `init` on a directory that holds other files: a node directory holds nothing else.
    #[error(
        "{0} is not empty and holds no node identity; `datapact init` needs a new or empty directory"
    )]
    NotEmpty(PathBuf),
    /// The directory has no identity: `datapact init` was not run.
    #[error("{0} is not a datapact node directory (run `datapact init --member CODE` first)")]
    NotInitialised(PathBuf),
    /// The key file can be read by others than its owner (like ssh, we refuse it).
    #[error(
        "identity key {path} is readable by others (mode {mode:03o}); run `chmod 600 {path}`",
        path = .0.display(),
        mode = .1
    )]
    KeyPermissions(PathBuf, u32),
    /// The key file is not 32 bytes.
    #[error("identity key {0} is damaged: expected 32 bytes")]
    KeyDamaged(PathBuf),
    /// The config file is not valid.
    #[error("config {path}: {why}", path = .0.display(), why = .1)]
    Config(PathBuf, ConfigProblem),
    /// A file system operation failed.
    #[error("{what} {path}: {source}", path = .path.display())]
    Io {
        /// What we were doing.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// What is wrong with a config file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// Larger than a config file may be.
    #[error("larger than {} KiB", MAX_CONFIG_LEN / 1024)]
    TooLarge,
    /// Not TOML of the config's shape (the first line of the parser's message).
    #[error("{}", .0.message().lines().next().unwrap_or("invalid TOML"))]
    Toml(#[source] toml::de::Error),
    /// The config could not be written as TOML.
    #[error("{0}")]
    Encode(#[source] toml::ser::Error),
    /// The member code is not one.
    #[error("{0}")]
    Member(#[source] datapact_protocol::IdError),
    /// A limit that must be at least 1 is 0 (the field's name).
    #[error("{0} must be at least 1")]
    ZeroLimit(&'static str),
    /// A listen address that is not a multiaddr.
    #[error("listen address {0:?} is not a multiaddr")]
    ListenAddr(String),
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> HomeError + 'a {
    move |source| HomeError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// The config file, `DIR/config.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This node's member code (e.g. `THA`).
    pub member: String,
    /// Multiaddrs to listen on for peers.
    #[serde(default = "default_listen")]
    pub listen: Vec<String>,
    /// Most announcements (and revocations waiting for theirs) kept from any one member, so
    /// one member cannot fill this node's state.
    #[serde(default = "default_received_per_member")]
    pub received_per_member: u64,
    /// Most signed bytes of those statements kept from any one member.
    #[serde(default = "default_received_bytes_per_member")]
    pub received_bytes_per_member: u64,
    /// Refuse to release SDMX-CSV data whose structure this node does not hold, instead of
    /// checking its syntax only.
    #[serde(default)]
    pub require_structure: bool,
}

fn default_listen() -> Vec<String> {
    vec![DEFAULT_LISTEN.to_owned()]
}

fn default_received_per_member() -> u64 {
    DEFAULT_RECEIVED_PER_MEMBER
}

fn default_received_bytes_per_member() -> u64 {
    DEFAULT_RECEIVED_BYTES_PER_MEMBER
}

/// How much of what other members send this node keeps from each of them (config fields
/// `received_per_member` and `received_bytes_per_member`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveLimits {
    /// Most received announcements and waiting revocations per owner.
    pub statements_per_member: u64,
    /// Most signed bytes of them per owner.
    pub bytes_per_member: u64,
}

impl Default for ReceiveLimits {
    fn default() -> Self {
        Self {
            statements_per_member: DEFAULT_RECEIVED_PER_MEMBER,
            bytes_per_member: DEFAULT_RECEIVED_BYTES_PER_MEMBER,
        }
    }
}

/// Paths inside a node directory.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The node directory itself.
    pub dir: PathBuf,
}

impl Layout {
    /// The layout of `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
    /// `DIR/config.toml`.
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.toml")
    }
    /// `DIR/identity.key`.
    pub fn identity_key(&self) -> PathBuf {
        self.dir.join("identity.key")
    }
    /// `DIR/state`, the sled database.
    pub fn state(&self) -> PathBuf {
        self.dir.join("state")
    }
    /// `DIR/blobs`, the content store.
    pub fn blobs(&self) -> PathBuf {
        self.dir.join("blobs")
    }
    /// `DIR/control.sock`.
    pub fn control_socket(&self) -> PathBuf {
        self.dir.join("control.sock")
    }
}

/// A loaded node directory: who we are and how we listen.
#[derive(Debug, Clone)]
pub struct Home {
    /// Where everything lives.
    pub layout: Layout,
    /// This node's member code.
    pub member: MemberCode,
    /// This node's signing identity (and libp2p key).
    pub identity: Identity,
    /// Addresses to listen on.
    pub listen: Vec<String>,
    /// What the node keeps of each other member's statements.
    pub limits: ReceiveLimits,
    /// Whether `release` refuses SDMX-CSV whose structure is not held (config
    /// `require_structure`).
    pub require_structure: bool,
}

/// Creates a node directory: config, identity key (mode 0600, created exclusively) and the
/// empty store directories. Refuses, changing nothing, a directory that already has an
/// identity or holds anything else.
pub fn init(dir: &Path, member: &MemberCode, listen: Vec<String>) -> Result<Home, HomeError> {
    let layout = Layout::new(dir);
    let key_path = layout.identity_key();
    prepare_dir(dir, &key_path)?;
    // sled creates its files with the default mode: see `restrict_umask`.
    crate::fsutil::restrict_umask();
    let listen = if listen.is_empty() {
        default_listen()
    } else {
        listen
    };
    let identity = Identity::from_seed(&fresh_seed());
    // create_new: never overwrite a key, even one that appeared since the check above.
    let mut key_file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key_path)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                HomeError::AlreadyInitialised(dir.to_owned())
            } else {
                io_err("cannot create", &key_path)(e)
            }
        })?;
    key_file
        .write_all(&identity.seed())
        .and_then(|()| key_file.sync_all())
        .map_err(io_err("cannot write", &key_path))?;
    let config = Config {
        member: member.to_string(),
        listen: listen.clone(),
        received_per_member: DEFAULT_RECEIVED_PER_MEMBER,
        received_bytes_per_member: DEFAULT_RECEIVED_BYTES_PER_MEMBER,
        require_structure: false,
    };
    let text = toml::to_string_pretty(&config)
        .map_err(|e| HomeError::Config(layout.config(), ConfigProblem::Encode(e)))?;
    let text = format!(
        "# datapact node configuration; every field is described in deploy/config.example.toml.\n{text}"
    );
    crate::fsutil::write_atomic(&layout.config(), text.as_bytes())
        .map_err(io_err("cannot write", &layout.config()))?;
    // Create the (empty) store now, so a fresh directory is complete and a broken disk shows
    // up at init rather than at the first release.
    crate::store::Store::open(&layout).map_err(|e| HomeError::Io {
        what: "cannot create the store in",
        path: dir.to_owned(),
        source: io::Error::other(e.to_string()),
    })?;
    Ok(Home {
        layout,
        member: member.clone(),
        identity,
        listen,
        limits: ReceiveLimits::default(),
        require_structure: false,
    })
}

/// Makes `dir` ready to become a node directory, or refuses and changes nothing. Refused: a
/// directory that holds an identity, and any other non-empty one (a node directory holds
/// nothing else; `init --dir ~` by mistake would otherwise fill the home directory and make
/// it owner-only). A new directory is created, and an empty one kept; either way it is then
/// set to mode 0700, since it holds the key and the control socket. An existing directory's
/// mode is changed only once it is known to be empty, so a refusal leaves it as it was.
fn prepare_dir(dir: &Path, key_path: &Path) -> Result<(), HomeError> {
    // symlink_metadata: a key file that is a (dangling) symlink counts as an identity too.
    if fs::symlink_metadata(key_path).is_ok() {
        return Err(HomeError::AlreadyInitialised(dir.to_owned()));
    }
    let created = match fs::metadata(dir) {
        Ok(_) => false,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                fs::create_dir_all(parent).map_err(io_err("cannot create", parent))?;
            }
            match fs::DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => true,
                // Created by someone else meanwhile: check it like any existing directory.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
                Err(e) => return Err(io_err("cannot create", dir)(e)),
            }
        }
        Err(e) => return Err(io_err("cannot read", dir)(e)),
    };
    if !created {
        let mut entries = fs::read_dir(dir).map_err(io_err("cannot read", dir))?;
        if entries.next().is_some() {
            return Err(HomeError::NotEmpty(dir.to_owned()));
        }
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(io_err("cannot set permissions of", dir))
}

/// 32 bytes from the OS CSPRNG, through libp2p's ed25519 key generation.
fn fresh_seed() -> [u8; 32] {
    let secret = libp2p::identity::ed25519::SecretKey::generate();
    let mut seed = [0u8; 32];
    seed.copy_from_slice(secret.as_ref());
    seed
}

/// Loads a node directory, refusing a key file that others can read.
pub fn load(dir: &Path) -> Result<Home, HomeError> {
    let layout = Layout::new(dir);
    let key_path = layout.identity_key();
    let meta = match fs::metadata(&key_path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(HomeError::NotInitialised(dir.to_owned()));
        }
        Err(e) => return Err(io_err("cannot read", &key_path)(e)),
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(HomeError::KeyPermissions(key_path, mode));
    }
    let seed = fs::read(&key_path).map_err(io_err("cannot read", &key_path))?;
    let identity = Identity::from_seed_slice(&seed).map_err(|_| HomeError::KeyDamaged(key_path))?;
    let config = read_config(&layout.config())?;
    let member = MemberCode::new(&config.member)
        .map_err(|e| HomeError::Config(layout.config(), ConfigProblem::Member(e)))?;
    Ok(Home {
        layout,
        member,
        identity,
        listen: config.listen,
        limits: ReceiveLimits {
            statements_per_member: config.received_per_member,
            bytes_per_member: config.received_bytes_per_member,
        },
        require_structure: config.require_structure,
    })
}

/// An address, as given, that does not parse as a multiaddr.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address {0:?}: expected a multiaddr such as /ip4/0.0.0.0/tcp/7470")]
pub struct InvalidMultiaddr(pub String);

/// Checks that `addr` parses as a multiaddr.
pub fn check_multiaddr(addr: &str) -> Result<(), InvalidMultiaddr> {
    addr.parse::<libp2p::Multiaddr>()
        .map(|_| ())
        .map_err(|_| InvalidMultiaddr(addr.to_owned()))
}

fn read_config(path: &Path) -> Result<Config, HomeError> {
    let meta = fs::metadata(path).map_err(io_err("cannot read", path))?;
    if meta.len() > MAX_CONFIG_LEN {
        return Err(HomeError::Config(path.to_owned(), ConfigProblem::TooLarge));
    }
    let text = fs::read_to_string(path).map_err(io_err("cannot read", path))?;
    let config: Config = toml::from_str(&text)
        .map_err(|e| HomeError::Config(path.to_owned(), ConfigProblem::Toml(e)))?;
    for (field, value) in [
        ("received_per_member", config.received_per_member),
        (
            "received_bytes_per_member",
            config.received_bytes_per_member,
        ),
    ] {
        if value == 0 {
            return Err(HomeError::Config(
                path.to_owned(),
                ConfigProblem::ZeroLimit(field),
            ));
        }
    }
    for addr in &config.listen {
        addr.parse::<libp2p::Multiaddr>().map_err(|_| {
            HomeError::Config(path.to_owned(), ConfigProblem::ListenAddr(addr.clone()))
        })?;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn init_then_load() {
        let tmp = tempfile::tempdir().unwrap();
        let member = MemberCode::new("THA").unwrap();
        let made = init(tmp.path(), &member, vec![]).unwrap();
        let mode = fs::metadata(made.layout.identity_key())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let loaded = load(tmp.path()).unwrap();
        assert_eq!(loaded.identity.peer_id(), made.identity.peer_id());
        assert_eq!(loaded.listen, vec![DEFAULT_LISTEN.to_owned()]);
        assert_eq!(loaded.limits, ReceiveLimits::default());
        // A config written before the caps existed still loads, with the defaults.
        fs::write(made.layout.config(), "member = \"THA\"\n").unwrap();
        assert_eq!(load(tmp.path()).unwrap().limits, ReceiveLimits::default());
        fs::write(
            made.layout.config(),
            "member = \"THA\"\nreceived_per_member = 5\nreceived_bytes_per_member = 4096\n",
        )
        .unwrap();
        let limits = load(tmp.path()).unwrap().limits;
        assert_eq!(
            (limits.statements_per_member, limits.bytes_per_member),
            (5, 4096)
        );
    }

    #[test]
    fn require_structure_is_read_and_the_example_config_is_a_valid_one() {
        let tmp = tempfile::tempdir().unwrap();
        let home = init(tmp.path(), &MemberCode::new("THA").unwrap(), vec![]).unwrap();
        assert!(!home.require_structure);
        let written = fs::read_to_string(home.layout.config()).unwrap();
        fs::write(
            home.layout.config(),
            written.replace("require_structure = false", "require_structure = true"),
        )
        .unwrap();
        assert!(load(tmp.path()).unwrap().require_structure);
        let example: Config = toml::from_str(include_str!("../../deploy/config.example.toml"))
            .expect("deploy/config.example.toml parses as a config");
        assert!(!example.require_structure);
    }

    #[test]
    fn second_init_refused_and_key_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let member = MemberCode::new("THA").unwrap();
        let first = init(tmp.path(), &member, vec![]).unwrap();
        assert!(matches!(
            init(tmp.path(), &member, vec![]),
            Err(HomeError::AlreadyInitialised(_))
        ));
        assert_eq!(
            load(tmp.path()).unwrap().identity.peer_id(),
            first.identity.peer_id()
        );
    }

    #[test]
    fn garbage_and_oversize_configs_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let home = init(tmp.path(), &MemberCode::new("THA").unwrap(), vec![]).unwrap();
        for bad in [
            "\u{0}\u{1}garbage = = =".to_owned(),
            "member = \"THA\"\nsurprise = 1\n".to_owned(),
            "member = \"tha\"\n".to_owned(),
            "member = \"THA\"\nlisten = [\"not a multiaddr\"]\n".to_owned(),
            "member = \"THA\"\nreceived_per_member = 0\n".to_owned(),
            "member = \"THA\"\nreceived_bytes_per_member = -1\n".to_owned(),
            format!(
                "# {}\nmember = \"THA\"\n",
                "x".repeat(MAX_CONFIG_LEN as usize)
            ),
        ] {
            fs::write(home.layout.config(), &bad).unwrap();
            let err = load(tmp.path()).unwrap_err();
            assert!(matches!(err, HomeError::Config(..)), "{bad:.40}: {err}");
            assert!(!err.to_string().contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn readable_key_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let home = init(tmp.path(), &MemberCode::new("MMR").unwrap(), vec![]).unwrap();
        fs::set_permissions(
            home.layout.identity_key(),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let err = load(tmp.path()).unwrap_err();
        assert!(err.to_string().contains("readable by others"), "{err}");
    }
}
