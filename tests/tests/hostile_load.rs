//! Hostile load against the HTTP front (node/src/server.rs, s3api/src/gate/): browser-form
//! POSTs refused before their body is read, the idle timeout on every request body, the
//! share of request slots anonymous callers may take, refused requests in the log, and
//! connections that never send a request.
//!
//! Every hostile request is written by hand over a loopback TCP socket, so the test decides
//! exactly which bytes the server gets and when; every wait is bounded.

use std::time::{Duration, Instant, SystemTime};

use cairn_tests::aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use cairn_tests::*;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `--body-timeout-secs` of the nodes below (also their header read timeout).
const BODY_TIMEOUT: Duration = Duration::from_secs(2);
/// How late after the idle timeout a RequestTimeout may come.
const SLACK: Duration = Duration::from_secs(3);

fn small_node() -> TestNode {
    TestNode::start_with(&["--max-requests", "16", "--body-timeout-secs", "2"])
}

// ---------------------------------------------------------------------------
// Raw HTTP/1.1 over TCP
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Read one HTTP/1.1 response (Content-Length, chunked, or up to EOF), at most `limit`.
async fn read_response<R: AsyncRead + Unpin>(r: &mut R, limit: Duration) -> Result<RawResponse, String> {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i;
            }
            match r.read(&mut chunk).await {
                Ok(0) => {
                    return Err(format!(
                        "connection closed before a response head ({} bytes: {:?})",
                        buf.len(),
                        String::from_utf8_lossy(&buf)
                    ))
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(format!("read error before a response head: {e}")),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
            .collect();
        let get = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
        let mut body = buf[head_end + 4..].to_vec();
        let chunked = get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
            while body.len() < len {
                match r.read(&mut chunk).await {
                    Ok(0) => return Err(format!("connection closed after {} of {len} body bytes", body.len())),
                    Ok(n) => body.extend_from_slice(&chunk[..n]),
                    Err(e) => return Err(format!("read error in the body: {e}")),
                }
            }
            body.truncate(len);
        } else if chunked {
            while find(&body, b"0\r\n\r\n").is_none() {
                match r.read(&mut chunk).await {
                    Ok(0) => return Err("connection closed inside a chunked body".into()),
                    Ok(n) => body.extend_from_slice(&chunk[..n]),
                    Err(e) => return Err(format!("read error in a chunked body: {e}")),
                }
            }
            let mut out = Vec::new();
            let mut rest = &body[..];
            while let Some(i) = find(rest, b"\r\n") {
                let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..i]).trim(), 16)
                    .map_err(|e| format!("bad chunk size: {e}"))?;
                if size == 0 {
                    break;
                }
                out.extend_from_slice(&rest[i + 2..i + 2 + size]);
                rest = &rest[i + 2 + size + 2..];
            }
            body = out;
        } else if status != 204 && status != 304 {
            let _ = r.read_to_end(&mut body).await;
        }
        Ok(RawResponse { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
    };
    match tokio::time::timeout(limit, read).await {
        Ok(r) => r,
        Err(_) => Err(format!("no response within {limit:?}")),
    }
}

/// `Host` of a node.
fn host(node: &TestNode) -> String {
    format!("127.0.0.1:{}", node.port())
}

async fn connect(node: &TestNode) -> TcpStream {
    let s = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(("127.0.0.1", node.port())))
        .await
        .expect("connect within 5 s")
        .expect("connect");
    s.set_nodelay(true).unwrap();
    s
}

/// A request head: request line, Host, the given headers.
fn head(node: &TestNode, method: &str, path_and_query: &str, headers: &[(String, String)]) -> String {
    let mut h = format!("{method} {path_and_query} HTTP/1.1\r\nHost: {}\r\n", host(node));
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h
}

/// Headers signing `method path_and_query` for root with `full_body` as the payload,
/// plus `extra` (which are signed too) and Content-Length of the full body.
fn signed_headers(
    node: &TestNode,
    method: &str,
    path_and_query: &str,
    extra: &[(&str, &str)],
    full_body: &[u8],
) -> Vec<(String, String)> {
    let url = format!("{}{path_and_query}", node.endpoint());
    let mut out: Vec<(String, String)> = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    for (k, v) in sigv4_headers(method, &url, extra, Payload::Bytes(full_body), SystemTime::now(), None) {
        if !k.eq_ignore_ascii_case("host") {
            out.push((k, v));
        }
    }
    out.push(("Content-Length".into(), full_body.len().to_string()));
    out
}

/// Well-formed S3 XML error: this status, this Code, a non-empty Message, a RequestId and a HostId.
#[track_caller]
fn assert_s3_error(what: &str, r: &RawResponse, status: u16, code: &str) {
    assert_eq!(r.status, status, "{what}: status (want {status} {code}); response: {r:?}");
    assert!(r.body.contains("<Error>") && r.body.contains("</Error>"), "{what}: not an S3 XML error: {r:?}");
    assert_eq!(xml_error_code(&r.body).as_deref(), Some(code), "{what}: error code; response: {r:?}");
    for tag in ["Message", "RequestId", "HostId"] {
        let v = xml_tag(&r.body, tag);
        assert!(v.as_deref().is_some_and(|v| !v.trim().is_empty()), "{what}: <{tag}> missing or empty: {r:?}");
    }
    assert!(
        r.header("content-type").is_some_and(|ct| ct.contains("xml")),
        "{what}: error without an XML content type: {r:?}"
    );
}

async fn from_reqwest(r: reqwest::Response) -> RawResponse {
    let status = r.status().as_u16();
    let headers =
        r.headers().iter().map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
    let body = tokio::time::timeout(Duration::from_secs(10), r.text())
        .await
        .expect("response body within 10 s")
        .unwrap_or_default();
    RawResponse { status, headers, body }
}

/// An anonymous request with a whole body, through reqwest.
async fn anon(method: &str, url: &str, body: Vec<u8>) -> RawResponse {
    let req = raw_http().request(method.parse().unwrap(), url).body(body).timeout(Duration::from_secs(15));
    from_reqwest(req.send().await.unwrap_or_else(|e| panic!("anonymous {method} {url}: {e}"))).await
}

async fn assert_live(node: &TestNode, when: &str) {
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        raw_http().get(format!("{}/health/live", node.endpoint())).send(),
    )
    .await
    .unwrap_or_else(|_| panic!("{when}: /health/live did not answer within 10 s"))
    .unwrap_or_else(|e| panic!("{when}: /health/live: {e}"));
    assert_eq!(r.status().as_u16(), 200, "{when}: /health/live");
}

/// Files left in the disks' tmp/ dirs.
fn tmp_files(node: &TestNode) -> Vec<std::path::PathBuf> {
    node.disk_dirs().iter().flat_map(|d| files_under(&d.join("tmp"))).collect()
}

async fn policy_public_write(node: &TestNode, bucket: &str) {
    let doc = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PublicWrite",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
        }]
    });
    node.client()
        .put_bucket_policy()
        .bucket(bucket)
        .policy(doc.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put_bucket_policy {bucket}: {:?}", ErrInfo::from_sdk(&e)));
}

/// `refused_since_last_line=N` of every "request refused" line of the log.
fn refusal_counts(log: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains("request refused"))
        .map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("refused_since_last_line="))
                .and_then(|v| v.trim_matches('"').parse().ok())
                .unwrap_or_else(|| panic!("no refused_since_last_line in {l:?}"))
        })
        .collect()
}

/// Send a request head and `sent` of a body of `full` bytes, then go silent; the answer
/// and how long after the last byte it came.
async fn stall(node: &TestNode, head: String, sent: &[u8], limit: Duration) -> (Result<RawResponse, String>, Duration) {
    let mut s = connect(node).await;
    s.write_all(head.as_bytes()).await.expect("write head");
    s.write_all(sent).await.expect("write half a body");
    s.flush().await.unwrap();
    let t = Instant::now();
    let r = read_response(&mut s, limit).await;
    (r, t.elapsed())
}

/// A stalled body's answer: 400 RequestTimeout, not before the idle timeout and not long after.
#[track_caller]
fn assert_timed_out(what: &str, r: Result<RawResponse, String>, elapsed: Duration) {
    let r = r.unwrap_or_else(|e| panic!("{what}: no RequestTimeout: {e} (after {elapsed:?})"));
    assert_s3_error(what, &r, 400, "RequestTimeout");
    assert!(
        elapsed + Duration::from_millis(500) >= BODY_TIMEOUT,
        "{what}: RequestTimeout after only {elapsed:?} (idle timeout {BODY_TIMEOUT:?})"
    );
    assert!(
        elapsed <= BODY_TIMEOUT + SLACK,
        "{what}: RequestTimeout after {elapsed:?}, want within {:?}",
        BODY_TIMEOUT + SLACK
    );
}

// ---------------------------------------------------------------------------
// 1. Browser-form POSTs
// ---------------------------------------------------------------------------

/// 20 anonymous form POSTs announcing 512 MiB each, headers and 4 KiB sent, then nothing:
/// each is answered 501 NotImplemented at once (the body is never read), the node's memory
/// stays small, signed requests keep working, and the refusals are logged one line a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_posts_are_refused_before_their_body() {
    within(120, async {
        // A long idle timeout: a server that read the body would answer only after it.
        let node = TestNode::start_with(&["--max-requests", "16", "--body-timeout-secs", "30"]);
        let c = node.client();
        create_bucket(&c, "forms").await;
        let rss_before = node.peak_rss_bytes();
        let started = Instant::now();

        const N: usize = 20;
        const ANNOUNCED: u64 = 512 << 20;
        let boundary = "----cairnhostileboundary";
        let mut form = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nuploads/${{filename}}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        form.extend_from_slice(&random_bytes(42, 4096));
        let head = head(
            &node,
            "POST",
            "/forms",
            &[
                ("Content-Type".into(), format!("multipart/form-data; boundary={boundary}")),
                ("Content-Length".into(), ANNOUNCED.to_string()),
            ],
        );
        let mut posts = Vec::new();
        for _ in 0..N {
            let mut s = connect(&node).await;
            let (head, form) = (head.clone(), form.clone());
            posts.push(tokio::spawn(async move {
                s.write_all(head.as_bytes()).await.expect("write head");
                // The server may already have answered and closed: a failed write is fine.
                let _ = s.write_all(&form).await;
                let t = Instant::now();
                let r = read_response(&mut s, Duration::from_secs(10)).await;
                (r, t.elapsed())
            }));
        }
        // Signed requests meanwhile.
        for i in 0..3 {
            let data = random_bytes(100 + i, 10_000);
            put_bytes(&c, "forms", &format!("signed-{i}"), data.clone()).await;
            assert!(get_bytes(&c, "forms", &format!("signed-{i}")).await == data, "signed GET during form POSTs");
        }
        let mut slowest = Duration::ZERO;
        for (i, p) in posts.into_iter().enumerate() {
            let (r, elapsed) = tokio::time::timeout(Duration::from_secs(30), p).await.expect("form POST ends").unwrap();
            let r = r.unwrap_or_else(|e| panic!("form POST {i}: {e} (after {elapsed:?})"));
            assert_s3_error(&format!("form POST {i}"), &r, 501, "NotImplemented");
            slowest = slowest.max(elapsed);
        }
        assert!(slowest < Duration::from_secs(2), "slowest form POST answered after {slowest:?}, want < 2 s");
        let burst = started.elapsed();

        // One more after a quiet second: its log line counts everything refused since the last one.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (r, _) = stall(&node, head.clone(), &form, Duration::from_secs(10)).await;
        assert_s3_error("form POST after a pause", &r.expect("form POST after a pause"), 501, "NotImplemented");

        let peak = node.peak_rss_bytes();
        eprintln!(
            "form POSTs: slowest answer {slowest:?}, burst {burst:?}, peak RSS {} MB (before {} MB)",
            peak >> 20,
            rss_before >> 20
        );
        assert!(peak < 300 << 20, "peak RSS {} MB after the form POSTs (want < 300 MB)", peak >> 20);

        let c2 = node.client();
        put_bytes(&c2, "forms", "after", b"after".to_vec()).await;
        assert_eq!(get_bytes(&c2, "forms", "after").await, b"after");
        let listed = list_all_keys(&c2, "forms").await;
        assert!(listed.iter().all(|k| !k.starts_with("uploads/")), "a form POST stored something: {listed:?}");
        assert_live(&node, "after the form POSTs").await;

        // Logged, but not line by line: one line a second, each with its count.
        let mut log = String::new();
        eventually(Duration::from_secs(5), || {
            log = node.log_text();
            refusal_counts(&log).iter().sum::<u64>() > N as u64
        })
        .await;
        let lines: Vec<&str> = log.lines().filter(|l| l.contains("request refused")).collect();
        let counts = refusal_counts(&log);
        assert_eq!(counts.iter().sum::<u64>(), N as u64 + 1, "refusals counted over the log lines: {lines:#?}");
        let max_lines = burst.as_secs() as usize + 2;
        assert!(
            lines.len() <= max_lines,
            "{} 'request refused' lines for {} refusals in {burst:?} (want at most {max_lines}): {lines:#?}",
            lines.len(),
            N + 1
        );
        assert!(lines.iter().all(|l| l.contains("NotImplemented")), "{lines:#?}");
    })
    .await;
}

// ---------------------------------------------------------------------------
// 2. Anonymous requests get a quarter of the slots
// ---------------------------------------------------------------------------

/// An anonymous PUT held open by trickling its body below the idle timeout until released,
/// then completed. Returns the answer, or what went wrong.
async fn held_anonymous_put(
    mut s: TcpStream,
    head: String,
    data: Vec<u8>,
    mut release: tokio::sync::watch::Receiver<bool>,
) -> Result<RawResponse, String> {
    s.write_all(head.as_bytes()).await.map_err(|e| format!("write head: {e}"))?;
    let (mut rd, mut wr) = s.into_split();
    let mut sent = 0usize;
    let mut probe = [0u8; 4096];
    // At most 100 trickles of 256 bytes, 300 ms apart (30 s), well below data.len().
    for _ in 0..100 {
        tokio::select! {
            _ = release.changed() => break,
            n = rd.read(&mut probe) => {
                let n = n.map_err(|e| format!("read while held: {e}"))?;
                return Err(format!(
                    "the server answered while the body was still coming: {:?}",
                    String::from_utf8_lossy(&probe[..n])
                ));
            }
            _ = tokio::time::sleep(Duration::from_millis(300)) => {
                wr.write_all(&data[sent..sent + 256]).await.map_err(|e| format!("trickle: {e}"))?;
                sent += 256;
            }
        }
    }
    wr.write_all(&data[sent..]).await.map_err(|e| format!("rest of the body: {e}"))?;
    read_response(&mut rd, Duration::from_secs(20)).await
}

/// With `--max-requests 16`, 4 anonymous PUTs in flight fill the anonymous share: a fifth
/// anonymous request gets 503 SlowDown, signed requests still get through, the refusal is
/// logged; once the 4 complete, anonymous requests are served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_requests_hold_at_most_a_quarter_of_the_slots() {
    within(120, async {
        let node = small_node();
        let c = node.client();
        create_bucket(&c, "share").await;
        policy_public_write(&node, "share").await;
        let ep = node.endpoint().to_string();

        // Control: an anonymous PUT is allowed by the policy.
        let r = anon("PUT", &format!("{ep}/share/control"), b"control".to_vec()).await;
        assert_eq!(r.status, 200, "anonymous PUT under the public-write policy: {r:?}");

        const HELD: usize = 4; // a quarter of 16
        const LEN: usize = 64 * 1024;
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let mut held = Vec::new();
        let mut datas = Vec::new();
        for i in 0..HELD {
            let data = random_bytes(200 + i as u64, LEN);
            let head = head(
                &node,
                "PUT",
                &format!("/share/held-{i}"),
                &[
                    ("Content-Length".into(), LEN.to_string()),
                    ("Content-Type".into(), "application/octet-stream".into()),
                ],
            );
            let s = connect(&node).await;
            held.push(tokio::spawn(held_anonymous_put(s, head, data.clone(), release_rx.clone())));
            datas.push(data);
        }
        // Long enough for all four to be admitted and streaming; less than the idle timeout.
        tokio::time::sleep(Duration::from_millis(800)).await;
        for (i, h) in held.iter().enumerate() {
            assert!(!h.is_finished(), "held anonymous PUT {i} ended before the fifth request");
        }

        // The fifth anonymous request.
        let fifth = anon("PUT", &format!("{ep}/share/fifth"), b"fifth".to_vec()).await;
        assert_s3_error("fifth anonymous PUT", &fifth, 503, "SlowDown");
        let fifth_get = anon("GET", &format!("{ep}/share/control"), Vec::new()).await;
        assert_s3_error("anonymous GET while the share is full", &fifth_get, 503, "SlowDown");

        // Signed requests get through meanwhile.
        let signed = random_bytes(300, 20_000);
        put_bytes(&c, "share", "signed", signed.clone()).await;
        assert!(get_bytes(&c, "share", "signed").await == signed, "signed GET while the share is full");
        let head_ok = c.head_object().bucket("share").key("control").send().await;
        assert!(head_ok.is_ok(), "signed HEAD while the share is full: {head_ok:?}");
        for (i, h) in held.iter().enumerate() {
            assert!(!h.is_finished(), "held anonymous PUT {i} ended before it was released");
        }

        // The refusal is in the log.
        let logged = eventually(Duration::from_secs(5), || {
            node.log_text().lines().any(|l| l.contains("request refused") && l.contains("SlowDown"))
        })
        .await;
        assert!(logged, "no 'request refused' SlowDown line in the log:\n{}", node.log_tail(30));

        // Release: the held PUTs complete and are stored whole.
        release_tx.send(true).unwrap();
        for (i, h) in held.into_iter().enumerate() {
            let r = tokio::time::timeout(Duration::from_secs(30), h).await.expect("held PUT ends").unwrap();
            let r = r.unwrap_or_else(|e| panic!("held anonymous PUT {i}: {e}"));
            assert_eq!(r.status, 200, "held anonymous PUT {i} once completed: {r:?}");
            assert!(get_bytes(&c, "share", &format!("held-{i}")).await == datas[i], "held-{i} stored wrong");
        }
        // The slots are free again.
        let r = anon("PUT", &format!("{ep}/share/after"), b"after".to_vec()).await;
        assert_eq!(r.status, 200, "anonymous PUT after the held ones completed: {r:?}");
        assert_status_err(
            "the refused fifth PUT stored nothing",
            c.head_object().bucket("share").key("fifth").send().await,
            404,
        );
        assert_live(&node, "after the slot share").await;
    })
    .await;
}

// ---------------------------------------------------------------------------
// 3. The idle timeout on every body
// ---------------------------------------------------------------------------

/// Signed PutObject (2 MB, erasure coded) whose body stops halfway: 400 RequestTimeout,
/// no object, no temp file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_signed_put_times_out_and_leaves_nothing() {
    within(90, async {
        let node = small_node();
        let c = node.client();
        create_bucket(&c, "idle").await;
        let full = random_bytes(1, 2_000_000);
        let path = "/idle/half";
        let headers = signed_headers(&node, "PUT", path, &[("content-type", "application/octet-stream")], &full);
        let (r, elapsed) =
            stall(&node, head(&node, "PUT", path, &headers), &full[..1_000_000], BODY_TIMEOUT + SLACK + SLACK).await;
        eprintln!("stalled signed PUT: {r:?} after {elapsed:?}");
        assert_timed_out("stalled signed PUT", r, elapsed);

        assert_status_err("half a PUT", c.head_object().bucket("idle").key("half").send().await, 404);
        let mut left = Vec::new();
        let clean = eventually(Duration::from_secs(5), || {
            left = tmp_files(&node);
            left.is_empty()
        })
        .await;
        assert!(clean, "temp files left after the stalled PUT: {left:?}");
        assert!(shard_files_all(&node).is_empty(), "shards of the stalled PUT: {:?}", shard_files_all(&node));
        // The same key can be written whole afterwards.
        put_bytes(&c, "idle", "half", full.clone()).await;
        assert!(get_bytes(&c, "idle", "half").await == full);
        assert_live(&node, "after the stalled PUT").await;
    })
    .await;
}

fn shard_files_all(node: &TestNode) -> Vec<StoredShard> {
    stored_shards_all(&node.disk_dirs())
}

/// Signed DeleteObjects (XML read whole, Content-MD5 of the full body) whose body stops
/// halfway: 400 RequestTimeout, nothing deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_delete_objects_times_out() {
    within(90, async {
        let node = small_node();
        let c = node.client();
        create_bucket(&c, "idle-del").await;
        let keys: Vec<String> = (0..40).map(|i| format!("doomed/key-{i:03}")).collect();
        for k in &keys[..5] {
            put_bytes(&c, "idle-del", k, b"x".to_vec()).await;
        }
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>");
        for k in &keys {
            xml.push_str(&format!("<Object><Key>{k}</Key></Object>"));
        }
        xml.push_str("</Delete>");
        let full = xml.into_bytes();
        let md5 = md5_b64(&full);
        let path = "/idle-del?delete";
        let headers = signed_headers(
            &node,
            "POST",
            path,
            &[("content-md5", md5.as_str()), ("content-type", "application/xml")],
            &full,
        );

        // Control: the same request sent whole is accepted (so the stalled one is refused for the stall).
        let control_keys =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Object><Key>nothing-here</Key></Object></Delete>";
        let cmd5 = md5_b64(control_keys.as_bytes());
        let ch = signed_headers(
            &node,
            "POST",
            path,
            &[("content-md5", cmd5.as_str()), ("content-type", "application/xml")],
            control_keys.as_bytes(),
        );
        let (r, _) =
            stall(&node, head(&node, "POST", path, &ch), control_keys.as_bytes(), Duration::from_secs(10)).await;
        let r = r.expect("control DeleteObjects");
        assert_eq!(r.status, 200, "control DeleteObjects sent whole: {r:?}");

        let (r, elapsed) =
            stall(&node, head(&node, "POST", path, &headers), &full[..full.len() / 2], BODY_TIMEOUT + SLACK + SLACK)
                .await;
        eprintln!("stalled DeleteObjects: {r:?} after {elapsed:?}");
        assert_timed_out("stalled DeleteObjects", r, elapsed);
        for k in &keys[..5] {
            let h = c.head_object().bucket("idle-del").key(k).send().await;
            assert!(h.is_ok(), "{k} deleted by a DeleteObjects whose body never arrived: {h:?}");
        }
        assert_live(&node, "after the stalled DeleteObjects").await;
    })
    .await;
}

/// CompleteMultipartUpload whose XML body stops halfway: 400 RequestTimeout, no object, and
/// the upload can still be completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_complete_multipart_upload_times_out() {
    within(90, async {
        let node = small_node();
        let c = node.client();
        create_bucket(&c, "idle-mpu").await;
        let created = c.create_multipart_upload().bucket("idle-mpu").key("big").send().await.expect("create MPU");
        let upload_id = created.upload_id().expect("upload id").to_string();
        let part = random_bytes(7, 300_000);
        let up = c
            .upload_part()
            .bucket("idle-mpu")
            .key("big")
            .upload_id(&upload_id)
            .part_number(1)
            .body(part.clone().into())
            .send()
            .await
            .expect("upload part");
        let etag = up.e_tag().expect("part etag").to_string();
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUpload><Part><PartNumber>1</PartNumber>\
             <ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
        );
        let full = xml.into_bytes();
        let id_q = percent_encoding::utf8_percent_encode(&upload_id, percent_encoding::NON_ALPHANUMERIC).to_string();
        let path = format!("/idle-mpu/big?uploadId={id_q}");
        let headers = signed_headers(&node, "POST", &path, &[("content-type", "application/xml")], &full);
        let (r, elapsed) =
            stall(&node, head(&node, "POST", &path, &headers), &full[..full.len() / 2], BODY_TIMEOUT + SLACK + SLACK)
                .await;
        eprintln!("stalled CompleteMultipartUpload: {r:?} after {elapsed:?}");
        assert_timed_out("stalled CompleteMultipartUpload", r, elapsed);
        assert_status_err(
            "object of a stalled complete",
            c.head_object().bucket("idle-mpu").key("big").send().await,
            404,
        );

        // The upload is intact and completes normally.
        let done = c
            .complete_multipart_upload()
            .bucket("idle-mpu")
            .key("big")
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(CompletedPart::builder().part_number(1).e_tag(&etag).build())
                    .build(),
            )
            .send()
            .await;
        assert!(done.is_ok(), "complete after the stalled one: {:?}", done.map_err(|e| ErrInfo::from_sdk(&e)));
        assert!(get_bytes(&c, "idle-mpu", "big").await == part);
        assert_live(&node, "after the stalled CompleteMultipartUpload").await;
    })
    .await;
}

/// An anonymous PUT to a public-write bucket whose body stops halfway: 400 RequestTimeout,
/// no object, no temp file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_anonymous_put_times_out() {
    within(90, async {
        let node = small_node();
        let c = node.client();
        create_bucket(&c, "idle-pub").await;
        policy_public_write(&node, "idle-pub").await;
        let full = random_bytes(9, 1_000_000);
        let head = head(
            &node,
            "PUT",
            "/idle-pub/anon-half",
            &[
                ("Content-Length".into(), full.len().to_string()),
                ("Content-Type".into(), "application/octet-stream".into()),
            ],
        );
        let (r, elapsed) = stall(&node, head, &full[..500_000], BODY_TIMEOUT + SLACK + SLACK).await;
        eprintln!("stalled anonymous PUT: {r:?} after {elapsed:?}");
        assert_timed_out("stalled anonymous PUT", r, elapsed);
        assert_status_err(
            "half an anonymous PUT",
            c.head_object().bucket("idle-pub").key("anon-half").send().await,
            404,
        );
        let mut left = Vec::new();
        let clean = eventually(Duration::from_secs(5), || {
            left = tmp_files(&node);
            left.is_empty()
        })
        .await;
        assert!(clean, "temp files left after the stalled anonymous PUT: {left:?}");
        // Control: the same anonymous PUT sent whole is stored.
        let r = anon("PUT", &format!("{}/idle-pub/anon-half", node.endpoint()), full.clone()).await;
        assert_eq!(r.status, 200, "anonymous PUT sent whole: {r:?}");
        assert!(get_bytes(&c, "idle-pub", "anon-half").await == full);
        assert_live(&node, "after the stalled anonymous PUT").await;
    })
    .await;
}

// ---------------------------------------------------------------------------
// 4. Many idle connections
// ---------------------------------------------------------------------------

/// How many of these connections the server closes (EOF, reset, or an answer) before `deadline`;
/// also the first bytes any of them was sent.
async fn closed_by(conns: Vec<TcpStream>, deadline: Instant) -> (usize, Option<String>) {
    let waits = conns.into_iter().map(|mut s| async move {
        let mut b = [0u8; 256];
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut b)).await {
            Ok(Ok(0)) | Ok(Err(_)) => (true, None),
            Ok(Ok(n)) => (true, Some(String::from_utf8_lossy(&b[..n]).into_owned())),
            Err(_) => (false, None),
        }
    });
    let results = futures::future::join_all(waits).await;
    let closed = results.iter().filter(|(c, _)| *c).count();
    (closed, results.into_iter().find_map(|(_, t)| t))
}

/// 300 TCP connections that never send a byte: a signed request still succeeds, the server
/// closes the idle ones within its header timeout, and the node stays alive. (20 connections
/// that send half a request head, then nothing, are the comparison: hyper's own header
/// timeout covers them.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_do_not_block_requests() {
    within(120, async {
        let node = small_node();
        let c = node.client();
        create_bucket(&c, "conns").await;

        const N: usize = 300;
        const PARTIAL: usize = 20;
        let opened = Instant::now();
        let mut idle = Vec::with_capacity(N);
        for _ in 0..N {
            idle.push(connect(&node).await);
        }
        let mut partial = Vec::with_capacity(PARTIAL);
        for _ in 0..PARTIAL {
            let mut s = connect(&node).await;
            let half = format!("GET /conns/x HTTP/1.1\r\nHost: {}\r\nX-Slow: ", host(&node));
            s.write_all(half.as_bytes()).await.expect("write half a head");
            partial.push(s);
        }
        let open_time = opened.elapsed();

        // A signed request gets through.
        let data = random_bytes(11, 50_000);
        put_bytes(&c, "conns", "through", data.clone()).await;
        assert!(get_bytes(&c, "conns", "through").await == data, "signed GET among idle connections");

        // Each must be closed by the header timeout, counted from when it was opened, plus SLACK.
        let deadline = opened + open_time + BODY_TIMEOUT + SLACK;
        let ((closed, idle_said), (partial_closed, partial_said)) =
            futures::future::join(closed_by(idle, deadline), closed_by(partial, deadline)).await;
        eprintln!(
            "within {:?} of opening: {closed} of {N} idle connections closed (first bytes sent: {idle_said:?}), \
             {partial_closed} of {PARTIAL} half-head connections closed (first bytes sent: {partial_said:?})",
            deadline - opened
        );

        // The node is alive and serving once they are gone.
        assert_live(&node, "after 300 idle connections").await;
        put_bytes(&c, "conns", "after", b"after".to_vec()).await;
        assert_eq!(get_bytes(&c, "conns", "after").await, b"after");

        assert_eq!(
            partial_closed,
            PARTIAL,
            "{} of {PARTIAL} connections that sent half a request head were still open {:?} after they were opened \
             (header timeout {BODY_TIMEOUT:?})",
            PARTIAL - partial_closed,
            deadline - opened
        );
        assert_eq!(
            closed,
            N,
            "{} of {N} idle connections (no request sent) were still open {:?} after they were opened \
             (header timeout {BODY_TIMEOUT:?})",
            N - closed,
            deadline - opened
        );
    })
    .await;
}
