//! Object lock, as AWS defines it: CreateBucket's `x-amz-bucket-object-lock-enabled`,
//! Put/GetObjectLockConfiguration (a default retention in days or years),
//! Put/GetObjectRetention and Put/GetObjectLegalHold per version, the
//! `x-amz-object-lock-*` headers of PUT, copy and CreateMultipartUpload (shown again
//! on GET and HEAD), and `x-amz-bypass-governance-retention`, honoured only for a
//! caller allowed `s3:BypassGovernanceRetention`.
//!
//! This file parses and shows; every decision (may this version go, may this
//! retention change, default retention, lock only with versioning) is made in the
//! state machine (`raft/src/apply/lock.rs`), so no race and no node slips past it.

use crate::access::{self, Authorized};
use crate::errors;
use crate::s3::service::CairnS3;
use crate::s3::unconfigured::Unset;
use crate::s3::versioning::version_ref;
use crate::timefmt::{now, to_timestamp};
use cairn_object::meta::put_bucket_setting;
use cairn_raft::schema::{
    ATTR_LEGAL_HOLD, ATTR_RETENTION, Attrs, LockMode, Nanos, ObjectLockConfig, ObjectRetention, RetentionPeriod,
    SETTING_OBJECT_LOCK,
};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use time::OffsetDateTime;

fn mode(name: &str) -> S3Result<LockMode> {
    match name {
        "GOVERNANCE" => Ok(LockMode::Governance),
        "COMPLIANCE" => Ok(LockMode::Compliance),
        other => Err(s3_error!(InvalidArgument, "Unknown object lock mode {other:?}: GOVERNANCE or COMPLIANCE")),
    }
}

fn mode_name(m: LockMode) -> &'static str {
    match m {
        LockMode::Governance => "GOVERNANCE",
        LockMode::Compliance => "COMPLIANCE",
    }
}

fn nanos(t: &Timestamp) -> Nanos {
    OffsetDateTime::from(t.clone()).unix_timestamp_nanos().clamp(0, i128::from(Nanos::MAX)) as Nanos
}

/// A retention from its mode and date, both required, the date in the future.
fn retention(mode_str: Option<&str>, until: Option<&Timestamp>) -> S3Result<Option<ObjectRetention>> {
    match (mode_str, until) {
        (None, None) => Ok(None),
        (Some(m), Some(u)) => {
            let retain_until = nanos(u);
            if retain_until <= now() {
                return Err(s3_error!(InvalidArgument, "The retain until date must be in the future!"));
            }
            Ok(Some(ObjectRetention { mode: mode(m)?, retain_until }))
        }
        _ => Err(s3_error!(
            InvalidArgument,
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
        )),
    }
}

fn legal_hold(status: &str) -> S3Result<bool> {
    match status {
        "ON" => Ok(true),
        "OFF" => Ok(false),
        other => Err(s3_error!(InvalidArgument, "Unknown legal hold status {other:?}: ON or OFF")),
    }
}

fn encode<T: serde::Serialize>(v: &T) -> S3Result<Vec<u8>> {
    bincode::serialize(v).map_err(|e| s3_error!(InternalError, "encoding: {e}"))
}

/// Adds the `x-amz-object-lock-*` headers of a write to the new version's attributes.
pub(crate) fn put_into(
    attrs: &mut Attrs,
    lock_mode: Option<&ObjectLockMode>,
    until: Option<&Timestamp>,
    hold: Option<&ObjectLockLegalHoldStatus>,
) -> S3Result<()> {
    if let Some(r) = retention(lock_mode.map(|m| m.as_str()), until)? {
        attrs.insert(ATTR_RETENTION.into(), encode(&r)?);
    }
    if let Some(h) = hold
        && legal_hold(h.as_str())?
    {
        attrs.insert(ATTR_LEGAL_HOLD.into(), encode(&true)?);
    }
    Ok(())
}

/// What GET and HEAD show of a version's lock.
#[derive(Default)]
pub(crate) struct Shown {
    pub mode: Option<ObjectLockMode>,
    pub retain_until: Option<Timestamp>,
    pub legal_hold: Option<ObjectLockLegalHoldStatus>,
}

fn stored_retention(attrs: &Attrs) -> S3Result<Option<ObjectRetention>> {
    attrs
        .get(ATTR_RETENTION)
        .map(|v| bincode::deserialize(v))
        .transpose()
        .map_err(|e| s3_error!(InternalError, "stored retention: {e}"))
}

fn stored_hold(attrs: &Attrs) -> S3Result<Option<bool>> {
    attrs
        .get(ATTR_LEGAL_HOLD)
        .map(|v| bincode::deserialize(v))
        .transpose()
        .map_err(|e| s3_error!(InternalError, "stored legal hold: {e}"))
}

pub(crate) fn shown(attrs: &Attrs) -> S3Result<Shown> {
    let r = stored_retention(attrs)?;
    Ok(Shown {
        mode: r.map(|r| ObjectLockMode::from(mode_name(r.mode).to_string())),
        retain_until: r.map(|r| to_timestamp(r.retain_until)),
        legal_hold: stored_hold(attrs)?
            .map(|on| ObjectLockLegalHoldStatus::from(if on { "ON" } else { "OFF" }.to_string())),
    })
}

/// The configuration CreateBucket's `x-amz-bucket-object-lock-enabled: true` gives.
pub(crate) fn enabled_at_creation() -> S3Result<Vec<u8>> {
    encode(&ObjectLockConfig::default())
}

fn no_lock_on_version() -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::Custom("NoSuchObjectLockConfiguration".into()),
        "The specified object does not have a ObjectLock configuration",
    );
    e.set_status_code(http::StatusCode::NOT_FOUND);
    e
}

impl CairnS3 {
    /// Whether a request's `x-amz-bypass-governance-retention: true` counts: only for
    /// a caller allowed `s3:BypassGovernanceRetention` on the object.
    pub(crate) fn bypass_governance(
        &self,
        auth: &Authorized,
        asked: Option<bool>,
        bucket: &str,
        key: &str,
    ) -> S3Result<bool> {
        if asked != Some(true) {
            return Ok(false);
        }
        self.access.may(auth, "s3:BypassGovernanceRetention", bucket, key)
    }

    /// Refuses a lock read or change on a bucket without lock, as AWS does.
    async fn require_lock(&self, bucket: &str) -> S3Result<ObjectLockConfig> {
        self.require_bucket(bucket).await?;
        self.store
            .object_lock(bucket)
            .map_err(errors::object)?
            .ok_or_else(|| s3_error!(InvalidRequest, "Bucket is missing Object Lock Configuration"))
    }

    pub(crate) async fn put_object_lock_configuration_impl(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let cfg = input
            .object_lock_configuration
            .ok_or_else(|| s3_error!(MalformedXML, "ObjectLockConfiguration is required"))?;
        if cfg.object_lock_enabled.as_ref().map(|e| e.as_str()) != Some(ObjectLockEnabled::ENABLED) {
            return Err(s3_error!(MalformedXML, "ObjectLockEnabled must be Enabled"));
        }
        let default_retention = match cfg.rule.and_then(|r| r.default_retention) {
            None => None,
            Some(d) => {
                let m = d.mode.ok_or_else(|| s3_error!(MalformedXML, "DefaultRetention needs a Mode"))?;
                let period = match (d.days, d.years) {
                    (Some(n), None) if (1..=36_500).contains(&n) => RetentionPeriod::Days(n as u32),
                    (None, Some(n)) if (1..=100).contains(&n) => RetentionPeriod::Years(n as u32),
                    (Some(_), Some(_)) | (None, None) => {
                        return Err(s3_error!(MalformedXML, "DefaultRetention needs exactly one of Days and Years"));
                    }
                    _ => {
                        return Err(s3_error!(
                            InvalidArgument,
                            "Default retention period must be a positive integer (at most 36500 days or 100 years)"
                        ));
                    }
                };
                Some((mode(m.as_str())?, period))
            }
        };
        let value = encode(&ObjectLockConfig { default_retention })?;
        put_bucket_setting(&self.store.meta, &input.bucket, SETTING_OBJECT_LOCK, Some(value))
            .await
            .map_err(errors::object)?;
        Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
    }

    pub(crate) async fn get_object_lock_configuration_impl(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        let bucket = req.input.bucket;
        self.require_bucket(&bucket).await?;
        let Some(cfg) = self.store.object_lock(&bucket).map_err(errors::object)? else {
            return Err(Unset::ObjectLock.error());
        };
        let rule = cfg.default_retention.map(|(m, period)| {
            let (days, years) = match period {
                RetentionPeriod::Days(d) => (Some(d as i32), None),
                RetentionPeriod::Years(y) => (None, Some(y as i32)),
            };
            ObjectLockRule {
                default_retention: Some(DefaultRetention {
                    mode: Some(ObjectLockRetentionMode::from(mode_name(m).to_string())),
                    days,
                    years,
                }),
            }
        });
        let cfg = ObjectLockConfiguration {
            object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
            rule,
        };
        Ok(S3Response::new(GetObjectLockConfigurationOutput { object_lock_configuration: Some(cfg) }))
    }

    pub(crate) async fn put_object_retention_impl(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> S3Result<S3Response<PutObjectRetentionOutput>> {
        let auth = access::authorized(&req)?.clone();
        let input = req.input;
        self.require_lock(&input.bucket).await?;
        let bypass = self.bypass_governance(&auth, input.bypass_governance_retention, &input.bucket, &input.key)?;
        let r = input.retention.unwrap_or_default();
        let value = match retention(r.mode.as_ref().map(|m| m.as_str()), r.retain_until_date.as_ref())? {
            Some(r) => Some(encode(&r)?),
            None => None,
        };
        let target = version_ref(input.version_id.as_deref())?;
        self.store
            .put_version_attr(&input.bucket, &input.key, target, ATTR_RETENTION, value, now(), bypass)
            .await
            .map_err(errors::object)?;
        Ok(S3Response::new(PutObjectRetentionOutput::default()))
    }

    pub(crate) async fn get_object_retention_impl(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> S3Result<S3Response<GetObjectRetentionOutput>> {
        let input = req.input;
        self.require_lock(&input.bucket).await?;
        let (_, attrs) = self.named_version_attrs(&input.bucket, &input.key, input.version_id.as_deref()).await?;
        let Some(r) = stored_retention(&attrs)? else { return Err(no_lock_on_version()) };
        Ok(S3Response::new(GetObjectRetentionOutput {
            retention: Some(ObjectLockRetention {
                mode: Some(ObjectLockRetentionMode::from(mode_name(r.mode).to_string())),
                retain_until_date: Some(to_timestamp(r.retain_until)),
            }),
        }))
    }

    pub(crate) async fn put_object_legal_hold_impl(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
        let input = req.input;
        self.require_lock(&input.bucket).await?;
        let status = input
            .legal_hold
            .and_then(|h| h.status)
            .ok_or_else(|| s3_error!(MalformedXML, "LegalHold needs a Status of ON or OFF"))?;
        let on = legal_hold(status.as_str())?;
        let target = version_ref(input.version_id.as_deref())?;
        self.store
            .put_version_attr(&input.bucket, &input.key, target, ATTR_LEGAL_HOLD, Some(encode(&on)?), now(), false)
            .await
            .map_err(errors::object)?;
        Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
    }

    pub(crate) async fn get_object_legal_hold_impl(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
        let input = req.input;
        self.require_lock(&input.bucket).await?;
        let (_, attrs) = self.named_version_attrs(&input.bucket, &input.key, input.version_id.as_deref()).await?;
        let Some(on) = stored_hold(&attrs)? else { return Err(no_lock_on_version()) };
        let status = ObjectLockLegalHoldStatus::from(if on { "ON" } else { "OFF" }.to_string());
        Ok(S3Response::new(GetObjectLegalHoldOutput { legal_hold: Some(ObjectLockLegalHold { status: Some(status) }) }))
    }
}
