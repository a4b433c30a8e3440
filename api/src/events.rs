//! `GET /cairn/admin/v1/events`: bucket event notification targets and their backlogs,
//! as the replicated metadata holds them, so every node answers the same.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventTargets {
    /// Every target that has had an event queued, by name.
    pub targets: Vec<EventTarget>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventTarget {
    pub name: String,
    /// Events waiting to be sent (the backlog).
    pub queued: u64,
    /// Events the target acknowledged.
    pub delivered: u64,
    /// Events dropped, oldest first, because the backlog was full.
    pub dropped: u64,
}
