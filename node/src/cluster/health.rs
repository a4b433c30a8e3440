//! Which peers answer right now. Placement asks before every write, so a node that
//! died gets no new shards a second or two after it stopped answering pings. The
//! prober (`mod.rs`) sets the flags and a failed remote-disk call lowers one; memory
//! only, touching nothing else.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default, Debug)]
pub struct PeerHealth {
    up: Mutex<HashMap<u64, Arc<AtomicBool>>>,
}

impl PeerHealth {
    /// The flag of `node`; a node not probed yet counts as down.
    pub fn flag(&self, node: u64) -> Arc<AtomicBool> {
        self.up.lock().unwrap_or_else(|e| e.into_inner()).entry(node).or_default().clone()
    }

    pub fn set(&self, node: u64, up: bool) {
        self.flag(node).store(up, Ordering::Relaxed);
    }

    pub fn is_up(&self, node: u64) -> bool {
        self.flag(node).load(Ordering::Relaxed)
    }
}
