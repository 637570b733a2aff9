//! Commands that talk to the running daemon through the control socket.

use std::path::PathBuf;
use std::process::ExitCode;

use datapact_node::api::{
    Audit, Call, Catalog, Datasets, Export, Id, IdInfo, Log, MemberInfo, MembersAdd, MembersList,
    MembersRemove, Peers, Pull, ReleaseRequest, Revoke, RosterSource,
};
use datapact_node::control::{Client, ClientError};
use datapact_protocol::time::parse_rfc3339;
use datapact_protocol::{Audience, DatasetId, DatasetName, MemberCode, PublicKey};

use crate::args::ReleaseArgs;
use crate::failure::bad_input;
use crate::output;
use crate::settings::Settings;

pub(super) fn call<R: Call>(settings: &Settings, request: R) -> anyhow::Result<R::Response> {
    let mut client = Client::connect(&settings.dir)?;
    Ok(client.call(request)?)
}

fn absolute(path: PathBuf) -> anyhow::Result<PathBuf> {
    Ok(if path.is_absolute() {
        path
    } else {
        std::env::current_dir()?.join(path)
    })
}

fn parse_id(id: &str) -> anyhow::Result<DatasetId> {
    id.parse()
        .map_err(|e: datapact_protocol::IdError| bad_input(e.to_string()))
}

/// `datapact id`: from the daemon when it runs (`running`, and the addresses it actually
/// bound), else from DIR (the configured addresses).
pub fn id(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let info = id_info(settings)?;
    if json {
        output::json(&info)?;
    } else {
        let mut text = format!(
            "member      {}\npeer_id     {}\npublic_key  {}\ndaemon      {}\n",
            info.member,
            info.peer_id,
            info.public_key,
            if info.running {
                "running"
            } else {
                "not running (configured addresses)"
            }
        );
        for addr in &info.listen {
            text.push_str(&format!("listen      {addr}\n"));
        }
        output::lines(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What `id` shows: from the daemon when it runs, else from DIR.
pub(super) fn id_info(settings: &Settings) -> anyhow::Result<IdInfo> {
    Ok(match call(settings, Id) {
        Ok(info) => info,
        Err(e)
            if matches!(
                e.downcast_ref::<ClientError>(),
                Some(ClientError::NotRunning(_))
            ) =>
        {
            let home = datapact_node::home::load(&settings.dir)?;
            IdInfo {
                member: home.member.clone(),
                peer_id: home.identity.peer_id(),
                public_key: home.identity.public_key().to_string(),
                running: false,
                listen: home.listen,
            }
        }
        Err(e) => return Err(e),
    })
}

/// `charter` or `local`, as `members list` shows an entry's source.
fn source_text(source: RosterSource) -> &'static str {
    match source {
        RosterSource::Charter => "charter",
        RosterSource::Local => "local",
    }
}

fn print_members(members: &[MemberInfo]) -> anyhow::Result<()> {
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            vec![
                m.member.to_string(),
                m.peer_id.to_string(),
                source_text(m.source).to_owned(),
                m.addrs.join(" "),
            ]
        })
        .collect();
    output::table(
        &["MEMBER", "PEER_ID", "SOURCE", "ADDRESSES"],
        &rows,
        "no members in the roster",
    )
}

/// `datapact members add CODE PEER_ID [--addr MULTIADDR]...`.
pub fn members_add(
    settings: &Settings,
    code: String,
    peer_id: String,
    addrs: Vec<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let member = MemberCode::new(&code).map_err(|e| bad_input(e.to_string()))?;
    let key = PublicKey::from_peer_id_str(&peer_id).map_err(|e| bad_input(e.to_string()))?;
    for addr in &addrs {
        datapact_node::home::check_multiaddr(addr).map_err(|e| bad_input(e.to_string()))?;
    }
    let added = call(
        settings,
        MembersAdd {
            member,
            peer_id: key.peer_id(),
            addrs,
        },
    )?;
    if json {
        output::json(&added)?;
    } else {
        output::lines(&format!("added {} ({})", added.member, added.peer_id))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `datapact members remove CODE`.
pub fn members_remove(settings: &Settings, code: String, json: bool) -> anyhow::Result<ExitCode> {
    let member = MemberCode::new(&code).map_err(|e| bad_input(e.to_string()))?;
    let removed = call(settings, MembersRemove { member })?;
    if json {
        output::json(&removed)?;
    } else {
        output::lines(&format!("removed {}", removed.member))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `datapact members list`.
pub fn members_list(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let members = call(settings, MembersList)?;
    if json {
        output::json(&members)?;
    } else {
        print_members(&members)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `datapact release FILE --name NAME --title TEXT [...]`.
pub fn release(settings: &Settings, args: ReleaseArgs) -> anyhow::Result<ExitCode> {
    DatasetName::new(&args.name).map_err(|e| bad_input(e.to_string()))?;
    let policy = args
        .policy
        .parse::<Audience>()
        .map_err(|e| bad_input(e.to_string()))?;
    let time = |t: &Option<String>| -> anyhow::Result<Option<u64>> {
        t.as_deref()
            .map(parse_rfc3339)
            .transpose()
            .map_err(|e| bad_input(e.to_string()))
    };
    let embargo_until = time(&args.embargo_until)?;
    let expires_at = time(&args.expires)?;
    let path = absolute(args.file.clone())?;
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => {
            return Err(bad_input(format!(
                "{}: not a regular file",
                args.file.display()
            )));
        }
        Err(e) => {
            return Err(bad_input(format!(
                "cannot read {}: {e}",
                args.file.display()
            )));
        }
    }
    let request = ReleaseRequest {
        path: path.display().to_string(),
        name: args.name,
        title: args.title,
        policy,
        embargo_until,
        expires_at,
        purpose: args.purpose,
        licence: args.licence,
        description: args.description,
        indicator: args.indicator,
        unit: args.unit,
        period: args.period,
        source: args.source,
        widen: args.widen,
        require_structure: args.require_structure,
        suppress_below: args.suppress_below,
    };
    super::protection::check_threshold(args.suppress_below)?;
    if args.dry_run {
        return super::protection::dry_run(settings, request, args.json.json);
    }
    let info = call(settings, request)?;
    if let Some(note) = &info.note {
        eprintln!("note: {note}");
    }
    if args.json.json {
        output::json(&info)?;
    } else {
        output::lines(&info.id)?;
        if let Some(report) = &info.protection {
            output::lines(&super::protection::summary(report))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `datapact datasets`.
pub fn datasets(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let list = call(settings, Datasets)?;
    if json {
        output::json(&list)?;
    } else {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|d| {
                vec![
                    d.id.clone(),
                    d.status.to_string(),
                    d.policy.to_string(),
                    output::bytes(d.size),
                    d.sha256.chars().take(12).collect(),
                    d.title.clone(),
                ]
            })
            .collect();
        output::table(
            &["ID", "STATUS", "POLICY", "SIZE", "SHA256", "TITLE"],
            &rows,
            "no datasets",
        )?;
        let protected = list.iter().map(|d| (d.id.as_str(), d.disclosure.as_ref()));
        super::protection::print_listing_notes(protected)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `datapact catalog`.
pub fn catalog(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let list = call(settings, Catalog)?;
    if json {
        output::json(&list)?;
    } else {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|c| {
                vec![
                    c.id.clone(),
                    c.policy.to_string(),
                    if c.pullable {
                        "yes".to_owned()
                    } else {
                        c.reason.clone().unwrap_or_else(|| "no".to_owned())
                    },
                    if c.pulled { "yes" } else { "no" }.to_owned(),
                    c.title.clone(),
                ]
            })
            .collect();
        output::table(
            &["ID", "POLICY", "PULLABLE", "PULLED", "TITLE"],
            &rows,
            "the catalogue is empty",
        )?;
        let protected = list.iter().map(|c| (c.id.as_str(), c.disclosure.as_ref()));
        super::protection::print_listing_notes(protected)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `datapact pull ID [--out FILE]`.
pub fn pull(
    settings: &Settings,
    id: String,
    out: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    parse_id(&id)?;
    let out = out.map(absolute).transpose()?;
    let request = Pull {
        id,
        out: out.map(|p| p.display().to_string()),
    };
    let mut client = Client::connect(&settings.dir)?;
    let bar = crate::output::progress_bar();
    let result = client.call_with_progress(request, |done, total| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let result = result?;
    if let Some(note) = &result.note {
        eprintln!("note: {note}");
    }
    if json {
        output::json(&result)?;
    } else {
        output::lines(&format!(
            "pulled {} ({}, sha256 {})",
            result.id,
            output::bytes(result.size),
            result.sha256
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `datapact export ID --out DIR [--force]`.
pub fn export(
    settings: &Settings,
    id: String,
    out: PathBuf,
    force: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    parse_id(&id)?;
    let out = absolute(out)?;
    let result = call(
        settings,
        Export {
            id,
            out: out.display().to_string(),
            force,
        },
    )?;
    if json {
        output::json(&result)?;
    } else {
        output::lines(&format!("{}\n{}", result.announcement, result.content))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `datapact revoke ID [--reason TEXT]`.
pub fn revoke(
    settings: &Settings,
    id: String,
    reason: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    parse_id(&id)?;
    let info = call(settings, Revoke { id, reason })?;
    if json {
        output::json(&info)?;
    } else {
        output::lines(&format!("revoked {}", info.id))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `datapact audit [--strict]`.
pub fn audit(settings: &Settings, strict: bool, json: bool) -> anyhow::Result<ExitCode> {
    let report = call(settings, Audit { strict })?;
    if json {
        output::json(&report)?;
    } else {
        let mut text = String::new();
        for f in &report.failures {
            text.push_str(&format!("FAIL  {}: {}\n", f.id, f.problem));
        }
        for n in &report.notes {
            text.push_str(&format!("note  {}: {}\n", n.id, n.problem));
        }
        text.push_str(&if report.ok {
            format!(
                "ok: {} datasets and the access log verified",
                report.checked
            )
        } else {
            format!(
                "{} problem(s) in {} datasets checked",
                report.failures.len(),
                report.checked
            )
        });
        output::lines(&text)?;
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `datapact log`.
pub fn log(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let lines = call(settings, Log)?;
    if json {
        output::json(&lines)?;
    } else {
        let rows: Vec<Vec<String>> = lines
            .iter()
            .map(|l| {
                vec![
                    l.seq.to_string(),
                    l.time.clone(),
                    l.event.to_string(),
                    l.member.as_ref().map_or("-".into(), ToString::to_string),
                    l.dataset.clone().unwrap_or_else(|| "-".into()),
                    match l.count {
                        Some(n) => format!("{} x{n}", l.outcome),
                        None => l.outcome.to_string(),
                    },
                    l.reason.clone().unwrap_or_default(),
                    if l.intact { "" } else { "TAMPERED" }.to_owned(),
                ]
            })
            .collect();
        output::table(
            &[
                "SEQ", "TIME", "EVENT", "MEMBER", "DATASET", "OUTCOME", "REASON", "",
            ],
            &rows,
            "the access log is empty",
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `datapact peers`.
pub fn peers(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let peers = call(settings, Peers)?;
    if json {
        output::json(&peers)?;
    } else {
        let rows: Vec<Vec<String>> = peers
            .iter()
            .map(|p| {
                vec![
                    p.member
                        .as_ref()
                        .map_or("(not in roster)".into(), ToString::to_string),
                    p.peer_id.to_string(),
                    p.addrs.join(" "),
                ]
            })
            .collect();
        output::table(
            &["MEMBER", "PEER_ID", "ADDRESSES"],
            &rows,
            "no connected peers",
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
