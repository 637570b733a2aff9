//! The control socket is a decoder too: garbage and oversize request lines get a clear error
//! reply and change nothing, and the daemon keeps serving.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

use datapact_tests::cli::{Cli, Node};

/// The binary under test.
const DATAPACT: Cli = Cli::new(env!("CARGO_BIN_EXE_datapact"));

fn exchange(node: &Node, bytes: &[u8]) -> String {
    let mut stream = UnixStream::connect(node.node_path("control.sock")).expect("connect");
    stream.write_all(bytes).expect("write");
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).expect("read");
    line
}

#[test]
fn garbage_and_oversize_requests_are_refused_and_the_daemon_keeps_serving() {
    let mut node = Node::init(DATAPACT, "THA");
    node.start_daemon();

    let reply = exchange(&node, b"\xff\x00not json at all\n");
    assert!(reply.contains("\"bad_input\""), "{reply}");
    assert!(reply.contains("malformed request"), "{reply}");

    let reply = exchange(&node, b"{\"op\":\"no_such_op\"}\n");
    assert!(reply.contains("\"bad_input\""), "{reply}");

    let mut huge = vec![b'x'; 100 * 1024];
    huge.push(b'\n');
    let reply = exchange(&node, &huge);
    assert!(reply.contains("request longer than"), "{reply}");

    let out = node.run(&["datasets", "--json"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}
