//! The control socket, `DIR/control.sock`: a Unix socket (mode 0600, local only) through which
//! the CLI talks to the daemon, one JSON line per request and per reply ([`crate::api`]).

mod client;
mod server;

pub use client::{Client, ClientError, call_in_process};
pub use server::serve;
