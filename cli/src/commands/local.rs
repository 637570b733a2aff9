//! Commands that need no daemon: `init`, `verify`, `completions` (and `demo`).

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use datapact_node::api::IdInfo;
use datapact_protocol::announcement::MAX_SIGNED_LEN;
use datapact_protocol::{ContentHasher, MemberCode, PublicKey, SignedAnnouncement};
use serde::Serialize;

use crate::failure::bad_input;
use crate::output;
use crate::settings::Settings;

/// `datapact init --member CODE [--listen MULTIADDR]...`.
pub fn init(
    settings: &Settings,
    member: &str,
    listen: Vec<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let member = MemberCode::new(member).map_err(|e| bad_input(e.to_string()))?;
    for addr in &listen {
        datapact_node::home::check_multiaddr(addr).map_err(|e| bad_input(e.to_string()))?;
    }
    let home = datapact_node::home::init(&settings.dir, &member, listen).map_err(|e| match e {
        datapact_node::home::HomeError::AlreadyInitialised(_)
        | datapact_node::home::HomeError::NotEmpty(_) => bad_input(e.to_string()),
        other => anyhow::Error::new(other),
    })?;
    let info = IdInfo {
        member: home.member.clone(),
        peer_id: home.identity.peer_id(),
        public_key: home.identity.public_key().to_string(),
        running: false,
        listen: home.listen.clone(),
    };
    if json {
        output::json(&info)?;
    } else {
        output::lines(&format!(
            "initialised {}\nmember   {}\npeer_id  {}\n\nGive your PeerId and address to the other members out of band;\nthey add you with: datapact members add {} {} --addr <your address>",
            settings.dir.display(),
            info.member,
            info.peer_id,
            info.member,
            info.peer_id
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The outcome of `verify`.
#[derive(Debug, Serialize)]
struct VerifyReport {
    ok: bool,
    id: Option<String>,
    signer: Option<String>,
    sha256: Option<String>,
    problem: Option<String>,
}

/// `datapact verify DIR [--signer PEER_ID]`: offline check of an exported bundle.
pub fn verify(bundle: &Path, signer: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let expected = signer
        .map(PublicKey::from_peer_id_str)
        .transpose()
        .map_err(|e| bad_input(e.to_string()))?;
    let mut report = VerifyReport {
        ok: false,
        id: None,
        signer: None,
        sha256: None,
        problem: None,
    };
    let outcome = check_bundle(bundle, expected.as_ref(), &mut report);
    match outcome {
        Ok(()) => report.ok = true,
        Err(problem) => report.problem = Some(problem),
    }
    if json {
        output::json(&report)?;
    } else if report.ok {
        output::lines("ok")?;
    }
    if !report.ok {
        eprintln!(
            "error: verification failed: {}",
            report.problem.as_deref().unwrap_or("unknown problem")
        );
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn check_bundle(
    bundle: &Path,
    expected: Option<&PublicKey>,
    report: &mut VerifyReport,
) -> Result<(), String> {
    let cose_path = bundle.join(datapact_node::ops::datasets::BUNDLE_ANNOUNCEMENT);
    let mut bytes = Vec::new();
    File::open(&cose_path)
        .and_then(|f| f.take(MAX_SIGNED_LEN as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read {}: {e}", cose_path.display()))?;
    let signed = SignedAnnouncement::decode(&bytes).map_err(|e| format!("announcement: {e}"))?;
    let a = signed.body();
    report.id = Some(a.id().to_string());
    report.signer = Some(signed.signer().peer_id().to_string());
    if let Some(expected) = expected {
        signed.check_signer(expected).map_err(|_| {
            format!(
                "signed by {}, not by the expected signer",
                signed.signer().peer_id()
            )
        })?;
    }
    let content_path = bundle.join(&a.file_name);
    let mut file = File::open(&content_path)
        .map_err(|e| format!("cannot read {}: {e}", content_path.display()))?;
    let mut hasher = ContentHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("cannot read {}: {e}", content_path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest = hasher.finish();
    report.sha256 = Some(digest.sha256.to_string());
    if digest.size != a.size || digest.sha256 != a.sha256 || digest.chunk_root() != a.chunk_root {
        return Err(format!(
            "{} does not match its signed digest (sha256 {}, signed {})",
            a.file_name, digest.sha256, a.sha256
        ));
    }
    Ok(())
}

/// `datapact completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut cmd = crate::args::Cli::command();
    clap_complete::generate(shell, &mut cmd, "datapact", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
