//! Messages between the metadata layers of peer nodes, and the transport they need.
//!
//! The bytes travel over Cairn's internode transport, which lives in the node crate;
//! this crate only defines what is said ([`RaftRpc`] / [`RaftReply`]) and the small
//! [`PeerCaller`] interface it sends through. The server side is
//! [`crate::MetaStore::handle_rpc`].

use crate::types::{BatchResponse, CommandBatch, NodeInfo, TypeConfig};
use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

#[derive(Debug, Serialize, Deserialize)]
pub enum RaftRpc {
    Append(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<u64>),
    Snapshot(InstallSnapshotRequest<TypeConfig>),
    /// A follower's batch of commands, for the leader to write.
    Forward(CommandBatch),
    /// A follower asks the leader for the log index a linearizable read must wait for.
    ReadIndex,
    /// Adds a node to the group (learner, then voter while there are fewer than
    /// [`crate::MAX_VOTERS`]); only the leader does it.
    AddNode {
        id: u64,
        node: NodeInfo,
    },
}

/// Why a forwarded request was not served. `NotLeader` means nothing was done, so the
/// sender may retry elsewhere; `Failed` may or may not have taken effect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForwardError {
    NotLeader { leader: Option<u64> },
    Failed(String),
}

#[derive(Debug, Serialize, Deserialize)]
pub enum RaftReply {
    Append(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    Snapshot(Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>),
    Forward(Result<BatchResponse, ForwardError>),
    ReadIndex(Result<u64, ForwardError>),
    AddNode(Result<(), ForwardError>),
}

/// A transport failure.
#[derive(Clone, Debug)]
pub struct CallError {
    /// False when the request certainly never reached the peer (no connection), so
    /// resending it cannot apply anything twice.
    pub maybe_delivered: bool,
    pub message: String,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub type CallFuture = Pin<Box<dyn Future<Output = Result<RaftReply, CallError>> + Send>>;

/// Sends one RPC to the node at `addr` and returns its reply.
pub trait PeerCaller: Send + Sync + 'static {
    fn call(&self, addr: String, rpc: RaftRpc) -> CallFuture;
}

/// Wire encoding of RPCs and replies.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, bincode::Error> {
    bincode::serialize(msg)
}

pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, bincode::Error> {
    bincode::deserialize(bytes)
}
