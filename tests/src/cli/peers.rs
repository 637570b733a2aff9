//! CLI nodes that know each other: real daemons, each in the other's roster with the address it
//! actually bound on 127.0.0.1, and the polling a test needs to see what travels between them.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::Node;
use crate::DEADLINE;

/// Interval between two polls of a condition that depends on the network.
const NETWORK_POLL: Duration = Duration::from_millis(50);

/// Polls `check` until it returns `Some`, or panics after [`DEADLINE`] naming `what`.
pub fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(NETWORK_POLL);
    }
}

/// The daemon's actual TCP listen address, from `id --json`, once it has one.
pub fn listen_addr(node: &Node) -> String {
    let (_, addr) = node
        .cli()
        .identity(node.dir(), DEADLINE)
        .unwrap_or_else(|e| panic!("{}'s listen address: {e:#}", node.member()));
    addr
}

/// Puts `other` into `node`'s roster, with its real address.
pub fn add_member(node: &Node, other: &Node) {
    node.run_ok(&[
        "members",
        "add",
        &other.member(),
        &other.peer_id(),
        "--addr",
        &listen_addr(other),
    ]);
}

/// Two running nodes (their daemons already started), each put in the other's roster.
pub fn introduce(a: &Node, b: &Node) {
    add_member(a, b);
    add_member(b, a);
}

/// Waits until `node`'s catalogue lists `id`; returns the entry.
pub fn wait_catalog_entry(node: &Node, id: &str) -> Value {
    wait_for(&format!("{id} in {}'s catalogue", node.member()), || {
        node.catalog().into_iter().find(|e| e["id"] == id)
    })
}

/// Waits until `id` is in `node`'s catalogue, then runs `pull ID EXTRA...` until it succeeds
/// (the owner may not be connected yet); returns the pull's stdout.
pub fn pull(node: &Node, id: &str, extra: &[&str]) -> String {
    wait_catalog_entry(node, id);
    let mut args = vec!["pull", id];
    args.extend_from_slice(extra);
    wait_for(&format!("{} to pull {id}", node.member()), || {
        let out = node.run(&args);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    })
}
