//! The openraft type configuration of the metadata group.
//!
//! A Raft entry carries a [`CommandBatch`], not a single command: openraft 0.9 appends
//! (and flushes) one entry per client write and waits for that flush before taking the
//! next write, so group commit happens above Raft, in [`crate::MetaStore::propose`],
//! which packs all commands queued while the previous entry was being flushed into one
//! entry.

use crate::schema::{Command, CommandResult};
use serde::{Deserialize, Serialize};
#[allow(unused_imports)]
use std::io::Cursor;

/// The commands of one Raft entry, applied in order, atomically.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandBatch(pub Vec<Command>);

/// One result per command of the entry's [`CommandBatch`], in order. Empty for blank
/// and membership entries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse(pub Vec<CommandResult>);

/// Node information kept in the membership (the address peers dial).
pub type NodeInfo = openraft::BasicNode;

openraft::declare_raft_types!(
    /// Type configuration of the Cairn metadata Raft group.
    pub TypeConfig:
        D = CommandBatch,
        R = BatchResponse,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = tokio::fs::File,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type LogId = openraft::LogId<u64>;
pub type StoredMembership = openraft::StoredMembership<u64, NodeInfo>;
pub type SnapshotMeta = openraft::SnapshotMeta<u64, NodeInfo>;
pub type StorageError = openraft::StorageError<u64>;
