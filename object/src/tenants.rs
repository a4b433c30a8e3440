//! Tenants, the keys that belong to them, and quotas: commits of tenant records and of
//! bucket and key limits, and the early refusal of a body that cannot fit. Whether a
//! write fits is decided in apply (`raft/src/quota.rs`) with the write itself; the
//! early check here only spares a client from streaming a body apply would refuse,
//! so it never refuses what apply would accept.

use crate::{ObjectError, Store};
use cairn_raft::schema::{
    ATTR_WRITER, AccessKey, Command, CommandResult, KeyTenancy, Quota, QuotaBreach, SETTING_QUOTA, Tenant,
};
use cairn_raft::schema::{Attrs, Versioning};

fn tenant_result(r: CommandResult) -> Result<(), ObjectError> {
    match r {
        CommandResult::Ok => Ok(()),
        CommandResult::TenantRefused(t) => Err(ObjectError::Tenant(t)),
        CommandResult::NoSuchKey => Err(ObjectError::NoSuchKey),
        CommandResult::NoSuchBucket => Err(ObjectError::NoSuchBucket),
        other => Err(ObjectError::Unexpected(Box::new(other))),
    }
}

/// The attribute that names the key a new version or upload counts against.
pub fn writer_attr(attrs: &mut Attrs, access_key_id: &str) {
    attrs.insert(ATTR_WRITER.to_string(), access_key_id.as_bytes().to_vec());
}

/// Bodies at least this large are refused before they are read when they cannot fit;
/// smaller ones (and any with `Expect: 100-continue`, see [`refuse_early`]) are read
/// and refused by apply, so a client that writes its whole body before reading the
/// answer sees the 403 rather than a reset connection.
pub const EARLY_REFUSAL_MIN: u64 = 8 << 20;

/// Should a body of `len` bytes be checked before it is read?
pub fn refuse_early(len: u64, expects_continue: bool) -> bool {
    expects_continue || len >= EARLY_REFUSAL_MIN
}

impl Store {
    /// Creates `tenant` (`create`) or changes its quota and thresholds.
    pub async fn put_tenant(&self, tenant: Tenant, create: bool) -> Result<(), ObjectError> {
        tenant_result(self.meta.propose(Command::PutTenant { tenant, create }).await?)
    }

    pub async fn delete_tenant(&self, id: &str) -> Result<(), ObjectError> {
        tenant_result(self.meta.propose(Command::DeleteTenant { id: id.into() }).await?)
    }

    /// Stores a key with its tenancy, or a new quota for a key that has one.
    pub async fn put_key_in(&self, key: AccessKey, tenancy: KeyTenancy) -> Result<(), ObjectError> {
        tenant_result(self.meta.propose(Command::PutAccessKeyIn { key, tenancy }).await?)
    }

    /// Sets (`Some`) or removes a bucket's own limits.
    pub async fn set_bucket_quota(&self, bucket: &str, quota: Option<Quota>) -> Result<(), ObjectError> {
        let value = quota.map(|q| bincode::serialize(&q)).transpose().map_err(cairn_raft::MetaError::from)?;
        let cmd = Command::PutBucketSetting { bucket: bucket.into(), name: SETTING_QUOTA.into(), value };
        tenant_result(self.meta.propose(cmd).await?)
    }

    /// Would a new object of `size` bytes written to `bucket/key` by `writer` pass a
    /// limit, whatever it replaces? Answered from this node's applied state (the
    /// caller's read barrier brought it up to date); the overwritten version's bytes
    /// are credited when the bucket is not versioning-enabled, so a write that fits by
    /// difference is never refused here.
    pub fn precheck_put(&self, bucket: &str, key: &str, writer: &str, size: u64) -> Result<(), ObjectError> {
        let pools = self.meta.pools_for(bucket, writer)?;
        if pools.iter().all(|(_, q, _)| *q == Quota::default()) {
            return Ok(());
        }
        let versioning = self.meta.bucket_versioning(bucket)?;
        let current = match versioning {
            Some(Versioning::Enabled) => None,
            _ => self.meta.get_object(bucket, key)?,
        };
        let credit = current.as_ref().map_or(0, |v| v.size);
        // Certainly one more object: a versioned bucket keeps every version, an
        // unversioned one adds a key it does not have.
        let new_object = versioning == Some(Versioning::Enabled) || (versioning.is_none() && current.is_none());
        for (pool, quota, used) in pools {
            if let Some(limit) = quota.bytes
                && used.bytes.saturating_sub(credit).saturating_add(size) > limit
            {
                return Err(ObjectError::QuotaExceeded(QuotaBreach {
                    pool,
                    objects: false,
                    limit,
                    used: used.bytes,
                    adding: size,
                    below: None,
                }));
            }
            if let Some(limit) = quota.objects
                && new_object
                && used.objects >= limit
            {
                return Err(ObjectError::QuotaExceeded(QuotaBreach {
                    pool,
                    objects: true,
                    limit,
                    used: used.objects,
                    adding: 1,
                    below: None,
                }));
            }
        }
        Ok(())
    }

    /// As [`Store::precheck_put`] for part `number` of an upload: the part it would
    /// replace is credited, and it counts against the upload's writer.
    pub fn precheck_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        size: u64,
    ) -> Result<(), ObjectError> {
        let attrs = self.meta.upload_attrs(bucket, key, upload_id)?;
        let writer = attrs.get(ATTR_WRITER).and_then(|w| std::str::from_utf8(w).ok()).unwrap_or_default();
        let pools = self.meta.pools_for(bucket, writer)?;
        if pools.iter().all(|(_, q, _)| q.bytes.is_none()) {
            return Ok(());
        }
        let (parts, _) = self.meta.list_parts(upload_id, number.saturating_sub(1), 1)?;
        let credit = parts.first().filter(|p| p.number == number).map_or(0, |p| p.size);
        for (pool, quota, used) in pools {
            if let Some(limit) = quota.bytes
                && used.bytes.saturating_sub(credit).saturating_add(size) > limit
            {
                return Err(ObjectError::QuotaExceeded(QuotaBreach {
                    pool,
                    objects: false,
                    limit,
                    used: used.bytes,
                    adding: size,
                    below: None,
                }));
            }
        }
        Ok(())
    }
}
