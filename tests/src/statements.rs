//! Announcements that a test or a benchmark builds itself, to sign as a member (or as a forger)
//! instead of releasing through a node: the well-formed body, which each scenario then bends
//! where its attack or its figures need it.

use datapact_protocol::{
    Announcement, Audience, ContentDigest, ContentHasher, DatasetName, MemberCode, Meta, Policy,
};

use crate::files::unix_now;

/// The digest of `content` that a release computes: SHA-256, size and chunk digests.
pub fn digest_of(content: &[u8]) -> ContentDigest {
    let mut hasher = ContentHasher::new();
    hasher.update(content);
    hasher.finish()
}

/// A well-formed, unsigned announcement of version 1 of `owner`'s dataset `name`, describing
/// the content `digest`, for `audience`, with file name `NAME.csv` and title `name`, issued
/// now.
pub fn announcement(
    owner: &str,
    name: &str,
    digest: &ContentDigest,
    audience: Audience,
) -> Announcement {
    Announcement {
        owner: MemberCode::new(owner).unwrap_or_else(|e| panic!("member code {owner}: {e}")),
        name: DatasetName::new(name).unwrap_or_else(|e| panic!("dataset name {name}: {e}")),
        version: 1,
        sha256: digest.sha256,
        size: digest.size,
        file_name: format!("{name}.csv"),
        chunk_root: digest.chunk_root(),
        policy: Policy {
            audience,
            ..Policy::default()
        },
        meta: Meta {
            title: name.to_owned(),
            ..Meta::default()
        },
        issued_at: unix_now(),
    }
}
