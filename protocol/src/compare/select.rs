//! Which held datasets a comparison takes, by what their announcements record (docs/design.md
//! section 10): the newest version of each dataset whose data were validated against the
//! structure asked for (its dataflow or its data structure definition id), with the very
//! structure message this node holds. Datasets that name the structure but cannot be compared
//! honestly are left out with the reason: another version of the structure, data not
//! validated against it, or validated against another message under the same id.

use std::collections::{BTreeMap, HashSet};

use super::result::LeftOut;
use crate::sdmx::model::ArtefactRef;
use crate::{DatasetId, Digest, Meta};

/// A dataset this node holds (its own, or pulled and verified; not revoked or expired), with
/// what its announcement says.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Its id.
    pub dataset: DatasetId,
    /// When its owner signed it, unix seconds: among one owner's datasets reporting the same
    /// key, the most recently issued wins.
    pub issued_at: u64,
    /// Its metadata: the structure it was validated against, and its methodology.
    pub meta: Meta,
    /// Its licence, from its release policy.
    pub licence: Option<String>,
    /// SHA-256 of its content, by which the caller finds the content to read.
    pub sha256: Digest,
}

/// The structure a comparison is about, as this node holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The id asked for, as given.
    pub asked: String,
    /// The same, parsed.
    pub reference: ArtefactRef,
    /// The data structure definition it is or uses.
    pub dsd: ArtefactRef,
    /// SHA-256 of the structure message held here that defines it: data validated against
    /// another message under the same id may follow another definition.
    pub sha256: Digest,
}

/// What one candidate is to the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Compared.
    Compare,
    /// Names the structure but is not compared, for this reason.
    LeftOut(String),
    /// Has nothing to do with the structure.
    Unrelated,
}

/// Whether `text` is an `AGENCY:ID(VERSION)` naming the same artefact as `reference`, in any
/// version.
fn same_artefact(text: &str, reference: &ArtefactRef) -> bool {
    text.parse::<ArtefactRef>()
        .is_ok_and(|r| r.agency == reference.agency && r.id == reference.id)
}

impl Target {
    /// Whether `text` names the structure asked for or its data structure definition, in any
    /// version.
    fn related(&self, text: &str) -> bool {
        same_artefact(text, &self.reference) || same_artefact(text, &self.dsd)
    }

    /// What `candidate` is to this comparison.
    pub fn judge(&self, candidate: &Candidate) -> Verdict {
        let meta = &candidate.meta;
        if let Some(used) = &meta.structure {
            let matches = used.id == self.asked || used.dsd == self.asked;
            if matches && used.sha256 == self.sha256 {
                return Verdict::Compare;
            }
            if matches {
                return Verdict::LeftOut(format!(
                    "validated against another structure message under {} (sha256 {}) than the \
                     one held here (sha256 {})",
                    used.id, used.sha256, self.sha256
                ));
            }
            if used.dsd == self.dsd.to_string() {
                return Verdict::LeftOut(format!(
                    "declares {}, which uses the same data structure definition: compare {} to \
                     include it",
                    used.id, used.dsd
                ));
            }
            if self.related(&used.id) || self.related(&used.dsd) {
                return Verdict::LeftOut(format!(
                    "declares {}, another version of the structure",
                    used.id
                ));
            }
            return Verdict::Unrelated;
        }
        match &meta.sdmx_structure {
            Some(named) if self.related(named) => Verdict::LeftOut(format!(
                "its SDMX-CSV names {named} but was not validated against that structure at \
                 release"
            )),
            _ => Verdict::Unrelated,
        }
    }
}

/// The candidates a comparison reads, newest issued first, and those it leaves out.
#[derive(Debug, Default)]
pub struct Selection {
    /// To compare, the most recently issued first.
    pub chosen: Vec<Candidate>,
    /// Left out, with the reason.
    pub left_out: Vec<LeftOut>,
}

/// Takes the newest version of every dataset name, keeps those of `owners` (all when `None`)
/// and judges each against `target`.
pub fn select(
    target: &Target,
    candidates: Vec<Candidate>,
    owners: Option<&HashSet<String>>,
) -> Selection {
    let mut newest: BTreeMap<(String, String), Candidate> = BTreeMap::new();
    for candidate in candidates {
        let name = (
            candidate.dataset.owner.to_string(),
            candidate.dataset.name.to_string(),
        );
        match newest.get(&name) {
            Some(held) if held.dataset.version >= candidate.dataset.version => {}
            _ => {
                newest.insert(name, candidate);
            }
        }
    }
    let mut selection = Selection::default();
    for candidate in newest.into_values() {
        if owners.is_some_and(|o| !o.contains(candidate.dataset.owner.as_str())) {
            continue;
        }
        match target.judge(&candidate) {
            Verdict::Compare => selection.chosen.push(candidate),
            Verdict::LeftOut(reason) => selection.left_out.push(LeftOut {
                dataset: candidate.dataset.to_string(),
                reason,
            }),
            Verdict::Unrelated => {}
        }
    }
    selection.chosen.sort_by(|a, b| {
        b.issued_at
            .cmp(&a.issued_at)
            .then_with(|| a.dataset.to_string().cmp(&b.dataset.to_string()))
    });
    selection
}
