//! The layout of an exported bundle (`datapact export ID --out DIR`): the owner's signed
//! announcement as `DIR/announcement.cose` and the content as `DIR/<file_name>`, where
//! `file_name` is the one the announcement carries.
//!
//! The owner chooses `file_name`, so it is checked wherever an announcement is built or
//! decoded: it must be one plain file name, and never the name of the bundle's own
//! announcement file, or the content would overwrite the signature it is checked against.

use crate::announcement::StatementError;

/// File name of the signed announcement in an exported bundle.
pub const BUNDLE_ANNOUNCEMENT: &str = "announcement.cose";
/// Largest original file name, in bytes.
pub const MAX_FILE_NAME_LEN: usize = 255;

/// Whether `name` is one of the bundle's own files. Compared without regard to ASCII case:
/// on a case-insensitive file system (macOS, Windows shares) `Announcement.COSE` is the same
/// file as `announcement.cose`.
pub fn is_reserved_file_name(name: &str) -> bool {
    name.eq_ignore_ascii_case(BUNDLE_ANNOUNCEMENT)
}

/// Checks that `name` can be written as one file inside a bundle directory: no path
/// separators, no `.`/`..`, no control characters, at most [`MAX_FILE_NAME_LEN`] bytes, and not
/// the name of the bundle's own announcement file.
pub fn validate_file_name(name: &str) -> Result<(), StatementError> {
    let bad = |why| StatementError::Field {
        field: "file_name",
        why,
    };
    if name.is_empty() || name.len() > MAX_FILE_NAME_LEN {
        return Err(bad("must be 1 to 255 bytes"));
    }
    if name == "." || name == ".." || name.contains(['/', '\\']) {
        return Err(bad("must be a plain file name"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("has control characters"));
    }
    if is_reserved_file_name(name) {
        return Err(bad(
            "announcement.cose is reserved for the signed announcement of an exported bundle",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::announcement::{ANNOUNCEMENT_CONTENT_TYPE, Announcement, Meta, Statement};
    use crate::{DatasetName, Digest, Identity, MemberCode, Policy, SignedAnnouncement};

    fn announcement(file_name: &str) -> Announcement {
        Announcement {
            owner: MemberCode::new("MMR").unwrap(),
            name: DatasetName::new("arrivals").unwrap(),
            version: 1,
            sha256: Digest::default(),
            size: 0,
            file_name: file_name.to_owned(),
            chunk_root: Digest::default(),
            policy: Policy::default(),
            meta: Meta {
                title: "Arrivals".into(),
                ..Meta::default()
            },
            issued_at: 1_800_000_000,
        }
    }

    #[test]
    fn an_announcement_naming_the_bundle_file_is_neither_signed_nor_decoded() {
        let identity = Identity::from_seed(&[7; 32]);
        assert!(SignedAnnouncement::sign(announcement("announcement.cose"), &identity).is_err());
        // A hostile owner signs it without the check: every receiver decodes it through
        // `Signed::decode`, which refuses it all the same.
        let payload = crate::cbor::encode_value(&announcement("Announcement.cose").to_payload());
        let bytes = crate::cose::sign(&identity, ANNOUNCEMENT_CONTENT_TYPE, &payload);
        let err = SignedAnnouncement::decode(&bytes).unwrap_err();
        assert!(
            matches!(
                err,
                StatementError::Field {
                    field: "file_name",
                    ..
                }
            ),
            "{err}"
        );
        // The same bytes with an ordinary name decode: the refusal is the name's.
        let payload = crate::cbor::encode_value(&announcement("arrivals.csv").to_payload());
        let bytes = crate::cose::sign(&identity, ANNOUNCEMENT_CONTENT_TYPE, &payload);
        assert!(SignedAnnouncement::decode(&bytes).is_ok());
    }

    #[test]
    fn plain_names_pass() {
        for ok in [
            "mgi_2016.csv",
            "announcement.cose.csv",
            "my-announcement.cose",
            ".hidden",
            "a",
        ] {
            assert_eq!(validate_file_name(ok), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn the_bundles_own_file_name_is_refused_in_any_case() {
        for bad in [
            "announcement.cose",
            "ANNOUNCEMENT.COSE",
            "Announcement.Cose",
        ] {
            let err = validate_file_name(bad).unwrap_err();
            assert!(err.to_string().contains("reserved"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn paths_and_odd_names_are_refused() {
        let long = "x".repeat(MAX_FILE_NAME_LEN + 1);
        for bad in ["", ".", "..", "a/b", "a\\b", "a\nb", long.as_str()] {
            assert!(validate_file_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_file_name(&"x".repeat(MAX_FILE_NAME_LEN)).is_ok());
    }
}
