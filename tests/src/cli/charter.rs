//! Founding a federation the way operators do, through a charter file and the real binary:
//! one founder writes version 1 (`federation init`), each founder signs the file in turn
//! (`federation sign`, no daemon needed), and each node adopts it (`federation adopt`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Node;
use super::peers::listen_addr;

/// `CODE=PEER_ID@MULTIADDR` of `node` for `--founder`, with the address its daemon bound when
/// one runs (else without an address).
pub fn founder_arg(node: &Node) -> String {
    if node.control_answers() {
        format!("{}={}@{}", node.member(), node.peer_id(), listen_addr(node))
    } else {
        format!("{}={}", node.member(), node.peer_id())
    }
}

/// `federation init NAME --threshold K --founder ...` by `first`, listing `others`, written to
/// `out`; must succeed.
pub fn init_charter(first: &Node, others: &[&Node], name: &str, threshold: u64, out: &Path) {
    let threshold = threshold.to_string();
    let founders: Vec<String> = others.iter().map(|n| founder_arg(n)).collect();
    let mut args = vec!["federation", "init", name, "--threshold", &threshold];
    for f in &founders {
        args.extend(["--founder", f.as_str()]);
    }
    let out = out.to_str().expect("utf-8 path");
    args.extend(["--out", out]);
    first.run_ok(&args);
}

/// `federation sign FILE` by `node`; must succeed.
pub fn sign(node: &Node, file: &Path) {
    node.run_ok(&["federation", "sign", file.to_str().expect("utf-8 path")]);
}

/// `federation adopt FILE` by `node`; must succeed.
pub fn adopt(node: &Node, file: &Path) {
    node.run_ok(&["federation", "adopt", file.to_str().expect("utf-8 path")]);
}

/// `federation status --json`.
pub fn status(node: &Node) -> Value {
    node.json(&["federation", "status"])
}

/// Founds federation `name` of `nodes` (their daemons running) with `threshold`: the first
/// writes version 1 into its temp directory, every node signs it and adopts it. Returns the
/// charter file.
pub fn found(nodes: &[&Node], name: &str, threshold: u64) -> PathBuf {
    let (first, others) = nodes.split_first().expect("at least one founder");
    let file = first.path("charter.cose");
    init_charter(first, others, name, threshold, &file);
    for node in nodes {
        sign(node, &file);
    }
    for node in nodes {
        adopt(node, &file);
    }
    file
}

/// `federation propose ARGS...` by `node` (e.g. `["add", "IDN", PEER_ID]`); must succeed.
/// Returns the proposal id (stdout) and what was said on stderr.
pub fn propose(node: &Node, args: &[&str]) -> (String, String) {
    let mut all = vec!["federation", "propose"];
    all.extend_from_slice(args);
    let out = node.run(&all);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "propose {args:?}: {stderr}");
    (
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        stderr,
    )
}

/// `federation approve ID --json` by `node`; must succeed. Where the proposal stands.
pub fn approve(node: &Node, id: &str) -> Value {
    node.json(&["federation", "approve", id])
}

/// `federation export ID --out FILE` by `node` into its temp directory; must succeed.
pub fn export(node: &Node, id: &str, name: &str) -> PathBuf {
    let file = node.path(name);
    let out = file.to_str().expect("utf-8 path");
    node.run_ok(&["federation", "export", id, "--out", out]);
    file
}

/// `federation import FILE --json` by `node`; must succeed. Where the proposal stands.
pub fn import(node: &Node, file: &Path) -> Value {
    node.json(&["federation", "import", file.to_str().expect("utf-8 path")])
}
