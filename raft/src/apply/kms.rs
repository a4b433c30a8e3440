//! KMS keys (`crate::kms`): created once, rotated by appending a version, enabled
//! and disabled; never removed.

use crate::error::MetaError;
use crate::kms::{KmsKey, KmsKeyVersion, KmsRefusal};
use crate::schema::CommandResult;
use crate::tables::Table;
use crate::tx::Tx;

fn get(tx: &Tx, id: &str) -> Result<Option<KmsKey>, MetaError> {
    tx.read(Table::KmsKeys, id.as_bytes())
}

pub(super) fn create(tx: &mut Tx, key: KmsKey) -> Result<CommandResult, MetaError> {
    if get(tx, &key.id)?.is_some() {
        return Ok(CommandResult::KmsRefused(KmsRefusal::Exists));
    }
    let version = key.current();
    tx.write(Table::KmsKeys, key.id.as_bytes().to_vec(), &key)?;
    Ok(CommandResult::KmsVersion(version))
}

pub(super) fn rotate(tx: &mut Tx, id: String, number: u32, version: KmsKeyVersion) -> Result<CommandResult, MetaError> {
    let Some(mut key) = get(tx, &id)? else { return Ok(CommandResult::KmsRefused(KmsRefusal::NoSuchKey)) };
    if number != key.current() + 1 {
        return Ok(CommandResult::KmsRefused(KmsRefusal::NotNext));
    }
    key.versions.push(version);
    let current = key.current();
    tx.write(Table::KmsKeys, id.into_bytes(), &key)?;
    Ok(CommandResult::KmsVersion(current))
}

pub(super) fn set_enabled(tx: &mut Tx, id: String, enabled: bool) -> Result<CommandResult, MetaError> {
    let Some(mut key) = get(tx, &id)? else { return Ok(CommandResult::KmsRefused(KmsRefusal::NoSuchKey)) };
    key.enabled = enabled;
    let current = key.current();
    tx.write(Table::KmsKeys, id.into_bytes(), &key)?;
    Ok(CommandResult::KmsVersion(current))
}
