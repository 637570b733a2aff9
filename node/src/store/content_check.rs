//! What `release` checks in a file while it is imported, alongside hashing (docs/design.md
//! section 8), so that a refused file stores nothing and a large file is read once:
//!
//! * an SDMX structure message (JSON whose `data` holds `dataStructures`, or SDMX-ML) is
//!   parsed and validated, then checked for consistency against every structure held here;
//! * SDMX-CSV data whose `STRUCTURE_ID` names a structure held here is validated against it,
//!   row by row, with bounded memory;
//! * other SDMX-CSV gets the syntax check alone, and says so (or is refused when a structure
//!   is required);
//! * any other file is stored as it is.
//!
//! The choice is made on the first bytes of the file ([`ImportCheck::feed`] gets the first
//! [`crate::store::blobs::COPY_BUFFER`] bytes first).

use datapact_protocol::StructureRef;
use datapact_protocol::announcement::MAX_META_STRUCTURES;
use datapact_protocol::sdmx::resolve::MAX_STRUCTURE_MESSAGE_LEN;
use datapact_protocol::sdmx::{
    ConsistencyError, DataValidator, SdmxError, SdmxSummary, SdmxValidator, StructureError,
    StructureInfo, StructureSet, ValidationReport, check_consistency, looks_like_sdmx,
    looks_like_structure_message, parse_structure_message, structure_named,
};
use datapact_protocol::{DatasetId, Digest};

use super::HeldStructure;
use crate::store::{Store, StoreError};

/// Reads a file's content while it is imported, and may refuse it: then nothing is stored.
pub trait ImportCheck {
    /// The next bytes of the content, in order from the first.
    fn feed(&mut self, bytes: &[u8]) -> Result<(), CheckError>;
    /// The content is complete (and not yet stored).
    fn finish(&mut self) -> Result<(), CheckError>;
}

/// Why a check refused a file (or could not run).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The file looks like SDMX-CSV and a record is malformed.
    #[error(transparent)]
    Syntax(#[from] SdmxError),
    /// The data do not match the structure they name.
    #[error("{}", invalid_message(structure, report))]
    Invalid {
        /// The structure id the data name, as written.
        structure: String,
        /// What the validation found.
        report: Box<ValidationReport>,
    },
    /// The file is a structure message, and not a valid one.
    #[error("not a valid SDMX structure message: {0}")]
    Structure(StructureError),
    /// The structure message contradicts a structure held here.
    #[error("{error} (held from {dataset})")]
    Inconsistent {
        /// The contradiction, with the path of the offending element.
        error: Box<ConsistencyError>,
        /// The held structure release it contradicts.
        dataset: DatasetId,
    },
    /// The structure message defines more structures than an announcement records.
    #[error(
        "the structure message defines {0} data structure definitions and dataflows; at most \
         {MAX_META_STRUCTURES} are recorded per release: split it"
    )]
    TooManyDefinitions(usize),
    /// A structure is required, and the one the data name is not held here.
    #[error(
        "structure {0} is not held here, and a structure is required (--require-structure or \
         require_structure in the config): release the structure here, or pull it from its \
         owner, first"
    )]
    NotHeld(String),
    /// The structures held here could not be read.
    #[error("cannot read the structures held here: {0}")]
    Store(#[from] StoreError),
}

/// One line for the user: the structure, the first errors, and how many more there were.
fn invalid_message(structure: &str, report: &ValidationReport) -> String {
    let count = report.error_count();
    let plural = if count == 1 { "" } else { "s" };
    let mut text = format!("{count} error{plural} against structure {structure}: ");
    let listed: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    text.push_str(&listed.join("; "));
    if report.more_errors > 0 {
        text.push_str(&format!("; ... and {} more errors", report.more_errors));
    }
    text
}

/// What the check found out about a file it accepted.
#[derive(Debug, Default)]
pub enum CheckedContent {
    /// Neither SDMX-CSV nor a structure message.
    #[default]
    Plain,
    /// SDMX-CSV checked for syntax only.
    Syntax {
        /// What the syntax check read.
        summary: SdmxSummary,
        /// Why only the syntax was checked, for the user, when the data name a structure.
        note: Option<String>,
    },
    /// SDMX-CSV validated against a held structure.
    Data {
        /// What the syntax check read.
        summary: SdmxSummary,
        /// The structure the data were validated against.
        structure: StructureRef,
    },
    /// A structure message, consistent with the structures held here.
    Structure {
        /// What it defines, data structure definitions first.
        defines: Vec<StructureInfo>,
        /// The parsed message, to check again against structures recorded meanwhile.
        set: Box<StructureSet>,
        /// The held structure releases it was checked against.
        checked_against: Vec<DatasetId>,
    },
}

/// Where the check stands.
enum Mode {
    /// Nothing read yet.
    Start,
    /// Stored as it is.
    Plain,
    /// Maybe a structure message: its bytes so far (at most [`MAX_STRUCTURE_MESSAGE_LEN`]).
    MaybeStructure(Vec<u8>),
    /// SDMX-CSV whose structure is not held here.
    Syntax {
        /// The syntax check.
        validator: SdmxValidator,
        /// The structure id the first data row names, for the note (unknown when that row
        /// is not in the first piece).
        named: Option<String>,
    },
    /// SDMX-CSV validated against a held structure, with the syntax check beside it for the
    /// summary the announcement records (its first error is kept: the validation report
    /// covers the same records and says more).
    Data {
        /// The validation against the structure.
        validator: Box<DataValidator>,
        /// The syntax check, until it fails.
        syntax: Option<SdmxValidator>,
        /// Its first error, reported only if the validation passes.
        syntax_error: Option<SdmxError>,
        /// The structure id the first data row names, as written.
        named: String,
        /// Digest of the structure message validated against, for the announcement.
        held: Digest,
    },
    /// Finished.
    Done,
}

/// The check `release` runs on a file: see the module doc.
pub struct ReleaseCheck<'a> {
    /// Where the structures held here are looked up.
    store: &'a Store,
    /// Refuse SDMX-CSV whose structure is not held, rather than check its syntax only.
    require_structure: bool,
    /// What is being checked, chosen from the first bytes.
    mode: Mode,
    /// What the check found, once finished.
    checked: CheckedContent,
}

impl<'a> ReleaseCheck<'a> {
    /// A check against the structures `store` holds.
    pub fn new(store: &'a Store, require_structure: bool) -> Self {
        Self {
            store,
            require_structure,
            mode: Mode::Start,
            checked: CheckedContent::Plain,
        }
    }

    /// What the check found, once the import succeeded.
    pub fn into_checked(self) -> CheckedContent {
        self.checked
    }

    /// Chooses what to check from the start of the file.
    fn start(&mut self, first: &[u8]) -> Result<Mode, CheckError> {
        let text = first
            .strip_prefix(b"\xef\xbb\xbf".as_slice())
            .unwrap_or(first);
        match text.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{' | b'<') => return Ok(Mode::MaybeStructure(Vec::new())),
            _ if !looks_like_sdmx(first) => return Ok(Mode::Plain),
            _ => {}
        }
        let Some((kind, named)) = structure_named(first) else {
            return Ok(Mode::Syntax {
                validator: SdmxValidator::new(),
                named: None,
            });
        };
        match self.find_held(kind.as_deref(), &named)? {
            Some((held, set)) => Ok(Mode::Data {
                validator: Box::new(DataValidator::new(set)),
                syntax: Some(SdmxValidator::new()),
                syntax_error: None,
                named,
                held: held.sha256,
            }),
            None if self.require_structure => Err(CheckError::NotHeld(named)),
            None => Ok(Mode::Syntax {
                validator: SdmxValidator::new(),
                named: Some(named),
            }),
        }
    }

    /// The first recorded held structure release that defines `id` (of `kind`, when the data say
    /// `dataflow` or `datastructure`), parsed.
    fn find_held(
        &self,
        kind: Option<&str>,
        id: &str,
    ) -> Result<Option<(HeldStructure, StructureSet)>, CheckError> {
        let found = self
            .store
            .held_structures_defining(id)?
            .into_iter()
            .find(|held| {
                held.defines.iter().any(|info| {
                    info.id == id
                        && match kind {
                            Some(k @ ("dataflow" | "datastructure")) => info.kind.as_str() == k,
                            _ => true,
                        }
                })
            });
        match found {
            Some(held) => {
                let set = self.store.structure_set(&held)?;
                Ok(Some((held, set)))
            }
            None => Ok(None),
        }
    }

    /// Checks a complete structure message.
    fn finish_structure(&self, bytes: &[u8]) -> Result<CheckedContent, CheckError> {
        if !looks_like_structure_message(bytes) {
            return Ok(CheckedContent::Plain);
        }
        let set = match parse_structure_message(bytes) {
            Ok(set) => set,
            // JSON or XML that mentions structures without being a structure message (no
            // `data.dataStructures`, another root element) is a file like any other.
            Err(StructureError::OtherDocument { .. }) => return Ok(CheckedContent::Plain),
            Err(e) => return Err(CheckError::Structure(e)),
        };
        let defines = set.infos();
        if defines.len() > MAX_META_STRUCTURES {
            return Err(CheckError::TooManyDefinitions(defines.len()));
        }
        let held = self.store.held_structures()?;
        check_against(self.store, &set, &held)?;
        Ok(CheckedContent::Structure {
            defines,
            set: Box::new(set),
            checked_against: held.into_iter().map(|h| h.dataset).collect(),
        })
    }
}

/// Checks `set` for consistency with each of the `held` structure releases.
pub fn check_against(
    store: &Store,
    set: &StructureSet,
    held: &[HeldStructure],
) -> Result<(), CheckError> {
    for h in held {
        let old = store.structure_set(h)?;
        check_consistency(set, [&old]).map_err(|error| CheckError::Inconsistent {
            error: Box::new(error),
            dataset: h.dataset.clone(),
        })?;
    }
    Ok(())
}

impl ImportCheck for ReleaseCheck<'_> {
    fn feed(&mut self, bytes: &[u8]) -> Result<(), CheckError> {
        if matches!(self.mode, Mode::Start) {
            self.mode = self.start(bytes)?;
        }
        match &mut self.mode {
            Mode::Start | Mode::Plain | Mode::Done => Ok(()),
            Mode::MaybeStructure(buffer) => {
                if buffer.len() + bytes.len() <= MAX_STRUCTURE_MESSAGE_LEN {
                    buffer.extend_from_slice(bytes);
                } else if looks_like_structure_message(buffer) {
                    return Err(CheckError::Structure(StructureError::TooLarge {
                        max: MAX_STRUCTURE_MESSAGE_LEN,
                    }));
                } else {
                    self.mode = Mode::Plain;
                }
                Ok(())
            }
            Mode::Syntax { validator, .. } => Ok(validator.feed(bytes)?),
            Mode::Data {
                validator,
                syntax,
                syntax_error,
                ..
            } => {
                validator.feed(bytes);
                if let Some(s) = syntax
                    && let Err(e) = s.feed(bytes)
                {
                    *syntax_error = Some(e);
                    *syntax = None;
                }
                Ok(())
            }
        }
    }

    fn finish(&mut self) -> Result<(), CheckError> {
        self.checked = match std::mem::replace(&mut self.mode, Mode::Done) {
            Mode::Start | Mode::Plain | Mode::Done => CheckedContent::Plain,
            Mode::MaybeStructure(bytes) => self.finish_structure(&bytes)?,
            Mode::Syntax { validator, named } => {
                let summary = validator.finish()?;
                let named = named.unwrap_or_else(|| summary.structure_id.clone());
                if self.require_structure {
                    return Err(CheckError::NotHeld(named));
                }
                let note =
                    format!("structure {named} is not held here; checked SDMX-CSV syntax only");
                CheckedContent::Syntax {
                    summary,
                    note: Some(note),
                }
            }
            Mode::Data {
                validator,
                syntax,
                syntax_error,
                named,
                held,
            } => {
                let report = validator.finish();
                if !report.is_valid() {
                    return Err(CheckError::Invalid {
                        structure: named,
                        report: Box::new(report),
                    });
                }
                let summary = match (syntax_error, syntax) {
                    (Some(e), _) => return Err(e.into()),
                    (None, Some(s)) => s.finish()?,
                    // One of the two is always set.
                    (None, None) => return Err(CheckError::Syntax(SdmxError::Empty { line: 1 })),
                };
                let dsd = report.dsd.map(|d| d.to_string()).unwrap_or_default();
                CheckedContent::Data {
                    summary,
                    structure: StructureRef {
                        id: report.structure_id.unwrap_or(named),
                        dsd,
                        sha256: held,
                    },
                }
            }
        };
        Ok(())
    }
}
