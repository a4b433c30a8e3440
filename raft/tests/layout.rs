//! The cluster layout in the state machine: registration, idempotence, conflicts, and
//! that a snapshot carries it.

use cairn_raft::schema::*;
use cairn_raft::MetaStore;
use std::time::Duration;

fn node(id: u64, disks: u16, addr: &str) -> Command {
    Command::RegisterNode {
        node: NodeEntry { id, addr: addr.into(), s3_addr: format!("s3-{addr}"), disks, first_disk: 999 },
        data_shards: 2,
        parity_shards: 2,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_nodes_and_snapshot_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = MetaStore::open(dir.path(), 1).await.unwrap();
        assert_eq!(s.layout().unwrap(), ClusterLayout::default());
        assert_eq!(s.propose(node(1, 4, "a")).await.unwrap(), CommandResult::Ok);
        let l = s.layout().unwrap();
        assert_eq!((l.version, l.data_shards, l.parity_shards, l.disk_count()), (1, 2, 2, 4));
        assert_eq!(l.nodes[0].first_disk, 0, "apply assigns disk indices, ignoring the command's");

        // Same registration again: no change, no version bump.
        assert_eq!(s.propose(node(1, 4, "a")).await.unwrap(), CommandResult::Ok);
        assert_eq!(s.layout().unwrap().version, 1);
        // New address: updated in place, disks keep their indices.
        assert_eq!(s.propose(node(1, 4, "a2")).await.unwrap(), CommandResult::Ok);
        let l = s.layout().unwrap();
        assert_eq!((l.version, l.nodes[0].addr.as_str(), l.nodes[0].first_disk), (2, "a2", 0));
        // A second node's disks follow the first's; a later k+m is ignored.
        let mut other = node(7, 3, "b");
        if let Command::RegisterNode { data_shards, parity_shards, .. } = &mut other {
            (*data_shards, *parity_shards) = (4, 4);
        }
        assert_eq!(s.propose(other).await.unwrap(), CommandResult::Ok);
        let l = s.layout().unwrap();
        assert_eq!((l.version, l.disk_count(), l.nodes[1].first_disk, l.data_shards), (3, 7, 4, 2));
        // Changing a node's disk count is refused and changes nothing.
        assert!(matches!(s.propose(node(7, 5, "b")).await.unwrap(), CommandResult::LayoutConflict(_)));
        assert_eq!(s.layout().unwrap(), l);

        s.raft().trigger().snapshot().await.unwrap();
        let last = s.metrics().last_applied.unwrap().index;
        s.raft()
            .wait(Some(Duration::from_secs(10)))
            .metrics(|m| m.snapshot.is_some_and(|x| x.index >= last), "snapshot")
            .await
            .unwrap();
        s.raft().trigger().purge_log(last).await.unwrap();
        s.raft()
            .wait(Some(Duration::from_secs(10)))
            .metrics(|m| m.purged.is_some_and(|p| p.index >= last), "purged")
            .await
            .unwrap();
        s.shutdown().await.unwrap();
    }
    // The layout survives a restart with the log purged up to the snapshot.
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    let l = s.layout().unwrap();
    assert_eq!((l.version, l.nodes.len(), l.disk_count()), (3, 2, 7));
    s.shutdown().await.unwrap();
}
