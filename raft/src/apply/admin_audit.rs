//! `Command::Audited`: the wrapped administrative command, and its event when it took
//! effect, in one transaction (`crate::admin_audit`).

use crate::admin_audit::{event_key, from_key, AdminEvent};
use crate::error::MetaError;
use crate::feed::Change;
use crate::schema::{Command, CommandResult};
use crate::tables::Table;
use crate::tx::Tx;

pub(super) fn audited(tx: &mut Tx, event: AdminEvent, command: Command) -> Result<CommandResult, MetaError> {
    let change = Change::of(&command);
    let result = super::dispatch(tx, command)?;
    if change.took_effect(&result) {
        let same_instant = tx.scan_prefix(Table::AdminAudit, &from_key(event.at))?.len() as u32;
        let event = AdminEvent { change, ..event };
        tx.write(Table::AdminAudit, event_key(event.at, same_instant), &event)?;
    }
    Ok(result)
}
