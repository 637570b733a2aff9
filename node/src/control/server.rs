//! The daemon side of the control socket: one task per connection, requests handled in order.
//! The accept loop and every connection are tasks of the daemon's tracker ([`Context::tasks`]):
//! at shutdown a connection stops reading new requests, finishes the one it is handling, and
//! ends.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use crate::api::{ErrorKind, MAX_REQUEST_LINE, Reply, Request};
use crate::ops::{self, Context};

/// Accepts connections until shutdown begins, each served by its own task of
/// [`Context::tasks`].
pub async fn serve(listener: UnixListener, ctx: Context) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let ctx = ctx.clone();
                    ctx.tasks.clone().spawn(async move {
                        if let Err(e) = connection(stream, ctx).await {
                            tracing::debug!(error = %e, "control connection ended");
                        }
                    });
                }
                Err(e) => tracing::warn!(error = %e, "control socket accept failed"),
            },
            () = ctx.tasks.cancelled() => break,
        }
    }
}

async fn connection(stream: UnixStream, ctx: Context) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = (&mut read).take(MAX_REQUEST_LINE as u64 + 1);
        let n = tokio::select! {
            n = limited.read_until(b'\n', &mut line) => n?,
            () = ctx.tasks.cancelled() => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        let reply = if line.len() > MAX_REQUEST_LINE {
            Reply::Error {
                kind: ErrorKind::BadInput,
                message: format!("request longer than {MAX_REQUEST_LINE} bytes"),
            }
        } else {
            match serde_json::from_slice::<Request>(&line) {
                Ok(request) => {
                    tracing::debug!(?request, "control request");
                    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
                    let work = ops::handle(&ctx, request, &progress_tx);
                    tokio::pin!(work);
                    loop {
                        tokio::select! {
                            reply = &mut work => break reply,
                            Some((done, total)) = progress_rx.recv() => {
                                write_reply(&mut write, &Reply::Progress { done, total }).await?;
                            }
                        }
                    }
                }
                Err(e) => Reply::Error {
                    kind: ErrorKind::BadInput,
                    message: format!("malformed request: {e}"),
                },
            }
        };
        write_reply(&mut write, &reply).await?;
        if line.len() > MAX_REQUEST_LINE {
            // The rest of an oversize line cannot be resynchronised: close.
            return Ok(());
        }
    }
}

async fn write_reply(
    write: &mut tokio::net::unix::OwnedWriteHalf,
    reply: &Reply,
) -> std::io::Result<()> {
    let mut out = serde_json::to_vec(reply).map_err(std::io::Error::other)?;
    out.push(b'\n');
    write.write_all(&out).await
}
