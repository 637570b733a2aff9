//! Versions and audiences (docs/design.md section 4): versions count per name, so whoever receives
//! version N of a name learns that versions 1 to N-1 exist. A new version may therefore reach
//! only members that every earlier version of the name reached; releasing wider reveals the
//! earlier versions, which the owner must accept explicitly (`release --widen`).
//!
//! What an audience reaches, for this rule: `public` everyone (also peers outside any roster),
//! `members` the owner's roster as it is now, `only:` the named codes. Narrowing is always
//! allowed, and so is releasing to the same audience again.

use std::collections::BTreeSet;

use crate::ids::MemberCode;
use crate::policy::Audience;

/// Whether every member that `new` reaches was reached by `earlier` too. `roster` holds the
/// member codes of the owner's roster now, which is whom `members` reaches.
pub fn reaches_no_one_new(
    earlier: &Audience,
    new: &Audience,
    roster: &BTreeSet<MemberCode>,
) -> bool {
    match (earlier, new) {
        (Audience::Public, _) => true,
        // `public` reaches peers outside every roster, which no other audience does.
        (_, Audience::Public) => false,
        (Audience::Members, Audience::Members) => true,
        (Audience::Members, Audience::Only(named)) => named.is_subset(roster),
        (Audience::Only(named), Audience::Members) => roster.is_subset(named),
        (Audience::Only(earlier), Audience::Only(new)) => new.is_subset(earlier),
    }
}

/// The versions among `earlier` (each version of the name with its audience) that a new
/// version released to `new` would reveal: those whose audience did not reach some member
/// that `new` reaches. In ascending order; empty when the release reveals nothing.
pub fn revealed_versions<'a>(
    earlier: impl IntoIterator<Item = (u64, &'a Audience)>,
    roster: &BTreeSet<MemberCode>,
    new: &Audience,
) -> Vec<u64> {
    let mut revealed: Vec<u64> = earlier
        .into_iter()
        .filter(|(_, audience)| !reaches_no_one_new(audience, new, roster))
        .map(|(version, _)| version)
        .collect();
    revealed.sort_unstable();
    revealed.dedup();
    revealed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audience(s: &str) -> Audience {
        s.parse().unwrap()
    }

    fn roster(codes: &[&str]) -> BTreeSet<MemberCode> {
        codes.iter().map(|c| MemberCode::new(c).unwrap()).collect()
    }

    /// The versions that releasing `new` after `earlier` (versions 1, 2, ...) would reveal.
    fn revealed(earlier: &[&str], roster_now: &[&str], new: &str) -> Vec<u64> {
        let audiences: Vec<Audience> = earlier.iter().map(|a| audience(a)).collect();
        revealed_versions(
            (1..).zip(audiences.iter()),
            &roster(roster_now),
            &audience(new),
        )
    }

    #[test]
    fn a_first_version_reveals_nothing() {
        assert!(revealed(&[], &["MMR"], "public").is_empty());
    }

    #[test]
    fn equal_audiences_reveal_nothing() {
        let roster = ["AUS", "MMR"];
        assert!(revealed(&["public"], &roster, "public").is_empty());
        assert!(revealed(&["members"], &roster, "members").is_empty());
        assert!(revealed(&["only:AUS,MMR"], &roster, "only:MMR,AUS").is_empty());
    }

    #[test]
    fn narrowing_is_always_allowed() {
        let roster = ["AUS", "KHM", "MMR"];
        assert!(revealed(&["public"], &roster, "members").is_empty());
        assert!(revealed(&["public"], &roster, "only:MMR").is_empty());
        assert!(revealed(&["members"], &roster, "only:MMR,KHM").is_empty());
        assert!(revealed(&["only:AUS,MMR"], &roster, "only:MMR").is_empty());
        assert!(revealed(&["public", "members"], &roster, "only:AUS").is_empty());
    }

    #[test]
    fn public_reveals_every_restricted_version() {
        let roster = ["AUS", "MMR"];
        assert_eq!(revealed(&["members"], &roster, "public"), vec![1]);
        assert_eq!(revealed(&["only:AUS"], &roster, "public"), vec![1]);
        // Even with an empty roster: peers outside every roster are new.
        assert_eq!(revealed(&["members"], &[], "public"), vec![1]);
        assert_eq!(
            revealed(&["public", "members", "public"], &roster, "public"),
            vec![2]
        );
    }

    #[test]
    fn members_reveals_an_only_version_that_named_fewer() {
        assert_eq!(revealed(&["only:AUS"], &["AUS", "MMR"], "members"), vec![1]);
        // When `only:` named the whole roster as it is now, `members` reaches no one new.
        assert!(revealed(&["only:AUS,MMR"], &["AUS", "MMR"], "members").is_empty());
    }

    #[test]
    fn only_reveals_to_codes_the_earlier_version_did_not_name() {
        let roster = ["AUS", "KHM", "MMR"];
        assert_eq!(revealed(&["only:AUS"], &roster, "only:AUS,MMR"), vec![1]);
        assert_eq!(revealed(&["only:AUS"], &roster, "only:MMR"), vec![1]);
        // `only:` reaches the codes it names, in the roster or not.
        assert_eq!(revealed(&["members"], &roster, "only:MMR,LAO"), vec![1]);
    }

    #[test]
    fn members_means_the_roster_as_it_is_now() {
        // Version 1 went to `only:MMR` when MMR was the whole roster; AUS has joined since,
        // so `members` now reaches AUS, whom version 1 never reached.
        assert_eq!(revealed(&["only:MMR"], &["AUS", "MMR"], "members"), vec![1]);
        // An earlier `members` version grows with the roster: it reaches AUS now as well.
        assert!(revealed(&["members"], &["AUS", "MMR"], "members").is_empty());
        assert!(revealed(&["members"], &["AUS", "MMR"], "only:AUS").is_empty());
        // With an empty roster, `members` reaches no one and reveals nothing.
        assert!(revealed(&["only:MMR"], &[], "members").is_empty());
    }

    #[test]
    fn only_the_versions_that_did_not_reach_are_counted() {
        let roster = ["AUS", "MMR"];
        assert_eq!(
            revealed(
                &["only:AUS", "public", "only:MMR", "members"],
                &roster,
                "members"
            ),
            vec![1, 3]
        );
    }
}
