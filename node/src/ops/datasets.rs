//! `datasets`, `export` and `revoke`: what the node holds, writing a verifiable bundle, and
//! withdrawing one of our releases.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use datapact_protocol::time::format_unix;
use datapact_protocol::{
    DatasetId, Revocation, SignedAnnouncement, SignedRevocation, StatementError,
};

use super::{Context, OpError};
use crate::api::{DatasetInfo, DatasetStatus, ErrorKind, ExportResult};
use crate::fsutil::{IfExists, Staged};
use crate::store::{DatasetRecord, LogEntry, LogEvent, Origin, Store, StoreError, now};

/// File name of the signed announcement in an exported bundle.
pub use datapact_protocol::bundle::BUNDLE_ANNOUNCEMENT;

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
    /// A file of the bundle exists already and `--force` was not given.
    #[error("{path} already exists; pass --force to replace it", path = .0.display())]
    Exists(PathBuf),
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
            DatasetError::Id(_) | DatasetError::RelativePath(_) | DatasetError::Exists(_) => {
                ErrorKind::BadInput
            }
            _ => ErrorKind::Failed,
        }
    }
}

/// The listing form of a stored dataset, with its status at `now`.
pub fn info(signed: &SignedAnnouncement, record: &DatasetRecord, now: u64) -> DatasetInfo {
    let a = signed.body();
    let status = if record.revocation.is_some() {
        DatasetStatus::Revoked
    } else if a.policy.is_expired(now) {
        DatasetStatus::Expired
    } else {
        match record.origin {
            Origin::Own => DatasetStatus::Released,
            Origin::Received => DatasetStatus::Received,
        }
    };
    DatasetInfo {
        id: a.id().to_string(),
        title: a.meta.title.clone(),
        owner: a.owner.to_string(),
        policy: a.policy.audience.clone(),
        size: a.size,
        sha256: a.sha256.to_string(),
        status,
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

/// `datapact export ID --out DIR [--force]`: writes `DIR/announcement.cose` and
/// `DIR/<file_name>`; refuses to replace a file that exists there unless `force`.
pub async fn export(
    ctx: &Context,
    id: &str,
    out: &str,
    force: bool,
) -> Result<ExportResult, DatasetError> {
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
    let if_exists = if force {
        IfExists::Replace
    } else {
        IfExists::Keep
    };
    tokio::task::spawn_blocking(move || write_bundle(&store, &signed, &dir, if_exists))
        .await
        .map_err(|e| DatasetError::Write(out_dir, io::Error::other(e.to_string())))?
}

/// Writes the bundle of `signed` into `dir`. Both files are staged whole before either is put
/// in place, so a failure leaves the directory as it was (or, when replacing, with the new
/// content but the old announcement, which `verify` reports).
fn write_bundle(
    store: &Store,
    signed: &SignedAnnouncement,
    dir: &Path,
    if_exists: IfExists,
) -> Result<ExportResult, DatasetError> {
    fs::create_dir_all(dir).map_err(|e| DatasetError::Write(dir.to_owned(), e))?;
    let cose_path = dir.join(BUNDLE_ANNOUNCEMENT);
    let content_path = dir.join(&signed.body().file_name);
    if if_exists == IfExists::Keep {
        for path in [&content_path, &cose_path] {
            // symlink_metadata: a dangling symlink is in the way too.
            if fs::symlink_metadata(path).is_ok() {
                return Err(DatasetError::Exists(path.clone()));
            }
        }
    }
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |e: io::Error| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                DatasetError::Exists(path)
            } else {
                DatasetError::Write(path, e)
            }
        }
    };
    let mut content = Staged::new(&content_path).map_err(write_err(&content_path))?;
    let mut source = store
        .blobs()
        .open_read(&signed.body().sha256)
        .map_err(write_err(&content_path))?;
    io::copy(&mut source, content.file()).map_err(write_err(&content_path))?;
    let mut cose = Staged::new(&cose_path).map_err(write_err(&cose_path))?;
    cose.file()
        .write_all(signed.bytes())
        .map_err(write_err(&cose_path))?;
    content
        .commit(if_exists)
        .map_err(write_err(&content_path))?;
    if let Err(e) = cose.commit(if_exists) {
        if if_exists == IfExists::Keep {
            // The content file is the one just placed: take it back, leaving no half bundle.
            let _ = fs::remove_file(&content_path);
        }
        return Err(write_err(&cose_path)(e));
    }
    Ok(ExportResult {
        id: signed.body().id().to_string(),
        announcement: cose_path.display().to_string(),
        content: content_path.display().to_string(),
    })
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
