//! `datapact release`: import a file into the blob store (validating SDMX-CSV on the way),
//! sign its announcement and record it, durably, before saying it is done.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use datapact_protocol::announcement::MAX_META_COLUMNS;
use datapact_protocol::bundle::validate_file_name;
use datapact_protocol::sdmx::SdmxSummary;
use datapact_protocol::versions::revealed_versions;
use datapact_protocol::{
    Announcement, Audience, DatasetId, DatasetName, MemberCode, Meta, Policy, SignedAnnouncement,
    StatementError,
};

use super::{Context, OpError};
use crate::api::{DatasetInfo, ErrorKind, ReleaseRequest};
use crate::store::blobs::ImportError;
use crate::store::{DatasetRecord, LogEntry, LogEvent, Origin, StoreError, now};

/// Why a release failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// Bad dataset name.
    #[error("{0}")]
    Name(#[from] datapact_protocol::IdError),
    /// Bad policy.
    #[error("{0}")]
    Policy(#[from] datapact_protocol::PolicyError),
    /// Empty title or path.
    #[error("{0}")]
    Input(String),
    /// The file is missing, unreadable or has a bad SDMX-CSV row.
    #[error("{0}")]
    Import(ImportError),
    /// The announcement cannot be built (a field out of range).
    #[error("{0}")]
    Statement(#[from] StatementError),
    /// The new version would reach members that earlier versions of the name did not, and so
    /// reveal that those exist (docs/design.md section 4); `--widen` accepts that.
    #[error(
        "releasing {name} with policy {policy} would reveal {count} earlier version{plural} ({list}) to peers {pronoun} did not reach, since version numbers show that earlier ones exist; pass --widen to release anyway",
        count = versions.len(),
        plural = if versions.len() == 1 { "" } else { "s" },
        pronoun = if versions.len() == 1 { "it" } else { "they" },
        list = versions.iter().map(|v| format!("@{v}")).collect::<Vec<_>>().join(", ")
    )]
    WouldReveal {
        /// The dataset name.
        name: String,
        /// The new version's audience.
        policy: String,
        /// The earlier versions it would reveal.
        versions: Vec<u64>,
    },
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The import task died.
    #[error("release interrupted: {0}")]
    Interrupted(String),
}

impl OpError for ReleaseError {
    fn kind(&self) -> ErrorKind {
        match self {
            ReleaseError::Store(_) | ReleaseError::Interrupted(_) => ErrorKind::Failed,
            ReleaseError::Import(ImportError::Store(_) | ImportError::NoSpace(_)) => {
                ErrorKind::Failed
            }
            _ => ErrorKind::BadInput,
        }
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// A release request whose fields were checked, before any content is copied.
struct Checked {
    name: DatasetName,
    policy: Policy,
    path: PathBuf,
    /// The source's file name, which the announcement carries and `export` writes.
    file_name: String,
}

fn check_request(req: &ReleaseRequest) -> Result<Checked, ReleaseError> {
    let name = DatasetName::new(&req.name)?;
    let audience: Audience = req.policy.parse()?;
    let policy = Policy {
        audience,
        embargo_until: req.embargo_until,
        expires_at: req.expires_at,
        purpose: non_empty(req.purpose.clone()),
        licence: non_empty(req.licence.clone()),
    };
    policy.validate()?;
    if let Some(expires) = policy.expires_at
        && expires <= now()
    {
        return Err(ReleaseError::Input(format!(
            "--expires {} is in the past: nobody could ever pull this release",
            datapact_protocol::time::format_unix(expires)
        )));
    }
    if req.title.trim().is_empty() {
        return Err(ReleaseError::Input("the title must not be empty".into()));
    }
    let path = PathBuf::from(&req.path);
    if !path.is_absolute() {
        return Err(ReleaseError::Input(format!(
            "{}: the daemon needs an absolute path",
            req.path
        )));
    }
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| ReleaseError::Input(format!("{}: not a file name", req.path)))?;
    // The announcement carries the file name as it is: refuse it rather than rename it.
    validate_file_name(&file_name).map_err(|e| {
        ReleaseError::Input(format!("{}: {e}; rename the file to release it", req.path))
    })?;
    Ok(Checked {
        name,
        policy,
        path,
        file_name,
    })
}

/// Refuses, unless `widen`, a new version of `name` for `audience` that would reveal earlier
/// versions (`earlier`, every version of the name held so far) to members they did not reach.
fn check_versions(
    ctx: &Context,
    earlier: &[(DatasetId, DatasetRecord)],
    name: &DatasetName,
    audience: &Audience,
    widen: bool,
) -> Result<(), ReleaseError> {
    if widen || earlier.is_empty() {
        return Ok(());
    }
    let roster: BTreeSet<MemberCode> = ctx
        .store
        .roster()?
        .into_iter()
        .filter_map(|e| MemberCode::new(&e.member).ok())
        .collect();
    let mut unreadable = Vec::new();
    let mut audiences = Vec::new();
    for (id, record) in earlier {
        match record.announcement() {
            Ok(signed) => audiences.push((id.version, signed.body().policy.audience.clone())),
            // An audience we cannot read cannot be shown to cover the new one.
            Err(_) => unreadable.push(id.version),
        }
    }
    let mut revealed = revealed_versions(audiences.iter().map(|(v, a)| (*v, a)), &roster, audience);
    revealed.extend(unreadable);
    if revealed.is_empty() {
        return Ok(());
    }
    revealed.sort_unstable();
    Err(ReleaseError::WouldReveal {
        name: name.to_string(),
        policy: audience.to_string(),
        versions: revealed,
    })
}

/// Releases a file as the next version of `req.name`.
pub async fn release(ctx: &Context, req: ReleaseRequest) -> Result<DatasetInfo, ReleaseError> {
    let checked = check_request(&req)?;
    let owner = ctx.home.member.clone();
    // Checked before any content is copied, and again when the version is recorded, in case
    // the roster or the name's versions changed meanwhile.
    let earlier = ctx.store.versions(&owner, checked.name.as_str())?;
    check_versions(
        ctx,
        &earlier,
        &checked.name,
        &checked.policy.audience,
        req.widen,
    )?;

    let store = ctx.store.clone();
    let path = checked.path.clone();
    let imported = tokio::task::spawn_blocking(move || store.blobs().import(&path))
        .await
        .map_err(|e| ReleaseError::Interrupted(e.to_string()))?
        .map_err(ReleaseError::Import)?;
    let meta = meta(&req, &checked.file_name, imported.sdmx);
    let issued_at = now();
    // A refusal here (the roster or the name's versions changed during the import) leaves the
    // imported blob unreferenced; the store removes such blobs when it opens.
    let (id, (record, signed)) =
        ctx.store
            .put_next_version(&owner, &checked.name, |earlier, id| {
                check_versions(ctx, earlier, &id.name, &checked.policy.audience, req.widen)?;
                ctx.store
                    .put_chunks(&imported.digest.sha256, &imported.digest.chunks)?;
                let announcement = Announcement {
                    owner: id.owner.clone(),
                    name: id.name.clone(),
                    version: id.version,
                    sha256: imported.digest.sha256,
                    size: imported.digest.size,
                    file_name: checked.file_name.clone(),
                    chunk_root: imported.digest.chunk_root(),
                    policy: checked.policy.clone(),
                    meta,
                    issued_at,
                };
                own_record(announcement, ctx, issued_at)
            })?;
    let mut log = LogEntry::new(LogEvent::Release, issued_at);
    log.dataset = Some(id.to_string());
    log.reason = signed.body().policy.purpose.clone();
    ctx.store.append_log(log)?;
    ctx.store.flush().await?;
    tracing::info!(dataset = %id, size = signed.body().size, policy = %signed.body().policy.audience, "released");
    super::announce::announce(
        ctx,
        datapact_protocol::wire::SignedStatement::Announcement(signed.bytes().to_vec()),
        &signed.body().policy.audience,
    );
    Ok(super::datasets::info(&signed, &record, now()))
}

/// Signs `announcement` and makes the record of our own release.
fn own_record(
    announcement: Announcement,
    ctx: &Context,
    recorded_at: u64,
) -> Result<(DatasetRecord, SignedAnnouncement), ReleaseError> {
    let signed = SignedAnnouncement::sign(announcement, &ctx.home.identity)?;
    let record = DatasetRecord::new(Origin::Own, &signed, true, recorded_at);
    Ok((record, signed))
}

/// The announcement's metadata: the request's texts and what the import found out.
fn meta(req: &ReleaseRequest, file_name: &str, sdmx: Option<SdmxSummary>) -> Meta {
    Meta {
        title: req.title.trim().to_owned(),
        description: non_empty(req.description.clone()),
        indicator: non_empty(req.indicator.clone()),
        unit: non_empty(req.unit.clone()),
        period: non_empty(req.period.clone()),
        source: non_empty(req.source.clone()),
        content_type: content_type(file_name, sdmx.is_some()),
        sdmx_structure: sdmx.as_ref().map(|s| s.structure_id.clone()),
        rows: sdmx.as_ref().map(|s| s.rows),
        columns: sdmx
            .map(|s| s.columns)
            .filter(|c| c.len() <= MAX_META_COLUMNS)
            .unwrap_or_default(),
    }
}

fn content_type(file_name: &str, sdmx: bool) -> Option<String> {
    let ext = Path::new(file_name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match (sdmx, ext.as_deref()) {
        (true, _) | (_, Some("csv")) => Some("text/csv".to_owned()),
        (_, Some("json")) => Some("application/json".to_owned()),
        (_, Some("xml")) => Some("application/xml".to_owned()),
        _ => None,
    }
}
