//! The Raft group as a whole: who leads, linearizable reads, adding nodes, and the
//! Raft RPCs peers send this node.

use super::batcher::write_forward_error;
use super::{Inner, MetaStore, ADD_NODE_TIMEOUT, LEADER_WAIT, MAX_VOTERS, QUORUM_STALE_MS};
use crate::error::MetaError;
use crate::rpc::{ForwardError, RaftReply, RaftRpc};
use crate::types::{NodeInfo, Raft};
use openraft::error::{CheckIsLeaderError, RaftError};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::Instant;

impl MetaStore {
    /// Linearizable read barrier: after it returns, local reads see every write
    /// committed before it was called. A follower asks the leader for its read index
    /// and waits until it has applied that far.
    pub async fn read_barrier(&self) -> Result<(), MetaError> {
        let inner = self.inner();
        if sole_voter(&inner) {
            // The leader answers a proposal only once it is applied here, and no other
            // node can take over while this one is the only voter: the local state
            // already holds every acknowledged write.
            return Ok(());
        }
        let deadline = Instant::now() + LEADER_WAIT;
        loop {
            let leader = wait_for_leader(&inner.raft, deadline).await?;
            if leader.0 == inner.node_id {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, inner.raft.ensure_linearizable()).await {
                    Ok(Ok(_)) => return Ok(()),
                    Ok(Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(_)))) => {}
                    Ok(Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_)))) => {}
                    Ok(Err(e)) => return Err(e.into()),
                    Err(_) => return Err(MetaError::NotLeader { leader: None }),
                }
            } else if let Some(caller) = &inner.caller {
                // A failed call is retried: asking for a read index changes nothing.
                if let Ok(RaftReply::ReadIndex(r)) = caller.call(leader.1, RaftRpc::ReadIndex).await {
                    match r {
                        Ok(index) => {
                            let left = deadline.saturating_duration_since(Instant::now());
                            inner
                                .raft
                                .wait(Some(left))
                                .applied_index_at_least(Some(index), "read index")
                                .await
                                .map_err(|e| MetaError::Unavailable(format!("catching up to the leader: {e}")))?;
                            return Ok(());
                        }
                        Err(ForwardError::NotLeader { .. }) => {}
                        Err(ForwardError::Failed(e)) => return Err(MetaError::Unavailable(e)),
                    }
                }
            } else {
                return Err(MetaError::NotLeader { leader: Some(leader.0) });
            }
            if Instant::now() >= deadline {
                return Err(MetaError::NotLeader { leader: None });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    /// Adds node `id` at internode address `addr` to the group: as a learner, then
    /// (while there are fewer than [`MAX_VOTERS`] voters) as a voter. Runs on the
    /// leader; a follower forwards it.
    pub async fn add_node(&self, id: u64, addr: &str) -> Result<(), MetaError> {
        let inner = self.inner();
        let deadline = Instant::now() + LEADER_WAIT;
        loop {
            let leader = wait_for_leader(&inner.raft, deadline).await?;
            let res = if leader.0 == inner.node_id {
                add_node_as_leader(&inner.raft, id, NodeInfo::new(addr)).await
            } else if let Some(caller) = &inner.caller {
                match caller.call(leader.1, RaftRpc::AddNode { id, node: NodeInfo::new(addr) }).await {
                    Ok(RaftReply::AddNode(r)) => r,
                    Ok(_) => Err(ForwardError::Failed("mismatched reply".into())),
                    Err(e) => Err(ForwardError::Failed(e.message)),
                }
            } else {
                Err(ForwardError::NotLeader { leader: Some(leader.0) })
            };
            match res {
                Ok(()) => return Ok(()),
                Err(ForwardError::NotLeader { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(ForwardError::NotLeader { leader }) => return Err(MetaError::NotLeader { leader }),
                Err(ForwardError::Failed(e)) => return Err(MetaError::Unavailable(e)),
            }
        }
    }
    /// Serves an RPC from a peer's metadata layer.
    pub async fn handle_rpc(&self, rpc: RaftRpc) -> RaftReply {
        let inner = self.inner();
        let raft = &inner.raft;
        match rpc {
            RaftRpc::Append(r) => RaftReply::Append(raft.append_entries(r).await),
            RaftRpc::Vote(r) => RaftReply::Vote(raft.vote(r).await),
            RaftRpc::Snapshot(r) => RaftReply::Snapshot(raft.install_snapshot(r).await),
            RaftRpc::Forward(batch) => RaftReply::Forward(match raft.client_write(batch).await {
                Ok(resp) => Ok(resp.data),
                Err(e) => Err(write_forward_error(e)),
            }),
            RaftRpc::ReadIndex => RaftReply::ReadIndex(match raft.ensure_linearizable().await {
                Ok(log_id) => Ok(log_id.map_or(0, |l| l.index)),
                Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                    Err(ForwardError::NotLeader { leader: f.leader_id })
                }
                Err(e) => Err(ForwardError::Failed(e.to_string())),
            }),
            RaftRpc::AddNode { id, node } => {
                let is_leader = raft.metrics().borrow().current_leader == Some(inner.node_id);
                RaftReply::AddNode(if is_leader {
                    add_node_as_leader(raft, id, node).await
                } else {
                    Err(ForwardError::NotLeader { leader: raft.metrics().borrow().current_leader })
                })
            }
        }
    }
    /// Whether writes can commit as far as this node can tell: a leader is known and,
    /// on the leader itself, a quorum acknowledged it within the last few seconds.
    pub fn has_quorum(&self) -> bool {
        let inner = self.inner();
        let m = inner.raft.metrics().borrow().clone();
        match m.current_leader {
            Some(l) if l == inner.node_id => m.millis_since_quorum_ack.is_some_and(|ms| ms < QUORUM_STALE_MS),
            Some(_) => true,
            None => false,
        }
    }
}

/// The current leader's id and address, waiting (until `deadline`) while there is none.
pub(super) async fn wait_for_leader(raft: &Raft, deadline: Instant) -> Result<(u64, String), MetaError> {
    let mut rx = raft.metrics();
    loop {
        {
            let m = rx.borrow_and_update();
            if let Some(id) = m.current_leader {
                let addr = m.membership_config.membership().get_node(&id).map(|n| n.addr.clone()).unwrap_or_default();
                return Ok((id, addr));
            }
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(MetaError::Shutdown),
            Err(_) => return Err(MetaError::NotLeader { leader: None }),
        }
    }
}
/// Resolves once this node no longer sees `from` as the leader.
pub(super) async fn leader_changes(raft: &Raft, from: u64) {
    let mut rx = raft.metrics();
    loop {
        if rx.borrow_and_update().current_leader != Some(from) {
            return;
        }
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}
async fn add_node_as_leader(raft: &Raft, id: u64, node: NodeInfo) -> Result<(), ForwardError> {
    let membership = raft.metrics().borrow().membership_config.membership().clone();
    let mut voters: BTreeSet<u64> = membership.voter_ids().collect();
    if voters.contains(&id) {
        return Ok(());
    }
    // Blocking: returns once the learner has caught up, so promoting it next cannot
    // stall commits while it replays the log.
    match tokio::time::timeout(ADD_NODE_TIMEOUT, raft.add_learner(id, node, true)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(write_forward_error(e)),
        Err(_) => return Err(ForwardError::Failed(format!("node {id} did not catch up within {ADD_NODE_TIMEOUT:?}"))),
    }
    if voters.len() < MAX_VOTERS {
        voters.insert(id);
        raft.change_membership(voters, true).await.map_err(write_forward_error)?;
    }
    Ok(())
}
/// True if this node leads a group in which it is the only voter.
fn sole_voter(inner: &Inner) -> bool {
    let rx = inner.raft.metrics();
    let m = rx.borrow();
    m.current_leader == Some(inner.node_id)
        && m.state.is_leader()
        && m.membership_config.membership().voter_ids().eq([inner.node_id])
}
