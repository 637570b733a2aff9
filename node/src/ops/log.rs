//! `datapact log`: the owner's access log, each entry with whether its hash link holds.

use datapact_protocol::time::format_unix;
use tokio::task::JoinError;

use super::{Context, OpError, Operation, Progress, blocking};
use crate::api::{ErrorKind, Log, LogLine, Outcome};
use crate::store::{LogCheck, LogEntry, StoreError};

/// Why the log could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The task reading the log ended before it finished.
    #[error("reading the access log was interrupted: {0}")]
    Interrupted(#[from] JoinError),
}

impl OpError for LogError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Failed
    }
}

/// The whole log, read on the blocking pool.
pub async fn list(ctx: &Context) -> Result<Vec<LogLine>, LogError> {
    blocking(ctx, read).await
}

/// The whole log. The newest entry is marked not intact when it was edited or entries after
/// it were removed (the store keeps the newest entry's hash and the number ever written).
fn read(ctx: &Context) -> Result<Vec<LogLine>, LogError> {
    let mut lines = entries(ctx)?;
    let written = ctx.store.log_len()?;
    let head_ok = match (ctx.store.log_head()?, ctx.store.last_log_entry_hash()?) {
        (Some(head), Some(last)) => head == last,
        _ => true,
    };
    if let Some(last) = lines.last_mut()
        && (written > last.seq || !head_ok)
    {
        last.intact = false;
    }
    Ok(lines)
}

fn entries(ctx: &Context) -> Result<Vec<LogLine>, LogError> {
    Ok(ctx
        .store
        .log()?
        .into_iter()
        .map(|(e, check)| line(ctx, e, check))
        .collect())
}

/// The listing form of one entry. The store writes the peer and member of an entry from typed
/// values, so their text always parses; text that does not (only an edited entry can hold
/// such) is shown as absent: the edit broke the hash chain, which `audit` reports.
fn line(ctx: &Context, e: LogEntry, check: LogCheck) -> LogLine {
    LogLine {
        seq: e.seq,
        time: format_unix(e.time),
        event: e.event,
        peer: e.peer.and_then(|p| p.parse().ok()),
        member: e.member.and_then(|m| m.parse().ok()),
        dataset: e.dataset,
        outcome: match e.granted {
            Some(true) => Outcome::Granted,
            Some(false) => Outcome::Denied,
            None => Outcome::Done,
        },
        receipt: (e.granted == Some(true)).then(|| {
            ctx.store
                .receipt(e.seq)
                .map(|r| r.is_some())
                .unwrap_or(false)
        }),
        reason: e.reason,
        count: e.count,
        intact: check == LogCheck::Ok,
    }
}

impl Operation for Log {
    type Error = LogError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<Vec<LogLine>, LogError> {
        list(ctx).await
    }
}
