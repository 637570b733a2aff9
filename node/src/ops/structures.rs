//! `datapact structures`, and what the other operations do with SDMX structures (docs/design.md
//! section 8): a release records what its content check found; a pull checks a structure
//! message against the structures held here before holding it, and data against the very
//! structure message their owner checked them against; `audit` checks both again.

use std::io::Read as _;

use datapact_protocol::sdmx::resolve::MAX_STRUCTURE_MESSAGE_LEN;
use datapact_protocol::sdmx::{DataValidator, StructureSet, ValidationReport};
use datapact_protocol::{DatasetId, Digest, SignedAnnouncement, StructureRef};

use tokio::task::JoinError;

use super::{Context, OpError, Operation, Progress, blocking};
use crate::api::{ErrorKind, StructureCheck, StructureEntry, StructureUsed, Structures};
use crate::store::blobs::COPY_BUFFER;
use crate::store::structures::content_check::{CheckError, CheckedContent, check_against};
use crate::store::{Store, StoreError};

/// Why `structures` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StructuresError {
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The store task ended before it finished.
    #[error("structures interrupted: {0}")]
    Interrupted(#[from] JoinError),
}

impl OpError for StructuresError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Failed
    }
}

/// `datapact structures`: every data structure definition and dataflow that the structure
/// messages held here define, in the order they were recorded. Read on the blocking pool.
pub async fn list(ctx: &Context) -> Result<Vec<StructureEntry>, StructuresError> {
    blocking(ctx, |ctx| listed(&ctx.store)).await
}

fn listed(store: &Store) -> Result<Vec<StructureEntry>, StructuresError> {
    let mut out = Vec::new();
    for held in store.held_structures()? {
        for info in held.defines {
            out.push(StructureEntry {
                id: info.id,
                kind: info.kind,
                name: info.name,
                dimensions: info.dimensions,
                partial: info.partial,
                owner: held.dataset.owner.clone(),
                dataset: held.dataset.to_string(),
            });
        }
    }
    Ok(out)
}

impl Operation for Structures {
    type Error = StructuresError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<Vec<StructureEntry>, Self::Error> {
        list(ctx).await
    }
}

/// The listing form of the structure an announcement records.
pub fn used(structure: &StructureRef) -> StructureUsed {
    StructureUsed {
        id: structure.id.clone(),
        dsd: structure.dsd.clone(),
        sha256: structure.sha256.to_string(),
    }
}

/// Records a structure release `id` whose content `sha256` the release check accepted: checks
/// it against the structure releases recorded since that check (another release may have
/// come meanwhile), then indexes it. Call under the release lock, before the record is stored.
pub(crate) fn record_release(
    store: &Store,
    checked: &CheckedContent,
    id: &DatasetId,
    sha256: &Digest,
) -> Result<(), CheckError> {
    let CheckedContent::Structure {
        defines,
        set,
        checked_against,
    } = checked
    else {
        return Ok(());
    };
    let mut newer = store.held_structures()?;
    newer.retain(|h| !checked_against.contains(&h.dataset));
    check_against(store, set, &newer)?;
    Ok(store.put_structure(id, sha256, defines)?)
}

/// Why a pulled dataset was not kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceivedError {
    /// The content was refused: its structure message is not valid or contradicts a held
    /// one, or the data do not match their structure.
    #[error("{id} was pulled but not kept: {source}")]
    Refused {
        /// The dataset.
        id: String,
        /// Why (boxed: a validation report is large).
        source: Box<CheckError>,
    },
    /// The content defines other structures than its announcement lists.
    #[error(
        "{id} was pulled but not kept: its announcement lists the structures {announced}, but \
         its content defines {found}"
    )]
    Mismatch {
        /// The dataset.
        id: String,
        /// What the owner announced.
        announced: String,
        /// What the message defines.
        found: String,
    },
    /// The check could not run.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The check task ended before it finished.
    #[error("structure check interrupted: {0}")]
    Interrupted(#[from] JoinError),
}

/// What a pull made of the structure its dataset involves, for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The outcome.
    pub check: StructureCheck,
    /// Why the data were not validated, when they were not.
    pub note: Option<String>,
}

/// Checks a dataset whose content was just pulled and verified, before it is recorded as
/// held: a structure message is parsed, compared with what its announcement lists and
/// checked for consistency against the structures held here, then indexed; data that name a
/// structure are validated against the structure message with the recorded digest when it is
/// held here. A refused content is removed (unless another dataset holds the same bytes).
pub async fn check_pulled(
    ctx: &Context,
    signed: &SignedAnnouncement,
) -> Result<Option<Received>, ReceivedError> {
    let signed = signed.clone();
    blocking(ctx, move |ctx| {
        let outcome = check_pulled_blocking(&ctx.store, &signed);
        if matches!(
            outcome,
            Err(ReceivedError::Refused { .. } | ReceivedError::Mismatch { .. })
        ) {
            let a = signed.body();
            ctx.store.discard_refused_content(&a.id(), &a.sha256)?;
        }
        outcome
    })
    .await
}

fn check_pulled_blocking(
    store: &Store,
    signed: &SignedAnnouncement,
) -> Result<Option<Received>, ReceivedError> {
    let a = signed.body();
    let id = a.id();
    let refused = |source: CheckError| ReceivedError::Refused {
        id: id.to_string(),
        source: Box::new(source),
    };
    if !a.meta.structures.is_empty() {
        let set = read_structure(store, &a.sha256).map_err(refused)?;
        let found = set.defined_ids();
        if found != a.meta.structures {
            return Err(ReceivedError::Mismatch {
                id: id.to_string(),
                announced: a.meta.structures.join(", "),
                found: found.join(", "),
            });
        }
        let held = store.held_structures()?;
        check_against(store, &set, &held).map_err(refused)?;
        store.put_structure(&id, &a.sha256, &set.infos())?;
        return Ok(Some(Received {
            check: StructureCheck::Held,
            note: None,
        }));
    }
    let Some(structure) = &a.meta.structure else {
        return Ok(None);
    };
    match judge(store, signed, structure)? {
        Judged::Valid => Ok(Some(Received {
            check: StructureCheck::Validated,
            note: None,
        })),
        Judged::Invalid(report) => Err(refused(CheckError::Invalid {
            structure: structure.id.clone(),
            report: Box::new(report),
        })),
        Judged::Conflict(note) => Ok(Some(Received {
            check: StructureCheck::Conflict,
            note: Some(note),
        })),
        Judged::NotHeld => Ok(Some(Received {
            check: StructureCheck::NotHeld,
            note: Some(format!(
                "structure {} is not held here; the data were not validated against it",
                structure.id
            )),
        })),
    }
}

/// The structure message stored as `sha256`, parsed.
fn read_structure(store: &Store, sha256: &Digest) -> Result<StructureSet, CheckError> {
    let bytes = store.read_small_content(sha256, MAX_STRUCTURE_MESSAGE_LEN)?;
    datapact_protocol::sdmx::parse_structure_message(&bytes).map_err(CheckError::Structure)
}

/// What the data of a dataset are, judged against the structure they name.
enum Judged {
    /// Valid against the structure message with the recorded digest.
    Valid,
    /// Not valid against it.
    Invalid(ValidationReport),
    /// That message is not held, but another one under the same id is.
    Conflict(String),
    /// No structure under that id is held.
    NotHeld,
}

/// Validates the stored content of `signed` against the structure message `structure` names
/// by digest, when that message is held here.
fn judge(
    store: &Store,
    signed: &SignedAnnouncement,
    structure: &StructureRef,
) -> Result<Judged, StoreError> {
    let Some(held) = store.held_structure_with_digest(&structure.sha256)? else {
        let mut others = store.held_structures_defining(&structure.id)?;
        others.extend(store.held_structures_defining(&structure.dsd)?);
        return Ok(match others.first() {
            Some(other) => Judged::Conflict(format!(
                "structure {} held here (from {}, sha256 {}) is not the structure message the \
                 owner checked these data against (sha256 {}); they were not validated against it",
                structure.id, other.dataset, other.sha256, structure.sha256
            )),
            None => Judged::NotHeld,
        });
    };
    let set = store.structure_set(&held)?;
    let report = validate_content(store, &signed.body().sha256, set)?;
    Ok(if report.is_valid() {
        Judged::Valid
    } else {
        Judged::Invalid(report)
    })
}

/// Streams the stored content `sha256` through a validator of `set`.
fn validate_content(
    store: &Store,
    sha256: &Digest,
    set: StructureSet,
) -> Result<ValidationReport, StoreError> {
    let mut file = store.blobs().open_read(sha256)?;
    let mut validator = DataValidator::new(set);
    let mut buf = vec![0u8; COPY_BUFFER];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        validator.feed(&buf[..n]);
        if validator.is_stopped() {
            break;
        }
    }
    Ok(validator.finish())
}

/// What `audit` found about a dataset's structure.
pub enum Finding {
    /// A failure: the content does not hold to its structure.
    Failure(String),
    /// A note: the structure could not be checked.
    Note(String),
}

/// Audits a held dataset's structure again: a structure message must still parse and define
/// what its announcement lists; data must still validate against the structure message they
/// were checked against, when it is held here.
pub fn audit(store: &Store, signed: &SignedAnnouncement) -> Option<Finding> {
    let a = signed.body();
    if !a.meta.structures.is_empty() {
        return match read_structure(store, &a.sha256) {
            Err(e) => Some(Finding::Failure(format!(
                "structure message does not hold: {e}"
            ))),
            Ok(set) if set.defined_ids() != a.meta.structures => Some(Finding::Failure(
                "structure message defines other structures than its announcement lists".into(),
            )),
            Ok(_) => None,
        };
    }
    let structure = a.meta.structure.as_ref()?;
    match judge(store, signed, structure) {
        Ok(Judged::Valid | Judged::NotHeld) => None,
        Ok(Judged::Invalid(report)) => Some(Finding::Failure(
            CheckError::Invalid {
                structure: structure.id.clone(),
                report: Box::new(report),
            }
            .to_string(),
        )),
        Ok(Judged::Conflict(note)) => Some(Finding::Note(note)),
        Err(e) => Some(Finding::Failure(format!(
            "cannot check it against structure {}: {e}",
            structure.id
        ))),
    }
}

#[cfg(test)]
#[path = "structures_tests.rs"]
mod tests;
