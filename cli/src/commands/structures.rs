//! `datapact structures`: the SDMX structures the node holds, from its daemon.

use std::process::ExitCode;

use datapact_node::api::Structures;

use super::remote::call;
use crate::output;
use crate::settings::Settings;

/// `datapact structures [--json]`.
pub fn list(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let list = call(settings, Structures)?;
    if json {
        output::json(&list)?;
    } else {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|s| {
                vec![
                    s.id.clone(),
                    s.kind.to_string(),
                    s.dimensions.join(","),
                    if s.partial { "partial" } else { "" }.to_owned(),
                    s.dataset.clone(),
                    s.name.clone(),
                ]
            })
            .collect();
        output::table(
            &["ID", "KIND", "DIMENSIONS", "CODES", "DATASET", "NAME"],
            &rows,
            "no structures held here; release a structure message, or pull one",
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
