//! `datapact log`: the owner's access log, each entry with whether its hash link holds.

use datapact_protocol::time::format_unix;

use super::{Context, OpError};
use crate::api::{ErrorKind, LogLine, Outcome};
use crate::store::{LogCheck, StoreError};

/// Why the log could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl OpError for LogError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Failed
    }
}

/// The whole log. The newest entry is marked not intact when it was edited or entries after
/// it were removed (the store keeps the newest entry's hash and the number ever written).
pub fn list(ctx: &Context) -> Result<Vec<LogLine>, LogError> {
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
        .map(|(e, check)| LogLine {
            seq: e.seq,
            time: format_unix(e.time),
            event: e.event,
            peer: e.peer,
            member: e.member,
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
        })
        .collect())
}
