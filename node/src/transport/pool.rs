//! One cached, authenticated connection per peer, shared by concurrent callers.

use super::error::TransportError;
use quinn::{Connection, VarInt};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data under these locks stays consistent even if a holder panicked.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Connections by peer (the `host:port` string callers pass).
#[derive(Default)]
pub(crate) struct Pool {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl Pool {
    pub(crate) fn slot(&self, peer: &str) -> Arc<Slot> {
        let mut slots = lock(&self.slots);
        if let Some(slot) = slots.get(peer) {
            return slot.clone();
        }
        let slot = Arc::new(Slot::default());
        slots.insert(peer.to_string(), slot.clone());
        slot
    }

    pub(crate) fn get(&self, peer: &str) -> Option<Arc<Slot>> {
        lock(&self.slots).get(peer).cloned()
    }

    /// Forgets every peer and closes their connections.
    pub(crate) fn close_all(&self, code: VarInt, reason: &[u8]) {
        let slots: Vec<Arc<Slot>> = lock(&self.slots).drain().map(|(_, slot)| slot).collect();
        for slot in slots {
            slot.close(code, reason);
        }
    }
}

/// The connection to one peer, and the serialisation of attempts to (re)connect to it.
#[derive(Default)]
pub(crate) struct Slot {
    current: Mutex<Option<Connection>>,
    /// Held while connecting; holds the error of the last failed attempt.
    connecting: tokio::sync::Mutex<Option<TransportError>>,
    /// Number of finished connection attempts.
    attempts: AtomicU64,
}

impl Slot {
    /// The cached connection, if it is still open.
    pub(crate) fn live(&self) -> Option<Connection> {
        let mut current = lock(&self.current);
        if current.as_ref().is_some_and(|c| c.close_reason().is_some()) {
            *current = None;
        }
        current.clone()
    }

    /// Drops `conn` from the cache (if it is still the cached one).
    pub(crate) fn invalidate(&self, conn: &Connection) {
        let mut current = lock(&self.current);
        if current.as_ref().is_some_and(|c| c.stable_id() == conn.stable_id()) {
            *current = None;
        }
    }

    fn close(&self, code: VarInt, reason: &[u8]) {
        if let Some(conn) = lock(&self.current).take() {
            conn.close(code, reason);
        }
    }

    /// The cached connection, or a new one made by `connect`. Only one attempt runs at a time;
    /// callers that waited for a failed attempt get its error instead of trying again, so a dead
    /// peer costs one connect timeout, not one per caller. The flag is true when this call made
    /// the connection.
    pub(crate) async fn get_or_connect<F, Fut>(&self, connect: F) -> Result<(Connection, bool), TransportError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Connection, TransportError>>,
    {
        if let Some(conn) = self.live() {
            return Ok((conn, false));
        }
        let seen = self.attempts.load(Ordering::Acquire);
        let mut last_error = self.connecting.lock().await;
        if let Some(conn) = self.live() {
            return Ok((conn, false));
        }
        if self.attempts.load(Ordering::Acquire) != seen
            && let Some(e) = last_error.as_ref()
        {
            return Err(e.clone());
        }
        let result = connect().await;
        match &result {
            Ok(conn) => {
                *lock(&self.current) = Some(conn.clone());
                *last_error = None;
            }
            Err(e) => *last_error = Some(e.clone()),
        }
        self.attempts.fetch_add(1, Ordering::Release);
        result.map(|conn| (conn, true))
    }
}
