//! HTTPS on the S3 endpoint: a real TLS round trip through aws-sdk-s3, and a
//! certificate swapped in by SIGHUP without a restart.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use cairn_tests::*;
use std::path::Path;
use std::time::Duration;

/// A self-signed certificate for localhost / 127.0.0.1; returns its PEM.
fn write_cert(dir: &Path) -> String {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("generate certificate");
    let cert = ck.cert.pem();
    std::fs::write(dir.join("cert.pem"), &cert).unwrap();
    std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).unwrap();
    cert
}

/// An S3 client that trusts exactly `cert_pem`.
fn https_client(node: &TestNode, cert_pem: &str) -> aws_sdk_s3::Client {
    let ctx = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_native_roots(false).with_pem_certificate(cert_pem.as_bytes()))
        .build()
        .expect("tls context");
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .tls_context(ctx)
        .build_https();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(node.endpoint())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(node.access_key(), node.secret_key(), None, None, "tls-test"))
        .force_path_style(true)
        .http_client(http)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[tokio::test]
async fn https_round_trip_and_certificate_reload_on_sighup() {
    let certs = tempfile::tempdir().unwrap();
    let first = write_cert(certs.path());
    let cert = certs.path().join("cert.pem");
    let key = certs.path().join("key.pem");
    let node = TestNode::start_with(&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    assert!(node.endpoint().starts_with("https://"), "endpoint {}", node.endpoint());

    let c = https_client(&node, &first);
    c.create_bucket().bucket("secure").send().await.expect("create bucket over TLS");
    // Large enough to be erasure coded and streamed over several TLS records.
    let data = random_bytes(77, 3 * 1024 * 1024 + 5);
    c.put_object().bucket("secure").key("k").body(ByteStream::from(data.clone())).send().await.expect("put over TLS");
    let got = c.get_object().bucket("secure").key("k").send().await.expect("get over TLS");
    assert!(read_body(got.body).await == data, "body differs over TLS");

    // A client that does not trust the certificate is refused at the handshake.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap().cert.pem();
    assert!(https_client(&node, &other).list_buckets().send().await.is_err(), "untrusted certificate accepted");
    // Plain HTTP on the TLS port gets no S3 answer.
    let plain = node.endpoint().replacen("https://", "http://", 1);
    let r = raw_http().get(format!("{plain}/secure")).send().await;
    assert!(!r.is_ok_and(|r| r.status().is_success()), "plain HTTP served on the TLS port");

    // New certificate on disk, SIGHUP: new connections get it, no restart.
    let second = write_cert(certs.path());
    unsafe {
        libc::kill(node.pid() as libc::pid_t, libc::SIGHUP);
    }
    let reloaded = async {
        for _ in 0..50 {
            if https_client(&node, &second).list_buckets().send().await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    assert!(reloaded.await, "the new certificate was not served after SIGHUP; log:\n{}", node.log_tail(20));
    let got =
        https_client(&node, &second).get_object().bucket("secure").key("k").send().await.expect("get after reload");
    assert!(read_body(got.body).await == data);
    assert!(https_client(&node, &first).list_buckets().send().await.is_err(), "the old certificate is still served");
}

/// The usual "TLS only" bucket policy: a Deny on `aws:SecureTransport` false. Over
/// HTTPS the bucket answers; over plain HTTP even its owner is refused.
#[tokio::test]
async fn secure_transport_condition_follows_the_connection() {
    let deny_plain = |bucket: &str| {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}
            }]
        })
        .to_string()
    };

    let certs = tempfile::tempdir().unwrap();
    let pem = write_cert(certs.path());
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let tls_node = TestNode::start_with(&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    let plain_node = TestNode::start();

    for (node, client) in [(&tls_node, https_client(&tls_node, &pem)), (&plain_node, plain_node.client())] {
        let secure = node.endpoint().starts_with("https://");
        client.create_bucket().bucket("tlsonly").send().await.expect("create bucket");
        let body = ByteStream::from_static(b"secret");
        client.put_object().bucket("tlsonly").key("k").body(body).send().await.expect("put before the policy");
        client.put_bucket_policy().bucket("tlsonly").policy(deny_plain("tlsonly")).send().await.expect("put policy");
        let r = client.get_object().bucket("tlsonly").key("k").send().await;
        if secure {
            let got = r.expect("GET over TLS under a TLS-only policy");
            assert_eq!(read_body(got.body).await, b"secret");
        } else {
            let e = expect_err("GET over plain HTTP under a TLS-only policy", r);
            assert_eq!((e.status, e.code.as_deref()), (Some(403), Some("AccessDenied")), "{e:?}");
        }
        // The owner can always take the policy away again.
        client.delete_bucket_policy().bucket("tlsonly").send().await.expect("owner deletes the policy");
        client.get_object().bucket("tlsonly").key("k").send().await.expect("GET once the policy is gone");
    }
}
