//! `datapact compare STRUCTURE_ID`: one indicator across the federation (docs/design.md
//! section 10). The node gathers what it holds (the structure message that defines the id,
//! and every dataset with its content here, not revoked or expired), reads the contents of
//! those the comparison takes in chunks on the blocking pool, and hands everything to the pure
//! [`datapact_protocol::compare::Comparer`], which decides and lays the table out.

use std::io::Read as _;

use datapact_protocol::compare::{self, Candidate, Comparer, Comparison, OptionsError};
use datapact_protocol::sdmx::model::ArtefactRef;
use tokio::task::JoinError;

use super::{Context, OpError, Operation, Progress, blocking};
use crate::api::{Compare, ErrorKind};
use crate::store::blobs::COPY_BUFFER;
use crate::store::{Store, StoreError, now};

/// Why `compare` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompareError {
    /// A structure id, dimension or code that is not right: bad input.
    #[error("{0}")]
    Options(#[from] OptionsError),
    /// The comparison could not be made.
    #[error("{0}")]
    Compare(compare::CompareError),
    /// Datasets name the structure, but its structure message is not held here.
    #[error(
        "structure {0} is not held here: pull the structure release that defines it (see \
         `datapact catalog`), then compare"
    )]
    StructureNotHeld(String),
    /// Nothing held here follows the structure.
    #[error("this node holds no dataset with structure {0}")]
    NothingHeld(String),
    /// A content could not be read.
    #[error("cannot read the content of {id}: {source}")]
    Read {
        /// The dataset.
        id: String,
        /// Why.
        source: std::io::Error,
    },
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The task reading the store ended before it finished.
    #[error("compare interrupted: {0}")]
    Interrupted(#[from] JoinError),
}

impl From<compare::CompareError> for CompareError {
    fn from(e: compare::CompareError) -> Self {
        match e {
            compare::CompareError::Options(options) => CompareError::Options(options),
            other => CompareError::Compare(other),
        }
    }
}

impl OpError for CompareError {
    fn kind(&self) -> ErrorKind {
        match self {
            CompareError::Options(_) => ErrorKind::BadInput,
            _ => ErrorKind::Failed,
        }
    }
}

impl Operation for Compare {
    type Error = CompareError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<Comparison, CompareError> {
        blocking(ctx, move |ctx| compared(&ctx.store, &self)).await
    }
}

/// The comparison `request` asks for, from what `store` holds.
fn compared(store: &Store, request: &Compare) -> Result<Comparison, CompareError> {
    let asked = request.structure.trim();
    asked.parse::<ArtefactRef>().map_err(OptionsError::from)?;
    let candidates = candidates(store)?;
    let Some(held) = store.held_structures_defining(asked)?.into_iter().next() else {
        let named = candidates.iter().any(|c| names(c, asked));
        return Err(if named {
            CompareError::StructureNotHeld(asked.to_owned())
        } else {
            CompareError::NothingHeld(asked.to_owned())
        });
    };
    let set = store.structure_set(&held)?;
    let mut comparer = Comparer::new(&set, asked, held.sha256, &request.options)?;
    let chosen = comparer.select(candidates);
    if chosen.is_empty() && comparer.left_out().is_empty() {
        return Err(CompareError::NothingHeld(asked.to_owned()));
    }
    for candidate in chosen {
        let sha256 = candidate.sha256;
        let id = candidate.dataset.to_string();
        comparer.read(candidate, |reader| feed(store, &sha256, &id, reader))?;
        if comparer.is_full() {
            break;
        }
    }
    Ok(comparer.finish()?)
}

/// Whether `candidate` names the structure `asked` anywhere in its metadata.
fn names(candidate: &Candidate, asked: &str) -> bool {
    let meta = &candidate.meta;
    meta.sdmx_structure.as_deref() == Some(asked)
        || meta
            .structure
            .as_ref()
            .is_some_and(|s| s.id == asked || s.dsd == asked)
}

/// Streams the stored content `sha256` into `reader`, until it has read enough.
fn feed(
    store: &Store,
    sha256: &datapact_protocol::Digest,
    id: &str,
    reader: &mut compare::DatasetReader<'_>,
) -> Result<(), CompareError> {
    let read_error = |source| CompareError::Read {
        id: id.to_owned(),
        source,
    };
    let mut file = store
        .blobs()
        .open_read(sha256)
        .map_err(|e| CompareError::Store(e.into()))?;
    let mut buf = vec![0u8; COPY_BUFFER];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        };
        if !reader.feed(buf.get(..n).unwrap_or_default()) {
            return Ok(());
        }
    }
}

/// Every dataset whose content is here and that is neither revoked nor expired.
fn candidates(store: &Store) -> Result<Vec<Candidate>, CompareError> {
    let now = now();
    let mut out = Vec::new();
    for (_, record) in store.datasets()? {
        if !record.has_content || record.revocation.is_some() {
            continue;
        }
        // A record whose announcement no longer verifies is audit's to report, not compared.
        let Ok(signed) = record.announcement() else {
            continue;
        };
        let a = signed.body();
        if a.policy.is_expired(now) {
            continue;
        }
        out.push(Candidate {
            dataset: a.id(),
            issued_at: a.issued_at,
            meta: a.meta.clone(),
            licence: a.policy.licence.clone(),
            sha256: a.sha256,
        });
    }
    Ok(out)
}
