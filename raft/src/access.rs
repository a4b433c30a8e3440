//! Reads of object versions, counted for tiering by access: each node counts the GETs
//! it serves and commits them in coarse batches (`Command::RecordReads`, never a Raft
//! write per GET); apply adds them to the version's attribute [`ATTR_ACCESS`], which
//! goes with the version. The record keeps the last read and the reads of each of the
//! last [`DAYS_KEPT`] days, so a rule can ask "read M times in the last N days".

use crate::schema::Nanos;
use serde::{Deserialize, Serialize};

/// The version attribute holding its [`AccessRecord`] (bincode).
pub const ATTR_ACCESS: &str = "access";
/// Days of read counts a record keeps.
pub const DAYS_KEPT: i64 = 31;

/// Reads of one version served by one node since its last flush.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadCount {
    pub bucket: String,
    pub key: String,
    /// `None`: the null version.
    pub version_id: Option<String>,
    pub reads: u32,
    /// When the last of them was served.
    pub last: Nanos,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    pub last_read: Nanos,
    /// (day number, reads that day), oldest first, at most [`DAYS_KEPT`] days.
    pub days: Vec<(i64, u32)>,
}

impl AccessRecord {
    /// Adds `reads` served on day `today` (days of `day` nanoseconds since the epoch),
    /// the last at `last`; drops days older than [`DAYS_KEPT`].
    pub fn add(&mut self, reads: u32, last: Nanos, today: i64) {
        self.last_read = self.last_read.max(last);
        match self.days.last_mut() {
            Some((d, n)) if *d == today => *n = n.saturating_add(reads),
            _ => self.days.push((today, reads)),
        }
        self.days.retain(|(d, _)| today - *d < DAYS_KEPT);
    }

    /// Reads on the `days` days up to and including `today`.
    pub fn reads_within(&self, today: i64, days: u32) -> u64 {
        self.days.iter().filter(|(d, _)| today - *d < i64::from(days)).map(|(_, n)| u64::from(*n)).sum()
    }
}

/// The day number of `at` for days of `day` nanoseconds.
pub fn day_of(at: Nanos, day: Nanos) -> i64 {
    at.div_euclid(day.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_day_and_forgets_old_days() {
        let mut r = AccessRecord::default();
        r.add(2, 10, 100);
        r.add(1, 30, 100);
        r.add(4, 20, 103);
        assert_eq!(r.last_read, 30);
        assert_eq!(r.days, vec![(100, 3), (103, 4)]);
        assert_eq!(r.reads_within(103, 1), 4);
        assert_eq!(r.reads_within(103, 4), 7);
        r.add(1, 40, 100 + DAYS_KEPT);
        assert_eq!(r.days, vec![(103, 4), (100 + DAYS_KEPT, 1)]);
        assert_eq!(day_of(5 * 86_400, 86_400), 5);
    }
}
