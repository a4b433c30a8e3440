//! `<data>/cluster.json`: who this node is in which cluster. Written before the node
//! acts on it (fsync + rename), read at every start. Touches that file only.

use crate::config::Config;
use anyhow::{Context, bail};
use cairn_raft::Bootstrap;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

const FILE: &str = "cluster.json";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterState {
    /// Raft node id.
    pub node_id: u64,
    /// The cluster secret (hex or as configured); None until `cluster init` or `join`.
    pub secret: Option<String>,
    /// Metadata directory under the data dir; a joining node starts a fresh one.
    pub meta_dir: String,
    /// Part of a cluster (initialized, joined or static): the Raft group is never
    /// re-initialized by this node as a lone voter.
    pub member: bool,
}

impl ClusterState {
    /// A node that has never been part of a cluster.
    pub fn lone() -> Self {
        ClusterState { node_id: 1, secret: None, meta_dir: "meta".into(), member: false }
    }

    /// The state this node starts in: given by the static peer list when the config
    /// has one, else as `cluster.json` says, else a node that has never been part of a
    /// cluster.
    pub fn at_start(cfg: &Config) -> anyhow::Result<ClusterState> {
        if cfg.peers.is_empty() {
            Ok(Self::load(&cfg.data)?.unwrap_or_else(Self::lone))
        } else {
            let secret = cfg.cluster_secret.as_deref().unwrap_or_default();
            Self::for_static(&cfg.data, &cfg.peers, &cfg.advertise_addr(), secret)
        }
    }

    /// How the metadata store starts: the first node of a static cluster initializes
    /// the group with every peer as a voter; the other peers, and a node that became a
    /// member, never initialize one but take part in the existing group; a lone node
    /// forms a group of one.
    pub fn bootstrap(&self, peers: &[String]) -> Bootstrap {
        if !peers.is_empty() {
            if self.node_id == 1 {
                let members = peers.iter().enumerate().map(|(i, a)| (i as u64 + 1, a.clone())).collect();
                Bootstrap::Members(members)
            } else {
                Bootstrap::Join
            }
        } else if self.member {
            Bootstrap::Join
        } else {
            Bootstrap::SingleNode
        }
    }

    pub fn load(data: &Path) -> anyhow::Result<Option<ClusterState>> {
        let path = data.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                Ok(Some(serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, data: &Path) -> anyhow::Result<()> {
        let tmp = data.join(format!("{FILE}.tmp"));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(&serde_json::to_vec_pretty(self)?)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, data.join(FILE))?;
        std::fs::File::open(data)?.sync_all()?;
        Ok(())
    }

    /// The state for a node of a static cluster: node ids are positions in `peers` (from 1).
    pub fn for_static(data: &Path, peers: &[String], me: &str, secret: &str) -> anyhow::Result<ClusterState> {
        let Some(pos) = peers.iter().position(|p| p == me) else {
            bail!("peers does not list this node's address {me}");
        };
        let want = ClusterState {
            node_id: pos as u64 + 1,
            secret: Some(secret.to_string()),
            meta_dir: "meta".into(),
            member: true,
        };
        match Self::load(data)? {
            Some(s) if s.node_id != want.node_id || s.meta_dir != want.meta_dir => bail!(
                "this data directory belongs to node {} of another cluster set-up; peers would make it node {}",
                s.node_id,
                want.node_id
            ),
            Some(s) if s == want => Ok(s),
            _ => {
                want.save(data)?;
                Ok(want)
            }
        }
    }
}
