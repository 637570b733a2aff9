//! `datapact federation init|sign|adopt|status`: founding a federation through a charter file
//! that each founder signs in turn (docs/design.md section 9). `init` and `sign` work on the
//! file alone (`sign` reads this node's identity key from DIR and never needs the daemon);
//! `adopt` and `status` ask the daemon, which holds the adopted charter.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use datapact_node::api::{CharterAdopted, CharterStatus, FederationAdopt, FederationStatus};
use datapact_node::fsutil::{IfExists, Staged, write_atomic};
use datapact_protocol::charter::{Charter, CharterMember, MAX_CHARTER_LEN, SignedCharter};
use datapact_protocol::{MemberCode, PublicKey};
use serde_json::json;

use super::remote::{call, id_info};
use crate::failure::bad_input;
use crate::output;
use crate::settings::Settings;

/// Parses `CODE=PEER_ID[@MULTIADDR]`.
fn parse_founder(text: &str) -> anyhow::Result<CharterMember> {
    let shown: String = text.chars().take(200).collect();
    let (code, rest) = text.split_once('=').ok_or_else(|| {
        bad_input(format!(
            "invalid --founder {shown:?}: expected CODE=PEER_ID[@MULTIADDR]"
        ))
    })?;
    let (peer, addr) = match rest.split_once('@') {
        Some((peer, addr)) => (peer, Some(addr)),
        None => (rest, None),
    };
    let code = MemberCode::new(code)
        .map_err(|e| bad_input(format!("invalid --founder {shown:?}: {e}")))?;
    let public_key = PublicKey::from_peer_id_str(peer)
        .map_err(|e| bad_input(format!("invalid --founder {shown:?}: {e}")))?;
    let addrs = match addr {
        Some(addr) => {
            datapact_node::home::check_multiaddr(addr).map_err(|e| bad_input(e.to_string()))?;
            vec![addr.to_owned()]
        }
        None => Vec::new(),
    };
    Ok(CharterMember {
        code,
        public_key,
        addrs,
    })
}

/// `datapact federation init NAME --threshold K --founder CODE=PEER_ID[@MULTIADDR]... --out FILE`.
pub fn init(
    settings: &Settings,
    name: &str,
    threshold: u64,
    founders: &[String],
    out: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut members = founders
        .iter()
        .map(|f| parse_founder(f))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let me = id_info(settings)?;
    let my_key = PublicKey::from_peer_id(&me.peer_id)?;
    members.push(CharterMember {
        code: me.member.clone(),
        public_key: my_key,
        addrs: me.listen.clone(),
    });
    let charter = Charter::genesis(name, threshold, members, datapact_node::store::now())
        .map_err(|e| bad_input(e.to_string()))?;
    let unsigned = SignedCharter::unsigned(&charter).map_err(|e| bad_input(e.to_string()))?;
    let mut staged = Staged::new(out)?;
    std::io::Write::write_all(staged.file(), unsigned.bytes())?;
    staged.commit(IfExists::Keep).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            bad_input(format!("{} already exists; it is kept", out.display()))
        } else {
            anyhow::Error::new(e).context(format!("cannot write {}", out.display()))
        }
    })?;
    if json {
        output::json(&json!({
            "federation": charter.federation,
            "version": charter.version,
            "threshold": charter.threshold,
            "id": unsigned.id().to_string(),
            "out": out.display().to_string(),
        }))?;
    } else {
        output::lines(&format!(
            "wrote unsigned version 1 of {} ({} members, threshold {}) to {}\nevery founder signs it: datapact federation sign {}",
            charter.federation,
            charter.members.len(),
            charter.threshold,
            out.display(),
            out.display()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads and decodes a charter file; anything else is bad input with one line saying why.
fn read_charter(file: &Path) -> anyhow::Result<SignedCharter> {
    let shown = file.display();
    let opened =
        std::fs::File::open(file).map_err(|e| bad_input(format!("cannot read {shown}: {e}")))?;
    let mut bytes = Vec::new();
    opened
        .take(MAX_CHARTER_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad_input(format!("cannot read {shown}: {e}")))?;
    if bytes.len() > MAX_CHARTER_LEN {
        return Err(bad_input(format!(
            "{shown}: larger than {MAX_CHARTER_LEN} bytes, not a charter"
        )));
    }
    SignedCharter::decode(&bytes).map_err(|e| bad_input(format!("{shown}: {e}")))
}

/// `datapact federation sign FILE`: adds this node's signature and writes the file back
/// whole (temp file, fsync, rename), so a crash leaves the old file or the new one.
pub fn sign(settings: &Settings, file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let home = datapact_node::home::load(&settings.dir)?;
    let mut signed = read_charter(file)?;
    let key = home.identity.public_key();
    let charter = signed.charter();
    if charter.version == 1 && charter.member_by_key(&key).is_none() {
        return Err(bad_input(format!(
            "this node ({}) is not a founder listed in {}: its signature would not count",
            home.member,
            file.display()
        )));
    }
    let changed = signed.sign(&home.identity)?;
    if changed {
        write_atomic(file, signed.bytes()).map_err(|e| {
            anyhow::Error::new(e).context(format!("cannot write {}", file.display()))
        })?;
    }
    let signatures = signed.signers().count();
    if json {
        output::json(&json!({
            "id": signed.id().to_string(),
            "version": signed.charter().version,
            "signatures": signatures,
            "changed": changed,
        }))?;
    } else if changed {
        output::lines(&format!(
            "signed version {} of {} ({signatures} signatures)",
            signed.charter().version,
            signed.charter().federation
        ))?;
    } else {
        output::lines("already signed by this node; the file is unchanged")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `datapact federation adopt FILE`.
pub fn adopt(settings: &Settings, file: PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let path = std::path::absolute(&file)?;
    let adopted: CharterAdopted = call(
        settings,
        FederationAdopt {
            path: path.display().to_string(),
        },
    )?;
    if json {
        output::json(&adopted)?;
    } else if adopted.changed {
        output::lines(&format!(
            "adopted version {} of {}",
            adopted.version, adopted.federation
        ))?;
    } else {
        output::lines(&format!(
            "version {} of {} is adopted already",
            adopted.version, adopted.federation
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `datapact federation status`.
pub fn status(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let status: CharterStatus = call(settings, FederationStatus)?;
    if json {
        output::json(&status)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(federation), Some(version), Some(threshold)) =
        (&status.federation, status.version, status.threshold)
    else {
        output::lines("no federation charter adopted")?;
        return Ok(ExitCode::SUCCESS);
    };
    let mut text = format!(
        "federation  {federation}\nversion     {version}\nthreshold   {threshold} of {}\n",
        status.members.len()
    );
    if let Some(fork) = &status.fork {
        text.push_str(&format!(
            "FORK        version {}: {} (adopt one with `datapact federation adopt FILE`)\n",
            fork.version,
            fork.ids.join(" ")
        ));
    }
    output::lines(&text)?;
    let rows: Vec<Vec<String>> = status
        .members
        .iter()
        .map(|m| vec![m.code.to_string(), m.peer_id.to_string(), m.addrs.join(" ")])
        .collect();
    output::table(&["MEMBER", "PEER_ID", "ADDRESSES"], &rows, "")?;
    for p in &status.pending {
        output::lines(&format!(
            "pending     {} version {}: {} ({} signatures, {} more needed)",
            p.id, p.version, p.change, p.signatures, p.needed
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
