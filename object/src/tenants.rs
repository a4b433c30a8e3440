//! Tenants, the keys that belong to them, and quotas: commits of tenant records and of
//! bucket and key limits, and the early refusal of a body that cannot fit. Whether a
//! write fits is decided in apply (`raft/src/quota.rs`) with the write itself; the
//! early check here only spares a client from streaming a body apply would refuse,
//! so it never refuses what apply would accept.

use crate::{ObjectError, Store};
use cairn_raft::schema::{
    ATTR_WRITER, AccessKey, Command, CommandResult, KeyTenancy, Pool, PoolUsage, Quota, QuotaBreach, SETTING_QUOTA,
    Tenant,
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

/// A body at least this large that cannot fit is refused without being read (the
/// connection closes after the answer); a smaller one (unless sent with `Expect:
/// 100-continue`) is read and thrown away before the refusal, never stored, so a
/// client that writes its whole body before reading the answer sees the 403 rather
/// than a reset connection. See [`refuse_unread`].
pub const EARLY_REFUSAL_MIN: u64 = 8 << 20;

/// For a breach of pool `p`, among `pools` (bucket, key, the bucket's tenant, its
/// ancestors): the bucket's tenant when `p` is one of its ancestors, as apply names it.
fn ancestor_of(pools: &[(Pool, Quota, PoolUsage)]) -> impl Fn(&Pool) -> Option<String> + '_ {
    let own = pools.iter().find_map(|(p, ..)| match p {
        Pool::Tenant(t) => Some(t),
        _ => None,
    });
    move |p| match p {
        Pool::Tenant(t) if Some(t) != own => own.cloned(),
        _ => None,
    }
}

/// Is a refused body of `len` bytes left unread (rather than read and dropped)?
pub fn refuse_unread(len: u64, expects_continue: bool) -> bool {
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
    /// limit, whatever it replaces? A write that seems not to fit on this node's
    /// applied state is looked at again after a read barrier, so a space freed on
    /// another node a moment ago is seen: this never refuses what apply would accept
    /// at the time of the call.
    pub async fn precheck_put(&self, bucket: &str, key: &str, writer: &str, size: u64) -> Result<(), ObjectError> {
        if self.check_put(bucket, key, writer, size).is_ok() {
            return Ok(());
        }
        self.meta.read_barrier().await?;
        self.check_put(bucket, key, writer, size)
    }

    /// As [`Store::precheck_put`] for part `number` of an upload: the part it would
    /// replace is credited, and it counts against the upload's writer.
    pub async fn precheck_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        size: u64,
    ) -> Result<(), ObjectError> {
        if self.check_part(bucket, key, upload_id, number, size).is_ok() {
            return Ok(());
        }
        self.meta.read_barrier().await?;
        self.check_part(bucket, key, upload_id, number, size)
    }

    /// [`Store::precheck_put`] on this node's applied state. The overwritten version's
    /// bytes are credited when the bucket is not versioning-enabled, so a write that
    /// fits by difference is never refused here.
    fn check_put(&self, bucket: &str, key: &str, writer: &str, size: u64) -> Result<(), ObjectError> {
        let pools = self.meta.pools_for(bucket, writer)?;
        if pools.iter().all(|(_, q, _)| *q == Quota::default()) {
            return Ok(());
        }
        let below = ancestor_of(&pools);
        let versioning = self.meta.bucket_versioning(bucket)?;
        let current = match versioning {
            Some(Versioning::Enabled) => None,
            _ => self.meta.get_object(bucket, key)?,
        };
        let credit = current.as_ref().map_or(0, |v| v.size);
        // Certainly one more object: a versioned bucket keeps every version, an
        // unversioned one adds a key it does not have.
        let new_object = versioning == Some(Versioning::Enabled) || (versioning.is_none() && current.is_none());
        for (pool, quota, used) in pools.iter().cloned() {
            if let Some(limit) = quota.bytes
                && used.bytes.saturating_sub(credit).saturating_add(size) > limit
            {
                return Err(ObjectError::QuotaExceeded(QuotaBreach {
                    pool: pool.clone(),
                    objects: false,
                    limit,
                    used: used.bytes,
                    adding: size,
                    below: below(&pool),
                }));
            }
            if let Some(limit) = quota.objects
                && new_object
                && used.objects >= limit
            {
                return Err(ObjectError::QuotaExceeded(QuotaBreach {
                    pool: pool.clone(),
                    objects: true,
                    limit,
                    used: used.objects,
                    adding: 1,
                    below: below(&pool),
                }));
            }
        }
        Ok(())
    }

    /// [`Store::precheck_part`] on this node's applied state.
    fn check_part(&self, bucket: &str, key: &str, upload_id: &str, number: u32, size: u64) -> Result<(), ObjectError> {
        let attrs = self.meta.upload_attrs(bucket, key, upload_id)?;
        let writer = attrs.get(ATTR_WRITER).and_then(|w| std::str::from_utf8(w).ok()).unwrap_or_default();
        let pools = self.meta.pools_for(bucket, writer)?;
        if pools.iter().all(|(_, q, _)| q.bytes.is_none()) {
            return Ok(());
        }
        let below = ancestor_of(&pools);
        let (parts, _) = self.meta.list_parts(upload_id, number.saturating_sub(1), 1)?;
        let credit = parts.first().filter(|p| p.number == number).map_or(0, |p| p.size);
        for (pool, quota, used) in pools.iter().cloned() {
            if let Some(limit) = quota.bytes
                && used.bytes.saturating_sub(credit).saturating_add(size) > limit
            {
                return Err(ObjectError::QuotaExceeded(QuotaBreach {
                    pool: pool.clone(),
                    objects: false,
                    limit,
                    used: used.bytes,
                    adding: size,
                    below: below(&pool),
                }));
            }
        }
        Ok(())
    }
}
