//! SigV4 secret lookup: every access key lives in the Raft state machine, so a
//! key created or deleted on any node applies everywhere.

use cairn_raft::MetaStore;
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

pub struct CairnAuth {
    meta: MetaStore,
}

impl CairnAuth {
    pub fn new(meta: MetaStore) -> Self {
        Self { meta }
    }
}

#[async_trait::async_trait]
impl S3Auth for CairnAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.meta.get_access_key(access_key).map_err(crate::errors::meta)? {
            Some(k) => Ok(SecretKey::from(k.secret_key)),
            None => {
                Err(s3_error!(InvalidAccessKeyId, "The AWS Access Key Id you provided does not exist in our records."))
            }
        }
    }
}
