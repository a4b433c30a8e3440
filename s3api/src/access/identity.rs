//! Who signed a request: the access key's identity as S3 shows it (canonical owner
//! id and display name), and the caller a request runs as.

use cairn_raft::MetaStore;
use cairn_raft::schema::AccessKey;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The canonical owner id of an access key: 64 hex digits, like AWS's. Derived, so
/// it stays the owner of a bucket even after its key is deleted.
pub fn owner_id(access_key_id: &str) -> String {
    hex::encode(Sha256::new().chain_update(b"cairn-owner:").chain_update(access_key_id.as_bytes()).finalize())
}

/// A signed caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub access_key_id: String,
    pub name: String,
    pub owner_id: String,
    pub admin: bool,
}

impl Identity {
    pub fn of(key: &AccessKey) -> Self {
        Identity {
            access_key_id: key.access_key_id.clone(),
            name: key.name.clone(),
            owner_id: owner_id(&key.access_key_id),
            admin: key.admin || key.is_root,
        }
    }
}

/// What a request runs as, decided once by the authorizer and kept in the request's
/// extensions for the handlers.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// `None` for an anonymous (unsigned) request.
    pub identity: Option<Identity>,
}

impl Caller {
    /// The access key id that owns what this caller creates. Anonymous writes (allowed
    /// by a policy or ACL) belong to the bucket owner.
    pub fn owner_or<'a>(&'a self, bucket_owner: &'a str) -> &'a str {
        self.identity.as_ref().map_or(bucket_owner, |i| i.access_key_id.as_str())
    }
}

/// S3 `Owner` elements for access key ids, looking each key's name up once.
pub struct Owners<'a> {
    meta: &'a MetaStore,
    seen: HashMap<String, s3s::dto::Owner>,
}

impl<'a> Owners<'a> {
    pub fn new(meta: &'a MetaStore) -> Self {
        Owners { meta, seen: HashMap::new() }
    }

    /// Display name: the key's name, or its id once the key is gone.
    pub fn get(&mut self, access_key_id: &str) -> s3s::dto::Owner {
        if let Some(o) = self.seen.get(access_key_id) {
            return o.clone();
        }
        let name = match self.meta.get_access_key(access_key_id) {
            Ok(Some(k)) => k.name,
            _ => access_key_id.to_string(),
        };
        let o = s3s::dto::Owner { display_name: Some(name), id: Some(owner_id(access_key_id)) };
        self.seen.insert(access_key_id.to_string(), o.clone());
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_ids_are_stable_hex_and_distinct() {
        let a = owner_id("AKIAALICE");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(a, owner_id("AKIAALICE"));
        assert_ne!(a, owner_id("AKIABOB"));
    }
}
