//! `datapact release`: import a file into the blob store (validating SDMX-CSV on the way),
//! sign its announcement and record it, durably, before saying it is done.

use std::path::{Path, PathBuf};

use datapact_protocol::announcement::MAX_META_COLUMNS;
use datapact_protocol::{
    Announcement, Audience, DatasetName, Meta, Policy, SignedAnnouncement, StatementError,
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

/// Releases a file as the next version of `req.name`.
pub async fn release(ctx: &Context, req: ReleaseRequest) -> Result<DatasetInfo, ReleaseError> {
    let name = DatasetName::new(&req.name)?;
    let audience: Audience = req.policy.parse()?;
    let policy = Policy {
        audience,
        embargo_until: req.embargo_until,
        expires_at: req.expires_at,
        purpose: non_empty(req.purpose),
        licence: non_empty(req.licence),
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
    datapact_protocol::announcement::validate_file_name(&file_name)?;

    let store = ctx.store.clone();
    let imported = tokio::task::spawn_blocking(move || store.blobs().import(&path))
        .await
        .map_err(|e| ReleaseError::Interrupted(e.to_string()))?
        .map_err(ReleaseError::Import)?;

    let sdmx = imported.sdmx;
    let meta = Meta {
        title: req.title.trim().to_owned(),
        description: non_empty(req.description),
        indicator: non_empty(req.indicator),
        unit: non_empty(req.unit),
        period: non_empty(req.period),
        source: non_empty(req.source),
        content_type: content_type(&file_name, sdmx.is_some()),
        sdmx_structure: sdmx.as_ref().map(|s| s.structure_id.clone()),
        rows: sdmx.as_ref().map(|s| s.rows),
        columns: sdmx
            .map(|s| s.columns)
            .filter(|c| c.len() <= MAX_META_COLUMNS)
            .unwrap_or_default(),
    };
    ctx.store
        .put_chunks(&imported.digest.sha256, &imported.digest.chunks)?;
    let owner = ctx.home.member.clone();
    let version = ctx.store.reserve_version(&owner, name.as_str())?;
    let issued_at = now();
    let announcement = Announcement {
        owner,
        name,
        version,
        sha256: imported.digest.sha256,
        size: imported.digest.size,
        file_name,
        chunk_root: imported.digest.chunk_root(),
        policy,
        meta,
        issued_at,
    };
    let id = announcement.id();
    let signed = SignedAnnouncement::sign(announcement, &ctx.home.identity)?;
    let record = DatasetRecord {
        origin: Origin::Own,
        announcement: signed.bytes().to_vec(),
        revocation: None,
        has_content: true,
        recorded_at: issued_at,
    };
    ctx.store.put_dataset(&id, &record)?;
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
