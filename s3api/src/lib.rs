//! The S3 API of Cairn: an s3s `S3` implementation over the Raft metadata store
//! and the erasure-coded disk set.

pub mod access;
mod acl_ops;
mod admin;
mod auth;
mod bucket_ops;
mod checksum;
mod errors;
pub mod gate;
mod host;
pub mod key_admin;
mod listing;
mod multipart_ops;
mod object_ops;
#[cfg(test)]
mod parser_props;
mod placement;
pub mod policy;
mod policy_ops;
mod preconditions;
pub mod refusals;
mod service;
mod store;
mod timefmt;
mod unconfigured;

pub use admin::{AdminError, AdminRoute, ClusterAdmin, DurabilityAdmin};
pub use auth::CairnAuth;
pub use host::CairnHost;
pub use multipart_ops::{MAX_PART_NUMBER, MIN_PART_SIZE};
pub use service::CairnS3;
pub use store::{Store, StoreConfig, placement_hash, spec_of};
