//! `/cairn/v1/`: the tenant API (tenants and their keys in `tenants.rs` and
//! `tenant_keys.rs`, bucket quotas in `bucket_quota.rs`) typed in `cairn_api::tenants`,
//! the asset catalogue (`assets.rs`, `asset_query.rs`, `asset_events.rs`,
//! `asset_dedupe.rs`, `asset_shares.rs`, `asset_search.rs`, `asset_fields.rs`) typed in
//! `cairn_api::assets`, and video annotations (`annotations.rs`, `annotation_query.rs`,
//! `annotation_export.rs`, `annotation_live.rs`, `annotation_fields.rs`) typed in
//! `cairn_api::annotations`. Who may do what is `scope.rs`; every change
//! is a command through the object layer, decided in apply. May touch: the object
//! layer, the authorizer's keyring.

mod annotation_export;
mod annotation_fields;
pub(crate) mod annotation_live;
mod annotation_query;
mod annotations;
mod asset_dedupe;
mod asset_events;
mod asset_fields;
mod asset_query;
mod asset_search;
mod asset_shares;
mod assets;
mod bucket_quota;
mod bucket_tiering;
mod scope;
mod tenant_keys;
mod tenants;

use super::admin::AdminError;
use super::{answer, json_error, json_response, no_such_endpoint};
use crate::access::Authorizer;
use cairn_object::{ObjectError, Store};
use cairn_raft::schema::TenantRefusal;
use s3s::{Body, S3Response};
use std::sync::Arc;

/// A request to `/cairn/v1/`, but its path.
pub(crate) struct Call<'a> {
    pub method: &'a http::Method,
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    pub body: Body,
    /// Hyper's upgrade of the connection (a WebSocket), if the request may take one.
    pub upgrade: annotation_live::Upgrade,
}

pub(crate) struct V1 {
    pub store: Arc<Store>,
    pub access: Arc<Authorizer>,
    /// The node's asset search index, fed from the change feed (`cairn-search`).
    pub search: Option<Arc<cairn_search::AssetSearch>>,
    /// Live annotation streams and presence.
    pub live: Arc<annotation_live::LiveHub>,
}

impl V1 {
    /// `path`: the segments after `/cairn/v1/`; `caller`: the signing access key.
    pub async fn call(&self, caller: &str, path: &[&str], call: Call<'_>) -> S3Response<Body> {
        let Call { method, query, body, .. } = call;
        if let Err(e) = self.store.meta.read_barrier().await {
            return answer::<()>(Err(unavailable(e)));
        }
        let scope = match scope::Scope::of(&self.store.meta, caller) {
            Ok(s) => s,
            Err(e) => return answer::<()>(Err(e)),
        };
        let path: Vec<String> =
            path.iter().map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()).collect();
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        match path.as_slice() {
            ["tenants", rest @ ..] => self.tenants_call(&scope, method, rest, query, body).await,
            ["assets", rest @ ..] => self.assets_call(caller, rest, Call { body, ..call }).await,
            ["annotations", "kinds"] if method == http::Method::GET => {
                answer(Ok(cairn_api::annotations::AnnotationKinds {
                    version: cairn_api::annotations::KINDS_VERSION,
                    kinds: cairn_api::annotations::KINDS.iter().map(|k| k.to_string()).collect(),
                }))
            }
            ["buckets", bucket, "quota"] => self.bucket_quota_call(&scope, method, bucket, body).await,
            ["buckets", bucket, "tiering"] => self.bucket_tiering_call(&scope, method, bucket, body).await,
            _ => no_such_endpoint(),
        }
    }
}

/// Largest request body of the tenant API.
const MAX_BODY: usize = 64 << 10;

/// The request body as `T` (an empty body is `T::default()`).
async fn read_json<T: serde::de::DeserializeOwned + Default>(body: Body) -> Result<T, AdminError> {
    read_json_limited(body, MAX_BODY).await
}

/// [`read_json`] for a body of at most `limit` bytes.
async fn read_json_limited<T: serde::de::DeserializeOwned + Default>(
    mut body: Body,
    limit: usize,
) -> Result<T, AdminError> {
    let bytes =
        body.store_all_limited(limit).await.map_err(|e| AdminError::new(400, "InvalidRequest", e.to_string()))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| AdminError::new(400, "InvalidRequest", format!("invalid JSON body: {e}")))
}

fn unavailable(e: cairn_raft::MetaError) -> AdminError {
    AdminError::new(503, "ServiceUnavailable", e.to_string())
}

fn method_not_allowed(allowed: &str) -> S3Response<Body> {
    json_error(http::StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", &format!("this endpoint answers {allowed}"))
}

/// A typed answer with a status other than 200 (201 for a creation).
fn answer_status<T: serde::Serialize>(status: http::StatusCode, res: Result<T, AdminError>) -> S3Response<Body> {
    match res {
        Ok(v) => json_response(status, &v),
        Err(e) => answer::<()>(Err(e)),
    }
}

/// The object layer's failure as the tenant API answers it.
fn object_error(e: ObjectError) -> AdminError {
    use cairn_api::tenants::codes::*;
    match e {
        ObjectError::Meta(e) => unavailable(e),
        ObjectError::NoSuchKey => AdminError::new(404, "NoSuchKey", "there is no such access key"),
        ObjectError::NoSuchBucket => AdminError::new(404, "NoSuchBucket", "the bucket does not exist"),
        ObjectError::Tenant(r) => match r {
            TenantRefusal::NoSuchTenant(id) => AdminError::new(404, NO_SUCH_TENANT, format!("there is no tenant {id}")),
            TenantRefusal::AlreadyExists(what) => AdminError::new(
                409,
                TENANT_EXISTS,
                format!("a tenant {what} exists already (ids are unique, and names among siblings)"),
            ),
            TenantRefusal::TooDeep => AdminError::new(
                400,
                TENANT_TOO_DEEP,
                format!("tenants nest at most {} levels deep", cairn_raft::schema::MAX_TENANT_DEPTH),
            ),
            TenantRefusal::ExceedsParent { parent, objects, parent_limit, children } => AdminError::new(
                409,
                QUOTA_EXCEEDS_PARENT,
                format!(
                    "the quotas of the children of tenant {parent} would add up to {children} {what}, more than its own quota of {parent_limit}",
                    what = if objects { "objects" } else { "bytes" }
                ),
            ),
            TenantRefusal::BelowChildren { objects, children } => AdminError::new(
                409,
                QUOTA_BELOW_CHILDREN,
                format!(
                    "the quota is below the {children} {what} given to the tenant's children",
                    what = if objects { "objects" } else { "bytes" }
                ),
            ),
            TenantRefusal::NotEmpty(what) => {
                AdminError::new(409, TENANT_NOT_EMPTY, format!("the tenant still has {what}; remove them first"))
            }
        },
        ObjectError::Unexpected(r) => AdminError::new(500, "InternalError", format!("unexpected result {r:?}")),
        other => AdminError::new(500, "InternalError", other.to_string()),
    }
}
