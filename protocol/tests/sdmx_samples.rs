//! The sample datasets shipped in `cli/samples` validate against the structure messages shipped
//! beside them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use datapact_protocol::sdmx::model::Representation;
use datapact_protocol::sdmx::{parse_structure_message, validate_data};

fn sample(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cli/samples")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn each_sample_validates_against_its_structure() {
    for (structure, data, dsd, rows) in [
        (
            "structure_mig_stock.json",
            "migrant_stock_2015_2017.csv",
            "BPX:DSD_MIG_STOCK(1.0.0)",
            24,
        ),
        (
            "structure_mig_stock.json",
            "migrant_stock_mmr_2015_2017.csv",
            "BPX:DSD_MIG_STOCK(1.0.0)",
            9,
        ),
        (
            "structure_mgi.json",
            "mgi_2016.csv",
            "BPX:DSD_MGI(1.0.0)",
            75,
        ),
        (
            "structure_tip_victims.json",
            "trafficking_victims_tha_2017.csv",
            "BPX:DSD_TIP_VICTIMS(1.0.0)",
            30,
        ),
    ] {
        let set = parse_structure_message(&sample(structure)).unwrap();
        let report = validate_data(set, &sample(data));
        assert!(report.is_valid(), "{data}: {report}");
        assert_eq!(report.rows, rows, "{data}");
        assert_eq!(report.dsd.unwrap().to_string(), dsd);
    }
}

#[test]
fn sample_structures_have_what_the_samples_need() {
    let stock = parse_structure_message(&sample("structure_mig_stock.json")).unwrap();
    assert_eq!(
        stock.defined_ids(),
        ["BPX:DSD_MIG_STOCK(1.0.0)", "BPX:DF_MIG_STOCK(1.0.0)"]
    );
    let dsd = &stock.dsds[0];
    assert_eq!(
        dsd.dimension_ids(),
        [
            "FREQ",
            "REF_AREA",
            "COUNTERPART_AREA",
            "SEX",
            "AGE",
            "TIME_PERIOD"
        ]
    );
    let attributes: Vec<&str> = dsd
        .attributes
        .iter()
        .map(|a| a.component.id.as_str())
        .collect();
    assert_eq!(attributes, ["UNIT_MEASURE", "OBS_STATUS", "CONF_STATUS"]);
    let sex = stock
        .codelists
        .iter()
        .find(|cl| cl.reference.id == "CL_SEX")
        .unwrap();
    let codes: Vec<&str> = sex.codes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(codes, ["F", "M", "_T"]);

    let tip = parse_structure_message(&sample("structure_tip_victims.json")).unwrap();
    let dsd = &tip.dsds[0];
    let conf = dsd
        .attributes
        .iter()
        .find(|a| a.component.id == "CONF_STATUS")
        .unwrap();
    let Representation::Coded(conf_list) = &conf.component.representation else {
        panic!("CONF_STATUS is not coded");
    };
    let conf_list = tip.codelist(conf_list).unwrap();
    assert!(conf_list.code("F").is_some() && conf_list.code("C").is_some());
    let forms = tip
        .codelists
        .iter()
        .find(|cl| cl.reference.id == "CL_EXPLOITATION")
        .unwrap();
    assert!(forms.code("_T").is_some());
    assert_eq!(tip.infos()[1].id, "BPX:DF_TIP_VICTIMS(1.0.0)");
}
