//! `datasets`, `export` and `revoke`: what the node holds, writing a verifiable bundle, and
//! withdrawing one of our releases.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use datapact_protocol::time::format_unix;
use datapact_protocol::wire::SignedStatement;
use datapact_protocol::{
    DatasetId, MemberCode, Revocation, SignedAnnouncement, SignedRevocation, StatementError,
};
use tokio::task::JoinError;

use super::{Context, OpError, Operation, Progress, blocking};
use crate::api::{DatasetInfo, DatasetStatus, Datasets, ErrorKind, Export, ExportResult, Revoke};
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
    NotFound(DatasetId),
    /// Only the owner may revoke.
    #[error("{id} belongs to {owner}; only its owner can revoke it")]
    NotOwner {
        /// Dataset id.
        id: DatasetId,
        /// Its owner.
        owner: MemberCode,
    },
    /// Revoked twice.
    #[error("{0} is already revoked")]
    AlreadyRevoked(DatasetId),
    /// Export of a dataset whose content we do not hold.
    #[error("{0} has not been pulled; run `datapact pull {0}` first")]
    NoContent(DatasetId),
    /// A relative output path.
    #[error("{path}: the daemon needs an absolute path", path = .0.display())]
    RelativePath(PathBuf),
    /// A stored statement does not verify.
    #[error("stored statement of {0} does not verify: {1}")]
    Damaged(DatasetId, StatementError),
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
    /// The task reading the store or writing the bundle ended before it finished.
    #[error("interrupted: {0}")]
    Interrupted(#[from] JoinError),
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
        owner: a.owner.clone(),
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
        structure: a.meta.structure.as_ref().map(super::structures::used),
        structures: a.meta.structures.clone(),
        disclosure: a.meta.disclosure.as_ref().map(super::protected::info),
        protection: None,
        note: None,
    }
}

/// `datapact datasets`: what this node holds: its own releases and the datasets it pulled.
/// (Announcements not yet pulled are in the catalogue.) Read on the blocking pool.
pub async fn list(ctx: &Context) -> Result<Vec<DatasetInfo>, DatasetError> {
    blocking(ctx, |ctx| held(&ctx.store)).await
}

fn held(store: &Store) -> Result<Vec<DatasetInfo>, DatasetError> {
    let now = now();
    let mut out = Vec::new();
    for (id, record) in store.datasets()? {
        if record.origin == Origin::Received && !record.has_content {
            continue;
        }
        let signed = record
            .announcement()
            .map_err(|e| DatasetError::Damaged(id.clone(), e))?;
        let mut listed = info(&signed, &record, now);
        if record.origin == Origin::Own {
            listed.protection = store
                .protection(&id)?
                .as_ref()
                .map(super::protected::report_of);
        }
        out.push(listed);
    }
    Ok(out)
}

fn find(store: &Store, id: &str) -> Result<(DatasetId, DatasetRecord), DatasetError> {
    let id: DatasetId = id.parse()?;
    let record = store
        .dataset(&id)?
        .ok_or_else(|| DatasetError::NotFound(id.clone()))?;
    Ok((id, record))
}

/// `datapact export ID --out DIR [--force]`: writes `DIR/announcement.cose` and
/// `DIR/<file_name>`; refuses to replace a file that exists there unless `force`.
pub async fn export(ctx: &Context, request: Export) -> Result<ExportResult, DatasetError> {
    let Export { id, out, force } = request;
    blocking(ctx, move |ctx| {
        let (id, record) = find(&ctx.store, &id)?;
        if !record.has_content {
            return Err(DatasetError::NoContent(id));
        }
        let dir = PathBuf::from(out);
        if !dir.is_absolute() {
            return Err(DatasetError::RelativePath(dir));
        }
        let signed = record
            .announcement()
            .map_err(|e| DatasetError::Damaged(id, e))?;
        let if_exists = if force {
            IfExists::Replace
        } else {
            IfExists::Keep
        };
        write_bundle(&ctx.store, &signed, &dir, if_exists)
    })
    .await
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

/// `datapact revoke ID [--reason TEXT]`: signs a revocation of one of our releases, records
/// it durably, sends it on its way, and returns the release as it stands now.
pub async fn revoke(ctx: &Context, request: Revoke) -> Result<DatasetInfo, DatasetError> {
    let (id, record, signed) = blocking(ctx, move |ctx| sign_revocation(ctx, request)).await?;
    ctx.store.flush().await?;
    tracing::info!(dataset = %id, "revoked");
    blocking(ctx, move |ctx| {
        let announcement = record
            .announcement()
            .map_err(|e| DatasetError::Damaged(id.clone(), e))?;
        super::announce::announce_revocation(
            ctx,
            &id,
            SignedStatement::Revocation(signed.bytes().to_vec()),
            &announcement.body().policy.audience,
        );
        Ok(info(&announcement, &record, now()))
    })
    .await
}

/// Signs the revocation `request` asks for and records it with the release (not yet flushed).
fn sign_revocation(
    ctx: &Context,
    request: Revoke,
) -> Result<(DatasetId, DatasetRecord, SignedRevocation), DatasetError> {
    let (id, mut record) = find(&ctx.store, &request.id)?;
    if record.origin != Origin::Own {
        let owner = id.owner.clone();
        return Err(DatasetError::NotOwner { id, owner });
    }
    if record.revocation.is_some() {
        return Err(DatasetError::AlreadyRevoked(id));
    }
    let revocation = Revocation {
        owner: id.owner.clone(),
        name: id.name.clone(),
        version: id.version,
        reason: request.reason.filter(|r| !r.trim().is_empty()),
        issued_at: now(),
    };
    let signed = SignedRevocation::sign(revocation, &ctx.home.identity)?;
    record.revocation = Some(signed.bytes().to_vec());
    ctx.store.put_dataset(&id, &record)?;
    let mut log = LogEntry::new(LogEvent::Revoke, signed.body().issued_at);
    log.dataset = Some(id.to_string());
    log.reason = signed.body().reason.clone();
    ctx.store.append_log(log)?;
    Ok((id, record, signed))
}

impl Operation for Datasets {
    type Error = DatasetError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<Vec<DatasetInfo>, DatasetError> {
        list(ctx).await
    }
}

impl Operation for Export {
    type Error = DatasetError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<ExportResult, DatasetError> {
        export(ctx, self).await
    }
}

impl Operation for Revoke {
    type Error = DatasetError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<DatasetInfo, DatasetError> {
        revoke(ctx, self).await
    }
}
