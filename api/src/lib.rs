//! The typed requests and answers of Cairn's JSON endpoints under `/cairn/`, shared by
//! the server (`cairn-s3api`'s `ext/` router, the node's cluster and durability
//! services) and the `cairn` CLI, so that every JSON field is named once, here.
//! Pure data: serde structs and the paths they travel on, no I/O.

pub mod admin;
pub mod annotations;
pub mod assets;
pub mod audit;
pub mod durability;
pub mod events;
pub mod kms;
pub mod lifecycle;
pub mod tenants;
pub mod tiering;

use serde::{Deserialize, Serialize};

/// The prefix every extension endpoint lives under: the bucket name `cairn` is
/// reserved, so no S3 bucket can take it.
pub const EXT_PREFIX: &str = "/cairn/";
/// Cluster and key administration.
pub const ADMIN_PREFIX: &str = "/cairn/admin/v1/";
/// Tenants and quotas ([`tenants`]), assets ([`assets`]), annotations ([`annotations`]).
pub const V1_PREFIX: &str = "/cairn/v1/";

/// Every JSON error: `{"error": {"code": ..., "message": ...}}`. Codes are stable;
/// messages are for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    /// The request field at fault, when one is (`versions[0].object`, `media_type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { error: ErrorDetail { code: code.into(), message: message.into(), field: None } }
    }

    /// Names the request field at fault.
    pub fn at(mut self, field: Option<String>) -> Self {
        self.error.field = field;
        self
    }
}
