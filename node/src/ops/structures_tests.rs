//! A receiver's checks of pulled content against structures, on a real store: what a dishonest
//! or broken owner could send (data that do not match the structure they claim, a structure
//! message that is not what its announcement lists or contradicts a held one) is refused and
//! not kept, and `audit` finds the same.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_protocol::sdmx::parse_structure_message;
use datapact_protocol::{
    Announcement, DatasetId, Digest, Identity, Meta, Policy, SignedAnnouncement, StructureRef,
};

use super::{Finding, ReceivedError, audit, check_pulled_blocking};
use crate::api::StructureCheck;
use crate::home::Layout;
use crate::store::structures::content_check::CheckError;
use crate::store::{DatasetRecord, Origin, Store};

const STRUCTURE: &str = include_str!("../../../protocol/tests/fixtures/pysdmx/structure.json");
const GOOD: &str = "STRUCTURE,STRUCTURE_ID,FREQ,REF_AREA,SEX,TIME_PERIOD,UNIT_MEASURE\n\
                    dataflow,BPX:DF_MIG_STOCK(1.0),A,THA,F,2017,PS\n";

fn put_blob(store: &Store, content: &[u8]) -> Digest {
    let mut writer = store.blobs().writer().unwrap();
    writer.write(content).unwrap();
    writer.commit().unwrap().sha256
}

/// A signed announcement of `id` for `content`, with `meta`'s structure entries.
fn announce(id: &str, content: &[u8], meta: Meta) -> SignedAnnouncement {
    let id: DatasetId = id.parse().unwrap();
    let body = Announcement {
        owner: id.owner.clone(),
        name: id.name.clone(),
        version: id.version,
        sha256: Digest::of(content),
        size: content.len() as u64,
        file_name: "content.csv".into(),
        chunk_root: Digest::default(),
        policy: Policy::default(),
        meta: Meta {
            title: "Pulled".into(),
            ..meta
        },
        issued_at: 1_800_000_000,
    };
    SignedAnnouncement::sign(body, &Identity::from_seed(&[9; 32])).unwrap()
}

/// Stores `signed` as received, with its content `content` in the blob store.
fn receive(store: &Store, signed: &SignedAnnouncement, content: &[u8], has_content: bool) {
    put_blob(store, content);
    let record = DatasetRecord {
        origin: Origin::Received,
        announcement: signed.bytes().to_vec(),
        revocation: None,
        has_content,
        recorded_at: 1,
    };
    store.put_dataset(&signed.body().id(), &record).unwrap();
}

/// A store holding the pysdmx structure as THA/mig-structure@1; its digest.
fn store_with_structure(dir: &tempfile::TempDir) -> (Store, Digest) {
    let store = Store::open(&Layout::new(dir.path())).unwrap();
    let set = parse_structure_message(STRUCTURE.as_bytes()).unwrap();
    let signed = announce(
        "THA/mig-structure@1",
        STRUCTURE.as_bytes(),
        Meta {
            structures: set.defined_ids(),
            ..Meta::default()
        },
    );
    receive(&store, &signed, STRUCTURE.as_bytes(), true);
    let sha = Digest::of(STRUCTURE.as_bytes());
    store
        .put_structure(&signed.body().id(), &sha, &set.infos())
        .unwrap();
    (store, sha)
}

fn data_meta(sha256: Digest) -> Meta {
    Meta {
        structure: Some(StructureRef {
            id: "BPX:DF_MIG_STOCK(1.0)".into(),
            dsd: "BPX:DSD_MIG_STOCK(1.0)".into(),
            sha256,
        }),
        ..Meta::default()
    }
}

#[test]
fn pulled_data_are_validated_against_the_structure_message_with_the_recorded_digest() {
    let dir = tempfile::tempdir().unwrap();
    let (store, sha) = store_with_structure(&dir);
    let good = announce("MMR/stock@1", GOOD.as_bytes(), data_meta(sha));
    receive(&store, &good, GOOD.as_bytes(), false);
    let received = check_pulled_blocking(&store, &good).unwrap().unwrap();
    assert_eq!(received.check, StructureCheck::Validated);
    assert!(audit(&store, &good).is_none());

    // An owner that claims a structure its data do not follow.
    let bad_text = GOOD.replace(",F,", ",X,");
    let bad = announce("MMR/bad@1", bad_text.as_bytes(), data_meta(sha));
    receive(&store, &bad, bad_text.as_bytes(), false);
    let err = check_pulled_blocking(&store, &bad).unwrap_err();
    assert!(
        matches!(&err, ReceivedError::Refused { source, .. } if matches!(**source, CheckError::Invalid { .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("line 2, column SEX: code \"X\""),
        "{err}"
    );
    assert!(matches!(audit(&store, &bad), Some(Finding::Failure(_))));

    // A digest this node does not hold, for an id it does: a conflict, not a validation.
    let other = announce(
        "MMR/other@1",
        bad_text.as_bytes(),
        data_meta(Digest::of(b"another message")),
    );
    let received = check_pulled_blocking(&store, &other).unwrap().unwrap();
    assert_eq!(received.check, StructureCheck::Conflict);
    assert!(matches!(audit(&store, &other), Some(Finding::Note(_))));
}

#[test]
fn a_pulled_structure_message_is_held_only_when_it_is_what_it_claims_and_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store_with_structure(&dir);
    let set = parse_structure_message(STRUCTURE.as_bytes()).unwrap();

    // Announced as defining other structures than it does.
    let lying = announce(
        "MMR/lying@1",
        STRUCTURE.as_bytes(),
        Meta {
            structures: vec!["BPX:DF_ELSE(1.0)".into()],
            ..Meta::default()
        },
    );
    let err = check_pulled_blocking(&store, &lying).unwrap_err();
    assert!(matches!(err, ReceivedError::Mismatch { .. }), "{err}");

    // Contradicting the held codelist of areas.
    let text = STRUCTURE.replacen("\"id\": \"LAO\"", "\"id\": \"VNM\"", 1);
    let contradicting = announce(
        "MMR/contradicting@1",
        text.as_bytes(),
        Meta {
            structures: set.defined_ids(),
            ..Meta::default()
        },
    );
    receive(&store, &contradicting, text.as_bytes(), false);
    let err = check_pulled_blocking(&store, &contradicting).unwrap_err();
    assert!(
        err.to_string()
            .contains("codelist BPX:CL_AREA(1.0) contradicts"),
        "{err}"
    );
    assert_eq!(store.held_structures().unwrap().len(), 1);

    // The same message from another member: held, and indexed.
    let copy = announce(
        "MMR/copy@1",
        STRUCTURE.as_bytes(),
        Meta {
            structures: set.defined_ids(),
            ..Meta::default()
        },
    );
    let received = check_pulled_blocking(&store, &copy).unwrap().unwrap();
    assert_eq!(received.check, StructureCheck::Held);
    // Held once the pull records the dataset with its content.
    receive(&store, &copy, STRUCTURE.as_bytes(), true);
    assert_eq!(store.held_structures().unwrap().len(), 2);
}
