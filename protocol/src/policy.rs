//! The release policy (who may pull a dataset, and under what constraints) and the one pure
//! function that decides a pull.
//!
//! The owner calls [`decide_pull`] on every request, with the member code that its roster binds
//! to the requester's authenticated PeerId (or `None` for a peer outside the roster). Receivers
//! call the same function to show in their catalogue whether a pull would be granted.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{MemberCode, serde_as_text};
use crate::time::format_unix;

/// Longest `purpose` text accepted, in bytes.
pub const MAX_PURPOSE_LEN: usize = 1024;
/// Longest `licence` identifier accepted, in bytes.
pub const MAX_LICENCE_LEN: usize = 64;
/// Most members an `only:` audience may name.
pub const MAX_AUDIENCE_MEMBERS: usize = 256;

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The audience is not `public`, `members` or `only:CODE,...`.
    #[error("invalid policy {0:?}: expected public, members or only:CODE,CODE,...")]
    Audience(String),
    /// An `only:` list named a bad member code.
    #[error("invalid policy: {0}")]
    Member(#[from] crate::ids::IdError),
    /// An `only:` list with no member or too many.
    #[error("invalid policy: only: must name between 1 and {MAX_AUDIENCE_MEMBERS} members")]
    AudienceSize,
    /// The licence is not an SPDX-like identifier.
    #[error("invalid licence {0:?}: expected an SPDX identifier such as CC-BY-4.0")]
    Licence(String),
    /// The purpose is too long or has control characters.
    #[error("invalid purpose: at most {MAX_PURPOSE_LEN} bytes of printable text")]
    Purpose,
    /// The policy expires before (or when) its embargo lifts, so nobody could ever pull.
    #[error("invalid policy: expiry must come after the embargo ends")]
    ExpiresBeforeEmbargo,
}

/// Who may pull a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Audience {
    /// Any peer that connects, also one outside the roster.
    Public,
    /// Every member in the owner's roster.
    #[default]
    Members,
    /// The named members only.
    Only(BTreeSet<MemberCode>),
}

impl Audience {
    /// Whether `requester` (the roster's member code for the peer, `None` outside the roster)
    /// belongs to this audience. Outside the audience a peer must not even learn that the
    /// release exists.
    pub fn admits(&self, requester: Option<&MemberCode>) -> bool {
        match (self, requester) {
            (Audience::Public, _) => true,
            (Audience::Members, member) => member.is_some(),
            (Audience::Only(named), Some(member)) => named.contains(member),
            (Audience::Only(_), None) => false,
        }
    }

    /// The wire and CLI word for this audience: `public`, `members` or `only`.
    pub fn kind(&self) -> &'static str {
        match self {
            Audience::Public => "public",
            Audience::Members => "members",
            Audience::Only(_) => "only",
        }
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Audience::Only(named) => {
                f.write_str("only:")?;
                for (i, m) in named.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(m.as_str())?;
                }
                Ok(())
            }
            other => f.write_str(other.kind()),
        }
    }
}

impl FromStr for Audience {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "public" => Ok(Audience::Public),
            "members" => Ok(Audience::Members),
            _ => {
                let list = s
                    .strip_prefix("only:")
                    .ok_or_else(|| PolicyError::Audience(s.chars().take(80).collect()))?;
                let codes = list
                    .split(',')
                    .map(MemberCode::new)
                    .collect::<Result<Vec<_>, _>>()?;
                Audience::only(codes)
            }
        }
    }
}

impl Audience {
    /// An `only:` audience of the given members (at least one, at most [`MAX_AUDIENCE_MEMBERS`]).
    pub fn only(members: impl IntoIterator<Item = MemberCode>) -> Result<Self, PolicyError> {
        let set: BTreeSet<MemberCode> = members.into_iter().collect();
        if set.is_empty() || set.len() > MAX_AUDIENCE_MEMBERS {
            return Err(PolicyError::AudienceSize);
        }
        Ok(Audience::Only(set))
    }
}

// The audience's canonical text (`public`, `members`, `only:A,B`) is its serde form.
serde_as_text!(Audience);

/// A release policy: the audience and the optional constraints of docs/design.md section 5.
///
/// Its serde form has one field per constraint; a decoded policy has a well-formed audience,
/// and [`Policy::validate`] checks the rest as for any other policy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Policy {
    /// Who may pull.
    pub audience: Audience,
    /// Unix seconds before which nobody may pull (the announcement may still be seen).
    pub embargo_until: Option<u64>,
    /// Unix seconds from which the owner stops serving and receivers mark their copy expired.
    pub expires_at: Option<u64>,
    /// Why the data are released; shown to receivers and written to the access log.
    pub purpose: Option<String>,
    /// SPDX licence identifier, e.g. `CC-BY-4.0`.
    pub licence: Option<String>,
}

impl Policy {
    /// Checks the constraints that the type system cannot: text sizes, licence form and that
    /// the expiry comes after the embargo.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if let Audience::Only(set) = &self.audience
            && (set.is_empty() || set.len() > MAX_AUDIENCE_MEMBERS)
        {
            return Err(PolicyError::AudienceSize);
        }
        if let Some(licence) = &self.licence
            && !is_spdx_like(licence)
        {
            return Err(PolicyError::Licence(licence.chars().take(80).collect()));
        }
        if let Some(purpose) = &self.purpose
            && (purpose.is_empty()
                || purpose.len() > MAX_PURPOSE_LEN
                || purpose.chars().any(char::is_control))
        {
            return Err(PolicyError::Purpose);
        }
        if let (Some(embargo), Some(expiry)) = (self.embargo_until, self.expires_at)
            && expiry <= embargo
        {
            return Err(PolicyError::ExpiresBeforeEmbargo);
        }
        Ok(())
    }

    /// Whether the release has expired at `now` (unix seconds).
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }
}

fn is_spdx_like(s: &str) -> bool {
    (1..=MAX_LICENCE_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'))
}

/// The answer to "may this requester pull this release now?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Serve it.
    Granted,
    /// Refuse it, for this reason.
    Denied(DenyReason),
}

/// Why a pull was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DenyReason {
    /// The requester is not in the audience. The owner records this in its access log but tells
    /// the requester exactly what it tells for a dataset that does not exist.
    NotInAudience,
    /// The embargo has not lifted yet; pulls are allowed from `until` (unix seconds) on.
    Embargoed {
        /// Unix seconds when the embargo lifts.
        until: u64,
    },
    /// The release expired at `at` (unix seconds); the owner no longer serves it.
    Expired {
        /// Unix seconds when the release expired.
        at: u64,
    },
    /// The owner revoked the release; it serves it to no one.
    Revoked,
}

impl DenyReason {
    /// Whether the requester is told `NotFound` rather than this reason: outside the audience
    /// a peer gets exactly the answer for a dataset that does not exist, so it cannot learn
    /// what the owner released to others.
    pub fn answers_not_found(&self) -> bool {
        matches!(self, DenyReason::NotInAudience)
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::NotInAudience => f.write_str("denied: not in audience"),
            DenyReason::Embargoed { until } => {
                write!(f, "denied: embargoed until {}", format_unix(*until))
            }
            DenyReason::Expired { at } => write!(f, "denied: expired at {}", format_unix(*at)),
            DenyReason::Revoked => f.write_str("denied: revoked by the owner"),
        }
    }
}

/// Decides a pull of a release with `policy`, `revoked` or not by its owner, asked by
/// `requester` (the member code that the owner's roster binds to the authenticated PeerId,
/// `None` outside the roster), at `now` (unix seconds).
///
/// The audience is checked first, so a peer outside it learns nothing about revocation,
/// embargo or expiry ([`DenyReason::answers_not_found`]). The embargo lifts at
/// `embargo_until` exactly; the release expires at `expires_at` exactly.
pub fn decide_pull(
    policy: &Policy,
    revoked: bool,
    requester: Option<&MemberCode>,
    now: u64,
) -> Decision {
    if !policy.audience.admits(requester) {
        return Decision::Denied(DenyReason::NotInAudience);
    }
    if revoked {
        return Decision::Denied(DenyReason::Revoked);
    }
    if let Some(until) = policy.embargo_until
        && now < until
    {
        return Decision::Denied(DenyReason::Embargoed { until });
    }
    if let Some(at) = policy.expires_at
        && now >= at
    {
        return Decision::Denied(DenyReason::Expired { at });
    }
    Decision::Granted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> MemberCode {
        MemberCode::new(s).unwrap()
    }

    fn policy(audience: &str) -> Policy {
        Policy {
            audience: audience.parse().unwrap(),
            ..Policy::default()
        }
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn public_admits_everyone_even_outside_the_roster() {
        let p = policy("public");
        assert_eq!(decide_pull(&p, false, None, NOW), Decision::Granted);
        assert_eq!(
            decide_pull(&p, false, Some(&code("MMR")), NOW),
            Decision::Granted
        );
    }

    #[test]
    fn members_admits_roster_members_only() {
        let p = policy("members");
        assert_eq!(
            decide_pull(&p, false, Some(&code("AUS")), NOW),
            Decision::Granted
        );
        assert_eq!(
            decide_pull(&p, false, None, NOW),
            Decision::Denied(DenyReason::NotInAudience)
        );
    }

    #[test]
    fn only_admits_the_named_members() {
        let p = policy("only:MMR,KHM");
        assert_eq!(
            decide_pull(&p, false, Some(&code("MMR")), NOW),
            Decision::Granted
        );
        assert_eq!(
            decide_pull(&p, false, Some(&code("KHM")), NOW),
            Decision::Granted
        );
        assert_eq!(
            decide_pull(&p, false, Some(&code("AUS")), NOW),
            Decision::Denied(DenyReason::NotInAudience)
        );
        assert_eq!(
            decide_pull(&p, false, None, NOW),
            Decision::Denied(DenyReason::NotInAudience)
        );
    }

    #[test]
    fn embargo_lifts_at_its_second() {
        let p = Policy {
            embargo_until: Some(NOW),
            ..policy("members")
        };
        let m = code("MMR");
        assert_eq!(
            decide_pull(&p, false, Some(&m), NOW - 1),
            Decision::Denied(DenyReason::Embargoed { until: NOW })
        );
        assert_eq!(decide_pull(&p, false, Some(&m), NOW), Decision::Granted);
    }

    #[test]
    fn expiry_starts_at_its_second() {
        let p = Policy {
            expires_at: Some(NOW),
            ..policy("public")
        };
        assert_eq!(decide_pull(&p, false, None, NOW - 1), Decision::Granted);
        assert_eq!(
            decide_pull(&p, false, None, NOW),
            Decision::Denied(DenyReason::Expired { at: NOW })
        );
        assert!(p.is_expired(NOW));
        assert!(!p.is_expired(NOW - 1));
    }

    #[test]
    fn audience_is_checked_before_embargo() {
        let p = Policy {
            embargo_until: Some(NOW + 10),
            ..policy("only:MMR")
        };
        assert_eq!(
            decide_pull(&p, false, Some(&code("AUS")), NOW),
            Decision::Denied(DenyReason::NotInAudience)
        );
    }

    #[test]
    fn a_revoked_release_is_denied_to_its_audience_and_unknown_to_others() {
        let p = policy("only:MMR");
        assert_eq!(
            decide_pull(&p, true, Some(&code("MMR")), NOW),
            Decision::Denied(DenyReason::Revoked)
        );
        assert_eq!(
            decide_pull(&p, true, Some(&code("AUS")), NOW),
            Decision::Denied(DenyReason::NotInAudience)
        );
        assert!(DenyReason::NotInAudience.answers_not_found());
        assert!(!DenyReason::Revoked.answers_not_found());
        assert_eq!(
            DenyReason::Revoked.to_string(),
            "denied: revoked by the owner"
        );
    }

    #[test]
    fn revocation_outranks_embargo_and_expiry() {
        let p = Policy {
            embargo_until: Some(NOW + 10),
            expires_at: Some(NOW - 10),
            ..policy("public")
        };
        assert_eq!(
            decide_pull(&p, true, None, NOW),
            Decision::Denied(DenyReason::Revoked)
        );
    }

    #[test]
    fn reasons_read_as_the_contract_says() {
        assert_eq!(
            DenyReason::NotInAudience.to_string(),
            "denied: not in audience"
        );
        assert_eq!(
            DenyReason::Embargoed {
                until: 1_798_761_600
            }
            .to_string(),
            "denied: embargoed until 2027-01-01T00:00:00Z"
        );
    }

    #[test]
    fn audience_parse_and_print() {
        assert_eq!(
            "only:MMR,KHM,MMR".parse::<Audience>().unwrap().to_string(),
            "only:KHM,MMR"
        );
        for bad in [
            "",
            "everyone",
            "only:",
            "only:mmr",
            "only:MMR,,KHM",
            "Public",
        ] {
            assert!(bad.parse::<Audience>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn validate_catches_bad_constraints() {
        let ok = Policy {
            licence: Some("CC-BY-4.0".into()),
            purpose: Some("Victim return assistance".into()),
            embargo_until: Some(NOW),
            expires_at: Some(NOW + 1),
            ..policy("members")
        };
        assert_eq!(ok.validate(), Ok(()));
        let bad_licence = Policy {
            licence: Some("CC BY".into()),
            ..ok.clone()
        };
        assert!(matches!(
            bad_licence.validate(),
            Err(PolicyError::Licence(_))
        ));
        let bad_window = Policy {
            expires_at: Some(NOW),
            ..ok.clone()
        };
        assert_eq!(
            bad_window.validate(),
            Err(PolicyError::ExpiresBeforeEmbargo)
        );
        let bad_purpose = Policy {
            purpose: Some("a\nb".into()),
            ..ok
        };
        assert_eq!(bad_purpose.validate(), Err(PolicyError::Purpose));
    }

    #[test]
    fn policies_serialise_with_the_audience_as_its_text() {
        let only = policy("only:MMR,AUS");
        assert_eq!(
            crate::wire::encode(&only.audience),
            crate::wire::encode(&"only:AUS,MMR")
        );
        let back: Policy = crate::wire::decode(&crate::wire::encode(&only), 1024).unwrap();
        assert_eq!(back, only);
        for bad in ["everyone", "only:", "only:tha"] {
            let refused = crate::wire::decode::<Audience>(&crate::wire::encode(&bad), 1024);
            assert!(refused.is_err(), "{bad:?} accepted");
        }
    }
}
