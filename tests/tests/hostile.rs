//! Hostile input: every class of bad or hostile request a client can send, against a
//! real `cairnd`, with the exact status and S3 error code AWS answers (or Cairn's
//! documented deviation), and a complete error body (`<Code>`, a non-empty
//! `<Message>`, `<RequestId>`, `<HostId>`).
//!
//! Each test covers a group of classes against one node and records one row per
//! class (class, expected, observed) instead of stopping at the first mismatch; at
//! the end of the group it adds what must hold whatever was sent (the node is
//! alive, its peak RSS stayed bounded, no temp file is left in the disks' `tmp/`,
//! no panic in the log), prints the table and fails if any row failed. Refused
//! writes are followed by a HEAD (and, per bucket, a listing) showing nothing was
//! stored.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use cairn_tests::aws_sdk_s3::presigning::PresigningConfig;
use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectCannedAcl};
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Peak RSS a node may reach: the legitimate traffic of a group stays far below it,
/// a buffered 1 GiB body (or an expanded entity bomb) would not.
const RSS_BOUND: u64 = 400 << 20;

/// How long a request refused from its head may take to be answered.
const PROMPT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

/// One answer, whichever way the request was sent. `status` 0: no answer at all
/// (`error` says why).
#[derive(Debug, Default, Clone)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    elapsed: Duration,
    error: Option<String>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn code(&self) -> Option<String> {
        xml_error_code(&self.text())
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// What is missing from an S3 error body (empty: it is complete).
    fn error_body_gaps(&self) -> Vec<&'static str> {
        let text = self.text();
        let mut gaps = Vec::new();
        if xml_tag(&text, "Message").is_none_or(|m| m.trim().is_empty()) {
            gaps.push("no Message");
        }
        if xml_tag(&text, "RequestId").is_none_or(|m| m.trim().is_empty()) {
            gaps.push("no RequestId");
        }
        if xml_tag(&text, "HostId").is_none_or(|m| m.trim().is_empty()) {
            gaps.push("no HostId");
        }
        gaps
    }
    /// [`Self::describe`] and the error's message.
    fn describe_with_message(&self) -> String {
        match xml_tag(&self.text(), "Message") {
            Some(m) => format!("{} \"{m}\"", self.describe()),
            None => self.describe(),
        }
    }
    /// `403 AccessDenied`, `200`, `no answer (...)`, plus what an error body lacks.
    fn describe(&self) -> String {
        if self.status == 0 {
            return format!("no answer ({})", self.error.as_deref().unwrap_or("?"));
        }
        let mut s = self.status.to_string();
        if let Some(code) = self.code() {
            s.push(' ');
            s.push_str(&code);
            let gaps = self.error_body_gaps();
            if !gaps.is_empty() {
                s.push_str(&format!(" ({})", gaps.join(", ")));
            }
        }
        s
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().expect("reqwest client")
}

/// Send a request through reqwest; every header is sent as given.
async fn send(method: &str, url: &str, headers: &[(String, String)], body: reqwest::Body) -> Resp {
    let t0 = Instant::now();
    let mut req = http_client().request(method.parse().expect("method"), url);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    match req.body(body).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let headers = r
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            let body = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            Resp { status, headers, body, elapsed: t0.elapsed(), error: None }
        }
        Err(e) => Resp { elapsed: t0.elapsed(), error: Some(format!("{e:?}")), ..Default::default() },
    }
}

fn owned(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A request signed (SigV4, header form) by root, payload hash of `body`.
async fn root(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    signed_as((ROOT_ACCESS_KEY, ROOT_SECRET_KEY), method, url, headers, body).await
}

/// A request signed by `creds`, payload hash of `body`.
async fn signed_as(creds: (&str, &str), method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut all = owned(headers);
    all.extend(sigv4_headers(method, url, headers, Payload::Bytes(body), SystemTime::now(), Some(creds)));
    send(method, url, &all, body.to_vec().into()).await
}

/// An unsigned request.
async fn anon(method: &str, url: &str, headers: &[(&str, &str)]) -> Resp {
    send(method, url, &owned(headers), reqwest::Body::from(Vec::<u8>::new())).await
}

/// A request (root-signed with UNSIGNED-PAYLOAD if `signed`, else anonymous) announcing
/// `len` body bytes of which none is sent until the answer arrives: a server that waits
/// for the body never answers.
async fn head_only(method: &str, url: &str, headers: &[(&str, &str)], len: u64, signed: bool) -> Resp {
    let mut all = owned(headers);
    if signed {
        all.extend(sigv4_headers(method, url, headers, Payload::Unsigned, SystemTime::now(), None));
    }
    let (tx, body) = ChannelBody::new(len);
    let r = tokio::time::timeout(Duration::from_secs(15), send(method, url, &all, reqwest::Body::wrap(body))).await;
    drop(tx);
    r.unwrap_or_else(|_| Resp { error: Some("nothing within 15 s".into()), ..Default::default() })
}

// ---------------------------------------------------------------------------
// Raw TCP (for what an HTTP client will not send: dot segments, cut bodies,
// oversized heads, hand-framed chunked bodies)
// ---------------------------------------------------------------------------

/// A request head: request line, Host, the given headers, and the SigV4 headers when
/// `sign` says how the payload is described. Ends with the blank line.
fn raw_head(port: u16, method: &str, path: &str, headers: &[(&str, &str)], sign: Option<Payload<'_>>) -> String {
    let host = format!("127.0.0.1:{port}");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(payload) = sign {
        let url = format!("http://{host}{}", canonical_path(path));
        for (k, v) in sigv4_headers(method, &url, headers, payload, SystemTime::now(), None) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    head
}

/// The path as SigV4 canonicalizes it (and as s3s checks it): percent-decoded, then
/// encoded again with every byte but the unreserved ones and `/` as `%XX`. A path
/// sent as `%2e%2e%2fx` is signed as `../x`. The query is left as it is.
fn canonical_path(path_and_query: &str) -> String {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(path).collect();
    let mut out = String::new();
    for b in decoded {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    match query {
        Some(q) => format!("{out}?{q}"),
        None => out,
    }
}

/// Writes `pieces` on a new connection (half-closing it afterwards if `fin`) while
/// reading the answer until the server closes or `wait` passes.
async fn raw_exchange(port: u16, pieces: Vec<Vec<u8>>, fin: bool, wait: Duration) -> Resp {
    let t0 = Instant::now();
    let stream = match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
        Ok(s) => s,
        Err(e) => return Resp { error: Some(format!("connect: {e}")), ..Default::default() },
    };
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        for p in pieces {
            if wr.write_all(&p).await.is_err() {
                break;
            }
        }
        let _ = wr.flush().await;
        if fin {
            let _ = wr.shutdown().await;
        }
        wr
    });
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, rd.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let elapsed = t0.elapsed();
    drop(writer.await);
    parse_response(&buf, elapsed)
}

fn parse_response(buf: &[u8], elapsed: Duration) -> Resp {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Resp { elapsed, error: Some(format!("no response head ({} bytes)", buf.len())), ..Default::default() };
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Resp { status, headers, body, elapsed, error: None }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size else { break };
        if size == 0 || data.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[(eol + 4 + size).min(data.len())..];
    }
    out
}

/// A root-signed raw request with a complete body.
async fn raw_signed(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let head = raw_head(port, method, path, headers, Some(Payload::Bytes(body)));
    let head = head.replacen("\r\n\r\n", &format!("\r\nContent-Length: {}\r\n\r\n", body.len()), 1);
    raw_exchange(port, vec![head.into_bytes(), body.to_vec()], false, Duration::from_secs(20)).await
}

// ---------------------------------------------------------------------------
// Signing with a chosen region, presigning by hand, aws-chunked framing
// ---------------------------------------------------------------------------

fn sigv4_settings() -> aws_sigv4::http_request::SigningSettings {
    use aws_sigv4::http_request::{PercentEncodingMode, SigningSettings, UriPathNormalizationMode};
    let mut settings = SigningSettings::default();
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings
}

/// Header-form SigV4 headers for a credential scope in `region`.
fn sign_in_region(method: &str, url: &str, region: &str, time: SystemTime) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{sign, PayloadChecksumKind, SignableBody, SignableRequest};
    let identity =
        aws_credential_types::Credentials::new(ROOT_ACCESS_KEY, ROOT_SECRET_KEY, None, None, "hostile").into();
    let mut settings = sigv4_settings();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let req = SignableRequest::new(method, url, std::iter::empty(), SignableBody::Bytes(b"")).expect("signable");
    let (instructions, _) = sign(req, &params).expect("sign").into_parts();
    instructions.headers().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A presigned URL (query-string SigV4, UNSIGNED-PAYLOAD) built by hand, so that the
/// expiry and the region can be anything.
fn presign(method: &str, url: &str, region: &str, expires_secs: u64, time: SystemTime) -> String {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation};
    let identity =
        aws_credential_types::Credentials::new(ROOT_ACCESS_KEY, ROOT_SECRET_KEY, None, None, "hostile").into();
    let mut settings = sigv4_settings();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(expires_secs));
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let req = SignableRequest::new(method, url, std::iter::empty(), SignableBody::UnsignedPayload).expect("signable");
    let (instructions, _) = sign(req, &params).expect("presign").into_parts();
    let mut req = http::Request::builder().method(method).uri(url).body(()).expect("request");
    instructions.apply_to_request_http1x(&mut req);
    req.uri().to_string()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("hmac key");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// How a hand-framed signed aws-chunked body goes wrong.
#[derive(Clone, Copy, PartialEq)]
enum Framing {
    Correct,
    /// The body ends after its data chunks, without the final zero-length chunk.
    NoFinalChunk,
    /// The second chunk carries a signature that is not its own.
    WrongChunkSignature,
    /// The first chunk's size is not hexadecimal.
    NonHexSize,
}

/// A signed streaming PUT (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) of `data` announcing
/// `decoded_len` decoded bytes, framed in 64 KiB chunks as `framing` says.
async fn streaming_put(url: &str, data: &[u8], decoded_len: usize, framing: Framing) -> Resp {
    const CHUNK: usize = 64 * 1024;
    let decoded = decoded_len.to_string();
    let headers = [("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", decoded.as_str())];
    let mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".to_string();
    let signed = sigv4_headers("PUT", url, &headers, Payload::Precomputed(mode), SystemTime::now(), None);
    let get = |name: &str| signed.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let stamp = get("x-amz-date").expect("x-amz-date");
    let seed = get("authorization").and_then(|a| a.rsplit("Signature=").next().map(str::to_string)).expect("seed");
    let date = &stamp[..8];
    let scope = format!("{date}/{REGION}/s3/aws4_request");
    let k_date = hmac(format!("AWS4{ROOT_SECRET_KEY}").as_bytes(), date.as_bytes());
    let key = hmac(&hmac(&hmac(&k_date, REGION.as_bytes()), b"s3"), b"aws4_request");
    let empty_hash = sha256_hex(b"");
    let mut chunks: Vec<&[u8]> = data.chunks(CHUNK).collect();
    if framing != Framing::NoFinalChunk {
        chunks.push(&[]);
    }
    let mut prev = seed;
    let mut body = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let to_sign =
            format!("AWS4-HMAC-SHA256-PAYLOAD\n{stamp}\n{scope}\n{prev}\n{empty_hash}\n{}", sha256_hex(chunk));
        let sig = hex::encode(hmac(&key, to_sign.as_bytes()));
        let shown = if framing == Framing::WrongChunkSignature && i == 1 {
            hex::encode(hmac(&key, b"some other string to sign"))
        } else {
            sig.clone()
        };
        let size =
            if framing == Framing::NonHexSize && i == 0 { "zz".to_string() } else { format!("{:x}", chunk.len()) };
        body.extend(format!("{size};chunk-signature={shown}\r\n").as_bytes());
        body.extend_from_slice(chunk);
        body.extend(b"\r\n");
        prev = sig;
    }
    let mut all = owned(&headers);
    all.extend(signed);
    send("PUT", url, &all, body.into()).await
}

// ---------------------------------------------------------------------------
// The table of classes
// ---------------------------------------------------------------------------

struct Row {
    class: String,
    expected: String,
    observed: String,
    pass: bool,
}

/// The classes of one group, checked against one node.
struct Group<'a> {
    name: &'static str,
    node: &'a TestNode,
    rows: Vec<Row>,
}

impl<'a> Group<'a> {
    fn new(name: &'static str, node: &'a TestNode) -> Self {
        Group { name, node, rows: Vec::new() }
    }

    fn row(&mut self, class: &str, expected: impl Into<String>, observed: impl Into<String>, pass: bool) -> bool {
        let row = Row { class: class.to_string(), expected: expected.into(), observed: observed.into(), pass };
        let mark = if pass { "ok  " } else { "FAIL" };
        println!("[{}] {mark} {} | want {} | got {}", self.name, row.class, row.expected, row.observed);
        self.rows.push(row);
        pass
    }

    /// Exactly this status and S3 error code, with a complete error body.
    fn err(&mut self, class: &str, status: u16, code: &str, r: &Resp) -> bool {
        let pass = r.status == status && r.code().as_deref() == Some(code) && r.error_body_gaps().is_empty();
        let observed = if pass { r.describe() } else { r.describe_with_message() };
        self.row(class, format!("{status} {code}"), observed, pass)
    }

    /// Exactly this status, and a complete error body whatever its code.
    fn err_status(&mut self, class: &str, status: u16, r: &Resp) -> bool {
        let pass = r.status == status && r.code().is_some() && r.error_body_gaps().is_empty();
        self.row(class, format!("{status} (any code)"), r.describe(), pass)
    }

    /// Exactly this (success) status.
    fn status(&mut self, class: &str, status: u16, r: &Resp) -> bool {
        let pass = r.status == status;
        let observed = if pass { r.describe() } else { format!("{}: {}", r.describe(), r.text()) };
        self.row(class, status.to_string(), observed, pass)
    }

    /// Something that must hold.
    fn fact(&mut self, class: &str, expected: &str, pass: bool, observed: impl Into<String>) -> bool {
        self.row(class, expected, observed, pass)
    }

    /// HEAD of `bucket/key` (root) answers 404: nothing was stored.
    async fn absent(&mut self, class: &str, c: &Client, bucket: &str, key: &str) -> bool {
        let r = c.head_object().bucket(bucket).key(key).send().await;
        let observed = match &r {
            Ok(o) => format!("object exists ({} bytes)", o.content_length().unwrap_or(-1)),
            Err(e) => format!("HEAD {:?}", ErrInfo::from_sdk(e).status),
        };
        let pass = matches!(&r, Err(e) if ErrInfo::from_sdk(e).status == Some(404));
        self.row(&format!("{class}: nothing stored"), "HEAD 404", observed, pass)
    }

    /// A bucket's listing is exactly the keys written on purpose.
    async fn listing(&mut self, c: &Client, bucket: &str, want: &[&str]) {
        let mut got = list_all_keys(c, bucket).await;
        got.sort();
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        let pass = got == want;
        let show = |keys: &[String]| -> String {
            let short: Vec<String> = keys
                .iter()
                .map(|k| if k.len() > 40 { format!("{}...({} bytes)", &k[..8], k.len()) } else { k.clone() })
                .collect();
            format!("{short:?}")
        };
        self.row(&format!("listing of {bucket} after the group"), show(&want), show(&got), pass);
    }

    /// What holds after any group: alive, memory bounded, no temp file, no panic.
    /// Prints the table and fails if any row did.
    async fn finish(mut self) {
        let live = anon("GET", &format!("{}/health/live", self.node.endpoint()), &[]).await;
        self.row("node alive after the group", "/health/live 200", live.describe(), live.status == 200);
        let rss = self.node.peak_rss_bytes();
        self.row(
            "peak RSS of the node",
            format!("< {} MiB", RSS_BOUND >> 20),
            format!("{} MiB", rss >> 20),
            rss < RSS_BOUND,
        );
        let disks = self.node.disk_dirs();
        let tmp_files = || -> Vec<PathBuf> { disks.iter().flat_map(|d| files_under(&d.join("tmp"))).collect() };
        let clean = eventually(Duration::from_secs(5), || tmp_files().is_empty()).await;
        self.row("temp files in the disks' tmp/", "none (within 5 s)", format!("{:?}", tmp_files()), clean);
        let log = self.node.log_text();
        let panics = log.lines().filter(|l| l.contains("panicked")).count();
        self.row("panics in the node log", "none", format!("{panics}"), panics == 0);

        let failed: Vec<&Row> = self.rows.iter().filter(|r| !r.pass).collect();
        println!("\n==== {}: {} checks, {} failed ====", self.name, self.rows.len(), failed.len());
        for r in &self.rows {
            println!(
                "{} | {} | want {} | got {}",
                if r.pass { "ok  " } else { "FAIL" },
                r.class,
                r.expected,
                r.observed
            );
        }
        if !failed.is_empty() {
            let list: Vec<String> =
                failed.iter().map(|r| format!("  {}: want {}, got {}", r.class, r.expected, r.observed)).collect();
            panic!("{}: {} of {} checks failed:\n{}", self.name, failed.len(), self.rows.len(), list.join("\n"));
        }
    }
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

fn delete_xml(keys: &[String]) -> Vec<u8> {
    let objects: String = keys.iter().map(|k| format!("<Object><Key>{k}</Key></Object>")).collect();
    format!("<Delete><Quiet>true</Quiet>{objects}</Delete>").into_bytes()
}

/// A new key through the admin API (as tests/tests/access.rs makes them): (id, secret).
async fn create_key(node: &TestNode, name: &str) -> (String, String) {
    let (status, text) = node.admin("POST", "keys", json!({ "name": name }).to_string().as_bytes()).await;
    assert_eq!(status, 200, "create key {name}: {text}");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("create key reply ({e}): {text}"));
    let id = v["access_key_id"].as_str().expect("access_key_id").to_string();
    let secret = v["secret_access_key"].as_str().expect("secret_access_key").to_string();
    (id, secret)
}

async fn put_policy(c: &Client, bucket: &str, doc: &Value) {
    c.put_bucket_policy()
        .bucket(bucket)
        .policy(doc.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put_bucket_policy {bucket}: {:?}", ErrInfo::from_sdk(&e)));
}

async fn get_policy(c: &Client, bucket: &str) -> Option<Value> {
    let out = c.get_bucket_policy().bucket(bucket).send().await.ok()?;
    serde_json::from_str(out.policy()?).ok()
}

/// Starts a multipart upload of one part; returns (upload id, part ETag).
async fn one_part_upload(c: &Client, bucket: &str, key: &str, part: &[u8]) -> (String, String) {
    let up = c.create_multipart_upload().bucket(bucket).key(key).send().await.expect("CreateMultipartUpload");
    let id = up.upload_id().expect("upload id").to_string();
    let p = c
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(part.to_vec()))
        .send()
        .await
        .expect("UploadPart");
    (id, p.e_tag().expect("part ETag").to_string())
}

fn complete_xml(etag: &str, sha256: Option<&str>) -> Vec<u8> {
    let ck = sha256.map(|s| format!("<ChecksumSHA256>{s}</ChecksumSHA256>")).unwrap_or_default();
    let part = format!("<Part><PartNumber>1</PartNumber><ETag>{etag}</ETag>{ck}</Part>");
    format!("<CompleteMultipartUpload>{part}</CompleteMultipartUpload>").into_bytes()
}

/// Every file under the node's root (the parent of its data dir) that is not in the
/// data dir.
fn files_outside_data(node: &TestNode) -> Vec<PathBuf> {
    files_under(node.root_dir()).into_iter().filter(|p| !p.starts_with(node.data_dir())).collect()
}

// ---------------------------------------------------------------------------
// Group 1: bodies read whole (XML, JSON)
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_and_json_bodies() {
    within(300, xml_and_json_bodies_group()).await;
}

async fn xml_and_json_bodies_group() {
    let node = TestNode::start();
    let c = node.client();
    let mut g = Group::new("bodies", &node);
    create_bucket(&c, "xml").await;
    for k in ["keep", "gone"] {
        put_bytes(&c, "xml", k, k.as_bytes().to_vec()).await;
    }
    let ep = node.endpoint().to_string();
    let del = format!("{ep}/xml?delete");

    // Control: a well-formed DeleteObjects with its Content-MD5 works.
    let xml = delete_xml(&["gone".into()]);
    let r = root("POST", &del, &[("content-md5", &md5_b64(&xml))], &xml).await;
    g.status("control: DeleteObjects, well-formed, with Content-MD5", 200, &r);

    let xml = b"<Delete><Object><Key>keep</Key></Object>".to_vec();
    let r = root("POST", &del, &[("content-md5", &md5_b64(&xml))], &xml).await;
    g.err("DeleteObjects, malformed XML (right Content-MD5)", 400, "MalformedXML", &r);

    let r = head_only("POST", &del, &[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")], 3 << 20, true).await;
    g.err("DeleteObjects, Content-Length 3 MiB, head only", 400, "MaxMessageLengthExceeded", &r);
    g.fact(
        "DeleteObjects, Content-Length 3 MiB: answered promptly",
        "< 5 s",
        r.elapsed < PROMPT,
        format!("{:?}", r.elapsed),
    );

    let bomb = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Delete><Object><Key>&lol9;</Key></Object></Delete>"#;
    let r = root("POST", &del, &[("content-md5", &md5_b64(bomb))], bomb).await;
    g.err("DeleteObjects, DOCTYPE entity expansion (billion laughs)", 400, "MalformedXML", &r);
    let rss = node.peak_rss_bytes();
    g.fact("billion laughs: peak RSS", "< 400 MiB", rss < RSS_BOUND, format!("{} MiB", rss >> 20));

    let xml = delete_xml(&["keep".into()]);
    let r = root("POST", &del, &[], &xml).await;
    g.err("DeleteObjects without Content-MD5 or x-amz-checksum-*", 400, "InvalidRequest", &r);
    let r = root("POST", &del, &[("content-md5", &md5_b64(b"another body"))], &xml).await;
    g.err("DeleteObjects, wrong Content-MD5", 400, "BadDigest", &r);
    let kept = c.head_object().bucket("xml").key("keep").send().await.is_ok();
    g.fact("DeleteObjects, wrong Content-MD5: key still exists", "HEAD 200", kept, if kept { "200" } else { "gone" });

    let many: Vec<String> = (0..1001).map(|i| format!("k{i}")).collect();
    let xml = delete_xml(&many);
    let r = root("POST", &del, &[("content-md5", &md5_b64(&xml))], &xml).await;
    g.err("DeleteObjects of 1001 keys", 400, "MalformedXML", &r);

    // Bucket policies.
    let pol = format!("{ep}/xml?policy");
    let first = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::xml/public/*"}]});
    put_policy(&c, "xml", &first).await;
    let r = root("PUT", &pol, &[], b"{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": ").await;
    g.err("PutBucketPolicy, malformed JSON", 400, "MalformedPolicy", &r);
    let second = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::xml/*"}]})
    .to_string();
    let r = root("PUT", &pol, &[("content-md5", &md5_b64(b"not this"))], second.as_bytes()).await;
    g.err("PutBucketPolicy, wrong Content-MD5", 400, "BadDigest", &r);
    let now = get_policy(&c, "xml").await;
    g.fact(
        "PutBucketPolicy, wrong Content-MD5: policy unchanged",
        "the first policy",
        now.as_ref() == Some(&first),
        format!("{now:?}"),
    );
    let r = head_only("PUT", &pol, &[], (2 << 20) + 1, true).await;
    g.err("PutBucketPolicy, Content-Length 2 MiB + 1, head only", 400, "MaxMessageLengthExceeded", &r);
    g.fact("PutBucketPolicy, 2 MiB + 1: answered promptly", "< 5 s", r.elapsed < PROMPT, format!("{:?}", r.elapsed));

    // CompleteMultipartUpload.
    let part = random_bytes(7, 1000);
    let (id, etag) = one_part_upload(&c, "xml", "mpu", &part).await;
    let cmu = format!("{ep}/xml/mpu?uploadId={id}");
    let xml = b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>".to_vec();
    let r = root("POST", &cmu, &[("content-md5", &md5_b64(&xml))], &xml).await;
    g.err("CompleteMultipartUpload, malformed XML", 400, "MalformedXML", &r);
    let xml = complete_xml(&etag, None);
    let r = root("POST", &cmu, &[("content-md5", &md5_b64(b"not this"))], &xml).await;
    g.err("CompleteMultipartUpload, wrong Content-MD5", 400, "BadDigest", &r);
    g.absent("CompleteMultipartUpload, wrong Content-MD5", &c, "xml", "mpu").await;

    let plain = node.client_builder().checksum_when_required().build();
    let up = plain
        .create_multipart_upload()
        .bucket("xml")
        .key("mpu-sha")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .expect("CreateMultipartUpload SHA256");
    let sid = up.upload_id().unwrap().to_string();
    let part_sha = sha256_b64(&part);
    let p = plain
        .upload_part()
        .bucket("xml")
        .key("mpu-sha")
        .upload_id(&sid)
        .part_number(1)
        .checksum_sha256(&part_sha)
        .body(ByteStream::from(part.clone()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("UploadPart with SHA256: {:?}", ErrInfo::from_sdk(&e)));
    let xml = complete_xml(p.e_tag().unwrap(), Some(&part_sha));
    let wrong = format!("{}-1", sha256_b64(b"not the composite"));
    let r = root(
        "POST",
        &format!("{ep}/xml/mpu-sha?uploadId={sid}"),
        &[("content-md5", &md5_b64(&xml)), ("x-amz-checksum-sha256", &wrong)],
        &xml,
    )
    .await;
    g.err("CompleteMultipartUpload (SHA256 upload), wrong x-amz-checksum-sha256", 400, "BadDigest", &r);
    g.absent("CompleteMultipartUpload, wrong x-amz-checksum-sha256", &c, "xml", "mpu-sha").await;

    // An XML body with no Content-Length (Transfer-Encoding: chunked) past 2 MiB.
    let port = node.port();
    let head = raw_head(
        port,
        "POST",
        "/xml?delete",
        &[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="), ("transfer-encoding", "chunked")],
        Some(Payload::Unsigned),
    );
    let mut pieces = vec![head.into_bytes(), b"6\r\n<Delet\r\n".to_vec()];
    let filler = vec![b' '; 64 * 1024];
    for _ in 0..48 {
        let mut chunk = format!("{:x}\r\n", filler.len()).into_bytes();
        chunk.extend_from_slice(&filler);
        chunk.extend_from_slice(b"\r\n");
        pieces.push(chunk);
    }
    pieces.push(b"0\r\n\r\n".to_vec());
    let r = raw_exchange(port, pieces, false, Duration::from_secs(20)).await;
    // A body read whole must announce its length (AWS: 411 for a missing length);
    // refused from the head, before the chunks are read.
    g.err("DeleteObjects, Transfer-Encoding: chunked, 3 MiB", 411, "MissingContentLength", &r);

    g.listing(&c, "xml", &["keep"]).await;
    g.finish().await;
}

// ---------------------------------------------------------------------------
// Group 2: names, keys, ranges
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_keys_and_ranges() {
    within(300, names_keys_and_ranges_group()).await;
}

async fn names_keys_and_ranges_group() {
    let node = TestNode::start();
    let c = node.client();
    let mut g = Group::new("names+ranges", &node);
    let ep = node.endpoint().to_string();
    let port = node.port();
    create_bucket(&c, "names").await;

    let long = "a".repeat(64);
    for (class, bucket) in [
        ("CreateBucket, uppercase name", "MyBucket"),
        ("CreateBucket, 2-character name", "ab"),
        ("CreateBucket, 64-character name", long.as_str()),
        ("CreateBucket, IP-address name", "192.168.5.4"),
        ("CreateBucket, name with '..'", "a..b"),
    ] {
        let r = root("PUT", &format!("{ep}/{bucket}"), &[], b"").await;
        g.err(class, 400, "InvalidBucketName", &r);
    }
    let r = root("PUT", &format!("{ep}/cairn"), &[], b"").await;
    let pass = (400..500).contains(&r.status);
    g.fact("CreateBucket, reserved name cairn", "4xx", pass, r.describe());
    let buckets = c.list_buckets().send().await.expect("ListBuckets");
    let names: Vec<String> = buckets.buckets().iter().filter_map(|b| b.name().map(str::to_string)).collect();
    g.fact("only the bucket made on purpose exists", "[\"names\"]", names == ["names"], format!("{names:?}"));

    let key = "k".repeat(1025);
    let r = root("PUT", &format!("{ep}/names/{key}"), &[], b"x").await;
    g.err("PutObject, key of 1025 bytes", 400, "KeyTooLongError", &r);
    let key = "k".repeat(1024);
    let r = root("PUT", &format!("{ep}/names/{key}"), &[], b"x").await;
    g.status("control: PutObject, key of exactly 1024 bytes", 200, &r);

    let r = root("GET", &format!("{ep}/names/%ff"), &[], b"").await;
    g.err("GetObject, invalid UTF-8 in the path (%ff)", 400, "InvalidURI", &r);
    let r = root("PUT", &format!("{ep}/names/bad%ff%fe"), &[], b"x").await;
    g.err("PutObject, invalid UTF-8 in the path (%ff%fe)", 400, "InvalidURI", &r);

    // Traversal: sent raw, so that no client resolves the dot segments first.
    let outside_before = files_outside_data(&node);
    let mut stored = Vec::new();
    for (i, (path, key)) in
        [("/names/../../x", "../../x"), ("/names/a/../../b", "a/../../b"), ("/names/%2e%2e%2fx", "../x")]
            .into_iter()
            .enumerate()
    {
        let class = format!("PutObject, traversal path {path}");
        let body = format!("traversal body {i}").into_bytes();
        let r = raw_signed(port, "PUT", path, &[], &body).await;
        match r.status {
            200 => {
                let back = raw_signed(port, "GET", path, &[], b"").await;
                let pass = back.status == 200 && back.body == body;
                let listed = list_all_keys(&c, "names").await.iter().any(|k| k == key);
                g.fact(
                    &class,
                    "200 and read back byte-exact under the literal key, or 400",
                    pass && listed,
                    format!("200; GET {} ({} bytes); listed as {key:?}: {listed}", back.status, back.body.len()),
                );
                if listed {
                    stored.push(key);
                }
            }
            400 => {
                g.err_status(&class, 400, &r);
            }
            _ => {
                g.fact(&class, "200 (literal key) or 400", false, r.describe());
            }
        }
    }
    let outside_after = files_outside_data(&node);
    let new: Vec<_> = outside_after.iter().filter(|p| !outside_before.contains(p)).collect();
    g.fact("traversal: no file created outside the data dir", "none", new.is_empty(), format!("{new:?}"));
    let escaped: Vec<_> = files_under(node.root_dir())
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "x" || n == "b"))
        .collect();
    g.fact("traversal: no file named x or b anywhere", "none", escaped.is_empty(), format!("{escaped:?}"));

    // Ranges on a 100-byte object.
    let hundred = random_bytes(100, 100);
    c.put_object()
        .bucket("names")
        .key("hundred")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from(hundred.clone()))
        .send()
        .await
        .expect("PutObject public-read");
    let obj = format!("{ep}/names/hundred");
    let r = anon("GET", &obj, &[("range", "bytes=0-9")]).await;
    g.fact(
        "control: anonymous GET, Range bytes=0-9",
        "206, 10 bytes",
        r.status == 206 && r.body == hundred[..10],
        format!("{} ({} bytes)", r.describe(), r.body.len()),
    );
    for range in ["bytes=abc", "bytes=9-0", "bytes=0-1,5-6"] {
        let r = anon("GET", &obj, &[("range", range)]).await;
        g.fact(
            &format!("anonymous GET of a public-read object, Range {range}"),
            "200, the whole object",
            r.status == 200 && r.body == hundred,
            format!("{} ({} bytes)", r.describe(), r.body.len()),
        );
    }
    let presigned = c
        .get_object()
        .bucket("names")
        .key("hundred")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .expect("presign");
    let url = presigned.uri().to_string();
    for range in ["bytes=abc", "bytes=9-0", "bytes=0-1,5-6"] {
        let r = anon("GET", &url, &[("range", range)]).await;
        g.fact(
            &format!("presigned GET (Range not signed), Range {range}"),
            "200, the whole object",
            r.status == 200 && r.body == hundred,
            format!("{} ({} bytes)", r.describe(), r.body.len()),
        );
    }
    let r = anon("GET", &obj, &[("range", "bytes=200-300")]).await;
    g.err("anonymous GET, Range bytes=200-300 of 100 bytes", 416, "InvalidRange", &r);
    let r = root("GET", &obj, &[("range", "bytes=200-300")], b"").await;
    g.err("signed GET, Range bytes=200-300 of 100 bytes", 416, "InvalidRange", &r);
    let r = root("GET", &obj, &[("range", "bytes=abc")], b"").await;
    g.err_status("signed GET, Range bytes=abc covered by the signature (documented deviation)", 400, &r);

    let mut want = vec!["hundred", key.as_str()];
    want.extend(stored);
    g.listing(&c, "names", &want).await;
    g.finish().await;
}

// ---------------------------------------------------------------------------
// Group 3: lengths, digests, aws-chunked framing
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lengths_digests_and_aws_chunked() {
    within(300, lengths_digests_and_aws_chunked_group()).await;
}

async fn lengths_digests_and_aws_chunked_group() {
    let node = TestNode::start();
    let c = node.client();
    let mut g = Group::new("lengths+chunked", &node);
    let ep = node.endpoint().to_string();
    let port = node.port();
    create_bucket(&c, "len").await;
    let data = random_bytes(11, 5000);

    let r = root("PUT", &format!("{ep}/len/md5-ok"), &[("content-md5", &md5_b64(&data))], &data).await;
    g.status("control: PutObject with the right Content-MD5", 200, &r);

    // A body cut short, then the connection closed.
    for (key, declared, sent) in [("cut-inline", 3000usize, 1000usize), ("cut-sharded", 3 << 20, 3 << 19)] {
        let class = format!("PutObject, Content-Length {declared}, {sent} bytes sent, connection closed");
        let path = format!("/len/{key}");
        let len = declared.to_string();
        let head = raw_head(port, "PUT", &path, &[("content-length", &len)], Some(Payload::Unsigned));
        let body = random_bytes(12, sent);
        let r = raw_exchange(port, vec![head.into_bytes(), body], true, Duration::from_secs(5)).await;
        println!("[lengths+chunked] {class}: the node answered {}", r.describe());
        g.absent(&class, &c, "len", key).await;
        let disks = node.disk_dirs();
        let clean =
            eventually(Duration::from_secs(5), || disks.iter().all(|d| files_under(&d.join("tmp")).is_empty())).await;
        g.fact(
            &format!("{class}: no temp file"),
            "tmp/ empty within 5 s",
            clean,
            if clean { "empty" } else { "files left" },
        );
    }

    let r = root("PUT", &format!("{ep}/len/bad-md5"), &[("content-md5", &md5_b64(b"other data"))], &data).await;
    g.err("PutObject, wrong Content-MD5", 400, "BadDigest", &r);
    g.absent("PutObject, wrong Content-MD5", &c, "len", "bad-md5").await;

    let r = root("PUT", &format!("{ep}/len/b64-md5"), &[("content-md5", "this is not base64!!")], &data).await;
    g.err("PutObject, Content-MD5 not base64", 400, "InvalidDigest", &r);
    g.absent("PutObject, Content-MD5 not base64", &c, "len", "b64-md5").await;

    let r = root("PUT", &format!("{ep}/len/bad-crc"), &[("x-amz-checksum-crc32", &crc32_b64(b"other"))], &data).await;
    g.err("PutObject, wrong x-amz-checksum-crc32", 400, "BadDigest", &r);
    g.absent("PutObject, wrong x-amz-checksum-crc32", &c, "len", "bad-crc").await;

    let url = format!("{ep}/len/bad-sha");
    let mut headers = sigv4_headers("PUT", &url, &[], Payload::Bytes(b"other data"), SystemTime::now(), None);
    headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-length"));
    let r = send("PUT", &url, &headers, data.clone().into()).await;
    g.err("PutObject, wrong x-amz-content-sha256 (signed payload)", 400, "XAmzContentSHA256Mismatch", &r);
    g.absent("PutObject, wrong x-amz-content-sha256", &c, "len", "bad-sha").await;

    // aws-chunked.
    let big = random_bytes(13, 200 * 1024 + 7);
    let url = format!("{ep}/len/stream-ok");
    let r = streaming_put(&url, &big, big.len(), Framing::Correct).await;
    g.status("control: signed aws-chunked PutObject", 200, &r);
    let url = format!("{ep}/len/stream-len");
    let r = streaming_put(&url, &big, big.len() + 100, Framing::Correct).await;
    g.err("aws-chunked, x-amz-decoded-content-length 100 more than the data", 400, "IncompleteBody", &r);
    g.absent("aws-chunked, decoded length disagrees", &c, "len", "stream-len").await;
    let url = format!("{ep}/len/stream-nofinal");
    let r = streaming_put(&url, &big, big.len(), Framing::NoFinalChunk).await;
    g.err("aws-chunked, no final zero-length chunk", 400, "IncompleteBody", &r);
    g.absent("aws-chunked, no final chunk", &c, "len", "stream-nofinal").await;
    let url = format!("{ep}/len/stream-badsig");
    let r = streaming_put(&url, &big, big.len(), Framing::WrongChunkSignature).await;
    g.err("aws-chunked, wrong chunk-signature", 403, "SignatureDoesNotMatch", &r);
    g.absent("aws-chunked, wrong chunk-signature", &c, "len", "stream-badsig").await;
    let url = format!("{ep}/len/stream-hex");
    let r = streaming_put(&url, &big, big.len(), Framing::NonHexSize).await;
    g.err_status("aws-chunked, non-hex chunk size", 400, &r);
    g.absent("aws-chunked, non-hex chunk size", &c, "len", "stream-hex").await;

    g.listing(&c, "len", &["md5-ok", "stream-ok"]).await;
    g.finish().await;
}

// ---------------------------------------------------------------------------
// Group 4: signatures and presigned URLs
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_and_presigned_urls() {
    within(300, signatures_and_presigned_urls_group()).await;
}

async fn signatures_and_presigned_urls_group() {
    let node = TestNode::start();
    let c = node.client();
    let mut g = Group::new("signatures", &node);
    let ep = node.endpoint().to_string();
    create_bucket(&c, "sig").await;
    put_bytes(&c, "sig", "obj", b"signed content".to_vec()).await;
    let obj = format!("{ep}/sig/obj");

    let r = root("GET", &obj, &[], b"").await;
    g.status("control: signed GET", 200, &r);

    let r = signed_as((ROOT_ACCESS_KEY, "not-the-secret"), "PUT", &format!("{ep}/sig/badsig"), &[], b"x").await;
    g.err("PutObject signed with a wrong secret", 403, "SignatureDoesNotMatch", &r);
    g.absent("PutObject with a bad signature", &c, "sig", "badsig").await;
    let r = signed_as((ROOT_ACCESS_KEY, "not-the-secret"), "GET", &obj, &[], b"").await;
    g.err("GetObject signed with a wrong secret", 403, "SignatureDoesNotMatch", &r);
    let r = signed_as(("AKIDNOSUCHKEY0000000", ROOT_SECRET_KEY), "GET", &obj, &[], b"").await;
    g.err("GetObject signed by an unknown key", 403, "InvalidAccessKeyId", &r);

    let old = SystemTime::now() - Duration::from_secs(20 * 60);
    let mut h = sigv4_headers("GET", &obj, &[], Payload::Bytes(b""), old, None);
    h.retain(|(k, _)| !k.eq_ignore_ascii_case("content-length"));
    let r = send("GET", &obj, &h, Vec::<u8>::new().into()).await;
    g.err("request with x-amz-date 20 minutes old (replay)", 403, "RequestTimeTooSkewed", &r);

    let day = h.iter().find(|(k, _)| k == "x-amz-date").map(|(_, v)| v[..8].to_string()).unwrap();
    let scope = format!("Credential=cairnadmin/{day}/us-east-1/s3/aws4_request");
    for (class, auth) in [
        ("Authorization: garbage", "garbage".to_string()),
        ("Authorization: bare algorithm", "AWS4-HMAC-SHA256".to_string()),
        (
            "Authorization: credential without scope",
            "AWS4-HMAC-SHA256 Credential=cairnadmin, SignedHeaders=host, Signature=abc".to_string(),
        ),
        (
            "Authorization: empty SignedHeaders and Signature",
            format!("AWS4-HMAC-SHA256 {scope}, SignedHeaders=, Signature="),
        ),
        (
            "Authorization: scope date not a date",
            format!(
                "AWS4-HMAC-SHA256 {}, SignedHeaders=host;x-amz-date, Signature=00",
                scope.replace(&day, "2O2X0101")
            ),
        ),
        ("Authorization: SigV2 with a junk signature", "AWS cairnadmin:bm90IGEgc2lnbmF0dXJl".to_string()),
    ] {
        let (want_status, want_code) = match auth.as_str() {
            "garbage" => (400, "InvalidArgument"),
            a if a.starts_with("AWS ") => (403, "SignatureDoesNotMatch"),
            _ => (400, "AuthorizationHeaderMalformed"),
        };
        let now = sigv4_headers("GET", &obj, &[], Payload::Bytes(b""), SystemTime::now(), None);
        let date = now.iter().find(|(k, _)| k == "x-amz-date").map(|(_, v)| v.clone()).unwrap();
        let headers = vec![
            ("authorization".to_string(), auth),
            ("x-amz-date".to_string(), date),
            ("x-amz-content-sha256".to_string(), sha256_hex(b"")),
        ];
        let r = send("GET", &obj, &headers, Vec::<u8>::new().into()).await;
        // As AWS: a scheme that is not AWS's is InvalidArgument (Unsupported
        // Authorization Type), a broken SigV4 header AuthorizationHeaderMalformed, and
        // a well-formed one with a wrong signature 403.
        g.err(class, want_status, want_code, &r);
    }

    let h = sign_in_region("GET", &obj, "eu-west-1", SystemTime::now());
    let r = send("GET", &obj, &h, Vec::<u8>::new().into()).await;
    g.err("credential scope naming eu-west-1 (node: us-east-1)", 400, "AuthorizationHeaderMalformed", &r);

    // Presigned URLs, built by hand.
    let url = presign("GET", &obj, REGION, 300, SystemTime::now());
    let r = anon("GET", &url, &[]).await;
    g.status("control: hand-presigned GET", 200, &r);
    let url = presign("GET", &obj, REGION, 60, SystemTime::now() - Duration::from_secs(600));
    let r = anon("GET", &url, &[]).await;
    g.err("presigned URL expired", 403, "AccessDenied", &r);
    let url = presign("GET", &obj, REGION, 604_801, SystemTime::now());
    let r = anon("GET", &url, &[]).await;
    g.err("presigned URL with X-Amz-Expires=604801", 400, "AuthorizationQueryParametersError", &r);
    let url = presign("GET", &obj, REGION, 604_800, SystemTime::now());
    let r = anon("GET", &url, &[]).await;
    g.status("control: presigned URL with X-Amz-Expires=604800", 200, &r);
    let url = presign("GET", &obj, "eu-west-1", 300, SystemTime::now());
    let r = anon("GET", &url, &[]).await;
    g.err("presigned URL with scope region eu-west-1", 400, "AuthorizationQueryParametersError", &r);
    let url = presign("GET", &obj, REGION, 300, SystemTime::now());
    let last = url.chars().last().unwrap();
    let tampered = format!("{}{}", &url[..url.len() - 1], if last == '0' { '1' } else { '0' });
    let r = anon("GET", &tampered, &[]).await;
    g.err("presigned URL with a tampered signature", 403, "SignatureDoesNotMatch", &r);
    let url = presign("PUT", &format!("{ep}/sig/presigned-put"), REGION, 300, SystemTime::now());
    let t = format!("{}{}", &url[..url.len() - 1], if url.ends_with('0') { '1' } else { '0' });
    let r = send("PUT", &t, &[], b"x".to_vec().into()).await;
    g.err("presigned PUT with a tampered signature", 403, "SignatureDoesNotMatch", &r);
    g.absent("presigned PUT with a tampered signature", &c, "sig", "presigned-put").await;

    g.listing(&c, "sig", &["obj"]).await;
    g.finish().await;
}

// ---------------------------------------------------------------------------
// Group 5: unimplemented features, metadata, oversized heads
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unimplemented_features_metadata_and_heads() {
    within(300, unimplemented_features_metadata_and_heads_group()).await;
}

async fn unimplemented_features_metadata_and_heads_group() {
    let node = TestNode::start();
    let c = node.client();
    let mut g = Group::new("unimplemented", &node);
    let ep = node.endpoint().to_string();
    create_bucket(&c, "feat").await;
    put_bytes(&c, "feat", "exists", b"exists".to_vec()).await;

    let sse_c_key = random_bytes(21, 32);
    let sse_c_b64 = b64(&sse_c_key);
    let other_md5 = md5_b64(b"another key");
    // (what, key, headers, status, code)
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "PutObject, x-amz-server-side-encryption: AES256 on a node without a master key",
            "sse",
            vec![("x-amz-server-side-encryption", "AES256")],
            501,
            "NotImplemented",
        ),
        (
            "PutObject, SSE-C headers whose key MD5 does not match",
            "sse-c",
            vec![
                ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                ("x-amz-server-side-encryption-customer-key", sse_c_b64.as_str()),
                ("x-amz-server-side-encryption-customer-key-md5", other_md5.as_str()),
            ],
            400,
            "InvalidArgument",
        ),
        (
            "PutObject, SSE-KMS (aws:kms + key id)",
            "sse-kms",
            vec![
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-aws-kms-key-id", "arn:aws:kms:us-east-1:111122223333:key/abcd"),
            ],
            501,
            "NotImplemented",
        ),
        (
            "PutObject, x-amz-storage-class: GLACIER",
            "glacier",
            vec![("x-amz-storage-class", "GLACIER")],
            501,
            "NotImplemented",
        ),
    ];
    for (class, key, headers, status, code) in cases {
        let r = root("PUT", &format!("{ep}/feat/{key}"), &headers, b"data").await;
        g.err(class, status, code, &r);
        g.absent(class, &c, "feat", key).await;
    }

    // Object lock headers on a bucket without lock are refused, and nothing is stored.
    let r = root("PUT", &format!("{ep}/feat/legal-hold"), &[("x-amz-object-lock-legal-hold", "ON")], b"data").await;
    g.err("PutObject, x-amz-object-lock-legal-hold: ON, bucket without lock", 400, "InvalidRequest", &r);
    g.absent("PutObject with a legal hold, bucket without lock", &c, "feat", "legal-hold").await;
    let bad_tags = [("x-amz-tagging", "a=1&a=2")];
    let r = root("PUT", &format!("{ep}/feat/tagged"), &bad_tags, b"data").await;
    g.err("PutObject, x-amz-tagging with a key twice", 400, "InvalidTag", &r);
    g.absent("PutObject with bad tags", &c, "feat", "tagged").await;

    let r = root("PUT", &format!("{ep}/locked"), &[("x-amz-bucket-object-lock-enabled", "true")], b"").await;
    g.fact("CreateBucket, x-amz-bucket-object-lock-enabled: true", "200", r.status == 200, r.describe());
    let r = root("GET", &format!("{ep}/locked?object-lock"), &[], b"").await;
    let text = r.text();
    g.fact(
        "GetObjectLockConfiguration of a bucket created with lock",
        "200, ObjectLockEnabled Enabled",
        r.status == 200 && text.contains("<ObjectLockEnabled>Enabled</ObjectLockEnabled>"),
        format!("{}: {text}", r.describe()),
    );

    let r = root("GET", &format!("{ep}/feat?versioning"), &[], b"").await;
    let text = r.text();
    g.fact(
        "GetBucketVersioning of a fresh bucket",
        "200, VersioningConfiguration without Status",
        r.status == 200 && text.contains("VersioningConfiguration") && !text.contains("<Status>"),
        format!("{}: {text}", r.describe()),
    );
    // Versioning is implemented: MFA delete, which it needs a device for, is not.
    let mfa = concat!(
        "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
        "<Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>"
    )
    .as_bytes();
    let r = root("PUT", &format!("{ep}/feat?versioning"), &[("content-md5", &md5_b64(mfa))], mfa).await;
    g.err("PutBucketVersioning with MFA delete", 501, "NotImplemented", &r);
    let r = root("GET", &format!("{ep}/feat?cors"), &[], b"").await;
    g.err("GetBucketCors", 404, "NoSuchCORSConfiguration", &r);
    let r = root("GET", &format!("{ep}/feat?tagging"), &[], b"").await;
    g.err("GetBucketTagging", 404, "NoSuchTagSet", &r);
    let r = root("GET", &format!("{ep}/feat/exists?tagging"), &[], b"").await;
    let text = r.text();
    g.fact(
        "GetObjectTagging of an existing object",
        "200, empty TagSet",
        r.status == 200 && text.contains("TagSet") && !text.contains("<Tag>"),
        format!("{}: {text}", r.describe()),
    );

    let r = head_only(
        "POST",
        &format!("{ep}/feat"),
        &[("content-type", "multipart/form-data; boundary=----hostileboundary")],
        1 << 30,
        false,
    )
    .await;
    g.err("browser form POST, anonymous, announcing 1 GiB, head only", 501, "NotImplemented", &r);
    g.fact("browser form POST: answered before the body", "< 5 s", r.elapsed < PROMPT, format!("{:?}", r.elapsed));

    // Metadata and heads.
    let big = "m".repeat(3000);
    let r = root("PUT", &format!("{ep}/feat/meta3k"), &[("x-amz-meta-big", &big)], b"data").await;
    g.err("PutObject, 3 KB of user metadata", 400, "MetadataTooLarge", &r);
    g.absent("PutObject, 3 KB of user metadata", &c, "feat", "meta3k").await;
    let (v1, v2) = ("1".repeat(1022), "2".repeat(1022));
    let r = root("PUT", &format!("{ep}/feat/meta2k"), &[("x-amz-meta-k1", &v1), ("x-amz-meta-k2", &v2)], b"data").await;
    g.status("PutObject, user metadata of exactly 2 KB (2048 bytes)", 200, &r);
    let h = c.head_object().bucket("feat").key("meta2k").send().await;
    let meta_ok =
        h.as_ref().is_ok_and(|h| h.metadata().is_some_and(|m| m.get("k1") == Some(&v1) && m.get("k2") == Some(&v2)));
    g.fact(
        "2 KB of user metadata reads back",
        "k1, k2 intact",
        meta_ok,
        format!("{:?}", h.map(|h| h.metadata().map(|m| m.len()))),
    );

    let pad = "p".repeat(66 * 1024);
    let head = raw_head(node.port(), "GET", "/feat/exists", &[("x-pad", &pad)], None);
    let r = raw_exchange(node.port(), vec![head.into_bytes()], false, Duration::from_secs(10)).await;
    g.fact("request head over 64 KiB", "431", r.status == 431, r.describe());

    g.listing(&c, "feat", &["exists", "meta2k"]).await;
    g.finish().await;
}

// ---------------------------------------------------------------------------
// Group 6: copy sources and S3 behaviours
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_sources_and_s3_behaviours() {
    within(300, copy_sources_and_s3_behaviours_group()).await;
}

async fn copy_sources_and_s3_behaviours_group() {
    let node = TestNode::start();
    let c = node.client();
    let mut g = Group::new("copy+behaviours", &node);
    let ep = node.endpoint().to_string();

    // A key `pub` readable by bob through the bucket policy, and a private `pub?secret`.
    create_bucket(&c, "share").await;
    put_bytes(&c, "share", "pub", b"public".to_vec()).await;
    put_bytes(&c, "share", "pub?secret", b"the secret".to_vec()).await;
    let (bob_id, bob_secret) = create_key(&node, "bob").await;
    let bob = (bob_id.as_str(), bob_secret.as_str());
    put_policy(
        &c,
        "share",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": [bob_id]},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::share/pub"}]}),
    )
    .await;
    let r = signed_as(bob, "PUT", &format!("{ep}/bobs"), &[], b"").await;
    assert_eq!(r.status, 200, "bob creates his bucket: {}", r.text());
    let r = signed_as(bob, "GET", &format!("{ep}/share/pub%3Fsecret"), &[], b"").await;
    g.err("control: bob GetObject share/pub?secret", 403, "AccessDenied", &r);

    let r = signed_as(bob, "PUT", &format!("{ep}/bobs/copy-pub"), &[("x-amz-copy-source", "share/pub")], b"").await;
    g.status("control: bob CopyObject from share/pub", 200, &r);
    let r = signed_as(bob, "PUT", &format!("{ep}/bobs/raw-q"), &[("x-amz-copy-source", "share/pub?secret")], b"").await;
    g.err("CopyObject, x-amz-copy-source share/pub?secret (raw '?')", 400, "InvalidArgument", &r);
    let r =
        signed_as(bob, "PUT", &format!("{ep}/bobs/enc-q"), &[("x-amz-copy-source", "share/pub%3Fsecret")], b"").await;
    g.err("CopyObject, x-amz-copy-source share/pub%3Fsecret by bob", 403, "AccessDenied", &r);
    let bc = ClientBuilder::new(&ep).credentials(bob.0, bob.1).build();
    for key in ["raw-q", "enc-q"] {
        g.absent(&format!("CopyObject of the private key into bobs/{key}"), &bc, "bobs", key).await;
    }
    let r = root("PUT", &format!("{ep}/share/c1"), &[("x-amz-copy-source", "no-such-bucket/pub")], b"").await;
    g.err("CopyObject, source bucket missing", 404, "NoSuchBucket", &r);
    let r = root("PUT", &format!("{ep}/share/c2"), &[("x-amz-copy-source", "share")], b"").await;
    g.err("CopyObject, source without a key", 400, "InvalidArgument", &r);

    // x-amz-expected-bucket-owner.
    let obj = format!("{ep}/share/pub");
    let r = root("GET", &obj, &[("x-amz-expected-bucket-owner", "111122223333")], b"").await;
    g.err("x-amz-expected-bucket-owner naming someone else", 403, "AccessDenied", &r);
    let owner = sha256_hex(format!("cairn-owner:{ROOT_ACCESS_KEY}").as_bytes());
    let r = root("GET", &obj, &[("x-amz-expected-bucket-owner", &owner)], b"").await;
    g.status("x-amz-expected-bucket-owner naming the owner", 200, &r);

    // A conditional GET answered 304.
    let etag = etag_of(b"public");
    let r = root("GET", &obj, &[("if-none-match", &etag)], b"").await;
    let pass = r.status == 304 && r.header("etag") == Some(etag.as_str()) && r.header("last-modified").is_some();
    g.fact(
        "conditional GET answered 304",
        "304 with ETag and Last-Modified",
        pass,
        format!("{} etag={:?} last-modified={:?}", r.status, r.header("etag"), r.header("last-modified")),
    );

    let r = root("PUT", &format!("{ep}/share"), &[], b"").await;
    g.status("CreateBucket of a bucket you already own (us-east-1)", 200, &r);
    let r = signed_as(bob, "PUT", &format!("{ep}/share"), &[], b"").await;
    g.err("CreateBucket of a bucket someone else owns", 409, "BucketAlreadyExists", &r);

    // DeleteBucket holding only an incomplete multipart upload.
    create_bucket(&c, "mpu-only").await;
    c.create_multipart_upload().bucket("mpu-only").key("pending").send().await.expect("CreateMultipartUpload");
    let r = root("DELETE", &format!("{ep}/mpu-only"), &[], b"").await;
    g.status("DeleteBucket holding only an incomplete multipart upload", 204, &r);
    let head = c.head_bucket().bucket("mpu-only").send().await;
    let status = head.as_ref().err().and_then(|e| ErrInfo::from_sdk(e).status);
    g.fact("DeleteBucket with an upload: the bucket is gone", "HEAD 404", status == Some(404), format!("{status:?}"));

    // A repeated CompleteMultipartUpload.
    let part = random_bytes(31, 2000);
    let (id, part_etag) = one_part_upload(&c, "share", "mpu", &part).await;
    let done = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(&part_etag).build())
        .build();
    let first = c
        .complete_multipart_upload()
        .bucket("share")
        .key("mpu")
        .upload_id(&id)
        .multipart_upload(done.clone())
        .send()
        .await
        .expect("CompleteMultipartUpload");
    let second =
        c.complete_multipart_upload().bucket("share").key("mpu").upload_id(&id).multipart_upload(done).send().await;
    let (pass, observed) = match &second {
        Ok(o) => (o.e_tag() == first.e_tag(), format!("200, ETag {:?} (first {:?})", o.e_tag(), first.e_tag())),
        Err(e) => (false, format!("{:?}", ErrInfo::from_sdk(e))),
    };
    g.fact("CompleteMultipartUpload repeated after success", "200 with the same ETag", pass, observed);

    // Anonymous GET of a missing key.
    create_bucket(&c, "listable").await;
    put_policy(
        &c,
        "listable",
        &json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::listable"},
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::listable/*"}]}),
    )
    .await;
    let r = anon("GET", &format!("{ep}/listable/missing"), &[]).await;
    g.err("anonymous GET of a missing key, anonymous s3:ListBucket allowed", 404, "NoSuchKey", &r);
    let r = anon("GET", &format!("{ep}/share/missing"), &[]).await;
    g.err("anonymous GET of a missing key, no policy allows listing", 403, "AccessDenied", &r);

    let r = root("PATCH", &obj, &[], b"patch").await;
    let pass = (400..500).contains(&r.status) || r.status == 501;
    g.fact("unknown method PATCH", "4xx or 501 (never another 5xx)", pass, r.describe());

    g.listing(&c, "share", &["mpu", "pub", "pub?secret"]).await;
    g.listing(&bc, "bobs", &["copy-pub"]).await;
    g.finish().await;
}
