//! The bytes that libp2p's request-response CBOR codec (the one `/datapact/direct/1` runs on)
//! writes and reads are exactly the protocol crate's encoding, whose golden vectors are in
//! `protocol/tests/golden_wire.rs` and `docs/PROTOCOL.md`. The codec serialises with another
//! CBOR library than the protocol crate, so this is what makes those vectors the bytes a
//! datapact node really sends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_protocol::wire::{
    self, DIRECT_PROTOCOL, DirectRequest, DirectResponse, MAX_DIRECT_REQUEST_LEN,
    MAX_DIRECT_RESPONSE_LEN, SignedStatement,
};
use futures::executor::block_on;
use futures::io::Cursor;
use libp2p::StreamProtocol;
use libp2p::request_response::Codec as _;
use libp2p::request_response::cbor::codec::Codec;

type DirectCodec = Codec<DirectRequest, DirectResponse>;

fn codec() -> DirectCodec {
    Codec::default()
        .set_request_size_maximum(MAX_DIRECT_REQUEST_LEN)
        .set_response_size_maximum(MAX_DIRECT_RESPONSE_LEN)
}

fn protocol() -> StreamProtocol {
    StreamProtocol::new(DIRECT_PROTOCOL)
}

fn requests() -> Vec<DirectRequest> {
    vec![
        DirectRequest::Deliver(SignedStatement::Announcement(vec![0xc0, 0xff, 0xee])),
        DirectRequest::Deliver(SignedStatement::Revocation(vec![0xc0, 0xff, 0xee])),
        DirectRequest::CatchUp { from: 0 },
        DirectRequest::CatchUp { from: 4096 },
        DirectRequest::CatchUp { from: u64::MAX },
        DirectRequest::Receipt(vec![0xc0, 0xff, 0xee]),
        DirectRequest::Receipt(vec![7; 300]),
    ]
}

fn responses() -> Vec<DirectResponse> {
    vec![
        DirectResponse::Ack,
        DirectResponse::Rejected {
            reason: "receipt not accepted".into(),
        },
        DirectResponse::CatchUp {
            statements: vec![
                SignedStatement::Announcement(vec![0xc0, 0xff, 0xee]),
                SignedStatement::Revocation(vec![0xbe, 0xef]),
            ],
            next: Some(2),
        },
        DirectResponse::CatchUp {
            statements: vec![],
            next: None,
        },
    ]
}

#[test]
fn the_codec_writes_requests_as_the_protocol_encodes_them() {
    for request in requests() {
        let mut out = Cursor::new(Vec::new());
        block_on(codec().write_request(&protocol(), &mut out, request.clone())).unwrap();
        assert_eq!(
            hex::encode(out.into_inner()),
            hex::encode(wire::encode(&request)),
            "{request:?}"
        );
    }
}

#[test]
fn the_codec_reads_requests_in_the_protocol_encoding() {
    for request in requests() {
        let mut input = Cursor::new(wire::encode(&request));
        let read = block_on(codec().read_request(&protocol(), &mut input)).unwrap();
        assert_eq!(read, request);
    }
}

#[test]
fn the_codec_writes_and_reads_answers_in_the_protocol_encoding() {
    for response in responses() {
        let mut out = Cursor::new(Vec::new());
        block_on(codec().write_response(&protocol(), &mut out, response.clone())).unwrap();
        let written = out.into_inner();
        assert_eq!(
            hex::encode(&written),
            hex::encode(wire::encode(&response)),
            "{response:?}"
        );
        let read = block_on(codec().read_response(&protocol(), &mut Cursor::new(written))).unwrap();
        assert_eq!(read, response);
    }
}

#[test]
fn the_codec_refuses_a_request_past_its_cap() {
    // The codec reads at most the cap and then decodes: a longer request arrives cut short
    // and cannot be decoded.
    let request = DirectRequest::Receipt(vec![7; MAX_DIRECT_REQUEST_LEN as usize]);
    let bytes = wire::encode(&request);
    assert!(bytes.len() as u64 > MAX_DIRECT_REQUEST_LEN);
    let result = block_on(codec().read_request(&protocol(), &mut Cursor::new(bytes)));
    assert!(result.is_err());
}
