//! Authorization: the one place that decides whether a request may run, for S3
//! operations and Cairn's own endpoints alike.
//!
//! Every request first passes a linearizable read barrier, then is decided against
//! the metadata as of that barrier: a key deleted, or a policy changed, through any
//! node is in force for every request that starts after the change was acknowledged.
//!
//! The order of evaluation follows AWS: an explicit Deny in the bucket policy wins;
//! then the request is allowed if the caller is an admin key or the bucket owner, if
//! the policy allows it, or if the bucket's or object's canned ACL grants it; anything
//! else is an implicit deny. The bucket owner and admins may always manage the
//! bucket policy, so no policy can lock them out.

pub mod acl;
pub mod asset_ops;
mod audit;
mod identity;
mod keyring;
mod ops;
pub mod ownership;
pub mod public_block;
mod shares;
mod tags;

pub use audit::{AuditNote, Decided};
pub use identity::{Caller, Identity, Owners, owner_id};
pub use keyring::{KEY_LEN, Keyring};
pub use ops::copy_source;

use crate::errors;
use crate::policy::{self, Decision, Policy};
use crate::refusals;
use acl::Asker;
use cairn_raft::MetaStore;
use cairn_raft::schema::{BucketInfo, ObjectVersion, VersionEntry};
use ops::{Need, On, Rule};
use public_block::PublicAccessBlock;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::Credentials;
use s3s::path::S3Path;
use s3s::{S3Result, s3_error};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The connection a request came in on, put in the request's extensions by the
/// HTTP front (the peer address feeds `aws:SourceIp`, TLS `aws:SecureTransport`).
#[derive(Clone, Copy, Debug)]
pub struct ConnInfo {
    pub peer: IpAddr,
    pub secure: bool,
}

/// The operation s3s routed a request to, named by the authorizer for the front's
/// logs and metrics (the front can only guess from the request line). The front
/// puts an empty one in the request's extensions.
#[derive(Clone, Default, Debug)]
pub struct OpName(Arc<std::sync::OnceLock<String>>);

impl OpName {
    pub fn get(&self) -> Option<String> {
        self.0.get().cloned()
    }

    fn set(&self, name: &str) {
        let _ = self.0.set(name.to_string());
    }
}

/// The outcome of authorizing a request, kept in its extensions for the handlers.
#[derive(Clone, Debug)]
pub struct Authorized {
    pub caller: Caller,
    conditions: Arc<BTreeMap<String, Vec<String>>>,
    /// The copy source of CopyObject / UploadPartCopy, as authorized: the handler
    /// copies exactly this.
    pub copy_source: Option<s3s::dto::CopySource>,
}

type Conditions = BTreeMap<String, Vec<String>>;

/// A stored policy text and what it parses to (`None`: it does not parse).
type ParsedPolicy = (String, Option<Policy>);

pub struct Authorizer {
    meta: MetaStore,
    /// The region credential scopes must name.
    region: String,
    keyring: Keyring,
    /// Parsed bucket policies, by bucket.
    policies: Mutex<HashMap<String, Arc<ParsedPolicy>>>,
    /// SSE-C keys accepted over plain HTTP from clients off loopback.
    sse_c_plain_http: bool,
}

fn denied() -> s3s::S3Error {
    s3_error!(AccessDenied, "Access Denied")
}

impl Authorizer {
    pub fn new(meta: MetaStore, keyring: Keyring, region: String) -> Self {
        Authorizer { meta, region, keyring, policies: Mutex::new(HashMap::new()), sse_c_plain_http: false }
    }

    /// Accepts SSE-C keys over plain HTTP from any client, not only loopback ones.
    pub fn with_sse_c_plain_http(mut self, allow: bool) -> Self {
        self.sse_c_plain_http = allow;
        self
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The identity of the signing key, read after a barrier so that a key deleted
    /// anywhere is refused here at once.
    async fn identify(&self, creds: Option<&Credentials>) -> S3Result<Option<Identity>> {
        self.meta.read_barrier().await.map_err(errors::meta)?;
        let Some(creds) = creds else { return Ok(None) };
        match self.meta.get_access_key(&creds.access_key).map_err(errors::meta)? {
            Some(k) => Ok(Some(Identity::of(&k))),
            None => {
                Err(s3_error!(InvalidAccessKeyId, "The AWS Access Key Id you provided does not exist in our records."))
            }
        }
    }

    /// Cairn's own endpoints (`/cairn/admin/v1/`): admin keys only.
    pub async fn authorize_admin(&self, creds: Option<&Credentials>) -> S3Result<Identity> {
        match self.identify(creds).await? {
            Some(i) if i.admin => Ok(i),
            Some(_) => Err(s3_error!(AccessDenied, "The admin API needs an admin key")),
            None => Err(s3_error!(AccessDenied, "Signature is required")),
        }
    }

    /// The tenant access key `id` belongs to, if any (for audit records).
    pub fn tenant_of(&self, id: &str) -> Option<String> {
        self.meta.key_tenancy(id).ok().flatten().and_then(|t| t.tenant)
    }

    /// Any valid key: the extension endpoints that are not admin-only.
    pub async fn authorize_signed(&self, creds: Option<&Credentials>) -> S3Result<Identity> {
        self.identify(creds).await?.ok_or_else(|| s3_error!(AccessDenied, "Signature is required"))
    }

    /// Decides an S3 request before its body is read; `why` gets the rule that decided
    /// and who asked, for the audit record, whatever the outcome.
    pub async fn authorize_s3(
        &self,
        req: &S3AccessContext<'_>,
        conn: Option<ConnInfo>,
        why: &mut Decided,
    ) -> S3Result<Authorized> {
        let op = req.s3_op().name();
        why.rule = "authentication".into();
        if req.credentials().is_some() {
            refusals::credential_scope(&self.region, req.headers(), req.uri())?;
        }
        let identity = self.identify(req.credentials()).await?;
        if let Some(i) = &identity {
            why.access_key = Some(i.access_key_id.clone());
            why.tenant = self.tenant_of(&i.access_key_id);
        }
        let mut conditions = conditions(op, identity.as_ref(), req.uri(), req.headers(), conn);
        let caller = Caller { identity };
        let (bucket, key) = match req.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(&**bucket), None),
            S3Path::Object { bucket, key } => (Some(&**bucket), Some(&**key)),
        };
        let mut copy = None;
        let version_id = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .find(|(k, v)| k == "versionId" && !v.is_empty())
            .map(|(_, v)| v.into_owned());
        let names_version = version_id.is_some();
        why.version_id = version_id.clone();
        why.rule = "conditions".into();
        self.tag_conditions(&mut conditions, op, bucket, key, version_id.as_deref(), req.headers())?;
        let conditions = Arc::new(conditions);
        match ops::rule_for(op, names_version) {
            Rule::Signed(_) if caller.identity.is_some() => why.rule = "signed".into(),
            Rule::Signed(_) => {
                why.rule = "signature-required".into();
                return Err(denied());
            }
            // Decided by the handler, per key (the admin key, or the caller's own).
            Rule::PerKey => why.rule = "per-key".into(),
            Rule::Bucket(need) => {
                let Some(bucket) = bucket else {
                    why.rule = "no-bucket".into();
                    return Err(denied());
                };
                match self.decide_why(&caller, &need, bucket, key, version_id.as_deref(), &conditions) {
                    Ok(rule) => why.rule = rule,
                    Err((e, rule)) => {
                        why.rule = rule;
                        // A read of a missing key by someone who may list the bucket is the
                        // handler's 404, as on AWS: listing would tell them anyway.
                        let absent_ok = matches!(op, "GetObject" | "HeadObject")
                            && self.may_learn_absence(&caller, bucket, key, &conditions)?;
                        if absent_ok {
                            why.rule = "absent-key-listable".into();
                        } else if self.decided_on_body(op, bucket)? {
                            why.rule = "decided-on-body".into();
                        } else {
                            return Err(e);
                        }
                    }
                }
                self.expected_owner(req.headers().get("x-amz-expected-bucket-owner"), bucket)?;
                if public_block::sets_acl(op) {
                    PublicAccessBlock::effective(&self.meta, bucket)?.check_request_acl(op, req.headers())?;
                }
                if matches!(op, "CopyObject" | "UploadPartCopy") {
                    let header = req.headers().get("x-amz-copy-source").and_then(|v| v.to_str().ok());
                    let header = header.ok_or_else(|| {
                        s3_error!(InvalidArgument, "Copy Source must mention the source bucket and key: bucket/key")
                    })?;
                    let source = copy_source(header)?;
                    if let s3s::dto::CopySource::Bucket { bucket: sb, key: sk, version_id } = &source {
                        let Rule::Bucket(read) = ops::rule_for("GetObject", version_id.is_some()) else {
                            unreachable!("GetObject is a bucket rule")
                        };
                        match self.decide_why(&caller, &read, sb, Some(sk), version_id.as_deref(), &conditions) {
                            Ok(rule) => why.rule = format!("{}; source {rule}", why.rule),
                            Err((e, rule)) => {
                                why.rule = format!("{}; source {rule}", why.rule);
                                return Err(e);
                            }
                        }
                        self.expected_owner(req.headers().get("x-amz-source-expected-bucket-owner"), sb)?;
                    }
                    copy = Some(source);
                }
            }
        }
        Ok(Authorized { caller, conditions, copy_source: copy })
    }

    /// True when `key` does not exist and the caller may list the bucket.
    fn may_learn_absence(
        &self,
        caller: &Caller,
        bucket: &str,
        key: Option<&str>,
        conds: &Conditions,
    ) -> S3Result<bool> {
        let Some(key) = key else { return Ok(false) };
        if self.meta.get_object(bucket, key).map_err(errors::meta)?.is_some() {
            return Ok(false);
        }
        let Rule::Bucket(list) = ops::rule("ListObjects") else { unreachable!("ListObjects is a bucket rule") };
        Ok(self.decide(caller, &list, bucket, None, None, conds).is_ok())
    }

    /// `x-amz-expected-bucket-owner`: the request is refused when the bucket belongs
    /// to someone else (the owner is named by canonical id or access key id).
    fn expected_owner(&self, header: Option<&http::HeaderValue>, bucket: &str) -> S3Result<()> {
        let Some(expected) = header else { return Ok(()) };
        let expected = expected.to_str().unwrap_or("").trim();
        let Some(info) = self.meta.get_bucket(bucket).map_err(errors::meta)? else { return Ok(()) };
        if expected == info.owner || expected == owner_id(&info.owner) { Ok(()) } else { Err(denied()) }
    }

    /// Decides one key (or one version of it) of a multi-object delete (the keys are
    /// in the body, read after [`Self::authorize_s3`] ran).
    pub fn authorize_delete(&self, auth: &Authorized, bucket: &str, key: &str, names_version: bool) -> S3Result<()> {
        let Rule::Bucket(need) = ops::rule_for("DeleteObject", names_version) else {
            unreachable!("DeleteObject is a bucket rule")
        };
        self.decide(&auth.caller, &need, bucket, Some(key), None, &auth.conditions)
    }

    /// May the key `identity` read `bucket/key` (version `version_id`)? As a signed
    /// GetObject of it would be decided, for Cairn's own endpoints that point at
    /// objects (an asset version). A missing bucket passes: the caller reports it.
    pub fn may_read_object(
        &self,
        identity: &Identity,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> S3Result<()> {
        self.may_do(identity, "GetObject", bucket, Some(key), version_id)
    }

    /// May the key `identity` do S3 operation `op` (an s3s operation name) on
    /// `bucket` (or its object `key`, version `version_id`)? Decided as a signed request
    /// of it would be, for Cairn's own endpoints that act on S3 resources. A missing
    /// bucket passes: the caller reports it.
    pub fn may_do(
        &self,
        identity: &Identity,
        op: &str,
        bucket: &str,
        key: Option<&str>,
        version_id: Option<&str>,
    ) -> S3Result<()> {
        let caller = Caller { identity: Some(identity.clone()) };
        let uri = http::Uri::from_static("/");
        let conds = conditions(op, caller.identity.as_ref(), &uri, &http::HeaderMap::new(), None);
        match ops::rule_for(op, version_id.is_some()) {
            Rule::Bucket(need) => self.decide(&caller, &need, bucket, key, version_id, &conds),
            Rule::Signed(_) => Ok(()),
            Rule::PerKey => Err(denied()),
        }
    }

    /// Decides `need` on `bucket` (or its object `key`; an object ACL is that of the
    /// version `version` names, the current one when `None`).
    fn decide(
        &self,
        caller: &Caller,
        need: &Need,
        bucket: &str,
        key: Option<&str>,
        version: Option<&str>,
        conds: &Conditions,
    ) -> S3Result<()> {
        self.decide_why(caller, need, bucket, key, version, conds).map(|_| ()).map_err(|(e, _)| e)
    }

    /// [`Self::decide`], naming the rule that decided for the audit record: `owner`,
    /// `admin`, `policy:<Sid>`, `policy-deny:<Sid>`, `share`, `object-owner`,
    /// `acl:<canned ACL>`, `owner-only`, `implicit-deny`, or `no-such-bucket` (the
    /// handler answers 404).
    fn decide_why(
        &self,
        caller: &Caller,
        need: &Need,
        bucket: &str,
        key: Option<&str>,
        version: Option<&str>,
        conds: &Conditions,
    ) -> Result<String, (s3s::S3Error, String)> {
        let fail = |e: s3s::S3Error| (e, "error".to_string());
        // A missing bucket is for the handler to report (NoSuchBucket), as S3 does.
        let Some(info) = self.meta.get_bucket(bucket).map_err(|e| fail(errors::meta(e)))? else {
            return Ok("no-such-bucket".into());
        };
        let who = caller.identity.as_ref();
        let owner = who.is_some_and(|i| i.admin || i.access_key_id == info.owner);
        let owner_rule = || if who.is_some_and(|i| i.access_key_id == info.owner) { "owner" } else { "admin" };
        if need.owner_only && owner {
            return Ok(owner_rule().into());
        }
        let resource = match key {
            Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
            None => format!("arn:aws:s3:::{bucket}"),
        };
        let (mut decision, statement) = self.policy_decision(&info, need.action, &resource, who, conds);
        if decision == Decision::Allow && !owner && self.restricts_public_policy(&info).map_err(fail)? {
            // RestrictPublicBuckets: a public policy grants nothing to others.
            decision = Decision::NoMatch;
        }
        let statement = statement.unwrap_or_default();
        if decision == Decision::Deny {
            return Err((denied(), format!("policy-deny:{statement}")));
        }
        if owner {
            return Ok(owner_rule().into());
        }
        if need.owner_only {
            return Err((
                if decision == Decision::Allow {
                    s3_error!(MethodNotAllowed, "Only the bucket owner may do this.")
                } else {
                    denied()
                },
                "owner-only".into(),
            ));
        }
        if decision == Decision::Allow {
            return Ok(format!("policy:{statement}"));
        }
        if self.shared_read(who, need, bucket, key, version).map_err(fail)? {
            return Ok("share".into());
        }
        if !ownership::Ownership::effective(&self.meta, bucket).map_err(fail)?.acls_apply() {
            // ACLs are off (BucketOwnerEnforced): only the owner and policies grant.
            return Err((denied(), "implicit-deny".into()));
        }
        let asker = if who.is_some() { Asker::Authenticated } else { Asker::Anonymous };
        // IgnorePublicAcls: every grant a canned ACL makes to others is public.
        let ignore_public = PublicAccessBlock::effective(&self.meta, bucket).map_err(fail)?.ignore_public_acls;
        let acls_count = need.acl.is_some() && !ignore_public;
        let grants = |acl, perm| acls_count && acl::grants(acl, perm, asker);
        let granted = match need.acl {
            Some((On::Bucket, perm)) => grants(info.acl, perm).then(|| format!("acl:{:?}", info.acl)),
            Some((On::Object, perm)) => {
                match key.map(|k| self.named_version(bucket, k, version)).transpose().map_err(fail)? {
                    Some(Some(obj)) if who.is_some_and(|i| i.access_key_id == obj.owner) => Some("object-owner".into()),
                    Some(Some(obj)) => grants(obj.acl, perm).then(|| format!("acl:{:?}", obj.acl)),
                    _ => None,
                }
            }
            None => None,
        };
        granted.ok_or_else(|| (denied(), "implicit-deny".into()))
    }

    /// The object version `version` names (`null` included; the current one when
    /// `None`), for its owner and ACL.
    fn named_version(&self, bucket: &str, key: &str, version: Option<&str>) -> S3Result<Option<ObjectVersion>> {
        let Some(id) = version else {
            return self.meta.get_object(bucket, key).map_err(errors::meta);
        };
        let id = (id != "null").then_some(id);
        Ok(match self.meta.get_version(bucket, key, id).map_err(errors::meta)? {
            Some((VersionEntry::Object(v), _)) => Some(v),
            _ => None,
        })
    }

    fn policy_decision(
        &self,
        info: &BucketInfo,
        action: &str,
        resource: &str,
        who: Option<&Identity>,
        conditions: &Conditions,
    ) -> (Decision, Option<String>) {
        let Some(text) = &info.policy else { return (Decision::NoMatch, None) };
        let parsed = self.parsed(&info.name, text);
        let Some(policy) = &parsed.1 else {
            // A stored policy this version cannot read fails closed; the owner can replace it.
            return (Decision::Deny, Some("unreadable".into()));
        };
        let principal = who.map(|i| policy::Principal {
            access_key_id: i.access_key_id.clone(),
            canonical_id: i.owner_id.clone(),
            name: i.name.clone(),
        });
        policy.evaluate_why(&policy::RequestContext { action, resource, principal: principal.as_ref(), conditions })
    }

    /// RestrictPublicBuckets is on and the bucket's policy is public.
    fn restricts_public_policy(&self, info: &BucketInfo) -> S3Result<bool> {
        let Some(text) = &info.policy else { return Ok(false) };
        if !PublicAccessBlock::effective(&self.meta, &info.name)?.restrict_public_buckets {
            return Ok(false);
        }
        Ok(self.parsed(&info.name, text).1.as_ref().is_some_and(|p| p.is_public()))
    }

    fn parsed(&self, bucket: &str, text: &str) -> Arc<ParsedPolicy> {
        let mut cache = self.policies.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = cache.get(bucket).filter(|p| p.0 == text) {
            return p.clone();
        }
        let policy = match Policy::parse(text, bucket) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!(bucket, error = %e, "the stored bucket policy does not parse; denying what it covers");
                None
            }
        };
        let entry = Arc::new((text.to_string(), policy));
        cache.insert(bucket.to_string(), entry.clone());
        entry
    }
}

/// The condition keys of a request (see docs: the keys a bucket policy may test).
fn conditions(
    op: &str,
    who: Option<&Identity>,
    uri: &http::Uri,
    headers: &http::HeaderMap,
    conn: Option<ConnInfo>,
) -> Conditions {
    let mut c = Conditions::new();
    let mut set = |k: &str, v: String| {
        c.insert(k.to_string(), vec![v]);
    };
    if let Some(conn) = conn {
        set("aws:SourceIp", conn.peer.to_canonical().to_string());
        set("aws:SecureTransport", conn.secure.to_string());
    }
    let now = time::OffsetDateTime::now_utc();
    if let Ok(t) = now.format(&time::format_description::well_known::Rfc3339) {
        set("aws:CurrentTime", t);
    }
    set("aws:EpochTime", now.unix_timestamp().to_string());
    match who {
        Some(i) => {
            set("aws:PrincipalType", "User".into());
            set("aws:username", i.name.clone());
            set("aws:userid", i.access_key_id.clone());
        }
        None => set("aws:PrincipalType", "Anonymous".into()),
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    for (key, name) in [
        ("aws:UserAgent", "user-agent"),
        ("aws:Referer", "referer"),
        ("s3:x-amz-acl", "x-amz-acl"),
        ("s3:x-amz-copy-source", "x-amz-copy-source"),
        ("s3:x-amz-metadata-directive", "x-amz-metadata-directive"),
        ("s3:x-amz-content-sha256", "x-amz-content-sha256"),
    ] {
        if let Some(v) = header(name) {
            set(key, v);
        }
    }
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    if query.iter().any(|(k, _)| k == "X-Amz-Signature") {
        set("s3:authType", "REST-QUERY-STRING".into());
        set("s3:signatureversion", "AWS4-HMAC-SHA256".into());
    } else if let Some(auth) = header("authorization") {
        set("s3:authType", "REST-HEADER".into());
        let v = if auth.starts_with("AWS4-HMAC-SHA256") { "AWS4-HMAC-SHA256" } else { "AWS" };
        set("s3:signatureversion", v.into());
    }
    if matches!(op, "ListObjects" | "ListObjectsV2" | "ListObjectVersions" | "ListMultipartUploads") {
        for (key, name) in [("s3:prefix", "prefix"), ("s3:delimiter", "delimiter"), ("s3:max-keys", "max-keys")] {
            if let Some((_, v)) = query.iter().find(|(k, _)| k == name) {
                set(key, v.clone());
            }
        }
    }
    c
}

/// The s3s hook: every S3 operation is authorized here before its input is read.
pub struct CairnAccess(pub Arc<Authorizer>);

#[async_trait::async_trait]
impl S3Access for CairnAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if let Some(slot) = cx.extensions_mut().get::<OpName>().cloned() {
            slot.set(cx.s3_op().name());
        }
        let note = cx.extensions_mut().get::<AuditNote>().cloned();
        let mut why = Decided { rule: "refused".into(), ..Decided::default() };
        let result = self.check_s3(cx, &mut why).await;
        why.allowed = result.is_ok();
        if let (true, Some(key)) = (why.allowed, &why.access_key) {
            cairn_raft::admin_audit::set_caller(key, why.tenant.clone());
        }
        if let Some(note) = note {
            note.set(why);
        }
        result
    }
}

impl CairnAccess {
    async fn check_s3(&self, cx: &mut S3AccessContext<'_>, why: &mut Decided) -> S3Result<()> {
        let op = cx.s3_op().name();
        refusals::storage_class(op, cx.headers(), || {
            self.0.meta.tiers().map(|t| t.names()).unwrap_or_else(|_| vec![cairn_raft::tiers::STANDARD.to_string()])
        })?;
        refusals::unsupported_header(op, cx.headers())?;
        refusals::metadata_size(op, cx.headers())?;
        refusals::delete_objects_digest(op, cx.headers())?;
        refusals::response_overrides(op, cx.credentials().is_some(), cx.uri())?;
        let conn = cx.extensions_mut().get::<ConnInfo>().copied();
        refusals::sse_c_transport(cx.headers(), conn, self.0.sse_c_plain_http)?;
        let authorized = self.0.authorize_s3(cx, conn, why).await?;
        cx.extensions_mut().insert(authorized);
        Ok(())
    }
}

/// The decision the authorizer made for this request. Every S3 request has one; a
/// request without one was not authorized and is refused.
pub fn authorized<T>(req: &s3s::S3Request<T>) -> S3Result<&Authorized> {
    req.extensions.get::<Authorized>().ok_or_else(denied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_keys_of_a_listing() {
        let uri: http::Uri = "/b?list-type=2&prefix=home%2Fbob%2F&max-keys=5&delimiter=%2F".parse().unwrap();
        let mut h = http::HeaderMap::new();
        h.insert("authorization", http::HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=x"));
        h.insert("user-agent", http::HeaderValue::from_static("aws-cli/2"));
        let who = Identity { access_key_id: "AK".into(), name: "bob".into(), owner_id: "o".into(), admin: false };
        let conn = ConnInfo { peer: "::ffff:127.0.0.1".parse().unwrap(), secure: false };
        let c = conditions("ListObjectsV2", Some(&who), &uri, &h, Some(conn));
        let one = |k: &str| c.get(k).map(|v| v[0].as_str());
        assert_eq!(one("s3:prefix"), Some("home/bob/"));
        assert_eq!(one("s3:max-keys"), Some("5"));
        assert_eq!(one("s3:delimiter"), Some("/"));
        assert_eq!(one("aws:SourceIp"), Some("127.0.0.1"));
        assert_eq!(one("aws:SecureTransport"), Some("false"));
        assert_eq!(one("aws:username"), Some("bob"));
        assert_eq!(one("aws:userid"), Some("AK"));
        assert_eq!(one("s3:authType"), Some("REST-HEADER"));
        assert_eq!(one("aws:UserAgent"), Some("aws-cli/2"));

        let get: http::Uri = "/b/k?prefix=x&X-Amz-Signature=abc".parse().unwrap();
        let c = conditions("GetObject", None, &get, &http::HeaderMap::new(), None);
        assert_eq!(c.get("s3:prefix"), None, "s3:prefix belongs to listings only");
        assert_eq!(c.get("aws:PrincipalType").map(|v| v[0].as_str()), Some("Anonymous"));
        assert_eq!(c.get("s3:authType").map(|v| v[0].as_str()), Some("REST-QUERY-STRING"));
        assert_eq!(c.get("aws:SourceIp"), None);
    }
}
