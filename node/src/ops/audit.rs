//! `datapact audit`: re-verifies everything the node holds, without trusting its own earlier
//! conclusions: every announcement's signature against the owner's roster key (our own key for
//! our releases), every stored content against its signed digest, every revocation, expiry,
//! the access log's hash chain, and that no charter fork waits for the operator.

use std::collections::HashMap;
use std::io::Read;

use datapact_protocol::{ContentHasher, DatasetId, MemberCode, PublicKey, SignedAnnouncement};

use tokio::task::JoinError;

use super::structures::Finding;
use super::{Context, OpError, Operation, Progress, blocking};
use crate::api::{Audit, AuditFailure, AuditReport, ErrorKind};
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
    Interrupted(#[from] JoinError),
}

impl OpError for AuditError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Failed
    }
}

/// Runs the audit on a blocking thread (it reads every stored content).
pub async fn audit(ctx: &Context, strict: bool) -> Result<AuditReport, AuditError> {
    blocking(ctx, move |ctx| {
        let my_key = ctx.home.identity.public_key();
        run(&ctx.store, &ctx.home.member, &my_key, strict, now())
    })
    .await
}

impl Operation for Audit {
    type Error = AuditError;

    async fn run(self, ctx: &Context, _: &Progress) -> Result<AuditReport, AuditError> {
        audit(ctx, self.strict).await
    }
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
        keys.insert(entry.member, PublicKey::from_peer_id(&entry.peer_id).ok());
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
        let found = check_dataset(store, me, &keys, now, &id, &record);
        let finding = |problem| AuditFailure {
            id: id.to_string(),
            problem,
        };
        failures.extend(found.problems.into_iter().map(finding));
        notes.extend(found.notes.into_iter().map(finding));
    }
    check_log(store, &mut failures)?;
    check_charter(store, &mut failures)?;
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

/// A recorded charter fork fails the audit until the operator adopts one of its versions.
fn check_charter(store: &Store, failures: &mut Vec<AuditFailure>) -> Result<(), StoreError> {
    if let Some(fork) = store.charter_fork()? {
        failures.push(AuditFailure {
            id: format!("charter version {}", fork.version),
            problem: format!(
                "fork: two valid charters of version {} ({}), a member signed twice; adopt one with `datapact federation adopt FILE`",
                fork.version,
                fork.ids().join(", ")
            ),
        });
    }
    Ok(())
}

/// What the audit found about one stored dataset.
struct Found {
    /// Failures, in the order checked.
    problems: Vec<String>,
    /// Revoked, expired, or data whose structure is held here only as another message:
    /// reported, failures only when strict.
    notes: Vec<String>,
}

/// Checks one stored dataset: its signed announcement against the id it is stored under and
/// the owner's roster key (`keys`, ours included), its content, its revocation, its expiry.
fn check_dataset(
    store: &Store,
    me: &MemberCode,
    keys: &HashMap<MemberCode, Option<PublicKey>>,
    now: u64,
    id: &DatasetId,
    record: &DatasetRecord,
) -> Found {
    let mut found = Found {
        problems: Vec::new(),
        notes: Vec::new(),
    };
    let signed = match record.verified_announcement() {
        Ok(s) => s,
        Err(e) => {
            found
                .problems
                .push(format!("announcement does not verify: {e}"));
            return found;
        }
    };
    let a = signed.body();
    let fail = &mut found.problems;
    if a.id() != *id {
        fail.push(format!(
            "stored as {id} but the signed announcement is for {}",
            a.id()
        ));
    }
    match keys.get(&a.owner) {
        Some(Some(key)) if key == signed.signer() => {}
        Some(Some(_)) => fail.push(format!(
            "signed by a key that is not {}'s roster key",
            a.owner
        )),
        _ => fail.push(format!(
            "owner {} is not in the roster, so its signature cannot be checked",
            a.owner
        )),
    }
    if record.origin == Origin::Own && a.owner != *me {
        fail.push(format!(
            "recorded as our own release but owned by {}",
            a.owner
        ));
    }
    if record.has_content {
        match check_content(store, &signed) {
            Some(problem) => fail.push(problem),
            None => match super::structures::audit(store, &signed) {
                Some(Finding::Failure(problem)) => fail.push(problem),
                Some(Finding::Note(problem)) => found.notes.push(problem),
                None => {}
            },
        }
    }
    let fail = &mut found.problems;
    if let Some(problem) = check_revocation(record, &signed, keys) {
        fail.push(problem);
    } else if record.revocation.is_some() {
        found.notes.push("revoked by its owner".into());
    }
    if a.policy.is_expired(now) {
        found.notes.push("expired".into());
    }
    found
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
