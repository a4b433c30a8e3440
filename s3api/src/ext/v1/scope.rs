//! Who may do what in the tenant API: admin keys (the root key and keys made with
//! `admin`) everything; a tenant admin key its own tenant's subtree; other keys
//! nothing. Under a tenant admin of T: reading, creating keys and creating children
//! anywhere in T's subtree, T included; changing the quota of, or deleting, only the
//! tenants strictly below T (a tenant admin never raises its own limit).

use super::{AdminError, unavailable};
use cairn_api::tenants::codes::ACCESS_DENIED;
use cairn_raft::MetaStore;

pub(super) enum Scope {
    Admin,
    /// A tenant admin of this tenant.
    TenantAdmin(String),
    None,
}

fn denied(what: &str) -> AdminError {
    AdminError::new(403, ACCESS_DENIED, format!("this key may not {what}"))
}

impl Scope {
    pub fn of(meta: &MetaStore, caller: &str) -> Result<Scope, AdminError> {
        let Some(key) = meta.get_access_key(caller).map_err(unavailable)? else {
            return Ok(Scope::None);
        };
        if key.admin || key.is_root {
            return Ok(Scope::Admin);
        }
        Ok(match meta.key_tenancy(caller).map_err(unavailable)? {
            Some(t) if t.tenant_admin => t.tenant.map_or(Scope::None, Scope::TenantAdmin),
            _ => Scope::None,
        })
    }

    /// The tenant a tenant admin starts from (`None` for an admin).
    pub fn root(&self) -> Result<Option<&str>, AdminError> {
        match self {
            Scope::Admin => Ok(None),
            Scope::TenantAdmin(t) => Ok(Some(t)),
            Scope::None => Err(denied("use the tenant API (it needs an admin or a tenant admin key)")),
        }
    }

    /// May the caller see, and act inside, tenant `id` (its subtree, `id` included)?
    pub fn within(&self, meta: &MetaStore, id: &str, what: &str) -> Result<(), AdminError> {
        match self {
            Scope::Admin => Ok(()),
            Scope::TenantAdmin(t) if meta.tenant_path(id).map_err(unavailable)?.iter().any(|p| p == t) => Ok(()),
            _ => Err(denied(what)),
        }
    }

    /// May the caller change or delete tenant `id` (strictly below its own)?
    pub fn below(&self, meta: &MetaStore, id: &str, what: &str) -> Result<(), AdminError> {
        match self {
            Scope::Admin => Ok(()),
            Scope::TenantAdmin(t) if t != id => self.within(meta, id, what),
            _ => Err(denied(what)),
        }
    }
}
