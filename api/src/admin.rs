//! `/cairn/admin/v1/`: node information, usage, access keys and the cluster. The
//! durability endpoints (`heal`, `scrub`, `rebalance`, `gc`) are in
//! [`crate::durability`].

use serde::{Deserialize, Serialize};

/// `GET info`: what a node says about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub version: String,
    pub node_id: u64,
    pub uptime_seconds: u64,
    pub region: String,
    pub erasure: ErasureInfo,
    pub raft: RaftInfo,
    pub disks: Vec<DiskInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureInfo {
    pub data_shards: u8,
    pub parity_shards: u8,
    pub block_size: u32,
    pub inline_max: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftInfo {
    /// openraft's server state: `Leader`, `Follower`, `Candidate`, `Learner`.
    pub state: String,
    pub leader: Option<u64>,
    pub term: u64,
    pub last_log_index: Option<u64>,
    pub applied_index: Option<u64>,
    pub voters: Vec<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskInfo {
    /// The disk's global index in the cluster layout.
    pub index: u64,
    pub path: String,
    pub online: bool,
    pub total_bytes: u64,
    pub free_bytes: u64,
    /// Bytes of the disk's segment files, and of their records still in use (compaction
    /// reclaims the rest); absent for a disk without segments or on another node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_live_bytes: Option<u64>,
}

/// `GET usage[?bucket=]`: objects and bytes per bucket, exact as of a read barrier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub buckets: Vec<BucketUsage>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketUsage {
    pub bucket: String,
    /// Object versions, current and noncurrent.
    pub objects: u64,
    /// Their bytes, plus the key-name bytes of every delete marker (as S3 bills them).
    pub bytes: u64,
    #[serde(default)]
    pub delete_markers: u64,
    /// The versions and bytes by the storage class their data is kept in (delete
    /// markers are in no class).
    #[serde(default)]
    pub classes: Vec<ClassUsage>,
}

/// One storage class's share of a bucket's usage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassUsage {
    pub class: String,
    pub objects: u64,
    pub bytes: u64,
}

/// `POST keys`: a new key, optionally named, optionally an admin key. An empty
/// body is the default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub admin: bool,
}

/// One access key, as `POST keys` (with its secret, shown once), `GET keys` and
/// `GET keys/<id>` (with the buckets it owns) describe it. A reader takes a missing
/// field as empty (and shows it as such), so older and newer servers still read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyInfo {
    pub access_key_id: String,
    pub name: String,
    pub owner_id: String,
    pub admin: bool,
    pub root: bool,
    /// RFC 3339.
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<String>>,
}

/// `GET keys`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyList {
    pub keys: Vec<KeyInfo>,
}

/// `DELETE keys/<id>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDeleted {
    pub deleted: String,
}

/// `POST cluster/init`: the token other nodes join with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInit {
    pub token: String,
    pub node_id: u64,
    /// This node's internode address.
    pub addr: String,
}

/// `POST cluster/join`: the token, and the internode address of a member (the
/// token's first address when absent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub token: String,
    pub addr: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterJoined {
    pub node_id: u64,
    pub joined_via: String,
}

/// `GET cluster`: nodes, roles, Raft term and indexes, disks and health.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub node_id: u64,
    pub clustered: bool,
    pub leader: Option<u64>,
    pub state: String,
    pub term: u64,
    pub last_log_index: Option<u64>,
    pub applied_index: Option<u64>,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    pub layout: LayoutSummary,
    pub nodes: Vec<NodeStatus>,
    /// Every storage class, STANDARD first.
    #[serde(default)]
    pub storage_classes: Vec<StorageClassStatus>,
}

/// A storage class: an erasure code over a pool of disks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageClassStatus {
    pub name: String,
    pub data_shards: u8,
    pub parity_shards: u8,
    pub pool: String,
    /// Disks in the pool, and how many of them are online as this node sees them.
    pub disks: u64,
    pub disks_online: u64,
    /// Erasure sets the pool's disks make for this code (0: the class cannot place a blob).
    pub erasure_sets: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayoutSummary {
    pub version: u64,
    pub data_shards: u8,
    pub parity_shards: u8,
    pub disks: u64,
    pub erasure_sets: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub id: u64,
    pub addr: String,
    pub s3_addr: String,
    pub role: NodeRole,
    pub online: bool,
    pub disks: u16,
    pub disks_online: u64,
    pub first_disk: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    Leader,
    Voter,
    Learner,
    None,
}

impl NodeRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Leader => "leader",
            Self::Voter => "voter",
            Self::Learner => "learner",
            Self::None => "none",
        }
    }
}
