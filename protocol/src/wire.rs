//! The messages nodes exchange, their protocol ids and size limits. The node only carries them:
//! every shape and cap is decided here.
//!
//! - `/datapact/direct/1` (request-response, CBOR): owner-to-peer delivery of restricted
//!   statements with acknowledgement, catch-up pages, and receipts.
//! - `/datapact/pull/1` (a plain stream): one [`PullRequest`] frame, one [`PullResponse`] frame,
//!   then, when granted, the content's chunks from `from_chunk` on as raw bytes. The receiver
//!   knows every chunk's length and digest from the response, so chunks need no framing.
//! - gossipsub topic [`GOSSIP_TOPIC`]: `public` releases only; the message data is exactly one
//!   tagged COSE_Sign1 (an announcement or a revocation), nothing around it. Its protected
//!   header's content type says which kind it is ([`SignedStatement::from_cose`]), so any peer
//!   with a COSE library can read the topic.
//!
//! A frame on the pull stream is a 4-byte big-endian length followed by that many bytes of CBOR.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::announcement::{ANNOUNCEMENT_CONTENT_TYPE, MAX_SIGNED_LEN, REVOCATION_CONTENT_TYPE};
use crate::digest::{DIGEST_LEN, MAX_CHUNKS};

/// Protocol id of direct messages (delivery, catch-up, receipts).
pub const DIRECT_PROTOCOL: &str = "/datapact/direct/1";
/// Protocol id of the content stream.
pub const PULL_PROTOCOL: &str = "/datapact/pull/1";
/// The one gossipsub topic, carrying signed statements of `public` releases.
pub const GOSSIP_TOPIC: &str = "datapact/announcements/1";
/// Largest gossipsub message on the wire: one signed statement (the message data, at most
/// [`MAX_SIGNED_LEN`]) plus gossipsub's own fields (sender, sequence number, topic, signature).
pub const MAX_GOSSIP_LEN: usize = MAX_SIGNED_LEN + 1024;
/// Largest direct request.
pub const MAX_DIRECT_REQUEST_LEN: u64 = (MAX_SIGNED_LEN as u64) + 1024;
/// Most statements in one catch-up page.
pub const MAX_CATCHUP_PAGE: usize = 4096;
/// Statement bytes an owner puts in one catch-up page (one statement may go past it).
pub const MAX_CATCHUP_PAGE_BYTES: usize = 2 * 1024 * 1024;
/// Largest direct response: a full catch-up page, its last statement, and CBOR overhead.
pub const MAX_DIRECT_RESPONSE_LEN: u64 =
    (MAX_CATCHUP_PAGE_BYTES + MAX_SIGNED_LEN + 16 * MAX_CATCHUP_PAGE + 1024) as u64;
/// Largest pull request frame.
pub const MAX_PULL_REQUEST_LEN: usize = 1024;
/// Largest pull response frame: the announcement and every chunk digest.
pub const MAX_PULL_RESPONSE_LEN: usize = MAX_SIGNED_LEN + (MAX_CHUNKS as usize) * DIGEST_LEN + 1024;
/// Length of the frame length prefix.
pub const FRAME_HEADER_LEN: usize = 4;
/// Longest reason text in a refusal.
pub const MAX_REASON_LEN: usize = 512;

/// A signed statement as it travels: which kind, and its exact COSE bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignedStatement {
    /// A signed [`crate::Announcement`].
    Announcement(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A signed [`crate::Revocation`].
    Revocation(#[serde(with = "serde_bytes")] Vec<u8>),
}

impl SignedStatement {
    /// The statement's exact COSE_Sign1 bytes: what gossip carries.
    pub fn bytes(&self) -> &[u8] {
        match self {
            SignedStatement::Announcement(b) | SignedStatement::Revocation(b) => b,
        }
    }

    /// Reads a gossip message: exactly one tagged COSE_Sign1 of at most [`MAX_SIGNED_LEN`]
    /// bytes, an announcement or a revocation as its protected content type says. The
    /// signature is checked later, by the statement's own decoder.
    pub fn from_cose(bytes: &[u8]) -> Result<Self, WireError> {
        let content_type = crate::cose::content_type(bytes, MAX_SIGNED_LEN)
            .map_err(|e| WireError::NotAStatement(e.to_string()))?;
        match content_type.as_str() {
            ANNOUNCEMENT_CONTENT_TYPE => Ok(SignedStatement::Announcement(bytes.to_vec())),
            REVOCATION_CONTENT_TYPE => Ok(SignedStatement::Revocation(bytes.to_vec())),
            other => Err(WireError::NotAStatement(format!(
                "content type {:?} is neither an announcement nor a revocation",
                other.chars().take(100).collect::<String>()
            ))),
        }
    }
}

/// A request on [`DIRECT_PROTOCOL`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DirectRequest {
    /// The owner hands a restricted statement to one member of its audience.
    Deliver(SignedStatement),
    /// "Send me what you released that I may see, from position `from` of that list on."
    CatchUp {
        /// Position to start from: 0, then the previous answer's `next`.
        from: u64,
    },
    /// A receiver's signed receipt for a verified pull.
    Receipt(#[serde(with = "serde_bytes")] Vec<u8>),
}

/// The answer on [`DIRECT_PROTOCOL`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DirectResponse {
    /// Stored (or already known).
    Ack,
    /// Not accepted, and why; the sender does not retry.
    Rejected {
        /// For the sender's log.
        reason: String,
    },
    /// One page of catch-up.
    CatchUp {
        /// At most [`MAX_CATCHUP_PAGE`] statements, about [`MAX_CATCHUP_PAGE_BYTES`] at most.
        statements: Vec<SignedStatement>,
        /// Where the next page starts, if there is one.
        next: Option<u64>,
    },
}

/// First frame on a pull stream, from the requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// The dataset id, `OWNER/NAME@VERSION`.
    pub id: String,
    /// Index of the first chunk wanted: the requester already holds and verified the earlier ones.
    pub from_chunk: u64,
}

/// The owner's answer frame on a pull stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PullResponse {
    /// Granted: the chunks from `from_chunk` to the end follow as raw bytes.
    Granted {
        /// The signed announcement, so the requester checks what it gets against the owner's
        /// signature even if it had not seen the announcement before.
        #[serde(with = "serde_bytes")]
        announcement: Vec<u8>,
        /// Every chunk's SHA-256, concatenated; hashes to the announcement's chunk root.
        #[serde(with = "serde_bytes")]
        chunk_digests: Vec<u8>,
    },
    /// No such dataset here, or one the requester may not know of: the two are one answer.
    NotFound,
    /// Refused, with the reason (`denied: embargoed until ...`).
    Denied {
        /// One line for the user.
        reason: String,
    },
}

/// Why a frame or message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Larger than the cap for its kind.
    #[error("message of {len} bytes exceeds the {cap}-byte limit")]
    TooLarge {
        /// Declared or actual length.
        len: u64,
        /// The cap.
        cap: usize,
    },
    /// Not the expected CBOR shape.
    #[error("malformed message")]
    Malformed,
    /// Bytes after the message.
    #[error("trailing bytes after the message")]
    TrailingBytes,
    /// Not a signed announcement or revocation (a gossip message must be one, bare).
    #[error("not a signed statement: {0}")]
    NotAStatement(String),
}

/// Encodes `msg` as CBOR (no length prefix): gossip messages and frame bodies.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut out = Vec::new();
    if ciborium::into_writer(msg, &mut out).is_err() {
        // Writing into a Vec only fails on I/O, which a Vec never has.
        out.clear();
    }
    out
}

/// Decodes exactly one CBOR message of at most `cap` bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], cap: usize) -> Result<T, WireError> {
    if bytes.len() > cap {
        return Err(WireError::TooLarge {
            len: bytes.len() as u64,
            cap,
        });
    }
    let mut reader = bytes;
    let msg = ciborium::from_reader(&mut reader).map_err(|_| WireError::Malformed)?;
    if !reader.is_empty() {
        return Err(WireError::TrailingBytes);
    }
    Ok(msg)
}

/// Encodes `msg` as one length-prefixed frame.
pub fn encode_frame<T: Serialize>(msg: &T) -> Vec<u8> {
    let body = encode(msg);
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Reads a frame's length prefix, refusing lengths over `cap` before anything is allocated.
pub fn frame_len(header: [u8; FRAME_HEADER_LEN], cap: usize) -> Result<usize, WireError> {
    let len = u32::from_be_bytes(header);
    let len = usize::try_from(len).map_err(|_| WireError::TooLarge {
        len: u64::from(len),
        cap,
    })?;
    if len > cap {
        return Err(WireError::TooLarge {
            len: len as u64,
            cap,
        });
    }
    Ok(len)
}

/// Cuts one catch-up page out of `all` (everything the requester may see), starting at
/// `from`: statements until [`MAX_CATCHUP_PAGE_BYTES`] or [`MAX_CATCHUP_PAGE`] is reached,
/// at least one. Returns the page and where the next one starts.
pub fn catch_up_page(all: &[SignedStatement], from: u64) -> (Vec<SignedStatement>, Option<u64>) {
    let start = usize::try_from(from).unwrap_or(usize::MAX).min(all.len());
    let mut page = Vec::new();
    let mut bytes = 0usize;
    for statement in &all[start..] {
        let len = match statement {
            SignedStatement::Announcement(b) | SignedStatement::Revocation(b) => b.len(),
        };
        if !page.is_empty()
            && (bytes + len > MAX_CATCHUP_PAGE_BYTES || page.len() >= MAX_CATCHUP_PAGE)
        {
            break;
        }
        bytes += len;
        page.push(statement.clone());
    }
    let end = start + page.len();
    let next = (end < all.len()).then_some(end as u64);
    (page, next)
}

/// Splits concatenated chunk digests, refusing a list whose length is not a multiple of 32.
pub fn split_chunk_digests(bytes: &[u8]) -> Result<Vec<crate::Digest>, WireError> {
    if !bytes.len().is_multiple_of(DIGEST_LEN) || bytes.len() > (MAX_CHUNKS as usize) * DIGEST_LEN {
        return Err(WireError::Malformed);
    }
    Ok(bytes
        .chunks_exact(DIGEST_LEN)
        .filter_map(|c| crate::Digest::from_slice(c).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let req = PullRequest {
            id: "THA/x@1".into(),
            from_chunk: 3,
        };
        let frame = encode_frame(&req);
        let header: [u8; 4] = frame[..4].try_into().unwrap();
        let len = frame_len(header, MAX_PULL_REQUEST_LEN).unwrap();
        assert_eq!(len, frame.len() - 4);
        assert_eq!(
            decode::<PullRequest>(&frame[4..], MAX_PULL_REQUEST_LEN),
            Ok(req)
        );
    }

    #[test]
    fn oversize_frame_is_refused_from_its_header() {
        assert!(matches!(
            frame_len(u32::MAX.to_be_bytes(), MAX_PULL_RESPONSE_LEN),
            Err(WireError::TooLarge { .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut body = encode(&DirectRequest::CatchUp { from: 0 });
        body.push(0);
        assert_eq!(
            decode::<DirectRequest>(&body, 1024),
            Err(WireError::TrailingBytes)
        );
    }

    #[test]
    fn catch_up_pages_cover_everything_once() {
        let big = SignedStatement::Announcement(vec![0; 700 * 1024]);
        let small = SignedStatement::Revocation(vec![1; 10]);
        let all = vec![
            big.clone(),
            big.clone(),
            big.clone(),
            small.clone(),
            big,
            small,
        ];
        let mut from = 0;
        let mut seen = Vec::new();
        loop {
            let (page, next) = catch_up_page(&all, from);
            assert!(!page.is_empty());
            seen.extend(page);
            match next {
                Some(n) => from = n,
                None => break,
            }
        }
        assert_eq!(seen, all);
        assert_eq!(catch_up_page(&all, 99), (vec![], None));
    }

    #[test]
    fn chunk_digest_lists() {
        assert_eq!(split_chunk_digests(&[0; 64]).unwrap().len(), 2);
        assert!(split_chunk_digests(&[0; 33]).is_err());
    }
}
