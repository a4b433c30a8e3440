//! cairn-raft: the metadata of a Cairn cluster, replicated by one openraft group
//! whose log and state machine live in sled.
//!
//! - [`schema`]: records and commands (the contract with the layers above).
//! - [`MetaStore`] (`store/`): open, propose, linearizable reads, local reads, listing.
//! - `tables`: the registry of state-machine tables; `keys`: their key layout;
//!   [`format`]: the on-disk format version and its rule.
//! - `apply/`: what each command does, one file per domain; `tx`: the overlay a
//!   batch of entries is applied into and its atomic commit.
//! - `state_machine`: the openraft state machine; `snapshot`: snapshot files.
//! - [`feed`]: the change feed, every applied change as a typed event.
//! - [`network`] and [`rpc`]: Raft RPCs and forwarded requests, sent through the
//!   node's internode transport ([`rpc::PeerCaller`]).

pub mod access;
pub mod admin_audit;
pub mod annotations;
mod apply;
pub mod assets;
pub mod blobs;
pub mod class_usage;
pub mod error;
pub mod feed;
pub mod format;
mod frozen;
pub mod keys;
pub mod kms;
mod layout;
mod listing;
pub mod log_files;
pub mod log_store;
pub mod network;
pub mod notify;
mod paced;
pub mod quota;
pub mod rpc;
// The schema's enums are wire records, moved rarely: boxing variants would only
// change the encoding-facing types.
#[allow(clippy::large_enum_variant)]
pub mod schema;
mod sled_sync;
mod snapshot;
pub mod state_machine;
mod store;
mod tables;
pub mod tiers;
pub mod timing;
mod trees;
mod tx;
pub mod types;
pub mod usage;
mod version_listing;
pub mod versions;

pub use apply::etag_matches;
pub use error::MetaError;
pub use feed::{Change, ChangeEvent, ChangeFeed, FeedError, Position, Subscription};
pub use keys::{MEMBER_BUCKETS, MEMBER_KEYS};
pub use store::{
    raft_config, raft_config_with, AssetQuery, Bootstrap, MetaStore, OpenOptions, ProposalObserver,
    DEFAULT_META_CACHE_MIB, DEFAULT_SNAPSHOT_EVERY, MAX_BATCH_BYTES, MAX_BATCH_COMMANDS, MAX_IN_FLIGHT, MAX_VOTERS,
};
pub use types::{BatchResponse, CommandBatch, NodeInfo, Raft, TypeConfig};
