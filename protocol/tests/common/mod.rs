//! Test support shared by the charter tests: deterministic member keys, founding charters and
//! signed next versions.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_protocol::charter::{
    Change, Charter, CharterMember, SignedCharter, VerifiedCharter, draft, verify_genesis,
};
use datapact_protocol::{Identity, MemberCode};

/// The federation every test charter names.
pub const FEDERATION: &str = "bali-process";
/// `issued_at` of every founding version: 2026-11-18T11:06:40Z.
pub const ISSUED_AT: u64 = 1_795_000_000;

/// A member code from a literal.
pub fn code(s: &str) -> MemberCode {
    MemberCode::new(s).unwrap()
}

/// A member with a key from a fixed seed: the test's stand-in for a node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its member code.
    pub code: MemberCode,
    /// Its node key.
    pub identity: Identity,
}

impl Node {
    /// Member `code` with the key from seed `[seed; 32]`.
    pub fn new(code_text: &str, seed: u8) -> Self {
        Self {
            code: code(code_text),
            identity: Identity::from_seed(&[seed; 32]),
        }
    }

    /// How a charter lists it, with one address.
    pub fn member(&self) -> CharterMember {
        CharterMember {
            code: self.code.clone(),
            public_key: self.identity.public_key(),
            addrs: vec![format!(
                "/dns4/{}.example/tcp/7470",
                self.code.as_str().to_lowercase()
            )],
        }
    }
}

/// `count` nodes M00, M01, ... with seeds 1, 2, ...
pub fn nodes(count: usize) -> Vec<Node> {
    (0..count)
        .map(|i| Node::new(&format!("M{i:02}"), u8::try_from(i + 1).unwrap()))
        .collect()
}

/// `charter` signed by each of `signers`.
pub fn signed_by(charter: &Charter, signers: &[&Node]) -> SignedCharter {
    let mut signed = SignedCharter::unsigned(charter).unwrap();
    for n in signers {
        signed.sign(&n.identity).unwrap();
    }
    signed
}

/// A founding version of `founders` with `threshold`, signed by all of them and verified.
pub fn founded(founders: &[Node], threshold: u64) -> VerifiedCharter {
    let members = founders.iter().map(Node::member).collect();
    let charter = Charter::genesis(FEDERATION, threshold, members, ISSUED_AT).unwrap();
    let all: Vec<&Node> = founders.iter().collect();
    verify_genesis(signed_by(&charter, &all)).unwrap()
}

/// The draft after `current` with `change`, signed by `signers`.
pub fn next_signed(current: &VerifiedCharter, change: Change, signers: &[&Node]) -> SignedCharter {
    let proposal = draft(current, change, current.charter().issued_at + 60).unwrap();
    signed_by(proposal.draft.charter(), signers)
}

/// Hand-built COSE_Sign messages, for the encodings and headers the crate itself never writes.
pub mod raw {
    use ciborium::value::Value;
    use datapact_protocol::Identity;
    use datapact_protocol::charter::CHARTER_CONTENT_TYPE;

    /// Serialises a CBOR value.
    pub fn encode(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).unwrap();
        out
    }

    /// Parses one CBOR value.
    pub fn decode(bytes: &[u8]) -> Value {
        ciborium::from_reader(bytes).unwrap()
    }

    /// A CBOR integer.
    pub fn int(n: i64) -> Value {
        Value::Integer(n.into())
    }

    /// The body protected header the crate writes.
    pub fn body_protected() -> Vec<u8> {
        encode(&Value::Map(vec![(
            int(3),
            Value::Text(CHARTER_CONTENT_TYPE.into()),
        )]))
    }

    /// The signature protected header the crate writes for `signer`.
    pub fn sign_protected(signer: &Identity) -> Vec<u8> {
        encode(&Value::Map(vec![
            (int(1), int(-8)),
            (
                int(4),
                Value::Bytes(signer.public_key().to_bytes().to_vec()),
            ),
        ]))
    }

    /// The RFC 9052 Sig_structure of one signature.
    pub fn sig_structure(body: &[u8], sign: &[u8], payload: &[u8]) -> Vec<u8> {
        encode(&Value::Array(vec![
            Value::Text("Signature".into()),
            Value::Bytes(body.to_vec()),
            Value::Bytes(sign.to_vec()),
            Value::Bytes(Vec::new()),
            Value::Bytes(payload.to_vec()),
        ]))
    }

    /// One COSE_Signature by `signer` with protected header `sign`, signed correctly.
    pub fn signature(body: &[u8], sign: Vec<u8>, payload: &[u8], signer: &Identity) -> Value {
        let sig = signer.sign(&sig_structure(body, &sign, payload));
        Value::Array(vec![
            Value::Bytes(sign),
            Value::Map(Vec::new()),
            Value::Bytes(sig.to_vec()),
        ])
    }

    /// A tagged COSE_Sign of the given parts.
    pub fn message(body: Vec<u8>, payload: Vec<u8>, signatures: Vec<Value>) -> Vec<u8> {
        encode(&Value::Tag(
            98,
            Box::new(Value::Array(vec![
                Value::Bytes(body),
                Value::Map(Vec::new()),
                Value::Bytes(payload),
                Value::Array(signatures),
            ])),
        ))
    }

    /// `payload` with the crate's headers, signed by each of `signers` in the order given.
    pub fn signed(payload: &[u8], signers: &[&Identity]) -> Vec<u8> {
        let body = body_protected();
        let signatures = signers
            .iter()
            .map(|id| signature(&body, sign_protected(id), payload, id))
            .collect();
        message(body, payload.to_vec(), signatures)
    }

    /// `payload` with the crate's headers, signed by each of `signers`, key ids ascending.
    pub fn signed_sorted(payload: &[u8], signers: &[&Identity]) -> Vec<u8> {
        let mut ids = signers.to_vec();
        ids.sort_by_key(|id| id.public_key().to_bytes());
        signed(payload, &ids)
    }

    /// The payload map of a message as (text key, value) entries.
    pub fn payload_entries(message_bytes: &[u8]) -> Vec<(Value, Value)> {
        let Value::Tag(98, inner) = decode(message_bytes) else {
            panic!("not tag 98")
        };
        let Value::Array(parts) = *inner else {
            panic!("not an array")
        };
        let Value::Bytes(payload) = &parts[2] else {
            panic!("payload is not a byte string")
        };
        let Value::Map(entries) = decode(payload) else {
            panic!("payload is not a map")
        };
        entries
    }

    /// Replaces (or appends) `key` in payload entries.
    pub fn set_key(entries: &mut Vec<(Value, Value)>, key: &str, value: Value) {
        match entries
            .iter_mut()
            .find(|(k, _)| *k == Value::Text(key.into()))
        {
            Some((_, v)) => *v = value,
            None => entries.push((Value::Text(key.into()), value)),
        }
    }
}
