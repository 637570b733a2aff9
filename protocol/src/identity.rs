//! A node's identity: one ed25519 key. The libp2p PeerId is derived from its public half, and
//! the same key signs announcements, so the peer at the other end of an authenticated
//! connection *is* the key that signs.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use libp2p_identity::PeerId;

/// Length of an ed25519 secret seed and of a public key, in bytes.
pub const KEY_LEN: usize = 32;
/// Length of an ed25519 signature, in bytes.
pub const SIGNATURE_LEN: usize = 64;

/// Why a key or PeerId could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The PeerId text is not a PeerId at all.
    #[error("invalid PeerId {0:?}")]
    PeerId(String),
    /// The PeerId is valid but does not embed an ed25519 public key (e.g. an RSA peer).
    #[error("PeerId {0} does not embed an ed25519 public key")]
    NotEd25519(String),
    /// 32 bytes that are not a valid ed25519 public key.
    #[error("invalid ed25519 public key")]
    PublicKey,
    /// A key file or hex string of the wrong length.
    #[error("an ed25519 key is {KEY_LEN} bytes, got {0}")]
    KeyLength(usize),
}

/// The node's signing identity. The secret never appears in `Debug` output.
#[derive(Clone)]
pub struct Identity {
    signing: SigningKey,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The identity whose secret seed is `seed` (32 bytes from a CSPRNG, or a key file).
    pub fn from_seed(seed: &[u8; KEY_LEN]) -> Self {
        Self {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// Same as [`Identity::from_seed`] from a slice, checking its length.
    pub fn from_seed_slice(seed: &[u8]) -> Result<Self, IdentityError> {
        let seed: &[u8; KEY_LEN] = seed
            .try_into()
            .map_err(|_| IdentityError::KeyLength(seed.len()))?;
        Ok(Self::from_seed(seed))
    }

    /// The secret seed, for writing the key file. Handle with care.
    pub fn seed(&self) -> [u8; KEY_LEN] {
        self.signing.to_bytes()
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    /// The libp2p PeerId of this identity.
    pub fn peer_id(&self) -> PeerId {
        self.public_key().peer_id()
    }

    /// Signs `msg` (ed25519, deterministic).
    pub fn sign(&self, msg: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.signing.sign(msg).to_bytes()
    }
}

/// An ed25519 public key: a member's key in the roster, a signer's `kid`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// Lower-case hex of the 32 bytes, as `datapact id` prints it.
impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.to_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl PublicKey {
    /// Parses the 32-byte compressed form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        let bytes: &[u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| IdentityError::KeyLength(bytes.len()))?;
        VerifyingKey::from_bytes(bytes)
            .map(PublicKey)
            .map_err(|_| IdentityError::PublicKey)
    }

    /// The 32-byte compressed form.
    pub fn to_bytes(&self) -> [u8; KEY_LEN] {
        self.0.to_bytes()
    }

    /// Whether these are the only 32 bytes that name this point and the point is not of small
    /// order. A charter lists each member's key once and counts each signer once, which holds
    /// only if one key cannot be written two ways: a y coordinate of p or more is a second
    /// spelling of y - p, and the small-order points (the only ones where the x sign bit is
    /// free) sign almost anything under `verify` anyway.
    pub fn is_canonical_and_strong(&self) -> bool {
        let bytes = self.to_bytes();
        // Little-endian y with the sign bit cleared; p = 2^255 - 19.
        let y_at_least_p =
            bytes[0] >= 0xed && bytes[1..31].iter().all(|&b| b == 0xff) && bytes[31] & 0x7f == 0x7f;
        !y_at_least_p && !self.0.is_weak()
    }

    /// Verifies an ed25519 signature with the strict rules (no malleable or small-order forms).
    pub fn verify(&self, msg: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = <&[u8; SIGNATURE_LEN]>::try_from(signature) else {
            return false;
        };
        let sig = ed25519_dalek::Signature::from_bytes(sig);
        self.0.verify_strict(msg, &sig).is_ok()
    }

    /// The libp2p PeerId of this key.
    #[allow(clippy::expect_used)]
    pub fn peer_id(&self) -> PeerId {
        // Both libraries accept exactly the valid compressed points, and `self` holds one.
        let key = libp2p_identity::ed25519::PublicKey::try_from_bytes(&self.to_bytes())
            .expect("a valid ed25519 point is valid for libp2p too");
        libp2p_identity::PublicKey::from(key).to_peer_id()
    }

    /// Recovers the public key that an ed25519 PeerId embeds (docs/design.md section 2).
    pub fn from_peer_id(peer: &PeerId) -> Result<Self, IdentityError> {
        let not_ed = || IdentityError::NotEd25519(peer.to_string());
        let multihash = peer.as_ref();
        // 0x00 is the identity multihash: the PeerId embeds the protobuf-encoded key itself.
        if multihash.code() != 0x00 {
            return Err(not_ed());
        }
        let key = libp2p_identity::PublicKey::try_decode_protobuf(multihash.digest())
            .map_err(|_| not_ed())?;
        let key = key.try_into_ed25519().map_err(|_| not_ed())?;
        Self::from_bytes(&key.to_bytes())
    }

    /// Parses PeerId text (base58, `12D3KooW...`) into the public key it embeds.
    pub fn from_peer_id_str(text: &str) -> Result<Self, IdentityError> {
        let peer: PeerId = text
            .parse()
            .map_err(|_| IdentityError::PeerId(text.chars().take(80).collect()))?;
        Self::from_peer_id(&peer)
    }
}

/// Serde for a PeerId as its base58 text in every format, the form the roster, the control
/// API and the access log have always stored (libp2p's own serde writes bytes to CBOR). Use
/// with `#[serde(with = "datapact_protocol::identity::peer_id_text")]`.
pub mod peer_id_text {
    use libp2p_identity::PeerId;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `peer` as its text.
    pub fn serialize<S: Serializer>(peer: &PeerId, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(peer)
    }

    /// Reads a PeerId from its text, refusing text that is not one.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PeerId, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }

    /// The same text form for an optional PeerId (`null` when absent). Use with
    /// `#[serde(with = "datapact_protocol::identity::peer_id_text::option")]`.
    pub mod option {
        use libp2p_identity::PeerId;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes `peer` as its text, or `null`.
        pub fn serialize<S: Serializer>(
            peer: &Option<PeerId>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match peer {
                Some(peer) => serializer.collect_str(peer),
                None => serializer.serialize_none(),
            }
        }

        /// Reads an optional PeerId from its text, refusing text that is not one.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<PeerId>, D::Error> {
            Option::<String>::deserialize(deserializer)?
                .map(|text| text.parse().map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_id_round_trips_to_the_public_key() {
        let id = Identity::from_seed(&[7; 32]);
        let peer = id.peer_id();
        assert!(peer.to_string().starts_with("12D3KooW"));
        assert_eq!(PublicKey::from_peer_id(&peer), Ok(id.public_key()));
        assert_eq!(
            PublicKey::from_peer_id_str(&peer.to_string()),
            Ok(id.public_key())
        );
    }

    #[test]
    fn peer_ids_serialise_as_their_text_and_refuse_bad_text() {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        struct Held {
            #[serde(with = "peer_id_text")]
            one: PeerId,
            #[serde(with = "peer_id_text::option")]
            maybe: Option<PeerId>,
        }
        #[derive(serde::Serialize)]
        struct Text<'a> {
            one: &'a str,
            maybe: Option<&'a str>,
        }
        let peer = Identity::from_seed(&[7; 32]).peer_id();
        let text = peer.to_string();
        for maybe in [Some(peer), None] {
            let held = Held { one: peer, maybe };
            let bytes = crate::wire::encode(&held);
            let as_text = Text {
                one: &text,
                maybe: maybe.map(|_| text.as_str()),
            };
            assert_eq!(bytes, crate::wire::encode(&as_text));
            assert_eq!(crate::wire::decode::<Held>(&bytes, 1024).unwrap(), held);
        }
        for (one, maybe) in [("12D3KooWnot", None), (text.as_str(), Some("12D3KooWnot"))] {
            let bad = crate::wire::encode(&Text { one, maybe });
            assert!(
                crate::wire::decode::<Held>(&bad, 1024).is_err(),
                "{one} {maybe:?}"
            );
        }
    }

    #[test]
    fn peer_id_matches_libp2p_own_derivation() {
        let seed = [9u8; 32];
        let ours = Identity::from_seed(&seed).peer_id();
        let theirs = libp2p_identity::Keypair::ed25519_from_bytes(seed)
            .unwrap()
            .public()
            .to_peer_id();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn sign_and_verify() {
        let id = Identity::from_seed(&[3; 32]);
        let sig = id.sign(b"hello");
        assert!(id.public_key().verify(b"hello", &sig));
        assert!(!id.public_key().verify(b"hellO", &sig));
        assert!(!id.public_key().verify(b"hello", &sig[..63]));
    }

    #[test]
    fn bad_peer_ids() {
        assert!(matches!(
            PublicKey::from_peer_id_str("not-a-peer"),
            Err(IdentityError::PeerId(_))
        ));
        // A sha256-multihash PeerId (as RSA keys get) embeds no key.
        let hashed = PeerId::from_multihash(
            libp2p_identity::PeerId::from_bytes(&{
                let mut b = vec![0x12, 0x20];
                b.extend([5u8; 32]);
                b
            })
            .unwrap()
            .as_ref()
            .to_owned(),
        )
        .unwrap();
        assert!(matches!(
            PublicKey::from_peer_id(&hashed),
            Err(IdentityError::NotEd25519(_))
        ));
    }

    #[test]
    fn non_canonical_and_weak_keys_are_told_apart() {
        assert!(
            Identity::from_seed(&[3; 32])
                .public_key()
                .is_canonical_and_strong()
        );
        // The identity point (y = 1) is a valid encoding of a small-order point.
        let mut identity_point = [0u8; 32];
        identity_point[0] = 1;
        assert!(
            !PublicKey::from_bytes(&identity_point)
                .unwrap()
                .is_canonical_and_strong()
        );
        // A point of large order whose y is below 19 has a second spelling, y + p.
        let (canonical, second) = (2u8..19)
            .find_map(|y| {
                let mut bytes = [0u8; 32];
                bytes[0] = y;
                let key = PublicKey::from_bytes(&bytes).ok()?;
                key.is_canonical_and_strong().then_some(())?;
                let mut alias = [0xffu8; 32];
                alias[0] = 0xed + y;
                alias[31] = 0x7f;
                Some((key, PublicKey::from_bytes(&alias).ok()?))
            })
            .expect("some small y is the coordinate of a point of large order");
        assert_ne!(canonical, second);
        assert!(!second.is_canonical_and_strong());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let id = Identity::from_seed(&[0xab; 32]);
        assert!(!format!("{id:?}").contains("abab"));
    }
}
