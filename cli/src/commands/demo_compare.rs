//! The demo's closing act: mirror statistics. Myanmar, the country of origin, releases its own
//! estimate of its emigrants abroad against the agreed structure; Thailand, the country of
//! destination, pulls it and compares it with its own count of the same migrants, as
//! `datapact compare` prints it, and writes the chart.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use datapact_node::api::{Catalog, Compare, Pull, ReleaseRequest};
use datapact_protocol::compare::Options;

use super::demo::{Member, say, wait_for};

/// Myanmar's sample: its estimate of the migrant stock from Myanmar in Thailand and Malaysia.
const MIRROR_STOCK: &[u8] = include_bytes!("../../samples/migrant_stock_mmr_2015_2017.csv");
/// The structure compared.
const FLOW: &str = "BPX:DF_MIG_STOCK(1.0.0)";
/// Where the chart goes: the current directory, so that it outlives the demo's own.
const CHART_FILE: &str = "datapact-demo-migrant-stock.svg";
/// Width the demo lays its table out for.
const TABLE_WIDTH: usize = 100;

/// Runs the act; returns where the chart was written.
pub(super) fn mirror_statistics(
    tha: &Member,
    mmr: &Member,
    data_dir: &Path,
) -> anyhow::Result<PathBuf> {
    say("\n10. Mirror statistics: MMR, the country of origin, releases its own estimate of the");
    say("    same migrant stock against the same structure; THA compares it with its count:");
    mmr.call(Pull {
        id: "THA/migrant-stock-structure@1".into(),
        out: None,
    })?;
    let path = data_dir.join("migrant_stock_mmr_2015_2017.csv");
    std::fs::write(&path, MIRROR_STOCK)?;
    let released = mmr.call(ReleaseRequest {
        path: path.display().to_string(),
        name: "emigrant-stock".into(),
        title: "Emigrants from Myanmar abroad 2015-2017".into(),
        policy: "members".parse()?,
        licence: Some("CC-BY-4.0".into()),
        source: Some("datapact sample data (Myanmar's estimate)".into()),
        require_structure: true,
        ..ReleaseRequest::default()
    })?;
    wait_for("THA to see MMR's release", || {
        tha.call(Catalog)
            .ok()
            .filter(|c| c.iter().any(|e| e.id == released.id))
    })?;
    wait_for("THA to pull MMR's release", || {
        tha.call(Pull {
            id: released.id.clone(),
            out: None,
        })
        .ok()
    })?;
    let comparison = tha.call(Compare {
        structure: FLOW.into(),
        options: Options {
            filters: vec!["COUNTERPART_AREA=MMR".parse()?],
            ..Options::default()
        },
    })?;
    say(&format!(
        "    $ datapact compare '{FLOW}' --filter COUNTERPART_AREA=MMR --chart {CHART_FILE}"
    ));
    for line in super::compare::table::render(&comparison, TABLE_WIDTH).lines() {
        say(&format!("    {line}"));
    }
    let svg = crate::chart::svg(&comparison).context("cannot draw the chart")?;
    let chart = std::env::current_dir()?.join(CHART_FILE);
    std::fs::write(&chart, svg).with_context(|| format!("cannot write {}", chart.display()))?;
    say(&format!(
        "    chart written to {} (open it in a browser)",
        chart.display()
    ));
    Ok(chart)
}
