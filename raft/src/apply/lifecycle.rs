//! Expire: a lifecycle rule's action on one key, decided against the key as it is at
//! the command's place in the log. The rule was evaluated on what the lifecycle worker
//! read a moment before; an object overwritten, a version restored or a marker joined
//! by a new version since then is left alone (PreconditionFailed), so a rule never
//! removes what it did not see. The removal itself is DeleteObject's or DeleteVersion's
//! ([`versions`]), so object lock, usage and freed blobs are decided as for them.

use super::{buckets, objects, versions};
use crate::error::MetaError;
use crate::keys::object_key;
use crate::schema::{CommandResult, Expiry, Nanos, VersionEntry};
use crate::tx::Tx;

pub(super) fn expire(
    tx: &mut Tx,
    bucket: String,
    key: String,
    action: Expiry,
    at: Nanos,
) -> Result<CommandResult, MetaError> {
    let (Some(info), Some(okey)) = (buckets::get(tx, &bucket)?, object_key(&bucket, &key)) else {
        return Ok(CommandResult::NoSuchBucket);
    };
    let current = objects::current(tx, &okey)?;
    match action {
        Expiry::Current { version_id, last_modified } => {
            let seen = current.is_some_and(|c| c.version_id == version_id && c.last_modified == last_modified);
            if !seen {
                return Ok(CommandResult::PreconditionFailed);
            }
            // A marker made by a rule is the bucket owner's, as S3 makes it.
            versions::delete(tx, bucket, key, info.owner, at, None)
        }
        Expiry::Noncurrent { version_id, last_modified } => {
            let history = versions::history(tx, &bucket, &key)?;
            let seen = current.is_some_and(|c| c.version_id != version_id)
                || history.first().is_some_and(|(_, e)| e.version_id() != version_id.as_deref());
            let still = history.iter().any(|(_, e)| {
                matches!(e, VersionEntry::Object(v) if v.version_id == version_id && v.last_modified == last_modified)
            });
            if !(seen && still) {
                return Ok(CommandResult::PreconditionFailed);
            }
            versions::delete_version(tx, bucket, key, version_id, None, at, false)
        }
        Expiry::LoneMarker { version_id } => {
            let history = versions::history(tx, &bucket, &key)?;
            let lone = current.is_none()
                && history.len() == 1
                && matches!(&history[0].1, VersionEntry::Marker(m) if m.version_id == version_id);
            if !lone {
                return Ok(CommandResult::PreconditionFailed);
            }
            versions::delete_version(tx, bucket, key, version_id, None, at, false)
        }
    }
}
