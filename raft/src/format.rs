//! The metadata format version, kept in `raft_meta` under `format`.
//!
//! bincode records carry no field names or defaults, so a record written by one
//! version of the schema cannot be read by another. A store records the format it
//! was created with; opening a store of another format stops with a message
//! instead of misreading (or failing on) the first old record it meets.
//!
//! The rule:
//! - **Bump [`FORMAT`]** when a stored record changes shape (a field added, removed
//!   or reordered in [`crate::schema`], a log entry's encoding) or a key layout in
//!   [`crate::keys`] changes meaning. Then either migrate the old format on open, or
//!   keep refusing it with a clear message.
//! - **Do not bump it** to add a table (a new tree with a new snapshot tag in
//!   [`crate::tables`]), a command variant at the end of `Command`, or a derived
//!   table: old records read the same, and derived tables are rebuilt when their
//!   marker is missing. Snapshot tags and tree names are never reused.
//! - **Keep a fixture.** `tests/fixtures/formatN.*` is a data directory and a
//!   snapshot written by the cairnd that last wrote format N
//!   (`scripts/fixtures/make-upgrade-fixture.sh`); `tests/tests/upgrade.rs` and the
//!   state machine's tests open them with the current binary. A new format adds its
//!   own fixture, and the old one's test shows the migration (or the refusal).

use crate::keys::TREE_RAFT_META;
use anyhow::bail;

/// Bumped whenever a stored record changes shape.
/// 2: access control (bucket ACL and policy, object ACL, sealed secrets, admin keys).
/// 3: the Raft log in its own files (`<dir>/raft-log`, see [`crate::log_files`]) instead
///    of sled's `raft_log` tree. Format 2 is migrated on open: the log store moves the
///    entries, then [`upgraded`] stamps 3 (so an older cairnd refuses the store).
pub const FORMAT: u32 = 3;

/// The format [`check`] migrates from (the log store moves its log out of sled).
const LOG_IN_SLED: u32 = 2;

const KEY: &[u8] = b"format";

/// Checks the format of `db`, stamps a new (empty) store with [`FORMAT`], and returns
/// the format found.
pub(crate) fn check(db: &sled::Db) -> anyhow::Result<u32> {
    let meta = db.open_tree(TREE_RAFT_META)?;
    match meta.get(KEY)? {
        Some(v) => {
            let found = <[u8; 4]>::try_from(v.as_ref()).map(u32::from_be_bytes).unwrap_or(0);
            if found != FORMAT && found != LOG_IN_SLED {
                bail!(
                    "this metadata was written in format {found}; this cairnd reads format {FORMAT}. \
                     Use the cairnd that wrote it, or start from an empty data directory"
                );
            }
            Ok(found)
        }
        None => {
            let used = db
                .tree_names()
                .iter()
                .filter(|n| n.as_ref() != b"__sled__default")
                .any(|n| db.open_tree(n).map(|t| !t.is_empty()).unwrap_or(true));
            if used {
                bail!(
                    "this metadata was written by a cairnd older than format {LOG_IN_SLED} (before access control); \
                     start from an empty data directory"
                );
            }
            meta.insert(KEY, &FORMAT.to_be_bytes())?;
            meta.flush()?;
            Ok(FORMAT)
        }
    }
}

/// Stamps [`FORMAT`] on a store [`check`] found in an older format, once the log store
/// has migrated it.
pub(crate) fn upgraded(db: &sled::Db, found: u32) -> anyhow::Result<()> {
    if found != FORMAT {
        db.open_tree(TREE_RAFT_META)?.insert(KEY, &FORMAT.to_be_bytes())?;
        db.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_new_stores_and_refuses_other_formats() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path().join("a")).open().unwrap();
        check(&db).unwrap();
        check(&db).unwrap();
        assert_eq!(db.open_tree(TREE_RAFT_META).unwrap().get(KEY).unwrap().unwrap().as_ref(), FORMAT.to_be_bytes());

        db.open_tree(TREE_RAFT_META).unwrap().insert(KEY, &LOG_IN_SLED.to_be_bytes()).unwrap();
        assert_eq!(check(&db).unwrap(), LOG_IN_SLED, "format 2 is migrated");
        upgraded(&db, LOG_IN_SLED).unwrap();
        assert_eq!(check(&db).unwrap(), FORMAT);

        db.open_tree(TREE_RAFT_META).unwrap().insert(KEY, &1u32.to_be_bytes()).unwrap();
        let e = check(&db).unwrap_err().to_string();
        assert!(e.contains("format 1") && e.contains(&format!("format {FORMAT}")), "{e}");

        let old = sled::Config::new().path(dir.path().join("b")).open().unwrap();
        old.open_tree("raft_log").unwrap().insert(b"x", b"y").unwrap();
        let e = check(&old).unwrap_err().to_string();
        assert!(e.contains("older"), "{e}");
    }
}
