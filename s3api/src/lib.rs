//! The protocols of Cairn over the object layer (`cairn-object`): the S3 API (`s3/`,
//! an s3s `S3` implementation, behind `gate/` and `access/`) and the admin API.

pub mod access;
mod auth;
pub mod cors;
mod errors;
pub mod ext;
pub mod gate;
mod host;
#[cfg(test)]
mod parser_props;
pub mod policy;
pub mod refusals;
mod s3;
mod timefmt;

pub use auth::CairnAuth;
pub use ext::ExtRoute;
pub use ext::admin::{AdminError, ClusterAdmin, DurabilityAdmin};
pub use host::CairnHost;
pub use s3::multipart::{MAX_PART_NUMBER, MIN_PART_SIZE};
pub use s3::service::CairnS3;
