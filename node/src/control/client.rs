//! The CLI side of the control socket: a blocking client, one request at a time, each request
//! answered with its own response type ([`Call::Response`]).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::api::{Call, ErrorKind, MAX_REPLY_LINE, Reply, Request};
use crate::home::Layout;
use crate::ops::{self, Context};

/// Why a call to the daemon failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No daemon listens on this directory's socket.
    #[error("the datapact daemon is not running for {dir} (start it with `datapact daemon`)", dir = .0.display())]
    NotRunning(PathBuf),
    /// The socket failed mid-call.
    #[error("lost the connection to the daemon: {0}")]
    Io(#[from] io::Error),
    /// The daemon closed the connection before its final reply.
    #[error("lost the connection to the daemon: the daemon closed the connection")]
    Closed,
    /// A reply line longer than [`MAX_REPLY_LINE`].
    #[error("unexpected reply from the daemon: reply too long")]
    ReplyTooLong,
    /// A reply line that is not a reply to this request (or a request that cannot be encoded).
    #[error("unexpected reply from the daemon: {0}")]
    Malformed(#[from] serde_json::Error),
    /// The daemon ended the request with a progress line instead of a result.
    #[error("unexpected reply from the daemon: no result")]
    NoResult,
    /// The daemon refused or failed the request.
    #[error("{message}")]
    Remote {
        /// Bad input or failure.
        kind: ErrorKind,
        /// The daemon's one-line message.
        message: String,
    },
}

/// A connection to the daemon of one node directory.
pub struct Client {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Client {
    /// Connects to `DIR/control.sock`.
    pub fn connect(dir: &Path) -> Result<Self, ClientError> {
        let path = Layout::new(dir).control_socket();
        let stream = UnixStream::connect(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                ClientError::NotRunning(dir.to_owned())
            }
            _ => ClientError::Io(e),
        })?;
        let reader = BufReader::new(stream.try_clone()?);
        Ok(Self {
            writer: stream,
            reader,
        })
    }

    /// Sends `request` and waits for its result.
    pub fn call<R: Call>(&mut self, request: R) -> Result<R::Response, ClientError> {
        self.call_with_progress(request, |_, _| {})
    }

    /// Sends `request` and waits for its result, passing progress to `on_progress`.
    pub fn call_with_progress<R: Call>(
        &mut self,
        request: R,
        mut on_progress: impl FnMut(u64, u64),
    ) -> Result<R::Response, ClientError> {
        let mut line = serde_json::to_vec(&request.into())?;
        line.push(b'\n');
        self.writer.write_all(&line)?;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = (&mut self.reader)
                .take(MAX_REPLY_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)?;
            if n == 0 {
                return Err(ClientError::Closed);
            }
            if buf.len() > MAX_REPLY_LINE {
                return Err(ClientError::ReplyTooLong);
            }
            if let Some(result) = read_reply(&buf, &mut on_progress)? {
                return Ok(result);
            }
        }
    }
}

/// Decodes one reply line: `None` for progress (passed to `on_progress`), the result, or the
/// daemon's error.
fn read_reply<T: DeserializeOwned>(
    line: &[u8],
    on_progress: &mut impl FnMut(u64, u64),
) -> Result<Option<T>, ClientError> {
    match serde_json::from_slice::<Reply<T>>(line)? {
        Reply::Progress { done, total } => {
            on_progress(done, total);
            Ok(None)
        }
        Reply::Ok { result } => Ok(Some(result)),
        Reply::Error { kind, message } => Err(ClientError::Remote { kind, message }),
    }
}

/// Runs `request` on the node of `ctx` as if it had come over the control socket: encoded and
/// decoded as the socket's JSON both ways, progress discarded. For callers in the daemon's own
/// process (the integration tests), which so exercise the wire form the CLI relies on.
pub async fn call_in_process<R: Call>(
    ctx: &Context,
    request: R,
) -> Result<R::Response, ClientError> {
    let sent: Request = serde_json::from_slice(&serde_json::to_vec(&request.into())?)?;
    let (progress, _discarded) = tokio::sync::mpsc::unbounded_channel();
    let reply = ops::handle(ctx, sent, &progress).await;
    read_reply(&serde_json::to_vec(&reply)?, &mut |_, _| {})?.ok_or(ClientError::NoResult)
}
