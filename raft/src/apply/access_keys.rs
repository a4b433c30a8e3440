//! Access keys: stored sealed (the S3 layer seals the secret), removed by id (with
//! their tenancy, see `tenants`).

use crate::error::MetaError;
use crate::schema::{AccessKey, CommandResult};
use crate::tables::Table;
use crate::tx::Tx;

pub(super) fn put(tx: &mut Tx, key: AccessKey) -> Result<CommandResult, MetaError> {
    tx.write(Table::Keys, key.access_key_id.as_bytes().to_vec(), &key)?;
    Ok(CommandResult::Ok)
}

pub(super) fn delete(tx: &mut Tx, access_key_id: String) -> Result<CommandResult, MetaError> {
    if tx.get(Table::Keys, access_key_id.as_bytes())?.is_none() {
        return Ok(CommandResult::NoSuchKey);
    }
    super::tenants::forget_key(tx, &access_key_id)?;
    tx.remove(Table::Keys, access_key_id.into_bytes());
    Ok(CommandResult::Ok)
}
