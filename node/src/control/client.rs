//! The CLI side of the control socket: a blocking client, one request at a time.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::api::{ErrorKind, MAX_REPLY_LINE, Reply, Request};
use crate::home::Layout;

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
    /// The daemon sent something that is not a reply.
    #[error("unexpected reply from the daemon: {0}")]
    Protocol(String),
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

    /// Sends `request` and waits for its final reply, passing progress to `on_progress`.
    pub fn call(
        &mut self,
        request: &Request,
        mut on_progress: impl FnMut(u64, u64),
    ) -> Result<serde_json::Value, ClientError> {
        let mut line =
            serde_json::to_vec(request).map_err(|e| ClientError::Protocol(e.to_string()))?;
        line.push(b'\n');
        self.writer.write_all(&line)?;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = (&mut self.reader)
                .take(MAX_REPLY_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)?;
            if n == 0 {
                return Err(ClientError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the daemon closed the connection",
                )));
            }
            if buf.len() > MAX_REPLY_LINE {
                return Err(ClientError::Protocol("reply too long".into()));
            }
            match serde_json::from_slice::<Reply>(&buf) {
                Ok(Reply::Progress { done, total }) => on_progress(done, total),
                Ok(Reply::Ok { result }) => return Ok(result),
                Ok(Reply::Error { kind, message }) => {
                    return Err(ClientError::Remote { kind, message });
                }
                Err(e) => return Err(ClientError::Protocol(e.to_string())),
            }
        }
    }

    /// [`Client::call`] without progress, decoding the result into `T`.
    pub fn call_typed<T: serde::de::DeserializeOwned>(
        &mut self,
        request: &Request,
    ) -> Result<T, ClientError> {
        let value = self.call(request, |_, _| {})?;
        serde_json::from_value(value).map_err(|e| ClientError::Protocol(e.to_string()))
    }
}
