//! The methodology block of a comparison: per dataset compared, what its announcement says
//! about how the figures were made, completed from the data where the announcement is silent
//! (the UNIT_MEASURE codes with their names, the first and last time period).

use super::Structure;
use super::result::{Methodology, Protection};
use super::table::Compared;

/// The methodology of `dataset`.
pub(super) fn of(structure: &Structure<'_>, dataset: &Compared) -> Methodology {
    let candidate = &dataset.candidate;
    let meta = &candidate.meta;
    let observations = &dataset.observations;
    let unit = meta.unit.clone().or_else(|| {
        let units: Vec<String> = observations
            .units
            .iter()
            .map(|code| match structure.unit_name(code) {
                Some(name) => format!("{code} ({name})"),
                None => code.clone(),
            })
            .collect();
        (!units.is_empty()).then(|| units.join(", "))
    });
    let period = meta.period.clone().or_else(|| match &observations.periods {
        Some((first, last)) if first == last => Some(first.clone()),
        Some((first, last)) => Some(format!("{first} to {last}")),
        None => None,
    });
    Methodology {
        owner: candidate.dataset.owner.to_string(),
        dataset: candidate.dataset.to_string(),
        title: meta.title.clone(),
        source: meta.source.clone(),
        unit,
        period,
        description: meta.description.clone(),
        licence: candidate.licence.clone(),
        structure: meta
            .structure
            .as_ref()
            .map(|s| s.id.clone())
            .unwrap_or_default(),
        disclosure: meta.disclosure.as_ref().map(|d| Protection {
            rule: d.rule.clone(),
            threshold: d.threshold,
            suppressed: d.suppressed,
        }),
    }
}

/// The unit of the whole comparison: the one every dataset gives, or all of them.
pub(super) fn common_unit(methodology: &[Methodology]) -> Option<String> {
    let mut units: Vec<&str> = methodology
        .iter()
        .filter_map(|m| m.unit.as_deref())
        .collect();
    units.sort_unstable();
    units.dedup();
    (!units.is_empty()).then(|| units.join(" / "))
}
