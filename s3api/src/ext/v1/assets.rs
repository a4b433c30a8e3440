//! `assets`: register (with a first version, one or a batch), describe, update, the
//! version chain (list, get, append, rollback, diff); lists, batch get and stats are
//! `asset_query.rs`, the tenant's event feed `asset_events.rs`, field checks and conversions `asset_fields.rs`, who may act on
//! which tenant's assets `scope.rs`. Every change is a command through the object
//! layer, decided in apply (`raft/src/apply/assets.rs`): the objects a version points
//! at exist there, or nothing is written. Before that, this file checks that the
//! caller may read those objects (the authorizer decides, as for a GetObject) and
//! finds their SHA-256.

use super::asset_dedupe;
use super::asset_events;
use super::asset_fields::{self as fields, invalid, limit_param};
use super::asset_query::{self, describe, visible};
use super::asset_shares;
use super::scope::AssetReach;
use super::{
    AdminError, V1, answer, answer_status, method_not_allowed, object_error, read_json, read_json_limited, unavailable,
};
use crate::access::Identity;
use crate::access::asset_ops::{AssetAction, action_on_asset};
use crate::ext::no_such_endpoint;
use crate::timefmt::now;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use cairn_api::ErrorBody;
use cairn_api::assets::{
    AssetInfo, AssetVersionInfo, BatchItem, BatchRegister, BatchRegistered, MAX_BATCH_REGISTER, NewVersion, Purged,
    RegisterAsset, Rollback, TransferRequest, TrashRetention, UpdateAsset, VersionDiff, VersionList, codes,
};
use cairn_api::tenants::codes::{ACCESS_DENIED, INVALID_REQUEST, NO_SUCH_TENANT};
use cairn_object::ObjectError;
use cairn_raft::MetaStore;
use cairn_raft::assets::{Asset, AssetPatch, AssetRefusal, AssetVersion};
use http::{Method, StatusCode};
use s3s::{Body, S3Response};

const DEFAULT_VERSIONS: usize = 100;
/// Largest body of a batch registration.
const MAX_BATCH_BODY: usize = 8 << 20;
const MAX_VERSIONS: usize = 1000;

/// An asset command's failure; `prefix` places apply's field names in the request
/// (`version.` for a registration's first version).
pub(super) fn asset_error(e: ObjectError, prefix: &str) -> AdminError {
    match e {
        ObjectError::Asset(r) => match r {
            AssetRefusal::NoSuchTenant(t) => {
                AdminError::new(404, NO_SUCH_TENANT, format!("there is no tenant {t}")).at("tenant")
            }
            AssetRefusal::NoSuchAsset(id) => {
                AdminError::new(404, codes::NO_SUCH_ASSET, format!("there is no asset {id}"))
            }
            AssetRefusal::NoSuchVersion(n) => {
                AdminError::new(404, codes::NO_SUCH_ASSET_VERSION, format!("the asset has no version {n}"))
            }
            AssetRefusal::NoSuchObject { field, object } => {
                no_such_object(&format!("{prefix}{field}"), &object.bucket, &object.key)
            }
            AssetRefusal::ChainMoved { versions } => AdminError::new(
                409,
                codes::CHAIN_MOVED,
                format!("the asset's chain holds {versions} versions, not the number if_versions names"),
            )
            .at("if_versions"),
            AssetRefusal::InTrash => {
                AdminError::new(409, codes::IN_TRASH, "the asset is in the trash: restore it first")
            }
            AssetRefusal::NotInTrash => AdminError::new(409, codes::NOT_IN_TRASH, "the asset is not in the trash"),
            AssetRefusal::NotDue => AdminError::new(409, codes::NOT_IN_TRASH, "the asset's purge is not due"),
            AssetRefusal::ShareWithOwner => {
                AdminError::new(400, INVALID_REQUEST, "the asset belongs to that tenant already").at("tenant")
            }
            AssetRefusal::NotTenantBucket(b) => AdminError::new(
                400,
                INVALID_REQUEST,
                format!("bucket {b} does not exist or is not the target tenant's"),
            )
            .at("bucket"),
            AssetRefusal::ObjectShared(o) => AdminError::new(
                409,
                codes::OBJECT_SHARED,
                format!("another asset points at {}/{} too; it cannot move", o.bucket, o.key),
            ),
            AssetRefusal::DestinationExists(k) => {
                AdminError::new(409, codes::DESTINATION_EXISTS, format!("the target bucket holds {k} already"))
            }
            AssetRefusal::ObjectLocked(o) => AdminError::new(
                409,
                codes::OBJECT_LOCKED,
                format!("object lock keeps {}/{} where it is", o.bucket, o.key),
            ),
            AssetRefusal::NoSuchShare(t) => {
                AdminError::new(404, codes::NO_SUCH_SHARE, format!("the asset is not shared with tenant {t}"))
            }
            AssetRefusal::IdempotencyConflict(k) => AdminError::new(
                409,
                codes::IDEMPOTENCY_CONFLICT,
                format!("idempotency key {k} was used for another registration"),
            )
            .at("idempotency_key"),
        },
        ObjectError::QuotaExceeded(b) => {
            AdminError::new(403, codes::QUOTA_EXCEEDED, crate::errors::quota_exceeded(&b).message().unwrap_or_default())
        }
        other => object_error(other),
    }
}

fn no_such_object(field: &str, bucket: &str, key: &str) -> AdminError {
    AdminError::new(404, codes::NO_SUCH_OBJECT, format!("there is no object {bucket}/{key} (or no such version of it)"))
        .at(field)
}

fn created<T: serde::Serialize>(res: Result<T, AdminError>) -> S3Response<Body> {
    answer_status(StatusCode::CREATED, res)
}

impl V1 {
    /// `rest`: the segments after `assets`.
    pub(super) async fn assets_call(&self, caller: &str, rest: &[&str], call: super::Call<'_>) -> S3Response<Body> {
        let super::Call { method, query, headers, body, upgrade } = call;
        let meta = &self.store.meta;
        let reach = match AssetReach::of(meta, caller) {
            Ok(r) => r,
            Err(e) => return answer::<()>(Err(e)),
        };
        // Only for an asset the caller may see: another tenant's stays a 404, whatever
        // the policies say.
        if let Some(action) = action_on_asset(method, rest)
            && asset_shares::readable(meta, &reach, rest[0]).is_ok()
            && let Err(e) = self.policy_on_asset(caller, action, rest[0])
        {
            return answer::<()>(Err(e));
        }
        match (method, rest) {
            (&Method::POST, []) => match self.register(caller, &reach, body).await {
                Ok((info, false)) => created(Ok(info)),
                Ok((info, true)) => answer(Ok(info)),
                Err(e) => answer::<()>(Err(e)),
            },
            (&Method::GET, []) => answer(asset_query::list(meta, &reach, query, false)),
            (_, []) => method_not_allowed("GET and POST"),
            (&Method::POST, ["batch"]) => answer(self.register_batch(caller, &reach, body).await),
            (_, ["batch"]) => method_not_allowed("POST"),
            (&Method::POST, ["batch-get"]) => answer(asset_query::batch_get(meta, &reach, body).await),
            (_, ["batch-get"]) => method_not_allowed("POST"),
            (&Method::GET, ["stats"]) => answer(asset_query::stats(meta, &reach, query)),
            (_, ["stats"]) => method_not_allowed("GET"),
            (&Method::GET, ["trash"]) => answer(asset_query::list(meta, &reach, query, true)),
            (_, ["trash"]) => method_not_allowed("GET"),
            (&Method::GET, ["trash", "retention"]) => answer(self.retention(&reach, query, None).await),
            (&Method::PUT, ["trash", "retention"]) => match read_json::<TrashRetention>(body).await {
                Ok(r) => answer(self.retention(&reach, query, Some(r)).await),
                Err(e) => answer::<()>(Err(e)),
            },
            (_, ["trash", "retention"]) => method_not_allowed("GET and PUT"),
            (&Method::GET, ["search"]) => answer(self.search(&reach, query).await),
            (_, ["search"]) => method_not_allowed("GET"),
            (&Method::GET, ["shared"]) => answer(asset_shares::incoming(meta, &reach, query)),
            (_, ["shared"]) => method_not_allowed("GET"),
            (&Method::GET, ["content"]) => answer(asset_dedupe::lookup(meta, &reach, query)),
            (_, ["content"]) => method_not_allowed("GET"),
            (&Method::GET, ["duplicates"]) => answer(asset_dedupe::duplicates(meta, &reach, query)),
            (_, ["duplicates"]) => method_not_allowed("GET"),
            (&Method::GET, ["uploads"]) => answer(self.uploads_by_content(caller, &reach, query)),
            (_, ["uploads"]) => method_not_allowed("GET"),
            (&Method::GET, ["events"]) => answer(asset_events::poll(meta, &reach, query).await),
            (_, ["events"]) => method_not_allowed("GET"),
            (&Method::GET, ["events", "stream"]) => {
                let last = headers.get("last-event-id").and_then(|v| v.to_str().ok());
                asset_events::stream(meta, &reach, query, last).unwrap_or_else(|e| answer::<()>(Err(e)))
            }
            (_, ["events", "stream"]) => method_not_allowed("GET"),
            (&Method::GET, [id]) => answer(asset_shares::readable(meta, &reach, id).and_then(|a| describe(meta, &a))),
            (&Method::PATCH, [id]) => answer(self.update(&reach, id, body).await),
            (&Method::DELETE, [id]) => answer(self.trash(&reach, id).await),
            (_, [_]) => method_not_allowed("GET, PATCH and DELETE"),
            (&Method::POST, [id, "shares"]) => created(self.share(caller, &reach, id, body).await),
            (&Method::GET, [id, "shares"]) => answer(asset_shares::shares(meta, &reach, id)),
            (_, [_, "shares"]) => method_not_allowed("GET and POST"),
            (&Method::DELETE, [id, "shares", tenant]) => answer(self.revoke(&reach, id, tenant).await),
            (_, [_, "shares", _]) => method_not_allowed("DELETE"),
            (&Method::POST, [id, "transfer"]) => answer(self.transfer(caller, &reach, id, body).await),
            (_, [_, "transfer"]) => method_not_allowed("POST"),
            (&Method::POST, [id, "restore"]) => answer(self.restore(&reach, id).await),
            (_, [_, "restore"]) => method_not_allowed("POST"),
            (&Method::POST, [id, "purge"]) => answer(self.purge(&reach, id).await),
            (_, [_, "purge"]) => method_not_allowed("POST"),
            (&Method::GET, [id, "versions"]) => answer(versions(meta, &reach, id, query)),
            (&Method::POST, [id, "versions"]) => created(self.add_version(caller, &reach, id, body).await),
            (_, [_, "versions"]) => method_not_allowed("GET and POST"),
            (_, [id, "versions", n, rest @ ..]) if !rest.is_empty() => {
                let call = super::Call { method, query, headers, body, upgrade };
                self.video_call(caller, &reach, (id, n), rest, call).await
            }
            (&Method::GET, [id, "annotations"]) => answer(
                asset_shares::readable(meta, &reach, id)
                    .and_then(|a| super::annotation_query::across_versions(meta, &a, query)),
            ),
            (_, [_, "annotations"]) => method_not_allowed("GET"),
            (&Method::GET, [id, "versions", n]) => answer(version(meta, &reach, id, n)),
            (_, [_, "versions", _]) => method_not_allowed("GET"),
            (&Method::POST, [id, "rollback"]) => created(self.rollback(caller, &reach, id, body).await),
            (_, [_, "rollback"]) => method_not_allowed("POST"),
            (&Method::GET, [id, "diff"]) => answer(diff(meta, &reach, id, query)),
            (_, [_, "diff"]) => method_not_allowed("GET"),
            _ => no_such_endpoint(),
        }
    }

    /// Refuses `action` when a policy of a bucket holding one of the objects of asset
    /// `id`'s latest version denies it to the caller (`access/asset_ops.rs`).
    fn policy_on_asset(&self, caller: &str, action: AssetAction, id: &str) -> Result<(), AdminError> {
        let meta = &self.store.meta;
        let Some(a) = meta.asset(id).map_err(unavailable)? else { return Ok(()) };
        let latest = match a.versions {
            0 => None,
            n => meta.asset_version(id, n).map_err(unavailable)?,
        };
        let objects: Vec<(String, String)> = latest
            .iter()
            .flat_map(|v| cairn_raft::assets::objects_of(v).map(|o| (o.bucket.clone(), o.key.clone())))
            .collect();
        self.policy_on_objects(caller, action, &objects)
    }

    fn policy_on_objects(
        &self,
        caller: &str,
        action: AssetAction,
        objects: &[(String, String)],
    ) -> Result<(), AdminError> {
        if objects.is_empty() {
            return Ok(());
        }
        let key = self
            .store
            .meta
            .get_access_key(caller)
            .map_err(unavailable)?
            .ok_or_else(|| AdminError::new(403, ACCESS_DENIED, "the signing key no longer exists"))?;
        self.access.asset_action(&Identity::of(&key), action, objects).map_err(|_| {
            AdminError::new(
                403,
                ACCESS_DENIED,
                format!("a bucket policy denies {} on this asset's objects", action.name()),
            )
        })
    }

    /// A version as the request describes it, once the caller may read each object it
    /// names and its SHA-256 is known. `field`: where it sits in the request.
    /// With `content` instead of an object (instant upload), the version points at an
    /// object version of `tenant` that holds that content already: nothing is uploaded.
    async fn prepare_version(
        &self,
        caller: &str,
        tenant: &str,
        field: &str,
        v: &NewVersion,
    ) -> Result<AssetVersion, AdminError> {
        let meta = &self.store.meta;
        let key = meta
            .get_access_key(caller)
            .map_err(unavailable)?
            .ok_or_else(|| AdminError::new(403, ACCESS_DENIED, "the signing key no longer exists"))?;
        let identity = Identity::of(&key);
        let mut v = v.clone();
        if let Some(c) = v.content.take() {
            if !v.object.bucket.is_empty() || !v.object.key.is_empty() || v.sha256.is_some() {
                return Err(invalid(&format!("{field}content"), "give an object or a content reference, not both"));
            }
            let sha = fields::sha256(&format!("{field}content.sha256"), &c.sha256)?;
            let found = asset_dedupe::first_holder(meta, tenant, &sha, c.size)?.ok_or_else(|| {
                AdminError::new(
                    404,
                    codes::NO_SUCH_CONTENT,
                    format!("the tenant holds no content {sha} of {} bytes: upload it", c.size),
                )
                .at(format!("{field}content"))
            })?;
            v.object = fields::object_to_api(&found);
            v.sha256 = Some(sha);
        }
        let v = &v;
        let objects = std::iter::once((format!("{field}object"), &v.object))
            .chain(v.renditions.iter().enumerate().map(|(i, r)| (format!("{field}renditions[{i}].object"), &r.object)));
        let named: Vec<(String, String)> = std::iter::once(&v.object)
            .chain(v.renditions.iter().map(|r| &r.object))
            .map(|o| (o.bucket.clone(), o.key.clone()))
            .collect();
        self.policy_on_objects(caller, AssetAction::Put, &named).map_err(|e| e.at(format!("{field}object")))?;
        for (f, o) in objects {
            if o.bucket.is_empty() || o.key.is_empty() {
                return Err(invalid(&f, "an object names its bucket and key"));
            }
            if self.access.may_read_object(&identity, &o.bucket, &o.key, o.version_id.as_deref()).is_err() {
                return Err(AdminError::new(
                    403,
                    ACCESS_DENIED,
                    format!("this key may not read {}/{}", o.bucket, o.key),
                )
                .at(f));
            }
        }
        // A hash the client gives is kept unless the object carries a full-object
        // SHA-256 checksum, which must agree; with none given, the server finds it.
        let missing = |e: ObjectError| match e {
            ObjectError::NoSuchKey => no_such_object(&format!("{field}object"), &v.object.bucket, &v.object.key),
            other => object_error(other),
        };
        let object = fields::object_in(&v.object);
        let sha256 = match &v.sha256 {
            Some(s) => {
                let given = fields::sha256(&format!("{field}sha256"), s)?;
                match self.store.stored_sha256(&object).map_err(missing)? {
                    Some(stored) if stored != given => {
                        return Err(invalid(
                            &format!("{field}sha256"),
                            format!("the object's stored SHA-256 is {stored}, not the one given"),
                        ));
                    }
                    _ => given,
                }
            }
            None => self.store.object_sha256(&object).await.map_err(missing)?,
        };
        fields::version_in(field, v, sha256, now(), caller)
    }

    /// What registration `req` commits: the asset and its first version, checked.
    async fn prepare_registration(
        &self,
        caller: &str,
        reach: &AssetReach,
        req: &RegisterAsset,
    ) -> Result<(Asset, Option<AssetVersion>), AdminError> {
        let meta = &self.store.meta;
        let tenant = asset_query::tenant_of(meta, reach, req.tenant.clone())?;
        let media_type = fields::media_type(&req.media_type)?;
        let d = fields::described(Some(&req.name), req.project.as_deref(), req.status.as_deref())?;
        fields::tags("tags", &req.tags)?;
        let machine_tags = fields::machine_tags(&req.machine_tags)?;
        let media_meta = fields::meta(media_type, &req.meta)?;
        if let Some(k) = &req.idempotency_key
            && !cairn_raft::assets::valid_label(k)
        {
            return Err(invalid("idempotency_key", "an idempotency key has 1 to 256 bytes and no control characters"));
        }
        let version = match &req.version {
            Some(v) => Some(self.prepare_version(caller, &tenant, "version.", v).await?),
            None => None,
        };
        let at = now();
        let asset = Asset {
            id: String::new(),
            tenant,
            project: d.project.flatten(),
            name: req.name.clone(),
            media_type,
            status: d.status.unwrap_or_else(|| "active".into()),
            tags: req.tags.clone(),
            machine_tags,
            meta: media_meta,
            created: at,
            updated: at,
            created_by: caller.to_string(),
            versions: 0,
            latest_size: 0,
            idempotency_key: req.idempotency_key.clone(),
            trashed_at: None,
            purge_at: None,
        };
        Ok((asset, version))
    }

    /// `POST assets`: the asset, and whether this was a replay of an idempotent one.
    async fn register(&self, caller: &str, reach: &AssetReach, body: Body) -> Result<(AssetInfo, bool), AdminError> {
        let meta = &self.store.meta;
        let req: RegisterAsset = read_json(body).await?;
        let (asset, version) = self.prepare_registration(caller, reach, &req).await?;
        let o = self.store.register_asset(asset, version).await.map_err(|e| asset_error(e, "version."))?;
        settled(meta).await?;
        let a = meta.asset(&o.id).map_err(unavailable)?.ok_or_else(|| unavailable_asset(&o.id))?;
        Ok((describe(meta, &a)?, o.replayed))
    }

    /// `POST assets/batch`: up to [`MAX_BATCH_REGISTER`] registrations, committed
    /// together (their commands share log entries); each answers on its own, in order.
    async fn register_batch(
        &self,
        caller: &str,
        reach: &AssetReach,
        body: Body,
    ) -> Result<BatchRegistered, AdminError> {
        let meta = &self.store.meta;
        let req: BatchRegister = read_json_limited(body, MAX_BATCH_BODY).await?;
        if req.assets.len() > MAX_BATCH_REGISTER {
            return Err(invalid("assets", format!("at most {MAX_BATCH_REGISTER} registrations")));
        }
        let mut prepared = Vec::with_capacity(req.assets.len());
        for (i, r) in req.assets.iter().enumerate() {
            let at = |e: AdminError| {
                let field = format!("assets[{i}].{}", e.field.clone().unwrap_or_default());
                AdminError { field: Some(field.trim_end_matches('.').to_string()), ..e }
            };
            prepared.push(self.prepare_registration(caller, reach, r).await.map_err(at));
        }
        let commits = prepared.into_iter().enumerate().map(|(i, p)| async move {
            let (asset, version) = p?;
            self.store
                .register_asset(asset, version)
                .await
                .map_err(|e| asset_error(e, &format!("assets[{i}].version.")))
        });
        let outcomes = futures::future::join_all(commits).await;
        settled(meta).await?;
        let mut results = Vec::with_capacity(outcomes.len());
        for o in outcomes {
            results.push(
                match o.and_then(|o| {
                    let a = meta.asset(&o.id).map_err(unavailable)?.ok_or_else(|| unavailable_asset(&o.id))?;
                    describe(meta, &a)
                }) {
                    Ok(a) => BatchItem { asset: Some(a), error: None },
                    Err(e) => {
                        BatchItem { asset: None, error: Some(ErrorBody::new(e.code, e.message).at(e.field).error) }
                    }
                },
            );
        }
        Ok(BatchRegistered { results })
    }

    /// `PATCH assets/ID`.
    async fn update(&self, reach: &AssetReach, id: &str, body: Body) -> Result<AssetInfo, AdminError> {
        let meta = &self.store.meta;
        let req: UpdateAsset = read_json(body).await?;
        let a = visible(meta, reach, id)?;
        let d = fields::described(req.name.as_deref(), req.project.as_deref(), req.status.as_deref())?;
        if let Some(t) = &req.tags {
            fields::tags("tags", t)?;
        }
        let patch = AssetPatch {
            name: d.name,
            project: d.project,
            status: d.status,
            tags: req.tags.clone(),
            machine_tags: req.machine_tags.as_ref().map(fields::machine_tags).transpose()?,
            meta: req.meta.as_ref().map(|m| fields::meta(a.media_type, m)).transpose()?,
        };
        self.store.update_asset(id, patch, now()).await.map_err(|e| asset_error(e, ""))?;
        settled(meta).await?;
        let a = visible(meta, reach, id)?;
        describe(meta, &a)
    }

    /// `DELETE assets/ID`: into the trash.
    async fn trash(&self, reach: &AssetReach, id: &str) -> Result<AssetInfo, AdminError> {
        let meta = &self.store.meta;
        visible(meta, reach, id)?;
        self.store.trash_asset(id, now()).await.map_err(|e| asset_error(e, ""))?;
        settled(meta).await?;
        describe(meta, &visible(meta, reach, id)?)
    }

    /// `POST assets/ID/transfer`: the caller manages both tenants' assets and may
    /// write the asset's keys into the target bucket.
    async fn transfer(&self, caller: &str, reach: &AssetReach, id: &str, body: Body) -> Result<AssetInfo, AdminError> {
        let meta = &self.store.meta;
        let req: TransferRequest = read_json(body).await?;
        visible(meta, reach, id)?;
        if req.tenant.is_empty() || req.bucket.is_empty() {
            return Err(invalid("tenant", "name the tenant and its bucket to transfer to"));
        }
        reach.require(meta, &req.tenant)?;
        let key = meta
            .get_access_key(caller)
            .map_err(unavailable)?
            .ok_or_else(|| AdminError::new(403, ACCESS_DENIED, "the signing key no longer exists"))?;
        let identity = Identity::of(&key);
        for v in meta.asset_versions(id, 0, usize::MAX).map_err(unavailable)? {
            for o in cairn_raft::assets::objects_of(&v) {
                if self.access.may_do(&identity, "PutObject", &req.bucket, Some(&o.key), None).is_err() {
                    let m = format!("this key may not write {} into {}", o.key, req.bucket);
                    return Err(AdminError::new(403, ACCESS_DENIED, m).at("bucket"));
                }
            }
        }
        self.store.transfer_asset(id, &req.tenant, &req.bucket, now(), caller).await.map_err(|e| asset_error(e, ""))?;
        settled(meta).await?;
        describe(meta, &visible(meta, reach, id)?)
    }

    /// `POST assets/ID/restore`.
    async fn restore(&self, reach: &AssetReach, id: &str) -> Result<AssetInfo, AdminError> {
        let meta = &self.store.meta;
        visible(meta, reach, id)?;
        self.store.restore_asset(id, now()).await.map_err(|e| asset_error(e, ""))?;
        settled(meta).await?;
        describe(meta, &visible(meta, reach, id)?)
    }

    /// `POST assets/ID/purge`.
    async fn purge(&self, reach: &AssetReach, id: &str) -> Result<Purged, AdminError> {
        visible(&self.store.meta, reach, id)?;
        let o = self.store.purge_asset(id, now(), false).await.map_err(|e| asset_error(e, ""))?;
        Ok(Purged { purged: o.id, objects_deleted: o.objects_deleted, objects_kept: o.objects_kept })
    }

    /// `GET` (`set`: `None`) or `PUT assets/trash/retention`.
    async fn retention(
        &self,
        reach: &AssetReach,
        query: Option<&str>,
        set: Option<TrashRetention>,
    ) -> Result<TrashRetention, AdminError> {
        let meta = &self.store.meta;
        let named = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(k, _)| k == "tenant")
            .map(|(_, v)| v.into_owned())
            .or_else(|| set.as_ref().and_then(|s| s.tenant.clone()));
        let tenant = asset_query::tenant_of(meta, reach, named)?;
        if let Some(s) = set {
            self.store.set_trash_retention(&tenant, s.retention_secs).await.map_err(|e| asset_error(e, ""))?;
            settled(meta).await?;
        }
        let retention_secs = meta.trash_retention(&tenant).map_err(unavailable)?;
        Ok(TrashRetention { tenant: Some(tenant), retention_secs })
    }

    /// `POST assets/ID/versions`.
    async fn add_version(
        &self,
        caller: &str,
        reach: &AssetReach,
        id: &str,
        body: Body,
    ) -> Result<AssetVersionInfo, AdminError> {
        let meta = &self.store.meta;
        let req: NewVersion = read_json(body).await?;
        let a = visible(meta, reach, id)?;
        let v = self.prepare_version(caller, &a.tenant, "", &req).await?;
        let o = self.store.add_asset_version(id, v, req.if_versions).await.map_err(|e| asset_error(e, ""))?;
        settled(meta).await?;
        version(meta, reach, id, &o.version.to_string())
    }

    /// `POST assets/ID/rollback`.
    async fn rollback(
        &self,
        caller: &str,
        reach: &AssetReach,
        id: &str,
        body: Body,
    ) -> Result<AssetVersionInfo, AdminError> {
        let meta = &self.store.meta;
        let req: Rollback = read_json(body).await?;
        visible(meta, reach, id)?;
        let o = self.store.rollback_asset(id, req.to, now(), caller).await.map_err(|e| asset_error(e, ""))?;
        settled(meta).await?;
        version(meta, reach, id, &o.version.to_string())
    }
}

/// Waits until this node has applied what was just committed (a command proposed
/// through a follower is applied on the leader first), so the answer reads it.
async fn settled(meta: &MetaStore) -> Result<(), AdminError> {
    meta.read_barrier().await.map_err(unavailable)
}

fn unavailable_asset(id: &str) -> AdminError {
    AdminError::new(503, "ServiceUnavailable", format!("asset {id} was committed but is not readable here yet"))
}

/// Version `n` (a number, or `latest`) of asset `id`.
fn get_version(meta: &MetaStore, a: &Asset, n: &str, field: &str) -> Result<AssetVersion, AdminError> {
    let number = match n {
        "latest" => a.versions,
        n => n.parse().map_err(|_| invalid(field, "a version is a number or latest"))?,
    };
    meta.asset_version(&a.id, number).map_err(unavailable)?.ok_or_else(|| {
        AdminError::new(404, codes::NO_SUCH_ASSET_VERSION, format!("the asset has no version {n}")).at(field)
    })
}

fn version(meta: &MetaStore, reach: &AssetReach, id: &str, n: &str) -> Result<AssetVersionInfo, AdminError> {
    let a = asset_shares::readable(meta, reach, id)?;
    Ok(fields::version_out(&get_version(meta, &a, n, "version")?))
}

/// `GET assets/ID/versions`: oldest first; the cursor is the asset and the last
/// number shown.
fn versions(meta: &MetaStore, reach: &AssetReach, id: &str, query: Option<&str>) -> Result<VersionList, AdminError> {
    let a = asset_shares::readable(meta, reach, id)?;
    let mut after = 0u32;
    let mut limit = DEFAULT_VERSIONS;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "cursor" => {
                let bad =
                    || AdminError::new(400, codes::INVALID_CURSOR, "the cursor is not one this list gave").at("cursor");
                let raw = String::from_utf8(B64.decode(v.as_bytes()).map_err(|_| bad())?).map_err(|_| bad())?;
                let (of, n) = raw.rsplit_once(':').ok_or_else(bad)?;
                if of != a.id {
                    return Err(bad());
                }
                after = n.parse().map_err(|_| bad())?;
            }
            "limit" => limit = limit_param(&v, MAX_VERSIONS)?,
            other => return Err(invalid(other, format!("unknown parameter {other}"))),
        }
    }
    let page = meta.asset_versions(&a.id, after, limit).map_err(unavailable)?;
    let next_cursor = page
        .last()
        .filter(|v| page.len() == limit && v.number < a.versions)
        .map(|v| B64.encode(format!("{}:{}", a.id, v.number)));
    Ok(VersionList { versions: page.iter().map(fields::version_out).collect(), next_cursor })
}

/// `GET assets/ID/diff?from=A&to=B`.
fn diff(meta: &MetaStore, reach: &AssetReach, id: &str, query: Option<&str>) -> Result<VersionDiff, AdminError> {
    let a = asset_shares::readable(meta, reach, id)?;
    let (mut from, mut to) = (None, None);
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "from" => from = Some(v.into_owned()),
            "to" => to = Some(v.into_owned()),
            other => return Err(invalid(other, format!("unknown parameter {other}"))),
        }
    }
    let from = from.ok_or_else(|| invalid("from", "name the versions to compare: from=A&to=B"))?;
    let to = to.ok_or_else(|| invalid("to", "name the versions to compare: from=A&to=B"))?;
    Ok(fields::diff(&get_version(meta, &a, &from, "from")?, &get_version(meta, &a, &to, "to")?))
}
