//! Raft transport. Cairn's internode transport (QUIC) will live behind this factory;
//! for now the group has a single voter, which never sends RPCs, so every client
//! answers `Unreachable`.

use crate::types::{NodeInfo, TypeConfig};
use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use openraft::{RaftNetwork, RaftNetworkFactory};

/// Creates a client per peer.
#[derive(Clone, Debug, Default)]
pub struct NetworkFactory {}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &NodeInfo) -> PeerClient {
        PeerClient { target, addr: node.addr.clone() }
    }
}

/// A connection to one peer.
#[derive(Clone, Debug)]
pub struct PeerClient {
    target: u64,
    addr: String,
}

#[derive(Debug, thiserror::Error)]
#[error("no raft transport yet: node {target} at {addr:?} is unreachable")]
struct NoTransport {
    target: u64,
    addr: String,
}

impl PeerClient {
    fn unreachable<E: std::error::Error>(&self) -> RPCError<u64, NodeInfo, E> {
        RPCError::Unreachable(Unreachable::new(&NoTransport { target: self.target, addr: self.addr.clone() }))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, NodeInfo, RaftError<u64>>> {
        Err(self.unreachable())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RPCError<u64, NodeInfo, RaftError<u64, InstallSnapshotError>>> {
        Err(self.unreachable())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, NodeInfo, RaftError<u64>>> {
        Err(self.unreachable())
    }
}
