//! aws-chunked request bodies, built by hand: SDKs send them over HTTPS, so the
//! plain-HTTP SDK clients of the other tests never do. Both forms S3 accepts are
//! covered: signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) and unsigned chunks
//! with a trailing checksum (STREAMING-UNSIGNED-PAYLOAD-TRAILER).

use aws_sdk_s3::types::ChecksumMode;
use cairn_tests::*;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::time::SystemTime;

const CHUNK: usize = 64 * 1024;

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("hmac key");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// The SigV4 timestamp (`20261122T010203Z`) and date of `time`.
fn utc(time: SystemTime) -> (String, String) {
    let secs = time.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let days = secs / 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    let rem = secs % 86_400;
    let stamp = format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60);
    (stamp.clone(), stamp[..8].to_string())
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn authorization_signature(signed: &[(String, String)]) -> String {
    let auth = signed.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).expect("authorization").1.clone();
    auth.rsplit("Signature=").next().expect("signature").to_string()
}

/// Signed aws-chunked body: every chunk's signature chains from the previous one.
fn signed_chunks(data: &[u8], seed: &str, time: SystemTime, tamper_chunk: Option<usize>) -> Vec<u8> {
    let (stamp, date) = utc(time);
    let scope = format!("{date}/{REGION}/s3/aws4_request");
    let k_date = hmac(format!("AWS4{ROOT_SECRET_KEY}").as_bytes(), date.as_bytes());
    let key = hmac(&hmac(&hmac(&k_date, REGION.as_bytes()), b"s3"), b"aws4_request");
    let empty = hex::encode(Sha256::digest(b""));
    let mut prev = seed.to_string();
    let mut out = Vec::new();
    let mut chunks: Vec<&[u8]> = data.chunks(CHUNK).collect();
    chunks.push(&[]);
    for (i, chunk) in chunks.iter().enumerate() {
        let to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{stamp}\n{scope}\n{prev}\n{empty}\n{}",
            hex::encode(Sha256::digest(chunk))
        );
        let sig = hex::encode(hmac(&key, to_sign.as_bytes()));
        out.extend(format!("{:x};chunk-signature={sig}\r\n", chunk.len()).as_bytes());
        let mut body = chunk.to_vec();
        if tamper_chunk == Some(i) && !body.is_empty() {
            body[0] ^= 0xff;
        }
        out.extend(&body);
        out.extend(b"\r\n");
        prev = sig;
    }
    out
}

fn unsigned_chunks(data: &[u8], trailer: (&str, &str)) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(CHUNK) {
        out.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend(chunk);
        out.extend(b"\r\n");
    }
    out.extend(format!("0\r\n{}:{}\r\n\r\n", trailer.0, trailer.1).as_bytes());
    out
}

async fn put_chunked(
    node: &TestNode,
    key: &str,
    data: &[u8],
    mode: &str,
    extra: &[(&str, &str)],
    body: impl FnOnce(&str, SystemTime) -> Vec<u8>,
) -> (u16, String) {
    let url = format!("{}/chunked/{key}", node.endpoint());
    let time = SystemTime::now();
    let decoded = data.len().to_string();
    let mut headers: Vec<(&str, &str)> =
        vec![("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", decoded.as_str())];
    headers.extend_from_slice(extra);
    let signed = sigv4_headers("PUT", &url, &headers, Payload::Precomputed(mode.to_string()), time, None);
    let seed = authorization_signature(&signed);
    let payload = body(&seed, time);
    let mut req = raw_http().put(&url);
    for (k, v) in headers.iter() {
        req = req.header(*k, *v);
    }
    for (k, v) in &signed {
        req = req.header(k, v);
    }
    let r = req.header("content-length", payload.len().to_string()).body(payload).send().await.expect("send");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test]
async fn signed_chunked_upload_round_trips_and_rejects_a_tampered_chunk() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "chunked").await;
    let data = random_bytes(41, 300 * 1024 + 17);
    let (status, body) =
        put_chunked(&node, "signed", &data, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", &[], |seed, time| {
            signed_chunks(&data, seed, time, None)
        })
        .await;
    assert_eq!(status, 200, "signed aws-chunked PUT: {body}");
    let g = c.get_object().bucket("chunked").key("signed").send().await.unwrap();
    assert_eq!(g.e_tag(), Some(etag_of(&data).as_str()));
    assert_eq!(g.content_encoding(), None, "aws-chunked is a transfer coding, not stored");
    assert!(read_body(g.body).await == data, "body differs");

    let (status, body) =
        put_chunked(&node, "tampered", &data, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", &[], |seed, time| {
            signed_chunks(&data, seed, time, Some(2))
        })
        .await;
    assert!(status == 403 || status == 400, "tampered chunk accepted: {status} {body}");
    assert_eq!(xml_error_code(&body).as_deref(), Some("SignatureDoesNotMatch"), "{body}");
    assert!(c.head_object().bucket("chunked").key("tampered").send().await.is_err(), "tampered object stored");
}

#[tokio::test]
async fn unsigned_chunked_upload_with_trailing_checksum() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "chunked").await;
    let trailer = [("x-amz-trailer", "x-amz-checksum-crc32")];
    for (key, len) in [("small", 3000usize), ("large", 700 * 1024)] {
        let data = random_bytes(len as u64, len);
        let crc = crc32_b64(&data);
        let (status, body) = put_chunked(&node, key, &data, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", &trailer, |_, _| {
            unsigned_chunks(&data, ("x-amz-checksum-crc32", &crc))
        })
        .await;
        assert_eq!(status, 200, "{key}: unsigned trailer PUT: {body}");
        let g = c.get_object().bucket("chunked").key(key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        assert_eq!(g.checksum_crc32(), Some(crc.as_str()), "{key}: trailer checksum stored");
        assert_eq!(g.content_encoding(), None, "{key}: aws-chunked not stored as Content-Encoding");
        assert_eq!(g.content_length(), Some(len as i64));
        assert!(read_body(g.body).await == data, "{key}: body differs");
    }

    let data = random_bytes(5, 200_000);
    let (status, body) = put_chunked(&node, "badcrc", &data, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", &trailer, |_, _| {
        unsigned_chunks(&data, ("x-amz-checksum-crc32", "AAAAAA=="))
    })
    .await;
    assert_eq!(status, 400, "wrong trailing checksum: {body}");
    assert_eq!(xml_error_code(&body).as_deref(), Some("BadDigest"), "{body}");
    assert!(c.head_object().bucket("chunked").key("badcrc").send().await.is_err(), "bad object stored");
}
