//! The structure index on a real sled store in a temp dir.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use datapact_protocol::sdmx::{StructureInfo, StructureKind};
use datapact_protocol::{
    Announcement, DatasetId, Digest, Identity, Meta, Policy, SignedAnnouncement,
};

use super::super::{DatasetRecord, Origin, Store, StoreError};
use crate::home::Layout;

const MESSAGE: &[u8] = include_bytes!("../../../cli/samples/structure_mgi.json");

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(&Layout::new(dir.path())).unwrap()
}

fn id(text: &str) -> DatasetId {
    text.parse().unwrap()
}

/// Stores `content` as a blob; its digest.
fn put_blob(store: &Store, content: &[u8]) -> Digest {
    let mut writer = store.blobs().writer().unwrap();
    writer.write(content).unwrap();
    writer.commit().unwrap().sha256
}

/// Records `id` as a received dataset with content `sha256`, recorded at `at`.
fn put_record(store: &Store, id: &DatasetId, sha256: Digest, at: u64, has_content: bool) {
    let body = Announcement {
        owner: id.owner.clone(),
        name: id.name.clone(),
        version: id.version,
        sha256,
        size: 1,
        file_name: "structure.json".into(),
        chunk_root: Digest::default(),
        policy: Policy::default(),
        meta: Meta {
            title: "A structure".into(),
            ..Meta::default()
        },
        issued_at: 1_800_000_000,
    };
    let signed = SignedAnnouncement::sign(body, &Identity::from_seed(&[5; 32])).unwrap();
    let record = DatasetRecord {
        origin: Origin::Received,
        announcement: signed.bytes().to_vec(),
        revocation: None,
        has_content,
        recorded_at: at,
    };
    store.put_dataset(id, &record).unwrap();
}

fn info(id: &str, kind: StructureKind) -> StructureInfo {
    StructureInfo {
        id: id.into(),
        kind,
        name: id.into(),
        dimensions: vec!["REF_AREA".into(), "TIME_PERIOD".into()],
        partial: false,
    }
}

fn mgi_defines() -> Vec<StructureInfo> {
    vec![
        info("BPX:DSD_MGI(1.0.0)", StructureKind::DataStructure),
        info("BPX:DF_MGI(1.0.0)", StructureKind::Dataflow),
    ]
}

#[test]
fn a_structure_counts_as_held_only_while_its_record_holds_the_content_unrevoked() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let sha = put_blob(&store, MESSAGE);
    let release = id("THA/mgi-structure@1");
    // Indexed before its record is stored, as a release does: not held yet.
    store.put_structure(&release, &sha, &mgi_defines()).unwrap();
    assert!(store.held_structures().unwrap().is_empty());
    put_record(&store, &release, sha, 10, false);
    assert!(store.held_structures().unwrap().is_empty(), "no content");
    store.mark_pulled(&release).unwrap();
    let held = store.held_structures().unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].dataset, release);
    assert_eq!(held[0].sha256, sha);
    assert_eq!(held[0].defines, mgi_defines());

    let mut record = store.dataset(&release).unwrap().unwrap();
    record.revocation = Some(b"revoked".to_vec());
    store.put_dataset(&release, &record).unwrap();
    assert!(store.held_structures().unwrap().is_empty(), "revoked");
}

#[test]
fn lookups_by_id_and_digest_prefer_the_release_recorded_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let sha = put_blob(&store, MESSAGE);
    let other_sha = Digest::of(b"another message");
    let (old, new) = (id("THA/mgi-structure@1"), id("MMR/mgi-structure@1"));
    for (release, digest, at) in [(&old, sha, 10), (&new, other_sha, 20)] {
        store
            .put_structure(release, &digest, &mgi_defines())
            .unwrap();
        put_record(&store, release, digest, at, true);
    }
    let defining = store.held_structures_defining("BPX:DF_MGI(1.0.0)").unwrap();
    let order: Vec<&DatasetId> = defining.iter().map(|h| &h.dataset).collect();
    assert_eq!(order, [&old, &new]);
    assert!(
        store
            .held_structures_defining("BPX:DF_OTHER(1.0.0)")
            .unwrap()
            .is_empty()
    );
    let by_digest = store.held_structure_with_digest(&sha).unwrap().unwrap();
    assert_eq!(by_digest.dataset, old);
    assert!(
        store
            .held_structure_with_digest(&Digest::of(b"nothing"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn the_structure_message_is_read_back_only_while_it_hashes_to_its_digest() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let sha = put_blob(&store, MESSAGE);
    let release = id("THA/mgi-structure@1");
    store.put_structure(&release, &sha, &mgi_defines()).unwrap();
    put_record(&store, &release, sha, 10, true);
    let held = store.held_structures().unwrap().remove(0);
    let set = store.structure_set(&held).unwrap();
    assert_eq!(
        set.defined_ids(),
        ["BPX:DSD_MGI(1.0.0)", "BPX:DF_MGI(1.0.0)"]
    );
    // A damaged file is never used to judge data.
    let path = dir.path().join("blobs").join(sha.to_string());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    assert!(matches!(
        store.structure_set(&held),
        Err(StoreError::Damaged(super::Damaged::Content { .. }))
    ));
}

#[test]
fn a_refused_content_is_removed_unless_another_dataset_holds_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let sha = put_blob(&store, MESSAGE);
    let (refused, keeper) = (id("MMR/bad@1"), id("THA/mgi-structure@1"));
    put_record(&store, &refused, sha, 10, false);
    put_record(&store, &keeper, sha, 10, true);
    store.discard_refused_content(&refused, &sha).unwrap();
    assert!(store.blobs().contains(&sha), "THA's release holds it");
    store.remove_structure(&keeper).unwrap();
    let mut record = store.dataset(&keeper).unwrap().unwrap();
    record.has_content = false;
    store.put_dataset(&keeper, &record).unwrap();
    store.discard_refused_content(&refused, &sha).unwrap();
    assert!(!store.blobs().contains(&sha));
}

#[test]
fn the_index_survives_a_reopen_and_forgets_what_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let release = id("THA/mgi-structure@1");
    {
        let store = open(&dir);
        let sha = put_blob(&store, MESSAGE);
        store.put_structure(&release, &sha, &mgi_defines()).unwrap();
        put_record(&store, &release, sha, 10, true);
        store.put_chunks(&sha, &[sha]).unwrap();
        store.flush_blocking().unwrap();
    }
    let store = open(&dir);
    assert_eq!(store.held_structures().unwrap().len(), 1);
    store.remove_structure(&release).unwrap();
    assert!(store.held_structures().unwrap().is_empty());
}
