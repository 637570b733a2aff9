//! Statistical disclosure control at release: small counts never leave the owner's node,
//! neither directly nor by subtraction.
//!
//! Before a table of counts is released with a threshold N (`--suppress-below N`, N >= 2),
//! [`protect`] decides which observations to publish empty. Everything here is pure: no I/O,
//! no threads, the same answer for the same input.
//!
//! # The guarantee
//!
//! *Primary* cells are the observations with 0 < count < N. Imagine an attacker who knows every
//! published value, every value that earlier versions of the same dataset published, every
//! additive relation of the table, and that counts are non-negative integers. For every primary
//! cell, the smallest value that attacker can derive is 0 and the largest is at least N: they
//! cannot tell the cell from "none" or from "N or more". Primary and secondary cells are
//! published alike (empty, CONF_STATUS `C`), so nobody learns which were primary.
//!
//! # The table's relations
//!
//! The relations are derived from the data. Each dimension's codes are those that occur in the
//! table (plus, with a codelist hierarchy, their ancestors). At every combination of the other
//! dimensions, a dimension's `_T` is the sum of its other codes; with a hierarchy (code to
//! parent, per dimension), each parent is the sum of its children and `_T` the sum of the codes
//! without a parent. A `_T` with no sibling code imposes nothing. An observation absent from
//! the file is an unknown non-negative count in these sums, never a zero: the attacker does not
//! know it, and neither does the release. Tables with totals on any number of dimensions, and
//! hierarchies on any of them, are handled alike.
//!
//! # How the guarantee is proven
//!
//! The attacker's derivable interval for a cell is the minimum and maximum of an integer
//! program: the cell's value over all non-negative integer tables that agree with the
//! published values, the earlier versions and the relations. Rather than trusting a solver's
//! optimum, the release exhibits, for every primary cell, two *witnesses*: complete integer
//! tables that satisfy every relation exactly, keep every count non-negative, agree with every
//! value the attacker knows, and put the cell at 0 (the first) and at N or more (the second).
//! The attacker cannot rule out either table, so the minimum is 0 and the maximum at least N.
//! Every witness is checked in exact integer arithmetic just before the release is accepted;
//! no floating-point value, no linear-programming relaxation and no property of 2-D tables
//! (whose LP and integer bounds coincide) is part of the proof, so 3-D and hierarchical tables,
//! where LP bounds can overstate protection, are proven the same way.
//!
//! Witnesses are found, in order of cost, as:
//!
//! 1. a *box*: along each dimension a move that keeps that dimension's sums (raise a code and
//!    all its totals, or raise one code and lower a sibling), combined over the dimensions into
//!    a box of cells with alternating signs; changing the box by -v (v the cell's count) or by
//!    N - v gives both witnesses when the cells that decrease have enough count;
//! 2. several boxes stacked, each carrying part of the change;
//! 3. an integer solver (`microlp`, branch and bound): on a small neighbourhood of the cell
//!    when checking whether a cell may be published again, on every cell connected to it when
//!    no box exists at all. Its answer is only a candidate: one that does not check out
//!    exactly is discarded. A solver that fails or gives up leads to more suppression, or to a
//!    refusal, never to a weaker release.
//!
//! # Choosing the secondary cells
//!
//! Information loss is measured as the number of cells suppressed, then their total count.
//! Finding the least loss is NP-hard, so the method is a heuristic followed by the exact check:
//!
//! 1. Primary cells, largest first, each take the box that suppresses the fewest further
//!    published cells, then the least total count, given what is already suppressed. When no
//!    single box can (a small total whose parts are each smaller than it, or cells fixed by
//!    earlier versions in the way), boxes are stacked; failing that, the solver chooses the
//!    cells, weighing each published cell by its count.
//! 2. Every secondary cell, largest count first, is published again on trial; it stays
//!    published when every primary cell whose witness used it finds a new witness among the
//!    cells still suppressed (by any of the three means above).
//!
//! This avoids the classic failures of simpler rules. "Suppress the smallest partner in every
//! row and column" and "every row and column with a suppressed cell has at least two" both
//! accept patterns that disclose cells exactly (two suppressed 2x2 rectangles joined by one
//! suppressed cell give the joining cell away); here no pattern is accepted without the
//! witnesses. The [`Summary`] reports primary, secondary, cells and total count suppressed.
//!
//! # Linked releases
//!
//! Values that earlier versions of the same name published are known to the attacker: each
//! enters as an equality on the cell with the same key (dimensions matched by id). A cell known
//! so is never used as a partner. When earlier versions would disclose a primary cell even if
//! every cell of the new version were suppressed, the release is refused, naming the cell and
//! the first version (in order) from which the versions published so far disclose it.
//!
//! # Refusals
//!
//! [`DisclosureError`]: N < 2; negative or non-integer counts; a table whose values contradict
//! its own totals (including when no counts for its absent cells could make them add up); a
//! cell earlier versions would disclose. The node turns each into exit 2 and stores nothing.
//!
//! # What it does not cover
//!
//! * Tables released by other members, or other datasets, that share cells with this one (a
//!   destination's table of the same migrants, a different breakdown of the same total): they
//!   are not known here, and combining them with this release may narrow a cell's interval.
//!   Members releasing overlapping tables must coordinate their suppressions.
//! * What the attacker may know from outside the tables: structural zeros, registers, a
//!   respondent's own record (a single victim knows at least one).
//! * A revised cell: an earlier count that differs from the owner's current count is taken as
//!   superseded, not as knowledge about the new count.
//! * Codes missing from the table altogether: the sums run over the codes present, so a table
//!   that leaves a code out everywhere must still add up, or it is refused.
//! * An observation already confidential with a count of N or more is published empty and
//!   serves as a partner, but gets no interval of its own.
//! * Only the minimum-count rule on frequency tables; no dominance or p% rule for magnitudes,
//!   no rounding or perturbation.

mod attacker;
mod error;
mod linked;
mod moves;
mod primary;
mod protect;
mod relations;
pub mod sdmx_csv;
mod secondary;
mod solver;
mod table;

pub use error::DisclosureError;
pub use linked::PublishedTable;
pub use primary::is_primary;
pub use protect::{CellOutcome, CellProof, Protection, Summary, protect};
pub use relations::MAX_GRID_CELLS;
pub use table::{
    CellValue, CountTable, MAX_COUNT, MAX_DIMENSIONS, MAX_TABLE_CELLS, TOTAL_CODE, TableCell,
};
