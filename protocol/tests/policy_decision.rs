//! The pull decision (docs/design.md section 5) as properties over every policy, requester and time:
//! a pull is granted exactly when the requester is in the audience, the embargo has lifted and
//! the release has not expired, and nobody outside the audience learns anything else.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_protocol::{Audience, Decision, DenyReason, MemberCode, Policy, decide_pull};
use proptest::collection::{btree_set, vec};
use proptest::prelude::*;

/// A small pool of codes, so that requesters are often named in `only:` audiences.
const POOL: [&str; 6] = ["THA", "MMR", "KHM", "AUS", "IOM", "UNHCR"];

fn member() -> impl Strategy<Value = MemberCode> {
    prop_oneof![
        4 => proptest::sample::select(&POOL[..]).prop_map(|c| MemberCode::new(c).unwrap()),
        1 => "[A-Z0-9-]{2,16}".prop_map(|c| MemberCode::new(&c).unwrap()),
    ]
}

fn audience() -> impl Strategy<Value = Audience> {
    prop_oneof![
        Just(Audience::Public),
        Just(Audience::Members),
        vec(member(), 1..5).prop_map(|m| Audience::only(m).unwrap()),
        // Not constructible through `Audience::only`, but a value of the type all the same:
        // the decision must still never grant it to anyone.
        btree_set(member(), 0..1).prop_map(Audience::Only),
    ]
}

/// Times clustered around a few instants so that `now` often equals a boundary.
fn instant() -> impl Strategy<Value = u64> {
    prop_oneof![
        (0u64..6).prop_map(|i| 1_800_000_000 + i),
        Just(0),
        Just(u64::MAX),
        any::<u64>(),
    ]
}

prop_compose! {
    /// Any policy, also one that `Policy::validate` would refuse (expiry before embargo).
    fn policy()(
        audience in audience(),
        embargo_until in proptest::option::of(instant()),
        expires_at in proptest::option::of(instant()),
        purpose in proptest::option::of("[ -~]{1,20}"),
        licence in proptest::option::of(Just("CC-BY-4.0".to_owned())),
    ) -> Policy {
        Policy { audience, embargo_until, expires_at, purpose, licence }
    }
}

/// The audience rule of docs/design.md section 4, written out again.
fn in_audience(audience: &Audience, requester: Option<&MemberCode>) -> bool {
    match audience {
        Audience::Public => true,
        Audience::Members => requester.is_some(),
        Audience::Only(named) => requester.is_some_and(|r| named.iter().any(|n| n == r)),
    }
}

proptest! {
    #[test]
    fn granted_iff_admitted_and_inside_the_window(
        policy in policy(),
        requester in proptest::option::of(member()),
        now in instant(),
    ) {
        let decision = decide_pull(&policy, false, requester.as_ref(), now);
        let admitted = policy.audience.admits(requester.as_ref());
        prop_assert_eq!(admitted, in_audience(&policy.audience, requester.as_ref()));

        let embargo_lifted = policy.embargo_until.is_none_or(|until| now >= until);
        let not_expired = policy.expires_at.is_none_or(|at| now < at);
        prop_assert_eq!(
            decision == Decision::Granted,
            admitted && embargo_lifted && not_expired,
            "{:?}", decision
        );
        prop_assert_eq!(policy.is_expired(now), !not_expired);

        match decision {
            Decision::Granted => {}
            // Outside the audience, the reason says nothing about embargo or expiry.
            Decision::Denied(DenyReason::NotInAudience) => prop_assert!(!admitted),
            Decision::Denied(DenyReason::Embargoed { until }) => {
                prop_assert!(admitted);
                prop_assert_eq!(policy.embargo_until, Some(until));
                prop_assert!(now < until);
            }
            Decision::Denied(DenyReason::Expired { at }) => {
                prop_assert!(admitted && embargo_lifted);
                prop_assert_eq!(policy.expires_at, Some(at));
                prop_assert!(now >= at);
            }
            Decision::Denied(other) => {
                return Err(TestCaseError::fail(format!("unexpected reason {other:?}")));
            }
        }
        if !admitted {
            prop_assert_eq!(decision, Decision::Denied(DenyReason::NotInAudience));
        }
    }

    #[test]
    fn outside_the_audience_the_answer_never_depends_on_the_constraints(
        audience in audience(),
        requester in proptest::option::of(member()),
        a in policy(),
        b in policy(),
        now_a in instant(),
        now_b in instant(),
    ) {
        prop_assume!(!audience.admits(requester.as_ref()));
        let a = Policy { audience: audience.clone(), ..a };
        let b = Policy { audience, ..b };
        prop_assert_eq!(
            decide_pull(&a, false, requester.as_ref(), now_a),
            decide_pull(&b, false, requester.as_ref(), now_b)
        );
    }

    #[test]
    fn a_peer_outside_the_roster_only_ever_gets_public_releases(
        policy in policy(),
        now in instant(),
    ) {
        if decide_pull(&policy, false, None, now) == Decision::Granted {
            prop_assert_eq!(policy.audience, Audience::Public);
        }
    }

    #[test]
    fn once_the_embargo_lifts_it_stays_lifted_until_expiry(
        policy in policy(),
        requester in proptest::option::of(member()),
        t in instant(),
        dt in 0u64..1_000,
    ) {
        // Granted at t and at a later t2 means granted at every instant between, and a grant
        // at t2 after a refusal at t can only be the embargo lifting.
        let later = t.saturating_add(dt);
        let now = decide_pull(&policy, false, requester.as_ref(), t);
        let then = decide_pull(&policy, false, requester.as_ref(), later);
        if now == Decision::Granted && then == Decision::Granted {
            for mid in [t.saturating_add(dt / 3), t.saturating_add(dt / 2)] {
                prop_assert_eq!(decide_pull(&policy, false, requester.as_ref(), mid), Decision::Granted);
            }
        }
        if now != Decision::Granted && then == Decision::Granted {
            prop_assert!(
                matches!(now, Decision::Denied(DenyReason::Embargoed { .. })),
                "{:?}", now
            );
        }
    }
}
