//! Bucket event notifications end to end: a node with a webhook target, rules set with
//! PutBucketNotificationConfiguration (validated, read back), a workload run while the
//! receiver is down, and then every matching event received, none lost, in commit
//! order, shaped as S3 shapes event messages; the backlog seen through
//! `cairn events status` and `/metrics`.

use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Event, FilterRule, FilterRuleName, NotificationConfiguration,
    NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter, TopicConfiguration,
};
use aws_sdk_s3::Client;
use cairn_tests::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A port nothing listens on yet.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An HTTP receiver on `port` that keeps every body POSTed to it and answers 200.
fn receive_on(port: u16) -> Arc<Mutex<Vec<serde_json::Value>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let bodies = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let bodies = bodies.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut out = stream;
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = l.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                len = value.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0u8; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    bodies.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null));
                    if out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_err() {
                        return;
                    }
                }
            });
        }
    });
    got
}

fn queue(arn: &str, events: &[&str], prefix: &str, suffix: &str) -> QueueConfiguration {
    let rules = [(FilterRuleName::Prefix, prefix), (FilterRuleName::Suffix, suffix)]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| FilterRule::builder().name(n).value(v).build())
        .collect::<Vec<_>>();
    let mut q = QueueConfiguration::builder().id("media-in").queue_arn(arn);
    for e in events {
        q = q.events(Event::from(*e));
    }
    if !rules.is_empty() {
        let key = S3KeyFilter::builder().set_filter_rules(Some(rules)).build();
        q = q.filter(NotificationConfigurationFilter::builder().key(key).build());
    }
    q.build().unwrap()
}

async fn put_config(c: &Client, bucket: &str, config: NotificationConfiguration) -> Result<(), ErrInfo> {
    match c.put_bucket_notification_configuration().bucket(bucket).notification_configuration(config).send().await {
        Ok(_) => Ok(()),
        Err(e) => Err(ErrInfo::from_sdk(&e)),
    }
}

fn events_status(node: &TestNode) -> serde_json::Value {
    let out = cairn_tests::cluster::cairn(node.endpoint(), &["events", "status", "--json"]);
    assert!(out.status.success(), "{}", cairn_tests::cluster::stderr(&out));
    serde_json::from_str(&cairn_tests::cluster::stdout(&out)).unwrap()
}

const ARN: &str = "arn:aws:sqs:us-east-1:000000000000:hook";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_a_while_then_gets_every_event_in_order() {
    let port = free_port();
    let target = format!("hook=http://127.0.0.1:{port}/events");
    let node = TestNode::start_with(&["--notify-target", &target]);
    let c = node.client();
    c.create_bucket().bucket("media").send().await.unwrap();

    // Refused: an ARN that names no target, an event type S3 does not send, a topic.
    let bad = NotificationConfiguration::builder()
        .queue_configurations(queue("arn:aws:sqs:us-east-1:000000000000:nowhere", &["s3:ObjectCreated:*"], "", ""))
        .build();
    let e = put_config(&c, "media", bad).await.unwrap_err();
    assert_eq!((e.status, e.code.as_deref()), (Some(400), Some("InvalidArgument")), "{e:?}");
    let bad = NotificationConfiguration::builder().queue_configurations(queue(ARN, &["s3:Nothing:*"], "", "")).build();
    let e = put_config(&c, "media", bad).await.unwrap_err();
    assert_eq!((e.status, e.code.as_deref()), (Some(400), Some("InvalidArgument")), "{e:?}");
    let topic = TopicConfiguration::builder()
        .topic_arn("arn:aws:sns:us-east-1:000000000000:t")
        .events(Event::from("s3:ObjectCreated:*"))
        .build()
        .unwrap();
    let e = put_config(&c, "media", NotificationConfiguration::builder().topic_configurations(topic).build())
        .await
        .unwrap_err();
    assert_eq!((e.status, e.code.as_deref()), (Some(501), Some("NotImplemented")), "{e:?}");

    let config = NotificationConfiguration::builder()
        .queue_configurations(queue(ARN, &["s3:ObjectCreated:*", "s3:ObjectRemoved:*"], "in/", ".mov"))
        .build();
    put_config(&c, "media", config).await.unwrap();
    let got = c.get_bucket_notification_configuration().bucket("media").send().await.unwrap();
    let q = &got.queue_configurations()[0];
    assert_eq!((q.id(), q.queue_arn()), (Some("media-in"), ARN));
    assert_eq!(q.events().len(), 2);
    assert_eq!(q.filter().unwrap().key().unwrap().filter_rules().len(), 2);

    // The workload, with nothing listening on the target's port.
    let mut expected: Vec<(String, String)> = Vec::new();
    for i in 0..3 {
        c.put_object().bucket("media").key("in/a.mov").body(vec![i as u8; 10 + i].into()).send().await.unwrap();
        expected.push(("ObjectCreated:Put".into(), "in/a.mov".into()));
    }
    for key in ["in/b.mov", "in/c.txt", "out/d.mov", "in/long name+.mov"] {
        c.put_object().bucket("media").key(key).body(b"x".to_vec().into()).send().await.unwrap();
        if key.starts_with("in/") && key.ends_with(".mov") {
            expected.push(("ObjectCreated:Put".into(), key.into()));
        }
    }
    let up = c.create_multipart_upload().bucket("media").key("in/m.mov").send().await.unwrap();
    let id = up.upload_id().unwrap();
    let part = c.upload_part().bucket("media").key("in/m.mov").upload_id(id).part_number(1).body(b"mm".to_vec().into());
    let etag = part.send().await.unwrap().e_tag().unwrap().to_string();
    let parts = CompletedMultipartUpload::builder().parts(CompletedPart::builder().part_number(1).e_tag(etag).build());
    c.complete_multipart_upload()
        .bucket("media")
        .key("in/m.mov")
        .upload_id(id)
        .multipart_upload(parts.build())
        .send()
        .await
        .unwrap();
    expected.push(("ObjectCreated:CompleteMultipartUpload".into(), "in/m.mov".into()));
    c.delete_object().bucket("media").key("in/b.mov").send().await.unwrap();
    expected.push(("ObjectRemoved:Delete".into(), "in/b.mov".into()));
    c.delete_object().bucket("media").key("out/d.mov").send().await.unwrap();

    // The backlog holds them all while the receiver stays down for a minute (the
    // sender's retries back off to their longest pause), and writes did not wait for it.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let st = events_status(&node);
    let hook = &st["targets"][0];
    assert_eq!(hook["name"], "hook");
    assert_eq!(hook["queued"].as_u64(), Some(expected.len() as u64), "{st}");
    assert_eq!(hook["delivered"].as_u64(), Some(0), "{st}");
    let metrics = raw_http().get(format!("{}/metrics", node.endpoint())).send().await.unwrap().text().await.unwrap();
    let line = format!("cairn_events{{target=\"hook\",state=\"queued\"}} {}", expected.len());
    assert!(metrics.contains(&line), "no {line:?} in /metrics");

    // The receiver comes up: every event arrives, in commit order, shaped as S3's.
    let got = receive_on(port);
    let deadline = Instant::now() + Duration::from_secs(60);
    let records = loop {
        let records: Vec<serde_json::Value> =
            got.lock().unwrap().iter().flat_map(|m| m["Records"].as_array().cloned().unwrap_or_default()).collect();
        if records.len() >= expected.len() {
            break records;
        }
        assert!(Instant::now() < deadline, "only {} of {} events within a minute", records.len(), expected.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let seen: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            let key = url_decode(r["s3"]["object"]["key"].as_str().unwrap());
            (r["eventName"].as_str().unwrap().to_string(), key)
        })
        .collect();
    assert_eq!(seen, expected, "every matching event, once, in commit order");
    let first = &records[0];
    assert_eq!(first["eventVersion"], "2.1");
    assert_eq!(first["eventSource"], "aws:s3");
    assert_eq!(first["awsRegion"], "us-east-1");
    assert_eq!(first["s3"]["configurationId"], "media-in");
    assert_eq!(first["s3"]["bucket"]["name"], "media");
    assert_eq!(first["s3"]["bucket"]["arn"], "arn:aws:s3:::media");
    assert_eq!(first["s3"]["object"]["size"], 10);
    assert!(first["eventTime"].as_str().is_some_and(|t| t.ends_with('Z') && t.len() == 24), "{first}");
    assert!(first["s3"]["object"]["eTag"].as_str().is_some_and(|e| e.len() == 32), "{first}");
    let encoded = records.iter().find(|r| r["s3"]["object"]["key"].as_str().unwrap().starts_with("in/long")).unwrap();
    assert_eq!(encoded["s3"]["object"]["key"], "in/long%20name%2B.mov", "keys are URL-encoded as S3 encodes them");
    let sequencers: Vec<&str> = records.iter().map(|r| r["s3"]["object"]["sequencer"].as_str().unwrap()).collect();
    assert!(sequencers.windows(2).all(|w| w[0] < w[1]), "sequencers grow: {sequencers:?}");

    // Acknowledged: the backlog is empty, and nothing more comes.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = events_status(&node);
        if st["targets"][0]["queued"].as_u64() == Some(0) {
            assert_eq!(st["targets"][0]["delivered"].as_u64(), Some(expected.len() as u64), "{st}");
            break;
        }
        assert!(Instant::now() < deadline, "the backlog did not empty: {st}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let total: usize = got.lock().unwrap().iter().map(|m| m["Records"].as_array().map_or(0, |r| r.len())).sum();
    assert_eq!(total, expected.len(), "no event sent twice once acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_removals_are_lifecycle_events() {
    use aws_sdk_s3::types::{
        BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    };
    let port = free_port();
    let got = receive_on(port);
    let target = format!("hook=http://127.0.0.1:{port}/events");
    let node = TestNode::start_with(&["--notify-target", &target, "--lifecycle-day-secs", "2"]);
    let c = node.client();
    c.create_bucket().bucket("tmp").send().await.unwrap();
    let config = NotificationConfiguration::builder()
        .queue_configurations(queue(ARN, &["s3:LifecycleExpiration:*", "s3:ObjectRemoved:*"], "", ""))
        .build();
    put_config(&c, "tmp", config).await.unwrap();
    let rule = LifecycleRule::builder()
        .id("scratch")
        .filter(LifecycleRuleFilter::builder().prefix("scratch/").build())
        .status(ExpirationStatus::Enabled)
        .expiration(LifecycleExpiration::builder().days(1).build())
        .build()
        .unwrap();
    let lc = BucketLifecycleConfiguration::builder().rules(rule).build().unwrap();
    c.put_bucket_lifecycle_configuration().bucket("tmp").lifecycle_configuration(lc).send().await.unwrap();
    c.put_object().bucket("tmp").key("scratch/x").body(b"x".to_vec().into()).send().await.unwrap();
    c.put_object().bucket("tmp").key("keep/y").body(b"y".to_vec().into()).send().await.unwrap();
    c.delete_object().bucket("tmp").key("keep/y").send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let names: Vec<(String, String)> = got
            .lock()
            .unwrap()
            .iter()
            .flat_map(|m| m["Records"].as_array().cloned().unwrap_or_default())
            .map(|r| {
                (r["eventName"].as_str().unwrap().to_string(), r["s3"]["object"]["key"].as_str().unwrap().to_string())
            })
            .collect();
        let want = [
            ("ObjectRemoved:Delete".to_string(), "keep/y".to_string()),
            ("LifecycleExpiration:Delete".to_string(), "scratch/x".to_string()),
        ];
        if names.len() >= 2 {
            assert_eq!(names, want, "a request's removal, then the rule's");
            break;
        }
        assert!(Instant::now() < deadline, "events so far: {names:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backlog_outlives_the_leader() {
    use cairn_tests::cluster::TestCluster;
    let port = free_port();
    let target = format!("hook=http://127.0.0.1:{port}/events");
    let mut cluster = TestCluster::start_with(3, &["--notify-target", &target]);
    let leader = cluster.leader(0).expect("a leader");
    let other = (leader + 1) % 3;
    let c = cluster.nodes[other].client();
    c.create_bucket().bucket("media").send().await.unwrap();
    let config =
        NotificationConfiguration::builder().queue_configurations(queue(ARN, &["s3:ObjectCreated:*"], "", "")).build();
    put_config(&c, "media", config).await.unwrap();
    let keys: Vec<String> = (0..20).map(|i| format!("clip-{i:02}.mov")).collect();
    for k in &keys {
        c.put_object().bucket("media").key(k).body(b"frame".to_vec().into()).send().await.unwrap();
    }
    // Queued on every node; the leader that would send them dies before the receiver is up.
    let deadline = Instant::now() + Duration::from_secs(10);
    while events_status(&cluster.nodes[other])["targets"][0]["queued"].as_u64() != Some(20) {
        assert!(Instant::now() < deadline, "{}", events_status(&cluster.nodes[other]));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.nodes[leader].kill9();
    let got = receive_on(port);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all: Vec<String> = got
            .lock()
            .unwrap()
            .iter()
            .flat_map(|m| m["Records"].as_array().cloned().unwrap_or_default())
            .map(|r| r["s3"]["object"]["key"].as_str().unwrap().to_string())
            .collect();
        // At least once: a batch resent after a leader change may come twice.
        let mut seen: Vec<String> = Vec::new();
        for k in all {
            if !seen.contains(&k) {
                seen.push(k);
            }
        }
        if seen.len() >= keys.len() {
            assert_eq!(seen, keys, "every event, in commit order, from the next leader");
            break;
        }
        assert!(Instant::now() < deadline, "only {seen:?} within a minute");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitions_are_lifecycle_transition_events() {
    use aws_sdk_s3::types::{
        BucketLifecycleConfiguration, ExpirationStatus, LifecycleRule, LifecycleRuleFilter, Transition,
        TransitionStorageClass,
    };
    let port = free_port();
    let got = receive_on(port);
    let target = format!("hook=http://127.0.0.1:{port}/events");
    let disks = tempfile::Builder::new().prefix("cairn-notify-tiers-").tempdir().unwrap();
    let mut args: Vec<String> = Vec::new();
    for i in 1..=4 {
        args.extend(["--disk".into(), disks.path().join(format!("ssd{i}")).display().to_string()]);
    }
    for i in 1..=6 {
        let d = disks.path().join(format!("hdd{i}")).display().to_string();
        args.extend(["--disk".into(), d.clone(), "--disk-pool".into(), format!("capacity={d}")]);
    }
    args.extend(
        ["--storage-class", "COLD=4+2@capacity", "--notify-target", &target, "--lifecycle-day-secs", "2"]
            .map(String::from),
    );
    let node = TestNode::start_with(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let c = node.client();
    c.create_bucket().bucket("footage").send().await.unwrap();
    let config = NotificationConfiguration::builder()
        .queue_configurations(queue(ARN, &["s3:LifecycleTransition"], "", ""))
        .build();
    put_config(&c, "footage", config).await.unwrap();
    c.put_object().bucket("footage").key("raw/a.mov").body(random_bytes(1, 300_000).into()).send().await.unwrap();
    c.put_object().bucket("footage").key("cut/b.mov").body(random_bytes(2, 300_000).into()).send().await.unwrap();
    let rule = LifecycleRule::builder()
        .id("cold")
        .filter(LifecycleRuleFilter::builder().prefix("raw/").build())
        .status(ExpirationStatus::Enabled)
        .transitions(Transition::builder().days(1).storage_class(TransitionStorageClass::from("COLD")).build())
        .build()
        .unwrap();
    let lc = BucketLifecycleConfiguration::builder().rules(rule).build().unwrap();
    c.put_bucket_lifecycle_configuration().bucket("footage").lifecycle_configuration(lc).send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let records: Vec<serde_json::Value> =
            got.lock().unwrap().iter().flat_map(|m| m["Records"].as_array().cloned().unwrap_or_default()).collect();
        if let Some(r) = records.first() {
            assert_eq!(records.len(), 1, "one event, for the key the rule covers: {records:?}");
            assert_eq!(r["eventName"], "LifecycleTransition", "{r}");
            assert_eq!(r["eventSource"], "aws:s3", "{r}");
            assert_eq!(
                (r["s3"]["bucket"]["name"].as_str(), r["s3"]["object"]["key"].as_str()),
                (Some("footage"), Some("raw/a.mov")),
                "{r}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no transition event came\n{}", node.log_tail(30));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let head = c.head_object().bucket("footage").key("raw/a.mov").send().await.unwrap();
    assert_eq!(head.storage_class().map(|s| s.as_str()), Some("COLD"), "the event follows the move");
    // cut/b.mov never moves, so no second event comes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let n = got.lock().unwrap().iter().flat_map(|m| m["Records"].as_array().cloned().unwrap_or_default()).count();
    assert_eq!(n, 1);
}
