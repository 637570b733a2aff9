//! `datapact audit`: re-verifies everything the node holds, without trusting its own earlier
//! conclusions: every announcement's signature against the owner's roster key (our own key for
//! our releases), every stored content against its signed digest, every revocation, expiry,
//! and the access log's hash chain.

use std::collections::HashMap;
use std::io::Read;

use datapact_protocol::{ContentHasher, MemberCode, PublicKey, SignedAnnouncement};

use super::{Context, OpError};
use crate::api::{AuditFailure, AuditReport, ErrorKind};
use crate::store::blobs::COPY_BUFFER;
use crate::store::{DatasetRecord, LogCheck, Origin, Store, StoreError, now};

/// Why the audit could not run (a finding is not an error: it is in the report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The audit task died.
    #[error("audit interrupted: {0}")]
    Interrupted(String),
}

impl OpError for AuditError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Failed
    }
}

/// Runs the audit on a blocking thread (it reads every stored content).
pub async fn audit(ctx: &Context, strict: bool) -> Result<AuditReport, AuditError> {
    let store = ctx.store.clone();
    let me = ctx.home.member.clone();
    let my_key = ctx.home.identity.public_key();
    tokio::task::spawn_blocking(move || run(&store, &me, &my_key, strict, now()))
        .await
        .map_err(|e| AuditError::Interrupted(e.to_string()))?
}

/// The audit itself, on a store, as of `now`.
pub fn run(
    store: &Store,
    me: &MemberCode,
    my_key: &PublicKey,
    strict: bool,
    now: u64,
) -> Result<AuditReport, AuditError> {
    let mut keys: HashMap<MemberCode, Option<PublicKey>> = HashMap::new();
    keys.insert(me.clone(), Some(*my_key));
    for entry in store.roster()? {
        if let Ok(code) = MemberCode::new(&entry.member) {
            keys.insert(code, PublicKey::from_peer_id_str(&entry.peer_id).ok());
        }
    }
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    let mut checked = 0u64;
    for (id, record) in store.datasets()? {
        if record.origin == Origin::Received && !record.has_content && record.revocation.is_none() {
            // Only announced to us, nothing held: the catalogue, not the audit, covers it.
            continue;
        }
        checked += 1;
        let id_text = id.to_string();
        let mut fail = |problem: String| {
            failures.push(AuditFailure {
                id: id_text.clone(),
                problem,
            })
        };
        let signed = match record.verified_announcement() {
            Ok(s) => s,
            Err(e) => {
                fail(format!("announcement does not verify: {e}"));
                continue;
            }
        };
        let a = signed.body();
        if a.id() != id {
            fail(format!(
                "stored as {id} but the signed announcement is for {}",
                a.id()
            ));
        }
        match keys.get(&a.owner) {
            Some(Some(key)) if key == signed.signer() => {}
            Some(Some(_)) => fail(format!(
                "signed by a key that is not {}'s roster key",
                a.owner
            )),
            _ => fail(format!(
                "owner {} is not in the roster, so its signature cannot be checked",
                a.owner
            )),
        }
        if record.origin == Origin::Own && a.owner != *me {
            fail(format!(
                "recorded as our own release but owned by {}",
                a.owner
            ));
        }
        if record.has_content
            && let Some(problem) = check_content(store, &signed)
        {
            fail(problem);
        }
        if let Some(problem) = check_revocation(&record, &signed, &keys) {
            fail(problem);
        } else if record.revocation.is_some() {
            notes.push(AuditFailure {
                id: id.to_string(),
                problem: "revoked by its owner".into(),
            });
        }
        if a.policy.is_expired(now) {
            notes.push(AuditFailure {
                id: id.to_string(),
                problem: "expired".into(),
            });
        }
    }
    check_log(store, &mut failures)?;
    if strict {
        failures.append(&mut notes);
    }
    Ok(AuditReport {
        ok: failures.is_empty(),
        checked,
        failures,
        notes,
    })
}

fn check_content(store: &Store, signed: &SignedAnnouncement) -> Option<String> {
    let a = signed.body();
    let mut file = match store.blobs().open_read(&a.sha256) {
        Ok(f) => f,
        Err(_) => return Some("content is missing from the store".into()),
    };
    let mut hasher = ContentHasher::new();
    let mut buf =
        vec![0u8; COPY_BUFFER.min(usize::try_from(a.size).unwrap_or(COPY_BUFFER).max(4096))];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) => return Some(format!("content cannot be read: {e}")),
        }
    }
    let digest = hasher.finish();
    if digest.sha256 != a.sha256 || digest.size != a.size {
        return Some("content does not match its signed digest".into());
    }
    None
}

fn check_revocation(
    record: &DatasetRecord,
    signed: &SignedAnnouncement,
    keys: &HashMap<MemberCode, Option<PublicKey>>,
) -> Option<String> {
    let revocation = match record.verified_revocation()? {
        Ok(r) => r,
        Err(e) => return Some(format!("revocation does not verify: {e}")),
    };
    let a = signed.body();
    if revocation.body().id() != a.id() {
        return Some(format!(
            "stored revocation is for {}, not this dataset",
            revocation.body().id()
        ));
    }
    match keys.get(&a.owner) {
        Some(Some(key)) if key == revocation.signer() => None,
        _ => Some(format!(
            "revocation signed by a key that is not {}'s roster key",
            a.owner
        )),
    }
}

fn check_log(store: &Store, failures: &mut Vec<AuditFailure>) -> Result<(), StoreError> {
    let entries = store.log()?;
    let mut problems = Vec::new();
    // A link that fails at entry k alone means entry k-1 was edited after k was written; links
    // failing at k and k+1 both mean entry k itself (its own link field) was edited.
    let broken: Vec<u64> = entries
        .iter()
        .filter(|(_, c)| *c == LogCheck::Altered)
        .map(|(e, _)| e.seq)
        .collect();
    let mut i = 0;
    while i < broken.len() {
        let k = broken[i];
        if broken.get(i + 1) == Some(&(k + 1)) {
            problems.push(format!("access log entry {k} was altered"));
            i += 2;
        } else {
            problems.push(format!(
                "access log entry {} was altered",
                k.saturating_sub(1).max(1)
            ));
            i += 1;
        }
    }
    for (entry, check) in &entries {
        if *check == LogCheck::Missing {
            problems.push(format!(
                "access log entries before {} are missing or out of order",
                entry.seq
            ));
        }
    }
    let last = entries.last().map_or(0, |(e, _)| e.seq);
    let written = store.log_len()?;
    if written > last {
        problems.push(format!(
            "access log entries after {last} are missing ({written} were written)"
        ));
    } else if let (Some(head), Some(stored)) = (store.log_head()?, store.last_log_entry_hash()?)
        && head != stored
        && written == last
    {
        problems.push(format!("access log entry {last} was altered"));
    }
    failures.extend(problems.into_iter().map(|problem| AuditFailure {
        id: "access-log".into(),
        problem,
    }));
    Ok(())
}
