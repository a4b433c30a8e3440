//! Storage classes end to end on a real node with two pools of disks: four disks in
//! `default` (STANDARD, 2+2) and six in `capacity`, where the class COLD is 4+2.
//! `x-amz-storage-class` on PUT, copy and multipart puts a version's shards on its
//! class's disks, answers and listings name the class, unknown classes are refused,
//! `cairn status` shows the classes, and a lifecycle transition moves objects (plain,
//! multipart, SSE-C encrypted) into COLD while a reader keeps reading them, freeing the
//! STANDARD shards after the switch.

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, CompletedMultipartUpload, CompletedPart, ExpirationStatus, LifecycleRule,
    LifecycleRuleFilter, StorageClass, Transition, TransitionStorageClass,
};
use aws_sdk_s3::Client;
use cairn_tests::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct Tiered {
    node: TestNode,
    standard: Vec<PathBuf>,
    capacity: Vec<PathBuf>,
    _disks: tempfile::TempDir,
}

fn start(extra: &[&str]) -> Tiered {
    let disks = tempfile::Builder::new().prefix("cairn-tiers-").tempdir().unwrap();
    let standard: Vec<PathBuf> = (1..=4).map(|i| disks.path().join(format!("ssd{i}"))).collect();
    let capacity: Vec<PathBuf> = (1..=6).map(|i| disks.path().join(format!("hdd{i}"))).collect();
    let mut args: Vec<String> = Vec::new();
    for d in standard.iter().chain(&capacity) {
        args.push("--disk".into());
        args.push(d.display().to_string());
    }
    for d in &capacity {
        args.push("--disk-pool".into());
        args.push(format!("capacity={}", d.display()));
    }
    args.extend(["--storage-class".to_string(), "COLD=4+2@capacity".to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let node = TestNode::start_with(&refs);
    Tiered { node, standard, capacity, _disks: disks }
}

/// Blobs (distinct shard groups) and shards on a set of disks.
fn blobs_on(disks: &[PathBuf]) -> (usize, usize) {
    (shard_groups(disks).len(), stored_shards_all(disks).len())
}

async fn class_of(c: &Client, bucket: &str, key: &str) -> Option<String> {
    let h = c.head_object().bucket(bucket).key(key).send().await.unwrap_or_else(|e| panic!("HEAD {key}: {e:?}"));
    h.storage_class().map(|s| s.as_str().to_string())
}

async fn get(c: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = c.get_object().bucket(bucket).key(key).send().await.unwrap_or_else(|e| panic!("GET {key}: {e:?}"));
    read_body(out.body).await
}

async fn listed_classes(c: &Client, bucket: &str) -> Vec<(String, String)> {
    let out = c.list_objects_v2().bucket(bucket).send().await.unwrap();
    out.contents()
        .iter()
        .map(|o| (o.key().unwrap().to_string(), o.storage_class().map(|s| s.as_str().to_string()).unwrap_or_default()))
        .collect()
}

async fn multipart(c: &Client, bucket: &str, key: &str, class: Option<&str>, parts: &[Vec<u8>]) -> Option<String> {
    let up = c
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .set_storage_class(class.map(StorageClass::from))
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut done = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let r =
            c.upload_part().bucket(bucket).key(key).upload_id(id).part_number(n).body(p.clone().into()).send().await;
        done.push(CompletedPart::builder().part_number(n).e_tag(r.unwrap().e_tag().unwrap()).build());
    }
    let listed = c.list_parts().bucket(bucket).key(key).upload_id(id).send().await.unwrap();
    let shown = listed.storage_class().map(|s| s.as_str().to_string());
    let parts = CompletedMultipartUpload::builder().set_parts(Some(done)).build();
    c.complete_multipart_upload().bucket(bucket).key(key).upload_id(id).multipart_upload(parts).send().await.unwrap();
    shown
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_puts_shards_on_its_pool_and_every_answer_names_it() {
    let t = start(&[]);
    let c = t.node.client();
    c.create_bucket().bucket("media").send().await.unwrap();

    // The classes as `cairn status` (the admin API) shows them.
    let (status, body) = t.node.admin("GET", "cluster", b"").await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let classes = v["storage_classes"].as_array().unwrap();
    let shown: Vec<String> = classes
        .iter()
        .map(|c| format!("{}={}+{}@{} {}", c["name"], c["data_shards"], c["parity_shards"], c["pool"], c["disks"]))
        .collect();
    assert_eq!(shown, vec!["\"STANDARD\"=2+2@\"default\" 4", "\"COLD\"=4+2@\"capacity\" 6"], "{body}");

    // A COLD object: six shards, all on the capacity disks; a STANDARD one: four on the others.
    let big = random_bytes(1, 3 << 20);
    c.put_object()
        .bucket("media")
        .key("cold/a")
        .storage_class(StorageClass::from("COLD"))
        .body(big.clone().into())
        .send()
        .await
        .unwrap();
    assert_eq!(blobs_on(&t.capacity), (1, 6), "the COLD object's shards are on the capacity pool");
    assert_eq!(blobs_on(&t.standard), (0, 0), "and none on STANDARD's disks");
    c.put_object().bucket("media").key("std/b").body(big.clone().into()).send().await.unwrap();
    assert_eq!(blobs_on(&t.standard), (1, 4));
    assert_eq!(blobs_on(&t.capacity), (1, 6));
    assert_eq!(class_of(&c, "media", "cold/a").await.as_deref(), Some("COLD"));
    assert_eq!(class_of(&c, "media", "std/b").await, None, "STANDARD is not named on HEAD, as S3 does");
    let got = c.get_object().bucket("media").key("cold/a").send().await.unwrap();
    assert_eq!(got.storage_class().map(|s| s.as_str()), Some("COLD"));
    assert_eq!(sha256_hex(&read_body(got.body).await), sha256_hex(&big));
    let range = c.get_object().bucket("media").key("cold/a").range("bytes=1000000-1000099").send().await.unwrap();
    assert_eq!(read_body(range.body).await, big[1_000_000..1_000_100]);

    // Tiny and empty objects in a class other than STANDARD are shards, never inline.
    for (key, body) in [("cold/tiny", b"abc".to_vec()), ("cold/empty", Vec::new())] {
        c.put_object()
            .bucket("media")
            .key(key)
            .storage_class(StorageClass::from("COLD"))
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        assert_eq!(class_of(&c, "media", key).await.as_deref(), Some("COLD"), "{key}");
        assert_eq!(get(&c, "media", key).await, body, "{key}");
    }
    assert_eq!(blobs_on(&t.capacity).0, 3);

    // A class this cluster does not have is refused, and nothing is stored.
    // S3's own class names the cluster has not configured are a missing feature (501);
    // other names are no class at all (400).
    for (class, status, code) in [
        ("GLACIER", 501, "NotImplemented"),
        ("FROZEN", 400, "InvalidStorageClass"),
        ("cold", 400, "InvalidStorageClass"),
    ] {
        let r = c
            .put_object()
            .bucket("media")
            .key("refused")
            .storage_class(StorageClass::from(class))
            .body(b"x".to_vec().into())
            .send()
            .await;
        assert_s3_err(class, r, status, code);
        let r = c
            .create_multipart_upload()
            .bucket("media")
            .key("refused")
            .storage_class(StorageClass::from(class))
            .send()
            .await;
        assert_s3_err(class, r, status, code);
    }
    assert_status_err("refused", c.head_object().bucket("media").key("refused").send().await, 404);

    // Multipart: parts go to the upload's class, ListParts names it.
    let parts = vec![random_bytes(2, 5 << 20), random_bytes(3, 1 << 20)];
    let shown = multipart(&c, "media", "cold/multi", Some("COLD"), &parts).await;
    assert_eq!(shown.as_deref(), Some("COLD"), "ListParts names the upload's class");
    assert_eq!(class_of(&c, "media", "cold/multi").await.as_deref(), Some("COLD"));
    assert_eq!(get(&c, "media", "cold/multi").await, parts.concat());
    assert_eq!(blobs_on(&t.capacity).0, 5, "two parts, two COLD blobs");
    assert_eq!(blobs_on(&t.standard).0, 1);

    // Copies: into COLD by naming it; onto itself with another class (a class change in
    // place, which S3 allows); a copy that names no class is STANDARD, as S3 writes it.
    c.copy_object()
        .bucket("media")
        .key("cold/copy")
        .copy_source("media/std/b")
        .storage_class(StorageClass::from("COLD"))
        .send()
        .await
        .unwrap();
    assert_eq!(class_of(&c, "media", "cold/copy").await.as_deref(), Some("COLD"));
    c.copy_object()
        .bucket("media")
        .key("cold/a")
        .copy_source("media/cold/a")
        .storage_class(StorageClass::Standard)
        .send()
        .await
        .unwrap();
    assert_eq!(class_of(&c, "media", "cold/a").await, None, "moved back to STANDARD in place");
    assert_eq!(get(&c, "media", "cold/a").await, big);
    c.copy_object().bucket("media").key("plain-copy").copy_source("media/cold/copy").send().await.unwrap();
    assert_eq!(class_of(&c, "media", "plain-copy").await, None);
    let same = c.copy_object().bucket("media").key("std/b").copy_source("media/std/b").send().await;
    assert_s3_err("copy onto itself changing nothing", same, 400, "InvalidRequest");

    let listed = listed_classes(&c, "media").await;
    let want: Vec<(String, String)> = [
        ("cold/a", "STANDARD"),
        ("cold/copy", "COLD"),
        ("cold/empty", "COLD"),
        ("cold/multi", "COLD"),
        ("cold/tiny", "COLD"),
        ("plain-copy", "STANDARD"),
        ("std/b", "STANDARD"),
    ]
    .iter()
    .map(|(k, s)| (k.to_string(), s.to_string()))
    .collect();
    assert_eq!(listed, want);
    let versions = c.list_object_versions().bucket("media").prefix("cold/m").send().await.unwrap();
    assert_eq!(versions.versions()[0].storage_class().map(|s| s.as_str()), Some("COLD"));

    // A restart reads the classes back from the metadata.
    let mut node = t.node;
    node.restart(false);
    node.wait_ready(Duration::from_secs(30)).await;
    let c = node.client();
    assert_eq!(class_of(&c, "media", "cold/multi").await.as_deref(), Some("COLD"));
    assert_eq!(get(&c, "media", "cold/multi").await, parts.concat());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_cannot_change_its_layout_under_data() {
    let mut t = start(&[]);
    t.node.terminate();
    // The same class with another code: the node refuses to start, and says why.
    let mut args: Vec<String> = Vec::new();
    for d in t.standard.iter().chain(&t.capacity) {
        args.extend(["--disk".to_string(), d.display().to_string()]);
    }
    for d in &t.capacity {
        args.extend(["--disk-pool".to_string(), format!("capacity={}", d.display())]);
    }
    args.extend(["--storage-class".to_string(), "COLD=3+3@capacity".to_string()]);
    let out = std::process::Command::new(cairnd_bin())
        .arg("--data")
        .arg(t.node.data_dir())
        .args(&args)
        .args(["--s3-listen", "127.0.0.1:0", "--node-listen", "127.0.0.1:0"])
        .env("CAIRN_ROOT_ACCESS_KEY", t.node.access_key())
        .env("CAIRN_ROOT_SECRET_KEY", t.node.secret_key())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("COLD=4+2@capacity") && err.contains("cannot change"), "{err}");
}

/// SSE-C headers for `key`: the key and its MD5, base64.
fn sse_c(key: &[u8; 32]) -> (String, String) {
    (b64(key), md5_b64(key))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lifecycle_transition_moves_objects_while_they_are_read() {
    let t = start(&["--lifecycle-day-secs", "2"]);
    let c = t.node.client();
    c.create_bucket().bucket("footage").send().await.unwrap();
    let mut objects: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..8 {
        let body = random_bytes(100 + i, (1 << 20) + i as usize * 4099);
        c.put_object().bucket("footage").key(format!("raw/{i}")).body(body.clone().into()).send().await.unwrap();
        objects.push((format!("raw/{i}"), body));
    }
    let parts = vec![random_bytes(200, 5 << 20), random_bytes(201, 300_000)];
    multipart(&c, "footage", "raw/multi", None, &parts).await;
    objects.push(("raw/multi".into(), parts.concat()));
    let secret = [7u8; 32];
    let (key_b64, md5_b64) = sse_c(&secret);
    let sealed = random_bytes(300, 700_000);
    c.put_object()
        .bucket("footage")
        .key("raw/sealed")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key_b64)
        .sse_customer_key_md5(&md5_b64)
        .body(sealed.clone().into())
        .send()
        .await
        .unwrap();
    c.put_object().bucket("footage").key("keep/x").body(random_bytes(400, 600_000).into()).send().await.unwrap();
    assert_eq!(blobs_on(&t.capacity).0, 0);
    assert_eq!(blobs_on(&t.standard).0, 12, "8 objects, 2 parts, 1 sealed, 1 kept");
    let total = objects.iter().map(|(_, b)| b.len() as u64).sum::<u64>() + 700_000 + 600_000;
    assert_eq!(usage_by_class(&t.node, "footage").await, vec![("STANDARD".into(), 11, total)]);

    // A reader that never stops while the objects move.
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let reader = {
        let (c, stop, reads, objects) = (c.clone(), stop.clone(), reads.clone(), objects.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let (key, body) = &objects[i % objects.len()];
                let got =
                    c.get_object().bucket("footage").key(key).send().await.unwrap_or_else(|e| panic!("{key}: {e:?}"));
                let bytes = read_body(got.body).await;
                assert!(bytes == *body, "{key} read back other bytes while moving");
                reads.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        })
    };

    let to_cold = Transition::builder().days(1).storage_class(TransitionStorageClass::from("COLD")).build();
    let rule = LifecycleRule::builder()
        .id("cold-after-a-day")
        .filter(LifecycleRuleFilter::builder().prefix("raw/").build())
        .status(ExpirationStatus::Enabled)
        .transitions(to_cold)
        .build()
        .unwrap();
    let config = BucketLifecycleConfiguration::builder().rules(rule).build().unwrap();
    c.put_bucket_lifecycle_configuration().bucket("footage").lifecycle_configuration(config).send().await.unwrap();
    let back = c.get_bucket_lifecycle_configuration().bucket("footage").send().await.unwrap();
    let tr = &back.rules()[0].transitions()[0];
    assert_eq!((tr.days(), tr.storage_class().map(|s| s.as_str())), (Some(1), Some("COLD")));

    let mut all_cold = false;
    for _ in 0..120 {
        let listed = listed_classes(&c, "footage").await;
        if listed.iter().all(|(k, s)| (s == "COLD") == k.starts_with("raw/")) {
            all_cold = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let listed = listed_classes(&c, "footage").await;
    assert!(all_cold, "every raw/ object moves to COLD and keep/x stays: {listed:?}\n{}", t.node.log_tail(30));
    // Keep reading a little after the switch, then stop the reader.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    reader.await.unwrap();
    assert!(reads.load(Ordering::Relaxed) >= 10, "the reader read throughout: {}", reads.load(Ordering::Relaxed));

    // After the switch the STANDARD shards are freed: only keep/x is left there.
    let freed = eventually(Duration::from_secs(20), || blobs_on(&t.standard) == (1, 4)).await;
    assert!(freed, "old shards freed: {:?}", blobs_on(&t.standard));
    assert_eq!(blobs_on(&t.capacity), (11, 66), "11 blobs of 4+2 on the capacity pool");
    for (key, body) in &objects {
        assert_eq!(class_of(&c, "footage", key).await.as_deref(), Some("COLD"), "{key}");
        assert!(get(&c, "footage", key).await == *body, "{key} after the move");
    }
    let got = c
        .get_object()
        .bucket("footage")
        .key("raw/sealed")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key_b64)
        .sse_customer_key_md5(&md5_b64)
        .send()
        .await
        .unwrap();
    assert_eq!(got.storage_class().map(|s| s.as_str()), Some("COLD"));
    assert!(read_body(got.body).await == sealed, "an SSE-C object moves as ciphertext and opens with its key");

    // Usage follows the data from class to class; the bucket's total is unchanged.
    let by_class = usage_by_class(&t.node, "footage").await;
    assert_eq!(by_class, vec![("COLD".into(), 10, total - 600_000), ("STANDARD".into(), 1, 600_000)]);
    // The bucket's quota pool reports the same split, and so does the writer's.
    let root = (cairn_tests::ROOT_ACCESS_KEY, cairn_tests::ROOT_SECRET_KEY);
    let (status, q) =
        cairn_tests::v1_json(t.node.endpoint(), root, "GET", "buckets/footage/quota", serde_json::Value::Null).await;
    assert_eq!(status, 200, "{q}");
    let split = |used: &serde_json::Value| -> Vec<(String, u64)> {
        let classes = used["classes"].as_array().unwrap_or_else(|| panic!("classes in {used}"));
        classes.iter().map(|c| (c["class"].as_str().unwrap().to_string(), c["bytes"].as_u64().unwrap())).collect()
    };
    assert_eq!(split(&q["used"]), vec![("COLD".into(), total - 600_000), ("STANDARD".into(), 600_000)], "{q}");

    let (status, body) = t.node.admin("GET", "lifecycle", b"").await;
    assert_eq!(status, 200, "{body}");
    let st: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(st["totals"]["transitioned"].as_u64(), Some(10), "{st}");
    let metrics = raw_http().get(format!("{}/metrics", t.node.endpoint())).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("cairn_lifecycle{what=\"transitioned\"} 10"), "{metrics}");
}

/// The admin usage of `bucket` by storage class: (class, versions, bytes).
async fn usage_by_class(node: &TestNode, bucket: &str) -> Vec<(String, u64, u64)> {
    let (status, body) = node.admin("GET", &format!("usage?bucket={bucket}"), b"").await;
    assert_eq!(status, 200, "{body}");
    let u: serde_json::Value = serde_json::from_str(&body).unwrap();
    let classes = u["buckets"][0]["classes"].as_array().unwrap_or_else(|| panic!("classes in {u}"));
    classes
        .iter()
        .map(|c| {
            (c["class"].as_str().unwrap().to_string(), c["objects"].as_u64().unwrap(), c["bytes"].as_u64().unwrap())
        })
        .collect()
}

fn cli(node: &TestNode, args: &[&str]) -> std::process::Output {
    cairn_tests::cluster::cairn(node.endpoint(), args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiering_by_access_moves_unread_objects_down_and_read_ones_back_up() {
    // A day of 2 s; reads committed every second.
    let t = start(&["--lifecycle-day-secs", "2", "--access-flush-secs", "1"]);
    let c = t.node.client();
    c.create_bucket().bucket("drive").send().await.unwrap();

    // Set through the CLI, validated by the endpoint.
    let bad = cli(
        &t.node,
        &["bucket", "tiering", "drive", "--cold-class", "FROZEN", "--down-after-days", "3", "--up-after-reads", "3"],
    );
    assert!(!bad.status.success());
    assert!(cairn_tests::cluster::stderr(&bad).contains("FROZEN"), "{}", cairn_tests::cluster::stderr(&bad));
    let set = cli(
        &t.node,
        &["bucket", "tiering", "drive", "--cold-class", "COLD", "--down-after-days", "3", "--up-after-reads", "3"],
    );
    assert!(set.status.success(), "{}", cairn_tests::cluster::stderr(&set));
    let shown = cairn_tests::cluster::stdout(&cli(&t.node, &["bucket", "tiering", "drive"]));
    assert!(shown.contains("STANDARD -> COLD after 3 days unread"), "{shown}");

    let (hot, cold) = (random_bytes(500, 400_000), random_bytes(501, 400_000));
    c.put_object().bucket("drive").key("hot").body(hot.clone().into()).send().await.unwrap();
    c.put_object().bucket("drive").key("cold").body(cold.clone().into()).send().await.unwrap();

    // Nobody reads either for three days (6 s): both move down.
    let mut both_cold = false;
    for _ in 0..60 {
        if listed_classes(&c, "drive").await.iter().all(|(_, s)| s == "COLD") {
            both_cold = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(both_cold, "unread objects move down: {:?}\n{}", listed_classes(&c, "drive").await, t.node.log_tail(20));

    // `hot` is read three times: it comes back up within a few seconds, `cold` stays.
    for _ in 0..3 {
        assert_eq!(get(&c, "drive", "hot").await, hot);
    }
    let mut up = false;
    for _ in 0..40 {
        if class_of(&c, "drive", "hot").await.is_none() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(up, "a read object moves back up\n{}", t.node.log_tail(20));
    assert_eq!(class_of(&c, "drive", "cold").await.as_deref(), Some("COLD"));
    assert_eq!(get(&c, "drive", "hot").await, hot);
    assert_eq!(blobs_on(&t.standard).0, 1, "hot's shards are back on STANDARD's disks");

    let (_, body) = t.node.admin("GET", "lifecycle", b"").await;
    let st: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(st["totals"]["tiered_down"].as_u64(), Some(2), "{st}");
    assert_eq!(st["totals"]["tiered_up"].as_u64(), Some(1), "{st}");
    let cleared = cli(&t.node, &["bucket", "tiering", "drive", "--clear"]);
    assert!(cleared.status.success());
    let (status, _) = send_signed(
        "GET",
        &format!("{}/cairn/v1/buckets/drive/tiering", t.node.endpoint()),
        &[],
        Payload::Bytes(b""),
        Vec::new(),
        std::time::SystemTime::now(),
    )
    .await;
    assert_eq!(status, 404, "no tiering once cleared");
}
