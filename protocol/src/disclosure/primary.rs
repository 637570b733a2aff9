//! The primary rule: which observations are too small to publish.
//!
//! A count is primary when 0 < count < N. Zeros are not (an empty cell identifies nobody), and
//! neither are cells without a count. An observation already marked confidential that carries a
//! small count is primary too: blanking it is not enough, it must be protected like the others.
//! One with a larger count is published empty and serves as a partner at no cost, but gets no
//! interval guarantee of its own: the contract protects small counts.

use super::error::DisclosureError;
use super::table::{CountTable, MAX_COUNT};

/// Refuses a threshold below 2 (nothing would be small) or beyond the largest count.
pub(crate) fn check_threshold(threshold: u64) -> Result<(), DisclosureError> {
    if threshold < 2 {
        return Err(DisclosureError::ThresholdTooLow(threshold));
    }
    if threshold > MAX_COUNT {
        return Err(DisclosureError::TooLarge(format!(
            "a threshold above the largest supported count {MAX_COUNT}"
        )));
    }
    Ok(())
}

/// Whether a count is primary under threshold N.
pub fn is_primary(count: u64, threshold: u64) -> bool {
    count > 0 && count < threshold
}

/// The positions (in the table) of the primary observations.
pub(crate) fn primary_cells(table: &CountTable, threshold: u64) -> Vec<usize> {
    table
        .cells()
        .iter()
        .enumerate()
        .filter(|(_, cell)| {
            cell.value
                .count()
                .is_some_and(|count| is_primary(count, threshold))
        })
        .map(|(position, _)| position)
        .collect()
}
