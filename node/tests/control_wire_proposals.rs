//! The control socket's JSON for charter proposals, pinned: `federation propose`, `approve`,
//! `import` and `export` as the CLI sends them, and what the daemon answers, compared with the
//! documents written out by hand.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_node::api::{
    Call, FederationApprove, FederationExport, FederationImport, FederationPropose, ProposalMade,
    ProposalState, ProposedChange, Reply, Request, Response,
};
use datapact_protocol::{Identity, MemberCode};
use serde_json::{Value, json};

/// `request` goes out as `expected`, and `expected` comes back in as `request`.
fn request_is<R: Call + Clone>(request: R, expected: Value) {
    let sent: Request = request.into();
    assert_eq!(serde_json::to_value(&sent).unwrap(), expected);
    let read: Request = serde_json::from_value(expected.clone()).unwrap();
    assert_eq!(read, sent, "{expected}");
}

/// The reply `result` is written as `expected` and read back as `typed`.
fn reply_is<R: Call>(result: Response, typed: R::Response, expected: Value)
where
    R::Response: PartialEq,
{
    let written = serde_json::to_value(Reply::Ok { result }).unwrap();
    assert_eq!(written, json!({"reply": "ok", "result": expected}));
    match serde_json::from_value::<Reply<R::Response>>(written).unwrap() {
        Reply::Ok { result } => assert_eq!(result, typed),
        other => panic!("read back as {other:?}"),
    }
}

#[test]
fn proposal_requests_travel_as_their_op_and_change() {
    let peer = Identity::from_seed(&[4; 32]).peer_id();
    let idn = MemberCode::new("IDN").unwrap();
    let add = ProposedChange::Add {
        code: idn.clone(),
        peer_id: peer,
        addrs: vec!["/ip4/127.0.0.1/tcp/7470".into()],
    };
    request_is(
        FederationPropose { change: add },
        json!({"op": "federation_propose", "change": {"change": "add", "code": "IDN",
               "peer_id": peer.to_string(), "addrs": ["/ip4/127.0.0.1/tcp/7470"]}}),
    );
    let rotate = ProposedChange::Rotate {
        code: idn.clone(),
        peer_id: peer,
        addrs: Vec::new(),
        keep: Some("/tmp/kept.txt".into()),
    };
    request_is(
        FederationPropose { change: rotate },
        json!({"op": "federation_propose", "change": {"change": "rotate", "code": "IDN",
               "peer_id": peer.to_string(), "addrs": [], "keep": "/tmp/kept.txt"}}),
    );
    for (change, expected) in [
        (
            ProposedChange::Remove { code: idn },
            json!({"change": "remove", "code": "IDN"}),
        ),
        (
            ProposedChange::Threshold { threshold: 3 },
            json!({"change": "threshold", "threshold": 3}),
        ),
    ] {
        request_is(
            FederationPropose { change },
            json!({"op": "federation_propose", "change": expected}),
        );
    }
    let id = "ab".repeat(32);
    request_is(
        FederationApprove { id: id.clone() },
        json!({"op": "federation_approve", "id": id}),
    );
    request_is(
        FederationImport {
            path: "/tmp/p.cose".into(),
        },
        json!({"op": "federation_import", "path": "/tmp/p.cose"}),
    );
    request_is(
        FederationExport {
            id: id.clone(),
            out: "/tmp/p.cose".into(),
        },
        json!({"op": "federation_export", "id": id, "out": "/tmp/p.cose"}),
    );
}

#[test]
fn proposal_results_travel_as_the_result_itself() {
    let state = ProposalState {
        id: "cd".repeat(32),
        version: 2,
        signatures: 2,
        needed: 1,
        adopted: false,
    };
    let state_json = json!({"id": "cd".repeat(32), "version": 2, "signatures": 2, "needed": 1,
                            "adopted": false});
    reply_is::<FederationApprove>(
        Response::FederationApprove(state.clone()),
        state.clone(),
        state_json.clone(),
    );
    let made = ProposalMade {
        id: "cd".repeat(32),
        version: 2,
        threshold: 3,
        adjusted: Some("threshold raised from 2 to 3".into()),
        state,
    };
    reply_is::<FederationPropose>(
        Response::FederationPropose(made.clone()),
        made,
        json!({"id": "cd".repeat(32), "version": 2, "threshold": 3,
               "adjusted": "threshold raised from 2 to 3", "state": state_json}),
    );
}
