//! Administrative changes as audit events, replicated with the metadata: who changed
//! access keys, bucket policies and ACLs, quotas, tenants, KMS keys or the cluster's
//! membership, and when, readable from any node in time order.
//!
//! The HTTP front gives each request an [`Actor`] cell (a task-local, [`ACTOR`]) that the
//! authorizer fills once it knows the caller; [`crate::MetaStore::propose`] wraps every
//! administrative command ([`Command::is_admin`]) proposed within that request in
//! `Command::Audited` with the actor and the time, and apply records the event in the
//! same transaction as the change, only if the change took effect.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `sm_admin_audit` | `[at: i64 BE, sign flipped][n: u32 BE]` (`n` orders events of one instant) | bincode([`AdminEvent`]) |

use crate::feed::Change;
use crate::schema::{Command, Nanos};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// Who made an administrative change, as the request's authorizer saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorInfo {
    pub access_key: String,
    pub tenant: Option<String>,
    pub node: u64,
    pub request_id: String,
}

/// The cell a request's administrative commands take their actor from.
#[derive(Clone, Default, Debug)]
pub struct Actor(Arc<Mutex<Option<ActorInfo>>>);

impl Actor {
    /// A request's cell: its node and request id known, its caller not yet.
    pub fn for_request(node: u64, request_id: &str) -> Actor {
        let info = ActorInfo { node, request_id: request_id.to_string(), ..ActorInfo::default() };
        Actor(Arc::new(Mutex::new(Some(info))))
    }

    /// The caller, once known; `None` before.
    pub fn get(&self) -> Option<ActorInfo> {
        self.0.lock().ok().and_then(|a| a.clone()).filter(|a| !a.access_key.is_empty())
    }

    fn set_caller(&self, access_key: &str, tenant: Option<String>) {
        if let Ok(mut slot) = self.0.lock() {
            let info = slot.get_or_insert_with(ActorInfo::default);
            info.access_key = access_key.to_string();
            info.tenant = tenant;
        }
    }
}

tokio::task_local! {
    /// The actor of the request this task serves, if the front set one.
    pub static ACTOR: Actor;
}

/// The actor of the current task's request, once its caller is known.
pub fn current() -> Option<ActorInfo> {
    ACTOR.try_with(|a| a.get()).ok().flatten()
}

/// Names the caller of the current request once the authorizer knows it (a no-op
/// outside a request the front scoped).
pub fn set_caller(access_key: &str, tenant: Option<String>) {
    let _ = ACTOR.try_with(|cell| cell.set_caller(access_key, tenant));
}

/// One administrative change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminEvent {
    pub at: Nanos,
    pub actor: ActorInfo,
    /// What changed, as the change feed names it.
    pub change: Change,
}

impl Command {
    /// Commands recorded as administrative audit events.
    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Command::PutAccessKey { .. }
                | Command::DeleteAccessKey { .. }
                | Command::PutAccessKeyIn { .. }
                | Command::PutBucketPolicy { .. }
                | Command::PutBucketAcl { .. }
                | Command::PutTenant { .. }
                | Command::DeleteTenant { .. }
                | Command::RegisterNode { .. }
                | Command::CreateKmsKey { .. }
                | Command::RotateKmsKey { .. }
                | Command::SetKmsKeyEnabled { .. }
        ) || matches!(self, Command::PutBucketSetting { name, .. } if name == crate::schema::SETTING_QUOTA)
    }
}

/// The key of an event at `at`, the `n`th of that instant.
pub(crate) fn event_key(at: Nanos, n: u32) -> Vec<u8> {
    let mut k = ((at as u64) ^ (1 << 63)).to_be_bytes().to_vec();
    k.extend_from_slice(&n.to_be_bytes());
    k
}

/// The first key at or after `at`.
pub(crate) fn from_key(at: Nanos) -> Vec<u8> {
    ((at as u64) ^ (1 << 63)).to_be_bytes().to_vec()
}
