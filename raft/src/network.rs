//! openraft's network side: Raft RPCs sent through a [`PeerCaller`]. Without a
//! caller (a node that has not joined a cluster) every peer is unreachable.

use crate::rpc::{PeerCaller, RaftReply, RaftRpc};
use crate::types::{NodeInfo, TypeConfig};
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use openraft::{RaftNetwork, RaftNetworkFactory};
use std::sync::Arc;

/// Creates a client per peer.
#[derive(Clone, Default)]
pub struct NetworkFactory {
    caller: Option<Arc<dyn PeerCaller>>,
}

impl NetworkFactory {
    pub fn new(caller: Option<Arc<dyn PeerCaller>>) -> Self {
        NetworkFactory { caller }
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &NodeInfo) -> PeerClient {
        PeerClient { target, node: node.clone(), caller: self.caller.clone() }
    }
}

/// A connection to one peer.
#[derive(Clone)]
pub struct PeerClient {
    target: u64,
    node: NodeInfo,
    caller: Option<Arc<dyn PeerCaller>>,
}

#[derive(Debug, thiserror::Error)]
#[error("raft rpc to node {target} at {addr}: {reason}")]
struct CallFailed {
    target: u64,
    addr: String,
    reason: String,
}

impl PeerClient {
    async fn send<E: std::error::Error>(&self, rpc: RaftRpc) -> Result<RaftReply, RPCError<u64, NodeInfo, E>> {
        let fail = |reason: String| CallFailed { target: self.target, addr: self.node.addr.clone(), reason };
        let Some(caller) = &self.caller else {
            return Err(RPCError::Unreachable(Unreachable::new(&fail("this node has no cluster transport".into()))));
        };
        caller
            .call(self.node.addr.clone(), rpc)
            .await
            .map_err(|e| RPCError::Unreachable(Unreachable::new(&fail(e.message))))
    }

    fn remote<E: std::error::Error>(&self, e: E) -> RPCError<u64, NodeInfo, E> {
        RPCError::RemoteError(RemoteError::new_with_node(self.target, self.node.clone(), e))
    }

    fn mismatch<E: std::error::Error>(&self) -> RPCError<u64, NodeInfo, E> {
        let e = CallFailed { target: self.target, addr: self.node.addr.clone(), reason: "mismatched reply".into() };
        RPCError::Network(NetworkError::new(&e))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, NodeInfo, RaftError<u64>>> {
        match self.send(RaftRpc::Append(rpc)).await? {
            RaftReply::Append(r) => r.map_err(|e| self.remote(e)),
            _ => Err(self.mismatch()),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RPCError<u64, NodeInfo, RaftError<u64, InstallSnapshotError>>> {
        match self.send(RaftRpc::Snapshot(rpc)).await? {
            RaftReply::Snapshot(r) => r.map_err(|e| self.remote(e)),
            _ => Err(self.mismatch()),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, NodeInfo, RaftError<u64>>> {
        match self.send(RaftRpc::Vote(rpc)).await? {
            RaftReply::Vote(r) => r.map_err(|e| self.remote(e)),
            _ => Err(self.mismatch()),
        }
    }
}
