//! Usage history (`sm_usage_history`): each tenant's usage sampled once an hour, kept
//! hourly for [`HOURLY_SAMPLES_KEPT`] hours and daily (the last sample of each day)
//! for [`DAILY_SAMPLES_KEPT`] days, for a platform's forecasting and billing. The
//! leader proposes the sample (`SampleUsage`); apply reads the quota pools, so every
//! node records the same figures, exact as of the sample's place in the log.

use crate::error::MetaError;
use crate::keys::{
    sample_key, sample_prefix, tenant_of_key, HISTORY_DAILY, HISTORY_HOURLY, HISTORY_LAST, TENANT_RECORDS,
};
use crate::schema::{CommandResult, Pool, DAILY_SAMPLES_KEPT, HOURLY_SAMPLES_KEPT};
use crate::tables::Table;
use crate::tx::Tx;

/// SampleUsage: the sample of hour `slot` for every tenant.
pub(super) fn sample(tx: &mut Tx, slot: u64, period: u64) -> Result<CommandResult, MetaError> {
    let last: Option<u64> = tx.read(Table::UsageHistory, HISTORY_LAST)?;
    if period == 0 || !slot.is_multiple_of(period) || last.is_some_and(|l| l >= slot) {
        return Ok(CommandResult::PreconditionFailed);
    }
    let day_len = period.saturating_mul(24);
    let day = slot - slot % day_len;
    let keep_hours_from = slot.saturating_sub(period.saturating_mul(HOURLY_SAMPLES_KEPT - 1));
    let keep_days_from = day.saturating_sub(day_len.saturating_mul(DAILY_SAMPLES_KEPT - 1));
    let tenants: Vec<String> = tx
        .scan_prefix(Table::Tenancy, TENANT_RECORDS)?
        .into_keys()
        .filter_map(|k| tenant_of_key(&k).map(str::to_owned))
        .collect();
    for tenant in tenants {
        let usage = crate::quota::usage_of(tx, &Pool::Tenant(tenant.clone()))?;
        tx.write(Table::UsageHistory, sample_key(HISTORY_HOURLY, &tenant, slot), &usage)?;
        tx.write(Table::UsageHistory, sample_key(HISTORY_DAILY, &tenant, day), &usage)?;
        for (kind, from) in [(HISTORY_HOURLY, keep_hours_from), (HISTORY_DAILY, keep_days_from)] {
            let expired =
                tx.scan_range(Table::UsageHistory, &sample_prefix(kind, &tenant), &sample_key(kind, &tenant, from))?;
            for k in expired.into_keys() {
                tx.remove(Table::UsageHistory, k);
            }
        }
    }
    tx.write(Table::UsageHistory, HISTORY_LAST.to_vec(), &slot)?;
    Ok(CommandResult::Ok)
}

/// A tenant is being deleted: its history goes with it.
pub(super) fn forget(tx: &mut Tx, tenant: &str) -> Result<(), MetaError> {
    for kind in [HISTORY_HOURLY, HISTORY_DAILY] {
        for (k, _) in tx.scan_prefix(Table::UsageHistory, &sample_prefix(kind, tenant))? {
            tx.remove(Table::UsageHistory, k);
        }
    }
    Ok(())
}
