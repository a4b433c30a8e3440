//! The S3 API of Cairn: an s3s `S3` implementation over the Raft metadata store
//! and the erasure-coded disk set.

pub mod access;
mod admin;
mod auth;
mod errors;
pub mod gate;
mod host;
pub mod key_admin;
#[cfg(test)]
mod parser_props;
mod placement;
pub mod policy;
pub mod refusals;
mod s3;
mod store;
mod timefmt;

pub use admin::{AdminError, AdminRoute, ClusterAdmin, DurabilityAdmin};
pub use auth::CairnAuth;
pub use host::CairnHost;
pub use s3::multipart::{MAX_PART_NUMBER, MIN_PART_SIZE};
pub use s3::service::CairnS3;
pub use store::{Store, StoreConfig, placement_hash, spec_of};
