//! The change feed on a cluster of three in-process nodes (real QUIC between them,
//! real S3 endpoints, real disks in temporary directories): a subscriber on a
//! follower sees every write of a concurrent load exactly once, in commit order and
//! exactly as the leader's subscriber does; one that stops and resumes from the last
//! position it saw misses nothing and repeats nothing; and one that names a position
//! older than the node's history is told so.

use cairn_node::config::{Config, Flags};
use cairn_node::Node;
use cairn_raft::{Change, ChangeEvent, FeedError, Position, Subscription};
use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::*;
use clap::Parser;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

const WRITERS: usize = 8;
const PUTS_EACH: usize = 40;

fn free_udp_addr() -> String {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().to_string()
}

async fn start_cluster(root: &std::path::Path) -> Vec<Node> {
    // The root key every node starts with (read from the environment, as cairnd does).
    std::env::set_var("CAIRN_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY);
    std::env::set_var("CAIRN_ROOT_SECRET_KEY", ROOT_SECRET_KEY);
    let peers: Vec<String> = (0..3).map(|_| free_udp_addr()).collect();
    let mut starts = Vec::new();
    for (i, me) in peers.iter().enumerate() {
        let mut args = vec![
            "cairnd".to_string(),
            "--config".into(),
            "/dev/null".into(),
            "--data".into(),
            root.join(format!("node{i}")).display().to_string(),
            "--s3-listen".into(),
            "127.0.0.1:0".into(),
            "--node-listen".into(),
            me.clone(),
            "--cluster-secret".into(),
            "a-cluster-secret-for-the-feed-test".into(),
        ];
        for p in &peers {
            args.push("--peer".into());
            args.push(p.clone());
        }
        let cfg = Config::load(&Flags::parse_from(args)).unwrap();
        starts.push(tokio::spawn(async move { Node::start(&cfg).await.unwrap() }));
    }
    let mut nodes = Vec::new();
    for s in starts {
        nodes.push(s.await.unwrap());
    }
    nodes
}

/// Events until `done` says the collection is complete (60 s at most).
async fn collect(sub: &mut Subscription, mut done: impl FnMut(&[Arc<ChangeEvent>]) -> bool) -> Vec<Arc<ChangeEvent>> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done(&out) {
        let batch = tokio::time::timeout_at(deadline, sub.next_batch(256))
            .await
            .unwrap_or_else(|_| panic!("the feed stalled after {} events", out.len()))
            .unwrap();
        out.extend(batch);
    }
    out
}

fn puts_in(events: &[Arc<ChangeEvent>]) -> usize {
    events.iter().filter(|e| matches!(&e.change, Change::ObjectPut { bucket, .. } if bucket == "feed")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn followers_see_every_write_once_in_commit_order_and_resume_without_loss() {
    let root = tempfile::tempdir().unwrap();
    let nodes = start_cluster(root.path()).await;
    let endpoints: Vec<String> = nodes.iter().map(|n| format!("http://{}", n.s3_addr)).collect();
    let clients: Vec<_> = endpoints.iter().map(|e| ClientBuilder::new(e).build()).collect();

    // Wait until a leader is known everywhere; pick a follower.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let leader = loop {
        let leaders: BTreeSet<Option<u64>> = nodes.iter().map(|n| n.meta().metrics().current_leader).collect();
        if let (1, Some(Some(l))) = (leaders.len(), leaders.iter().next()) {
            break *l;
        }
        assert!(tokio::time::Instant::now() < deadline, "no leader: {leaders:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let follower = nodes.iter().position(|n| n.meta().node_id() != leader).unwrap();
    let leader_ix = nodes.iter().position(|n| n.meta().node_id() == leader).unwrap();
    clients[0].create_bucket().bucket("feed").send().await.expect("create bucket");

    let start = nodes[follower].meta().feed().head();
    let mut on_follower = nodes[follower].meta().feed().subscribe(Some(start)).unwrap();
    let mut resumer = nodes[follower].meta().feed().subscribe(Some(start)).unwrap();

    // A concurrent load through every node's S3 endpoint (followers forward to the leader).
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let c = clients[w % clients.len()].clone();
        writers.push(tokio::spawn(async move {
            for i in 0..PUTS_EACH {
                let body = format!("writer {w} put {i}").into_bytes();
                c.put_object()
                    .bucket("feed")
                    .key(format!("w{w}/k{i:03}"))
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    // Meanwhile the resumer reads a part, then goes away.
    let first_part = collect(&mut resumer, |ev| puts_in(ev) >= 100).await;
    let resume_at = resumer.position();
    drop(resumer);
    for w in writers {
        w.await.unwrap();
    }
    let total = WRITERS * PUTS_EACH;

    // Every write exactly once, in strictly increasing log positions.
    let seen = collect(&mut on_follower, |ev| puts_in(ev) >= total).await;
    let positions: Vec<Position> = seen.iter().map(|e| e.position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "positions out of order");
    let mut keys = BTreeSet::new();
    for e in &seen {
        if let Change::ObjectPut { bucket, key, size, .. } = &e.change {
            assert_eq!(bucket, "feed");
            assert!(*size > 0);
            assert!(keys.insert(key.clone()), "{key} delivered twice");
        }
    }
    let want: BTreeSet<String> =
        (0..WRITERS).flat_map(|w| (0..PUTS_EACH).map(move |i| format!("w{w}/k{i:03}"))).collect();
    assert_eq!(keys, want);

    // The leader produced the very same events at the very same positions.
    let mut on_leader = nodes[leader_ix].meta().feed().subscribe(Some(start)).unwrap();
    let from_leader = collect(&mut on_leader, |ev| ev.len() >= seen.len()).await;
    assert_eq!(from_leader[..seen.len()], seen[..], "the leader's feed differs from the follower's");

    // Resuming from the last position seen continues exactly where it stopped.
    let mut resumed = nodes[follower].meta().feed().subscribe(Some(resume_at)).unwrap();
    let rest = collect(&mut resumed, |ev| first_part.len() + ev.len() >= seen.len()).await;
    let joined: Vec<_> = first_part.iter().chain(rest.iter()).take(seen.len()).cloned().collect();
    assert_eq!(joined, seen, "a resumed subscriber missed or repeated events");

    // A position from before this node's history is refused, explicitly.
    let before = Position { index: 0, seq: 0 };
    match nodes[follower].meta().feed().subscribe(Some(before)) {
        Err(FeedError::Gap { oldest, .. }) => assert!(oldest > before),
        other => panic!("want a Gap, got {:?}", other.map(|s| s.position())),
    }

    for n in nodes {
        n.stop().await.unwrap();
    }
}
