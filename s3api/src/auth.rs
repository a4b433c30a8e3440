//! SigV4 secret lookup: every access key lives in the Raft state machine, sealed
//! with the cluster's keyring, so a key created or deleted on any node applies everywhere.

use crate::access::Keyring;
use cairn_raft::MetaStore;
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

pub struct CairnAuth {
    meta: MetaStore,
    keyring: Keyring,
}

impl CairnAuth {
    pub fn new(meta: MetaStore, keyring: Keyring) -> Self {
        Self { meta, keyring }
    }
}

#[async_trait::async_trait]
impl S3Auth for CairnAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let mut key = self.meta.get_access_key(access_key).map_err(crate::errors::meta)?;
        if key.is_none() {
            // A key created through another node a moment ago may not be applied here yet.
            self.meta.read_barrier().await.map_err(crate::errors::meta)?;
            key = self.meta.get_access_key(access_key).map_err(crate::errors::meta)?;
        }
        let Some(k) = key else {
            return Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            ));
        };
        match self.keyring.open(&k.access_key_id, &k.sealed_secret) {
            Some(secret) => Ok(SecretKey::from(secret)),
            None => {
                tracing::error!(
                    access_key,
                    "cannot open this key's sealed secret: this node's keyring differs from the cluster's"
                );
                Err(s3_error!(InternalError, "This node cannot verify the key; see its log."))
            }
        }
    }
}
