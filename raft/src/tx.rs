//! [`Tx`]: the pending writes of the entries being applied, over the trees.
//!
//! Apply evaluates commands against an in-memory overlay on top of the trees, so a
//! command sees the effects of earlier commands of the same batch; [`Tx::commit`]
//! then writes the overlay and `last_applied` (and the membership, when it changed)
//! in one sled transaction over exactly the tables the batch touched. Reads through a
//! `Tx` see the overlay first; nothing reaches sled before the commit. While a
//! snapshot is being built, the commit first hands the values it replaces to the
//! snapshot's view ([`crate::frozen`]).

use crate::error::MetaError;
use crate::keys::*;
use crate::tables::{Table, TABLES};
use crate::trees::SmTrees;
use crate::types::{LogId, StoredMembership};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::collections::BTreeMap;
use std::ops::Bound;

/// A key and its value.
pub(crate) type KeyValue = (Vec<u8>, Vec<u8>);

/// Pending writes of one table: `None` is a removal.
type Pending = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// One undoable write: the table, the key, and what the overlay held for it before.
type UndoEntry = (usize, Vec<u8>, Option<Option<Vec<u8>>>);

pub(crate) struct Tx<'a> {
    t: &'a SmTrees,
    ov: Vec<Pending>,
    /// Approximate bytes held by the overlay.
    pub bytes: usize,
    /// The log position of the command being applied (index, place in the entry):
    /// what version stamps are made from.
    pub at: (u64, u32),
    /// While a command that may be refused after its effects runs (a quota check):
    /// what each write replaced in the overlay, to undo them.
    undo: Option<Vec<UndoEntry>>,
    /// What the command being applied added to each quota pool (bytes, objects), in
    /// the order the pools were first charged.
    pub charges: Vec<(crate::schema::Pool, i128, i64)>,
    /// The tenants whose limits or thresholds the command being applied changed, as
    /// they were before it (for the warnings a new limit crosses).
    pub retuned: Vec<crate::schema::Tenant>,
}

/// `(start, end)` bounds covering every key that starts with `prefix`.
pub(crate) fn prefix_range(prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let end = match prefix_end(prefix) {
        Some(e) => Bound::Excluded(e),
        None => Bound::Unbounded,
    };
    (Bound::Included(prefix.to_vec()), end)
}

impl<'a> Tx<'a> {
    pub fn new(t: &'a SmTrees) -> Tx<'a> {
        Tx {
            t,
            ov: TABLES.iter().map(|_| Pending::new()).collect(),
            bytes: 0,
            at: (0, 0),
            undo: None,
            charges: Vec::new(),
            retuned: Vec::new(),
        }
    }

    /// Starts a command that may be undone: its writes are recorded from here.
    pub fn begin_undoable(&mut self) {
        self.undo = Some(Vec::new());
        self.charges.clear();
    }

    /// Keeps what the command since [`Tx::begin_undoable`] wrote; its charges stay
    /// readable until the next command begins.
    pub fn keep(&mut self) {
        self.undo = None;
    }

    /// Takes back every write since [`Tx::begin_undoable`].
    pub fn undo(&mut self) {
        for (table, key, before) in self.undo.take().unwrap_or_default().into_iter().rev() {
            match before {
                Some(v) => self.ov[table].insert(key, v),
                None => self.ov[table].remove(&key),
            };
        }
        self.charges.clear();
    }

    /// The value under `key`, overlay first.
    pub fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, MetaError> {
        match self.ov[table as usize].get(key) {
            Some(v) => Ok(v.clone()),
            None => Ok(self.t.tree(table).get(key)?.map(|v| v.to_vec())),
        }
    }

    /// The record under `key`, decoded.
    pub fn read<T: DeserializeOwned>(&self, table: Table, key: &[u8]) -> Result<Option<T>, MetaError> {
        match self.get(table, key)? {
            Some(v) => Ok(Some(bincode::deserialize(&v)?)),
            None => Ok(None),
        }
    }

    /// Stores `value` (None removes the key).
    pub fn set(&mut self, table: Table, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.bytes += key.len() + value.as_ref().map_or(0, |v| v.len()) + 32;
        if let Some(undo) = &mut self.undo {
            undo.push((table as usize, key.clone(), self.ov[table as usize].get(&key).cloned()));
        }
        self.ov[table as usize].insert(key, value);
    }

    /// Stores a record, encoded.
    pub fn write<T: Serialize>(&mut self, table: Table, key: Vec<u8>, value: &T) -> Result<(), MetaError> {
        let v = bincode::serialize(value)?;
        self.set(table, key, Some(v));
        Ok(())
    }

    pub fn remove(&mut self, table: Table, key: Vec<u8>) {
        self.set(table, key, None);
    }

    /// True if a key starting with `prefix` exists.
    pub fn has_prefix(&self, table: Table, prefix: &[u8]) -> Result<bool, MetaError> {
        let range = prefix_range(prefix);
        let ov = &self.ov[table as usize];
        if ov.range(range.clone()).any(|(_, v)| v.is_some()) {
            return Ok(true);
        }
        for item in self.t.tree(table).range(range) {
            let (k, _) = item?;
            match ov.get(k.as_ref()) {
                Some(None) => continue,
                _ => return Ok(true),
            }
        }
        Ok(false)
    }

    /// Every key and value starting with `prefix`, overlay applied, in key order.
    pub fn scan_prefix(&self, table: Table, prefix: &[u8]) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, MetaError> {
        self.scan(table, prefix_range(prefix))
    }

    /// Every key and value from `start` (included) to `end` (excluded), overlay
    /// applied, in key order.
    pub fn scan_range(&self, table: Table, start: &[u8], end: &[u8]) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, MetaError> {
        self.scan(table, (Bound::Included(start.to_vec()), Bound::Excluded(end.to_vec())))
    }

    /// The first `n` keys and values from `start` (included) to `end` (excluded),
    /// overlay applied, in key order, reading no further than it needs.
    pub fn first_in_range(&self, table: Table, start: &[u8], end: &[u8], n: usize) -> Result<Vec<KeyValue>, MetaError> {
        let ov = &self.ov[table as usize];
        let mut pending = ov.range(start.to_vec()..end.to_vec()).peekable();
        let mut stored = self.t.tree(table).range(start..end).peekable();
        let mut out = Vec::new();
        while out.len() < n {
            let next_stored = match stored.peek() {
                Some(Ok((k, _))) => Some(k.to_vec()),
                Some(Err(_)) => return Err(stored.next().expect("peeked").expect_err("peeked an error").into()),
                None => None,
            };
            let take_pending = match (pending.peek(), &next_stored) {
                (Some((pk, _)), Some(sk)) => pk.as_slice() <= sk.as_slice(),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_pending {
                let (pk, pv) = pending.next().expect("peeked");
                if next_stored.as_deref() == Some(pk.as_slice()) {
                    stored.next();
                }
                if let Some(v) = pv {
                    out.push((pk.clone(), v.clone()));
                }
            } else {
                let (k, v) = stored.next().expect("peeked")?;
                out.push((k.to_vec(), v.to_vec()));
            }
        }
        Ok(out)
    }

    fn scan(
        &self,
        table: Table,
        range: (Bound<Vec<u8>>, Bound<Vec<u8>>),
    ) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, MetaError> {
        let mut merged = BTreeMap::new();
        for item in self.t.tree(table).range(range.clone()) {
            let (k, v) = item?;
            merged.insert(k.to_vec(), v.to_vec());
        }
        for (k, v) in self.ov[table as usize].range(range) {
            match v {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        Ok(merged)
    }

    /// Writes the overlay, `last_applied` and (if changed) the membership atomically,
    /// and starts an empty overlay.
    pub fn commit(&mut self, last_applied: LogId, membership: Option<&StoredMembership>) -> Result<(), MetaError> {
        let ov = std::mem::replace(&mut self.ov, TABLES.iter().map(|_| Pending::new()).collect());
        self.bytes = 0;
        let mut trees = Vec::new();
        let mut batches = Vec::new();
        for (i, pending) in ov.iter().enumerate() {
            if pending.is_empty() {
                continue;
            }
            let tree = &self.t.all()[i];
            self.t.frozen.record(i, pending.keys(), |k| Ok(tree.get(k)?.map(|v| v.to_vec())))?;
            let mut b = sled::Batch::default();
            for (k, v) in pending {
                match v {
                    Some(v) => b.insert(k.as_slice(), v.as_slice()),
                    None => b.remove(k.as_slice()),
                }
            }
            trees.push(self.t.all()[i].clone());
            batches.push(b);
        }
        let mut mb = sled::Batch::default();
        mb.insert(SM_LAST_APPLIED, bincode::serialize(&Some(last_applied))?);
        if let Some(m) = membership {
            mb.insert(SM_MEMBERSHIP, bincode::serialize(m)?);
        }
        trees.push(self.t.meta.clone());
        batches.push(mb);
        trees
            .as_slice()
            .transaction(|views| {
                for (view, batch) in views.iter().zip(&batches) {
                    view.apply_batch(batch)?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e: TransactionError<()>| MetaError::Storage(format!("apply transaction: {e:?}")))
    }
}
