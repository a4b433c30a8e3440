//! Group commit: packs queued proposals into Raft entries, and writes each entry on
//! the leader or forwards it there from a follower.

use super::group::{leader_changes, wait_for_leader};
use super::{LEADER_WAIT, MAX_BATCH_BYTES, MAX_BATCH_COMMANDS, MAX_IN_FLIGHT};
use crate::error::MetaError;
use crate::rpc::{CallError, ForwardError, PeerCaller, RaftReply, RaftRpc};
use crate::schema::{Command, CommandResult, ObjectData};
use crate::types::{BatchResponse, CommandBatch, NodeInfo, Raft};
use openraft::error::{ClientWriteError, RaftError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;

pub(super) struct Pending {
    pub cmd: Command,
    pub tx: oneshot::Sender<Result<CommandResult, MetaError>>,
}
fn data_size(data: &ObjectData) -> usize {
    match data {
        ObjectData::Inline(d) => d.len(),
        ObjectData::Shards(s) => 64 + s.disks.len() * 2,
        ObjectData::Parts(ps) => ps.iter().map(|p| 96 + p.etag.len() + data_size(&p.data)).sum(),
        ObjectData::Sealed(s) => 96 + s.sse.sealed_key.len() + data_size(&s.data),
    }
}
fn approx_size(cmd: &Command) -> usize {
    match cmd {
        Command::PutObject { version, .. } | Command::CompleteUpload { version, .. } => 512 + data_size(&version.data),
        Command::CreateUpload { upload } => 512 + data_size(&upload.template.data),
        Command::PutPart { part, .. } => 256 + data_size(&part.data),
        _ => 256,
    }
}
/// A leader that has lost its quorum would wait for a commit forever; the client gets
/// an answer instead. The entry may still commit later: the outcome is unknown.
async fn commit_within(
    raft: &Raft,
    batch: CommandBatch,
    limit: Duration,
) -> Result<openraft::raft::ClientWriteResponse<crate::types::TypeConfig>, MetaError> {
    match tokio::time::timeout(limit, raft.client_write(batch)).await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => {
            Err(MetaError::Unavailable("no quorum acknowledged the write in time; its outcome is unknown".into()))
        }
    }
}
pub(super) fn write_forward_error(e: RaftError<u64, ClientWriteError<u64, NodeInfo>>) -> ForwardError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => ForwardError::NotLeader { leader: f.leader_id },
        other => ForwardError::Failed(other.to_string()),
    }
}
/// Writes one batch: on the leader through Raft, on a follower by forwarding it to the
/// leader. Retries only while the batch has certainly not been applied anywhere.
async fn write_batch(
    raft: &Raft,
    caller: Option<&Arc<dyn PeerCaller>>,
    node_id: u64,
    batch: CommandBatch,
) -> Result<BatchResponse, MetaError> {
    let Some(caller) = caller else {
        return Ok(commit_within(raft, batch, LEADER_WAIT).await?.data);
    };
    let deadline = Instant::now() + LEADER_WAIT;
    loop {
        let (leader, addr) = wait_for_leader(raft, deadline).await?;
        let res = if leader == node_id {
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
            return commit_within(raft, batch, left).await.map(|r| r.data);
        } else {
            // A leader that dies mid-call is noticed by the election before the
            // connection times out; the client hears about it that much sooner.
            let reply = tokio::select! {
                r = caller.call(addr, RaftRpc::Forward(batch.clone())) => r,
                _ = leader_changes(raft, leader) => Err(CallError {
                    maybe_delivered: true,
                    message: "the leader changed while the write was in flight".into(),
                }),
            };
            match reply {
                Ok(RaftReply::Forward(r)) => r,
                Ok(_) => Err(ForwardError::Failed("mismatched reply to a forwarded write".into())),
                Err(e) if !e.maybe_delivered => Err(ForwardError::NotLeader { leader: None }),
                Err(e) => {
                    Err(ForwardError::Failed(format!("forwarding to the leader: {}; outcome unknown", e.message)))
                }
            }
        };
        match res {
            Ok(resp) => return Ok(resp),
            Err(ForwardError::NotLeader { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(ForwardError::NotLeader { leader }) => return Err(MetaError::NotLeader { leader }),
            Err(ForwardError::Failed(e)) => return Err(MetaError::Unavailable(e)),
        }
    }
}
/// Packs queued proposals into Raft entries; ends when every `MetaStore` is dropped.
pub(super) async fn batcher(
    raft: Raft,
    caller: Option<Arc<dyn PeerCaller>>,
    node_id: u64,
    mut rx: mpsc::Receiver<Pending>,
) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        // Everything that queued up while we waited for a slot joins this entry.
        let mut bytes = approx_size(&first.cmd);
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_COMMANDS && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(p) => {
                    bytes += approx_size(&p.cmd);
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        let raft = raft.clone();
        let caller = caller.clone();
        tokio::spawn(async move {
            let (cmds, txs): (Vec<Command>, Vec<_>) = batch.into_iter().map(|p| (p.cmd, p.tx)).unzip();
            let n = cmds.len();
            let res = write_batch(&raft, caller.as_ref(), node_id, CommandBatch(cmds)).await;
            drop(permit);
            match res {
                Ok(resp) if resp.0.len() == n => {
                    for (tx, r) in txs.into_iter().zip(resp.0) {
                        let _ = tx.send(Ok(r));
                    }
                }
                Ok(resp) => {
                    let e =
                        MetaError::Raft(format!("state machine returned {} results for {n} commands", resp.0.len()));
                    for tx in txs {
                        let _ = tx.send(Err(e.clone()));
                    }
                }
                Err(e) => {
                    for tx in txs {
                        let _ = tx.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}
