//! One audit record: a line of a node's audit files (`<data>/audit/*.jsonl`) and of
//! what its webhook receives. `docs/audit.md` documents every field; records never
//! hold a secret, a signature or object data.

use serde::{Deserialize, Serialize};

/// A request that reached the authorizer, S3 or `/cairn/`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditRecord {
    /// When the answer was sent: RFC 3339, UTC, nanoseconds.
    pub time: String,
    /// The `x-amz-request-id` the answer carried.
    pub request_id: String,
    /// The node that served it (its id in the cluster; 0 before it has one).
    pub node: u64,
    /// The signing access key id; absent for anonymous requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    /// The key's tenant, if it belongs to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub anonymous: bool,
    /// The client's address.
    pub source: String,
    /// The operation (`PutObject`, `GetObject`, ..., or `cairn:<METHOD> <path>` for `/cairn/`).
    pub operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `allow` or `deny`.
    pub decision: String,
    /// The rule that decided (`docs/audit.md`).
    pub rule: String,
    /// The HTTP status answered.
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration_ms: f64,
}

/// `GET /cairn/admin/v1/audit?since=<RFC 3339 | unix seconds>&tenant=<id>&limit=<n>&after=<next>`:
/// administrative changes (keys, policies, ACLs, quotas, tenants, KMS keys, membership)
/// from the replicated metadata, oldest first; the same on every node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdminEventList {
    pub events: Vec<AdminEventInfo>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdminEventInfo {
    /// RFC 3339, UTC.
    pub time: String,
    pub access_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The node that served the request.
    pub node: u64,
    pub request_id: String,
    /// What changed, as the change feed names it (`{"AccessKeyPut": {"access_key_id": ...}}`).
    pub change: serde_json::Value,
}
