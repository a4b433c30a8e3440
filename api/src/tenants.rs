//! `/cairn/v1/`: tenants, their keys, and quotas.
//!
//! | method and path | request | answer |
//! |---|---|---|
//! | `POST tenants` | [`CreateTenant`] | [`TenantInfo`] (201; 200 when the same `id`, name and parent exist: a replay) |
//! | `GET tenants[?parent=ID][&cursor=C][&limit=N]` | | [`TenantList`]: children of `parent`, or the top level |
//! | `GET tenants/ID` | | [`TenantInfo`] |
//! | `PUT tenants/ID/quota` | [`SetQuota`] | [`TenantInfo`] |
//! | `DELETE tenants/ID` | | [`Deleted`] (only with no child tenants, buckets or keys) |
//! | `GET tenants/ID/usage[?limit=N]` | | [`TenantUsage`]: the tenant, and the first page of its buckets and of its children (`limit` each, default 1000) |
//! | `GET tenants/ID/usage/buckets[?cursor=C][&limit=N]` | | [`BucketUsageList`]: the tenant's buckets, in name order |
//! | `GET tenants/ID/usage/children[?cursor=C][&limit=N]` | | [`TenantList`]: the tenant's children, in name order (as `GET tenants?parent=ID`) |
//! | `GET tenants/ID/usage/history[?period=hourly\|daily]` | | [`UsageHistory`]: hourly samples for 7 days, or daily ones for 90, oldest first |
//! | `POST tenants/ID/keys` | [`CreateTenantKey`] | [`TenantKey`] with the secret (shown once) |
//! | `GET tenants/ID/keys` | | [`TenantKeyList`] |
//! | `PUT tenants/ID/keys/KEY/quota` | [`SetQuota`] | [`TenantKey`] |
//! | `DELETE tenants/ID/keys/KEY` | | [`Deleted`] |
//! | `GET buckets/B/quota` | | [`BucketQuota`] |
//! | `PUT buckets/B/quota` | [`SetQuota`] | [`BucketQuota`] (an empty quota removes it) |
//!
//! Who may call: admin keys everything; a tenant admin key only its own tenant's
//! subtree (it creates sub-tenants and keys there and sets the quotas of the tenants
//! below its own, never its own); other keys nothing. Errors are
//! [`crate::ErrorBody`] with the codes in [`codes`].

use serde::{Deserialize, Serialize};

/// Stable error codes of the tenant API.
pub mod codes {
    pub const NO_SUCH_TENANT: &str = "NoSuchTenant";
    pub const TENANT_EXISTS: &str = "TenantAlreadyExists";
    pub const TENANT_TOO_DEEP: &str = "TenantTooDeep";
    pub const QUOTA_EXCEEDS_PARENT: &str = "QuotaExceedsParent";
    pub const QUOTA_BELOW_CHILDREN: &str = "QuotaBelowChildren";
    pub const TENANT_NOT_EMPTY: &str = "TenantNotEmpty";
    pub const ACCESS_DENIED: &str = "AccessDenied";
    pub const INVALID_REQUEST: &str = "InvalidRequest";
}

/// Limits; a missing field is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<u64>,
}

/// What a pool holds: object versions (current or not), delete markers and parts of
/// uploads in progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Used {
    pub bytes: u64,
    pub objects: u64,
    /// The object versions and their bytes by the storage class their data is in
    /// (delete markers and parts of uploads in progress are in no class).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<crate::admin::ClassUsage>,
}

/// `POST tenants`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    pub name: String,
    /// `[a-z0-9-]`, 1 to 63 characters; generated when absent. Sending the same id
    /// again is a replay (an idempotency key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default)]
    pub quota: Quota,
    /// Percentages of the quota whose crossing is announced; default 80 and 95.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_percent: Option<Vec<u8>>,
}

/// `PUT .../quota`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetQuota {
    #[serde(default)]
    pub quota: Quota,
    /// Tenants only; unchanged when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_percent: Option<Vec<u8>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantInfo {
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
    /// Ids from the top-level tenant down to this one.
    pub path: Vec<String>,
    pub quota: Quota,
    pub warn_percent: Vec<u8>,
    /// RFC 3339.
    pub created: String,
    pub used: Used,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantList {
    pub tenants: Vec<TenantInfo>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET tenants/ID/usage`: the tenant's own usage, and the first page of each of its
/// two lists. A list that goes on has a next cursor: pass it as `cursor` to
/// `tenants/ID/usage/buckets` (answers [`BucketUsageList`]) or
/// `tenants/ID/usage/children` (answers [`TenantList`]) for the next page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantUsage {
    pub tenant: TenantInfo,
    pub buckets: Vec<BucketQuota>,
    pub children: Vec<TenantInfo>,
    /// The cursor of the next page of `buckets`; absent when this is all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_buckets_cursor: Option<String>,
    /// The cursor of the next page of `children`; absent when this is all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_children_cursor: Option<String>,
}

/// `GET tenants/ID/usage/buckets`: a page of the tenant's buckets with their quota and usage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketUsageList {
    pub buckets: Vec<BucketQuota>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET tenants/ID/usage/history`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageHistory {
    pub tenant: String,
    /// `hourly` or `daily`.
    pub period: String,
    pub samples: Vec<UsageSample>,
}

/// The tenant's usage when its hour (or day) was sampled.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageSample {
    /// The start of the hour (or day), RFC 3339.
    pub at: String,
    pub bytes: u64,
    pub objects: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketQuota {
    pub bucket: String,
    pub tenant: Option<String>,
    pub quota: Quota,
    pub used: Used,
}

/// `POST tenants/ID/keys`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub tenant_admin: bool,
    #[serde(default)]
    pub quota: Quota,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantKey {
    pub access_key_id: String,
    pub name: String,
    pub tenant: String,
    pub tenant_admin: bool,
    pub quota: Quota,
    pub used: Used,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantKeyList {
    pub keys: Vec<TenantKey>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    pub deleted: String,
}
