//! One router for everything under `/cairn/` (a bucket name no user can take): the
//! admin API (`admin/`, `/cairn/admin/v1/`) and the tenant API (`v1/`, `/cairn/v1/`).
//! It is an s3s route, so every request is SigV4-verified like an S3 request,
//! presigned URLs included. Paths are dispatched by their parsed segments; answers and
//! errors are JSON, typed in `cairn-api`. May touch: the object layer, the authorizer,
//! and the node's services through the `ClusterAdmin` and `DurabilityAdmin` traits.

pub mod admin;
mod v1;

pub use v1::annotation_live::{LiveHub, PresenceRelay};

use crate::access::{AuditNote, Authorizer, Decided};
use admin::{AdminError, ClusterAdmin, DurabilityAdmin};
use cairn_api::{EXT_PREFIX, ErrorBody};
use cairn_object::Store;
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// Largest request body of an extension endpoint.
const MAX_BODY: usize = 64 << 10;

pub struct ExtRoute {
    admin: admin::Admin,
    v1: v1::V1,
    access: Arc<Authorizer>,
}

impl ExtRoute {
    pub fn new(store: Arc<Store>, access: Arc<Authorizer>) -> Self {
        let live = v1::annotation_live::LiveHub::new(store.meta.clone());
        let v1 = v1::V1 { store: store.clone(), access: access.clone(), search: None, live };
        let admin =
            admin::Admin { store, access: access.clone(), cluster: None, durability: None, started: Instant::now() };
        Self { admin, v1, access }
    }

    pub fn with_cluster(mut self, cluster: Arc<dyn ClusterAdmin>) -> Self {
        self.admin.cluster = Some(cluster);
        self
    }

    /// The node's asset search index (`GET /cairn/v1/assets/search`).
    pub fn with_search(mut self, search: Arc<cairn_search::AssetSearch>) -> Self {
        self.v1.search = Some(search);
        self
    }

    /// The node's live annotation hub (the node gives it a presence relay to its
    /// peers, and hands it presence from them).
    pub fn live(&self) -> Arc<v1::annotation_live::LiveHub> {
        self.v1.live.clone()
    }

    pub fn with_durability(mut self, durability: Arc<dyn DurabilityAdmin>) -> Self {
        self.admin.durability = Some(durability);
        self
    }
}

/// What a `/cairn/` path names.
enum Area<'a> {
    /// `/cairn/admin/v1/<rest>`
    Admin(Vec<&'a str>),
    /// `/cairn/v1/<rest>`
    V1(Vec<&'a str>),
    Unknown,
}

/// The path under `/cairn/` in segments (still percent-encoded), or None when the
/// path is not an extension path: `/cairn` and `/cairn/` alone are the reserved
/// bucket, which S3 answers.
fn segments(path: &str) -> Option<Vec<&str>> {
    let rest = path.strip_prefix(EXT_PREFIX).filter(|r| !r.is_empty())?;
    Some(rest.split('/').collect())
}

fn area(segs: Vec<&str>) -> Area<'_> {
    match segs.as_slice() {
        ["admin", "v1", ..] => Area::Admin(segs[2..].to_vec()),
        ["v1", ..] => Area::V1(segs[1..].to_vec()),
        _ => Area::Unknown,
    }
}

#[async_trait::async_trait]
impl S3Route for ExtRoute {
    fn is_match(&self, _: &http::Method, uri: &http::Uri, _: &http::HeaderMap, _: &mut http::Extensions) -> bool {
        segments(uri.path()).is_some()
    }

    async fn check_access(&self, req: &mut S3Request<Body>) -> S3Result<()> {
        let segs = segments(req.uri.path()).unwrap_or_default();
        let creds = req.credentials.as_ref();
        let (result, rule) = match area(segs) {
            Area::Admin(_) => (self.access.authorize_admin(creds).await, "admin-key"),
            // Any valid key; what it may do there is decided per tenant (`v1/scope.rs`).
            Area::V1(_) | Area::Unknown => (self.access.authorize_signed(creds).await, "signed"),
        };
        if let Ok(i) = &result {
            cairn_raft::admin_audit::set_caller(&i.access_key_id, self.access.tenant_of(&i.access_key_id));
        }
        if let Some(note) = req.extensions.get::<AuditNote>() {
            let identity = result.as_ref().ok();
            let access_key = identity.map(|i| i.access_key_id.clone()).or_else(|| creds.map(|c| c.access_key.clone()));
            note.set(Decided {
                tenant: access_key.as_deref().and_then(|k| self.access.tenant_of(k)),
                access_key,
                allowed: result.is_ok(),
                rule: if result.is_ok() { rule.into() } else { "authentication".into() },
                version_id: None,
            });
        }
        result.map(|_| ())
    }

    async fn call(&self, mut req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let path = req.uri.path().to_string();
        let segs = segments(&path).unwrap_or_default();
        Ok(match area(segs) {
            Area::Admin(rest) => self.admin.call(&req.method, &rest, req.uri.query(), req.input).await,
            Area::V1(rest) => {
                let caller = req.credentials.as_ref().map(|c| c.access_key.clone()).unwrap_or_default();
                let upgrade = req.extensions.remove::<hyper::upgrade::OnUpgrade>();
                let call = v1::Call {
                    method: &req.method,
                    query: req.uri.query(),
                    headers: &req.headers,
                    body: req.input,
                    upgrade,
                };
                self.v1.call(&caller, &rest, call).await
            }
            Area::Unknown => no_such_endpoint(),
        })
    }
}

/// A typed answer, or the error's JSON body with its status.
pub(crate) fn answer<T: Serialize>(res: Result<T, AdminError>) -> S3Response<Body> {
    match res {
        Ok(v) => json_response(http::StatusCode::OK, &v),
        Err(e) => json_response(
            http::StatusCode::from_u16(e.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            &ErrorBody::new(e.code, e.message).at(e.field),
        ),
    }
}

pub(crate) fn json_response<T: Serialize>(status: http::StatusCode, value: &T) -> S3Response<Body> {
    let text = serde_json::to_string(value).unwrap_or_default();
    let mut resp = S3Response::with_status(Body::from(text), status);
    resp.headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    resp
}

pub(crate) fn json_error(status: http::StatusCode, code: &str, message: &str) -> S3Response<Body> {
    json_response(status, &ErrorBody::new(code, message))
}

pub(crate) fn no_such_endpoint() -> S3Response<Body> {
    json_error(http::StatusCode::NOT_FOUND, "NoSuchEndpoint", "No such admin endpoint")
}
