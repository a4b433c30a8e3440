//! cairn-raft: the metadata of a Cairn cluster, replicated by one openraft group
//! whose log and state machine live in sled.
//!
//! - [`schema`]: records and commands (the contract with the S3 layer).
//! - [`MetaStore`]: open, propose, linearizable reads, local reads, listing.
//! - [`keys`]: the sled layout (documented there).
//! - [`network`] and [`rpc`]: Raft RPCs and forwarded requests, sent through the
//!   node's internode transport ([`rpc::PeerCaller`]).

pub mod blobs;
pub mod error;
pub mod format;
pub mod keys;
mod layout;
mod listing;
pub mod log_store;
pub mod network;
pub mod rpc;
// The schema's enums are wire records, moved rarely: boxing variants would only
// change the encoding-facing types.
#[allow(clippy::large_enum_variant)]
pub mod schema;
pub mod state_machine;
mod store;
pub mod types;
pub mod usage;

pub use error::MetaError;
pub use state_machine::etag_matches;
pub use store::{
    raft_config, raft_config_with, Bootstrap, MetaStore, OpenOptions, ProposalObserver, DEFAULT_SNAPSHOT_EVERY,
    MAX_BATCH_BYTES, MAX_BATCH_COMMANDS, MAX_IN_FLIGHT, MAX_VOTERS,
};
pub use types::{BatchResponse, CommandBatch, NodeInfo, Raft, TypeConfig};
