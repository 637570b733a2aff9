//! `release FILE --suppress-below N`: disclosure control at release (docs/design.md section 10).
//!
//! The owner's file is read into memory (a table of counts is small: at most
//! [`MAX_PROTECTED_TABLE_LEN`] bytes) and checked as any release is, then protected by
//! `datapact_protocol::disclosure::protect`, with the codelist hierarchy of the structure the
//! data declare when the node holds it, and with what earlier versions of the same name
//! published as the attacker's knowledge. Only the protected table reaches the blob store: the
//! unprotected values never leave the file they came from. What the owner keeps of the
//! protection (which cells were primary) goes to the store's protection record, never to the
//! announcement.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use datapact_protocol::disclosure::sdmx_csv::{
    CsvRecord, SdmxCountTable, read_count_table, read_published, split_records, write_records,
};
use datapact_protocol::disclosure::{CellOutcome, DisclosureError, PublishedTable, protect};
use datapact_protocol::sdmx::model::{Dsd, Representation};
use datapact_protocol::sdmx::{ArtefactRef, StructureSet};
use datapact_protocol::{ContentDigest, DatasetName, MemberCode, StructureRef};

use crate::store::blobs::{COPY_BUFFER, ImportError};
use crate::store::structures::content_check::{
    CheckError, CheckedContent, ImportCheck, ReleaseCheck,
};
use crate::store::{ProtectionRecord, Store, StoreError};

/// Largest file `--suppress-below` reads: far more than the most observations a protected
/// table may have (`MAX_TABLE_CELLS`) take as SDMX-CSV.
pub const MAX_PROTECTED_TABLE_LEN: usize = 64 << 20;

/// The attribute a protected table marks its confidential cells with.
const CONF_STATUS: &str = "CONF_STATUS";

/// Why a table could not be protected (or its protection not recorded).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtectError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}", path = .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The file is larger than a table of counts can be.
    #[error(
        "{path}: larger than {MAX_PROTECTED_TABLE_LEN} bytes, more than a table of counts \
         --suppress-below protects",
        path = .0.display()
    )]
    TooLarge(PathBuf),
    /// The file is not SDMX-CSV.
    #[error(
        "{path}: --suppress-below protects an SDMX-CSV table of counts (a header starting \
         STRUCTURE, or DATAFLOW,), and this file is not one",
        path = .0.display()
    )]
    NotATable(PathBuf),
    /// The file, as any release, failed its content check.
    #[error("{0}")]
    Check(ImportError),
    /// The structure the data declare has nowhere to mark a confidential cell.
    #[error(
        "{path}: structure {structure} has no CONF_STATUS attribute, so the protected table \
         could not mark its suppressed cells as confidential: agree a version of the structure \
         with CONF_STATUS first",
        path = .path.display()
    )]
    NoConfStatus {
        /// The file.
        path: PathBuf,
        /// The data structure definition the data resolve to.
        structure: String,
    },
    /// The table cannot be protected: bad counts, totals it contradicts, a cell that earlier
    /// versions would disclose, a pattern that cannot be proven.
    #[error("{path}: {source}", path = .path.display())]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why.
        source: DisclosureError,
    },
    /// An earlier version of the name could not be read, so what it told the attacker is not
    /// known and the new version cannot be shown safe.
    #[error("cannot read version {version} of {name} to check the new one against it: {why}")]
    EarlierVersion {
        /// The dataset name.
        name: DatasetName,
        /// The earlier version.
        version: u64,
        /// What went wrong.
        why: String,
    },
    /// The structure the data were just validated against is no longer held (revoked
    /// meanwhile).
    #[error("structure {0} is no longer held here; release again")]
    StructureGone(String),
    /// Another version of the name was recorded while this one was being protected.
    #[error(
        "another version of {0} was released while this one was being protected; release again"
    )]
    VersionsChanged(DatasetName),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl ProtectError {
    /// Whether the operation failed (exit 1) rather than the input being bad (exit 2).
    pub fn is_failure(&self) -> bool {
        match self {
            ProtectError::Check(ImportError::Check { source, .. }) => {
                matches!(**source, CheckError::Store(_))
            }
            ProtectError::Check(ImportError::Store(_) | ImportError::NoSpace(_)) => true,
            ProtectError::EarlierVersion { .. }
            | ProtectError::StructureGone(_)
            | ProtectError::VersionsChanged(_)
            | ProtectError::Store(_) => true,
            _ => false,
        }
    }
}

/// A table protected for release, not yet stored.
#[derive(Debug)]
pub struct Protected {
    /// The protected table, the content that is released.
    pub table: Vec<u8>,
    /// What the owner keeps of the protection.
    pub record: ProtectionRecord,
    /// The earlier versions of the name it was checked against, to notice one recorded
    /// meanwhile.
    pub checked_against: Vec<u64>,
}

/// What `--suppress-below` needs to know about the release.
pub struct Protecting<'a> {
    /// The owner (us).
    pub owner: &'a MemberCode,
    /// The dataset name, whose earlier versions count as known.
    pub name: &'a DatasetName,
    /// N.
    pub threshold: u64,
    /// Refuse data whose structure is not held here.
    pub require_structure: bool,
}

/// Reads, checks and protects the table at `path`.
pub fn protect_file(
    store: &Store,
    path: &Path,
    how: &Protecting<'_>,
) -> Result<Protected, ProtectError> {
    if how.threshold < 2 {
        let source = DisclosureError::ThresholdTooLow(how.threshold);
        return Err(refused(path, source));
    }
    let bytes = read_bounded(path)?;
    let checked =
        check_bytes(store, &bytes, how.require_structure).map_err(|e| check_error(path, e))?;
    let structure = match &checked {
        CheckedContent::Data { structure, .. } => Some(held_dsd(store, path, structure)?),
        CheckedContent::Syntax { .. } => None,
        _ => return Err(ProtectError::NotATable(path.to_owned())),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| ProtectError::NotATable(path.into()))?;
    let records = split_records(text).map_err(|e| refused(path, e))?;
    let Some((header, rows)) = records.split_first() else {
        return Err(ProtectError::NotATable(path.to_owned()));
    };
    let dimensions = structure.as_ref().map(|(_, dsd)| dsd.dimension_ids());
    let mut read =
        read_count_table(header, rows, dimensions.as_deref()).map_err(|e| refused(path, e))?;
    if let Some((set, dsd)) = &structure {
        set_hierarchies(&mut read, set, dsd).map_err(|e| refused(path, e))?;
    }
    let (earlier, checked_against) = earlier_versions(store, how, read.table.dimensions())?;
    let protection = protect(&read.table, how.threshold, &earlier).map_err(|e| refused(path, e))?;
    let table = write_records(&read.protected_rows(&protection)).into_bytes();
    let primary_cells = read
        .table
        .cells()
        .iter()
        .zip(&protection.outcomes)
        .filter(|(_, outcome)| **outcome == CellOutcome::Primary)
        .map(|(cell, _)| cell.key.clone())
        .collect();
    let summary = protection.summary;
    Ok(Protected {
        table,
        record: ProtectionRecord {
            threshold: how.threshold,
            dimensions: read.table.dimensions().to_vec(),
            primary_cells,
            secondary: summary.secondary as u64,
            already_confidential: summary.already_confidential as u64,
            suppressed_cells: summary.suppressed_cells as u64,
            suppressed_value: summary.suppressed_value,
        },
        checked_against,
    })
}

fn refused(path: &Path, source: DisclosureError) -> ProtectError {
    ProtectError::Refused {
        path: path.to_owned(),
        source,
    }
}

fn check_error(path: &Path, error: CheckError) -> ProtectError {
    ProtectError::Check(ImportError::Check {
        path: path.to_owned(),
        source: Box::new(error),
    })
}

/// The whole file, refused when larger than [`MAX_PROTECTED_TABLE_LEN`].
fn read_bounded(path: &Path) -> Result<Vec<u8>, ProtectError> {
    let read_error = |source| ProtectError::Read {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    let limit = MAX_PROTECTED_TABLE_LEN as u64 + 1;
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() > MAX_PROTECTED_TABLE_LEN {
        return Err(ProtectError::TooLarge(path.to_owned()));
    }
    Ok(bytes)
}

/// Runs the release's content check on `bytes` as if they were imported, storing nothing.
pub fn check_bytes(
    store: &Store,
    bytes: &[u8],
    require_structure: bool,
) -> Result<CheckedContent, CheckError> {
    let mut check = ReleaseCheck::new(store, require_structure);
    for piece in bytes.chunks(COPY_BUFFER) {
        check.feed(piece)?;
    }
    check.finish()?;
    Ok(check.into_checked())
}

/// Stores `bytes` (the protected table) as a blob, checked on the way as any release is.
pub fn import_bytes(
    store: &Store,
    path: &Path,
    bytes: &[u8],
    require_structure: bool,
) -> Result<(ContentDigest, CheckedContent), ImportError> {
    let what = format!("releasing the protected table of {}", path.display());
    match store.ensure_room(&what, bytes.len() as u64) {
        Ok(()) => {}
        Err(StoreError::NoSpace(no_space)) => return Err(ImportError::NoSpace(no_space)),
        Err(StoreError::Io(e)) => return Err(ImportError::Store(e)),
        Err(other) => return Err(ImportError::Store(io::Error::other(other.to_string()))),
    }
    let mut check = ReleaseCheck::new(store, require_structure);
    let mut writer = store.blobs().writer()?;
    for piece in bytes.chunks(COPY_BUFFER) {
        check.feed(piece).map_err(|e| import_check(path, e))?;
        writer.write(piece)?;
    }
    check.finish().map_err(|e| import_check(path, e))?;
    let digest = writer.commit()?;
    Ok((digest, check.into_checked()))
}

fn import_check(path: &Path, error: CheckError) -> ImportError {
    ImportError::Check {
        path: path.to_owned(),
        source: Box::new(error),
    }
}

/// The structure message the data were validated against, and the data structure definition
/// they resolve to; refuses one without a `CONF_STATUS` attribute.
fn held_dsd(
    store: &Store,
    path: &Path,
    structure: &StructureRef,
) -> Result<(StructureSet, Dsd), ProtectError> {
    let gone = || ProtectError::StructureGone(structure.dsd.clone());
    let held = store
        .held_structure_with_digest(&structure.sha256)?
        .ok_or_else(gone)?;
    let set = store.structure_set(&held)?;
    let reference: ArtefactRef = structure.dsd.parse().map_err(|_| gone())?;
    let dsd = set.dsd(&reference).cloned().ok_or_else(gone)?;
    if !dsd.attributes.iter().any(|a| a.component.id == CONF_STATUS) {
        return Err(ProtectError::NoConfStatus {
            path: path.to_owned(),
            structure: structure.dsd.clone(),
        });
    }
    Ok((set, dsd))
}

/// Declares, for each coded dimension whose codelist gives parents, that hierarchy.
fn set_hierarchies(
    read: &mut SdmxCountTable,
    set: &StructureSet,
    dsd: &Dsd,
) -> Result<(), DisclosureError> {
    for dimension in &dsd.dimensions {
        let Representation::Coded(reference) = &dimension.representation else {
            continue;
        };
        let Some(codelist) = set.codelist(reference) else {
            continue;
        };
        let parents: BTreeMap<String, String> = codelist
            .codes
            .iter()
            .filter_map(|code| Some((code.id.clone(), code.parent.clone()?)))
            .collect();
        if !parents.is_empty() {
            read.table.set_hierarchy(&dimension.id, parents)?;
        }
    }
    Ok(())
}

/// What every earlier version of the name published (as far as it is a table with these
/// dimensions: one that is not shares no cell), and the versions there were.
fn earlier_versions(
    store: &Store,
    how: &Protecting<'_>,
    dimensions: &[String],
) -> Result<(Vec<PublishedTable>, Vec<u64>), ProtectError> {
    let mut published = Vec::new();
    let mut versions = Vec::new();
    for (id, record) in store.versions(how.owner, how.name.as_str())? {
        versions.push(id.version);
        let unreadable = |why: String| ProtectError::EarlierVersion {
            name: how.name.clone(),
            version: id.version,
            why,
        };
        if !record.has_content {
            return Err(unreadable("its content is not held here".into()));
        }
        let signed = record
            .announcement()
            .map_err(|e| unreadable(e.to_string()))?;
        let a = signed.body();
        if a.size > MAX_PROTECTED_TABLE_LEN as u64 {
            return Err(unreadable(format!(
                "it is larger than {MAX_PROTECTED_TABLE_LEN} bytes"
            )));
        }
        let bytes = store
            .read_small_content(&a.sha256, MAX_PROTECTED_TABLE_LEN)
            .map_err(|e| unreadable(e.to_string()))?;
        if let Some(table) = as_published(&bytes, dimensions, id.version) {
            published.push(table);
        }
    }
    Ok((published, versions))
}

/// An earlier version's content as what it published; `None` when it is not a table of counts
/// with these dimensions.
fn as_published(bytes: &[u8], dimensions: &[String], version: u64) -> Option<PublishedTable> {
    let text = std::str::from_utf8(bytes).ok()?;
    let records: Vec<CsvRecord> = split_records(text).ok()?;
    let (header, rows) = records.split_first()?;
    read_published(header, rows, Some(dimensions), version).ok()
}
