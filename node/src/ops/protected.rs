//! How a protected release is shown and recorded: what its announcement says
//! (`meta.disclosure`), the owner's own report (information lost, primary cells), the record
//! of it kept under the release lock, and `release --dry-run`, which protects the table as a
//! release would and stores nothing.

use datapact_protocol::announcement::MIN_COUNT_RULE;
use datapact_protocol::{DatasetId, DisclosureRef};

use super::disclosure::{ProtectError, Protected, Protecting, check_bytes, protect_file};
use super::release::{ReleaseError, check_request, check_versions};
use super::{Context, Operation, Progress, blocking};
use crate::api::{DisclosureInfo, DryRunResult, ProtectionReport, ReleaseDryRun};
use crate::store::blobs::ImportError;
use crate::store::structures::content_check::CheckedContent;
use crate::store::{DatasetRecord, ProtectionRecord, Store};

/// What the announcement records of a protection: the rule, N and how many cells are empty,
/// never which of them were primary.
pub fn announced(protected: &Protected) -> DisclosureRef {
    DisclosureRef {
        rule: MIN_COUNT_RULE.to_owned(),
        threshold: protected.record.threshold,
        suppressed: protected.record.suppressed_cells,
    }
}

/// `meta.disclosure` as `catalog` and `datasets` show it.
pub fn info(disclosure: &DisclosureRef) -> DisclosureInfo {
    DisclosureInfo {
        rule: disclosure.rule.clone(),
        threshold: disclosure.threshold,
        suppressed: disclosure.suppressed,
    }
}

/// The owner's report of a protection about to be released.
pub fn report(protected: &Protected) -> ProtectionReport {
    report_of(&protected.record)
}

/// The owner's report of a recorded protection.
pub fn report_of(record: &ProtectionRecord) -> ProtectionReport {
    ProtectionReport {
        threshold: record.threshold,
        primary: record.primary_cells.len() as u64,
        secondary: record.secondary,
        already_confidential: record.already_confidential,
        suppressed_cells: record.suppressed_cells,
        suppressed_value: record.suppressed_value,
        dimensions: record.dimensions.clone(),
        primary_cells: record
            .primary_cells
            .iter()
            .map(|key| record.dimensions.iter().cloned().zip(key.clone()).collect())
            .collect(),
    }
}

/// Records the protection of release `id`, under the release lock: refused when a version of
/// the name was recorded since the table was checked against the earlier ones.
pub fn record(
    store: &Store,
    protected: &Protected,
    earlier: &[(DatasetId, DatasetRecord)],
    id: &DatasetId,
) -> Result<(), ReleaseError> {
    let versions: Vec<u64> = earlier.iter().map(|(id, _)| id.version).collect();
    if versions != protected.checked_against {
        return Err(ProtectError::VersionsChanged(id.name.clone()).into());
    }
    store.put_protection(id, &protected.record)?;
    Ok(())
}

/// `release --suppress-below N --dry-run`: every check a release makes, the protection, and
/// the content check of the protected table; nothing is stored.
async fn dry_run(ctx: &Context, request: ReleaseDryRun) -> Result<DryRunResult, ReleaseError> {
    let req = request.release;
    let checked = check_request(&req)?;
    let threshold = req
        .suppress_below
        .ok_or(ReleaseError::DryRunNeedsThreshold)?;
    let require_structure = req.require_structure || ctx.home.require_structure;
    let owner = ctx.home.member.clone();
    blocking(ctx, move |ctx| {
        let earlier = ctx.store.versions(&owner, checked.name.as_str())?;
        let audience = &req.policy;
        check_versions(&ctx.store, &earlier, &checked.name, audience, req.widen)?;
        let how = Protecting {
            owner: &owner,
            name: &checked.name,
            threshold,
            require_structure,
        };
        let protected = protect_file(&ctx.store, &checked.path, &how)?;
        let content =
            check_bytes(&ctx.store, &protected.table, require_structure).map_err(|source| {
                ReleaseError::Import(ImportError::Check {
                    path: checked.path.clone(),
                    source: Box::new(source),
                })
            })?;
        let (structure, note) = match content {
            CheckedContent::Data { structure, .. } => {
                (Some(super::structures::used(&structure)), None)
            }
            CheckedContent::Syntax { note, .. } => (None, note),
            _ => (None, None),
        };
        Ok(DryRunResult {
            table: String::from_utf8_lossy(&protected.table).into_owned(),
            protection: report(&protected),
            structure,
            note,
        })
    })
    .await
}

impl Operation for ReleaseDryRun {
    type Error = ReleaseError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<DryRunResult, ReleaseError> {
        dry_run(ctx, self).await
    }
}
