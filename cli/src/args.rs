//! The command line as clap sees it. `settings` turns it into plain values.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// datapact: a federated, policy-enforcing data exchange node.
///
/// Each member state runs one node. Release datasets with a policy, see what other members
/// announced, pull what their policies admit, and audit the signatures of what you hold.
#[derive(Debug, Parser)]
#[command(name = "datapact", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  datapact init --member THA\n  datapact daemon &\n  datapact release mgi_2016.csv --name mgi --title \"Migration Governance Index 2016\" --policy members\n  datapact datasets"
)]
pub struct Cli {
    /// Node directory [default: $DATAPACT_DIR, else the platform data directory]
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// Output format of `daemon` logs.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `--json` for commands that list or report.
#[derive(Debug, Args, Clone, Copy)]
pub struct JsonFlag {
    /// Print one JSON document on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a node directory: config, identity key (0600) and store
    #[command(after_help = "Example:\n  datapact init --member THA --listen /ip4/0.0.0.0/tcp/7470")]
    Init {
        /// This node's member code (ISO 3166-1 alpha-3, or an organisation code)
        #[arg(long, value_name = "CODE")]
        member: String,
        /// Multiaddr to listen on (repeatable) [default: /ip4/0.0.0.0/tcp/7470]
        #[arg(long, value_name = "MULTIADDR")]
        listen: Vec<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Run the node in the foreground until SIGINT or SIGTERM
    #[command(after_help = "Example:\n  RUST_LOG=debug datapact daemon --log-format json")]
    Daemon {
        /// Log format on stderr
        #[arg(long, value_enum, default_value = "text")]
        log_format: LogFormat,
    },
    /// Show this node's member code, PeerId, public key, whether its daemon runs, and its
    /// listen addresses (the bound ones while the daemon runs)
    #[command(
        after_help = "Examples:\n  datapact id --json\n  until datapact id --json | grep -q '\"running\": true'; do sleep 0.2; done   # wait for the daemon"
    )]
    Id {
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Manage the roster: the members this node trusts
    #[command(
        subcommand,
        after_help = "Example:\n  datapact members add MMR 12D3KooW... --addr /ip4/192.0.2.10/tcp/7470"
    )]
    Members(MembersCommand),
    /// The federation charter: the membership list that a quorum of members signs
    #[command(
        subcommand,
        after_help = "Example:\n  datapact federation init bali-process --threshold 2 --founder MMR=12D3KooW...@/ip4/192.0.2.10/tcp/7470 \\\n    --founder KHM=12D3KooW... --out charter.cose\n  datapact federation sign charter.cose   # each founder, in turn\n  datapact federation adopt charter.cose  # each founder's node"
    )]
    Federation(FederationCommand),
    /// Store, sign and announce a file as a dataset
    #[command(
        after_help = "Examples:\n  datapact release trafficking_victims_tha_2017.csv --name trafficking-victims \\\n    --title \"Identified victims of trafficking, Thailand 2017\" --policy only:MMR,KHM \\\n    --embargo-until 2027-01-01T00:00:00Z --purpose \"Victim return assistance\" --licence CC-BY-4.0\n  # version 2 to all members: refused unless --widen, since MMR and KHM alone had version 1\n  datapact release trafficking_victims_tha_2017_rev.csv --name trafficking-victims \\\n    --title \"Identified victims of trafficking, Thailand 2017 (revised)\" --policy members --widen\n  # small counts never leave this node: see what would be published, then release it\n  datapact release trafficking_victims_tha_2017.csv --name trafficking-victims --title \"Victims 2017\" \\\n    --policy only:MMR,KHM,LAO,VNM --suppress-below 5 --dry-run"
    )]
    Release(Box<ReleaseArgs>),
    /// List own and received datasets
    #[command(after_help = "Example:\n  datapact datasets --json")]
    Datasets {
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List the SDMX structures this node holds (its own structure releases and those it
    /// pulled)
    #[command(after_help = "Example:\n  datapact structures --json")]
    Structures {
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Line up one indicator across the federation: the datasets held here that follow a
    /// structure, one column per member, with the spread where members report the same key
    #[command(
        after_help = "Examples:\n  datapact compare 'BPX:DF_MIG_STOCK(1.0.0)' --filter COUNTERPART_AREA=MMR --filter SEX=_T\n  datapact compare 'BPX:DF_MIG_STOCK(1.0.0)' --columns TIME_PERIOD --rows OWNER,REF_AREA --chart stock.svg\n  datapact compare 'BPX:DF_MIG_STOCK(1.0.0)' --json --csv stock.csv"
    )]
    Compare(Box<crate::commands::compare::CompareArgs>),
    /// Check an SDMX-CSV file against a structure message, offline (no daemon): exit 0 valid,
    /// 1 invalid (with the report), 2 unreadable input
    #[command(
        after_help = "Example:\n  datapact validate trafficking_victims_tha_2017.csv --structure structure_tip_victims.json"
    )]
    Validate {
        /// The SDMX-CSV data file
        file: PathBuf,
        /// The SDMX structure message (SDMX-JSON or SDMX-ML 3.0) that defines the structure
        /// the data name
        #[arg(long, value_name = "STRUCTURE_FILE")]
        structure: PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List what peers announced that this node may see
    #[command(after_help = "Example:\n  datapact catalog")]
    Catalog {
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Fetch a dataset from its owner, verify and store it
    #[command(after_help = "Example:\n  datapact pull THA/mgi@1 --out mgi.csv")]
    Pull {
        /// Dataset id, OWNER/NAME@VERSION
        id: String,
        /// Also write the content to FILE
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Write a dataset's signed announcement and content to a directory
    #[command(
        after_help = "Examples:\n  datapact export THA/mgi@1 --out ./bundle && datapact verify ./bundle\n  datapact export THA/mgi@1 --out ./bundle --force   # replace an earlier export"
    )]
    Export {
        /// Dataset id, OWNER/NAME@VERSION
        id: String,
        /// Directory to write announcement.cose and the content file into
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Replace files that already exist in DIR (otherwise they are kept and export fails)
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Check an exported bundle offline: signature and digest
    #[command(after_help = "Example:\n  datapact verify ./bundle --signer 12D3KooW...")]
    Verify {
        /// Directory written by `datapact export`
        bundle: PathBuf,
        /// Require that the signer is this PeerId
        #[arg(long, value_name = "PEER_ID")]
        signer: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Withdraw one of this node's releases
    #[command(
        after_help = "Example:\n  datapact revoke THA/mgi@1 --reason \"superseded by corrected figures\""
    )]
    Revoke {
        /// Dataset id, OWNER/NAME@VERSION
        id: String,
        /// Why, shown to receivers
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Re-verify every stored dataset and the access log
    #[command(
        after_help = "Example:\n  datapact audit --json   # exit 0 when everything holds, 1 otherwise"
    )]
    Audit {
        /// Count revoked and expired datasets as failures
        #[arg(long)]
        strict: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Show the owner's access log
    #[command(after_help = "Example:\n  datapact log | grep denied")]
    Log {
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Show connected peers and their member codes
    #[command(after_help = "Example:\n  datapact peers --json")]
    Peers {
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Run a complete three-member federation on 127.0.0.1 in a temporary directory
    #[command(after_help = "Example:\n  datapact demo")]
    Demo,
    /// Print a shell completion script
    #[command(
        after_help = "Example:\n  datapact completions bash > /etc/bash_completion.d/datapact"
    )]
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// Add (or replace) a member: its code, PeerId and addresses
    #[command(
        after_help = "Example:\n  datapact members add MMR 12D3KooW... --addr /ip4/192.0.2.10/tcp/7470"
    )]
    Add {
        /// Member code
        code: String,
        /// The member's PeerId, as its `datapact id` prints it
        peer_id: String,
        /// Address to dial it at (repeatable)
        #[arg(long = "addr", value_name = "MULTIADDR")]
        addrs: Vec<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Remove a member
    #[command(after_help = "Example:\n  datapact members remove MMR")]
    Remove {
        /// Member code
        code: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List the roster
    #[command(after_help = "Example:\n  datapact members list --json")]
    List {
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum FederationCommand {
    /// Write an unsigned version 1 listing this node (with the addresses `id` reports) and the
    /// founders
    #[command(
        after_help = "Example:\n  datapact federation init bali-process --threshold 2 --founder MMR=12D3KooW...@/ip4/192.0.2.10/tcp/7470 --founder KHM=12D3KooW... --out charter.cose"
    )]
    Init {
        /// The federation's name
        name: String,
        /// How many members must sign each change: more than half, at most all
        #[arg(long, value_name = "K")]
        threshold: u64,
        /// A founding member other than this node (repeatable)
        #[arg(long = "founder", value_name = "CODE=PEER_ID[@MULTIADDR]")]
        founders: Vec<String>,
        /// Where to write the charter (an existing file is kept)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Add this node's signature to a charter file, in place (no daemon needed)
    #[command(after_help = "Example:\n  datapact federation sign charter.cose")]
    Sign {
        /// The charter file
        file: PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Check a charter file and adopt it: a version 1 signed by every founder, or one of the two
    /// versions of a fork; exit 1 if it is not valid, with the reason
    #[command(after_help = "Example:\n  datapact federation adopt charter.cose")]
    Adopt {
        /// The charter file
        file: PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Show the adopted charter, pending proposals and any fork
    #[command(after_help = "Example:\n  datapact federation status --json")]
    Status {
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Draft the next charter version with one change, sign it and keep it as pending; prints
    /// its id
    #[command(subcommand)]
    Propose(ProposeCommand),
    /// Add this node's signature to a pending proposal (adopted once it has enough)
    #[command(after_help = "Example:\n  datapact federation approve 3f2a...")]
    Approve {
        /// The proposal's id, as `federation status` lists it
        id: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Merge the signatures of a proposal file into the pending copy (adopted once it has
    /// enough); a file that is not the next version is adopted as `federation adopt` does
    #[command(after_help = "Example:\n  datapact federation import proposal.cose")]
    Import {
        /// The proposal file (from `federation export`)
        file: PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Write a pending proposal (or the version just adopted), with every signature it has, to a
    /// file
    #[command(after_help = "Example:\n  datapact federation export 3f2a... --out proposal.cose")]
    Export {
        /// The proposal's id
        id: String,
        /// Where to write it (replaced if it exists)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        json: JsonFlag,
    },
}

/// The one change a proposal makes.
#[derive(Debug, Subcommand)]
pub enum ProposeCommand {
    /// Admit a member (k rises if it would no longer be more than half)
    #[command(
        after_help = "Example:\n  datapact federation propose add IDN 12D3KooW... --addr /ip4/192.0.2.30/tcp/7470"
    )]
    Add {
        /// The new member's code
        code: String,
        /// Its node's PeerId (`datapact id` on its node)
        peer_id: String,
        /// Where its node listens (repeatable)
        #[arg(long = "addr", value_name = "MULTIADDR")]
        addrs: Vec<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Remove a member (k falls if it would exceed the members left)
    #[command(after_help = "Example:\n  datapact federation propose remove KHM")]
    Remove {
        /// The member's code
        code: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Set how many members must sign each change: more than half, at most all
    #[command(after_help = "Example:\n  datapact federation propose threshold 3")]
    Threshold {
        /// The new k
        k: u64,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Give a member a new key, retiring the old one (the new key's holder co-signs)
    #[command(
        after_help = "Example:\n  datapact federation propose rotate KHM 12D3KooW... --keep kept.txt"
    )]
    Rotate {
        /// The member's code
        code: String,
        /// The PeerId of its new key
        new_peer_id: String,
        /// Its new addresses (repeatable; none keeps the ones it has)
        #[arg(long = "addr", value_name = "MULTIADDR")]
        addrs: Vec<String>,
        /// File of sha256 hex digests of the old key's statements that still stand, one a line
        #[arg(long, value_name = "FILE")]
        keep: Option<PathBuf>,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The file to release
    pub file: PathBuf,
    /// Dataset name: 1 to 64 of a-z 0-9 -
    #[arg(long)]
    pub name: String,
    /// Human title
    #[arg(long)]
    pub title: String,
    /// public, members or only:CODE,CODE,...
    #[arg(long, default_value = "members")]
    pub policy: String,
    /// Release even if this version reaches members that earlier versions of the name did not
    /// (its version number tells them that those versions exist)
    #[arg(long)]
    pub widen: bool,
    /// Refuse SDMX-CSV data whose structure this node does not hold, instead of checking its
    /// syntax only (the config's require_structure = true does the same)
    #[arg(long)]
    pub require_structure: bool,
    /// Protect an SDMX-CSV table of counts: every count from 1 to N-1, and the cells that would
    /// give one away by subtraction, are published empty with CONF_STATUS C (N >= 2)
    #[arg(long, value_name = "N")]
    pub suppress_below: Option<u64>,
    /// With --suppress-below: print the protected table and what it suppresses; store nothing
    #[arg(long, requires = "suppress_below")]
    pub dry_run: bool,
    /// Nobody may pull before this time (RFC 3339)
    #[arg(long, value_name = "RFC3339")]
    pub embargo_until: Option<String>,
    /// The owner stops serving after this time (RFC 3339)
    #[arg(long, value_name = "RFC3339")]
    pub expires: Option<String>,
    /// Why the data are released; shown to receivers and logged
    #[arg(long)]
    pub purpose: Option<String>,
    /// SPDX licence id, e.g. CC-BY-4.0
    #[arg(long, value_name = "SPDX")]
    pub licence: Option<String>,
    /// Longer description
    #[arg(long)]
    pub description: Option<String>,
    /// What is measured
    #[arg(long)]
    pub indicator: Option<String>,
    /// Unit of measure
    #[arg(long)]
    pub unit: Option<String>,
    /// Reference period
    #[arg(long)]
    pub period: Option<String>,
    /// Who produced the data
    #[arg(long)]
    pub source: Option<String>,
    #[command(flatten)]
    pub json: JsonFlag,
}
