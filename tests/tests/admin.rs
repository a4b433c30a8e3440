//! The admin API and the `cairn` CLI, against a real node.

use cairn_tests::*;
use std::process::Command;
use std::time::SystemTime;

fn cairn(node: &TestNode, args: &[&str], secret: Option<&str>) -> (bool, String, String) {
    cairn_as(node, args, (node.access_key(), secret.unwrap_or(node.secret_key())))
}

/// Runs `cairn` as the given key (id, secret).
fn cairn_as(node: &TestNode, args: &[&str], key: (&str, &str)) -> (bool, String, String) {
    let out = Command::new(cairn_bin())
        .args(args)
        .env_clear()
        .env("CAIRN_ENDPOINT", node.endpoint())
        .env("AWS_ACCESS_KEY_ID", key.0)
        .env("AWS_SECRET_ACCESS_KEY", key.1)
        .output()
        .expect("run cairn");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn admin_info_needs_a_signed_admin_request() {
    let node = TestNode::start();
    let url = format!("{}/cairn/admin/v1/info", node.endpoint());
    let unsigned = raw_http().get(&url).send().await.unwrap();
    assert_eq!(unsigned.status().as_u16(), 403, "unsigned admin request");

    let (status, body) = send_signed("GET", &url, &[], Payload::Bytes(b""), Vec::new(), SystemTime::now()).await;
    assert_eq!(status, 200, "{body}");
    let info: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(info["raft"]["leader"], info["node_id"], "{info}");
    assert_eq!(info["erasure"]["data_shards"], 2);
    assert_eq!(info["erasure"]["parity_shards"], 2);
    let disks = info["disks"].as_array().expect("disks");
    assert_eq!(disks.len(), 4);
    assert!(disks.iter().all(|d| d["online"] == true && d["total_bytes"].as_u64().unwrap_or(0) > 0), "{info}");
    assert!(disks.iter().all(|d| d["segment_bytes"] == 0 && d["segment_live_bytes"] == 0), "empty segments: {info}");

    // A 100 KB object is four 50 KB shards, one in each disk's segment, all of it live.
    let c = node.client();
    create_bucket(&c, "seg").await;
    put_bytes(&c, "seg", "o", random_bytes(5, 100_000)).await;
    let (_, body) = send_signed("GET", &url, &[], Payload::Bytes(b""), Vec::new(), SystemTime::now()).await;
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    for d in info["disks"].as_array().unwrap() {
        let (all, live) = (d["segment_bytes"].as_u64().unwrap(), d["segment_live_bytes"].as_u64().unwrap());
        assert!(all > 50_000 && all < 51_000 && live == all, "{d}");
    }

    // A missing disk shows as offline.
    std::fs::remove_dir_all(node.disk_dirs()[2].join("objects")).unwrap();
    let (_, body) = send_signed("GET", &url, &[], Payload::Bytes(b""), Vec::new(), SystemTime::now()).await;
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["disks"][2]["online"], false, "{info}");

    let (status, body) = send_signed(
        "GET",
        &format!("{}/cairn/admin/v1/nope", node.endpoint()),
        &[],
        Payload::Bytes(b""),
        Vec::new(),
        SystemTime::now(),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let err: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
    assert_eq!(err["error"]["code"], "NoSuchEndpoint");
}

#[tokio::test]
async fn cli_status_and_bucket_commands() {
    let node = TestNode::start();
    let (ok, out, err) = cairn(&node, &["status", "--json"], None);
    assert!(ok, "status --json failed: {err}");
    let info: serde_json::Value = serde_json::from_str(&out).expect("status --json prints JSON");
    assert_eq!(info["disks"].as_array().map(Vec::len), Some(4));
    let (ok, out, err) = cairn(&node, &["status"], None);
    assert!(ok && out.contains("Leader") && out.contains("2 data + 2 parity"), "{out}{err}");

    let (ok, _, err) = cairn(&node, &["status"], Some("wrong-secret"));
    assert!(!ok, "status with a wrong secret succeeded");
    assert!(err.contains("SignatureDoesNotMatch") && err.lines().count() == 1, "one clear line: {err}");

    let (ok, out, err) = cairn(&node, &["bucket", "create", "clibucket"], None);
    assert!(ok, "{out}{err}");
    let c = node.client();
    put_bytes(&c, "clibucket", "a", vec![1u8; 1000]).await;
    put_bytes(&c, "clibucket", "b/c", vec![2u8; 5000]).await;
    let (ok, out, _) = cairn(&node, &["bucket", "ls"], None);
    assert!(ok && out.contains("clibucket"), "{out}");
    let (ok, out, _) = cairn(&node, &["bucket", "info", "clibucket"], None);
    assert!(ok && out.contains("objects: 2") && out.contains("bytes:   6000"), "{out}");

    let (ok, _, err) = cairn(&node, &["bucket", "rm", "clibucket"], None);
    assert!(!ok && err.contains("BucketNotEmpty"), "{err}");
    let (ok, out, err) = cairn(&node, &["bucket", "rm", "clibucket", "--force"], None);
    assert!(ok, "{out}{err}");
    assert!(c.head_bucket().bucket("clibucket").send().await.is_err(), "bucket still there");
}

#[test]
fn cli_prints_completions() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(cairn_bin()).args(["completions", shell]).output().expect("run cairn");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains("bucket") && text.contains("bench"), "{shell}: {text}");
    }
}

#[tokio::test]
async fn cli_profiles_supply_endpoint_and_keys() {
    let node = TestNode::start();
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("cairn").join("profiles.toml");
    // No endpoint or keys in the environment: only flags, then only the profile.
    let run = |args: &[&str]| {
        std::process::Command::new(cairn_bin())
            .args(args)
            .env("CAIRN_PROFILES", &profiles)
            .env_remove("CAIRN_ENDPOINT")
            .env_remove("CAIRN_PROFILE")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_CA_BUNDLE")
            .output()
            .unwrap()
    };
    let text = |o: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    };
    let saved = run(&[
        "--endpoint",
        node.endpoint(),
        "--access-key",
        node.access_key(),
        "--secret-key",
        node.secret_key(),
        "profile",
        "save",
        "lab",
    ]);
    assert!(saved.status.success(), "{}", text(&saved));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&profiles).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the profile file holds secrets");

    let status = run(&["--profile", "lab", "status", "--json"]);
    assert!(status.status.success(), "{}", text(&status));
    // Flags beat the profile: a wrong secret on the command line is used, and fails.
    let wrong = run(&["--profile", "lab", "--secret-key", "wrong-secret-key", "status"]);
    assert!(!wrong.status.success() && text(&wrong).contains("SignatureDoesNotMatch"), "{}", text(&wrong));
    // Without --profile and without a `default` profile there are no keys.
    let none = run(&["--endpoint", node.endpoint(), "status"]);
    assert!(!none.status.success() && text(&none).contains("no credentials"), "{}", text(&none));
    let missing = run(&["--profile", "nope", "status"]);
    assert!(!missing.status.success() && text(&missing).contains("no profile \"nope\""), "{}", text(&missing));
    let list = run(&["profile", "list"]);
    let out = text(&list);
    assert!(out.contains("lab") && out.contains(node.endpoint()), "{out}");
    assert!(!out.contains(node.secret_key()), "list never shows secrets: {out}");
}

/// `cairn key create|list|info|delete` against a node: the created key works with
/// the SDK, owns what it creates, is not an admin, and is refused once deleted.
#[tokio::test]
async fn cli_key_lifecycle() {
    let node = TestNode::start();
    let (ok, out, err) = cairn(&node, &["key", "create", "--name", "carol", "--json"], None);
    assert!(ok, "key create: {err}");
    let created: serde_json::Value = serde_json::from_str(&out).expect("key create --json prints one JSON object");
    let id = created["access_key_id"].as_str().expect("access_key_id").to_string();
    let secret = created["secret_access_key"].as_str().expect("secret_access_key").to_string();
    assert_eq!(created["name"], "carol");
    assert_eq!(created["admin"], false);

    let carol = ClientBuilder::new(node.endpoint()).credentials(&id, &secret).build();
    carol.create_bucket().bucket("carols").send().await.expect("carol creates a bucket");

    let (ok, out, err) = cairn(&node, &["key", "list"], None);
    assert!(ok, "key list: {err}");
    let line = out.lines().find(|l| l.contains(&id)).unwrap_or_else(|| panic!("carol not listed:\n{out}"));
    assert!(line.contains("carol") && line.contains("no"), "{line}");
    assert!(!out.contains(&secret), "key list shows a secret:\n{out}");

    let (ok, out, err) = cairn(&node, &["key", "info", &id, "--json"], None);
    assert!(ok, "key info: {err}");
    let info: serde_json::Value = serde_json::from_str(&out).expect("key info --json");
    assert_eq!(info["buckets"], serde_json::json!(["carols"]), "{info}");

    // A key that is not an admin key cannot manage keys.
    let (ok, _, err) = cairn_as(&node, &["key", "list"], (&id, &secret));
    assert!(!ok && err.contains("AccessDenied"), "non-admin key list: {err}");

    let (ok, out, err) = cairn(&node, &["key", "delete", &id], None);
    assert!(ok && out.contains(&id), "key delete: {out} {err}");
    let e = expect_err("deleted key", carol.list_buckets().send().await);
    assert_eq!((e.status, e.code.as_deref()), (Some(403), Some("InvalidAccessKeyId")), "{e:?}");
    let (ok, _, err) = cairn(&node, &["key", "info", &id], None);
    assert!(!ok && err.contains("NoSuchKey"), "info of a deleted key: {err}");
    let (ok, _, err) = cairn(&node, &["key", "delete", node.access_key()], None);
    assert!(!ok && err.contains("CannotDeleteRootKey"), "deleting the root key: {err}");
}

/// One router answers everything under `/cairn/`: the tenant API (`/cairn/v1/`) serves
/// nothing yet and says so in JSON, as do unknown paths; `/cairn/` alone is still the
/// reserved bucket, which S3 answers in XML.
#[tokio::test]
async fn extension_paths_answer_json() {
    let node = TestNode::start();
    for path in ["/cairn/v1/quotas", "/cairn/v1/", "/cairn/nope"] {
        let url = format!("{}{path}", node.endpoint());
        let (status, body) = send_signed("GET", &url, &[], Payload::Bytes(b""), Vec::new(), SystemTime::now()).await;
        assert_eq!(status, 404, "{path}: {body}");
        let err: serde_json::Value = serde_json::from_str(&body).expect("JSON error");
        assert_eq!(err["error"]["code"], "NoSuchEndpoint", "{path}: {body}");
    }
    let url = format!("{}/cairn/", node.endpoint());
    let (status, body) = send_signed("GET", &url, &[], Payload::Bytes(b""), Vec::new(), SystemTime::now()).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("<Code>NoSuchBucket</Code>"), "{body}");
}
