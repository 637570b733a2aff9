//! `datapact federation status`: the newest adopted charter, the proposals for the version
//! after it (oldest first) and any recorded fork, in the contract's JSON shape.

use datapact_protocol::charter::{SignedCharter, pending_status};

use super::charter::{CharterOpError, verified_chain};
use crate::api::{CharterFork, CharterMemberInfo, CharterStatus, PendingProposal};
use crate::store::Store;

/// The status as the store holds it.
pub(crate) fn status(store: &Store) -> Result<CharterStatus, CharterOpError> {
    let fork = store.charter_fork()?.map(|f| CharterFork {
        version: f.version,
        ids: f.ids().to_vec(),
    });
    let Some(head) = store.charter_head()? else {
        return Ok(CharterStatus {
            federation: None,
            version: None,
            threshold: None,
            members: Vec::new(),
            pending: Vec::new(),
            fork,
        });
    };
    let bytes = store.charter_message(head)?.unwrap_or_default();
    let signed = SignedCharter::decode(&bytes).map_err(CharterOpError::Damaged)?;
    let charter = signed.charter();
    let members = charter
        .members
        .iter()
        .map(|m| CharterMemberInfo {
            code: m.code.clone(),
            peer_id: m.public_key.peer_id(),
            addrs: m.addrs.clone(),
        })
        .collect();
    Ok(CharterStatus {
        federation: Some(charter.federation.clone()),
        version: Some(charter.version),
        threshold: Some(charter.threshold),
        members,
        pending: pending(store, head)?,
        fork,
    })
}

/// The stored proposals that are a next version after `head`, oldest first; the chain is
/// verified only when there are some.
fn pending(store: &Store, head: u64) -> Result<Vec<PendingProposal>, CharterOpError> {
    let proposals: Vec<SignedCharter> = store
        .charter_proposals()?
        .iter()
        .filter_map(|bytes| SignedCharter::decode(bytes).ok())
        .filter(|p| p.charter().version == head + 1)
        .collect();
    if proposals.is_empty() {
        return Ok(Vec::new());
    }
    let current = verified_chain(store, head)?;
    let mut listed: Vec<(u64, PendingProposal)> = proposals
        .iter()
        .filter_map(|p| {
            let status = pending_status(&current, p).ok()?;
            let shown = PendingProposal {
                id: status.id.to_string(),
                version: status.version,
                change: status.change,
                signatures: status.signatures,
                needed: status.needed,
            };
            Some((p.charter().issued_at, shown))
        })
        .collect();
    listed.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
    Ok(listed.into_iter().map(|(_, p)| p).collect())
}
