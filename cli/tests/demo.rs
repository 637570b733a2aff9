//! `datapact demo` is the README's first command: it must run start to finish, tell the story
//! (agreed structures first, data checked against them, a refused draft with its line-numbered
//! errors, the trafficking table protected at release and its confidential cells at the
//! receiver), and leave nothing behind.

use std::process::Command;

#[test]
fn demo_runs_a_federation_and_cleans_up() {
    let tmp = tempfile::tempdir().expect("temp dir");
    // The demo writes its comparison chart into the current directory: this test's own.
    let cwd = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_datapact"))
        .arg("demo")
        .current_dir(cwd.path())
        // The demo's workspace goes under TMPDIR: keep it inside this test's own directory.
        .env("TMPDIR", tmp.path())
        .output()
        .expect("run datapact demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "THA/trafficking-victims@1",
        "defines BPX:DSD_TIP_VICTIMS(1.0.0), BPX:DF_TIP_VICTIMS(1.0.0)",
        "checked against BPX:DF_TIP_VICTIMS(1.0.0)",
        "line 3, column SEX: code \"T\" is not in codelist BPX:CL_SEX(1.0.0) (expected one of F, M, _T)",
        "line 5, column TIME_PERIOD: time period \"2017-Q5\" is not valid",
        "protected: counts below 5 suppressed (7 small counts,",
        "protected at release: counts below 5,",
        "C = confidential: suppressed at release",
        "validated against its structure",
        "refused: denied: embargoed until",
        "(the same answer as for a dataset that does not exist)",
        "is now revoked",
        "denied (denied: not in audience)",
        "signed receipt",
        "THA: ok",
        "MMR: ok",
        "AUS: ok",
        "all audits clean",
        "Mirror statistics",
        "largest disagreement: REF_AREA=THA SEX=F TIME_PERIOD=2015 20.5 %",
        "chart written to",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    let chart = std::fs::read_to_string(cwd.path().join("datapact-demo-migrant-stock.svg"))
        .expect("the demo's chart");
    assert!(chart.starts_with("<svg"), "not an SVG document");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("read temp dir")
        .collect();
    assert!(left.is_empty(), "the demo left {left:?} behind");
}
