//! Interoperability with an independent SDMX implementation: pysdmx wrote the same data
//! structure definition, codelists, concepts and dataflow as SDMX-JSON 2.0 and as SDMX-ML 3.0
//! (`tests/interop/make_pysdmx_fixtures.py`); both readers must give the same model, and data
//! must validate against it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_protocol::sdmx::model::{Attachment, Representation};
use datapact_protocol::sdmx::value::DataType;
use datapact_protocol::sdmx::{
    StructureKind, StructureSet, parse_structure_message, validate_data,
};

const JSON: &str = include_str!("fixtures/pysdmx/structure.json");
const XML: &str = include_str!("fixtures/pysdmx/structure.xml");

/// The model without the paths, which name places in each format's own syntax.
fn without_paths(mut set: StructureSet) -> StructureSet {
    set.codelists.iter_mut().for_each(|cl| cl.path.clear());
    set.dsds.iter_mut().for_each(|dsd| dsd.path.clear());
    set.dataflows.iter_mut().for_each(|df| df.path.clear());
    set
}

#[test]
fn json_and_xml_written_by_pysdmx_give_the_same_model() {
    let from_json = parse_structure_message(JSON.as_bytes()).unwrap();
    let from_xml = parse_structure_message(XML.as_bytes()).unwrap();
    assert_eq!(without_paths(from_json.clone()), without_paths(from_xml));

    let dsd = &from_json.dsds[0];
    assert_eq!(dsd.reference.to_string(), "BPX:DSD_MIG_STOCK(1.0)");
    assert_eq!(dsd.name.as_deref(), Some("Migrant stock"));
    assert_eq!(
        dsd.dimension_ids(),
        ["FREQ", "REF_AREA", "SEX", "TIME_PERIOD"]
    );
    let sex = &dsd.dimensions[2];
    assert_eq!(
        sex.concept.as_ref().and_then(|c| c.name.as_deref()),
        Some("Sex")
    );
    assert!(
        matches!(&sex.representation, Representation::Coded(cl) if cl.to_string() == "BPX:CL_SEX(1.0)")
    );
    let unit = &dsd.attributes[1];
    assert_eq!(unit.component.id, "UNIT_MEASURE");
    assert!(unit.mandatory);
    assert_eq!(
        unit.attachment,
        Attachment::Dimensions(vec!["FREQ".into(), "REF_AREA".into(), "SEX".into()])
    );
    assert!(!dsd.attributes[0].mandatory);
    assert_eq!(dsd.attributes[0].attachment, Attachment::Observation);
    let measure = &dsd.measures[0];
    assert_eq!(measure.component.id, "OBS_VALUE");
    assert!(matches!(
        measure.component.representation,
        Representation::Text(DataType::Integer { .. })
    ));
    let sexes: Vec<&str> = from_json.codelists[2]
        .codes
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(sexes, ["F", "M", "_T"]);
    assert_eq!(
        from_json.defined_ids(),
        ["BPX:DSD_MIG_STOCK(1.0)", "BPX:DF_MIG_STOCK(1.0)"]
    );
    let infos = from_json.infos();
    assert_eq!(infos[1].kind, StructureKind::Dataflow);
    assert_eq!(infos[1].name, "Migrant stock by sex");
    assert_eq!(
        infos[1].dimensions,
        ["FREQ", "REF_AREA", "SEX", "TIME_PERIOD"]
    );
    assert!(!infos[1].partial);
}

#[test]
fn data_validates_against_the_pysdmx_structure_in_both_formats() {
    let good = "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,SEX,TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MEASURE\n\
                dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,F,2017,905000,E,PS\n\
                dataflow,BPX:DF_MIG_STOCK(1.0),I,A,THA,M,2017,1050000,,PS\n";
    let bad = good.replace(",M,2017,1050000,", ",X,2017-Q5,lots,");
    for text in [JSON, XML] {
        let set = parse_structure_message(text.as_bytes()).unwrap();
        let report = validate_data(set.clone(), good.as_bytes());
        assert!(report.is_valid(), "{report}");
        assert_eq!(report.rows, 2);
        assert_eq!(report.dsd.unwrap().to_string(), "BPX:DSD_MIG_STOCK(1.0)");
        let report = validate_data(set, bad.as_bytes());
        let lines: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "line 3, column SEX: code \"X\" is not in codelist BPX:CL_SEX(1.0) (expected one of F, M, _T)",
                "line 3, column TIME_PERIOD: time period \"2017-Q5\" is not valid (expected an SDMX time period such as 2017, 2017-Q1, 2017-M01, 2017-01 or 2017-01-15)",
                "line 3, column OBS_VALUE: value \"lots\" is not valid (expected a whole number in range)",
            ]
        );
    }
}
