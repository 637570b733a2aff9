//! Comparing members' figures (docs/design.md section 11), on the sample structure of
//! international migrant stock: mirror statistics lined up by key, spreads, confidential and
//! estimated cells, missing keys, what is left out and why, pivots, and bad options.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use datapact_protocol::compare::{
    Candidate, Comparison, Filter, OWNER, Options, OptionsError, compare, spread,
};
use datapact_protocol::sdmx::{StructureSet, parse_structure_message};
use datapact_protocol::{DatasetId, Digest, Meta, StructureRef};

const FLOW: &str = "BPX:DF_MIG_STOCK(1.0.0)";
const DSD: &str = "BPX:DSD_MIG_STOCK(1.0.0)";
const HEADER: &str = "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,COUNTERPART_AREA,SEX,AGE,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE,OBS_STATUS,CONF_STATUS\n";

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../cli/samples")
            .join(name),
    )
    .unwrap()
}

fn structure() -> (StructureSet, Digest) {
    let bytes = sample("structure_mig_stock.json");
    (parse_structure_message(&bytes).unwrap(), Digest::of(&bytes))
}

/// A dataset validated against the held structure message (`digest`), declared as `id`.
fn validated(dataset: &str, issued_at: u64, id: &str, digest: Digest) -> Candidate {
    let mut candidate = plain(dataset, issued_at);
    candidate.meta.sdmx_structure = Some(id.to_owned());
    candidate.meta.structure = Some(StructureRef {
        id: id.to_owned(),
        dsd: DSD.to_owned(),
        sha256: digest,
    });
    candidate
}

fn plain(dataset: &str, issued_at: u64) -> Candidate {
    let dataset: DatasetId = dataset.parse().unwrap();
    Candidate {
        meta: Meta {
            title: format!("Migrant stock reported by {}", dataset.owner),
            source: Some(format!("{} statistics office", dataset.owner)),
            ..Meta::default()
        },
        sha256: Digest::of(dataset.to_string().as_bytes()),
        dataset,
        issued_at,
        licence: Some("CC-BY-4.0".into()),
    }
}

/// Rows of SDMX-CSV: `REF_AREA,COUNTERPART_AREA,SEX,TIME_PERIOD,OBS_VALUE,OBS_STATUS,CONF_STATUS`.
fn csv(rows: &[&str]) -> Vec<u8> {
    let mut text = HEADER.to_owned();
    for row in rows {
        let f: Vec<&str> = row.split(',').collect();
        text.push_str(&format!(
            "dataflow,{FLOW},I,A,{},{},{},_T,{},{},PS,{},{}\n",
            f[0], f[1], f[2], f[3], f[4], f[5], f[6]
        ));
    }
    text.into_bytes()
}

fn run(options: &Options, datasets: Vec<(Candidate, Vec<u8>)>) -> Comparison {
    try_run(options, datasets).unwrap()
}

fn try_run(
    options: &Options,
    datasets: Vec<(Candidate, Vec<u8>)>,
) -> Result<Comparison, datapact_protocol::compare::CompareError> {
    let (set, digest) = structure();
    let borrowed = datasets
        .iter()
        .map(|(c, b)| (c.clone(), b.as_slice()))
        .collect();
    compare(&set, FLOW, digest, options, borrowed)
}

/// THA counts its immigrants from Myanmar; MMR estimates its emigrants in Thailand and
/// Malaysia; IOM reports one confidential cell.
fn mirror() -> Vec<(Candidate, Vec<u8>)> {
    let (_, digest) = structure();
    vec![
        (
            validated("THA/stock@1", 100, FLOW, digest),
            csv(&["THA,MMR,_T,2015,1910000,E,F", "THA,MMR,_T,2017,1965000,E,"]),
        ),
        (
            validated("MMR/stock@2", 200, FLOW, digest),
            csv(&[
                "THA,MMR,_T,2015,1520000,,",
                "THA,MMR,_T,2017,1600000,E,",
                "MYS,MMR,_T,2017,224000,,",
            ]),
        ),
        (
            validated("IOM/stock@1", 300, FLOW, digest),
            csv(&["THA,MMR,_T,2017,,,C", "THA,MMR,_T,2015,1700000,,F"]),
        ),
    ]
}

fn cell<'a>(c: &'a Comparison, row: usize, column: &str) -> &'a datapact_protocol::compare::Cell {
    c.rows[row].values.get(column).unwrap()
}

#[test]
fn mirror_statistics_line_up_by_key_with_their_spread() {
    let c = run(&Options::default(), mirror());
    assert_eq!(c.columns, ["IOM", "MMR", "THA"]);
    assert_eq!(c.column_dimension, OWNER);
    assert_eq!(c.row_dimensions, ["REF_AREA", "TIME_PERIOD"]);
    assert_eq!(
        c.fixed.0,
        [
            ("FREQ".to_owned(), "A".to_owned()),
            ("COUNTERPART_AREA".to_owned(), "MMR".to_owned()),
            ("SEX".to_owned(), "_T".to_owned()),
            ("AGE".to_owned(), "_T".to_owned()),
        ]
    );
    // Rows in codelist order: MYS before THA (the codelist is alphabetical), then by period.
    let keys: Vec<(&str, &str)> = c
        .rows
        .iter()
        .map(|r| {
            (
                r.key.get("REF_AREA").unwrap().as_str(),
                r.key.get("TIME_PERIOD").unwrap().as_str(),
            )
        })
        .collect();
    assert_eq!(keys, [("MYS", "2017"), ("THA", "2015"), ("THA", "2017")]);
    // Every row's key holds every dimension that is not a column.
    assert_eq!(c.rows[0].key.0.len(), 6);

    // 2015: three owners report; spread (1910000 - 1520000) / 1910000.
    assert_eq!(cell(&c, 1, "THA").value, Some(1_910_000.0));
    assert_eq!(cell(&c, 1, "THA").obs_status.as_deref(), Some("E"));
    assert_eq!(cell(&c, 1, "MMR").obs_status, None);
    let s2015 = c.rows[1].spread.unwrap();
    assert!((s2015 - 390_000.0 / 1_910_000.0).abs() < 1e-12, "{s2015}");

    // 2017: IOM's cell is confidential: no value, and no part of the spread.
    let iom = cell(&c, 2, "IOM");
    assert!(iom.confidential);
    assert_eq!(iom.value, None);
    let s2017 = c.rows[2].spread.unwrap();
    assert!((s2017 - 365_000.0 / 1_965_000.0).abs() < 1e-12, "{s2017}");

    // A key only MMR reports: the others did not report it, and there is no spread.
    assert_eq!(cell(&c, 0, "THA"), &Default::default());
    assert_eq!(c.rows[0].spread, None);

    assert_eq!(c.compared_keys, 2);
    let largest = c.largest.as_ref().unwrap();
    assert_eq!(largest.row, 1);
    assert_eq!(largest.spread, s2015);
    assert!(c.left_out.is_empty(), "{:?}", c.left_out);

    // Labels from the codelists, the name of the dataflow, units from the data.
    assert_eq!(
        c.name,
        "International migrant stock by destination, origin and sex"
    );
    let origins = c.labels.get("COUNTERPART_AREA").unwrap();
    assert_eq!(
        origins.codes.get("MMR").map(String::as_str),
        Some("Myanmar")
    );
    let areas = c.labels.get("REF_AREA").unwrap();
    assert_eq!(areas.codes.get("THA").map(String::as_str), Some("Thailand"));
    assert_eq!(c.unit.as_deref(), Some("PS (Persons)"));
    let tha = c.methodology.iter().find(|m| m.owner == "THA").unwrap();
    assert_eq!(tha.dataset, "THA/stock@1");
    assert_eq!(tha.period.as_deref(), Some("2015 to 2017"));
    assert_eq!(tha.licence.as_deref(), Some("CC-BY-4.0"));
    assert_eq!(tha.structure, FLOW);
}

#[test]
fn other_versions_and_unvalidated_data_are_left_out_with_the_reason() {
    let (_, digest) = structure();
    let mut datasets = mirror();
    let mut other_version = validated("AUS/stock@1", 400, "BPX:DF_MIG_STOCK(2.0.0)", digest);
    other_version.meta.structure.as_mut().unwrap().dsd = "BPX:DSD_MIG_STOCK(2.0.0)".into();
    let mut unvalidated = plain("KOR/stock@1", 400);
    unvalidated.meta.sdmx_structure = Some(FLOW.into());
    let mut other_message = validated("PHL/stock@1", 400, FLOW, Digest::of(b"another message"));
    other_message.meta.title = "Another message".into();
    let unrelated = plain("PHL/mgi@1", 400);
    let by_dsd = validated("NZL/stock@1", 400, DSD, digest);
    for candidate in [other_version, unvalidated, other_message, unrelated, by_dsd] {
        datasets.push((candidate, csv(&["THA,MMR,_T,2017,1,,"])));
    }
    let c = run(&Options::default(), datasets);
    assert_eq!(
        c.columns,
        ["IOM", "MMR", "THA"],
        "nothing left out is mixed in"
    );
    let reasons: Vec<(&str, &str)> = c
        .left_out
        .iter()
        .map(|l| (l.dataset.as_str(), l.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert_eq!(
        reasons[0],
        (
            "AUS/stock@1",
            "declares BPX:DF_MIG_STOCK(2.0.0), another version of the structure"
        )
    );
    assert_eq!(reasons[1].0, "KOR/stock@1");
    assert!(reasons[1].1.contains("not validated"), "{}", reasons[1].1);
    assert_eq!(
        reasons[2],
        (
            "NZL/stock@1",
            "declares BPX:DSD_MIG_STOCK(1.0.0), which uses the same data structure definition: \
             compare BPX:DSD_MIG_STOCK(1.0.0) to include it"
        )
    );
    assert_eq!(reasons[3].0, "PHL/stock@1");
    assert!(
        reasons[3].1.contains("another structure message"),
        "{}",
        reasons[3].1
    );
}

#[test]
fn asking_for_the_data_structure_definition_takes_its_dataflows_too() {
    let (set, digest) = structure();
    let mut datasets = mirror();
    datasets.push((
        validated("NZL/stock@1", 400, DSD, digest),
        csv(&["THA,MMR,_T,2017,1800000,,"]),
    ));
    let borrowed = datasets
        .iter()
        .map(|(c, b)| (c.clone(), b.as_slice()))
        .collect();
    let c = compare(&set, DSD, digest, &Options::default(), borrowed).unwrap();
    assert_eq!(c.columns, ["IOM", "MMR", "NZL", "THA"]);
    assert_eq!(c.name, "International migrant stock");
    assert!(c.left_out.is_empty(), "{:?}", c.left_out);
}

#[test]
fn one_owner_speaks_once_per_key_and_only_its_newest_versions_count() {
    let (_, digest) = structure();
    let datasets = vec![
        // Version 1 of THA/stock is superseded by version 2.
        (
            validated("THA/stock@1", 100, FLOW, digest),
            csv(&["THA,MMR,_T,2017,1,,"]),
        ),
        (
            validated("THA/stock@2", 200, FLOW, digest),
            csv(&["THA,MMR,_T,2017,1965000,,"]),
        ),
        // A later THA dataset reports the same key: it wins, and the older one is left out.
        (
            validated("THA/stock-revised@1", 300, FLOW, digest),
            csv(&["THA,MMR,_T,2017,1970000,P,"]),
        ),
        // Another THA dataset with other keys is compared too.
        (
            validated("THA/stock-2015@1", 50, FLOW, digest),
            csv(&["THA,MMR,_T,2015,1910000,,"]),
        ),
    ];
    let c = run(&Options::default(), datasets);
    assert_eq!(c.columns, ["THA"]);
    let values: Vec<(Option<f64>, Option<&str>)> = c
        .rows
        .iter()
        .map(|r| {
            let cell = r.values.get("THA").unwrap();
            (cell.value, cell.obs_status.as_deref())
        })
        .collect();
    assert_eq!(
        values,
        [(Some(1_910_000.0), None), (Some(1_970_000.0), Some("P"))]
    );
    assert_eq!(c.left_out.len(), 1);
    assert_eq!(c.left_out[0].dataset, "THA/stock@2");
    assert!(
        c.left_out[0].reason.contains("THA/stock-revised@1"),
        "{:?}",
        c.left_out
    );
    assert_eq!(c.methodology.len(), 2);
}

#[test]
fn filters_keep_codes_and_owners() {
    let options = Options {
        filters: vec![
            "TIME_PERIOD=2017".parse().unwrap(),
            "OWNER=MMR,THA".parse().unwrap(),
        ],
        ..Options::default()
    };
    let c = run(&options, mirror());
    assert_eq!(c.columns, ["MMR", "THA"]);
    assert_eq!(c.row_dimensions, ["REF_AREA"]);
    assert_eq!(c.rows.len(), 2);
    assert!(c.methodology.iter().all(|m| m.owner != "IOM"));
}

#[test]
fn columns_by_time_period_put_the_owners_in_the_rows() {
    let options = Options {
        columns: Some("TIME_PERIOD".into()),
        rows: vec!["OWNER".into(), "REF_AREA".into()],
        ..Options::default()
    };
    let c = run(&options, mirror());
    assert!(c.time_columns);
    assert_eq!(c.columns, ["2015", "2017"]);
    assert_eq!(c.row_dimensions, ["OWNER", "REF_AREA"]);
    let first = &c.rows[0];
    assert_eq!(first.key.get("OWNER").map(String::as_str), Some("IOM"));
    assert!(first.values.get("2017").unwrap().confidential);
    assert!(c.rows.iter().all(|r| r.spread.is_none()));
    assert_eq!(c.compared_keys, 0);
}

#[test]
fn bad_options_name_what_is_wrong() {
    let err = |options: Options| match try_run(&options, mirror()) {
        Err(datapact_protocol::compare::CompareError::Options(e)) => e,
        other => panic!("expected an options error, got {other:?}"),
    };
    let filter = |text: &str| Options {
        filters: vec![text.parse().unwrap()],
        ..Options::default()
    };
    assert!(matches!(
        err(filter("NATIONALITY=MMR")),
        OptionsError::UnknownDimension { .. }
    ));
    let unknown = err(filter("REF_AREA=XXX"));
    assert_eq!(
        unknown.to_string(),
        "unknown code \"XXX\" for REF_AREA: expected a code of BPX:CL_AREA(1.0.0)"
    );
    assert!(matches!(
        err(filter("TIME_PERIOD=2017-Q5")),
        OptionsError::UnknownCode { .. }
    ));
    assert!(matches!(
        err(Options {
            columns: Some("SEXES".into()),
            ..Options::default()
        }),
        OptionsError::UnknownDimension { .. }
    ));
    // A dimension that varies but is neither a row nor the column would merge rows.
    let varies = err(Options {
        rows: vec!["TIME_PERIOD".into()],
        ..Options::default()
    });
    assert_eq!(
        varies.to_string(),
        "REF_AREA takes several codes here (MYS, THA): add it to --rows, or keep one with \
         --filter REF_AREA=CODE"
    );
    assert!("REF_AREA".parse::<Filter>().is_err());
    assert!("REF_AREA=THA,".parse::<Filter>().is_err());
}

#[test]
fn spread_ignores_confidential_and_missing_values() {
    use datapact_protocol::compare::Cell;
    let value = |v: f64| Cell {
        value: Some(v),
        ..Cell::default()
    };
    let secret = Cell {
        value: Some(1.0),
        confidential: true,
        ..Cell::default()
    };
    assert_eq!(spread([value(100.0), value(80.0)].iter()), Some(0.2));
    assert_eq!(spread([value(100.0), secret.clone()].iter()), None);
    assert_eq!(spread([value(100.0), Cell::default()].iter()), None);
    assert_eq!(spread([value(0.0), value(0.0)].iter()), None);
}

#[test]
fn unreadable_contents_are_left_out_and_never_panic() {
    let (_, digest) = structure();
    let mut datasets = mirror();
    datasets.push((
        validated("AUS/stock@1", 1, FLOW, digest),
        csv(&["THA,MMR,_T,2017,many,,"]),
    ));
    datasets.push((
        validated("KOR/stock@1", 1, FLOW, digest),
        b"STRUCTURE,STRUCTURE_ID,REF_AREA\n".to_vec(),
    ));
    let c = run(&Options::default(), datasets);
    let reasons: Vec<&str> = c.left_out.iter().map(|l| l.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "line 2: OBS_VALUE \"many\" is not a number; compare shows numbers only",
            "its content has no column FREQ",
        ]
    );
    // Garbage of every kind: left out or read, never a panic.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for round in 0..200 {
        let mut bytes = HEADER.as_bytes().to_vec();
        for _ in 0..(round * 7) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let alphabet = b",\n\"\rA_T9.-";
            bytes.push(alphabet[usize::try_from(seed % 10).unwrap()]);
        }
        let candidate = validated("AUS/stock@1", 1, FLOW, digest);
        let _ = try_run(&Options::default(), vec![(candidate, bytes)]);
    }
}

#[test]
fn a_protected_release_says_so_beside_its_figures() {
    let mut datasets = mirror();
    datasets[2].0.meta.disclosure = Some(datapact_protocol::DisclosureRef {
        rule: "min-count".into(),
        threshold: 5,
        suppressed: 1,
    });
    let c = run(&Options::default(), datasets);
    let protection = |owner: &str| {
        c.methodology
            .iter()
            .find(|m| m.owner == owner)
            .unwrap()
            .disclosure
            .clone()
    };
    assert_eq!(
        protection("IOM"),
        Some(datapact_protocol::compare::Protection {
            rule: "min-count".into(),
            threshold: 5,
            suppressed: 1,
        })
    );
    assert_eq!(protection("THA"), None);
    // And so does the JSON that scripts read.
    let json = serde_json::to_value(&c).unwrap();
    let iom = json["methodology"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["owner"] == "IOM")
        .unwrap()
        .clone();
    assert_eq!(
        iom["disclosure"],
        serde_json::json!({"rule": "min-count", "threshold": 5, "suppressed": 1})
    );
}
