//! The S3 protocol: the s3s `S3` trait (`service.rs`) and one file per feature area.
//! Handlers parse S3 requests, call the object layer and answer S3; they never
//! build Raft commands or touch shards themselves.

pub(crate) mod acl;
pub(crate) mod bucket;
pub(crate) mod bucket_cors;
pub(crate) mod bucket_encryption;
pub(crate) mod bucket_notification;
pub(crate) mod checksum;
pub(crate) mod ingest;
pub(crate) mod lifecycle;
pub(crate) mod listing;
pub(crate) mod multipart;
pub(crate) mod object;
pub(crate) mod object_lock;
pub(crate) mod object_tagging;
pub(crate) mod ownership;
pub(crate) mod policy;
pub(crate) mod preconditions;
pub(crate) mod public_access_block;
pub(crate) mod quota_gate;
pub(crate) mod service;
pub(crate) mod sse;
pub(crate) mod storage_class;
pub(crate) mod tagging;
pub(crate) mod unconfigured;
pub(crate) mod version_fields;
pub(crate) mod versioning;
