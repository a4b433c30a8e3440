//! [`Frozen`]: a consistent view of the data tables as of one applied index, read
//! while apply goes on, so that building a snapshot never stalls writes.
//!
//! sled has no read snapshots, so the view is kept by copy-on-write. While a view is
//! open, [`crate::tx::Tx::commit`] first records, for every data-table key it is about
//! to write for the first time since the view opened, the value the key held then
//! (its pre-image; `None` if it did not exist). The snapshot writer walks each data
//! table in key order through [`Frozen::next_batch`], which skips every key that has
//! a pre-image; any other key it meets is unchanged since the view opened. Closing
//! the view ([`Frozen::close`]) hands back the pre-images the walk did not cover.
//! Each key of the view is written exactly once:
//!
//! | key written after the view opened? | walk passed it before that write? | written from |
//! |---|---|---|
//! | no | — | the walk |
//! | yes | yes | the walk (its value then was still the view's) |
//! | yes | no | its pre-image, at close (nothing if it did not exist) |
//!
//! Recording and walking take one mutex, so "passed" is decided against the walk's
//! position at the moment of recording, and a key is always recorded before its new
//! value reaches the tree (the commit follows the record).
//!
//! Pre-images cost memory while the view is open; past [`BUDGET`] bytes apply waits
//! for the view to close ([`Frozen::over_budget`]): a stall, never unbounded memory.

use crate::error::MetaError;
use crate::tables::{Kind, TABLES};
use crate::tx::KeyValue;
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Mutex;

/// Bytes of pre-images an open view may hold before apply waits for it to close.
pub(crate) const BUDGET: usize = 64 << 20;

/// How far the walk has gone through one table.
#[derive(Clone)]
enum Walk {
    NotYet,
    /// Every key up to and including this one has been walked.
    Upto(Vec<u8>),
    Done,
}

impl Walk {
    fn passed(&self, key: &[u8]) -> bool {
        match self {
            Walk::NotYet => false,
            Walk::Upto(last) => key <= last.as_slice(),
            Walk::Done => true,
        }
    }
}

struct PreImage {
    value: Option<Vec<u8>>,
    /// The walk had passed the key when it was first written (it wrote the value).
    written: bool,
}

struct View {
    /// One per [`TABLES`] entry.
    walks: Vec<Walk>,
    pre: HashMap<(usize, Vec<u8>), PreImage>,
    bytes: usize,
}

/// The open view, if any; shared by apply and the snapshot builder.
#[derive(Default)]
pub(crate) struct Frozen {
    view: Mutex<Option<View>>,
}

impl Frozen {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<View>> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a view of the tables as they are now. Call with the apply lock held.
    pub fn open(&self) {
        *self.lock() = Some(View { walks: vec![Walk::NotYet; TABLES.len()], pre: HashMap::new(), bytes: 0 });
    }

    /// Records the pre-images of the keys about to be written to `table` (an index
    /// into [`TABLES`]); `current` reads a key's value in the tree before the commit.
    pub fn record<'k>(
        &self,
        table: usize,
        keys: impl Iterator<Item = &'k Vec<u8>>,
        current: impl Fn(&[u8]) -> Result<Option<Vec<u8>>, MetaError>,
    ) -> Result<(), MetaError> {
        if !matches!(TABLES[table].kind, Kind::Data { .. }) {
            return Ok(());
        }
        let mut guard = self.lock();
        let Some(view) = guard.as_mut() else { return Ok(()) };
        for key in keys {
            if view.pre.contains_key(&(table, key.clone())) {
                continue;
            }
            let value = current(key)?;
            view.bytes += key.len() + value.as_ref().map_or(0, Vec::len) + 48;
            let written = view.walks[table].passed(key);
            view.pre.insert((table, key.clone()), PreImage { value, written });
        }
        Ok(())
    }

    /// True when the open view holds more than [`BUDGET`] bytes of pre-images.
    pub fn over_budget(&self) -> bool {
        self.lock().as_ref().is_some_and(|v| v.bytes > BUDGET)
    }

    /// The next at most `max` keys of the view in `tree` (table index `table`) after
    /// the walk's position, advancing it; `None` once the table is done.
    ///
    /// The tree is read without the view's lock (apply takes it for every commit, and
    /// the walk runs at a low priority and may read pages from disk): a key written
    /// while the batch was read had its pre-image recorded before the write, so the
    /// batch keeps only keys with no pre-image when the lock is taken again, and those
    /// were not written since the view opened. The walk's position moves under that
    /// same lock, so a later write of a key in the batch sees it passed.
    pub fn next_batch(&self, table: usize, tree: &sled::Tree, max: usize) -> Result<Option<Vec<KeyValue>>, MetaError> {
        let from = {
            let guard = self.lock();
            let view = guard.as_ref().ok_or_else(|| MetaError::Storage("no snapshot view is open".into()))?;
            match &view.walks[table] {
                Walk::Done => return Ok(None),
                Walk::NotYet => Bound::Unbounded,
                Walk::Upto(k) => Bound::Excluded(k.clone()),
            }
        };
        let mut read = Vec::with_capacity(max);
        for item in tree.range::<Vec<u8>, _>((from, Bound::Unbounded)).take(max) {
            let (k, v) = item?;
            read.push((k.to_vec(), v.to_vec()));
        }
        let mut guard = self.lock();
        let view = guard.as_mut().ok_or_else(|| MetaError::Storage("no snapshot view is open".into()))?;
        view.walks[table] = match read.last() {
            Some((k, _)) => Walk::Upto(k.clone()),
            None => Walk::Done,
        };
        read.retain(|(k, _)| !view.pre.contains_key(&(table, k.clone())));
        Ok(Some(read))
    }

    /// Closes the view: the pre-images the walk did not write that held a value,
    /// as (table index, key, value).
    pub fn close(&self) -> Vec<(usize, Vec<u8>, Vec<u8>)> {
        let Some(view) = self.lock().take() else { return Vec::new() };
        let mut rest: Vec<_> = view
            .pre
            .into_iter()
            .filter(|(_, p)| !p.written)
            .filter_map(|((table, key), p)| p.value.map(|v| (table, key, v)))
            .collect();
        rest.sort();
        rest
    }
}

#[cfg(test)]
mod tests {
    use crate::tables::{self, Table};
    use crate::trees::SmTrees;
    use crate::tx::Tx;
    use crate::types::LogId;
    use std::collections::BTreeMap;

    type Dump = BTreeMap<(usize, Vec<u8>), Vec<u8>>;

    fn dump(t: &SmTrees) -> Dump {
        let mut out = Dump::new();
        for (table, _) in tables::data_tables() {
            for item in t.tree(table).iter() {
                let (k, v) = item.unwrap();
                out.insert((table as usize, k.to_vec()), v.to_vec());
            }
        }
        out
    }

    /// A small deterministic generator (no dependency for one test).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    /// Commits that insert, overwrite and remove keys before, at and after the walk's
    /// position, interleaved with the walk: what the walk and the close give back is
    /// exactly the tables as they were when the view opened, each key once.
    #[test]
    fn the_view_is_the_tables_when_it_opened_whatever_is_written_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let t = SmTrees::open(&db).unwrap();
        let tables = [Table::Objects, Table::Versions, Table::Buckets];
        let key = |i: u64| format!("k{i:05}").into_bytes();
        let mut rng = Lcg(7);
        let mut index = 0u64;
        let mut commit = |t: &SmTrees, rng: &mut Lcg, writes: usize| {
            let mut tx = Tx::new(t);
            for _ in 0..writes {
                let table = tables[rng.next(3) as usize];
                let k = key(rng.next(3000));
                match rng.next(3) {
                    0 => tx.remove(table, k),
                    _ => tx.set(table, k, Some(rng.next(1_000_000).to_be_bytes().to_vec())),
                }
            }
            index += 1;
            tx.commit(LogId::new(openraft::CommittedLeaderId::new(1, 0), index), None).unwrap();
        };
        for _ in 0..20 {
            commit(&t, &mut rng, 200);
        }
        for round in 0..5 {
            let expected = dump(&t);
            assert!(expected.len() > 1000, "round {round}: {} keys", expected.len());
            t.frozen.open();
            let mut got = Vec::new();
            for (table, _) in tables::data_tables() {
                loop {
                    if rng.next(2) == 0 {
                        let writes = 1 + rng.next(40) as usize;
                        commit(&t, &mut rng, writes);
                    }
                    let max = 1 + rng.next(50) as usize;
                    let Some(batch) = t.frozen.next_batch(table as usize, t.tree(table), max).unwrap() else {
                        break;
                    };
                    got.extend(batch.into_iter().map(|(k, v)| ((table as usize, k), v)));
                }
            }
            commit(&t, &mut rng, 100);
            got.extend(t.frozen.close().into_iter().map(|(table, k, v)| ((table, k), v)));
            let n = got.len();
            let got: Dump = got.into_iter().collect();
            assert_eq!(n, got.len(), "round {round}: a key was given twice");
            assert!(got == expected, "round {round}: the view differs from the tables when it opened");
            assert_ne!(dump(&t), expected, "round {round}: the writes changed the tables");
            assert!(!t.frozen.over_budget());
        }
    }

    /// The walk reads the tree without the view's lock: commits from another thread,
    /// landing at any moment of a batch, still leave the view exactly the tables as
    /// they were when it opened, each key once.
    #[test]
    fn commits_racing_the_walk_from_another_thread_do_not_show() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let t = SmTrees::open(&db).unwrap();
        fn commit(t: &SmTrees, rng: &mut Lcg, index: u64, writes: usize) {
            let mut tx = Tx::new(t);
            for _ in 0..writes {
                let table = [Table::Objects, Table::Versions][rng.next(2) as usize];
                let k = format!("k{:05}", rng.next(5000)).into_bytes();
                match rng.next(3) {
                    0 => tx.remove(table, k),
                    _ => tx.set(table, k, Some(rng.next(1_000_000).to_be_bytes().to_vec())),
                }
            }
            tx.commit(LogId::new(openraft::CommittedLeaderId::new(1, 0), index), None).unwrap();
        }
        let mut rng = Lcg(11);
        for i in 1..=30 {
            commit(&t, &mut rng, i, 300);
        }
        // Held for each commit, as apply holds its lock; the view opens under it.
        let apply = std::sync::Arc::new(std::sync::Mutex::new(30u64));
        for round in 0..3 {
            let expected = {
                let _g = apply.lock().unwrap();
                t.frozen.open();
                dump(&t)
            };
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let writer = {
                let (t, apply, stop) = (t.clone(), apply.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut rng = Lcg(100 + round);
                    let mut n = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 20 {
                        let mut index = apply.lock().unwrap();
                        *index += 1;
                        let writes = 1 + rng.next(20) as usize;
                        commit(&t, &mut rng, *index, writes);
                        n += 1;
                    }
                    n
                })
            };
            let mut got = Vec::new();
            for (table, _) in tables::data_tables() {
                while let Some(batch) = t.frozen.next_batch(table as usize, t.tree(table), 64).unwrap() {
                    got.extend(batch.into_iter().map(|(k, v)| ((table as usize, k), v)));
                }
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let commits = writer.join().unwrap();
            got.extend(t.frozen.close().into_iter().map(|(table, k, v)| ((table, k), v)));
            let n = got.len();
            let got: Dump = got.into_iter().collect();
            assert_eq!(n, got.len(), "round {round}: a key was given twice");
            assert!(
                got == expected,
                "round {round}: the view differs from the tables when it opened ({commits} commits)"
            );
            assert_ne!(dump(&t), expected, "round {round}: the writes changed the tables");
        }
    }
}
