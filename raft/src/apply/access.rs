//! RecordReads: a node's batch of read counts added to each version's access record
//! (`crate::access`). A version gone meanwhile is skipped: its counts go with it.

use super::versions::{self, Located};
use crate::access::{day_of, AccessRecord, ReadCount, ATTR_ACCESS};
use crate::error::MetaError;
use crate::keys::{attrs_prefix, AttrSubject};
use crate::schema::{CommandResult, Nanos};
use crate::tables::Table;
use crate::tx::Tx;

pub(super) fn record(tx: &mut Tx, at: Nanos, day: Nanos, reads: Vec<ReadCount>) -> Result<CommandResult, MetaError> {
    let today = day_of(at, day);
    for r in reads {
        let Located::Object(v) =
            versions::locate(tx, &r.bucket, &r.key, Some(r.version_id.as_deref().unwrap_or("null")))?
        else {
            continue;
        };
        let Some(mut k) = attrs_prefix(&r.bucket, &r.key, AttrSubject::Version(v.version_id.as_deref())) else {
            continue;
        };
        k.extend_from_slice(ATTR_ACCESS.as_bytes());
        let mut rec: AccessRecord = tx.read(Table::ObjectAttrs, &k)?.unwrap_or_default();
        rec.add(r.reads, r.last, today);
        tx.write(Table::ObjectAttrs, k, &rec)?;
    }
    Ok(CommandResult::Ok)
}
