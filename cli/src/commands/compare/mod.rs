//! `datapact compare STRUCTURE_ID`: one indicator across the federation, from the daemon
//! (docs/design.md section 11), printed as a table ([`table`]) or JSON, and written as CSV
//! ([`csv`]) and as an SVG chart ([`crate::chart`]) on request.

pub(crate) mod cells;
mod csv;
pub(crate) mod table;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use datapact_node::api::Compare;
use datapact_protocol::compare::{Filter, Options};

use super::remote::call;
use crate::args::JsonFlag;
use crate::failure::bad_input;
use crate::output;
use crate::settings::Settings;

/// Width the table is laid out for when stdout is not a terminal and `$COLUMNS` is not set.
const DEFAULT_WIDTH: usize = 120;
/// Narrowest width the table is laid out for.
const MIN_WIDTH: usize = 40;

/// `datapact compare`'s arguments.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The dataflow or data structure definition, AGENCY:ID(VERSION), e.g.
    /// BPX:DF_MIG_STOCK(1.0.0)
    pub structure: String,
    /// Keep only observations with one of these codes (repeatable); OWNER=CODE,... keeps
    /// those members' datasets
    #[arg(long = "filter", value_name = "DIM=CODE[,CODE]")]
    pub filters: Vec<String>,
    /// The dimensions that tell rows apart, in this order [default: every dimension that
    /// varies]
    #[arg(long, value_name = "DIM,...", value_delimiter = ',')]
    pub rows: Vec<String>,
    /// The dimension whose codes are the columns [default: OWNER, one column per member]
    #[arg(long, value_name = "DIM")]
    pub columns: Option<String>,
    /// Also write the table to FILE as CSV
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Also write a chart to FILE.svg: grouped bars per key (lines when the columns are time
    /// periods), one colour per member
    #[arg(long, value_name = "FILE.svg")]
    pub chart: Option<PathBuf>,
    #[command(flatten)]
    pub json: JsonFlag,
}

/// `datapact compare STRUCTURE_ID [--filter DIM=CODE[,CODE]]... [--rows DIM,...]
/// [--columns DIM] [--json] [--csv FILE] [--chart FILE.svg]`.
pub fn run(settings: &Settings, args: CompareArgs) -> anyhow::Result<ExitCode> {
    let filters = args
        .filters
        .iter()
        .map(|f| f.parse::<Filter>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_input(e.to_string()))?;
    let comparison = call(
        settings,
        Compare {
            structure: args.structure,
            options: Options {
                filters,
                rows: args.rows,
                columns: args.columns,
            },
        },
    )?;
    let mut written = Vec::new();
    if let Some(path) = &args.csv {
        write(path, csv::table(&comparison).as_bytes())?;
        written.push(format!("table written to {}", path.display()));
    }
    if let Some(path) = &args.chart {
        let svg = crate::chart::svg(&comparison).context("cannot draw the chart")?;
        write(path, svg.as_bytes())?;
        written.push(format!("chart written to {}", path.display()));
    }
    if args.json.json {
        output::json(&comparison)?;
    } else {
        let mut text = table::render(&comparison, terminal_width());
        for line in written {
            text.push_str(&format!("\n{line}"));
        }
        output::lines(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// The terminal's width, else `$COLUMNS`, else [`DEFAULT_WIDTH`].
fn terminal_width() -> usize {
    use std::io::IsTerminal;
    let stdout = std::io::stdout();
    if stdout.is_terminal()
        && let Ok(size) = rustix::termios::tcgetwinsize(&stdout)
        && size.ws_col > 0
    {
        return usize::from(size.ws_col).max(MIN_WIDTH);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .map_or(DEFAULT_WIDTH, |w| w.max(MIN_WIDTH))
}
