//! Reads of the KMS key store (`crate::kms`).

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
