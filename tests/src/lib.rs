//! # datapact-tests
//!
//! The one test-support crate of datapact, shared by the multi-node integration tests in
//! `tests/tests/`, the CLI tests in `cli/tests/` and the benchmarks in `cli/benches/` (the
//! protocol's benchmarks include [`bench::measure`] by path, as they cannot depend on it). Its
//! parts are real: nodes listen on `/ip4/127.0.0.1/tcp/0` and talk over real libp2p
//! connections (TCP + Noise + Yamux) on loopback, each in its own temp directory with a real
//! sled store; the CLI tests run the real binary.
//!
//! - [`node`]: [`TestNode`], one node started in-process with
//!   [`datapact_node::daemon::start`], driven through the same operations the control socket
//!   serves, encoded as on the socket ([`datapact_node::control::call_in_process`]), or through
//!   its network handle where a test plays an attacker.
//! - [`federation`]: [`Federation`], several nodes that all list each other, connected, with
//!   gossip known to flow between every pair; plus outsiders.
//! - [`wait`]: [`wait_for`], [`wait_until`], [`wait_for_woken`], the only ways an in-process
//!   test waits: poll a condition (woken early by the nodes' `accepted_events` where given)
//!   until [`DEADLINE`], then fail saying what was awaited. No test uses a sleep as
//!   synchronisation; every request and network call is bounded by the same deadline.
//! - [`hostile`]: [`hostile::HostilePeer`], a peer of the test's own making that speaks
//!   datapact's protocols and misbehaves as the test says.
//! - [`statements`]: announcements a test or benchmark builds and signs itself.
//! - [`cli`]: the real `datapact` binary ([`cli::Cli`]) and a node directory driven through it
//!   ([`cli::Node`]); [`cli::peers`] for several of them.
//! - [`daemon`]: spawned `datapact daemon` processes ([`daemon::Daemon`]).
//! - [`bench`]: what the benchmark programs share: settings, timing, peak RSS, verdicts.
//! - [`files`], [`store`]: sample data, generated files and digests; a node's store opened
//!   from outside its daemon.
//!
//! Set `RUST_LOG=datapact_node=debug` to see the in-process nodes' logs in a failing test's
//! output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod bench;
pub mod cli;
pub mod daemon;
pub mod federation;
pub mod files;
pub mod hostile;
pub mod node;
pub mod statements;
pub mod store;
pub mod wait;

use std::time::Duration;

pub use federation::{Federation, wait_gossip};
pub use files::{pseudo_random, sample, sha256_hex, unix_now};
pub use node::{Dial, RequestError, TestNode};
pub use wait::{POLL, wait_for, wait_for_woken, wait_until};

/// How long anything may take before a test gives up.
pub const DEADLINE: Duration = Duration::from_secs(20);
/// Listen address of every test node: loopback, a port the OS picks, so parallel nodes never
/// collide.
pub const LISTEN: &str = "/ip4/127.0.0.1/tcp/0";
