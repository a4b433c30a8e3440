//! Upgrades keep data: a data directory written by an older cairnd (the fixtures in
//! `tests/fixtures/formatN.*`, made by `scripts/fixtures/make-upgrade-fixture.sh`:
//! format 2 with the cairnd of commit 0876dae, before the table registry, with the
//! Raft log in sled; format 3 with that of fa974a8, the log in its own files) opens with this
//! one, serves every object byte for byte with its metadata, policy and ACL, lets
//! the upload it left in progress complete, and takes new writes that survive a
//! restart.

use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use cairn_tests::*;
use std::path::Path;
use std::process::Command;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

fn unpack(name: &str, into: &Path) {
    let st = Command::new("tar")
        .arg("-xzf")
        .arg(fixture(&format!("{name}.tar.gz")))
        .arg("-C")
        .arg(into)
        .status()
        .expect("run tar");
    assert!(st.success(), "tar -xzf failed: {st}");
    // disks.json records the disks' absolute paths, and the fixture was written
    // elsewhere: point it at the unpacked disks, as anyone moving a data directory must.
    let list = into.join("data/disks.json");
    let old: Vec<String> = serde_json::from_slice(&std::fs::read(&list).unwrap()).unwrap();
    let moved: Vec<String> = old
        .iter()
        .map(|d| {
            let name = Path::new(d).file_name().unwrap();
            into.join("data/disks").join(name).display().to_string()
        })
        .collect();
    std::fs::write(&list, serde_json::to_vec(&moved).unwrap()).unwrap();
}

async fn body_md5(c: &cairn_tests::aws_sdk_s3::Client, bucket: &str, key: &str) -> (usize, String) {
    let got =
        c.get_object().bucket(bucket).key(key).send().await.unwrap_or_else(|e| panic!("GET {bucket}/{key}: {e:?}"));
    let bytes = got.body.collect().await.expect("read body").into_bytes();
    (bytes.len(), md5_hex(&bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_of_format_2_serves_everything() {
    // Format 2 kept the Raft log in sled (entries 5 to 17 in this fixture); format 3 moves
    // it into its own files, starting where it started.
    serves_everything("format2", Some("00000000000000000005.log")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_of_format_3_serves_everything() {
    serves_everything("format3", None).await;
}

/// Opens the data directory of fixture `name` with this cairnd and checks everything its
/// manifest lists; `moved_log`: the log file a migration out of sled must have written.
async fn serves_everything(name: &str, moved_log: Option<&str>) {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture(&format!("{name}.manifest.json"))).unwrap()).unwrap();
    let mut node = TestNode::start_prepared(&[], |dir| unpack(name, dir));
    if let Some(want) = moved_log {
        let logs: Vec<String> = std::fs::read_dir(node.data_dir().join("meta/raft-log"))
            .expect("the raft log moved into meta/raft-log")
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(logs, [want], "the fixture's log moved as it was");
    }
    let c = ClientBuilder::new(node.endpoint())
        .credentials(manifest["access_key"].as_str().unwrap(), manifest["secret_key"].as_str().unwrap())
        .build();

    // Every object, byte for byte.
    let objects = manifest["objects"].as_object().unwrap();
    assert!(objects.len() >= 5);
    for (path, want) in objects {
        let (bucket, key) = path.split_once('/').unwrap();
        let (size, md5) = body_md5(&c, bucket, key).await;
        assert_eq!(size as u64, want["size"].as_u64().unwrap(), "{path}: size");
        assert_eq!(md5, want["md5"].as_str().unwrap(), "{path}: content");
    }
    // Listing: one ordered scan finds exactly the fixture's keys.
    let listed = c.list_objects_v2().bucket("fixture").send().await.unwrap();
    let mut keys: Vec<String> = listed.contents().iter().map(|o| o.key().unwrap().to_string()).collect();
    let mut want: Vec<String> = objects.keys().filter_map(|p| p.strip_prefix("fixture/")).map(String::from).collect();
    keys.sort();
    want.sort();
    assert_eq!(keys, want);

    // Metadata, ACL and bucket policy kept.
    let head = c.head_object().bucket("fixture").key("meta.json").send().await.unwrap();
    let meta = &manifest["metadata"]["fixture/meta.json"];
    assert_eq!(head.content_type(), meta["content_type"].as_str());
    assert_eq!(head.metadata().and_then(|m| m.get("colour")).map(String::as_str), meta["colour"].as_str());
    let http = raw_http();
    let anon = http.get(format!("{}/fixture/meta.json", node.endpoint())).send().await.unwrap();
    assert_eq!(anon.status(), 200, "the public-read object ACL was lost");
    for (path, body) in manifest["public"].as_object().unwrap() {
        let r = http.get(format!("{}/{path}", node.endpoint())).send().await.unwrap();
        assert_eq!(r.status(), 200, "the bucket policy allowing anonymous reads of {path} was lost");
        assert_eq!(r.text().await.unwrap(), body.as_str().unwrap());
    }
    let denied = http.get(format!("{}/fixture/small.txt", node.endpoint())).send().await.unwrap();
    assert_eq!(denied.status(), 403, "a private object became readable");

    // The upload left in progress completes with the part written before the upgrade.
    let p = &manifest["pending"];
    let (bucket, key, upload_id) =
        (p["bucket"].as_str().unwrap(), p["key"].as_str().unwrap(), p["upload_id"].as_str().unwrap());
    let parts = c.list_parts().bucket(bucket).key(key).upload_id(upload_id).send().await.unwrap();
    assert_eq!(parts.parts().len(), 1);
    let part = &parts.parts()[0];
    assert_eq!(part.size(), p["part1_size"].as_i64());
    let done = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(part.e_tag().unwrap()).build())
        .build();
    c.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(done)
        .send()
        .await
        .expect("complete the upload begun before the upgrade");
    let (size, md5) = body_md5(&c, bucket, key).await;
    assert_eq!(size as u64, p["part1_size"].as_u64().unwrap());
    assert_eq!(md5, p["part1_md5"].as_str().unwrap());

    // New writes (inline and sharded) and deletes, then a restart: all of it stays.
    let big = random_bytes(7, 700 * 1024);
    c.put_object().bucket("fixture").key("after/big").body(ByteStream::from(big.clone())).send().await.unwrap();
    c.put_object().bucket("fixture").key("after/small").body(ByteStream::from_static(b"new")).send().await.unwrap();
    c.delete_object().bucket("fixture").key("small.txt").send().await.unwrap();
    node.restart(false);
    let c = ClientBuilder::new(node.endpoint())
        .credentials(manifest["access_key"].as_str().unwrap(), manifest["secret_key"].as_str().unwrap())
        .build();
    assert_eq!(body_md5(&c, "fixture", "after/big").await, (big.len(), md5_hex(&big)));
    assert_eq!(body_md5(&c, "fixture", "after/small").await, (3, md5_hex(b"new")));
    assert_status_err(
        "deleted before the restart",
        c.head_object().bucket("fixture").key("small.txt").send().await,
        404,
    );
    let (size, md5) = body_md5(&c, "fixture", "big.bin").await;
    assert_eq!(
        (size as u64, md5.as_str()),
        (objects["fixture/big.bin"]["size"].as_u64().unwrap(), objects["fixture/big.bin"]["md5"].as_str().unwrap())
    );
}
