//! `datasets`, `export` and `revoke`: what the node holds, writing a verifiable bundle, and
//! withdrawing one of our releases.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use datapact_protocol::time::format_unix;
use datapact_protocol::{
    DatasetId, Revocation, SignedAnnouncement, SignedRevocation, StatementError,
};

use super::{Context, OpError};
use crate::api::{DatasetInfo, ErrorKind, ExportResult};
use crate::fsutil::sync_dir;
use crate::store::{DatasetRecord, LogEntry, LogEvent, Origin, StoreError, now};

/// File name of the signed announcement in an exported bundle.
pub const BUNDLE_ANNOUNCEMENT: &str = "announcement.cose";

/// Why `datasets`, `export` or `revoke` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// Bad id.
    #[error("{0}")]
    Id(#[from] datapact_protocol::IdError),
    /// No such dataset here.
    #[error("dataset {0} not found")]
    NotFound(String),
    /// Only the owner may revoke.
    #[error("{id} belongs to {owner}; only its owner can revoke it")]
    NotOwner {
        /// Dataset id.
        id: String,
        /// Its owner.
        owner: String,
    },
    /// Revoked twice.
    #[error("{0} is already revoked")]
    AlreadyRevoked(String),
    /// Export of a dataset whose content we do not hold.
    #[error("{0} has not been pulled; run `datapact pull {0}` first")]
    NoContent(String),
    /// A relative output path.
    #[error("{0}: the daemon needs an absolute path")]
    RelativePath(String),
    /// A stored statement does not verify.
    #[error("stored statement of {0} does not verify: {1}")]
    Damaged(String, StatementError),
    /// Signing failed.
    #[error("{0}")]
    Statement(#[from] StatementError),
    /// Writing the bundle failed.
    #[error("cannot write {path}: {source}", path = .0.display(), source = .1)]
    Write(PathBuf, io::Error),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl OpError for DatasetError {
    fn kind(&self) -> ErrorKind {
        match self {
            DatasetError::Id(_) | DatasetError::RelativePath(_) => ErrorKind::BadInput,
            _ => ErrorKind::Failed,
        }
    }
}

/// The listing form of a stored dataset, with its status at `now`.
pub fn info(signed: &SignedAnnouncement, record: &DatasetRecord, now: u64) -> DatasetInfo {
    let a = signed.body();
    let status = if record.revocation.is_some() {
        "revoked"
    } else if a.policy.is_expired(now) {
        "expired"
    } else {
        match record.origin {
            Origin::Own => "released",
            Origin::Received => "received",
        }
    };
    DatasetInfo {
        id: a.id().to_string(),
        title: a.meta.title.clone(),
        owner: a.owner.to_string(),
        policy: a.policy.audience.to_string(),
        size: a.size,
        sha256: a.sha256.to_string(),
        status: status.to_owned(),
        file_name: a.file_name.clone(),
        has_content: record.has_content,
        embargo_until: a.policy.embargo_until.map(format_unix),
        expires_at: a.policy.expires_at.map(format_unix),
        purpose: a.policy.purpose.clone(),
        licence: a.policy.licence.clone(),
        issued_at: format_unix(a.issued_at),
        sdmx_structure: a.meta.sdmx_structure.clone(),
        rows: a.meta.rows,
    }
}

/// `datapact datasets`: what this node holds: its own releases and the datasets it pulled.
/// (Announcements not yet pulled are in the catalogue.)
pub fn list(ctx: &Context) -> Result<Vec<DatasetInfo>, DatasetError> {
    let now = now();
    let mut out = Vec::new();
    for (id, record) in ctx.store.datasets()? {
        if record.origin == Origin::Received && !record.has_content {
            continue;
        }
        let signed = record
            .announcement()
            .map_err(|e| DatasetError::Damaged(id.to_string(), e))?;
        out.push(info(&signed, &record, now));
    }
    Ok(out)
}

/// One dataset's listing form.
pub fn show(ctx: &Context, id: &str) -> Result<DatasetInfo, DatasetError> {
    let (id, record) = find(ctx, id)?;
    let signed = record
        .announcement()
        .map_err(|e| DatasetError::Damaged(id.to_string(), e))?;
    Ok(info(&signed, &record, now()))
}

fn find(ctx: &Context, id: &str) -> Result<(DatasetId, DatasetRecord), DatasetError> {
    let id: DatasetId = id.parse()?;
    let record = ctx
        .store
        .dataset(&id)?
        .ok_or_else(|| DatasetError::NotFound(id.to_string()))?;
    Ok((id, record))
}

/// `datapact export ID --out DIR`: writes `DIR/announcement.cose` and `DIR/<file_name>`.
pub async fn export(ctx: &Context, id: &str, out: &str) -> Result<ExportResult, DatasetError> {
    let (id, record) = find(ctx, id)?;
    if !record.has_content {
        return Err(DatasetError::NoContent(id.to_string()));
    }
    let out_dir = PathBuf::from(out);
    if !out_dir.is_absolute() {
        return Err(DatasetError::RelativePath(out.to_owned()));
    }
    let signed = record
        .announcement()
        .map_err(|e| DatasetError::Damaged(id.to_string(), e))?;
    let store = ctx.store.clone();
    let dir = out_dir.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<ExportResult, DatasetError> {
        fs::create_dir_all(&dir).map_err(|e| DatasetError::Write(dir.clone(), e))?;
        let cose_path = dir.join(BUNDLE_ANNOUNCEMENT);
        crate::fsutil::write_atomic(&cose_path, signed.bytes())
            .map_err(|e| DatasetError::Write(cose_path.clone(), e))?;
        let content_path = dir.join(&signed.body().file_name);
        let mut source = store
            .blobs()
            .open_read(&signed.body().sha256)
            .map_err(|e| DatasetError::Write(content_path.clone(), e))?;
        copy_durably(&mut source, &content_path)
            .map_err(|e| DatasetError::Write(content_path.clone(), e))?;
        Ok(ExportResult {
            id: signed.body().id().to_string(),
            announcement: cose_path.display().to_string(),
            content: content_path.display().to_string(),
        })
    })
    .await
    .map_err(|e| DatasetError::Write(out_dir, io::Error::other(e.to_string())))??;
    Ok(result)
}

/// Copies `source` to `target` through a temp file, fsync and rename.
pub fn copy_durably(source: &mut impl io::Read, target: &Path) -> io::Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let tmp = target.with_extension(format!("part.{}", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        io::copy(source, &mut file)?;
        file.flush()?;
        file.sync_all()?;
        fs::rename(&tmp, target)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `datapact revoke ID [--reason TEXT]`: signs a revocation of one of our releases.
pub async fn revoke(
    ctx: &Context,
    id: &str,
    reason: Option<String>,
) -> Result<SignedRevocation, DatasetError> {
    let (id, mut record) = find(ctx, id)?;
    if record.origin != Origin::Own {
        return Err(DatasetError::NotOwner {
            id: id.to_string(),
            owner: id.owner.to_string(),
        });
    }
    if record.revocation.is_some() {
        return Err(DatasetError::AlreadyRevoked(id.to_string()));
    }
    let revocation = Revocation {
        owner: id.owner.clone(),
        name: id.name.clone(),
        version: id.version,
        reason: reason.filter(|r| !r.trim().is_empty()),
        issued_at: now(),
    };
    let signed = SignedRevocation::sign(revocation, &ctx.home.identity)?;
    record.revocation = Some(signed.bytes().to_vec());
    ctx.store.put_dataset(&id, &record)?;
    let mut log = LogEntry::new(LogEvent::Revoke, signed.body().issued_at);
    log.dataset = Some(id.to_string());
    log.reason = signed.body().reason.clone();
    ctx.store.append_log(log)?;
    ctx.store.flush().await?;
    tracing::info!(dataset = %id, "revoked");
    let audience = record
        .announcement()
        .map(|a| a.body().policy.audience.clone())
        .map_err(|e| DatasetError::Damaged(id.to_string(), e))?;
    super::announce::announce_revocation(
        ctx,
        &id,
        datapact_protocol::wire::SignedStatement::Revocation(signed.bytes().to_vec()),
        &audience,
    );
    Ok(signed)
}
