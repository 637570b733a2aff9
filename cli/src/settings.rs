//! Plain settings resolved from the command line and the environment.

use std::path::PathBuf;

use crate::failure::bad_input;

/// What every command needs to know besides its own arguments.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The node directory: `--dir`, else `$DATAPACT_DIR`, else the platform data directory.
    pub dir: PathBuf,
}

impl Settings {
    /// Resolves `--dir` against the environment.
    pub fn resolve(dir: Option<PathBuf>) -> anyhow::Result<Self> {
        let dir = match dir {
            Some(d) => d,
            None => match std::env::var_os("DATAPACT_DIR").filter(|d| !d.is_empty()) {
                Some(d) => PathBuf::from(d),
                None => default_dir().ok_or_else(|| {
                    bad_input("no node directory: pass --dir DIR or set DATAPACT_DIR")
                })?,
            },
        };
        let dir = if dir.is_absolute() {
            dir
        } else {
            std::env::current_dir()?.join(dir)
        };
        Ok(Self { dir })
    }
}

/// `$XDG_DATA_HOME/datapact`, else `~/.local/share/datapact`.
fn default_dir() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(xdg).join("datapact"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".local/share/datapact"))
}
