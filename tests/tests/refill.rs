//! Refilling a wiped disk while a peer is down: the first pass over the disk cannot
//! rebuild what needs the peer's shards, so the disk stays in refill and passes repeat
//! (no one runs `cairn heal`), across a restart of the node, until one leaves every
//! stripe whole once the peer is back.

use cairn_tests::cluster::{cairn, stderr, stdout, TestCluster};
use cairn_tests::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const BUCKET: &str = "refill-bkt";

/// `GET /cairn/admin/v1/heal` of the node at `endpoint`. A 503 (no quorum for the
/// read barrier for a moment, while a node restarts) is retried, as clients should.
async fn heal_status(endpoint: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = admin_request(endpoint, "GET", "heal", b"").await;
        if status == 503 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        assert_eq!(status, 200, "heal status: {body}");
        return serde_json::from_str(&body).unwrap();
    }
}

/// The refill of the disk at `path`, as the node reports it.
async fn refill_of(endpoint: &str, path: &Path) -> Option<Value> {
    let v = heal_status(endpoint).await;
    v["refill"].as_array()?.iter().find(|r| r["path"].as_str() == Some(path.to_str().unwrap())).cloned()
}

/// Polls the refill of `path` until `done` holds for it, for at most `timeout`.
async fn wait_refill(
    endpoint: &str,
    path: &Path,
    timeout: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let r = refill_of(endpoint, path).await;
        if let Some(r) = r.as_ref().filter(|r| done(r)) {
            return r.clone();
        }
        assert!(Instant::now() < deadline, "{what} within {timeout:?}: {r:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The object's health as node `endpoint` verifies it now, healing nothing.
fn object_health(endpoint: &str, key: &str) -> Value {
    let out = cairn(endpoint, &["heal", "--object", &format!("{BUCKET}/{key}"), "--dry-run", "--json"]);
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("heal --object {key}: {e}: {}{}", stdout(&out), stderr(&out)))
}

fn held(dir: &Path) -> usize {
    stored_shards(dir).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_disk_stays_in_refill_until_a_peer_down_during_it_is_back() {
    let mut cluster = TestCluster::start(3);
    let ep0 = cluster.nodes[0].endpoint().to_string();
    let c = cluster.nodes[0].client();
    create_bucket(&c, BUCKET).await;
    let mut objects = Vec::new();
    for i in 0..24 {
        let key = format!("r{i:02}");
        let data = random_bytes(300 + i, 700 * 1024);
        put_bytes(&c, BUCKET, &key, data.clone()).await;
        objects.push((key, data));
    }
    // Node 2's busiest disk is wiped while node 3 is down.
    let ep1 = cluster.nodes[1].endpoint().to_string();
    let victim: Vec<PathBuf> = cluster.nodes[1].disk_dirs();
    let wiped = victim.clone().into_iter().max_by_key(|d| held(d)).unwrap();
    let before = held(&wiped);
    assert!(before >= 8, "node 2's busiest disk holds shards: {before}");
    cluster.nodes[2].kill9();
    let down_addr = cluster.node_addrs[2].clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen_down = cluster.status(1).is_some_and(|s| {
            s["nodes"]
                .as_array()
                .is_some_and(|ns| ns.iter().any(|n| n["addr"].as_str() == Some(&down_addr) && n["online"] == false))
        });
        if seen_down {
            break;
        }
        assert!(Instant::now() < deadline, "node 2 did not see node 3 go down");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    std::fs::remove_dir_all(&wiped).unwrap();
    let wiped_at = Instant::now();

    // The first pass rebuilds what it can from nodes 1 and 2 and leaves the rest; the
    // disk stays in refill and passes again while node 3 is still down.
    let first =
        wait_refill(&ep1, &wiped, Duration::from_secs(60), "a first refill pass ended", |r| r["last"].is_object())
            .await;
    assert_ne!(first["state"], "done", "{first}");
    let left = &first["last"]["stripes"];
    let unfinished = left["degraded"].as_u64().unwrap() + left["lost"].as_u64().unwrap();
    assert!(unfinished > 0, "node 3's shards cannot be read during the first pass: {first}");
    assert!(first["last"]["heal_failures"].as_u64().unwrap() > 0, "{first}");
    assert!(wiped.join(".cairn-refill").is_file(), "the disk is marked as in refill");
    let second = wait_refill(&ep1, &wiped, Duration::from_secs(60), "a second pass while node 3 is down", |r| {
        r["passes"].as_u64() >= Some(2) && r["state"] == "retrying"
    })
    .await;
    eprintln!(
        "first pass left {} degraded and {} lost stripes; {} passes while node 3 was down",
        left["degraded"], left["lost"], second["passes"]
    );

    // Node 2 restarted meanwhile: the marker keeps the disk in refill.
    cluster.nodes[1].restart(false);
    let ep1 = cluster.nodes[1].endpoint().to_string();
    let resumed =
        wait_refill(&ep1, &wiped, Duration::from_secs(60), "the refill resumed after node 2's restart", |r| {
            r["last"].is_object()
        })
        .await;
    assert_ne!(resumed["state"], "done", "node 3 is still down: {resumed}");

    // Node 3 back: a pass soon after finishes the refill, with no heal asked for.
    cluster.nodes[2].restart(true);
    let back_at = Instant::now();
    let done = wait_refill(&ep1, &wiped, Duration::from_secs(90), "the refill finished after node 3 came back", |r| {
        r["state"] == "done"
    })
    .await;
    eprintln!(
        "refill done {:.1} s after node 3 came back, {:.1} s after the wipe, in {} passes: {}",
        back_at.elapsed().as_secs_f64(),
        wiped_at.elapsed().as_secs_f64(),
        done["passes"],
        done["last"]["stripes"]
    );
    assert!(done["passes"].as_u64().unwrap() >= 2, "a pass since the restart, and one since node 3 is back: {done}");
    let last = &done["last"];
    assert_eq!(last["state"], "done", "{done}");
    assert_eq!((last["stripes"]["degraded"].as_u64(), last["stripes"]["lost"].as_u64()), (Some(0), Some(0)), "{done}");
    assert_eq!(last["heal_failures"], 0, "{done}");
    assert!(!wiped.join(".cairn-refill").exists(), "the marker goes with the refill");
    assert_eq!(held(&wiped), before, "every shard of the wiped disk is back");
    let heal = heal_status(&ep1).await;
    assert_eq!(heal["pass"]["scope"]["disk"], done["disk"], "the refill ran as the node's heal pass: {heal}");

    // Every stripe of every object whole, as another node verifies it; then the bytes.
    for (key, _) in &objects {
        let v = object_health(&ep0, key);
        assert_eq!(v["state"], "whole", "{key}: {v}");
    }
    for (key, data) in &objects {
        assert!(get_bytes(&c, BUCKET, key).await == *data, "{key}");
    }
    let log = cluster.nodes[1].log_text();
    let retries = log.lines().filter(|l| l.contains("refill pass left stripes to rebuild")).count();
    assert!(retries >= 2, "node 2 logs each pass that left work:\n{}", cluster.nodes[1].log_tail(60));
    eprintln!("{retries} refill passes left work, over node 2's two runs");
    let metrics = raw_http().get(format!("{ep1}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|l| l == r#"cairn_pass_stripes{pass="heal",state="degraded"} 0"#), "{metrics}");
}
