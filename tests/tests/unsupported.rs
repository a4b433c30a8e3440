//! Nothing is silently accepted: every header in the S3 layer's table of features
//! Cairn does not implement yet (`cairn_s3api::refusals::UNSUPPORTED`) is refused
//! with 501 NotImplemented, and nothing is stored. The test walks the table itself,
//! so it shrinks as features land and a new entry is tested the day it is added.

use cairn_s3api::refusals::UNSUPPORTED;
use cairn_tests::*;
use std::time::SystemTime;

/// A concrete header name for a table entry (a prefix entry gets a real name under it).
fn header_name(rule: &str) -> String {
    match rule.strip_suffix('*') {
        Some(prefix) if prefix.ends_with("server-side-encryption-") => format!("{prefix}customer-algorithm"),
        Some(prefix) => format!("{prefix}mode"),
        None => rule.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_unsupported_header_is_refused_and_nothing_is_stored() {
    let node = TestNode::start();
    let c = node.client();
    c.create_bucket().bucket("plain").send().await.unwrap();
    c.put_object().bucket("plain").key("source").body(b"src".to_vec().into()).send().await.unwrap();
    let base = node.endpoint().to_string();
    let mut tried = 0;
    for (i, rule) in UNSUPPORTED.iter().enumerate() {
        let name = header_name(rule.header);
        let value = match rule.values.first() {
            Some(v) => v.to_string(),
            None => "AES256".to_string(),
        };
        let ops: Vec<&str> = match rule.ops {
            Some(ops) => ops.to_vec(),
            None => vec!["PutObject", "CreateMultipartUpload"],
        };
        for op in ops {
            let key = format!("k{i}-{op}");
            let bucket = format!("refused-{i}");
            let (method, url, extra): (&str, String, Vec<(&str, &str)>) = match op {
                "PutObject" => ("PUT", format!("{base}/plain/{key}"), vec![]),
                "CopyObject" => ("PUT", format!("{base}/plain/{key}"), vec![("x-amz-copy-source", "plain/source")]),
                "CreateMultipartUpload" => ("POST", format!("{base}/plain/{key}?uploads"), vec![]),
                "CreateBucket" => ("PUT", format!("{base}/{bucket}"), vec![]),
                other => panic!("the test does not know how to send {other}: teach it"),
            };
            let mut headers = extra.clone();
            headers.push((name.as_str(), value.as_str()));
            let body: &[u8] = if op == "PutObject" { b"body" } else { b"" };
            let (status, text) =
                send_signed(method, &url, &headers, Payload::Bytes(body), body.to_vec(), SystemTime::now()).await;
            let what = format!("{op} with {name}: {value}");
            assert_eq!(status, 501, "{what}: {text}");
            assert_eq!(xml_error_code(&text).as_deref(), Some("NotImplemented"), "{what}: {text}");
            let message = xml_tag(&text, "Message").unwrap_or_default();
            assert!(message.contains(&name), "{what}: the message names the header: {text}");
            match op {
                "CreateBucket" => {
                    assert_status_err(&what, c.head_bucket().bucket(&bucket).send().await, 404);
                }
                _ => {
                    assert_status_err(&what, c.head_object().bucket("plain").key(&key).send().await, 404);
                    let uploads = c.list_multipart_uploads().bucket("plain").send().await.unwrap();
                    assert!(uploads.uploads().is_empty(), "{what}: no upload was started");
                }
            }
            tried += 1;
        }
    }
    assert!(tried >= UNSUPPORTED.len(), "every entry was tried");
}
