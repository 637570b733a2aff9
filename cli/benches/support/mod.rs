//! The benchmark programs' handle on the shared bench support (`datapact_tests::bench` and
//! `datapact_tests::daemon`), bound to this package's `datapact` binary: only this package
//! knows its path (`CARGO_BIN_EXE_datapact`), so the functions and the [`Launch`] of a daemon
//! that run it are declared here, each a call into the support crate.
//!
//! Each benchmark includes it with `#[path = "support/mod.rs"] mod support;`; being under a
//! directory without a `main.rs`, it is not a benchmark target of its own.

// Each benchmark is a crate of its own that uses only some of these: without this, every one
// of them would warn about the others' as dead code and unused imports.
#![allow(dead_code, unused_imports)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub use datapact_tests::bench::*;
use datapact_tests::cli::Cli;
pub use datapact_tests::daemon::{Daemon, DaemonBuilder, StartError, terminate};

/// The `datapact` binary under test.
pub const DATAPACT: Cli = Cli::new(env!("CARGO_BIN_EXE_datapact"));

/// `datapact --dir DIR`.
pub fn datapact(dir: &Path) -> Command {
    DATAPACT.at(dir)
}

/// Runs `datapact --dir DIR ARGS...`; fails unless it exits 0; returns stdout.
pub fn datapact_ok(dir: &Path, args: &[&str]) -> Result<String, CommandFailed> {
    DATAPACT.run_ok(dir, args)
}

/// `datapact init --member MEMBER --listen /ip4/127.0.0.1/tcp/0` of a new node at `dir`.
pub fn init_node(dir: &Path, member: &str) -> anyhow::Result<()> {
    DATAPACT.init_at(dir, member).map(drop)
}

/// `Daemon::start` and `Daemon::builder` for daemons of this package's binary.
pub trait Launch {
    /// Starts the daemon of `dir` with the defaults of [`DaemonBuilder`], logging to `log`;
    /// `deadline` bounds its start and its stop.
    fn start(dir: &Path, log: &Path, deadline: Duration) -> Result<Daemon, StartError>;

    /// Settings for a daemon of `dir` that logs to `log`, to change before
    /// [`DaemonBuilder::start`].
    fn builder<'a>(dir: &'a Path, log: &'a Path, deadline: Duration) -> DaemonBuilder<'a>;
}

impl Launch for Daemon {
    fn start(dir: &Path, log: &Path, deadline: Duration) -> Result<Daemon, StartError> {
        Self::builder(dir, log, deadline).start()
    }

    fn builder<'a>(dir: &'a Path, log: &'a Path, deadline: Duration) -> DaemonBuilder<'a> {
        DaemonBuilder::new(DATAPACT, dir, log, deadline)
    }
}
