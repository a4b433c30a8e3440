//! Disks that run out of space: a node whose four disks share one small tmpfs (its metadata
//! elsewhere) is filled until writes fail. Every write that needs shards must then fail
//! cleanly with 507 InsufficientStorage (not a 500, not a hang, not a half-written object),
//! small shards bound for segments and large ones bound for files alike; writes that need
//! no shards go on; everything acknowledged stays readable; and once space returns, writes
//! succeed again without a restart, and everything survives a kill -9.
//!
//! Needs root (it mounts a tmpfs), as the test command runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_tests::aws_sdk_s3::config::http::HttpResponse;
use cairn_tests::aws_sdk_s3::error::SdkError;
use cairn_tests::aws_sdk_s3::operation::upload_part::{UploadPartError, UploadPartOutput};
use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use cairn_tests::aws_sdk_s3::Client;
use cairn_tests::*;

const BUCKET: &str = "full";
const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
/// The tmpfs all four disks share.
const DISKS_FS_MIB: usize = 64;
/// Space left free by the ballast before the node is filled the rest of the way.
const LEFT_FREE: usize = 4 * MIB;
/// Objects whose shards go to segments (half the object per shard on 2+2), and ones whose
/// shards are files of their own.
const SEGMENT_OBJECT: usize = 100 * KIB;
const FILE_OBJECT: usize = MIB;

/// A tmpfs mounted for the test, unmounted when dropped (after the node that used it).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, mib: usize) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mounting a {mib} MiB tmpfs at {} failed (this test needs root): {}",
            at.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the filesystem of `dir` with 1 MiB files until it is full, then frees `leave`
/// bytes of them again; returns the ballast files left.
fn fill_with_ballast(dir: &Path, leave: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let chunk = vec![0x5au8; MIB];
    let mut files = Vec::new();
    for i in 0.. {
        let p = dir.join(format!("ballast-{i}"));
        match std::fs::write(&p, &chunk) {
            Ok(()) => files.push(p),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "ballast {}: {e}", p.display());
                let _ = std::fs::remove_file(&p);
                break;
            }
        }
        assert!(i < 4 * DISKS_FS_MIB, "the disks' filesystem never filled up");
    }
    for _ in 0..leave.div_ceil(MIB) {
        std::fs::remove_file(files.pop().expect("ballast to free")).unwrap();
    }
    files
}

/// PUT: Ok(()) on 200, else (status, code).
async fn put(c: &Client, key: &str, data: &[u8]) -> Result<(), (Option<u16>, Option<String>)> {
    match c.put_object().bucket(BUCKET).key(key).body(ByteStream::from(data.to_vec())).send().await {
        Ok(out) => {
            assert_eq!(out.e_tag(), Some(etag_of(data).as_str()), "PUT {key}");
            Ok(())
        }
        Err(e) => {
            let i = ErrInfo::from_sdk(&e);
            Err((i.status, i.code))
        }
    }
}

fn assert_full(what: &str, res: Result<(), (Option<u16>, Option<String>)>) {
    assert_eq!(
        res,
        Err((Some(507), Some("InsufficientStorage".to_string()))),
        "{what} on full disks must be refused with 507 InsufficientStorage"
    );
}

async fn assert_absent(c: &Client, key: &str) {
    let r = c.head_object().bucket(BUCKET).key(key).send().await;
    assert_status_err(&format!("HEAD {key} after its PUT failed"), r, 404);
}

/// Part 1 of the test's multipart upload of `full/mpu`.
async fn upload_part(
    c: &Client,
    upload_id: &str,
    part: &[u8],
) -> Result<UploadPartOutput, SdkError<UploadPartError, HttpResponse>> {
    let body = ByteStream::from(part.to_vec());
    c.upload_part().bucket(BUCKET).key("full/mpu").upload_id(upload_id).part_number(1).body(body).send().await
}

fn tmp_files(disks: &[PathBuf]) -> Vec<PathBuf> {
    disks.iter().flat_map(|d| files_under(&d.join("tmp"))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disks_refuse_writes_cleanly_and_recover_when_space_returns() {
    within(300, async {
        let mut mount = None;
        let mut node = TestNode::start_prepared(&[], |root| {
            mount = Some(Tmpfs::mount(&root.join("data").join("disks"), DISKS_FS_MIB));
        });
        let _mount = mount;
        let disks = node.disk_dirs();
        let ballast_dir = node.data_dir().join("disks").join("ballast");
        let c = node.client();
        create_bucket(&c, BUCKET).await;

        let mut stored: Vec<(String, Vec<u8>)> = Vec::new();
        for (i, len) in [10 * KIB, SEGMENT_OBJECT, FILE_OBJECT].into_iter().enumerate() {
            let (key, data) = (format!("before/{i}"), random_bytes(i as u64, len));
            put(&c, &key, &data).await.unwrap_or_else(|e| panic!("PUT {key} before filling: {e:?}"));
            stored.push((key, data));
        }

        // Fill the disks: ballast first, then objects until both kinds are refused.
        let mut ballast = fill_with_ballast(&ballast_dir, LEFT_FREE);
        let (mut segment_refused, mut file_refused) = (None, None);
        for i in 0..400u64 {
            if segment_refused.is_some() && file_refused.is_some() {
                break;
            }
            let len = if i % 2 == 0 { SEGMENT_OBJECT } else { FILE_OBJECT };
            let (key, data) = (format!("filling/{i}"), random_bytes(1000 + i, len));
            match put(&c, &key, &data).await {
                Ok(()) => stored.push((key, data)),
                Err(e) => {
                    assert_full(&format!("PUT {key} ({len} bytes)"), Err(e));
                    assert_absent(&c, &key).await;
                    *(if len == SEGMENT_OBJECT { &mut segment_refused } else { &mut file_refused }) = Some(key);
                }
            }
        }
        let (Some(seg_key), Some(file_key)) = (segment_refused, file_refused) else {
            panic!("the disks never filled up")
        };
        eprintln!("refused once full: {seg_key}, {file_key}; {} objects stored", stored.len());

        // Full: shard writes of every kind refused, each leaving nothing behind...
        assert_full("PUT of a segment-sized object", put(&c, "full/segment", &random_bytes(1, SEGMENT_OBJECT)).await);
        assert_full("PUT of a file-sized object", put(&c, "full/file", &random_bytes(2, FILE_OBJECT)).await);
        let up = c.create_multipart_upload().bucket(BUCKET).key("full/mpu").send().await.expect("create upload");
        let upload_id = up.upload_id().unwrap().to_string();
        let part = random_bytes(3, 5 * MIB);
        assert_s3_err("UploadPart on full disks", upload_part(&c, &upload_id, &part).await, 507, "InsufficientStorage");
        // ...concurrent ones too, none hanging.
        let burst: Vec<_> = (0..8u64)
            .map(|i| {
                let c = c.clone();
                tokio::spawn(async move {
                    let key = format!("full/burst{i}");
                    (put(&c, &key, &random_bytes(50 + i, FILE_OBJECT)).await, key)
                })
            })
            .collect();
        for t in burst {
            let (res, key) = tokio::time::timeout(Duration::from_secs(30), t).await.expect("a PUT hangs").unwrap();
            assert_full(&format!("concurrent PUT {key}"), res);
            assert_absent(&c, &key).await;
        }
        for key in ["full/segment", "full/file"] {
            assert_absent(&c, key).await;
        }
        let tmp = tmp_files(&disks);
        assert!(tmp.is_empty(), "refused writes left temp files: {tmp:?}");
        // What needs no shards goes on: an inline object, a bucket, a listing, every read.
        let inline = random_bytes(4, 2 * KIB);
        put(&c, "full/inline", &inline).await.expect("an inline PUT needs no disk space");
        stored.push(("full/inline".into(), inline));
        create_bucket(&c, "full-second").await;
        for (key, data) in &stored {
            assert_eq!(&get_bytes(&c, BUCKET, key).await, data, "GET {key} on full disks");
        }
        let listed = list_all_keys(&c, BUCKET).await;
        assert_eq!(listed.len(), stored.len(), "listing on full disks: {listed:?}");

        // Space returns: writes succeed again, no restart needed.
        for p in ballast.drain(..) {
            std::fs::remove_file(p).unwrap();
        }
        for (key, len) in [("after/segment", SEGMENT_OBJECT), ("after/file", FILE_OBJECT)] {
            let data = random_bytes(5 + len as u64, len);
            put(&c, key, &data).await.unwrap_or_else(|e| panic!("PUT {key} once space returned: {e:?}"));
            stored.push((key.to_string(), data));
        }
        let r = upload_part(&c, &upload_id, &part).await.expect("UploadPart once space returned");
        let done = CompletedPart::builder().part_number(1).e_tag(r.e_tag().unwrap()).build();
        c.complete_multipart_upload()
            .bucket(BUCKET)
            .key("full/mpu")
            .upload_id(&upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().parts(done).build())
            .send()
            .await
            .expect("complete the upload once space returned");
        stored.push(("full/mpu".into(), part));

        // A crash after all of it loses nothing acknowledged and shows nothing refused.
        node.restart(true);
        node.wait_ready(Duration::from_secs(30)).await;
        let c = node.client();
        for (key, data) in &stored {
            assert_eq!(&get_bytes(&c, BUCKET, key).await, data, "GET {key} after the restart");
        }
        for key in [seg_key.as_str(), file_key.as_str(), "full/segment", "full/file"] {
            assert_absent(&c, key).await;
        }
        let log = node.log_text();
        assert!(!log.contains("panicked"), "the node panicked:\n{}", node.log_tail(60));
        node.terminate();
    })
    .await;
}
