//! Reads of object attributes (`sm_object_attrs`): one version's tags, retention
//! and legal hold, or those an upload in progress will give its object.

use super::MetaStore;
use crate::error::MetaError;
use crate::keys::{attrs_prefix, AttrSubject};
use crate::schema::Attrs;
use crate::tables::Table;

impl MetaStore {
    /// The attributes of version `version_id` (`None`: the null version) of `bucket/key`.
    pub fn version_attrs(&self, bucket: &str, key: &str, version_id: Option<&str>) -> Result<Attrs, MetaError> {
        self.attrs_of(bucket, key, AttrSubject::Version(version_id))
    }

    /// The attributes upload `upload_id` gives its object when it completes.
    pub fn upload_attrs(&self, bucket: &str, key: &str, upload_id: &str) -> Result<Attrs, MetaError> {
        self.attrs_of(bucket, key, AttrSubject::Upload(upload_id))
    }

    fn attrs_of(&self, bucket: &str, key: &str, subject: AttrSubject) -> Result<Attrs, MetaError> {
        let Some(p) = attrs_prefix(bucket, key, subject) else {
            return Ok(Attrs::new());
        };
        let mut out = Attrs::new();
        for item in self.inner().trees.tree(Table::ObjectAttrs).scan_prefix(&p) {
            let (k, v) = item?;
            out.insert(String::from_utf8_lossy(&k[p.len()..]).into_owned(), v.to_vec());
        }
        Ok(out)
    }
}
