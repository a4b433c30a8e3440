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
pub const FORMAT: u32 = 2;

const KEY: &[u8] = b"format";

/// Checks the format of `db`, and stamps a new (empty) store with [`FORMAT`].
pub(crate) fn check(db: &sled::Db) -> anyhow::Result<()> {
    let meta = db.open_tree(TREE_RAFT_META)?;
    match meta.get(KEY)? {
        Some(v) => {
            let found = <[u8; 4]>::try_from(v.as_ref()).map(u32::from_be_bytes).unwrap_or(0);
            if found != FORMAT {
                bail!(
                    "this metadata was written in format {found}; this cairnd reads format {FORMAT}. \
                     Use the cairnd that wrote it, or start from an empty data directory"
                );
            }
        }
        None => {
            let used = db
                .tree_names()
                .iter()
                .filter(|n| n.as_ref() != b"__sled__default")
                .any(|n| db.open_tree(n).map(|t| !t.is_empty()).unwrap_or(true));
            if used {
                bail!(
                    "this metadata was written by a cairnd older than format {FORMAT} (before access control); \
                     start from an empty data directory"
                );
            }
            meta.insert(KEY, &FORMAT.to_be_bytes())?;
            meta.flush()?;
        }
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

        db.open_tree(TREE_RAFT_META).unwrap().insert(KEY, &1u32.to_be_bytes()).unwrap();
        let e = check(&db).unwrap_err().to_string();
        assert!(e.contains("format 1") && e.contains(&format!("format {FORMAT}")), "{e}");

        let old = sled::Config::new().path(dir.path().join("b")).open().unwrap();
        old.open_tree("raft_log").unwrap().insert(b"x", b"y").unwrap();
        let e = check(&old).unwrap_err().to_string();
        assert!(e.contains("older"), "{e}");
    }
}
