//! Reads of tenants, key tenancy and quota pools (`sm_tenancy`, `sm_pools`), as this
//! node has applied them (callers wanting the latest committed state run a read
//! barrier first).

use super::{decode, MetaStore};
use crate::error::MetaError;
use crate::keys::{
    children_prefix, key_tenancy_key, members_prefix, sample_prefix, tenant_key, HISTORY_DAILY, HISTORY_HOURLY,
    HISTORY_LAST,
};
use crate::schema::{KeyTenancy, Pool, PoolUsage, Quota, Tenant};
use crate::tables::Table;
use crate::tx::Tx;
use std::ops::Bound;

impl MetaStore {
    pub fn tenant(&self, id: &str) -> Result<Option<Tenant>, MetaError> {
        decode(self.inner().trees.tree(Table::Tenancy).get(tenant_key(id))?)
    }

    /// The children of `parent` (`None`: the top-level tenants) in name order,
    /// strictly after the name `after`, at most `limit`: one range scan.
    pub fn tenant_children(
        &self,
        parent: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Tenant>, MetaError> {
        let prefix = children_prefix(parent);
        let start = match after {
            Some(a) => Bound::Excluded([prefix.as_slice(), a.as_bytes()].concat()),
            None => Bound::Included(prefix.clone()),
        };
        let mut out = Vec::new();
        let inner = self.inner();
        let tree = inner.trees.tree(Table::Tenancy);
        for item in tree.range::<Vec<u8>, _>((start, Bound::Unbounded)) {
            if out.len() >= limit {
                break;
            }
            let (k, id) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            if let Some(t) = decode(tree.get(tenant_key(&String::from_utf8_lossy(&id)))?)? {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// The tenancy of access key `id` (`None`: a key outside every tenant).
    pub fn key_tenancy(&self, id: &str) -> Result<Option<KeyTenancy>, MetaError> {
        decode(self.inner().trees.tree(Table::Tenancy).get(key_tenancy_key(id))?)
    }

    /// The tenant `bucket` belongs to.
    pub fn bucket_tenant(&self, bucket: &str) -> Result<Option<String>, MetaError> {
        crate::quota::bucket_tenant(&Tx::new(&self.inner().trees), bucket)
    }

    /// `id` and its ancestors, nearest first (empty when `id` does not exist).
    pub fn tenant_path(&self, id: &str) -> Result<Vec<String>, MetaError> {
        if self.tenant(id)?.is_none() {
            return Ok(Vec::new());
        }
        crate::quota::tenant_chain(&Tx::new(&self.inner().trees), Some(id.to_string()))
    }

    /// The buckets (`b'B'`) or access keys (`b'K'`) of tenant `id`, in name order,
    /// from the first after `after`; one range scan.
    pub fn tenant_members(
        &self,
        kind: u8,
        id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, MetaError> {
        let prefix = members_prefix(kind, id);
        let end = crate::tx::prefix_range(&prefix).1;
        let start = match after {
            Some(a) => std::ops::Bound::Excluded([prefix.as_slice(), a.as_bytes()].concat()),
            None => std::ops::Bound::Included(prefix.clone()),
        };
        let mut out = Vec::new();
        for item in self.inner().trees.tree(Table::Tenancy).range((start, end)).take(limit) {
            let (k, _) = item?;
            out.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
        }
        Ok(out)
    }

    /// `tenant`'s usage samples, oldest first, as (slot in unix seconds, usage): one
    /// per day with `daily`, else one per hour; one range scan.
    pub fn usage_history(&self, tenant: &str, daily: bool) -> Result<Vec<(u64, PoolUsage)>, MetaError> {
        let kind = if daily { HISTORY_DAILY } else { HISTORY_HOURLY };
        let prefix = sample_prefix(kind, tenant);
        let mut out = Vec::new();
        for item in self.inner().trees.tree(Table::UsageHistory).scan_prefix(&prefix) {
            let (k, v) = item?;
            let slot = k.get(prefix.len()..).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes);
            if let (Some(slot), Some(usage)) = (slot, decode::<PoolUsage>(Some(v))?) {
                out.push((slot, usage));
            }
        }
        Ok(out)
    }

    /// The last hour whose usage was sampled (see `Command::SampleUsage`).
    pub fn last_usage_sample(&self) -> Result<Option<u64>, MetaError> {
        decode(self.inner().trees.tree(Table::UsageHistory).get(HISTORY_LAST)?)
    }

    /// What `pool` counts.
    pub fn pool_usage(&self, pool: &Pool) -> Result<PoolUsage, MetaError> {
        crate::quota::usage_of(&Tx::new(&self.inner().trees), pool)
    }

    /// The limits of `pool`.
    pub fn pool_limit(&self, pool: &Pool) -> Result<Quota, MetaError> {
        crate::quota::limit_of(&Tx::new(&self.inner().trees), pool)
    }

    /// The pools a write of `bucket` by `writer` counts in (bucket, key, the tenants
    /// up to the top), with their limits and usage: what a request checks before it
    /// reads a body.
    pub fn pools_for(&self, bucket: &str, writer: &str) -> Result<Vec<(Pool, Quota, PoolUsage)>, MetaError> {
        let inner = self.inner();
        let tx = Tx::new(&inner.trees);
        let mut pools = vec![Pool::Bucket(bucket.into()), Pool::Key(writer.into())];
        let chain = crate::quota::tenant_chain(&tx, crate::quota::bucket_tenant(&tx, bucket)?)?;
        pools.extend(chain.into_iter().map(Pool::Tenant));
        pools
            .into_iter()
            .map(|p| {
                let limit = crate::quota::limit_of(&tx, &p)?;
                let used = crate::quota::usage_of(&tx, &p)?;
                Ok((p, limit, used))
            })
            .collect()
    }
}
