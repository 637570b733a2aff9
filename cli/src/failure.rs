//! Failure classes and the one-line message of an error chain.

use datapact_node::api::ErrorKind;
use datapact_node::control::ClientError;

/// Marks an error as bad usage or bad input: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Failure(pub String);

/// A bad-input error with this message.
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure(message.into()))
}

/// The exit code and the one-line message for `err`.
pub fn describe(err: &anyhow::Error) -> (u8, String) {
    let code = if err.downcast_ref::<Failure>().is_some() {
        2
    } else {
        match err.downcast_ref::<ClientError>() {
            Some(ClientError::Remote {
                kind: ErrorKind::BadInput,
                ..
            }) => 2,
            _ => 1,
        }
    };
    let message = err
        .chain()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(": ")
        .replace('\n', " ");
    (code, message)
}
