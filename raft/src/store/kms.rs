//! Reads of the KMS key store (`crate::kms`) and of the administrative audit events
//! (`crate::admin_audit`).

use super::{decode, MetaStore};
use crate::error::MetaError;
use crate::kms::KmsKey;
use crate::tables::Table;

impl MetaStore {
    /// KMS key `id`, as this node has applied it.
    pub fn kms_key(&self, id: &str) -> Result<Option<KmsKey>, MetaError> {
        decode(self.inner().trees.tree(Table::KmsKeys).get(id.as_bytes())?)
    }

    /// Every KMS key, in id order.
    pub fn kms_keys(&self) -> Result<Vec<KmsKey>, MetaError> {
        let mut out = Vec::new();
        for item in self.inner().trees.tree(Table::KmsKeys).iter() {
            let (_, v) = item?;
            out.push(bincode::deserialize(&v)?);
        }
        Ok(out)
    }
}

impl MetaStore {
    /// Administrative audit events (`crate::admin_audit`) at or after `since` and after
    /// the event keyed `after` (a cursor from a previous page), in time order, at most `limit`.
    pub fn admin_events(
        &self,
        since: crate::schema::Nanos,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, crate::admin_audit::AdminEvent)>, MetaError> {
        let inner = self.inner();
        let tree = inner.trees.tree(Table::AdminAudit);
        let from = crate::admin_audit::from_key(since);
        let mut out = Vec::new();
        for item in tree.range(from..) {
            let (k, v) = item?;
            if after.is_some_and(|a| k.as_ref() <= a) {
                continue;
            }
            out.push((k.to_vec(), bincode::deserialize(&v)?));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }
}
