//! A 3-node cluster on loopback, formed through the CLI and driven with aws-sdk-s3:
//! any node serves any object, the leader can die mid-stream without losing an
//! acknowledged write, a returning node catches up, and a node without the cluster
//! secret gets nothing.

use cairn_tests::cluster::{cairn, start_node, stderr, stdout, TestCluster};
use cairn_tests::*;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

async fn get(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = client.get_object().bucket(bucket).key(key).send().await.unwrap_or_else(|e| panic!("GET {key}: {e:?}"));
    read_body(out.body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn any_node_serves_any_object() {
    let c = TestCluster::start(3);
    let clients: Vec<_> = c.nodes.iter().map(|n| n.client()).collect();
    clients[0].create_bucket().bucket("spread").send().await.unwrap();

    let sizes = [0usize, 100, 4096, 1 << 20, 5 * (1 << 20) + 13];
    for (i, &size) in sizes.iter().enumerate() {
        let data = random_bytes(i as u64, size);
        let out = clients[1]
            .put_object()
            .bucket("spread")
            .key(format!("k{i}"))
            .body(data.clone().into())
            .send()
            .await
            .unwrap();
        assert_eq!(out.e_tag().unwrap(), etag_of(&data));
        // Read-your-write through the other two nodes: reads are linearizable.
        for reader in [&clients[2], &clients[0]] {
            assert_eq!(get(reader, "spread", &format!("k{i}")).await, data, "object of {size} bytes");
        }
    }
    let listed = clients[2].list_objects_v2().bucket("spread").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(sizes.len() as i32));

    // The large object's shards are spread over all three nodes.
    let holding = c.nodes.iter().filter(|n| n.disk_dirs().iter().any(|d| !stored_shards(d).is_empty())).count();
    assert_eq!(holding, 3, "shards should live on every node");

    // A multipart upload through one node, completed through another.
    let part = random_bytes(77, 5 << 20);
    let up = clients[2].create_multipart_upload().bucket("spread").key("mp").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let p1 = clients[2]
        .upload_part()
        .bucket("spread")
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(part.clone().into())
        .send()
        .await
        .unwrap();
    let done = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(aws_sdk_s3::types::CompletedPart::builder().part_number(1).e_tag(p1.e_tag().unwrap()).build())
        .build();
    clients[1]
        .complete_multipart_upload()
        .bucket("spread")
        .key("mp")
        .upload_id(id)
        .multipart_upload(done)
        .send()
        .await
        .unwrap();
    assert_eq!(get(&clients[0], "spread", "mp").await, part);

    // A delete through one node is seen at once by the others.
    clients[0].delete_object().bucket("spread").key("k3").send().await.unwrap();
    assert_s3_err("GET deleted", clients[1].get_object().bucket("spread").key("k3").send().await, 404, "NoSuchKey");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_kill_loses_no_acknowledged_write() {
    let mut c = TestCluster::start(3);
    let leader = c.leader(0).expect("a leader");
    let writers: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    c.nodes[writers[0]].client().create_bucket().bucket("stream").send().await.unwrap();

    // Writers through both followers; each records the keys that got a 200 and when.
    let acked: Arc<Mutex<BTreeMap<String, (u64, usize)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let first_after_kill: Arc<Mutex<Option<Duration>>> = Arc::default();
    let mut tasks = Vec::new();
    for (w, &node) in writers.iter().enumerate() {
        let client = c.nodes[node].client();
        let (acked, stop, killed_at, first) =
            (acked.clone(), stop.clone(), killed_at.clone(), first_after_kill.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 2000 {
                i += 1;
                let seed = (w as u64) << 32 | i;
                let size = [3000usize, 70_000, 600_000][(i % 3) as usize];
                let key = format!("w{w}/{i}");
                let started = Instant::now();
                let res =
                    client.put_object().bucket("stream").key(&key).body(random_bytes(seed, size).into()).send().await;
                if res.is_ok() {
                    acked.lock().unwrap().insert(key, (seed, size));
                    let k = *killed_at.lock().unwrap();
                    match k {
                        Some(k) if started > k => {
                            let mut f = first.lock().unwrap();
                            if f.is_none() {
                                *f = Some(k.elapsed());
                            }
                        }
                        _ => {}
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = acked.lock().unwrap().len();
    assert!(before > 0, "no write succeeded before the kill");
    c.nodes[leader].kill9();
    *killed_at.lock().unwrap() = Some(Instant::now());
    tokio::time::sleep(Duration::from_secs(10)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let recovered = first_after_kill.lock().unwrap().expect("no write started after the kill succeeded within 10 s");
    assert!(recovered < Duration::from_secs(10), "writes resumed only after {recovered:?}");
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > before, "no write succeeded after the kill");
    eprintln!("{} acknowledged writes; first write after the leader kill succeeded after {recovered:?}", acked.len());

    // Every acknowledged write reads back byte-exact through the survivors.
    let reader = c.nodes[writers[1]].client();
    for (key, (seed, size)) in &acked {
        assert_eq!(get(&reader, "stream", key).await, random_bytes(*seed, *size), "{key}");
    }

    // The old leader returns, catches up and serves everything, including what was
    // written while it was down.
    c.nodes[leader].restart(true);
    let back = c.nodes[leader].client();
    let deadline = Instant::now() + Duration::from_secs(30);
    let last = acked.keys().last().unwrap().clone();
    loop {
        if back.head_object().bucket("stream").key(&last).send().await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "restarted node did not catch up:\n{}", c.nodes[leader].log_tail(30));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (key, (seed, size)) in acked.iter().rev().take(30) {
        assert_eq!(get(&back, "stream", key).await, random_bytes(*seed, *size), "{key} via the restarted node");
    }
    let data = random_bytes(999, 300_000);
    back.put_object().bucket("stream").key("after-return").body(data.clone().into()).send().await.unwrap();
    assert_eq!(get(&c.nodes[writers[0]].client(), "stream", "after-return").await, data);
    c.wait_formed(Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_secret_can_neither_join_nor_read() {
    let c = TestCluster::start(1);
    let client = c.nodes[0].client();
    client.create_bucket().bucket("secret").send().await.unwrap();
    client.put_object().bucket("secret").key("k").body(random_bytes(5, 1 << 20).into()).send().await.unwrap();

    // A token carrying another secret is refused, and the node stays out.
    let forged = {
        use base64::Engine;
        let json = serde_json::json!({ "secret": "not-the-cluster-secret-at-all", "addrs": [c.node_addrs[0]] });
        format!("cairn1.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string()))
    };
    let (outsider, _) = start_node(&[]);
    let out = cairn(outsider.endpoint(), &["cluster", "join", "--token", &forged]);
    assert!(!out.status.success(), "join with a forged token succeeded");
    assert!(stderr(&out).contains("AccessDenied"), "{}", stderr(&out));
    let status = cairn(c.nodes[0].endpoint(), &["cluster", "status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["nodes"].as_array().unwrap().len(), 1, "the outsider must not be a member: {status}");
    assert_eq!(status["voters"].as_array().unwrap().len(), 1);

    // A static-peer node configured with a wrong secret cannot get in either.
    let (intruder, intruder_addr) = {
        let addr = format!("127.0.0.1:{}", cairn_tests::cluster::free_udp_port());
        let peers = format!("{},{}", c.node_addrs[0], addr);
        let node = TestNode::start_with(&[
            "--node-listen",
            &addr,
            "--peer",
            &peers,
            "--cluster-secret",
            "a-wrong-secret-of-enough-length",
        ]);
        (node, addr)
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = cairn(c.nodes[0].endpoint(), &["cluster", "status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["nodes"].as_array().unwrap().len(), 1, "{status}");
    assert!(!status.to_string().contains(&intruder_addr));
    let ready = raw_http().get(format!("{}/health/ready", intruder.endpoint())).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503, "the intruder must never see a leader");

    // And the internode endpoint serves nothing to a peer without the secret: the
    // connection is refused before any request is read. With the real secret the
    // same probe gets an answer, so the probe itself works.
    let token_json = {
        use base64::Engine;
        let body = c.token.strip_prefix("cairn1.").unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body).unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
    };
    let real = token_json["secret"].as_str().unwrap().as_bytes().to_vec();
    struct Nothing;
    #[async_trait::async_trait]
    impl cairn_node::transport::Handler for Nothing {
        async fn serve(&self, _: std::net::SocketAddr, _: cairn_node::transport::PeerStream) {}
    }
    let ping = [2u8, 0, 0, 0]; // bincode of PeerRequest::Ping
    let wrong = cairn_node::transport::Transport::bind(
        "127.0.0.1:0".parse().unwrap(),
        Some(b"a-wrong-secret-of-enough-length".to_vec()),
        Arc::new(Nothing),
    )
    .await
    .unwrap();
    let res = wrong.call(&c.node_addrs[0], &ping).await;
    assert!(
        matches!(res, Err(cairn_node::transport::TransportError::Auth { .. })),
        "a wrong secret must fail authentication: {res:?}"
    );
    let right = cairn_node::transport::Transport::bind("127.0.0.1:0".parse().unwrap(), Some(real), Arc::new(Nothing))
        .await
        .unwrap();
    let reply = right.call(&c.node_addrs[0], &ping).await.expect("the real secret is served");
    assert!(!reply.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_that_joins_late_catches_up_from_a_snapshot() {
    // A snapshot every 20 entries: the log a late node would need is purged long before
    // it joins, so only a snapshot can bring it up to date.
    let mut cluster = TestCluster::start_with(2, &["--raft-snapshot-every", "20"]);
    let c = cluster.nodes[1].client();
    c.create_bucket().bucket("snap").send().await.unwrap();
    let mut objects = Vec::new();
    for i in 0..120u64 {
        let data = random_bytes(i, if i % 10 == 0 { 300 * 1024 } else { 200 });
        let key = format!("k{i:03}");
        put_bytes(&c, "snap", &key, data.clone()).await;
        objects.push((key, data));
    }
    let (late, addr) = start_node(&["--raft-snapshot-every", "20"]);
    let out = cairn(late.endpoint(), &["cluster", "join", "--token", &cluster.token, &cluster.node_addrs[0]]);
    assert!(out.status.success(), "join: {}{}", stderr(&out), late.log_tail(20));
    cluster.nodes.push(late);
    cluster.node_addrs.push(addr);
    cluster.wait_formed(Duration::from_secs(30));

    // Reads through the new node see every earlier write (linearizable: it waits until
    // it has applied the leader's commit index).
    let back = cluster.nodes[2].client();
    for (key, data) in &objects {
        assert!(get(&back, "snap", key).await == *data, "{key} through the late node");
    }
    assert!(
        cluster.nodes[2].log_text().contains("installed snapshot"),
        "the late node caught up from a snapshot: {}",
        cluster.nodes[2].log_tail(30)
    );
    // Derived state is rebuilt after the install: exact usage through that node.
    let out = cairn(cluster.nodes[2].endpoint(), &["bucket", "info", "snap"]);
    let text = stdout(&out);
    let bytes: usize = objects.iter().map(|(_, d)| d.len()).sum();
    assert!(text.contains("objects: 120") && text.contains(&format!("bytes:   {bytes}")), "{text}{}", stderr(&out));
    // And writes through it land everywhere.
    put_bytes(&back, "snap", "after", b"x".to_vec()).await;
    assert_eq!(get(&c, "snap", "after").await, b"x");
}
