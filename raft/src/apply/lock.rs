//! Object lock: the decisions that keep a locked version, all made here.
//!
//! - A bucket has lock while its `object-lock` setting exists; it needs versioning
//!   Enabled to get it, and versioning can never be suspended after.
//! - A new version given no retention gets the bucket's default, counted from its
//!   `last_modified`; lock attributes in a bucket without lock are refused.
//! - A version is removed for good only with no legal hold and no retention running
//!   at the command's time (GOVERNANCE: unless the caller bypasses it).
//! - COMPLIANCE retention is never shortened or removed while it runs; GOVERNANCE only
//!   with a bypass. Lengthening, or GOVERNANCE to COMPLIANCE, is always allowed.

use crate::error::MetaError;
use crate::keys::setting_key;
use crate::schema::{
    Attrs, LockMode, Nanos, ObjectLockConfig, ObjectRetention, Refusal, ATTR_LEGAL_HOLD, ATTR_RETENTION,
    SETTING_OBJECT_LOCK,
};
use crate::tables::Table;
use crate::tx::Tx;

/// The bucket's object lock configuration; `None`: no lock.
pub(super) fn config(tx: &Tx, bucket: &str) -> Result<Option<ObjectLockConfig>, MetaError> {
    match setting_key(bucket, SETTING_OBJECT_LOCK) {
        Some(k) => tx.read(Table::BucketSettings, &k),
        None => Ok(None),
    }
}

pub(super) fn is_lock_attr(name: &str) -> bool {
    name == ATTR_RETENTION || name == ATTR_LEGAL_HOLD
}

/// The attributes a new version of `bucket` is stored with: lock attributes refused
/// without lock, the default retention added when none is given.
pub(super) fn new_version_attrs(
    tx: &Tx,
    bucket: &str,
    mut attrs: Attrs,
    created: Nanos,
) -> Result<Result<Attrs, Refusal>, MetaError> {
    let Some(cfg) = config(tx, bucket)? else {
        if attrs.keys().any(|n| is_lock_attr(n)) {
            return Ok(Err(Refusal::LockNotEnabled));
        }
        return Ok(Ok(attrs));
    };
    if let (Some((mode, period)), false) = (cfg.default_retention, attrs.contains_key(ATTR_RETENTION)) {
        let r = ObjectRetention { mode, retain_until: created.saturating_add(period.nanos()) };
        attrs.insert(ATTR_RETENTION.into(), bincode::serialize(&r)?);
    }
    Ok(Ok(attrs))
}

fn retention(attrs: &Attrs) -> Result<Option<ObjectRetention>, MetaError> {
    attrs.get(ATTR_RETENTION).map(|v| bincode::deserialize(v)).transpose().map_err(Into::into)
}

/// May a version with `attrs` be removed for good at `at`?
pub(super) fn may_remove(attrs: &Attrs, at: Nanos, bypass_governance: bool) -> Result<bool, MetaError> {
    if let Some(v) = attrs.get(ATTR_LEGAL_HOLD) {
        if bincode::deserialize::<bool>(v)? {
            return Ok(false);
        }
    }
    Ok(match retention(attrs)? {
        Some(r) if r.retain_until > at => r.mode == LockMode::Governance && bypass_governance,
        _ => true,
    })
}

/// May the retention in `current` become `new` (encoded; `None` removes it) at `at`?
pub(super) fn may_set_retention(
    current: &Attrs,
    new: Option<&[u8]>,
    at: Nanos,
    bypass_governance: bool,
) -> Result<bool, MetaError> {
    let Some(old) = retention(current)?.filter(|r| r.retain_until > at) else {
        return Ok(true);
    };
    let new: Option<ObjectRetention> = new.map(bincode::deserialize).transpose()?;
    let keeps = new.is_some_and(|n| n.retain_until >= old.retain_until);
    Ok(match old.mode {
        LockMode::Compliance => keeps && new.is_some_and(|n| n.mode == LockMode::Compliance),
        LockMode::Governance => keeps || bypass_governance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(r: Option<ObjectRetention>, hold: Option<bool>) -> Attrs {
        let mut a = Attrs::new();
        if let Some(r) = r {
            a.insert(ATTR_RETENTION.into(), bincode::serialize(&r).unwrap());
        }
        if let Some(h) = hold {
            a.insert(ATTR_LEGAL_HOLD.into(), bincode::serialize(&h).unwrap());
        }
        a
    }

    #[test]
    fn removal_and_retention_changes() {
        let gov = ObjectRetention { mode: LockMode::Governance, retain_until: 100 };
        let comp = ObjectRetention { mode: LockMode::Compliance, retain_until: 100 };
        assert!(may_remove(&with(None, None), 50, false).unwrap());
        assert!(!may_remove(&with(None, Some(true)), 50, true).unwrap());
        assert!(may_remove(&with(None, Some(false)), 50, false).unwrap());
        assert!(!may_remove(&with(Some(gov), None), 50, false).unwrap());
        assert!(may_remove(&with(Some(gov), None), 50, true).unwrap());
        assert!(!may_remove(&with(Some(comp), None), 50, true).unwrap());
        assert!(may_remove(&with(Some(comp), None), 100, false).unwrap());

        let enc = |r: ObjectRetention| bincode::serialize(&r).unwrap();
        let longer_comp = ObjectRetention { mode: LockMode::Compliance, retain_until: 200 };
        let shorter_comp = ObjectRetention { mode: LockMode::Compliance, retain_until: 90 };
        let longer_gov = ObjectRetention { mode: LockMode::Governance, retain_until: 200 };
        let c = with(Some(comp), None);
        assert!(may_set_retention(&c, Some(&enc(longer_comp)), 50, false).unwrap());
        assert!(!may_set_retention(&c, Some(&enc(shorter_comp)), 50, true).unwrap());
        assert!(!may_set_retention(&c, Some(&enc(longer_gov)), 50, true).unwrap());
        assert!(!may_set_retention(&c, None, 50, true).unwrap());
        assert!(may_set_retention(&c, None, 101, false).unwrap());
        let g = with(Some(gov), None);
        assert!(may_set_retention(&g, Some(&enc(longer_comp)), 50, false).unwrap());
        assert!(!may_set_retention(&g, Some(&enc(shorter_comp)), 50, false).unwrap());
        assert!(may_set_retention(&g, Some(&enc(shorter_comp)), 50, true).unwrap());
        assert!(!may_set_retention(&g, None, 50, false).unwrap());
        assert!(may_set_retention(&g, None, 50, true).unwrap());
    }
}
