//! Reading SDMX structure messages (both SDMX-JSON layouts and SDMX-ML 3.0), refusing what would
//! make validation wrong, and the consistency of a message with what a node already holds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_protocol::sdmx::model::{Attachment, Representation};
use datapact_protocol::sdmx::resolve::MAX_STRUCTURE_MESSAGE_LEN;
use datapact_protocol::sdmx::time_period::TimeForm;
use datapact_protocol::sdmx::value::DataType;
use datapact_protocol::sdmx::{
    ConsistencyError, StructureError, StructureSet, check_consistency,
    looks_like_structure_message, parse_structure_message, validate_data,
};

const V1: &str = include_str!("fixtures/sdmx_json_1_0.json");
const PYSDMX_JSON: &str = include_str!("fixtures/pysdmx/structure.json");
const PYSDMX_XML: &str = include_str!("fixtures/pysdmx/structure.xml");

fn parse(text: &str) -> StructureSet {
    parse_structure_message(text.as_bytes()).unwrap_or_else(|err| panic!("{err}"))
}

fn refused(text: &str) -> StructureError {
    match parse_structure_message(text.as_bytes()) {
        Ok(set) => panic!("accepted: {set:?}"),
        Err(err) => err,
    }
}

/// Replaces exactly one occurrence, so a changed fixture fails loudly.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from:?} is not in the fixture exactly once"
    );
    text.replace(from, to)
}

#[test]
fn sdmx_json_1_0_layout() {
    let set = parse(V1);
    let dsd = &set.dsds[0];
    assert_eq!(dsd.reference.to_string(), "BPX:DSD_TIP(1.0)");
    // Document order, not `position` (here deliberately shuffled).
    assert_eq!(
        dsd.dimension_ids(),
        ["REF_AREA", "CITIZENSHIP", "SEX", "TIME_PERIOD"]
    );
    let time = dsd.time_dimension.as_ref().unwrap();
    assert_eq!(
        time.representation,
        Representation::Text(DataType::Time(TimeForm::Reporting))
    );
    let area = &dsd.dimensions[0];
    let concept = area.concept.as_ref().unwrap();
    assert_eq!(concept.name.as_deref(), Some("Reference area"));
    assert_eq!(
        concept.description.as_deref(),
        Some("Where the victims were identified")
    );
    // assignmentStatus and the SDMX 2.1 attachments.
    let [unit, conf, comment] = &dsd.attributes[..] else {
        panic!()
    };
    assert!(unit.mandatory && !conf.mandatory && !comment.mandatory);
    assert_eq!(conf.attachment, Attachment::Observation);
    assert_eq!(comment.attachment, Attachment::Dataflow);
    // A concept the message lacks only loses its name.
    let comment_concept = comment.component.concept.as_ref().unwrap();
    assert_eq!(comment_concept.name, None);
    assert_eq!(
        comment.component.representation,
        Representation::Text(DataType::String)
    );
    // primaryMeasure is the one measure, not mandatory.
    assert_eq!(dsd.measures.len(), 1);
    assert!(!dsd.measures[0].mandatory);
    // Localised names: English first.
    let areas = &set.codelists[0];
    assert_eq!(areas.name.as_deref(), Some("Areas"));
    assert!(areas.partial);
    assert_eq!(areas.code("THA").unwrap().parent.as_deref(), Some("ASEAN"));
    assert_eq!(
        set.dataflows[0].name.as_deref(),
        Some("Victims of trafficking")
    );
    // The partial codelist shows in the listing.
    let infos = set.infos();
    assert!(infos.iter().all(|info| info.partial));
    assert_eq!(
        serde_json::to_value(&infos[1]).unwrap(),
        serde_json::json!({
            "id": "BPX:DF_TIP(1.0)", "kind": "dataflow", "name": "Victims of trafficking",
            "dimensions": ["REF_AREA", "CITIZENSHIP", "SEX", "TIME_PERIOD"], "partial": true
        })
    );
}

#[test]
fn meta_schema_is_not_trusted() {
    let claims_2_0 = V1.replace("schemas/1.0/", "schemas/2.0.0/");
    assert_eq!(parse(&claims_2_0), parse(V1));
    let claims_1_0 = PYSDMX_JSON.replace("schemas/2.0.0/", "schemas/1.0/");
    assert_eq!(parse(&claims_1_0), parse(PYSDMX_JSON));
}

#[test]
fn a_partial_codelist_validates_against_the_codes_it_lists() {
    let header =
        "STRUCTURE,STRUCTURE_ID,REF_AREA,CITIZENSHIP,SEX,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE\n";
    let ok = format!("{header}dataflow,BPX:DF_TIP(1.0),THA,MMR,F,2017-Q1,12,PS\n");
    assert!(validate_data(parse(V1), ok.as_bytes()).is_valid());
    let unlisted = format!("{header}dataflow,BPX:DF_TIP(1.0),THA,KHM,F,2017-Q1,12,PS\n");
    let report = validate_data(parse(V1), unlisted.as_bytes());
    assert_eq!(
        report.to_string(),
        "line 2, column CITIZENSHIP: code \"KHM\" is not in codelist BPX:CL_AREA(1.0) (expected one of ASEAN, THA, MMR, _T)"
    );
}

#[test]
fn unresolved_codelists_are_refused_with_their_path() {
    let no_sex = edit(V1, "\"id\": \"CL_SEX\"", "\"id\": \"CL_GENDER\"");
    let err = refused(&no_sex);
    assert_eq!(
        err.to_string(),
        "data.dataStructures[0].dataStructureComponents.dimensionList.dimensions[2].localRepresentation.enumeration: \
         codelist urn:sdmx:org.sdmx.infomodel.codelist.Codelist=BPX:CL_SEX(1.0) is not defined in the message"
    );
    let xml = edit(
        PYSDMX_XML,
        "<str:Codelist id=\"CL_SEX\"",
        "<str:Codelist id=\"CL_GENDER\"",
    );
    assert_eq!(
        refused(&xml).to_string(),
        "Structure/Structures/DataStructures/DataStructure[1]/DataStructureComponents/DimensionList/Dimension[3]/LocalRepresentation/Enumeration: \
         codelist urn:sdmx:org.sdmx.infomodel.codelist.Codelist=BPX:CL_SEX(1.0) is not defined in the message"
    );
    // A concept's core representation counts too when the component has none of its own.
    let core_only = edit(
        PYSDMX_JSON,
        "\"localRepresentation\": {\n                                    \"enumeration\": \"urn:sdmx:org.sdmx.infomodel.codelist.Codelist=BPX:CL_FREQ(1.0)\"\n                                }",
        "\"annotations\": []",
    );
    let set = parse(&core_only);
    assert!(
        matches!(&set.dsds[0].dimensions[0].representation, Representation::Coded(cl) if cl.id == "CL_FREQ")
    );
}

#[test]
fn unresolved_data_structures_are_refused_with_their_path() {
    let other = edit(
        V1,
        "DataStructure=BPX:DSD_TIP(1.0)",
        "DataStructure=BPX:DSD_OTHER(1.0)",
    );
    assert_eq!(
        refused(&other).to_string(),
        "data.dataflows[0].structure: data structure definition \
         urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=BPX:DSD_OTHER(1.0) is not defined in the message"
    );
    let xml = edit(
        PYSDMX_XML,
        "DataStructure=BPX:DSD_MIG_STOCK(1.0)</str:Structure>",
        "DataStructure=BPX:DSD_X(1.0)</str:Structure>",
    );
    assert!(
        refused(&xml).to_string().starts_with(
            "Structure/Structures/Dataflows/Dataflow[1]/Structure: data structure definition"
        ),
        "{}",
        refused(&xml)
    );
}

#[test]
fn ill_formed_ids_are_refused() {
    for (from, to, expected) in [
        (
            "{\"id\": \"F\", \"name\": \"Female\"}",
            "{\"id\": \"F F\", \"name\": \"Female\"}",
            "data.codelists[1].codes[0]: code \"F F\" is not well-formed",
        ),
        (
            "\"id\": \"DSD_TIP\"",
            "\"id\": \"DSD TIP\"",
            "data.dataStructures[0]: id \"DSD TIP\" is not well-formed",
        ),
        (
            "\"id\": \"CL_UNIT\",\n        \"version\": \"1.0\"",
            "\"id\": \"CL_UNIT\",\n        \"version\": \"one\"",
            "data.codelists[2]: version \"one\" is not well-formed",
        ),
        (
            "\"id\": \"SEX\",\n                \"position\"",
            "\"id\": \"1SEX\",\n                \"position\"",
            "component id \"1SEX\" is not well-formed",
        ),
        (
            "\"Thailand\"}, \"parent\": \"ASEAN\"}",
            "\"Thailand\"}, \"parent\": \"EU\"}",
            "parent \"EU\" of code THA is not in codelist BPX:CL_AREA(1.0)",
        ),
        (
            "{\"id\": \"M\", \"name\": \"Male\"}",
            "{\"id\": \"F\", \"name\": \"Male\"}",
            "code F is listed twice",
        ),
        (
            "\"id\": \"COMMENT\"",
            "\"id\": \"UNIT_MEASURE\"",
            "component UNIT_MEASURE is defined twice in BPX:DSD_TIP(1.0)",
        ),
    ] {
        let err = refused(&edit(V1, from, to)).to_string();
        assert!(err.contains(expected), "{err}\n  expected {expected}");
    }
    let cycle = edit(
        V1,
        "{\"id\": \"ASEAN\", \"names\"",
        "{\"id\": \"ASEAN\", \"parent\": \"THA\", \"names\"",
    );
    assert!(
        refused(&cycle).to_string().contains("is its own ancestor"),
        "{}",
        refused(&cycle)
    );
}

#[test]
fn what_is_not_a_structure_message_is_refused() {
    for (text, expected) in [
        (
            "{\"data\": {\"dataSets\": []}}",
            "not an SDMX structure message: the JSON's data has no dataStructures",
        ),
        (
            "{\"meta\": {}}",
            "not an SDMX structure message: the JSON has no data member",
        ),
        (
            "{\"data\": {\"dataStructures\": []}}",
            "not an SDMX structure message: it defines no data structure definition",
        ),
        (
            "<html><body/></html>",
            "not an SDMX structure message: the XML root element is html, not Structure",
        ),
        (
            "STRUCTURE,STRUCTURE_ID\n",
            "not an SDMX structure message: expected SDMX-JSON",
        ),
        ("{\"data\": ", "malformed JSON: EOF while parsing"),
        (
            "<mes:Structure xmlns:mes=\"x\"><a></b></mes:Structure>",
            "malformed XML",
        ),
        (
            "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><Structure/>",
            "malformed XML: document type declarations are not accepted",
        ),
    ] {
        let err = refused(text).to_string();
        assert!(err.starts_with(expected), "{err}\n  expected {expected}");
    }
    let v21 = PYSDMX_XML.replace("/v3_0/", "/v2_1/");
    assert!(
        refused(&v21)
            .to_string()
            .contains("SDMX-ML 2.x structure messages are not supported")
    );
    let huge = " ".repeat(MAX_STRUCTURE_MESSAGE_LEN + 1);
    assert_eq!(
        refused(&huge),
        StructureError::TooLarge {
            max: MAX_STRUCTURE_MESSAGE_LEN
        }
    );
}

#[test]
fn ignored_parts_do_not_matter() {
    // Annotations and other artefacts are skipped in XML too.
    let annotated = edit(
        PYSDMX_XML,
        "<str:Codelist id=\"CL_SEX\"",
        "<str:CategorySchemes><str:CategoryScheme id=\"X\"><com:Name>n</com:Name></str:CategoryScheme></str:CategorySchemes>\
         <str:Codelist id=\"CL_SEX\"",
    );
    // (A collection inside Codelists is not a codelist; the message still reads the same.)
    assert_eq!(
        parse(&annotated).codelists.len(),
        parse(PYSDMX_XML).codelists.len()
    );
}

#[test]
fn consistency_with_held_structures() {
    let held = parse(PYSDMX_JSON);
    // The same definitions again, in another format and with other names: consistent.
    let renamed = PYSDMX_XML.replace(">Migrant stock<", ">Stock of migrants<");
    assert_eq!(check_consistency(&parse(&renamed), [&held]), Ok(()));
    // The same DSD id with other components.
    let changed = edit(
        PYSDMX_JSON,
        "\"usage\": \"mandatory\"",
        "\"usage\": \"optional\"",
    );
    assert_eq!(
        check_consistency(&parse(&changed), [&held])
            .unwrap_err()
            .to_string(),
        "data.dataStructures[0]: data structure BPX:DSD_MIG_STOCK(1.0) is already held with different components; give the changed definition a new version"
    );
    // A full codelist with other codes.
    let codes = edit(PYSDMX_JSON, "\"id\": \"LAO\"", "\"id\": \"VNM\"");
    let err = check_consistency(&parse(&codes), [&held]).unwrap_err();
    assert!(
        matches!(err, ConsistencyError::Codelist { ref id, .. } if id == "BPX:CL_AREA(1.0)"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "data.codelists[1]: codelist BPX:CL_AREA(1.0) contradicts the one already held: the new codelist lists code VNM, which the other lacks"
    );
}

#[test]
fn partial_codelists_are_compared_only_with_full_ones() {
    let full = parse(PYSDMX_JSON);
    let partial = |codes: &str| {
        let text = edit(
            PYSDMX_JSON,
            "\"id\": \"CL_AREA\",\n                \"name\": \"Reference area\",",
            &format!(
                "\"id\": \"CL_AREA\",\n                \"isPartial\": true,\n                \"name\": \"Reference area\",{codes}"
            ),
        );
        parse(&text)
    };
    // Partial THA, MMR, KHM, LAO (the same codes) is a subset of the full list.
    let subset = partial("");
    assert_eq!(check_consistency(&subset, [&full]), Ok(()));
    assert_eq!(check_consistency(&full, [&subset]), Ok(()));
    // A partial list with a code the full one lacks contradicts it, either way round.
    let text = edit(PYSDMX_JSON, "\"id\": \"LAO\"", "\"id\": \"VNM\"");
    let text = edit(
        &text,
        "\"id\": \"CL_AREA\",\n                \"name\": \"Reference area\",",
        "\"id\": \"CL_AREA\",\n                \"isPartial\": true,\n                \"name\": \"Reference area\",",
    );
    let foreign = parse(&text);
    assert!(check_consistency(&foreign, [&full]).is_err());
    assert!(check_consistency(&full, [&foreign]).is_err());
    // Two partial lists are not compared.
    assert_eq!(check_consistency(&foreign, [&subset]), Ok(()));
}

#[test]
fn a_dataflow_with_another_structure_is_refused() {
    let held = parse(PYSDMX_JSON);
    let second_dsd = PYSDMX_JSON
        .replace("\"id\": \"DSD_MIG_STOCK\"", "\"id\": \"DSD_MIG_STOCK_B\"")
        .replace(
            "DataStructure=BPX:DSD_MIG_STOCK(1.0)",
            "DataStructure=BPX:DSD_MIG_STOCK_B(1.0)",
        );
    let err = check_consistency(&parse(&second_dsd), [&held]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "data.dataflows[0]: dataflow BPX:DF_MIG_STOCK(1.0) is already held with structure BPX:DSD_MIG_STOCK(1.0), not BPX:DSD_MIG_STOCK_B(1.0); give the changed dataflow a new version"
    );
}

#[test]
fn structure_messages_are_recognised_by_their_content() {
    for text in [V1, PYSDMX_JSON, PYSDMX_XML] {
        assert!(looks_like_structure_message(text.as_bytes()));
    }
    for text in [
        "{\"data\": {\"dataSets\": []}}",
        "STRUCTURE,STRUCTURE_ID\ndataflow,A:B(1.0)\n",
        "<html><body>Structure</body></html>",
        "",
    ] {
        assert!(!looks_like_structure_message(text.as_bytes()), "{text}");
    }
}
