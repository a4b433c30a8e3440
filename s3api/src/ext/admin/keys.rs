//! Access key administration behind `/cairn/admin/v1/keys`: create (POST), list
//! (GET), describe (GET `keys/<id>`) and delete (DELETE `keys/<id>`) keys. Secrets are
//! sealed before they are committed and are shown once, in the answer to the create
//! call.

use super::{Admin, AdminError};
use crate::access::{Keyring, owner_id};
use crate::ext::{MAX_BODY, answer};
use crate::timefmt::now;
use cairn_api::admin::{CreateKey, KeyDeleted, KeyInfo, KeyList};
use cairn_object::{ObjectError, meta as commit};
use cairn_raft::MetaStore;
use cairn_raft::schema::{AccessKey, Nanos};
use rand::Rng;
use rand::distributions::Alphanumeric;
use s3s::{Body, S3Response};

impl Admin {
    /// `id`: the segments after `keys` (none for the collection).
    pub(super) async fn keys_call(&self, method: &http::Method, id: &[&str], mut body: Body) -> S3Response<Body> {
        let meta = &self.store.meta;
        let id = (!id.is_empty())
            .then(|| percent_encoding::percent_decode_str(&id.join("/")).decode_utf8_lossy().into_owned());
        match (method, id.as_deref()) {
            (&http::Method::POST, None) => answer(match body.store_all_limited(MAX_BODY).await {
                Ok(bytes) => create(meta, self.access.keyring(), &bytes).await,
                Err(e) => Err(AdminError::new(400, "InvalidRequest", e.to_string())),
            }),
            (&http::Method::GET, None) => answer(list(meta).await),
            (&http::Method::GET, Some(id)) => answer(info(meta, id).await),
            (&http::Method::DELETE, Some(id)) => answer(delete(meta, id).await),
            (_, None) => {
                answer::<()>(Err(AdminError::new(405, "MethodNotAllowed", "keys answers GET (list) and POST (create)")))
            }
            (_, Some(_)) => {
                answer::<()>(Err(AdminError::new(405, "MethodNotAllowed", "keys/<id> answers GET (info) and DELETE")))
            }
        }
    }
}

const MAX_NAME: usize = 128;

fn random(len: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

/// A new key: a 20-character upper-case id starting with `CK` and a 40-character
/// secret, sealed with `keyring`. Returns the record and the plain secret.
pub fn new_key(keyring: &Keyring, name: Option<&str>, admin: bool) -> (AccessKey, String) {
    let id = format!("CK{}", random(18).to_ascii_uppercase());
    let secret = random(40);
    let key = AccessKey {
        access_key_id: id.clone(),
        sealed_secret: keyring.seal(&id, &secret),
        name: name.map_or_else(|| id.clone(), str::to_string),
        is_root: false,
        created: now(),
        admin,
    };
    (key, secret)
}

pub(crate) fn rfc3339(n: Nanos) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(n))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn describe(k: &AccessKey) -> KeyInfo {
    KeyInfo {
        access_key_id: k.access_key_id.clone(),
        name: k.name.clone(),
        owner_id: owner_id(&k.access_key_id),
        admin: k.admin || k.is_root,
        root: k.is_root,
        created: rfc3339(k.created),
        secret_access_key: None,
        buckets: None,
    }
}

fn unavailable(e: cairn_raft::MetaError) -> AdminError {
    AdminError::new(503, "ServiceUnavailable", e.to_string())
}

/// A key commit's failure: the cluster unavailable, the key gone, or an answer
/// the command never yields.
fn refused(e: ObjectError, id: &str) -> AdminError {
    match e {
        ObjectError::Meta(e) => unavailable(e),
        ObjectError::NoSuchKey => no_such_key(id),
        ObjectError::Unexpected(other) => AdminError::new(500, "InternalError", format!("unexpected result {other:?}")),
        other => AdminError::new(500, "InternalError", other.to_string()),
    }
}

fn no_such_key(id: &str) -> AdminError {
    AdminError::new(404, "NoSuchKey", format!("there is no access key {id}"))
}

pub async fn create(meta: &MetaStore, keyring: &Keyring, body: &[u8]) -> Result<KeyInfo, AdminError> {
    let req: CreateKey = if body.iter().all(u8::is_ascii_whitespace) {
        CreateKey::default()
    } else {
        serde_json::from_slice(body)
            .map_err(|e| AdminError::new(400, "InvalidRequest", format!("expected {{\"name\", \"admin\"}}: {e}")))?
    };
    if let Some(name) = &req.name
        && (name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control))
    {
        return Err(AdminError::new(
            400,
            "InvalidRequest",
            format!("a key name has 1 to {MAX_NAME} characters and no control characters"),
        ));
    }
    let (key, secret) = new_key(keyring, req.name.as_deref(), req.admin);
    commit::put_access_key(meta, key.clone()).await.map_err(|e| refused(e, &key.access_key_id))?;
    tracing::info!(access_key = %key.access_key_id, name = %key.name, admin = key.admin, "access key created");
    Ok(KeyInfo { secret_access_key: Some(secret), ..describe(&key) })
}

pub async fn list(meta: &MetaStore) -> Result<KeyList, AdminError> {
    meta.read_barrier().await.map_err(unavailable)?;
    let keys = meta.list_access_keys().map_err(unavailable)?.iter().map(describe).collect();
    Ok(KeyList { keys })
}

pub async fn info(meta: &MetaStore, id: &str) -> Result<KeyInfo, AdminError> {
    meta.read_barrier().await.map_err(unavailable)?;
    let key = meta.get_access_key(id).map_err(unavailable)?.ok_or_else(|| no_such_key(id))?;
    let mut buckets = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = meta.list_buckets(after.as_deref(), 1000).map_err(unavailable)?;
        let Some(last) = page.last() else { break };
        after = Some(last.name.clone());
        buckets.extend(page.into_iter().filter(|b| b.owner == key.access_key_id).map(|b| b.name));
    }
    Ok(KeyInfo { buckets: Some(buckets), ..describe(&key) })
}

pub async fn delete(meta: &MetaStore, id: &str) -> Result<KeyDeleted, AdminError> {
    meta.read_barrier().await.map_err(unavailable)?;
    let key = meta.get_access_key(id).map_err(unavailable)?.ok_or_else(|| no_such_key(id))?;
    if key.is_root {
        return Err(AdminError::new(409, "CannotDeleteRootKey", "the root key cannot be deleted"));
    }
    commit::delete_access_key(meta, id.to_string()).await.map_err(|e| refused(e, id))?;
    tracing::info!(access_key = %id, "access key deleted");
    Ok(KeyDeleted { deleted: id.to_string() })
}
