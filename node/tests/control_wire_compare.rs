//! The control socket's JSON of `compare`, pinned: the request as the CLI sends it (the
//! options flattened beside the structure id) and the comparison as the daemon answers it,
//! in the contract's shape (docs/design.md section 11).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_node::api::{Compare, Reply, Request, Response};
use datapact_protocol::compare::{
    Cell, Comparison, Filter, LeftOut, Methodology, Options, Ordered, Row,
};
use serde_json::json;

#[test]
fn a_compare_request_carries_its_structure_and_options() {
    let request = Compare {
        structure: "BPX:DF_MIG_STOCK(1.0.0)".into(),
        options: Options {
            filters: vec![Filter {
                dimension: "SEX".into(),
                codes: vec!["F".into(), "M".into()],
            }],
            rows: vec!["REF_AREA".into()],
            columns: None,
        },
    };
    let sent: Request = request.into();
    let expected = json!({
        "op": "compare",
        "structure": "BPX:DF_MIG_STOCK(1.0.0)",
        "filters": [{"dimension": "SEX", "codes": ["F", "M"]}],
        "rows": ["REF_AREA"],
        "columns": null,
    });
    assert_eq!(serde_json::to_value(&sent).unwrap(), expected);
    assert_eq!(serde_json::from_value::<Request>(expected).unwrap(), sent);
    // Options left out are the defaults.
    let bare: Request =
        serde_json::from_value(json!({"op": "compare", "structure": "A:B(1.0)"})).unwrap();
    assert_eq!(
        bare,
        Request::Compare(Compare {
            structure: "A:B(1.0)".into(),
            options: Options::default(),
        })
    );
}

#[test]
fn a_comparison_travels_as_the_contract_words_it() {
    let comparison = Comparison {
        structure: "BPX:DF_MIG_STOCK(1.0.0)".into(),
        name: "Migrant stock".into(),
        column_dimension: "OWNER".into(),
        time_columns: false,
        columns: vec!["MMR".into(), "THA".into()],
        row_dimensions: vec!["REF_AREA".into()],
        fixed: Ordered(vec![("SEX".into(), "_T".into())]),
        rows: vec![Row {
            key: Ordered(vec![
                ("REF_AREA".into(), "THA".into()),
                ("SEX".into(), "_T".into()),
            ]),
            values: Ordered(vec![
                (
                    "MMR".into(),
                    Cell {
                        value: None,
                        obs_status: None,
                        confidential: true,
                    },
                ),
                (
                    "THA".into(),
                    Cell {
                        value: Some(1_965_000.0),
                        obs_status: Some("E".into()),
                        confidential: false,
                    },
                ),
            ]),
            spread: None,
        }],
        compared_keys: 0,
        largest: None,
        unit: Some("persons".into()),
        labels: Ordered(Vec::new()),
        methodology: vec![Methodology {
            owner: "THA".into(),
            dataset: "THA/stock@1".into(),
            title: "Stock".into(),
            source: None,
            unit: Some("persons".into()),
            period: Some("2017".into()),
            description: None,
            licence: Some("CC-BY-4.0".into()),
            structure: "BPX:DF_MIG_STOCK(1.0.0)".into(),
            disclosure: None,
        }],
        left_out: vec![LeftOut {
            dataset: "AUS/stock@1".into(),
            reason: "declares BPX:DF_MIG_STOCK(2.0.0), another version of the structure".into(),
        }],
    };
    let written = serde_json::to_value(Reply::Ok {
        result: Response::Compare(Box::new(comparison.clone())),
    })
    .unwrap();
    let result = &written["result"];
    assert_eq!(written["reply"], "ok");
    assert_eq!(result["structure"], "BPX:DF_MIG_STOCK(1.0.0)");
    assert_eq!(result["columns"], json!(["MMR", "THA"]));
    assert_eq!(
        result["rows"],
        json!([{
            "key": {"REF_AREA": "THA", "SEX": "_T"},
            "values": {
                "MMR": {"value": null, "obs_status": null, "confidential": true},
                "THA": {"value": 1965000, "obs_status": "E", "confidential": false},
            },
            "spread": null,
        }])
    );
    assert_eq!(
        result["methodology"],
        json!([{"owner": "THA", "dataset": "THA/stock@1", "title": "Stock", "source": null,
                "unit": "persons", "period": "2017", "description": null,
                "licence": "CC-BY-4.0", "structure": "BPX:DF_MIG_STOCK(1.0.0)"}])
    );
    assert_eq!(
        result["left_out"],
        json!([{"dataset": "AUS/stock@1",
                "reason": "declares BPX:DF_MIG_STOCK(2.0.0), another version of the structure"}])
    );
    match serde_json::from_value::<Reply<Comparison>>(written).unwrap() {
        Reply::Ok { result } => assert_eq!(result, comparison),
        other => panic!("read back as {other:?}"),
    }
}
