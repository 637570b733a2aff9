//! `datapact compare` (docs/design.md section 11) with the real binary over a federation of
//! three real daemons on 127.0.0.1: THA and MMR report the migrant stock of the same
//! migrations (mirror statistics), MMR with a confidential cell, THA with estimated values,
//! each with keys the other does not report; AUS reports against version 2.0.0 of the
//! structure and is left out. THA compares what it released and pulled: the table, the JSON,
//! the CSV and the SVG chart, which headless Chromium renders (skipped, with a message, where
//! no Chromium is installed).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use datapact_tests::cli::peers::{introduce, pull};
use datapact_tests::cli::{Cli, Node, assert_error, parse_json};
use datapact_tests::daemon::wait_deadline;
use serde_json::{Value, json};

/// The binary under test.
const DATAPACT: Cli = Cli::new(env!("CARGO_BIN_EXE_datapact"));
const FLOW: &str = "BPX:DF_MIG_STOCK(1.0.0)";
/// How long Chromium may take to render one screenshot.
const BROWSER_DEADLINE: Duration = Duration::from_secs(60);
/// The colours of the first two members in the chart's palette (cli/src/chart/mod.rs).
const FIRST_COLOURS: [[u8; 3]; 2] = [[31, 119, 180], [255, 127, 14]];

/// `release FILE --name NAME --title TITLE [EXTRA...] --json` that must succeed.
fn release(node: &Node, file: &Path, name: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "release",
        file.to_str().unwrap(),
        "--name",
        name,
        "--title",
        name,
        "--require-structure",
    ];
    args.extend_from_slice(extra);
    node.json(&args)
}

/// The sample structure as version 2.0.0 (every artefact), and data that follow it.
fn version_two(node: &Node) -> (PathBuf, PathBuf) {
    let text = fs::read_to_string(node.copy_sample("structure_mig_stock.json")).unwrap();
    let two = text
        .replace("\"1.0.0\"", "\"2.0.0\"")
        .replace("(1.0.0)", "(2.0.0)");
    let structure = node.path("structure_v2.json");
    fs::write(&structure, two).unwrap();
    let data = node.path("stock_v2.csv");
    fs::write(
        &data,
        "STRUCTURE,STRUCTURE_ID,ACTION,FREQ,REF_AREA,COUNTERPART_AREA,SEX,AGE,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE\n\
         dataflow,BPX:DF_MIG_STOCK(2.0.0),I,A,THA,MMR,_T,_T,2017,1800000,PS\n",
    )
    .unwrap();
    (structure, data)
}

/// THA (the structures, its stock), MMR (its mirror stock) and AUS (data of version 2.0.0),
/// each introduced to the others; THA holds everything.
fn federation() -> (Node, Node, Node) {
    let (mut tha, mut mmr, mut aus) = (
        Node::init(DATAPACT, "THA"),
        Node::init(DATAPACT, "MMR"),
        Node::init(DATAPACT, "AUS"),
    );
    for node in [&mut tha, &mut mmr, &mut aus] {
        node.start_daemon();
    }
    introduce(&tha, &mmr);
    introduce(&tha, &aus);
    introduce(&mmr, &aus);
    let (v2_structure, v2_data) = version_two(&tha);
    release(
        &tha,
        &tha.copy_sample("structure_mig_stock.json"),
        "stock-structure",
        &[],
    );
    release(&tha, &v2_structure, "stock-structure-v2", &[]);
    pull(&mmr, "THA/stock-structure@1", &[]);
    pull(&aus, "THA/stock-structure-v2@1", &[]);
    let stock = tha.copy_sample("migrant_stock_2015_2017.csv");
    release(
        &tha,
        &stock,
        "stock",
        &[
            "--source",
            "Thailand, Department of Employment",
            "--licence",
            "CC-BY-4.0",
        ],
    );
    // MMR's estimate of women from Myanmar in Malaysia in 2017 is confidential: published
    // empty with CONF_STATUS C, as `release --suppress-below` publishes it.
    let mirror = mmr.copy_sample("migrant_stock_mmr_2015_2017.csv");
    release(
        &mmr,
        &mirror,
        "emigrant-stock",
        &[
            "--source",
            "Myanmar, Ministry of Labour",
            "--unit",
            "persons",
        ],
    );
    let v2_data_at_aus = aus.path("stock_v2.csv");
    fs::copy(&v2_data, &v2_data_at_aus).unwrap();
    release(&aus, &v2_data_at_aus, "stock", &[]);
    pull(&tha, "MMR/emigrant-stock@1", &[]);
    pull(&tha, "AUS/stock@1", &[]);
    (tha, mmr, aus)
}

fn row<'a>(c: &'a Value, key: &[(&str, &str)]) -> &'a Value {
    c["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| key.iter().all(|(d, code)| r["key"][*d] == *code))
        .unwrap_or_else(|| panic!("no row {key:?} in {c}"))
}

#[test]
fn members_figures_line_up_in_a_table_json_csv_and_chart() {
    let (tha, _mmr, _aus) = federation();

    // JSON: one column per owner, the spread of every key both report.
    let c = tha.json(&["compare", FLOW]);
    assert_eq!(c["structure"], FLOW);
    assert_eq!(c["columns"], json!(["MMR", "THA"]));
    let both = row(
        &c,
        &[
            ("REF_AREA", "THA"),
            ("COUNTERPART_AREA", "MMR"),
            ("SEX", "_T"),
            ("TIME_PERIOD", "2017"),
        ],
    );
    assert_eq!(
        both["key"]["FREQ"], "A",
        "key holds every dimension: {both}"
    );
    assert_eq!(
        both["values"]["THA"],
        json!({"value": 1965000, "obs_status": "E", "confidential": false})
    );
    assert_eq!(
        both["values"]["MMR"],
        json!({"value": 1600000, "obs_status": "E", "confidential": false})
    );
    let spread = both["spread"].as_f64().unwrap();
    assert!((spread - 365_000.0 / 1_965_000.0).abs() < 1e-9, "{both}");
    // The confidential cell: no value, not in a spread; THA does not report that key.
    let secret = row(
        &c,
        &[
            ("REF_AREA", "MYS"),
            ("COUNTERPART_AREA", "MMR"),
            ("SEX", "F"),
        ],
    );
    assert_eq!(
        secret["values"]["MMR"],
        json!({"value": null, "obs_status": null, "confidential": true})
    );
    assert_eq!(secret["values"]["THA"]["value"], Value::Null);
    assert_eq!(secret["spread"], Value::Null);
    // A key only THA reports.
    let only_tha = row(
        &c,
        &[("REF_AREA", "KOR"), ("TIME_PERIOD", "2017"), ("SEX", "_T")],
    );
    assert_eq!(only_tha["values"]["MMR"]["value"], Value::Null);
    assert_eq!(only_tha["spread"], Value::Null);
    assert_eq!(
        c["left_out"],
        json!([{"dataset": "AUS/stock@1",
                "reason": "declares BPX:DF_MIG_STOCK(2.0.0), another version of the structure"}])
    );
    let methodology = c["methodology"].as_array().unwrap();
    assert_eq!(methodology.len(), 2);
    assert_eq!(methodology[0]["owner"], "MMR");
    assert_eq!(methodology[0]["unit"], "persons");
    assert_eq!(
        methodology[1]["source"],
        "Thailand, Department of Employment"
    );
    assert_eq!(methodology[1]["licence"], "CC-BY-4.0");
    assert_eq!(methodology[1]["structure"], FLOW);
    assert_eq!(methodology[1]["period"], "2015 to 2017");

    // The table, with code labels, flags, c and -, the spread, the closing line, the
    // methodology and what was left out; CSV and SVG written beside it.
    let csv = tha.path("stock.csv");
    let svg = tha.path("stock.svg");
    let table = tha.run_ok(&[
        "compare",
        FLOW,
        "--filter",
        "COUNTERPART_AREA=MMR",
        "--csv",
        csv.to_str().unwrap(),
        "--chart",
        svg.to_str().unwrap(),
    ]);
    for expected in [
        "International migrant stock by destination, origin and sex",
        "THA  Thailand",
        "MYS  Malaysia",
        "1,965,000 E",
        "1,600,000 E",
        "SPREAD",
        "18.6 %",
        "COUNTERPART_AREA: MMR  Myanmar",
        "6 keys reported by two or more members; largest disagreement: REF_AREA=THA SEX=F \
         TIME_PERIOD=2015 20.5 % (MMR 700,000, THA 880,000 E)",
        "Methodology",
        "Myanmar, Ministry of Labour",
        "Left out",
        "AUS/stock@1: declares BPX:DF_MIG_STOCK(2.0.0), another version of the structure",
        "chart written to",
    ] {
        assert!(
            table.contains(expected),
            "{expected:?} missing from:\n{table}"
        );
    }
    let confidential_line = table
        .lines()
        .find(|l| l.contains("MYS  Malaysia") && l.contains(" F "))
        .unwrap_or_else(|| panic!("no MYS F row:\n{table}"));
    assert!(
        confidential_line.contains(" c ") && confidential_line.contains(" - "),
        "{confidential_line}"
    );

    let csv_text = fs::read_to_string(&csv).unwrap();
    let mut lines = csv_text.lines();
    assert_eq!(
        lines.next(),
        Some("REF_AREA,SEX,TIME_PERIOD,FREQ,COUNTERPART_AREA,AGE,MMR,THA,SPREAD")
    );
    assert!(
        csv_text.contains("\nTHA,_T,2017,A,MMR,_T,1600000 E,1965000 E,0.1858\n"),
        "{csv_text}"
    );
    assert!(
        csv_text.contains("\nMYS,F,2017,A,MMR,_T,c,-,\n"),
        "{csv_text}"
    );

    let chart = fs::read_to_string(&svg).unwrap();
    assert!(
        chart.starts_with("<svg"),
        "{}",
        &chart[..80.min(chart.len())]
    );
    // Each text is a <text> element of its own: the title, the legend's member codes, the
    // unit on the axis, the confidential marker and the estimated flag.
    for text in [
        "International migrant stock by destination, origin and sex",
        "MMR",
        "THA",
        "PS (Persons) / persons",
        "c",
        "E",
    ] {
        assert!(
            chart.contains(&format!(">\n{text}\n</text>")),
            "{text:?} missing from the chart"
        );
    }
    browser_shows_the_chart(&svg);

    // Lines when the columns are time periods.
    let lines_svg = tha.path("lines.svg");
    let out = tha.run_ok(&[
        "compare",
        FLOW,
        "--filter",
        "SEX=_T",
        "--filter",
        "COUNTERPART_AREA=MMR",
        "--columns",
        "TIME_PERIOD",
        "--rows",
        "OWNER,REF_AREA",
        "--chart",
        lines_svg.to_str().unwrap(),
    ]);
    assert!(
        out.contains("spreads are shown when the columns are the owners"),
        "{out}"
    );
    let chart = fs::read_to_string(&lines_svg).unwrap();
    assert!(
        chart.contains("<polyline") && chart.contains(">\n2017\n</text>"),
        "no lines drawn"
    );

    bad_dimensions_and_codes_are_refused_and_nothing_held_fails(&tha);
}

/// Exit 2 and one line for a dimension or code the structure does not have; exit 1 when
/// nothing held follows the structure.
fn bad_dimensions_and_codes_are_refused_and_nothing_held_fails(tha: &Node) {
    for (args, message) in [
        (
            vec!["--filter", "NATIONALITY=MMR"],
            "unknown dimension \"NATIONALITY\"",
        ),
        (
            vec!["--filter", "REF_AREA=XXX"],
            "unknown code \"XXX\" for REF_AREA",
        ),
        (vec!["--columns", "AREA"], "unknown dimension \"AREA\""),
        (vec!["--rows", "SEXES"], "unknown dimension \"SEXES\""),
        (vec!["--filter", "REF_AREA"], "--filter \"REF_AREA\""),
    ] {
        let mut all = vec!["compare", FLOW];
        all.extend(args);
        let line = assert_error(&tha.run(&all), 2);
        assert!(line.starts_with(message), "{line}");
    }
    let line = assert_error(&tha.run(&["compare", "BPX:DF_MGI(1.0.0)"]), 1);
    assert_eq!(
        line,
        "this node holds no dataset with structure BPX:DF_MGI(1.0.0)"
    );
    let line = assert_error(&tha.run(&["compare", "not a structure"]), 2);
    assert!(line.contains("AGENCY:ID(VERSION)"), "{line}");
    let out = tha.run(&["compare", FLOW, "--json", "--filter", "OWNER=MMR"]);
    assert_eq!(parse_json(&out)["columns"], json!(["MMR"]));
}

/// Chromium, as Debian and others install it.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Renders `svg` in headless Chromium and checks the picture: mostly white, but with the
/// legend's and bars' colours of the first two members, and dark text.
fn browser_shows_the_chart(svg: &Path) {
    let Some(browser) = chromium() else {
        println!("skipped: no Chromium (chromium, chromium-browser or google-chrome) installed");
        return;
    };
    let dir = svg.parent().unwrap();
    let png = dir.join("chart.png");
    let mut child = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", dir.join("chromium-profile").display()),
            &format!("--screenshot={}", png.display()),
            "--window-size=1400,700",
        ])
        .arg(format!("file://{}", svg.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = wait_deadline(&mut child, BROWSER_DEADLINE);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("Chromium did not render the chart within {BROWSER_DEADLINE:?}");
    }
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    let count = |wanted: [u8; 3]| {
        pixels
            .iter()
            .filter(|p| p.iter().zip(wanted).all(|(a, b)| a.abs_diff(b) <= 8))
            .count()
    };
    let white = count([255, 255, 255]);
    assert!(white < pixels.len(), "the rendered chart is blank");
    for colour in FIRST_COLOURS {
        assert!(
            count(colour) > 200,
            "colour {colour:?} is not on the rendered chart"
        );
    }
    let dark = pixels.iter().filter(|p| p.iter().all(|&c| c < 90)).count();
    assert!(
        dark > 300,
        "no text or axes on the rendered chart ({dark} dark pixels)"
    );
}
