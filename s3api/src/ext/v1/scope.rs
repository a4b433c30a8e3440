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

    /// May the caller manage bucket `bucket`'s settings (`what`, e.g. "manage this
    /// bucket's quota")? An admin may; a tenant admin if the bucket's tenant is in its
    /// subtree. 404 `NoSuchBucket` for a bucket that does not exist.
    pub fn manage_bucket(&self, meta: &MetaStore, bucket: &str, what: &str) -> Result<(), AdminError> {
        if meta.get_bucket(bucket).map_err(unavailable)?.is_none() {
            return Err(AdminError::new(404, "NoSuchBucket", format!("bucket {bucket} does not exist")));
        }
        match (self, meta.bucket_tenant(bucket).map_err(unavailable)?) {
            (Scope::Admin, _) => Ok(()),
            (_, Some(t)) => self.within(meta, &t, what),
            (_, None) => Err(denied(what)),
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

/// Whose assets a key manages: an admin key every tenant's; a tenant admin of T
/// those of T's subtree; any other key of tenant T those of T; a key of no tenant
/// none (it is refused).
pub(super) enum AssetReach {
    All,
    Subtree(String),
    Own(String),
    Nothing,
}

impl AssetReach {
    pub fn of(meta: &MetaStore, caller: &str) -> Result<AssetReach, AdminError> {
        let Some(key) = meta.get_access_key(caller).map_err(unavailable)? else {
            return Ok(AssetReach::Nothing);
        };
        if key.admin || key.is_root {
            return Ok(AssetReach::All);
        }
        Ok(match meta.key_tenancy(caller).map_err(unavailable)? {
            Some(t) => match t.tenant {
                Some(id) if t.tenant_admin => AssetReach::Subtree(id),
                Some(id) => AssetReach::Own(id),
                None => AssetReach::Nothing,
            },
            None => AssetReach::Nothing,
        })
    }

    /// The tenant a request that names none is about: the key's own.
    pub fn home(&self) -> Result<Option<&str>, AdminError> {
        match self {
            AssetReach::All => Ok(None),
            AssetReach::Subtree(t) | AssetReach::Own(t) => Ok(Some(t)),
            AssetReach::Nothing => Err(denied("use the asset API (it needs a key that belongs to a tenant)")),
        }
    }

    /// May the caller see and manage the assets of `tenant`?
    pub fn covers(&self, meta: &MetaStore, tenant: &str) -> Result<bool, AdminError> {
        Ok(match self {
            AssetReach::All => true,
            AssetReach::Own(t) => t == tenant,
            AssetReach::Subtree(t) => meta.tenant_path(tenant).map_err(unavailable)?.iter().any(|p| p == t),
            AssetReach::Nothing => false,
        })
    }

    /// As [`AssetReach::covers`], refused with AccessDenied.
    pub fn require(&self, meta: &MetaStore, tenant: &str) -> Result<(), AdminError> {
        if self.covers(meta, tenant)? { Ok(()) } else { Err(denied(&format!("manage the assets of tenant {tenant}"))) }
    }
}
