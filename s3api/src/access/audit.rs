//! What the authorizer decided about one request, for the node's audit record: the
//! HTTP front puts an empty [`AuditNote`] in every request's extensions, the
//! authorizer fills it (S3 in `CairnAccess::check`, `/cairn/` in the extension
//! router), and the front writes the record when the answer is sent. Never a secret:
//! the access key id, not its secret nor the signature.

use std::sync::{Arc, Mutex};

/// The decision, once made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decided {
    /// The signing key; `None` for an anonymous request (or one whose key was unknown).
    pub access_key: Option<String>,
    /// The key's tenant, if it belongs to one.
    pub tenant: Option<String>,
    pub allowed: bool,
    /// Which rule decided (`owner`, `admin`, `policy:<Sid>`, `acl:<ACL>`, `share`, ...;
    /// see `docs/audit.md`).
    pub rule: String,
    /// The object version the request named.
    pub version_id: Option<String>,
}

#[derive(Clone, Default, Debug)]
pub struct AuditNote(Arc<Mutex<Option<Decided>>>);

impl AuditNote {
    pub fn get(&self) -> Option<Decided> {
        self.0.lock().ok().and_then(|d| d.clone())
    }

    pub(crate) fn set(&self, d: Decided) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(d);
        }
    }
}
