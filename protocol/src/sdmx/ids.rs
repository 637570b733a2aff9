//! Well-formed SDMX ids and versions, as the SDMX information model defines them: what a
//! structure message may name its agencies, artefacts, components and codes.

use super::resolve::MAX_ID_LEN;

fn bounded(text: &str) -> bool {
    !text.is_empty() && text.chars().count() <= MAX_ID_LEN
}

/// A letter, then letters, digits, `_` or `-` (SDMX's NCName ids, used for components).
pub(crate) fn is_component_id(text: &str) -> bool {
    let mut chars = text.chars();
    bounded(text)
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Letters, digits, `_`, `@`, `$` or `-` (SDMX's IDType, used for codes).
pub(crate) fn is_code_id(text: &str) -> bool {
    bounded(text)
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '$' | '-'))
}

/// The id of a codelist, concept scheme, data structure or dataflow: an SDMX IDType.
pub(crate) fn is_artefact_id(text: &str) -> bool {
    is_code_id(text)
}

/// Component-like ids joined by dots (`OECD.SDD`).
pub(crate) fn is_agency(text: &str) -> bool {
    bounded(text) && text.split('.').all(is_component_id)
}

/// Numbers joined by dots (`1.0`, `1.0.0`), optionally with a `-` suffix (`1.0.0-draft`).
pub(crate) fn is_version(text: &str) -> bool {
    let (numbers, suffix) = match text.split_once('-') {
        Some((numbers, suffix)) => (numbers, Some(suffix)),
        None => (text, None),
    };
    let numbers_ok = numbers
        .split('.')
        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let suffix_ok = suffix
        .is_none_or(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'));
    text.len() <= 64 && numbers_ok && suffix_ok
}
