//! What operators watch: /metrics, /health, request ids, and the request limit.

use aws_sdk_s3::primitives::ByteStream;
use cairn_tests::*;
use std::time::Duration;

async fn scrape(node: &TestNode) -> String {
    let resp = raw_http().get(format!("{}/metrics", node.endpoint())).send().await.expect("GET /metrics");
    assert_eq!(resp.status().as_u16(), 200, "/metrics answers unauthenticated");
    resp.text().await.expect("metrics body")
}

/// The value of the sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_move_with_traffic_and_report_raft() {
    let node = TestNode::start();
    let c = node.client();
    let before = scrape(&node).await;
    assert_eq!(sample(&before, "cairn_raft_is_leader"), Some(1.0), "{before}");
    assert!(sample(&before, "cairn_raft_term").unwrap_or(0.0) >= 1.0, "{before}");
    let applied_before = sample(&before, "cairn_raft_applied_index").expect("applied index");

    c.create_bucket().bucket("metrics").send().await.unwrap();
    for i in 0..3 {
        c.put_object()
            .bucket("metrics")
            .key(format!("k{i}"))
            .body(ByteStream::from(vec![7u8; 10_000]))
            .send()
            .await
            .unwrap();
    }
    let _ = c.get_object().bucket("metrics").key("missing").send().await;
    let got = c.get_object().bucket("metrics").key("k0").send().await.unwrap();
    assert_eq!(read_body(got.body).await.len(), 10_000);

    let after = scrape(&node).await;
    assert_eq!(sample(&after, r#"cairn_requests_total{op="PutObject",status="200"}"#), Some(3.0), "{after}");
    assert_eq!(sample(&after, r#"cairn_requests_total{op="CreateBucket",status="200"}"#), Some(1.0), "{after}");
    assert_eq!(sample(&after, r#"cairn_requests_total{op="GetObject",status="404"}"#), Some(1.0), "{after}");
    assert_eq!(sample(&after, r#"cairn_requests_total{op="GetObject",status="200"}"#), Some(1.0), "{after}");
    assert!(sample(&after, "cairn_received_bytes_total").unwrap_or(0.0) >= 30_000.0, "{after}");
    assert!(sample(&after, "cairn_sent_bytes_total").unwrap_or(0.0) >= 10_000.0, "{after}");
    assert!(
        sample(&after, r#"cairn_request_duration_seconds_count{op="PutObject"}"#) == Some(3.0),
        "latency histogram counts every PUT: {after}"
    );
    assert!(sample(&after, "cairn_raft_applied_index").expect("applied") >= applied_before + 4.0, "{after}");
    assert_eq!(sample(&after, "cairn_requests_in_flight"), Some(0.0), "{after}");
    let proposals = |t: &str| sample(t, "cairn_raft_proposal_duration_seconds_count").unwrap_or(0.0);
    assert!(proposals(&after) >= proposals(&before) + 4.0, "a bucket and 3 objects were proposed: {after}");
    assert_eq!(sample(&after, r#"cairn_bucket_objects{bucket="metrics"}"#), Some(3.0), "{after}");
    assert_eq!(sample(&after, r#"cairn_bucket_bytes{bucket="metrics"}"#), Some(30_000.0), "{after}");
    c.delete_object().bucket("metrics").key("k1").send().await.unwrap();
    let later = scrape(&node).await;
    assert_eq!(sample(&later, r#"cairn_bucket_objects{bucket="metrics"}"#), Some(2.0), "{later}");
    assert_eq!(sample(&later, r#"cairn_bucket_bytes{bucket="metrics"}"#), Some(20_000.0), "{later}");
    let disk_lines: Vec<&str> = after.lines().filter(|l| l.starts_with("cairn_disk_online{")).collect();
    assert_eq!(disk_lines.len(), 4, "{after}");
    assert!(disk_lines.iter().all(|l| l.ends_with(" 1")), "{after}");
    assert!(after.lines().any(|l| l.starts_with("cairn_disk_free_bytes{") && !l.ends_with(" 0")), "{after}");
}

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let node = TestNode::start();
    let http = raw_http();
    // Refused (unsigned), not found, and the service root: all carry an id.
    for path in ["/", "/nosuchbucket", "/nosuchbucket/key"] {
        let resp = http.get(format!("{}{path}", node.endpoint())).send().await.unwrap();
        let id = resp.headers().get("x-amz-request-id").map(|v| v.to_str().unwrap().to_string());
        assert!(id.as_ref().is_some_and(|i| i.len() == 16), "{path}: x-amz-request-id {id:?}");
    }
    let a = http.get(format!("{}/x", node.endpoint())).send().await.unwrap();
    let b = http.get(format!("{}/x", node.endpoint())).send().await.unwrap();
    assert_ne!(a.headers().get("x-amz-request-id"), b.headers().get("x-amz-request-id"), "ids are unique");
    let live = http.get(format!("{}/health/live", node.endpoint())).send().await.unwrap();
    assert_eq!(live.status().as_u16(), 200);
    let ready = http.get(format!("{}/health/ready", node.endpoint())).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
}

#[tokio::test]
async fn requests_beyond_the_limit_get_slow_down() {
    let node = TestNode::start_with(&["--max-requests", "1"]);
    let c = node.client();
    c.create_bucket().bucket("limited").send().await.unwrap();

    // Hold the only slot with an upload whose body is still being sent.
    let (tx, body) = ChannelBody::new(1_000_000);
    let streaming = node.client_builder().checksum_when_required().build();
    let held = tokio::spawn(async move {
        streaming
            .put_object()
            .bucket("limited")
            .key("held")
            .content_length(1_000_000)
            .body(ByteStream::from_body_1_x(body))
            .send()
            .await
    });
    tx.send(bytes::Bytes::from(vec![1u8; 500_000])).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!held.is_finished(), "the held upload finished early");

    let refused = raw_http().get(format!("{}/limited", node.endpoint())).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 503);
    let body = refused.text().await.unwrap();
    assert_eq!(xml_error_code(&body).as_deref(), Some("SlowDown"), "{body}");

    tx.send(bytes::Bytes::from(vec![1u8; 500_000])).unwrap();
    drop(tx);
    let done = tokio::time::timeout(Duration::from_secs(30), held).await.expect("held upload ends").expect("join");
    assert!(done.is_ok(), "held upload succeeds once its body is complete: {done:?}");
    // The slot is free again.
    let head = c.head_object().bucket("limited").key("held").send().await.unwrap();
    assert_eq!(head.content_length(), Some(1_000_000));
    let metrics = scrape(&node).await;
    assert!(sample(&metrics, "cairn_requests_rejected_total").unwrap_or(0.0) >= 1.0, "{metrics}");
}

#[tokio::test]
async fn a_stalled_body_times_out_and_frees_its_slot() {
    let node = TestNode::start_with(&["--body-timeout-secs", "1"]);
    node.client().create_bucket().bucket("stall").send().await.unwrap();

    // Half a body, then silence: the server gives up with RequestTimeout.
    let (tx, body) = ChannelBody::new(2_000_000);
    let streaming = node.client_builder().checksum_when_required().build();
    let stalled = tokio::spawn(async move {
        streaming
            .put_object()
            .bucket("stall")
            .key("half")
            .content_length(2_000_000)
            .body(ByteStream::from_body_1_x(body))
            .send()
            .await
    });
    tx.send(bytes::Bytes::from(vec![3u8; 1_000_000])).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(20), stalled).await.expect("server answered").expect("join");
    let err = expect_err("stalled upload", result);
    assert_eq!(err.status, Some(400), "{err:?}");
    assert_eq!(err.code.as_deref(), Some("RequestTimeout"), "{err:?}");
    drop(tx);

    let c = node.client();
    assert!(c.head_object().bucket("stall").key("half").send().await.is_err(), "half an object was stored");
    put_bytes(&c, "stall", "whole", vec![4u8; 1_000_000]).await;
    assert_eq!(get_bytes(&c, "stall", "whole").await.len(), 1_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_uploads_loses_no_acknowledged_object() {
    let mut node = TestNode::start();
    node.client().create_bucket().bucket("drain").send().await.unwrap();
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, u64)>::new()));
    let mut writers = Vec::new();
    for w in 0..4u64 {
        let (c, acked) = (node.client(), acked.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..10_000u64 {
                let seed = w * 100_000 + i;
                let key = format!("w{w}/{i}");
                // Sizes alternate between inline and erasure-coded objects.
                let len = if i % 2 == 0 { 3_000 } else { 300_000 };
                let put = c.put_object().bucket("drain").key(&key).body(ByteStream::from(random_bytes(seed, len)));
                match put.send().await {
                    Ok(_) => acked.lock().unwrap().push((key, seed)),
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let clean = tokio::task::block_in_place(|| node.terminate());
    assert!(clean, "cairnd did not exit within 20 s of SIGTERM");
    for w in writers {
        tokio::time::timeout(Duration::from_secs(30), w).await.expect("writer stops").expect("join");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 8, "too few uploads before SIGTERM to prove anything: {}", acked.len());

    tokio::task::block_in_place(|| node.restart(false));
    let c = node.client();
    for (key, seed) in &acked {
        let len = if key.rsplit('/').next().unwrap().parse::<u64>().unwrap() % 2 == 0 { 3_000 } else { 300_000 };
        let got = get_bytes(&c, "drain", key).await;
        assert!(got == random_bytes(*seed, len), "{key}: acknowledged object differs after SIGTERM and restart");
    }
}

#[tokio::test]
async fn ready_needs_a_leader_and_a_write_quorum_of_disks() {
    let node = TestNode::start();
    let ready = || async {
        raw_http().get(format!("{}/health/ready", node.endpoint())).send().await.unwrap().status().as_u16()
    };
    assert_eq!(ready().await, 200);
    // A disk that cannot come back: its directory replaced by a file, so the node
    // cannot format it again (an emptied directory would be reformatted and refilled).
    let break_disk = |d: &std::path::Path| {
        std::fs::remove_dir_all(d).unwrap();
        std::fs::write(d, b"not a directory").unwrap();
    };
    // 2 data + 2 parity writes need 3 disks: with one gone the node is still ready.
    break_disk(&node.disk_dirs()[0]);
    assert_eq!(ready().await, 200);
    break_disk(&node.disk_dirs()[1]);
    assert_eq!(ready().await, 503, "two of four disks gone: no write quorum");
    let live = raw_http().get(format!("{}/health/live", node.endpoint())).send().await.unwrap();
    assert_eq!(live.status().as_u16(), 200, "the process is still alive");
}

/// Logs and `cairn_requests_total` name every operation as s3s routes it, the
/// subresource operations included (a PutBucketVersioning is not a CreateBucket,
/// a GetBucketCors not a ListObjects); a request refused before routing keeps the
/// front's guess.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_are_named_as_routed() {
    let node = TestNode::start();
    let c = node.client();
    c.create_bucket().bucket("named").send().await.unwrap();
    let cors = c.get_bucket_cors().bucket("named").send().await;
    assert_s3_err("GetBucketCors of an unconfigured bucket", cors, 404, "NoSuchCORSConfiguration");
    let versioning = c.get_bucket_versioning().bucket("named").send().await.expect("GetBucketVersioning");
    assert!(versioning.status().is_none(), "a bucket never versioned has no status: {versioning:?}");
    let put = c
        .put_bucket_versioning()
        .bucket("named")
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await;
    put.expect("PutBucketVersioning");
    let after = scrape(&node).await;
    for series in [
        r#"cairn_requests_total{op="GetBucketCors",status="404"}"#,
        r#"cairn_requests_total{op="GetBucketVersioning",status="200"}"#,
        r#"cairn_requests_total{op="PutBucketVersioning",status="200"}"#,
        r#"cairn_requests_total{op="CreateBucket",status="200"}"#,
    ] {
        assert_eq!(sample(&after, series), Some(1.0), "{series} in:\n{after}");
    }
    let log = node.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("request") && l.contains("op=\"PutBucketVersioning\"") && l.contains("status=200")),
        "the request log names the operation:\n{log}"
    );
}

/// A connection that never sends a request does not hold up a shutdown: SIGTERM
/// with idle connections open (the default 60 s header timeout still running on
/// them) exits at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_is_not_held_up_by_silent_connections() {
    let mut node = TestNode::start();
    let idle: Vec<std::net::TcpStream> =
        (0..5).map(|_| std::net::TcpStream::connect(("127.0.0.1", node.port())).expect("connect")).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    assert!(node.terminate(), "cairnd did not exit within 20 s of SIGTERM");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "SIGTERM took {took:?} with silent connections open");
    drop(idle);
}
