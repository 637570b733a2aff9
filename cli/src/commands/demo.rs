//! `datapact demo`: a complete three-member federation on 127.0.0.1 in a temporary directory.
//! Three real daemons (this binary, `datapact daemon`) on real libp2p; the CLI's own control
//! client drives them, so the demo exercises exactly what an operator uses.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use datapact_node::api::{
    Audit, Call, Catalog, DatasetStatus, Datasets, ErrorKind, Id, IdInfo, Log, LogEvent,
    MembersAdd, Outcome, Peers, ProtectionReport, Pull, ReleaseRequest, Revoke, StructureCheck,
};
use datapact_node::control::{Client, ClientError};
use datapact_protocol::MemberCode;

/// The sample datasets, embedded so the demo needs nothing but the binary.
const MIGRANT_STOCK: &[u8] = include_bytes!("../../samples/migrant_stock_2015_2017.csv");
const MGI: &[u8] = include_bytes!("../../samples/mgi_2016.csv");
const TRAFFICKING: &[u8] = include_bytes!("../../samples/trafficking_victims_tha_2017.csv");
/// The structure messages the samples follow (SDMX-JSON 2.0).
const STOCK_STRUCTURE: &[u8] = include_bytes!("../../samples/structure_mig_stock.json");
const MGI_STRUCTURE: &[u8] = include_bytes!("../../samples/structure_mgi.json");
const TIP_STRUCTURE: &[u8] = include_bytes!("../../samples/structure_tip_victims.json");

/// How long any one step may take before the demo gives up.
const STEP_DEADLINE: Duration = Duration::from_secs(30);
/// How far in the future the trafficking release's embargo ends.
const EMBARGO: Duration = Duration::from_secs(4);

/// One member's node: its directory and its daemon process (stopped on drop).
pub(super) struct Member {
    pub(super) code: &'static str,
    dir: PathBuf,
    daemon: Option<Child>,
}

impl Member {
    pub(super) fn call<R: Call>(&self, request: R) -> Result<R::Response, ClientError> {
        Client::connect(&self.dir)?.call(request)
    }

    fn id(&self) -> anyhow::Result<IdInfo> {
        Ok(self.call(Id)?)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `check` every 100 ms until it yields a value or `STEP_DEADLINE` passes.
pub(super) fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> anyhow::Result<T> {
    let deadline = Instant::now() + STEP_DEADLINE;
    loop {
        if let Some(v) = check() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(super) fn say(text: &str) {
    println!("{text}");
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The threshold the trafficking table is protected with: counts of 1 to 4 victims are not
/// released, nor anything that would give them away.
const TIP_SUPPRESS_BELOW: u64 = 5;

/// Prints what protecting the trafficking table cost THA (only THA knows which cells were
/// small counts).
fn say_protection(report: &ProtectionReport) {
    say(&format!(
        "   {:<30} protected: counts below {} suppressed ({} small counts, {} more so that no",
        "", report.threshold, report.primary, report.secondary
    ));
    say(&format!(
        "   {:<30} total gives one away): {} cells published empty, total value {}",
        "", report.suppressed_cells, report.suppressed_value
    ));
}

/// Prints the protected table as the receiver holds it: suppressed cells read confidential.
fn say_receiver_view(copy: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(copy)?;
    let grid = super::protection::grid(&text, "CITIZENSHIP", "EXPLOITATION")?;
    say("   MMR's copy, victims by citizenship and form of exploitation:");
    for line in grid.lines() {
        say(&format!("     {line}"));
    }
    say(&format!("     {}", super::protection::LEGEND));
    Ok(())
}

/// Runs the demo.
pub fn run() -> anyhow::Result<ExitCode> {
    let workspace = tempfile_dir()?;
    let result = story(&workspace);
    let _ = std::fs::remove_dir_all(&workspace);
    result
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let base = std::env::temp_dir();
    for attempt in 0..100u32 {
        let dir = base.join(format!("datapact-demo-{}-{attempt}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).context("cannot create the demo directory"),
        }
    }
    bail!("cannot create a demo directory in {}", base.display())
}

fn start_member(exe: &Path, workspace: &Path, code: &'static str) -> anyhow::Result<Member> {
    let dir = workspace.join(code);
    let status = Command::new(exe)
        .args(["--dir"])
        .arg(&dir)
        .args([
            "init",
            "--member",
            code,
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--json",
        ])
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("datapact init for {code} failed");
    }
    let log = std::fs::File::create(workspace.join(format!("{code}.log")))?;
    let child = Command::new(exe)
        .arg("--dir")
        .arg(&dir)
        .arg("daemon")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("cannot start a daemon")?;
    let member = Member {
        code,
        dir,
        daemon: Some(child),
    };
    wait_for(&format!("{code}'s daemon to listen"), || {
        member.id().ok().filter(|i| !i.listen.is_empty())
    })?;
    Ok(member)
}

fn story(workspace: &Path) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the datapact binary")?;
    let started = Instant::now();
    say("datapact demo: a federation of three members on 127.0.0.1");
    say(&format!(
        "(temporary directory {}, removed at the end)\n",
        workspace.display()
    ));

    say("1. Thailand, Myanmar and Australia each initialise a node and start its daemon.");
    let mut members = Vec::new();
    for code in ["THA", "MMR", "AUS"] {
        let m = start_member(&exe, workspace, code)?;
        let id = m.id()?;
        say(&format!(
            "   {code}  {}  {}",
            id.peer_id,
            id.listen.first().map(String::as_str).unwrap_or("")
        ));
        members.push(m);
    }
    let [tha, mmr, aus] = &mut members[..] else {
        bail!("three members expected");
    };

    say("\n2. They exchange PeerIds out of band and add each other to their rosters.");
    for a in [&*tha, &*mmr, &*aus] {
        for b in [&*tha, &*mmr, &*aus] {
            if a.code == b.code {
                continue;
            }
            let id = b.id()?;
            a.call(MembersAdd {
                member: MemberCode::new(b.code)?,
                peer_id: id.peer_id,
                addrs: id.listen,
            })?;
        }
    }
    for m in [&*tha, &*mmr, &*aus] {
        wait_for(&format!("{} to connect to both others", m.code), || {
            m.call(Peers)
                .ok()
                .filter(|p| p.iter().filter(|p| p.member.is_some()).count() >= 2)
        })?;
    }
    say("   every node is connected to the other two (TCP + Noise + Yamux)");

    say("\n3. THA proposes the structures the members agree on: SDMX structure messages (data");
    say("   structure definitions, codelists, concepts, dataflows), released like any dataset.");
    let data_dir = workspace.join("data");
    std::fs::create_dir_all(&data_dir)?;
    for (file, bytes, name, title) in [
        (
            "structure_mig_stock.json",
            STOCK_STRUCTURE,
            "migrant-stock-structure",
            "Structure: international migrant stock",
        ),
        (
            "structure_mgi.json",
            MGI_STRUCTURE,
            "mgi-structure",
            "Structure: Migration Governance Index",
        ),
        (
            "structure_tip_victims.json",
            TIP_STRUCTURE,
            "trafficking-structure",
            "Structure: identified victims of trafficking",
        ),
    ] {
        let path = data_dir.join(file);
        std::fs::write(&path, bytes)?;
        let info = tha.call(ReleaseRequest {
            path: path.display().to_string(),
            name: name.into(),
            title: title.into(),
            policy: "members".parse()?,
            ..ReleaseRequest::default()
        })?;
        say(&format!(
            "   {:<30} defines {}",
            info.id,
            info.structures.join(", ")
        ));
    }

    say("\n4. THA releases three datasets, each checked row by row against its structure, each");
    say("   with its own policy:");
    let embargo_until = unix_now() + EMBARGO.as_secs();
    let releases = [
        (
            "migrant_stock_2015_2017.csv",
            MIGRANT_STOCK,
            "migrant-stock",
            "International migrant stock 2015-2017",
            "public",
            None,
            None,
            None,
        ),
        (
            "mgi_2016.csv",
            MGI,
            "mgi-2016",
            "Migration Governance Index 2016",
            "members",
            None,
            None,
            None,
        ),
        (
            "trafficking_victims_tha_2017.csv",
            TRAFFICKING,
            "trafficking-victims",
            "Identified victims of trafficking, Thailand 2017",
            "only:MMR",
            Some("Victim identification and return assistance"),
            Some(embargo_until),
            Some(TIP_SUPPRESS_BELOW),
        ),
    ];
    let mut ids = Vec::new();
    for (file, bytes, name, title, policy, purpose, embargo, suppress_below) in releases {
        let path = data_dir.join(file);
        std::fs::write(&path, bytes)?;
        let info = tha.call(ReleaseRequest {
            path: path.display().to_string(),
            name: name.into(),
            title: title.into(),
            policy: policy.parse()?,
            embargo_until: embargo,
            purpose: purpose.map(str::to_owned),
            licence: Some("CC-BY-4.0".into()),
            source: Some("datapact sample data".into()),
            require_structure: true,
            suppress_below,
            ..ReleaseRequest::default()
        })?;
        let mut line = format!("   {:<30} {:<9}", info.id, info.policy.to_string());
        if let Some(s) = &info.structure {
            line.push_str(&format!(" checked against {}", s.id));
        }
        say(&line);
        let mut details = Vec::new();
        if let Some(e) = &info.embargo_until {
            details.push(format!("embargoed until {e}"));
        }
        if let Some(p) = &info.purpose {
            details.push(format!("purpose: {p}"));
        }
        if !details.is_empty() {
            say(&format!("   {:<30} {}", "", details.join(", ")));
        }
        if let Some(report) = &info.protection {
            say_protection(report);
        }
        ids.push(info.id);
    }
    let (stock, mgi, tip) = (ids[0].clone(), ids[1].clone(), ids[2].clone());
    let typo = String::from_utf8_lossy(TRAFFICKING)
        .replacen(",MMR,SEXUAL,_T,2017,", ",MMR,SEXUAL,T,2017,", 1)
        .replacen(",OTHER,_T,2017,2,", ",OTHER,_T,2017-Q5,2,", 1);
    let typo_path = data_dir.join("trafficking_victims_tha_2017_draft.csv");
    std::fs::write(&typo_path, typo)?;
    match tha.call(ReleaseRequest {
        path: typo_path.display().to_string(),
        name: "trafficking-victims-draft".into(),
        title: "Identified victims of trafficking, Thailand 2017 (draft)".into(),
        policy: "only:MMR".parse()?,
        ..ReleaseRequest::default()
    }) {
        Err(ClientError::Remote { message, .. }) => {
            // The message names the file, then lists the errors from the first line number.
            let errors = message
                .find("line ")
                .map_or(message.as_str(), |i| &message[i..]);
            say("   A draft with two typing errors is refused, and nothing is stored:");
            for error in errors.split("; ") {
                say(&format!("     {error}"));
            }
        }
        Ok(_) => bail!("the draft with errors was released"),
        Err(e) => return Err(e.into()),
    }

    say("\n5. Each member's catalogue shows what THA announced to it:");
    let mmr_catalog = wait_for("MMR's catalogue", || {
        mmr.call(Catalog).ok().filter(|c| c.len() == 6)
    })?;
    let aus_catalog = wait_for("AUS's catalogue", || {
        aus.call(Catalog).ok().filter(|c| c.len() == 5)
    })?;
    for (code, catalog) in [("MMR", &mmr_catalog), ("AUS", &aus_catalog)] {
        say(&format!("   {code}:"));
        for c in catalog {
            let state = if c.pullable {
                "pullable".to_owned()
            } else {
                c.reason.clone().unwrap_or_default()
            };
            say(&format!(
                "     {:<30} {:<9} {state}",
                c.id,
                c.policy.to_string()
            ));
            if let Some(d) = &c.disclosure {
                say(&format!(
                    "     {:<30} protected at release: counts below {}, {} cells confidential",
                    "", d.threshold, d.suppressed
                ));
            }
        }
    }
    say("   AUS never learns that the only:MMR release exists.");

    say("\n6. Pulls are decided by the owner, THA, on every request; a receiver that holds the");
    say("   structure checks the data against it again:");
    let stock_structure = "THA/migrant-stock-structure@1".to_owned();
    for (who, id) in [
        (&*aus, &stock_structure),
        (&*aus, &stock),
        (&*aus, &mgi),
        (&*mmr, &stock),
    ] {
        let r = who.call(Pull {
            id: id.clone(),
            out: None,
        })?;
        let structure = match r.structure_check {
            Some(StructureCheck::Held) => ", structure now held",
            Some(StructureCheck::Validated) => ", validated against its structure",
            Some(StructureCheck::NotHeld | StructureCheck::Conflict) => ", structure not held",
            None => "",
        };
        say(&format!(
            "   {} pulls {:<30} granted, {} bytes, sha256 verified{structure}",
            who.code, r.id, r.size
        ));
    }
    match mmr.call(Pull {
        id: tip.clone(),
        out: None,
    }) {
        Err(ClientError::Remote { message, .. }) => {
            say(&format!("   MMR pulls {tip:<30} refused: {message}"))
        }
        Ok(_) => bail!("the embargoed pull was granted"),
        Err(e) => return Err(e.into()),
    }
    match aus.call(Pull {
        id: tip.clone(),
        out: None,
    }) {
        Err(ClientError::Remote {
            message,
            kind: ErrorKind::Failed,
        }) => say(&format!(
            "   AUS pulls {tip:<30} refused: {message} (the same answer as for a dataset that does not exist)"
        )),
        Ok(_) => bail!("AUS pulled a release meant for MMR only"),
        Err(e) => return Err(e.into()),
    }
    say("   ... waiting for the embargo to lift ...");
    let tip_copy = workspace.join("MMR-received-trafficking-victims.csv");
    let r = wait_for("the embargo to lift", || {
        if unix_now() < embargo_until {
            return None;
        }
        mmr.call(Pull {
            id: tip.clone(),
            out: Some(tip_copy.display().to_string()),
        })
        .ok()
    })?;
    say(&format!(
        "   MMR pulls {:<30} granted, {} bytes, sha256 verified",
        r.id, r.size
    ));
    say_receiver_view(&tip_copy)?;

    say("\n7. THA revokes the MGI release; the revocation reaches the members that hold it:");
    tha.call(Revoke {
        id: mgi.clone(),
        reason: Some("superseded by corrected figures".into()),
    })?;
    let revoked = wait_for("AUS to see the revocation", || {
        aus.call(Datasets).ok().and_then(|d| {
            d.into_iter()
                .find(|d| d.id == mgi && d.status == DatasetStatus::Revoked)
        })
    })?;
    say(&format!("   AUS: {} is now {}", revoked.id, revoked.status));

    say("\n8. THA's access log records every decision, granted or denied:");
    let log = tha.call(Log)?;
    let granted = log.iter().filter(|l| l.outcome == Outcome::Granted).count();
    let denied = log.iter().filter(|l| l.outcome == Outcome::Denied).count();
    for l in log.iter().filter(|l| l.event == LogEvent::Pull) {
        let receipt = match l.receipt {
            Some(true) => ", signed receipt",
            Some(false) => ", receipt pending",
            None => "",
        };
        say(&format!(
            "   {} {:<4} {:<30} {}{}{}",
            l.time,
            l.member
                .as_ref()
                .map_or("-".to_owned(), ToString::to_string),
            l.dataset.as_deref().unwrap_or("-"),
            l.outcome,
            l.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            receipt
        ));
    }

    say("\n9. Every member audits what it holds: signatures, digests, revocations, access log.");
    let mut all_ok = true;
    for m in [&*tha, &*mmr, &*aus] {
        let report = m.call(Audit { strict: false })?;
        all_ok &= report.ok;
        say(&format!(
            "   {}: {} ({} datasets checked{})",
            m.code,
            if report.ok { "ok" } else { "FAILED" },
            report.checked,
            if report.notes.is_empty() {
                String::new()
            } else {
                format!(", {} revoked or expired", report.notes.len())
            }
        ));
        for f in &report.failures {
            say(&format!("     {}: {}", f.id, f.problem));
        }
    }

    super::demo_compare::mirror_statistics(tha, mmr, &data_dir)?;

    for m in members.iter_mut() {
        m.stop();
    }
    say(&format!(
        "\nSummary: 3 members, 3 agreed structures, 3 releases checked against them (public, members,\nonly:MMR with embargo), 1 draft refused; {granted} pulls granted, {denied} refused (embargo; not\nin audience, answered as not found), 1 revocation delivered, all audits {}. Finished in {:.1} s;\ndaemons stopped and the directory removed.",
        if all_ok { "clean" } else { "NOT clean" },
        started.elapsed().as_secs_f64()
    ));
    if all_ok {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(anyhow!("an audit failed"))
    }
}
