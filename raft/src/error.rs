//! Errors returned by the metadata store.

use crate::types::TypeConfig;
use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::{BasicNode, RaftTypeConfig};

type NodeId = <TypeConfig as RaftTypeConfig>::NodeId;

/// A failure of the metadata layer. Refusals decided by the state machine
/// (`NoSuchBucket`, `PreconditionFailed`, ...) are not errors: they come back as a
/// [`crate::schema::CommandResult`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    /// Raft failed (stopped, fatal error, membership problem).
    #[error("raft error: {0}")]
    Raft(String),
    /// sled, file or codec failure.
    #[error("metadata storage error: {0}")]
    Storage(String),
    /// This node is not the leader; `leader` is the current leader if known.
    #[error("not the raft leader (leader: {leader:?})")]
    NotLeader { leader: Option<u64> },
    /// The cluster could not serve the request now (a peer failed mid-way); the
    /// outcome of a write is unknown.
    #[error("metadata unavailable: {0}")]
    Unavailable(String),
    /// The store was shut down.
    #[error("metadata store is shut down")]
    Shutdown,
}

impl From<sled::Error> for MetaError {
    fn from(e: sled::Error) -> Self {
        MetaError::Storage(e.to_string())
    }
}

impl From<bincode::Error> for MetaError {
    fn from(e: bincode::Error) -> Self {
        MetaError::Storage(format!("codec: {e}"))
    }
}

impl From<RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>> for MetaError {
    fn from(e: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>) -> Self {
        match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => MetaError::NotLeader { leader: f.leader_id },
            RaftError::APIError(other) => MetaError::Raft(other.to_string()),
            RaftError::Fatal(openraft::error::Fatal::Stopped) => MetaError::Shutdown,
            RaftError::Fatal(f) => MetaError::Raft(f.to_string()),
        }
    }
}

impl From<RaftError<NodeId, CheckIsLeaderError<NodeId, BasicNode>>> for MetaError {
    fn from(e: RaftError<NodeId, CheckIsLeaderError<NodeId, BasicNode>>) -> Self {
        match e {
            RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => MetaError::NotLeader { leader: f.leader_id },
            RaftError::APIError(other) => MetaError::Raft(other.to_string()),
            RaftError::Fatal(openraft::error::Fatal::Stopped) => MetaError::Shutdown,
            RaftError::Fatal(f) => MetaError::Raft(f.to_string()),
        }
    }
}
