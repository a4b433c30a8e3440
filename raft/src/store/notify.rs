//! Reads of the notification queues (`crate::notify`) for the deliverer and the admin API.

use super::MetaStore;
use crate::error::MetaError;
use crate::notify::{event_key, state_key, QueueState, QueuedEvent, STATE_PREFIX};
use crate::tables::Table;

impl MetaStore {
    /// Target `target`'s queue state.
    pub fn event_queue(&self, target: &str) -> Result<QueueState, MetaError> {
        let Some(k) = state_key(target) else { return Ok(QueueState::default()) };
        let inner = self.inner();
        match inner.trees.tree(Table::Notify).get(k)? {
            Some(v) => Ok(bincode::deserialize(v.as_ref())?),
            None => Ok(QueueState::default()),
        }
    }

    /// Up to `limit` queued events of `target`, oldest first, with their sequence numbers.
    pub fn queued_events(&self, target: &str, limit: usize) -> Result<Vec<(u64, QueuedEvent)>, MetaError> {
        let st = self.event_queue(target)?;
        let (Some(from), Some(to)) = (event_key(target, st.first), event_key(target, st.next)) else {
            return Ok(Vec::new());
        };
        let inner = self.inner();
        let mut out = Vec::new();
        for item in inner.trees.tree(Table::Notify).range(from..to).take(limit) {
            let (k, v) = item?;
            let seq = u64::from_be_bytes(k[k.len() - 8..].try_into().expect("an 8-byte sequence number"));
            out.push((seq, bincode::deserialize(&v)?));
        }
        Ok(out)
    }

    /// Every target that has had an event queued, with its queue's state.
    pub fn event_queues(&self) -> Result<Vec<(String, QueueState)>, MetaError> {
        let inner = self.inner();
        let mut out = Vec::new();
        for item in inner.trees.tree(Table::Notify).scan_prefix(STATE_PREFIX) {
            let (k, v) = item?;
            out.push((String::from_utf8_lossy(&k[1..]).into_owned(), bincode::deserialize(v.as_ref())?));
        }
        Ok(out)
    }
}
