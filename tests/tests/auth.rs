//! SigV4: presigned URLs (and their expiry), unsigned and badly signed requests,
//! unknown keys; virtual-host style addressing; unauthenticated health.

use std::net::SocketAddr;
use std::time::Duration;

use cairn_tests::aws_sdk_s3::presigning::PresigningConfig;
use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::*;

async fn send_presigned(
    http: &reqwest::Client,
    method: &str,
    p: &cairn_tests::aws_sdk_s3::presigning::PresignedRequest,
    body: Option<Vec<u8>>,
) -> reqwest::Response {
    let mut req = http.request(method.parse().unwrap(), p.uri());
    for (k, v) in p.headers() {
        req = req.header(k, v);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    req.send().await.expect("send presigned request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_get_works_then_expires() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "presign").await;
    let data = random_bytes(5, 20_000);
    put_bytes(&c, "presign", "dir/obj ü", data.clone()).await;
    let http = raw_http();

    let p = c
        .get_object()
        .bucket("presign")
        .key("dir/obj ü")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(2)).unwrap())
        .await
        .expect("presign");
    assert!(p.uri().contains("X-Amz-Signature="), "not a presigned URL: {}", p.uri());
    let t0 = std::time::Instant::now();
    let r = send_presigned(&http, "GET", &p, None).await;
    assert!(t0.elapsed() < Duration::from_secs(1), "presigned GET too slow to test expiry");
    assert_eq!(r.status(), 200, "presigned GET: {}", r.text().await.unwrap_or_default());
    assert!(r.bytes().await.unwrap().as_ref() == data.as_slice(), "presigned GET body differs");

    // A tampered URL (other key) fails the signature check.
    put_bytes(&c, "presign", "other", b"secret".to_vec()).await;
    let tampered = p.uri().replace("dir/obj%20%C3%BC", "other");
    assert_ne!(tampered, p.uri(), "could not find the key in {}", p.uri());
    let r = http.get(&tampered).send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert_eq!(status, 403, "tampered presigned URL: {body}");
    assert_eq!(xml_error_code(&body).as_deref(), Some("SignatureDoesNotMatch"), "tampered presigned URL: {body}");

    // After expiry: 403 AccessDenied.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let r = send_presigned(&http, "GET", &p, None).await;
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert_eq!(status, 403, "expired presigned GET: {body}");
    assert_eq!(xml_error_code(&body).as_deref(), Some("AccessDenied"), "expired presigned GET: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_put_and_head() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "presign").await;
    let http = raw_http();
    let data = random_bytes(9, 9000);
    let p = c
        .put_object()
        .bucket("presign")
        .key("uploaded")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    let r = send_presigned(&http, "PUT", &p, Some(data.clone())).await;
    let status = r.status().as_u16();
    let etag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_string());
    assert_eq!(status, 200, "presigned PUT: {}", r.text().await.unwrap_or_default());
    assert_eq!(etag, Some(etag_of(&data)));
    assert_eq!(get_bytes(&c, "presign", "uploaded").await, data);

    let p = c
        .head_object()
        .bucket("presign")
        .key("uploaded")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    let r = send_presigned(&http, "HEAD", &p, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("content-length").unwrap(), &data.len().to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_requests_are_access_denied() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "private").await;
    put_bytes(&c, "private", "obj", b"hidden".to_vec()).await;
    let http = raw_http();
    let ep = node.endpoint();

    for (method, path) in [
        ("GET", "/"),
        ("GET", "/private"),
        ("GET", "/private/obj"),
        ("PUT", "/private/new"),
        ("DELETE", "/private/obj"),
        ("PUT", "/newbucket"),
    ] {
        let r = http.request(method.parse().unwrap(), format!("{ep}{path}")).body("data").send().await.unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_eq!(status, 403, "unsigned {method} {path}: {body}");
        assert_eq!(xml_error_code(&body).as_deref(), Some("AccessDenied"), "unsigned {method} {path}: {body}");
    }
    // Nothing changed.
    assert_eq!(get_bytes(&c, "private", "obj").await, b"hidden");
    assert_eq!(list_all_keys(&c, "private").await, vec!["obj"]);
    assert_eq!(c.list_buckets().send().await.unwrap().buckets().len(), 1);

    // A made-up Authorization header.
    let r = http
        .get(format!("{ep}/private/obj"))
        .header("x-amz-date", "20250101T000000Z")
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=cairnadmin/20250101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "forged signature accepted");
    assert!(!r.text().await.unwrap().contains("hidden"));

    // Health is unauthenticated.
    let r = http.get(format!("{ep}/health/live")).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET /health/live");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_and_unknown_key() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "authz").await;
    put_bytes(&c, "authz", "obj", b"data".to_vec()).await;

    let bad_secret = node.client_builder().credentials(ROOT_ACCESS_KEY, "not-the-secret").build();
    assert_s3_err(
        "list buckets with wrong secret",
        bad_secret.list_buckets().send().await,
        403,
        "SignatureDoesNotMatch",
    );
    assert_s3_err(
        "get with wrong secret",
        bad_secret.get_object().bucket("authz").key("obj").send().await,
        403,
        "SignatureDoesNotMatch",
    );
    let r = bad_secret.put_object().bucket("authz").key("new").body(ByteStream::from_static(b"x")).send().await;
    assert_s3_err("put with wrong secret", r, 403, "SignatureDoesNotMatch");
    assert_s3_err(
        "delete with wrong secret",
        bad_secret.delete_object().bucket("authz").key("obj").send().await,
        403,
        "SignatureDoesNotMatch",
    );

    let unknown = node.client_builder().credentials("AKIDNOSUCHKEY0000000", ROOT_SECRET_KEY).build();
    assert_s3_err("list buckets with unknown key", unknown.list_buckets().send().await, 403, "InvalidAccessKeyId");
    let r = unknown.put_object().bucket("authz").key("new2").body(ByteStream::from_static(b"x")).send().await;
    assert_s3_err("put with unknown key", r, 403, "InvalidAccessKeyId");

    // Nothing was changed by the refused requests.
    assert_eq!(list_all_keys(&c, "authz").await, vec!["obj"]);
    assert_eq!(get_bytes(&c, "authz", "obj").await, b"data");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_host_style_requests() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "vhost").await;
    create_bucket(&c, "kobj").await; // a bucket named like the key: path/host mix-ups show
    let data = random_bytes(3, 7000);
    put_bytes(&c, "vhost", "kobj", data.clone()).await;
    put_bytes(&c, "vhost", "dir/x y", b"nested".to_vec()).await;

    // SDK in virtual-host mode: Host: vhost.localhost:PORT.
    let v = node.vhost_client();
    let out = v
        .list_objects_v2()
        .bucket("vhost")
        .send()
        .await
        .unwrap_or_else(|e| panic!("vhost list: {:?}", ErrInfo::from_sdk(&e)));
    let keys: Vec<&str> = out.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(keys, vec!["dir/x y", "kobj"]);
    let got = v
        .get_object()
        .bucket("vhost")
        .key("kobj")
        .send()
        .await
        .unwrap_or_else(|e| panic!("vhost get: {:?}", ErrInfo::from_sdk(&e)));
    assert!(read_body(got.body).await == data, "vhost GET body");
    assert_eq!(get_bytes(&v, "vhost", "dir/x y").await, b"nested");
    put_bytes(&v, "vhost", "via-vhost", b"hello".to_vec()).await;
    assert_eq!(get_bytes(&c, "vhost", "via-vhost").await, b"hello", "object PUT through vhost is visible path-style");
    v.head_bucket().bucket("vhost").send().await.expect("vhost head bucket");
    assert!(list_all_keys(&c, "kobj").await.is_empty(), "vhost PUT landed in bucket 'kobj'");

    // Raw reqwest with a presigned virtual-host URL, resolving vhost.localhost to 127.0.0.1.
    let presigner = ClientBuilder::new(&format!("http://localhost:{}", node.port())).path_style(false).build();
    let p = presigner
        .get_object()
        .bucket("vhost")
        .key("kobj")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    assert!(
        p.uri().starts_with(&format!("http://vhost.localhost:{}/kobj?", node.port())),
        "not a vhost URL: {}",
        p.uri()
    );
    let addr: SocketAddr = format!("127.0.0.1:{}", node.port()).parse().unwrap();
    let http = reqwest::Client::builder().no_proxy().resolve("vhost.localhost", addr).build().unwrap();
    let r = http.get(p.uri()).send().await.unwrap();
    assert_eq!(r.status(), 200, "raw vhost presigned GET");
    assert!(r.bytes().await.unwrap().as_ref() == data.as_slice());

    // Virtual-host list with a wrong bucket host: NoSuchBucket.
    assert_s3_err(
        "vhost list of missing bucket",
        v.list_objects_v2().bucket("missing").send().await,
        404,
        "NoSuchBucket",
    );
}
