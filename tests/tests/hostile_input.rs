//! The hostile-input suite: each class of malformed or hostile request, sent to a
//! real node, gets exactly the status and S3 error code AWS gives (or Cairn's
//! documented answer), a complete error body (Code, a Message, RequestId, HostId),
//! and leaves nothing behind: no object for a refused write, no temp file, the node
//! alive and its memory bounded. `hostile_load.rs` covers slots, slow bodies and
//! many connections.
//!
//! Each test runs a table of classes against one node; a failure names its class.

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use cairn_tests::*;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What one class must answer.
struct Want {
    status: u16,
    /// The S3 error code (None: a success, or an answer without a body).
    code: Option<&'static str>,
}

const fn want(status: u16, code: &'static str) -> Want {
    Want { status, code: Some(code) }
}

const fn ok(status: u16) -> Want {
    Want { status, code: None }
}

/// Checks one answer: status, code, and a complete error body.
#[track_caller]
fn check(class: &str, want: &Want, status: u16, body: &str) {
    assert_eq!(status, want.status, "{class}: status (body: {body})");
    if let Some(code) = want.code {
        assert_eq!(xml_error_code(body).as_deref(), Some(code), "{class}: code (body: {body})");
        let message = xml_tag(body, "Message").unwrap_or_default();
        assert!(!message.trim().is_empty(), "{class}: the error says what was wrong: {body}");
        assert!(xml_tag(body, "RequestId").is_some_and(|r| !r.is_empty()), "{class}: RequestId: {body}");
        assert!(xml_tag(body, "HostId").is_some_and(|r| !r.is_empty()), "{class}: HostId: {body}");
    }
}

/// A root-signed request through reqwest; `headers` are signed too.
async fn signed(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    send_signed(method, url, headers, Payload::Bytes(body), body.to_vec(), SystemTime::now()).await
}

/// The SigV4 headers of a root-signed request, as (name, value) lines for a raw head.
fn signed_head(method: &str, url: &str, headers: &[(&str, &str)], payload: Payload<'_>) -> String {
    let path = url.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap_or_else(|| "/".into());
    let host = url.split('/').nth(2).unwrap_or("");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    for (k, v) in sigv4_headers(method, url, headers, payload, SystemTime::now(), None) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head
}

/// Sends raw bytes on a new connection and reads the answer until the server closes
/// (or 10 s pass). Returns (status, body).
async fn raw(port: u16, bytes: &[u8]) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let _ = s.write_all(bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn md5_b64_of(data: &[u8]) -> String {
    md5_b64(data)
}

fn delete_xml(keys: &[&str]) -> String {
    let objects: String = keys.iter().map(|k| format!("<Object><Key>{k}</Key></Object>")).collect();
    format!("<Delete>{objects}</Delete>")
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// After a group: the node is alive, its memory stayed bounded, no temp file is left.
async fn aftermath(node: &TestNode, group: &str) {
    let live = raw_http().get(format!("{}/health/live", node.endpoint())).send().await.expect("health");
    assert_eq!(live.status().as_u16(), 200, "{group}: node alive");
    let rss = node.peak_rss_bytes();
    assert!(rss < 400 << 20, "{group}: peak RSS {} MiB", rss >> 20);
    // Temp files of refused writes are removed at once (a writer that ends aborts).
    let leftover =
        eventually(Duration::from_secs(5), || node.disk_dirs().iter().all(|d| files_under(&d.join("tmp")).is_empty()))
            .await;
    assert!(
        leftover,
        "{group}: temp files left: {:?}",
        node.disk_dirs().iter().map(|d| files_under(&d.join("tmp"))).collect::<Vec<_>>()
    );
    assert!(!node.log_text().contains("panicked"), "{group}: a panic in the log");
}

async fn absent(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> bool {
    c.head_object().bucket(bucket).key(key).send().await.is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_read_whole() {
    within(120, async {
        let node = TestNode::start();
        let c = node.client();
        create_bucket(&c, "hostile").await;
        put_bytes(&c, "hostile", "keep", b"keep".to_vec()).await;
        let base = format!("{}/hostile", node.endpoint());
        let del = format!("{base}?delete");

        // DeleteObjects
        let xml = b"<Delete><Object><Key>keep</Key></Object>".to_vec();
        let r = signed("POST", &del, &[("content-md5", &md5_b64_of(&xml))], &xml).await;
        check("DeleteObjects, malformed XML", &want(400, "MalformedXML"), r.0, &r.1);
        let xml = delete_xml(&["keep"]).into_bytes();
        let r = signed("POST", &del, &[], &xml).await;
        check("DeleteObjects without a digest", &want(400, "InvalidRequest"), r.0, &r.1);
        let r = signed("POST", &del, &[("content-md5", &md5_b64_of(b"other"))], &xml).await;
        check("DeleteObjects, wrong Content-MD5", &want(400, "BadDigest"), r.0, &r.1);
        assert!(!absent(&c, "hostile", "keep").await, "a DeleteObjects with a wrong digest deleted the key");
        let r = signed("POST", &del, &[("content-md5", "not base64!")], &xml).await;
        check("DeleteObjects, Content-MD5 not base64", &want(400, "InvalidDigest"), r.0, &r.1);
        let r = signed("POST", &del, &[("x-amz-checksum-crc32", &crc32_b64(b"other"))], &xml).await;
        check("DeleteObjects, wrong x-amz-checksum-crc32", &want(400, "BadDigest"), r.0, &r.1);
        assert!(!absent(&c, "hostile", "keep").await);
        let many: Vec<String> = (0..1001).map(|i| format!("k{i}")).collect();
        let xml = delete_xml(&many.iter().map(String::as_str).collect::<Vec<_>>()).into_bytes();
        let r = signed("POST", &del, &[("content-md5", &md5_b64_of(&xml))], &xml).await;
        check("DeleteObjects of 1001 keys", &want(400, "MalformedXML"), r.0, &r.1);
        let bomb = br#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]><Delete><Object><Key>&f;</Key></Object></Delete>"#;
        let r = signed("POST", &del, &[("content-md5", &md5_b64_of(bomb))], bomb).await;
        check("DeleteObjects, XML entity expansion", &want(400, "MalformedXML"), r.0, &r.1);

        // An oversized body is refused from its head: only the head is sent.
        let port = node.port();
        let head = signed_head(
            "POST",
            &del,
            &[("content-md5", "AAAAAAAAAAAAAAAAAAAAAA=="), ("content-length", "3000000")],
            Payload::Unsigned,
        );
        let r = raw(port, format!("{head}\r\n").as_bytes()).await;
        check("DeleteObjects announcing 3 MB", &want(400, "MaxMessageLengthExceeded"), r.0, &r.1);
        let head = signed_head("PUT", &format!("{base}?policy"), &[("content-length", "2097153")], Payload::Unsigned);
        let r = raw(port, format!("{head}\r\n").as_bytes()).await;
        check("PutBucketPolicy announcing 2 MiB + 1", &want(400, "MaxMessageLengthExceeded"), r.0, &r.1);
        // Without a Content-Length the body cannot be bounded in advance: refused.
        let head = signed_head("POST", &del, &[("transfer-encoding", "chunked")], Payload::Unsigned);
        let r = raw(port, format!("{head}\r\n5\r\n<Dele\r\n0\r\n\r\n").as_bytes()).await;
        check("DeleteObjects without Content-Length", &want(411, "MissingContentLength"), r.0, &r.1);

        // Bucket policies
        let pol = format!("{base}?policy");
        let r = signed("PUT", &pol, &[], b"{\"Version\": \"2012-10-17\", \"Statement\": [").await;
        check("PutBucketPolicy, malformed JSON", &want(400, "MalformedPolicy"), r.0, &r.1);
        let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::hostile/public/*"}]})
        .to_string();
        let r = signed("PUT", &pol, &[("content-md5", &md5_b64_of(b"other"))], doc.as_bytes()).await;
        check("PutBucketPolicy, wrong Content-MD5", &want(400, "BadDigest"), r.0, &r.1);
        assert!(c.get_bucket_policy().bucket("hostile").send().await.is_err(), "a policy with a bad digest was stored");
        let wrong_sha = hex::encode(Sha256::digest(b"other"));
        let r = send_signed(
            "PUT",
            &pol,
            &[],
            Payload::Precomputed(wrong_sha.clone()),
            doc.clone().into_bytes(),
            SystemTime::now(),
        )
        .await;
        check("PutBucketPolicy, wrong x-amz-content-sha256", &want(400, "XAmzContentSHA256Mismatch"), r.0, &r.1);
        let r = send_signed("PUT", &format!("{}/hnew", node.endpoint()), &[], Payload::Precomputed(wrong_sha), vec![], SystemTime::now()).await;
        check("CreateBucket, empty body with another body's hash", &want(400, "XAmzContentSHA256Mismatch"), r.0, &r.1);
        assert_status_err("no bucket made", c.head_bucket().bucket("hnew").send().await, 404);
        // aws-chunked only carries object uploads.
        let r = signed("POST", &del, &[("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", "10"), ("content-md5", "AAAAAAAAAAAAAAAAAAAAAA==")], b"a\r\n0123456789\r\n0\r\n\r\n").await;
        check("DeleteObjects, aws-chunked", &want(501, "NotImplemented"), r.0, &r.1);

        // CompleteMultipartUpload
        let up = c.create_multipart_upload().bucket("hostile").key("mpu").checksum_algorithm(ChecksumAlgorithm::Sha256).send().await.unwrap();
        let id = up.upload_id().unwrap().to_string();
        let part = random_bytes(7, 1000);
        let p = c
            .upload_part()
            .bucket("hostile")
            .key("mpu")
            .upload_id(&id)
            .part_number(1)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .body(ByteStream::from(part.clone()))
            .send()
            .await
            .unwrap();
        let complete_url = format!("{base}/mpu?uploadId={id}");
        let r = signed("POST", &complete_url, &[], b"<CompleteMultipartUpload><Part>").await;
        check("CompleteMultipartUpload, malformed XML", &want(400, "MalformedXML"), r.0, &r.1);
        let xml = format!(
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{}</ETag><ChecksumSHA256>{}</ChecksumSHA256></Part></CompleteMultipartUpload>",
            p.e_tag().unwrap(),
            p.checksum_sha256().unwrap()
        );
        let r = signed("POST", &complete_url, &[("content-md5", &md5_b64_of(b"x"))], xml.as_bytes()).await;
        check("CompleteMultipartUpload, wrong Content-MD5", &want(400, "BadDigest"), r.0, &r.1);
        let parts = CompletedMultipartUpload::builder()
            .parts(
                CompletedPart::builder()
                    .part_number(1)
                    .e_tag(p.e_tag().unwrap())
                    .checksum_sha256(p.checksum_sha256().unwrap())
                    .build(),
            )
            .build();
        let bad = c
            .complete_multipart_upload()
            .bucket("hostile")
            .key("mpu")
            .upload_id(&id)
            .multipart_upload(parts.clone())
            .checksum_sha256(b64(&Sha256::digest(b"not the parts")))
            .send()
            .await;
        assert_s3_err("CompleteMultipartUpload, wrong whole-object SHA256", bad, 400, "BadDigest");
        assert!(absent(&c, "hostile", "mpu").await, "completed despite a wrong checksum");
        let first = c.complete_multipart_upload().bucket("hostile").key("mpu").upload_id(&id).multipart_upload(parts.clone()).send().await.unwrap();
        let again = c.complete_multipart_upload().bucket("hostile").key("mpu").upload_id(&id).multipart_upload(parts).send().await.expect("repeated complete");
        assert_eq!(first.e_tag(), again.e_tag(), "CompleteMultipartUpload repeated: same answer");

        aftermath(&node, "bodies read whole").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_ranges_lengths_and_digests() {
    within(120, async {
        let node = TestNode::start();
        let c = node.client();
        let ep = node.endpoint().to_string();
        create_bucket(&c, "hostile").await;
        let hundred = random_bytes(3, 100);
        c.put_object()
            .bucket("hostile")
            .key("pub")
            .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
            .body(ByteStream::from(hundred.clone()))
            .send()
            .await
            .unwrap();
        put_bytes(&c, "hostile", "empty", Vec::new()).await;

        // Names
        let long = "x".repeat(64);
        for (class, bucket) in [
            ("bucket name with capitals", "BadName"),
            ("bucket name of 2 characters", "ab"),
            ("bucket name of 64 characters", long.as_str()),
            ("bucket name shaped like an IP address", "192.168.1.1"),
            ("bucket name with '..'", "a..b"),
        ] {
            let r = signed("PUT", &format!("{ep}/{bucket}"), &[], b"").await;
            check(class, &want(400, "InvalidBucketName"), r.0, &r.1);
        }
        let r = signed("PUT", &format!("{ep}/cairn"), &[], b"").await;
        assert!((400..500).contains(&r.0), "the reserved bucket name cairn: {} {}", r.0, r.1);
        let key = "k".repeat(1025);
        let r = signed("PUT", &format!("{ep}/hostile/{key}"), &[], b"x").await;
        check("key of 1025 bytes", &want(400, "KeyTooLongError"), r.0, &r.1);
        let r = signed("GET", &format!("{ep}/hostile/%ff%fe"), &[], b"").await;
        check("invalid UTF-8 in the path", &want(400, "InvalidURI"), r.0, &r.1);
        // Traversal: a key is a name, never a path on disk.
        let outside = node.root_dir().parent().unwrap().to_path_buf();
        let before: Vec<_> = std::fs::read_dir(&outside).unwrap().flatten().map(|e| e.file_name()).collect();
        for (class, key) in [
            ("key ../../escape", "../../escape"),
            ("key a/../../escape2", "a/../../escape2"),
            ("key ./.././escape3", "./.././escape3"),
        ] {
            let put =
                c.put_object().bucket("hostile").key(key).body(ByteStream::from_static(b"traversal")).send().await;
            match put {
                Ok(_) => {
                    let got = get_bytes(&c, "hostile", key).await;
                    assert_eq!(got, b"traversal", "{class}: read back as a literal key");
                }
                Err(e) => {
                    let e = ErrInfo::from_sdk(&e);
                    assert_eq!(e.status, Some(400), "{class}: refused, if refused, with 400: {e:?}");
                }
            }
        }
        let after: Vec<_> = std::fs::read_dir(&outside).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(after.iter().all(|f| before.contains(f)), "a file appeared outside the data dir: {after:?}");

        // Ranges: AWS ignores one it cannot parse, unless a signature covers it.
        let public = format!("{ep}/hostile/pub");
        for (class, range) in [
            ("unsigned Range bytes=abc", "bytes=abc"),
            ("unsigned Range bytes=9-0", "bytes=9-0"),
            ("unsigned multi-range", "bytes=0-1,5-6"),
        ] {
            let r = raw_http().get(&public).header("range", range).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200, "{class}: the whole object");
            assert_eq!(r.bytes().await.unwrap().len(), 100, "{class}");
        }
        let r = raw_http().get(&public).header("range", "bytes=200-300").send().await.unwrap();
        let status = r.status().as_u16();
        check("unsatisfiable Range", &want(416, "InvalidRange"), status, &r.text().await.unwrap());
        let r = signed("GET", &format!("{ep}/hostile/empty"), &[("range", "bytes=-10")], b"").await;
        check("suffix Range of an empty object", &want(416, "InvalidRange"), r.0, &r.1);
        let r = signed("GET", &public, &[("range", "bytes=9-0")], b"").await;
        check("signed malformed Range (s3s refuses it)", &want(400, "InvalidArgument"), r.0, &r.1);
        let presigned = c
            .get_object()
            .bucket("hostile")
            .key("pub")
            .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
            .await
            .unwrap();
        let r = raw_http().get(presigned.uri()).header("range", "bytes=zz").send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "presigned GET with a malformed unsigned Range");

        // Object bodies
        let url = format!("{ep}/hostile/refused");
        let body = b"the body".to_vec();
        let r = signed("PUT", &url, &[("content-md5", &md5_b64_of(b"other"))], &body).await;
        check("PUT, wrong Content-MD5", &want(400, "BadDigest"), r.0, &r.1);
        let r = signed("PUT", &url, &[("content-md5", "%%%")], &body).await;
        check("PUT, Content-MD5 not base64", &want(400, "InvalidDigest"), r.0, &r.1);
        let r = signed("PUT", &url, &[("x-amz-checksum-crc32", &crc32_b64(b"other"))], &body).await;
        check("PUT, wrong x-amz-checksum-crc32", &want(400, "BadDigest"), r.0, &r.1);
        let r = send_signed(
            "PUT",
            &url,
            &[],
            Payload::Precomputed(hex::encode(Sha256::digest(b"other"))),
            body.clone(),
            SystemTime::now(),
        )
        .await;
        check("PUT, wrong x-amz-content-sha256", &want(400, "XAmzContentSHA256Mismatch"), r.0, &r.1);
        let meta = "v".repeat(1500);
        let r = signed("PUT", &url, &[("x-amz-meta-a", &meta), ("x-amz-meta-b", &meta)], &body).await;
        check("PUT, 3 KB of user metadata", &want(400, "MetadataTooLarge"), r.0, &r.1);
        assert!(absent(&c, "hostile", "refused").await, "a refused PUT left an object");
        let r = signed("PUT", &url, &[("x-amz-meta-a", &"v".repeat(1000)), ("x-amz-meta-b", &"v".repeat(1000))], &body)
            .await;
        assert_eq!(r.0, 200, "2 KB of user metadata is allowed: {}", r.1);
        // A body shorter than its Content-Length, then the connection closes.
        let head =
            signed_head("PUT", &format!("{ep}/hostile/short"), &[("content-length", "1000000")], Payload::Unsigned);
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", node.port())).await.unwrap();
        s.write_all(format!("{head}\r\n").as_bytes()).await.unwrap();
        s.write_all(&[7u8; 300_000]).await.unwrap();
        drop(s);
        let big = format!("{}/hostile/big", ep);
        let head = signed_head("PUT", &big, &[("content-length", "6000000000")], Payload::Unsigned);
        let r = raw(node.port(), format!("{head}\r\n").as_bytes()).await;
        check("PUT announcing 6 GB", &want(400, "EntityTooLarge"), r.0, &r.1);
        // Headers
        let huge = "hostile".repeat(70 * 1024);
        let r = raw_http().get(&public).header("x-junk", huge).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 431, "a request head over 64 KiB");
        // response-* overrides
        let r = signed("HEAD", &format!("{public}?response-content-type=a%0D%0Ab"), &[], b"").await;
        assert_eq!(r.0, 400, "HEAD with a control character in response-content-type");
        let r = raw_http().get(format!("{public}?response-content-type=text%2Fplain")).send().await.unwrap();
        let status = r.status().as_u16();
        check(
            "anonymous GET with response-* overrides",
            &want(400, "InvalidRequest"),
            status,
            &r.text().await.unwrap(),
        );
        // Methods S3 does not have.
        let r = raw_http().request(reqwest::Method::PATCH, &public).send().await.unwrap();
        assert!((400..500).contains(&r.status().as_u16()) || r.status().as_u16() == 501, "PATCH: {}", r.status());

        // Virtual hosts are case-insensitive.
        let r = raw_http()
            .get(format!("http://127.0.0.1:{}/pub", node.port()))
            .header("host", format!("HOSTILE.LOCALHOST:{}", node.port()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "virtual host with capitals");

        let mut gone = false;
        for _ in 0..50 {
            if absent(&c, "hostile", "short").await {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(gone, "a body cut short left an object");
        aftermath(&node, "names, ranges, lengths, digests").await;
    })
    .await;
}

/// A presigned GET URL signed by hand (the SDK will not sign a week and a second,
/// nor another region).
fn presign(url: &str, region: &str, expires: u64, time: SystemTime) -> String {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings};
    let identity = aws_credential_types::Credentials::new(ROOT_ACCESS_KEY, ROOT_SECRET_KEY, None, None, "t").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(expires));
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let req = SignableRequest::new("GET", url, std::iter::empty(), SignableBody::UnsignedPayload).unwrap();
    let (instructions, _) = sign(req, &params).unwrap().into_parts();
    let query: Vec<String> = instructions
        .params()
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)))
        .collect();
    format!("{url}?{}", query.join("&"))
}

/// Header-signed with another region's scope.
fn signed_in_region(method: &str, url: &str, region: &str) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let identity = aws_credential_types::Credentials::new(ROOT_ACCESS_KEY, ROOT_SECRET_KEY, None, None, "t").into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let req = SignableRequest::new(method, url, std::iter::empty(), SignableBody::Bytes(b"")).unwrap();
    let (instructions, _) = sign(req, &params).unwrap().into_parts();
    instructions.headers().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn send_with(method: &str, url: &str, headers: Vec<(String, String)>) -> (u16, String) {
    let mut req = raw_http().request(method.parse().unwrap(), url);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let r = req.send().await.expect("send");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_and_unimplemented_features() {
    within(120, async {
        let node = TestNode::start();
        let c = node.client();
        let ep = node.endpoint().to_string();
        create_bucket(&c, "hostile").await;
        put_bytes(&c, "hostile", "obj", b"object".to_vec()).await;
        let url = format!("{ep}/hostile/obj");

        // Signatures
        let mut headers = sigv4_headers("GET", &url, &[], Payload::Bytes(b""), SystemTime::now(), None);
        for (k, v) in headers.iter_mut() {
            if k.eq_ignore_ascii_case("authorization") {
                *v = v.replace("Signature=", "Signature=0");
                v.truncate(v.len() - 1);
            }
        }
        let r = send_with("GET", &url, headers).await;
        check("bad signature", &want(403, "SignatureDoesNotMatch"), r.0, &r.1);
        let headers = sigv4_headers("GET", &url, &[], Payload::Bytes(b""), SystemTime::now(), Some(("NOSUCHKEY", "secret")));
        let r = send_with("GET", &url, headers).await;
        check("unknown access key", &want(403, "InvalidAccessKeyId"), r.0, &r.1);
        let old = SystemTime::now() - Duration::from_secs(20 * 60);
        let headers = sigv4_headers("GET", &url, &[], Payload::Bytes(b""), old, None);
        let r = send_with("GET", &url, headers).await;
        check("request signed 20 minutes ago (replay)", &want(403, "RequestTimeTooSkewed"), r.0, &r.1);
        let r = raw_http().get(&url).header("authorization", "AWS4-HMAC-SHA256 garbage").send().await.unwrap();
        assert!((400..500).contains(&r.status().as_u16()), "garbage Authorization: {}", r.status());
        let r = raw_http()
            .get(&url)
            .header("x-amz-date", "20261204T000000Z")
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .header("authorization", format!("AWS4-HMAC-SHA256 Credential={ROOT_ACCESS_KEY}/2026-12-/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={}", "0".repeat(64)))
            .send()
            .await
            .unwrap();
        assert!((400..500).contains(&r.status().as_u16()), "credential date with punctuation: {}", r.status());
        let r = send_with("GET", &url, signed_in_region("GET", &url, "eu-west-1")).await;
        check("credential scope of another region", &want(400, "AuthorizationHeaderMalformed"), r.0, &r.1);

        // Presigned URLs
        let expired = presign(&url, REGION, 60, SystemTime::now() - Duration::from_secs(3600));
        let r = raw_http().get(&expired).send().await.unwrap();
        let status = r.status().as_u16();
        check("expired presigned URL", &want(403, "AccessDenied"), status, &r.text().await.unwrap());
        let long = presign(&url, REGION, 604_801, SystemTime::now());
        let r = raw_http().get(&long).send().await.unwrap();
        let status = r.status().as_u16();
        check("presigned for a week and a second", &want(400, "AuthorizationQueryParametersError"), status, &r.text().await.unwrap());
        let week = presign(&url, REGION, 604_800, SystemTime::now());
        assert_eq!(raw_http().get(&week).send().await.unwrap().status().as_u16(), 200, "presigned for exactly a week");
        let foreign = presign(&url, "eu-west-1", 60, SystemTime::now());
        let r = raw_http().get(&foreign).send().await.unwrap();
        let status = r.status().as_u16();
        check("presigned in another region", &want(400, "AuthorizationQueryParametersError"), status, &r.text().await.unwrap());
        let tampered = presign(&url, REGION, 60, SystemTime::now()).replace("X-Amz-Signature=", "X-Amz-Signature=1");
        let tampered = &tampered[..tampered.len() - 1];
        let r = raw_http().get(tampered).send().await.unwrap();
        let status = r.status().as_u16();
        check("tampered presigned URL", &want(403, "SignatureDoesNotMatch"), status, &r.text().await.unwrap());

        // Unimplemented features are refused, never silently accepted.
        let put = format!("{ep}/hostile/feature");
        for (class, headers, want_it) in [
            // This node has no master key.
            ("SSE-S3", vec![("x-amz-server-side-encryption", "AES256")], want(501, "NotImplemented")),
            (
                "SSE-KMS",
                vec![("x-amz-server-side-encryption", "aws:kms"), ("x-amz-server-side-encryption-aws-kms-key-id", "k")],
                want(501, "NotImplemented"),
            ),
            (
                "SSE-C with a key MD5 that does not match",
                vec![
                    ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                    ("x-amz-server-side-encryption-customer-key", "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="),
                    ("x-amz-server-side-encryption-customer-key-md5", "AAAAAAAAAAAAAAAAAAAAAA=="),
                ],
                want(400, "InvalidArgument"),
            ),
            ("storage class", vec![("x-amz-storage-class", "GLACIER")], want(501, "NotImplemented")),
            ("a storage class S3 does not have", vec![("x-amz-storage-class", "FROZEN")], want(400, "InvalidStorageClass")),
        ] {
            let r = signed("PUT", &put, &headers, b"data").await;
            check(&format!("PUT with {class}"), &want_it, r.0, &r.1);
            assert!(absent(&c, "hostile", "feature").await, "{class}: an object was stored");
        }
        let r = signed("GET", &url, &[("x-amz-server-side-encryption-customer-algorithm", "AES256")], b"").await;
        check("GET with an SSE-C algorithm and no key", &want(400, "InvalidArgument"), r.0, &r.1);
        // Lock headers where there is no lock are refused, never stored.
        for (class, headers) in [
            ("legal hold", vec![("x-amz-object-lock-legal-hold", "ON")]),
            ("retention", vec![("x-amz-object-lock-mode", "COMPLIANCE"), ("x-amz-object-lock-retain-until-date", "2099-01-01T00:00:00Z")]),
        ] {
            let r = signed("PUT", &put, &headers, b"data").await;
            check(&format!("PUT with {class}, bucket without lock"), &want(400, "InvalidRequest"), r.0, &r.1);
            assert!(absent(&c, "hostile", "feature").await, "{class}: an object was stored");
        }
        let r = signed("PUT", &put, &[("x-amz-object-lock-mode", "COMPLIANCE")], b"data").await;
        check("PUT with a lock mode and no date", &want(400, "InvalidArgument"), r.0, &r.1);
        let r = signed("GET", &format!("{ep}/hostile?versioning"), &[], b"").await;
        check("GetBucketVersioning, never set", &ok(200), r.0, &r.1);
        assert!(!r.1.contains("<Status>"), "an unversioned bucket has no status: {}", r.1);
        let v = b"<VersioningConfiguration><Status>Sometimes</Status></VersioningConfiguration>";
        let r = signed("PUT", &format!("{ep}/hostile?versioning"), &[("content-md5", &md5_b64_of(v))], v).await;
        check("PutBucketVersioning, unknown status", &want(400, "MalformedXML"), r.0, &r.1);
        let r = signed("GET", &format!("{ep}/hostile?versioning"), &[], b"").await;
        assert!(!r.1.contains("<Status>"), "a refused configuration changes nothing: {}", r.1);
        let r = signed("GET", &format!("{ep}/hostile?cors"), &[], b"").await;
        check("GetBucketCors, never set", &want(404, "NoSuchCORSConfiguration"), r.0, &r.1);
        let r = signed("GET", &format!("{ep}/hostile?tagging"), &[], b"").await;
        check("GetBucketTagging, never set", &want(404, "NoSuchTagSet"), r.0, &r.1);
        let r = signed("GET", &format!("{url}?tagging"), &[], b"").await;
        check("GetObjectTagging", &ok(200), r.0, &r.1);
        assert!(r.1.contains("TagSet"), "{}", r.1);
        let head = "POST /hostile HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 1073741824\r\n\r\n--x\r\n";
        let r = raw(node.port(), head.as_bytes()).await;
        check("anonymous browser-form POST of 1 GiB", &want(501, "NotImplemented"), r.0, &r.1);

        aftermath(&node, "signatures and unimplemented features").await;
    })
    .await;
}

/// A signed aws-chunked PUT of `chunks` (each signed, chaining from the seed), with or
/// without the final zero-length chunk.
fn chunked_body(chunks: &[&[u8]], seed: &str, time: SystemTime, close: bool, tamper: bool) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mac = |key: &[u8], data: &[u8]| {
        let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes().to_vec()
    };
    let stamp = httpdate_stamp(time);
    let date = &stamp[..8];
    let scope = format!("{date}/{REGION}/s3/aws4_request");
    let k = mac(
        &mac(&mac(&mac(format!("AWS4{ROOT_SECRET_KEY}").as_bytes(), date.as_bytes()), REGION.as_bytes()), b"s3"),
        b"aws4_request",
    );
    let empty = hex::encode(Sha256::digest(b""));
    let mut prev = seed.to_string();
    let mut out = Vec::new();
    let mut all: Vec<&[u8]> = chunks.to_vec();
    if close {
        all.push(&[]);
    }
    for c in all {
        let to_sign =
            format!("AWS4-HMAC-SHA256-PAYLOAD\n{stamp}\n{scope}\n{prev}\n{empty}\n{}", hex::encode(Sha256::digest(c)));
        let mut sig = hex::encode(mac(&k, to_sign.as_bytes()));
        if tamper {
            sig = "0".repeat(64);
        }
        out.extend(format!("{:x};chunk-signature={sig}\r\n", c.len()).as_bytes());
        out.extend(c);
        out.extend(b"\r\n");
        prev = sig;
    }
    out
}

/// `YYYYMMDDTHHMMSSZ` of `time`.
fn httpdate_stamp(time: SystemTime) -> String {
    let t = time::OffsetDateTime::from(time);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

async fn put_chunked(
    node: &TestNode,
    key: &str,
    decoded: usize,
    body: impl FnOnce(&str, SystemTime) -> Vec<u8>,
) -> (u16, String) {
    let url = format!("{}/hostile/{key}", node.endpoint());
    let time = SystemTime::now();
    let decoded = decoded.to_string();
    let headers = [("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", decoded.as_str())];
    let signed = sigv4_headers(
        "PUT",
        &url,
        &headers,
        Payload::Precomputed("STREAMING-AWS4-HMAC-SHA256-PAYLOAD".into()),
        time,
        None,
    );
    let auth = &signed.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).unwrap().1;
    let seed = auth.rsplit("Signature=").next().unwrap().to_string();
    let payload = body(&seed, time);
    let mut req = raw_http().put(&url);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    for (k, v) in &signed {
        req = req.header(k, v);
    }
    let r = req.header("content-length", payload.len().to_string()).body(payload).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_chunked_copy_sources_and_s3_behaviours() {
    within(120, async {
        let node = TestNode::start();
        let c = node.client();
        let ep = node.endpoint().to_string();
        create_bucket(&c, "hostile").await;

        // aws-chunked framing
        let data = random_bytes(9, 5000);
        let (a, b) = data.split_at(3000);
        let r = put_chunked(&node, "whole", data.len(), |seed, t| chunked_body(&[a, b], seed, t, true, false)).await;
        assert_eq!(r.0, 200, "a well-framed signed aws-chunked PUT: {}", r.1);
        let r = put_chunked(&node, "cut", data.len(), |seed, t| chunked_body(&[a, b], seed, t, false, false)).await;
        check("aws-chunked without its final chunk", &want(400, "IncompleteBody"), r.0, &r.1);
        assert!(absent(&c, "hostile", "cut").await, "a truncated aws-chunked body was stored");
        let r = put_chunked(&node, "forged", data.len(), |seed, t| chunked_body(&[a, b], seed, t, true, true)).await;
        check("aws-chunked with a wrong chunk signature", &want(403, "SignatureDoesNotMatch"), r.0, &r.1);
        let r = put_chunked(&node, "nothex", 5, |_, _| b"zz;chunk-signature=00\r\nhello\r\n".to_vec()).await;
        assert_eq!(r.0, 400, "aws-chunked with a size that is not hex: {}", r.1);
        let r = put_chunked(&node, "short", data.len() + 10, |seed, t| chunked_body(&[a, b], seed, t, true, false)).await;
        assert_eq!(r.0, 400, "x-amz-decoded-content-length larger than the data: {}", r.1);
        for k in ["forged", "nothex", "short"] {
            assert!(absent(&c, "hostile", k).await, "{k}: stored");
        }

        // Copy sources: parsed once, authorized as copied.
        put_bytes(&c, "hostile", "pub", b"public".to_vec()).await;
        put_bytes(&c, "hostile", "pub?secret", b"secret".to_vec()).await;
        let (status, text) = admin_request(&ep, "POST", "keys", json!({"name": "reader"}).to_string().as_bytes()).await;
        assert_eq!(status, 200, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let (id, secret) = (v["access_key_id"].as_str().unwrap().to_string(), v["secret_access_key"].as_str().unwrap().to_string());
        let doc = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": [id.clone()]}, "Action": ["s3:GetObject", "s3:PutObject"], "Resource": ["arn:aws:s3:::hostile/pub", "arn:aws:s3:::hostile/copies/*"]},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::hostile/*secret*"}]});
        c.put_bucket_policy().bucket("hostile").policy(doc.to_string()).send().await.unwrap();
        let reader = ClientBuilder::new(&ep).credentials(&id, &secret).build();
        let as_reader = |source: &'static str, dest: &'static str| {
            let reader = reader.clone();
            async move { reader.copy_object().bucket("hostile").key(dest).copy_source(source).send().await }
        };
        as_reader("hostile/pub", "copies/ok").await.expect("the reader may copy what it may read");
        assert_s3_err("copy source with a raw '?'", as_reader("hostile/pub?secret", "copies/raw").await, 400, "InvalidArgument");
        assert_s3_err("copy of a private key named with %3F", as_reader("hostile/pub%3Fsecret", "copies/enc").await, 403, "AccessDenied");
        assert!(absent(&c, "hostile", "copies/raw").await && absent(&c, "hostile", "copies/enc").await, "a private object was copied");
        let r = c.copy_object().bucket("hostile").key("x").copy_source("nosuchbucket/k").send().await;
        assert_s3_err("copy source bucket missing", r, 404, "NoSuchBucket");
        let r = c.copy_object().bucket("hostile").key("x").copy_source("hostile").send().await;
        assert_s3_err("copy source without a key", r, 400, "InvalidArgument");

        // x-amz-expected-bucket-owner
        let r = signed("GET", &format!("{ep}/hostile/pub"), &[("x-amz-expected-bucket-owner", "111122223333")], b"").await;
        check("expected bucket owner: someone else", &want(403, "AccessDenied"), r.0, &r.1);
        let owner = sha256_hex(format!("cairn-owner:{ROOT_ACCESS_KEY}").as_bytes());
        let r = signed("GET", &format!("{ep}/hostile/pub"), &[("x-amz-expected-bucket-owner", &owner)], b"").await;
        assert_eq!(r.0, 200, "expected bucket owner: the owner: {}", r.1);

        // 304 carries the validators.
        let etag = c.head_object().bucket("hostile").key("pub").send().await.unwrap().e_tag().unwrap().to_string();
        let r = raw_http()
            .get(format!("{ep}/hostile/pub"))
            .headers({
                let mut h = reqwest::header::HeaderMap::new();
                for (k, v) in sigv4_headers("GET", &format!("{ep}/hostile/pub"), &[("if-none-match", &etag)], Payload::Bytes(b""), SystemTime::now(), None) {
                    h.insert(reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
                }
                h.insert("if-none-match", etag.parse().unwrap());
                h
            })
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 304, "conditional GET");
        assert_eq!(r.headers().get("etag").and_then(|v| v.to_str().ok()), Some(etag.as_str()), "304 carries the ETag");
        assert!(r.headers().contains_key("last-modified"), "304 carries Last-Modified");

        // Bucket life cycle as on AWS (us-east-1).
        c.create_bucket().bucket("hostile").send().await.expect("the owner's repeated CreateBucket is 200 in us-east-1");
        create_bucket(&c, "uploads-only").await;
        c.create_multipart_upload().bucket("uploads-only").key("k").send().await.unwrap();
        let r = signed("DELETE", &format!("{ep}/uploads-only"), &[], b"").await;
        assert_eq!(r.0, 204, "DeleteBucket of a bucket holding only an incomplete upload: {}", r.1);
        assert_status_err("bucket gone", c.head_bucket().bucket("uploads-only").send().await, 404);

        // An anonymous reader learns absence only if it may list.
        create_bucket(&c, "listable").await;
        let r = raw_http().get(format!("{ep}/listable/missing")).send().await.unwrap();
        let status = r.status().as_u16();
        check("anonymous GET of a missing key, no listing allowed", &want(403, "AccessDenied"), status, &r.text().await.unwrap());
        let doc = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::listable"},
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::listable/*"}]});
        c.put_bucket_policy().bucket("listable").policy(doc.to_string()).send().await.unwrap();
        let r = raw_http().get(format!("{ep}/listable/missing")).send().await.unwrap();
        let status = r.status().as_u16();
        check("anonymous GET of a missing key, listing allowed", &want(404, "NoSuchKey"), status, &r.text().await.unwrap());

        aftermath(&node, "aws-chunked, copy sources, S3 behaviours").await;
    })
    .await;
}
