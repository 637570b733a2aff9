//! Proposals (docs/design.md section 9): drafting version N+1 with one change, the threshold kept
//! within n/2 < k <= n and the adjustment said, the change described, the tally of a pending
//! proposal, and whether a statement's key stands for its member over time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Node, code, founded, nodes, signed_by};
use datapact_protocol::charter::{
    Change, ChangeItem, CharterError, KeyStanding, ProposalError, RetiredKey, SignedCharter,
    StatementKeyError, ThresholdAdjustment, VerifiedCharter, chain_retired, check_statement_key,
    draft, pending_status, tally_step, verify_step,
};
use datapact_protocol::{Digest, PublicKey};

const LATER: u64 = common::ISSUED_AT + 3600;

fn add(node: &Node) -> Change {
    Change::Add {
        code: node.code.clone(),
        public_key: node.identity.public_key(),
        addrs: node.member().addrs,
    }
}

fn remove(code_text: &str) -> Change {
    Change::Remove {
        code: code(code_text),
    }
}

fn pick<'a>(pool: &'a [Node], which: &[usize]) -> Vec<&'a Node> {
    which.iter().map(|&i| &pool[i]).collect()
}

#[test]
fn adding_a_member_raises_k_when_it_would_be_half_or_less_and_says_so() {
    let pool = nodes(5);
    let v1 = founded(&pool[..3], 2);
    let proposal = draft(&v1, add(&pool[3]), LATER).unwrap();
    let next = proposal.draft.charter();
    assert_eq!(next.version, 2);
    assert_eq!(next.previous, Some(v1.id().0));
    assert_eq!(next.issued_at, LATER);
    assert_eq!(next.members.len(), 4);
    assert_eq!(next.threshold, 3);
    let adjusted = proposal.adjusted.unwrap();
    assert_eq!(
        adjusted,
        ThresholdAdjustment {
            from: 2,
            to: 3,
            members: 4
        }
    );
    assert_eq!(
        adjusted.to_string(),
        "threshold raised from 2 to 3, so that more than half of the 4 members are needed"
    );
    assert_eq!(
        proposal.description,
        format!("add M03 {}, threshold 2 -> 3", pool[3].identity.peer_id())
    );
    assert_eq!(proposal.id(), proposal.draft.id());
    assert_eq!(proposal.id().0, Digest::of(proposal.draft.payload()));
    // k = 3 of 4 still holds with a fifth member: no change to k.
    let v2 = verify_step(&v1, signed_by(next, &pick(&pool, &[0, 1, 2, 3]))).unwrap();
    let proposal = draft(&v2, add(&pool[4]), LATER).unwrap();
    assert_eq!(proposal.draft.charter().threshold, 3);
    assert_eq!(proposal.adjusted, None);
    // Members stay sorted by code.
    let codes: Vec<&str> = proposal
        .draft
        .charter()
        .members
        .iter()
        .map(|m| m.code.as_str())
        .collect();
    assert_eq!(codes, ["M00", "M01", "M02", "M03", "M04"]);
}

#[test]
fn removing_a_member_lowers_k_when_it_would_exceed_n_and_says_so() {
    let pool = nodes(5);
    let v1 = founded(&pool[..3], 3);
    let proposal = draft(&v1, remove("M01"), LATER).unwrap();
    assert_eq!(proposal.draft.charter().threshold, 2);
    assert_eq!(
        proposal.adjusted.unwrap().to_string(),
        "threshold lowered from 3 to 2, so that at most all of the 2 members are needed"
    );
    assert_eq!(proposal.description, "remove M01, threshold 3 -> 2");
    let v1 = founded(&pool, 3);
    let proposal = draft(&v1, remove("M04"), LATER).unwrap();
    assert_eq!(proposal.draft.charter().threshold, 3);
    assert_eq!(proposal.adjusted, None);
    assert_eq!(proposal.description, "remove M04");

    assert_eq!(
        draft(&v1, remove("KHM"), LATER),
        Err(ProposalError::NotAMember(code("KHM")))
    );
    let alone = founded(&pool[..1], 1);
    assert_eq!(
        draft(&alone, remove("M00"), LATER),
        Err(ProposalError::LastMember(code("M00")))
    );
}

#[test]
fn setting_the_threshold_is_refused_at_half_or_less_and_above_n() {
    let pool = nodes(4);
    let v1 = founded(&pool, 3);
    for k in [0, 1, 2, 5] {
        assert_eq!(
            draft(&v1, Change::Threshold(k), LATER),
            Err(ProposalError::Threshold {
                threshold: k,
                members: 4
            }),
            "k={k}"
        );
    }
    assert!(matches!(
        draft(&v1, Change::Threshold(3), LATER),
        Err(ProposalError::NoChange(_))
    ));
    let proposal = draft(&v1, Change::Threshold(4), LATER).unwrap();
    assert_eq!(proposal.draft.charter().threshold, 4);
    assert_eq!(proposal.adjusted, None);
    assert_eq!(proposal.description, "threshold 3 -> 4");
}

#[test]
fn adding_refuses_a_member_or_a_key_already_listed() {
    let pool = nodes(4);
    let v1 = founded(&pool[..3], 2);
    assert_eq!(
        draft(&v1, add(&pool[1]), LATER),
        Err(ProposalError::AlreadyMember(code("M01")))
    );
    let mut same_key = add(&pool[3]);
    if let Change::Add { public_key, .. } = &mut same_key {
        *public_key = pool[2].identity.public_key();
    }
    assert_eq!(
        draft(&v1, same_key, LATER),
        Err(ProposalError::KeyInUse(code("M02")))
    );
    let mut bad_addr = add(&pool[3]);
    if let Change::Add { addrs, .. } = &mut bad_addr {
        *addrs = vec!["not a multiaddr".into()];
    }
    assert!(matches!(
        draft(&v1, bad_addr, LATER),
        Err(ProposalError::Charter(CharterError::Field {
            field: "addrs",
            ..
        }))
    ));
}

/// A rotation of M01 to `new`'s key keeping `keep`.
fn rotate(new: &Node, keep: &[Digest]) -> Change {
    Change::Rotate {
        code: code("M01"),
        public_key: new.identity.public_key(),
        addrs: None,
        keep: keep.to_vec(),
    }
}

#[test]
fn rotating_a_key_retires_the_old_one_with_the_statements_it_keeps() {
    let pool = nodes(4);
    let v1 = founded(&pool[..3], 2);
    let [s1, s2] = [Digest::of(b"statement 1"), Digest::of(b"statement 2")];
    let proposal = draft(&v1, rotate(&pool[3], &[s2, s1, s2]), LATER).unwrap();
    let next = proposal.draft.charter();
    let m01 = next.member(&code("M01")).unwrap();
    assert_eq!(m01.public_key, pool[3].identity.public_key());
    assert_eq!(m01.addrs, pool[1].member().addrs, "addresses kept");
    let mut kept = vec![s1, s2];
    kept.sort();
    assert_eq!(
        next.retired,
        [RetiredKey {
            code: code("M01"),
            public_key: pool[1].identity.public_key(),
            statements: kept,
        }]
    );
    assert_eq!(
        proposal.description,
        format!(
            "rotate M01 to {}, keeping 2 statements",
            pool[3].identity.peer_id()
        )
    );
    // The new key's holder must sign, as for any key a version adds.
    assert_eq!(
        verify_step(&v1, signed_by(next, &pick(&pool, &[0, 1, 2]))),
        Err(CharterError::AddedKeyUnsigned(code("M01")))
    );
    let v2 = verify_step(&v1, signed_by(next, &pick(&pool, &[0, 1, 3]))).unwrap();
    // The retired list belongs to the version that retires; the next draft starts empty.
    let v3 = draft(&v2, Change::Threshold(3), LATER).unwrap();
    assert!(v3.draft.charter().retired.is_empty());

    assert_eq!(
        draft(&v1, rotate(&pool[1], &[]), LATER),
        Err(ProposalError::NoChange("that is already the member's key"))
    );
    assert_eq!(
        draft(&v1, rotate(&pool[0], &[]), LATER),
        Err(ProposalError::KeyInUse(code("M00")))
    );
}

#[test]
fn the_change_between_two_versions_is_described_from_the_versions_themselves() {
    let pool = nodes(4);
    let v1 = founded(&pool[..3], 2);
    let mut next = draft(&v1, add(&pool[3]), LATER)
        .unwrap()
        .draft
        .charter()
        .clone();
    next.members[0].addrs = vec!["/ip4/192.0.2.1/tcp/7470".into()];
    next.members.remove(1);
    let items = datapact_protocol::charter::changes_between(v1.charter(), &next);
    assert_eq!(
        items,
        [
            ChangeItem::Readdressed { code: code("M00") },
            ChangeItem::Added {
                code: code("M03"),
                public_key: pool[3].identity.public_key()
            },
            ChangeItem::Removed { code: code("M01") },
            ChangeItem::Threshold { from: 2, to: 3 },
        ]
    );
    assert_eq!(
        datapact_protocol::charter::describe(&[]),
        "no change",
        "an empty change says so"
    );
}

#[test]
fn a_pending_proposal_counts_its_signatures_and_what_it_still_needs() {
    let pool = nodes(7);
    let v1 = founded(&pool[..5], 3);
    // Adding M05: six members, k raised to 4; M05 must sign.
    let proposal = draft(&v1, add(&pool[5]), LATER).unwrap();
    let mut pending = proposal.draft.clone();
    let status = |p: &SignedCharter| pending_status(&v1, p).unwrap();
    let first = status(&pending);
    assert_eq!(first.id, proposal.id());
    assert_eq!(first.version, 2);
    assert_eq!(first.change, proposal.description);
    assert_eq!((first.signatures, first.needed), (0, 4));
    for (signer, expected) in [
        (0, (1, 3)),
        (6, (1, 3)),
        (1, (2, 2)),
        (5, (3, 1)),
        (2, (4, 0)),
    ] {
        pending.sign(&pool[signer].identity).unwrap();
        let now = status(&pending);
        assert_eq!((now.signatures, now.needed), expected, "after M0{signer}");
    }
    assert!(verify_step(&v1, pending).is_ok());
    // A version that does not follow v1 is not pending at all.
    let v1_again = SignedCharter::unsigned(v1.charter()).unwrap();
    assert!(matches!(
        pending_status(&v1, &v1_again),
        Err(CharterError::NotNextVersion { .. })
    ));
}

/// Every subset of `signers` signed onto `next`: the tally says 0 needed exactly when the step
/// is valid, and `needed` is the fewest further signatures that make it valid.
fn tally_is_exact(prev: &VerifiedCharter, next: &SignedCharter, signers: &[&Node]) {
    let n = signers.len();
    let valid: Vec<bool> = (0..1u32 << n)
        .map(|set| verify_step(prev, with_signers(next, signers, set)).is_ok())
        .collect();
    for set in 0..1u32 << n {
        let tally = tally_step(prev.charter(), &with_signers(next, signers, set));
        let fewest = (0..1u32 << n)
            .filter(|more| more & set == 0 && valid[(set | more) as usize])
            .map(u32::count_ones)
            .min()
            .unwrap();
        assert_eq!(tally.needed, fewest as usize, "signers {set:b}");
        assert_eq!(tally.needed == 0, valid[set as usize]);
    }
}

fn with_signers(next: &SignedCharter, signers: &[&Node], set: u32) -> SignedCharter {
    let chosen: Vec<&Node> = (0..signers.len())
        .filter(|i| set & (1 << i) != 0)
        .map(|i| signers[i])
        .collect();
    signed_by(next.charter(), &chosen)
}

#[test]
fn the_tally_needed_is_the_fewest_signatures_that_make_the_step_valid() {
    let pool = nodes(6);
    let v1 = founded(&pool[..5], 3);
    let everyone = pick(&pool, &[0, 1, 2, 3, 4, 5]);
    for change in [add(&pool[5]), remove("M04"), Change::Threshold(5)] {
        let next = draft(&v1, change, LATER).unwrap().draft;
        tally_is_exact(&v1, &next, &everyone);
    }
    let v1 = founded(&pool[..3], 3);
    let next = draft(&v1, remove("M02"), LATER).unwrap().draft;
    tally_is_exact(&v1, &next, &everyone[..4]);
}

/// v1 of M00..M02; v2 rotates M01 to M03's key keeping `kept`; v3 adds M04.
fn rotated_chain(pool: &[Node], kept: &[Digest]) -> Vec<VerifiedCharter> {
    let v1 = founded(&pool[..3], 2);
    let v2 = draft(&v1, rotate(&pool[3], kept), LATER).unwrap().draft;
    let v2 = verify_step(&v1, signed_by(v2.charter(), &pick(pool, &[0, 1, 3]))).unwrap();
    let v3 = draft(&v2, add(&pool[4]), LATER).unwrap().draft;
    let v3 = verify_step(&v2, signed_by(v3.charter(), &pick(pool, &[0, 2, 3, 4]))).unwrap();
    vec![v1, v2, v3]
}

#[test]
fn a_statement_stands_by_the_newest_key_or_a_retired_key_that_lists_it() {
    let pool = nodes(6);
    let kept = Digest::of(b"announcement signed before the rotation");
    let backdated = Digest::of(b"announcement signed with the stolen old key");
    let chain = rotated_chain(&pool, &[kept]);
    let newest = chain[2].charter();
    let check = |member: &str, key: PublicKey, statement: &Digest| {
        check_statement_key(
            newest,
            chain_retired(&chain),
            &code(member),
            &key,
            statement,
        )
    };
    let [old, new] = [pool[1].identity.public_key(), pool[3].identity.public_key()];
    assert_eq!(check("M01", new, &backdated), Ok(KeyStanding::Current));
    assert_eq!(check("M01", old, &kept), Ok(KeyStanding::Retired));
    assert_eq!(
        check("M01", old, &backdated),
        Err(StatementKeyError::RetiredKeyUnlisted(code("M01")))
    );
    // Version 3 retires nothing: the newest charter alone does not know M01's old key.
    assert_eq!(
        check_statement_key(newest, &newest.retired, &code("M01"), &old, &kept),
        Err(StatementKeyError::NotMembersKey(code("M01")))
    );
    // Another member's key, a stranger's key, and a code the charter does not list.
    assert_eq!(
        check("M01", pool[0].identity.public_key(), &kept),
        Err(StatementKeyError::NotMembersKey(code("M01")))
    );
    assert_eq!(
        check("M00", pool[5].identity.public_key(), &kept),
        Err(StatementKeyError::NotMembersKey(code("M00")))
    );
    assert_eq!(
        check("M05", pool[5].identity.public_key(), &kept),
        Err(StatementKeyError::NotAMember(code("M05")))
    );
    // M01's retired key stands for M01 only.
    assert_eq!(
        check("M00", old, &kept),
        Err(StatementKeyError::NotMembersKey(code("M00")))
    );
}
