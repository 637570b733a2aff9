//! `datapact federation propose|approve|import|export`: changing the charter by a quorum
//! (docs/design.md section 9). The daemon drafts and signs with the node's key and keeps the
//! proposal as pending; signatures of other nodes arrive by `import` of a file that one of them
//! wrote with `export`, and the proposal is adopted the moment it has enough.

use std::path::Path;
use std::process::ExitCode;

use datapact_node::api::{
    FederationApprove, FederationExport, FederationImport, FederationPropose, ProposalState,
    ProposedChange,
};
use datapact_protocol::{MemberCode, PeerId, PublicKey};
use serde_json::json;

use super::remote::call;
use crate::args::ProposeCommand;
use crate::failure::bad_input;
use crate::output;
use crate::settings::Settings;

fn member_code(text: &str) -> anyhow::Result<MemberCode> {
    MemberCode::new(text).map_err(|e| bad_input(e.to_string()))
}

fn peer_id(text: &str) -> anyhow::Result<PeerId> {
    let shown: String = text.chars().take(100).collect();
    PublicKey::from_peer_id_str(text)
        .map(|key| key.peer_id())
        .map_err(|e| bad_input(format!("invalid PeerId {shown:?}: {e}")))
}

/// The request's change, and whether `--json` was given.
fn change_of(command: ProposeCommand) -> anyhow::Result<(ProposedChange, bool)> {
    Ok(match command {
        ProposeCommand::Add {
            code,
            peer_id: peer,
            addrs,
            json,
        } => (
            ProposedChange::Add {
                code: member_code(&code)?,
                peer_id: peer_id(&peer)?,
                addrs,
            },
            json.json,
        ),
        ProposeCommand::Remove { code, json } => (
            ProposedChange::Remove {
                code: member_code(&code)?,
            },
            json.json,
        ),
        ProposeCommand::Threshold { k, json } => {
            (ProposedChange::Threshold { threshold: k }, json.json)
        }
        ProposeCommand::Rotate {
            code,
            new_peer_id,
            addrs,
            keep,
            json,
        } => (
            ProposedChange::Rotate {
                code: member_code(&code)?,
                peer_id: peer_id(&new_peer_id)?,
                addrs,
                keep: keep
                    .map(|f| std::path::absolute(f).map(|p| p.display().to_string()))
                    .transpose()?,
            },
            json.json,
        ),
    })
}

/// `datapact federation propose ...`: the id alone on stdout, the rest on stderr.
pub fn propose(settings: &Settings, command: ProposeCommand) -> anyhow::Result<ExitCode> {
    let (change, json) = change_of(command)?;
    let made = call(settings, FederationPropose { change })?;
    if let Some(adjusted) = &made.adjusted {
        eprintln!("note: {adjusted}");
    }
    if json {
        output::json(&json!({
            "id": made.id,
            "version": made.version,
            "threshold": made.threshold,
        }))?;
    } else {
        output::lines(&made.id)?;
    }
    eprintln!("{}", standing(&made.state));
    Ok(ExitCode::SUCCESS)
}

/// One line on where a proposal stands.
fn standing(state: &ProposalState) -> String {
    if state.adopted {
        format!(
            "version {} adopted ({} signatures)",
            state.version, state.signatures
        )
    } else {
        format!(
            "proposal for version {}: {} signatures, {} more needed",
            state.version, state.signatures, state.needed
        )
    }
}

fn report(state: &ProposalState, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        output::json(state)?;
    } else {
        output::lines(&standing(state))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `datapact federation approve ID`.
pub fn approve(settings: &Settings, id: String, json: bool) -> anyhow::Result<ExitCode> {
    report(&call(settings, FederationApprove { id })?, json)
}

/// `datapact federation import FILE`.
pub fn import(settings: &Settings, file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let path = std::path::absolute(file)?.display().to_string();
    report(&call(settings, FederationImport { path })?, json)
}

/// `datapact federation export ID --out FILE`.
pub fn export(settings: &Settings, id: String, out: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let out = std::path::absolute(out)?.display().to_string();
    let state = call(
        settings,
        FederationExport {
            id,
            out: out.clone(),
        },
    )?;
    if json {
        output::json(&state)?;
    } else {
        output::lines(&format!("wrote {out}: {}", standing(&state)))?;
    }
    Ok(ExitCode::SUCCESS)
}
