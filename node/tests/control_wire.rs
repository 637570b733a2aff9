//! The control socket's JSON, pinned: every request as the CLI sends it, and a reply of each
//! kind as the daemon writes it, compared with the documents written out by hand. Each request
//! and response is its own Rust type; this is what keeps the JSON they travel as the same one
//! scripts and older clients speak.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_node::api::{
    Audit, AuditFailure, AuditReport, Call, Catalog, CatalogEntry, CharterAdopted, CharterFork,
    CharterMemberInfo, CharterStatus, DatasetInfo, DatasetStatus, Datasets, DisclosureInfo,
    DryRunResult, ErrorKind, Export, FederationAdopt, FederationStatus, Id, IdInfo, Log, LogEvent,
    LogLine, MemberInfo, MembersAdd, MembersList, MembersRemove, Outcome, PeerInfo, Peers,
    PendingProposal, ProtectionReport, Pull, PullResult, ReleaseDryRun, ReleaseRequest, Reply,
    Request, Response, Revoke, RosterSource, StructureCheck, StructureEntry, StructureUsed,
    Structures,
};
use datapact_protocol::sdmx::StructureKind;
use datapact_protocol::{Identity, MemberCode};
use libp2p::PeerId;
use serde_json::{Value, json};

fn code(text: &str) -> MemberCode {
    MemberCode::new(text).unwrap()
}

fn peer() -> PeerId {
    Identity::from_seed(&[3; 32]).peer_id()
}

/// `request` goes out as `expected`, and `expected` comes back in as `request`.
fn request_is<R: Call + Clone>(request: R, expected: Value) {
    let sent: Request = request.into();
    assert_eq!(serde_json::to_value(&sent).unwrap(), expected);
    let read: Request = serde_json::from_value(expected.clone()).unwrap();
    assert_eq!(read, sent, "{expected}");
}

#[test]
fn requests_travel_as_their_op_and_fields() {
    let peer = peer();
    request_is(Id, json!({"op": "id"}));
    request_is(MembersList, json!({"op": "members_list"}));
    request_is(Datasets, json!({"op": "datasets"}));
    request_is(Catalog, json!({"op": "catalog"}));
    request_is(Log, json!({"op": "log"}));
    request_is(Peers, json!({"op": "peers"}));
    request_is(Structures, json!({"op": "structures"}));
    request_is(
        MembersAdd {
            member: code("MMR"),
            peer_id: peer,
            addrs: vec!["/ip4/127.0.0.1/tcp/7470".into()],
        },
        json!({
            "op": "members_add",
            "member": "MMR",
            "peer_id": peer.to_string(),
            "addrs": ["/ip4/127.0.0.1/tcp/7470"],
        }),
    );
    request_is(
        MembersRemove {
            member: code("MMR"),
        },
        json!({"op": "members_remove", "member": "MMR"}),
    );
    request_is(
        Pull {
            id: "THA/stock@1".into(),
            out: Some("/tmp/x.csv".into()),
        },
        json!({"op": "pull", "id": "THA/stock@1", "out": "/tmp/x.csv"}),
    );
    request_is(
        Export {
            id: "THA/stock@1".into(),
            out: "/tmp/bundle".into(),
            force: true,
        },
        json!({"op": "export", "id": "THA/stock@1", "out": "/tmp/bundle", "force": true}),
    );
    request_is(
        Revoke {
            id: "THA/stock@1".into(),
            reason: None,
        },
        json!({"op": "revoke", "id": "THA/stock@1", "reason": null}),
    );
    request_is(
        Audit { strict: true },
        json!({"op": "audit", "strict": true}),
    );
}

#[test]
fn a_release_request_carries_its_audience_as_text() {
    let release = ReleaseRequest {
        path: "/data/stock.csv".into(),
        name: "stock".into(),
        title: "Stock".into(),
        policy: "only:MMR,AUS".parse().unwrap(),
        expires_at: Some(1_800_000_000),
        purpose: Some("research".into()),
        ..ReleaseRequest::default()
    };
    request_is(
        release,
        json!({
            "op": "release",
            "path": "/data/stock.csv",
            "name": "stock",
            "title": "Stock",
            "policy": "only:AUS,MMR",
            "embargo_until": null,
            "expires_at": 1_800_000_000,
            "purpose": "research",
            "licence": null,
            "description": null,
            "indicator": null,
            "unit": null,
            "period": null,
            "source": null,
            "widen": false,
            "require_structure": false,
        }),
    );
}

#[test]
fn optional_flags_may_be_left_out_and_bad_values_are_refused() {
    let export: Request =
        serde_json::from_value(json!({"op": "export", "id": "THA/stock@1", "out": "/b"})).unwrap();
    assert_eq!(
        export,
        Export {
            id: "THA/stock@1".into(),
            out: "/b".into(),
            force: false
        }
        .into()
    );
    for bad in [
        json!({"op": "members_remove", "member": "mmr"}),
        json!({"op": "members_add", "member": "MMR", "peer_id": "12D3KooWnot", "addrs": []}),
        json!({"op": "release", "path": "/f", "name": "n", "title": "t", "policy": "everyone"}),
        json!({"op": "reboot"}),
    ] {
        assert!(
            serde_json::from_value::<Request>(bad.clone()).is_err(),
            "{bad} accepted"
        );
    }
}

/// The daemon writes `result` as `expected`, and a client that sent `R` reads it back.
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

fn member_info() -> MemberInfo {
    MemberInfo {
        member: code("MMR"),
        peer_id: peer(),
        public_key: "ab".repeat(32),
        addrs: vec![],
        source: RosterSource::Local,
    }
}

#[test]
fn results_travel_as_the_result_itself() {
    let peer = peer();
    let id = IdInfo {
        member: code("THA"),
        peer_id: peer,
        public_key: "ab".repeat(32),
        running: true,
        listen: vec!["/ip4/127.0.0.1/tcp/7470".into()],
    };
    reply_is::<Id>(
        Response::Id(id.clone()),
        id,
        json!({
            "member": "THA",
            "peer_id": peer.to_string(),
            "public_key": "ab".repeat(32),
            "running": true,
            "listen": ["/ip4/127.0.0.1/tcp/7470"],
        }),
    );
    let member = json!({
        "member": "MMR",
        "peer_id": peer.to_string(),
        "public_key": "ab".repeat(32),
        "addrs": [],
        "source": "local",
    });
    reply_is::<MembersAdd>(
        Response::MembersAdd(member_info()),
        member_info(),
        member.clone(),
    );
    reply_is::<MembersList>(
        Response::MembersList(vec![member_info()]),
        vec![member_info()],
        json!([member]),
    );
    let peers = vec![PeerInfo {
        peer_id: peer,
        member: None,
        addrs: vec!["/ip4/127.0.0.1/tcp/4001".into()],
    }];
    reply_is::<Peers>(
        Response::Peers(peers.clone()),
        peers,
        json!([{"peer_id": peer.to_string(), "member": null, "addrs": ["/ip4/127.0.0.1/tcp/4001"]}]),
    );
}

#[test]
fn datasets_and_catalogue_entries_name_their_status_and_audience() {
    let dataset = DatasetInfo {
        id: "THA/stock@2".into(),
        title: "Stock".into(),
        owner: code("THA"),
        policy: "only:MMR".parse().unwrap(),
        size: 12,
        sha256: "00".repeat(32),
        status: DatasetStatus::Revoked,
        file_name: "stock.csv".into(),
        has_content: true,
        embargo_until: None,
        expires_at: Some("2027-01-15T08:00:00Z".into()),
        purpose: None,
        licence: Some("CC-BY-4.0".into()),
        issued_at: "2026-12-01T19:12:16Z".into(),
        sdmx_structure: None,
        rows: Some(3),
        structure: None,
        structures: vec![],
        disclosure: None,
        protection: None,
        note: None,
    };
    reply_is::<Revoke>(
        Response::Revoke(dataset.clone()),
        dataset,
        json!({
            "id": "THA/stock@2",
            "title": "Stock",
            "owner": "THA",
            "policy": "only:MMR",
            "size": 12,
            "sha256": "00".repeat(32),
            "status": "revoked",
            "file_name": "stock.csv",
            "has_content": true,
            "embargo_until": null,
            "expires_at": "2027-01-15T08:00:00Z",
            "purpose": null,
            "licence": "CC-BY-4.0",
            "issued_at": "2026-12-01T19:12:16Z",
            "sdmx_structure": null,
            "rows": 3,
        }),
    );
    let entry = CatalogEntry {
        id: "AUS/flows@1".into(),
        title: "Flows".into(),
        owner: code("AUS"),
        policy: "members".parse().unwrap(),
        size: 5,
        pullable: false,
        reason: Some("expired".into()),
        pulled: false,
        purpose: None,
        licence: None,
        status: DatasetStatus::Expired,
        structure: None,
        structures: vec![],
        disclosure: None,
    };
    reply_is::<Catalog>(
        Response::Catalog(vec![entry.clone()]),
        vec![entry],
        json!([{
            "id": "AUS/flows@1",
            "title": "Flows",
            "owner": "AUS",
            "policy": "members",
            "size": 5,
            "pullable": false,
            "reason": "expired",
            "pulled": false,
            "purpose": null,
            "licence": null,
            "status": "expired",
        }]),
    );
}

#[test]
fn log_lines_name_their_event_and_outcome() {
    let peer = peer();
    let lines = vec![
        LogLine {
            seq: 1,
            time: "2026-12-01T19:12:16Z".into(),
            event: LogEvent::Pull,
            peer: Some(peer),
            member: Some(code("MMR")),
            dataset: Some("THA/stock@1".into()),
            outcome: Outcome::Granted,
            reason: None,
            count: None,
            intact: true,
            receipt: Some(false),
        },
        LogLine {
            seq: 2,
            time: "2026-12-01T19:13:16Z".into(),
            event: LogEvent::PullsRefused,
            peer: None,
            member: None,
            dataset: None,
            outcome: Outcome::Denied,
            reason: Some("over the request budget".into()),
            count: Some(40),
            intact: false,
            receipt: None,
        },
    ];
    reply_is::<Log>(
        Response::Log(lines.clone()),
        lines,
        json!([
            {
                "seq": 1,
                "time": "2026-12-01T19:12:16Z",
                "event": "pull",
                "peer": peer.to_string(),
                "member": "MMR",
                "dataset": "THA/stock@1",
                "outcome": "granted",
                "reason": null,
                "intact": true,
                "receipt": false,
            },
            {
                "seq": 2,
                "time": "2026-12-01T19:13:16Z",
                "event": "pulls_refused",
                "peer": null,
                "member": null,
                "dataset": null,
                "outcome": "denied",
                "reason": "over the request budget",
                "count": 40,
                "intact": false,
                "receipt": null,
            },
        ]),
    );
}

#[test]
fn pull_export_and_audit_results_and_the_other_reply_lines() {
    let pulled = PullResult {
        id: "THA/stock@1".into(),
        size: 3,
        sha256: "11".repeat(32),
        out: None,
        structure_check: None,
        note: None,
    };
    reply_is::<Pull>(
        Response::Pull(pulled.clone()),
        pulled,
        json!({"id": "THA/stock@1", "size": 3, "sha256": "11".repeat(32), "out": null}),
    );
    let report = AuditReport {
        ok: false,
        checked: 2,
        failures: vec![AuditFailure {
            id: "access-log".into(),
            problem: "access log entry 2 was altered".into(),
        }],
        notes: vec![],
    };
    reply_is::<Audit>(
        Response::Audit(report.clone()),
        report,
        json!({
            "ok": false,
            "checked": 2,
            "failures": [{"id": "access-log", "problem": "access log entry 2 was altered"}],
            "notes": [],
        }),
    );
    let progress: Reply = Reply::Progress { done: 1, total: 2 };
    assert_eq!(
        serde_json::to_value(progress).unwrap(),
        json!({"reply": "progress", "done": 1, "total": 2})
    );
    let error: Reply = Reply::Error {
        kind: ErrorKind::BadInput,
        message: "no".into(),
    };
    assert_eq!(
        serde_json::to_value(error).unwrap(),
        json!({"reply": "error", "kind": "bad_input", "message": "no"})
    );
    // A client reads an error whatever result type it expects.
    let read: Reply<Vec<DatasetInfo>> = serde_json::from_value(
        json!({"reply": "error", "kind": "failed", "message": "dataset THA/x@1 not found"}),
    )
    .unwrap();
    assert!(matches!(
        read,
        Reply::Error {
            kind: ErrorKind::Failed,
            ..
        }
    ));
}

#[test]
fn structures_and_the_structure_of_data_travel_as_the_contract_words_them() {
    let held = vec![StructureEntry {
        id: "BPX:DF_TIP(1.0)".into(),
        kind: StructureKind::Dataflow,
        name: "Victims".into(),
        dimensions: vec!["REF_AREA".into(), "TIME_PERIOD".into()],
        partial: true,
        owner: code("THA"),
        dataset: "THA/tip-structure@1".into(),
    }];
    reply_is::<Structures>(
        Response::Structures(held.clone()),
        held,
        json!([{
            "id": "BPX:DF_TIP(1.0)",
            "kind": "dataflow",
            "name": "Victims",
            "dimensions": ["REF_AREA", "TIME_PERIOD"],
            "partial": true,
            "owner": "THA",
            "dataset": "THA/tip-structure@1",
        }]),
    );
    let entry = CatalogEntry {
        id: "THA/tip@1".into(),
        title: "Victims".into(),
        owner: code("THA"),
        policy: "members".parse().unwrap(),
        size: 5,
        pullable: true,
        reason: None,
        pulled: false,
        purpose: None,
        licence: None,
        status: DatasetStatus::Received,
        structure: Some(StructureUsed {
            id: "BPX:DF_TIP(1.0)".into(),
            dsd: "BPX:DSD_TIP(1.0)".into(),
            sha256: "22".repeat(32),
        }),
        structures: vec![],
        disclosure: None,
    };
    reply_is::<Catalog>(
        Response::Catalog(vec![entry.clone()]),
        vec![entry],
        json!([{
            "id": "THA/tip@1",
            "title": "Victims",
            "owner": "THA",
            "policy": "members",
            "size": 5,
            "pullable": true,
            "reason": null,
            "pulled": false,
            "purpose": null,
            "licence": null,
            "status": "received",
            "structure": {"id": "BPX:DF_TIP(1.0)", "dsd": "BPX:DSD_TIP(1.0)", "sha256": "22".repeat(32)},
        }]),
    );
    let pulled = PullResult {
        id: "THA/tip@1".into(),
        size: 5,
        sha256: "11".repeat(32),
        out: None,
        structure_check: Some(StructureCheck::NotHeld),
        note: Some("structure BPX:DF_TIP(1.0) is not held here".into()),
    };
    reply_is::<Pull>(
        Response::Pull(pulled.clone()),
        pulled,
        json!({"id": "THA/tip@1", "size": 5, "sha256": "11".repeat(32), "out": null,
               "structure_check": "not_held", "note": "structure BPX:DF_TIP(1.0) is not held here"}),
    );
}

#[test]
fn protection_travels_as_the_contract_words_it() {
    let release = ReleaseRequest {
        path: "/data/tip.csv".into(),
        name: "tip".into(),
        title: "Victims".into(),
        suppress_below: Some(5),
        ..ReleaseRequest::default()
    };
    let mut sent = serde_json::to_value(Request::from(release.clone())).unwrap();
    assert_eq!(sent["suppress_below"], 5);
    request_is(release.clone(), sent.clone());
    sent.as_object_mut().unwrap().remove("op");
    request_is(
        ReleaseDryRun {
            release: release.clone(),
        },
        json!({"op": "release_dry_run", "release": sent}),
    );
    let protection = ProtectionReport {
        threshold: 5,
        primary: 1,
        secondary: 1,
        already_confidential: 0,
        suppressed_cells: 2,
        suppressed_value: 10,
        dimensions: vec!["SEX".into()],
        primary_cells: vec![[("SEX".to_owned(), "F".to_owned())].into_iter().collect()],
    };
    let report = json!({"threshold": 5, "primary": 1, "secondary": 1, "already_confidential": 0,
                        "suppressed_cells": 2, "suppressed_value": 10, "dimensions": ["SEX"],
                        "primary_cells": [{"SEX": "F"}]});
    let dry = DryRunResult {
        table: "SEX,OBS_VALUE,CONF_STATUS\nF,,C\n".into(),
        protection,
        structure: None,
        note: None,
    };
    reply_is::<ReleaseDryRun>(
        Response::ReleaseDryRun(dry.clone()),
        dry,
        json!({"table": "SEX,OBS_VALUE,CONF_STATUS\nF,,C\n", "protection": report}),
    );
    let entry = CatalogEntry {
        id: "THA/tip@1".into(),
        title: "Victims".into(),
        owner: code("THA"),
        policy: "members".parse().unwrap(),
        size: 5,
        pullable: true,
        reason: None,
        pulled: false,
        purpose: None,
        licence: None,
        status: DatasetStatus::Received,
        structure: None,
        structures: vec![],
        disclosure: Some(DisclosureInfo {
            rule: "min-count".into(),
            threshold: 5,
            suppressed: 2,
        }),
    };
    reply_is::<Catalog>(
        Response::Catalog(vec![entry.clone()]),
        vec![entry],
        json!([{
            "id": "THA/tip@1", "title": "Victims", "owner": "THA", "policy": "members", "size": 5,
            "pullable": true, "reason": null, "pulled": false, "purpose": null, "licence": null,
            "status": "received",
            "disclosure": {"rule": "min-count", "threshold": 5, "suppressed": 2},
        }]),
    );
}

#[test]
fn federation_requests_and_the_charter_status_travel_as_the_contract_words_them() {
    request_is(FederationStatus, json!({"op": "federation_status"}));
    request_is(
        FederationAdopt {
            path: "/tmp/charter.cose".into(),
        },
        json!({"op": "federation_adopt", "path": "/tmp/charter.cose"}),
    );
    let adopted = CharterAdopted {
        federation: "bali-process".into(),
        version: 1,
        id: "ab".repeat(32),
        changed: true,
    };
    reply_is::<FederationAdopt>(
        Response::FederationAdopt(adopted.clone()),
        adopted,
        json!({"federation": "bali-process", "version": 1, "id": "ab".repeat(32), "changed": true}),
    );
    let status = CharterStatus {
        federation: Some("bali-process".into()),
        version: Some(2),
        threshold: Some(2),
        members: vec![CharterMemberInfo {
            code: code("MMR"),
            peer_id: peer(),
            addrs: vec!["/ip4/127.0.0.1/tcp/7470".into()],
        }],
        pending: vec![PendingProposal {
            id: "cd".repeat(32),
            version: 3,
            change: "add VNM".into(),
            signatures: 1,
            needed: 2,
        }],
        fork: Some(CharterFork {
            version: 2,
            ids: vec!["ab".repeat(32), "ef".repeat(32)],
        }),
    };
    reply_is::<FederationStatus>(
        Response::FederationStatus(status.clone()),
        status,
        json!({
            "federation": "bali-process",
            "version": 2,
            "threshold": 2,
            "members": [{
                "code": "MMR",
                "peer_id": peer().to_string(),
                "addrs": ["/ip4/127.0.0.1/tcp/7470"],
            }],
            "pending": [{
                "id": "cd".repeat(32),
                "version": 3,
                "change": "add VNM",
                "signatures": 1,
                "needed": 2,
            }],
            "fork": {"version": 2, "ids": ["ab".repeat(32), "ef".repeat(32)]},
        }),
    );
}
