//! The audit log end to end: a mixed workload (owner writes, a denied reader, an
//! anonymous read, a read a policy statement allows, a bad signature, an admin call)
//! whose every request appears exactly once in the node's audit files with the
//! decision and the rule that made it, and no secret, signature or object data in
//! any record; and a webhook collector that is down for a while and then receives
//! every record, once.

use aws_sdk_s3::primitives::ByteStream;
use cairn_tests::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn records(data: &Path) -> Vec<serde_json::Value> {
    let mut files: Vec<_> = std::fs::read_dir(data.join("audit"))
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "jsonl")).collect())
        .unwrap_or_default();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            out.push(serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: {e}: {line}", f.display())));
        }
    }
    out
}

fn audit_text(data: &Path) -> String {
    records(data).iter().map(|r| r.to_string()).collect::<Vec<_>>().join("\n")
}

/// Waits until the audit files hold at least `n` records.
async fn wait_records(data: &Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = records(data);
        if r.len() >= n || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn find<'a>(recs: &'a [serde_json::Value], op: &str, key: &str) -> Vec<&'a serde_json::Value> {
    recs.iter().filter(|r| r["operation"] == op && r["key"] == key).collect()
}

#[track_caller]
fn one<'a>(recs: &'a [serde_json::Value], op: &str, key: &str) -> &'a serde_json::Value {
    let found = find(recs, op, key);
    assert_eq!(found.len(), 1, "{op} {key}: {found:?}");
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_audited_once_with_its_decision_and_no_secret() {
    let node = TestNode::start();
    let c = node.client();
    let mut sent = 0;
    c.create_bucket().bucket("aud").send().await.unwrap();
    sent += 1;
    let marker = b"AUDIT-MUST-NOT-HOLD-OBJECT-DATA";
    let body: Vec<u8> = marker.iter().copied().cycle().take(5000).collect();
    for i in 0..20 {
        c.put_object().bucket("aud").key(format!("w-{i}")).body(ByteStream::from(body.clone())).send().await.unwrap();
        sent += 1;
    }
    let (status, made) = node.admin("POST", "keys", br#"{"name":"reader"}"#).await;
    sent += 1;
    assert_eq!(status, 200, "{made}");
    let made: serde_json::Value = serde_json::from_str(&made).unwrap();
    let (reader_id, reader_secret) =
        (made["access_key_id"].as_str().unwrap().to_string(), made["secret_access_key"].as_str().unwrap().to_string());
    let reader = ClientBuilder::new(node.endpoint()).credentials(&reader_id, &reader_secret).build();

    assert_status_err("reader GET before the policy", reader.get_object().bucket("aud").key("w-1").send().await, 403);
    sent += 1;
    let anon = raw_http().get(format!("{}/aud/w-2", node.endpoint())).send().await.unwrap();
    sent += 1;
    assert_eq!(anon.status().as_u16(), 403);
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"LetReaderRead","Effect":"Allow","Principal":{{"AWS":["{reader_id}"]}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::aud/*"}}]}}"#
    );
    c.put_bucket_policy().bucket("aud").policy(policy).send().await.unwrap();
    sent += 1;
    let got = reader.get_object().bucket("aud").key("w-3").send().await.unwrap();
    sent += 1;
    assert_eq!(read_body(got.body).await.len(), 5000);
    let forged = ClientBuilder::new(node.endpoint()).credentials(&reader_id, "not-the-secret").build();
    assert_status_err("a bad signature", forged.get_object().bucket("aud").key("w-4").send().await, 403);
    sent += 1;
    assert_status_err("HEAD of a missing key", c.head_object().bucket("aud").key("missing").send().await, 404);
    sent += 1;

    let recs = wait_records(node.data_dir(), sent).await;
    let ids: Vec<&str> = recs.iter().map(|r| r["request_id"].as_str().unwrap()).collect();
    let mut seen = HashMap::new();
    for id in &ids {
        *seen.entry(*id).or_insert(0) += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "a request id twice: {seen:?}");
    assert_eq!(recs.len(), sent, "one record per request: {recs:#?}");
    for r in &recs {
        assert_eq!(r["node"], 1);
        assert_eq!(r["source"], "127.0.0.1");
        assert!(r["time"].as_str().unwrap().starts_with("20"), "{r}");
    }

    let create = recs.iter().find(|r| r["operation"] == "CreateBucket").unwrap();
    assert_eq!(
        (&create["decision"], &create["rule"], &create["status"]),
        (&"allow".into(), &"signed".into(), &200.into())
    );
    assert_eq!(create["access_key"], ROOT_ACCESS_KEY);
    for i in 0..20 {
        let r = one(&recs, "PutObject", &format!("w-{i}"));
        assert_eq!((&r["decision"], &r["rule"], &r["status"]), (&"allow".into(), &"owner".into(), &200.into()), "{r}");
        assert_eq!(r["bucket"], "aud");
        assert_eq!(r["bytes_in"], 5000);
    }
    let admin = recs.iter().find(|r| r["operation"] == "cairn:POST /cairn/admin/v1/keys").unwrap();
    assert_eq!((&admin["decision"], &admin["rule"]), (&"allow".into(), &"admin-key".into()), "{admin}");
    let denied = one(&recs, "GetObject", "w-1");
    assert_eq!(denied["access_key"], reader_id.as_str());
    assert_eq!(
        (&denied["decision"], &denied["rule"], &denied["status"]),
        (&"deny".into(), &"implicit-deny".into(), &403.into())
    );
    let anon = one(&recs, "GetObject", "w-2");
    assert_eq!((&anon["anonymous"], &anon["decision"], &anon["status"]), (&true.into(), &"deny".into(), &403.into()));
    assert!(anon.get("access_key").is_none(), "{anon}");
    let policy = recs.iter().find(|r| r["operation"] == "PutBucketPolicy").unwrap();
    assert_eq!(policy["rule"], "owner");
    let allowed = one(&recs, "GetObject", "w-3");
    assert_eq!(
        (&allowed["decision"], &allowed["rule"]),
        (&"allow".into(), &"policy:LetReaderRead".into()),
        "{allowed}"
    );
    assert_eq!(allowed["bytes_out"], 5000);
    let forged = one(&recs, "GetObject", "w-4");
    assert_eq!(
        (&forged["decision"], &forged["rule"], &forged["status"]),
        (&"deny".into(), &"authentication".into(), &403.into())
    );
    let missing = one(&recs, "HeadObject", "missing");
    assert_eq!((&missing["decision"], &missing["status"]), (&"allow".into(), &404.into()));

    // The administrative changes among them, from the replicated metadata: who and when.
    let out = cairn_tests::cluster::cairn(node.endpoint(), &["audit", "--since", "1h", "--json"]);
    assert!(out.status.success(), "{}", cairn_tests::cluster::stderr(&out));
    let admin: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = admin["events"].as_array().unwrap();
    let kinds: Vec<String> =
        events.iter().map(|e| e["change"].as_object().unwrap().keys().next().unwrap().clone()).collect();
    assert!(kinds.contains(&"AccessKeyPut".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"BucketPolicySet".to_string()), "{kinds:?}");
    assert!(!kinds.iter().any(|k| k.starts_with("Object")), "objects are not administrative: {kinds:?}");
    for e in events {
        assert_eq!(e["access_key"], ROOT_ACCESS_KEY, "{e}");
        assert_eq!(e["node"], 1);
    }
    let key_event = events.iter().find(|e| e["change"]["AccessKeyPut"].is_object()).unwrap();
    assert_eq!(key_event["change"]["AccessKeyPut"]["access_key_id"], reader_id.as_str());
    // Its request id is the one the request's own record has.
    let key_record = recs.iter().find(|r| r["operation"] == "cairn:POST /cairn/admin/v1/keys").unwrap();
    assert_eq!(key_event["request_id"], key_record["request_id"]);
    let later = cairn_tests::cluster::cairn(node.endpoint(), &["audit", "--since", "2099-01-01T00:00:00Z", "--json"]);
    let later: serde_json::Value = serde_json::from_slice(&later.stdout).unwrap();
    assert!(later["events"].as_array().unwrap().is_empty(), "--since filters");

    let text = audit_text(node.data_dir());
    for secret in [ROOT_SECRET_KEY, reader_secret.as_str(), "not-the-secret"] {
        assert!(!text.contains(secret), "a secret in the audit records");
    }
    for never in ["Signature", "AWS4-HMAC-SHA256", std::str::from_utf8(marker).unwrap()] {
        assert!(!text.contains(never), "{never} in the audit records");
    }
}

/// A collector on loopback: answers 503 while `down`, else stores every body.
struct Collector {
    port: u16,
    down: Arc<Mutex<bool>>,
    bodies: Arc<Mutex<Vec<String>>>,
    posts: Arc<Mutex<usize>>,
}

impl Collector {
    async fn start() -> Collector {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(Mutex::new(true));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let posts = Arc::new(Mutex::new(0));
        let (d, b, p) = (down.clone(), bodies.clone(), posts.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else { return };
                let (d, b, p) = (d.clone(), b.clone(), p.clone());
                tokio::spawn(async move {
                    loop {
                        // One request: the head, then Content-Length bytes.
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 65536];
                        let head_end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        while buf.len() < head_end + len {
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        *p.lock().unwrap() += 1;
                        let answer: &[u8] = if *d.lock().unwrap() {
                            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"
                        } else {
                            b.lock()
                                .unwrap()
                                .push(String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned());
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
                        };
                        if s.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Collector { port, down, bodies, posts }
    }

    fn received(&self) -> Vec<serde_json::Value> {
        let bodies = self.bodies.lock().unwrap();
        bodies.iter().flat_map(|b| b.lines().map(|l| serde_json::from_str(l).unwrap()).collect::<Vec<_>>()).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_down_for_a_while_then_receives_every_record_once() {
    let collector = Collector::start().await;
    let url = format!("http://127.0.0.1:{}/audit", collector.port);
    let mut node = TestNode::start_with(&["--audit-webhook", &url, "--audit-webhook-batch", "50"]);
    let c = node.client();
    c.create_bucket().bucket("hook").send().await.unwrap();
    for i in 0..150 {
        c.put_object().bucket("hook").key(format!("k-{i}")).body(ByteStream::from_static(b"x")).send().await.unwrap();
    }
    // Down: every POST fails, nothing is lost, and it keeps trying.
    let deadline = Instant::now() + Duration::from_secs(20);
    while *collector.posts.lock().unwrap() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(*collector.posts.lock().unwrap() >= 3, "the node retries while the collector is down");
    assert!(collector.received().is_empty());
    let metrics = raw_http().get(format!("{}/metrics", node.endpoint())).send().await.unwrap().text().await.unwrap();
    let backlog = metrics
        .lines()
        .find(|l| l.starts_with("cairn_audit{state=\"webhook_backlog\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(backlog >= 151, "the backlog is shown: {backlog}");
    // A restart while it is down: the position is on disk, and the files are the queue.
    node.restart(false);
    let c = node.client();
    for i in 150..200 {
        c.put_object().bucket("hook").key(format!("k-{i}")).body(ByteStream::from_static(b"x")).send().await.unwrap();
    }
    *collector.down.lock().unwrap() = false;
    let want = 201;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = collector.received();
        let puts = got.iter().filter(|r| r["operation"] == "PutObject").count();
        if puts >= 200 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let got = collector.received();
    let mut ids = HashMap::new();
    for r in &got {
        *ids.entry(r["request_id"].as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    assert!(ids.values().all(|n| *n == 1), "a record delivered twice");
    for i in 0..200 {
        let n = got.iter().filter(|r| r["operation"] == "PutObject" && r["key"] == format!("k-{i}")).count();
        assert_eq!(n, 1, "PutObject k-{i} delivered {n} times");
    }
    assert!(got.len() >= want, "{} records delivered", got.len());
    // What the files hold is what the collector got.
    let delivered: Vec<&serde_json::Value> = got.iter().map(|r| &r["request_id"]).collect();
    for rec in records(node.data_dir()) {
        // Records of the requests still being answered right now may not be sent yet.
        if !delivered.contains(&&rec["request_id"]) {
            assert_ne!(rec["operation"], "PutObject", "a PutObject never delivered: {rec}");
        }
    }
}
