//! `datapact release`: import a file into the blob store (checking a structure message, or
//! SDMX-CSV data against their structure, on the way: `store::content_check`), sign its
//! announcement and record it, durably, before saying it is done. With `--suppress-below N`
//! the table is protected first and only the protected table is stored (`disclosure`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use datapact_protocol::announcement::MAX_META_COLUMNS;
use datapact_protocol::bundle::validate_file_name;
use datapact_protocol::versions::revealed_versions;
use datapact_protocol::{
    Announcement, Audience, ContentDigest, DatasetId, DatasetName, MemberCode, Meta, Policy,
    SignedAnnouncement, StatementError,
};

use datapact_protocol::time::format_unix;
use tokio::task::JoinError;

use super::disclosure::{ProtectError, Protected, Protecting};
use super::{Context, OpError, Operation, Progress, blocking};
use crate::api::{DatasetInfo, ErrorKind, ReleaseRequest};
use crate::store::blobs::ImportError;
use crate::store::structures::content_check::{CheckError, CheckedContent, ReleaseCheck};
use crate::store::{DatasetRecord, LogEntry, LogEvent, Origin, Store, StoreError, now};

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
    /// The expiry is not in the future, so nobody could ever pull the release.
    #[error("--expires {} is in the past: nobody could ever pull this release", format_unix(*.0))]
    ExpiresInPast(u64),
    /// The title is empty (or only blanks).
    #[error("the title must not be empty")]
    EmptyTitle,
    /// The file's path is relative: the daemon does not share the caller's directory.
    #[error("{path}: the daemon needs an absolute path", path = .0.display())]
    RelativePath(PathBuf),
    /// The path does not end in a file name that is text.
    #[error("{path}: not a file name", path = .0.display())]
    NoFileName(PathBuf),
    /// The file's name cannot travel in an announcement (the announcement carries the name as
    /// it is, so it is refused rather than renamed).
    #[error("{path}: {error}; rename the file to release it", path = .path.display())]
    FileName {
        /// The file's path.
        path: PathBuf,
        /// What is wrong with its name.
        error: StatementError,
    },
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
        name: DatasetName,
        /// The new version's audience.
        policy: Audience,
        /// The earlier versions it would reveal.
        versions: Vec<u64>,
    },
    /// `--dry-run` without `--suppress-below`: there is nothing to try.
    #[error("--dry-run shows what --suppress-below would publish; give --suppress-below N")]
    DryRunNeedsThreshold,
    /// `--suppress-below`: the table could not be protected.
    #[error("{0}")]
    Protect(#[from] ProtectError),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The import task (or a store task) ended before it finished.
    #[error("release interrupted: {0}")]
    Interrupted(#[from] JoinError),
}

impl OpError for ReleaseError {
    fn kind(&self) -> ErrorKind {
        match self {
            ReleaseError::Store(_) | ReleaseError::Interrupted(_) => ErrorKind::Failed,
            ReleaseError::Protect(e) if e.is_failure() => ErrorKind::Failed,
            ReleaseError::Import(ImportError::Store(_) | ImportError::NoSpace(_)) => {
                ErrorKind::Failed
            }
            ReleaseError::Import(ImportError::Check { source, .. })
                if matches!(**source, CheckError::Store(_)) =>
            {
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
pub(super) struct Checked {
    pub(super) name: DatasetName,
    policy: Policy,
    pub(super) path: PathBuf,
    /// The source's file name, which the announcement carries and `export` writes.
    file_name: String,
}

pub(super) fn check_request(req: &ReleaseRequest) -> Result<Checked, ReleaseError> {
    let name = DatasetName::new(&req.name)?;
    let policy = Policy {
        audience: req.policy.clone(),
        embargo_until: req.embargo_until,
        expires_at: req.expires_at,
        purpose: non_empty(req.purpose.clone()),
        licence: non_empty(req.licence.clone()),
    };
    policy.validate()?;
    if let Some(expires) = policy.expires_at
        && expires <= now()
    {
        return Err(ReleaseError::ExpiresInPast(expires));
    }
    if req.title.trim().is_empty() {
        return Err(ReleaseError::EmptyTitle);
    }
    let path = PathBuf::from(&req.path);
    if !path.is_absolute() {
        return Err(ReleaseError::RelativePath(path));
    }
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| ReleaseError::NoFileName(path.clone()))?;
    validate_file_name(&file_name).map_err(|error| ReleaseError::FileName {
        path: path.clone(),
        error,
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
pub(super) fn check_versions(
    store: &Store,
    earlier: &[(DatasetId, DatasetRecord)],
    name: &DatasetName,
    audience: &Audience,
    widen: bool,
) -> Result<(), ReleaseError> {
    if widen || earlier.is_empty() {
        return Ok(());
    }
    let roster: BTreeSet<MemberCode> = store.roster()?.into_iter().map(|e| e.member).collect();
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
        name: name.clone(),
        policy: audience.clone(),
        versions: revealed,
    })
}

/// Releases a file as the next version of `req.name`.
pub async fn release(ctx: &Context, req: ReleaseRequest) -> Result<DatasetInfo, ReleaseError> {
    let checked = check_request(&req)?;
    let owner = ctx.home.member.clone();
    let (name, audience, path, widen) = (
        checked.name.clone(),
        checked.policy.audience.clone(),
        checked.path.clone(),
        req.widen,
    );
    let require_structure = req.require_structure || ctx.home.require_structure;
    // Checked before any content is copied, and again when the version is recorded, in case
    // the roster or the name's versions changed meanwhile.
    let threshold = req.suppress_below;
    let (digest, content, protected) = blocking(ctx, move |ctx| {
        let earlier = ctx.store.versions(&owner, name.as_str())?;
        check_versions(&ctx.store, &earlier, &name, &audience, widen)?;
        if let Some(threshold) = threshold {
            let how = Protecting {
                owner: &owner,
                name: &name,
                threshold,
                require_structure,
            };
            let protected = super::disclosure::protect_file(&ctx.store, &path, &how)?;
            let (digest, content) = super::disclosure::import_bytes(
                &ctx.store,
                &path,
                &protected.table,
                require_structure,
            )
            .map_err(ReleaseError::Import)?;
            return Ok((digest, content, Some(protected)));
        }
        let mut check = ReleaseCheck::new(&ctx.store, require_structure);
        let digest = ctx
            .store
            .blobs()
            .import(&path, &mut check)
            .map_err(ReleaseError::Import)?;
        Ok::<_, ReleaseError>((digest, check.into_checked(), None))
    })
    .await?;
    let note = match &content {
        CheckedContent::Syntax { note, .. } => note.clone(),
        _ => None,
    };
    let report = protected.as_ref().map(super::protected::report);
    let (record, signed) = blocking(ctx, move |ctx| {
        record(ctx, &req, &checked, digest, &content, protected.as_ref())
    })
    .await?;
    ctx.store.flush().await?;
    let a = signed.body();
    tracing::info!(dataset = %a.id(), size = a.size, policy = %a.policy.audience, "released");
    blocking(ctx, move |ctx| {
        super::announce::announce(
            ctx,
            datapact_protocol::wire::SignedStatement::Announcement(signed.bytes().to_vec()),
            &signed.body().policy.audience,
        );
        let mut info = super::datasets::info(&signed, &record, now());
        info.note = note;
        info.protection = report;
        Ok(info)
    })
    .await
}

/// Records the imported file as the next version of its name, with its signed announcement
/// and the access-log entry (not yet flushed).
fn record(
    ctx: &Context,
    req: &ReleaseRequest,
    checked: &Checked,
    digest: ContentDigest,
    content: &CheckedContent,
    protected: Option<&Protected>,
) -> Result<(DatasetRecord, SignedAnnouncement), ReleaseError> {
    let mut meta = meta(req, &checked.file_name, content);
    meta.disclosure = protected.map(super::protected::announced);
    let issued_at = now();
    // A refusal here (the roster or the name's versions changed during the import) leaves the
    // imported blob unreferenced; the store removes such blobs when it opens.
    let (id, (record, signed)) =
        ctx.store
            .put_next_version(&ctx.home.member, &checked.name, |earlier, id| {
                let audience = &checked.policy.audience;
                check_versions(&ctx.store, earlier, &id.name, audience, req.widen)?;
                if let Some(protected) = protected {
                    super::protected::record(&ctx.store, protected, earlier, id)?;
                }
                super::structures::record_release(&ctx.store, content, id, &digest.sha256)
                    .map_err(|source| {
                        ReleaseError::Import(ImportError::Check {
                            path: checked.path.clone(),
                            source: Box::new(source),
                        })
                    })?;
                ctx.store.put_chunks(&digest.sha256, &digest.chunks)?;
                let announcement = Announcement {
                    owner: id.owner.clone(),
                    name: id.name.clone(),
                    version: id.version,
                    sha256: digest.sha256,
                    size: digest.size,
                    file_name: checked.file_name.clone(),
                    chunk_root: digest.chunk_root(),
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
    Ok((record, signed))
}

impl Operation for ReleaseRequest {
    type Error = ReleaseError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<DatasetInfo, ReleaseError> {
        release(ctx, self).await
    }
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
fn meta(req: &ReleaseRequest, file_name: &str, content: &CheckedContent) -> Meta {
    let (sdmx, structure, structures) = match content {
        CheckedContent::Plain => (None, None, Vec::new()),
        CheckedContent::Syntax { summary, .. } => (Some(summary), None, Vec::new()),
        CheckedContent::Data { summary, structure } => {
            (Some(summary), Some(structure.clone()), Vec::new())
        }
        CheckedContent::Structure { defines, .. } => {
            (None, None, defines.iter().map(|d| d.id.clone()).collect())
        }
    };
    Meta {
        title: req.title.trim().to_owned(),
        description: non_empty(req.description.clone()),
        indicator: non_empty(req.indicator.clone()),
        unit: non_empty(req.unit.clone()),
        period: non_empty(req.period.clone()),
        source: non_empty(req.source.clone()),
        content_type: content_type(file_name, sdmx.is_some()),
        sdmx_structure: sdmx.map(|s| s.structure_id.clone()),
        rows: sdmx.map(|s| s.rows),
        columns: sdmx
            .map(|s| s.columns.clone())
            .filter(|c| c.len() <= MAX_META_COLUMNS)
            .unwrap_or_default(),
        structures,
        structure,
        disclosure: None,
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
