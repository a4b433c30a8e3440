//! `cairn asset put FILE`: hash the file; if the tenant holds that content already,
//! register it pointing at the stored bytes (instant upload); otherwise upload it (one
//! PUT below [`PART`], else a multipart upload with a progress bar), then register it
//! as a new asset, or as the next version of `--asset`. Resumable without local state: every upload is marked
//! with the file's SHA-256 (`x-amz-meta-cairn-sha256`), so an interrupted one is found
//! again by content (`GET /cairn/v1/assets/uploads`), and only the missing parts are
//! sent.

use crate::admin::v1;
use crate::asset::{Describe, describe, meta, print_json};
use crate::bucket::sdk;
use crate::client::Connection;
use crate::tenant::segment;
use anyhow::Context;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use cairn_api::assets::{
    AssetInfo, AssetVersionInfo, ContentMatches, ContentRef, NewVersion, ObjectRef, PendingUploads, RegisterAsset,
    UPLOAD_SHA256_META,
};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Part size of a multipart upload (and the size from which one is used).
const PART: u64 = 16 << 20;

#[derive(clap::Args)]
pub struct PutArgs {
    file: PathBuf,
    /// The bucket to upload into.
    #[arg(long)]
    bucket: String,
    /// The object key [default: the file's name].
    #[arg(long)]
    key: Option<String>,
    /// The asset's name [default: the file's name].
    #[arg(long)]
    name: Option<String>,
    /// video, audio, image, document, model or other.
    #[arg(long = "type")]
    media_type: Option<String>,
    /// Add the file as the next version of this asset instead of registering a new one.
    #[arg(long)]
    asset: Option<String>,
    #[arg(long)]
    tenant: Option<String>,
    #[command(flatten)]
    describe: Describe,
    /// Upload even when the tenant holds this content already.
    #[arg(long)]
    no_dedupe: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    #[arg(long)]
    json: bool,
}

fn bar(quiet: bool, len: u64, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template("{msg:9} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b.set_message(what.to_string());
    b
}

/// SHA-256 (hex) and size of `path`, read in 1 MiB chunks.
pub(crate) async fn hash_file(path: &Path, quiet: bool) -> anyhow::Result<(String, u64)> {
    let mut f = tokio::fs::File::open(path).await.with_context(|| format!("opening {}", path.display()))?;
    let len = f.metadata().await?.len();
    let b = bar(quiet, len, "hashing");
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        b.inc(n as u64);
    }
    b.finish_and_clear();
    Ok((hex::encode(h.finalize()), len))
}

async fn read_part(path: &Path, number: i32, len: u64) -> anyhow::Result<Vec<u8>> {
    let start = (number as u64 - 1) * PART;
    let size = PART.min(len - start) as usize;
    let mut f = tokio::fs::File::open(path).await?;
    f.seek(std::io::SeekFrom::Start(start)).await?;
    let mut buf = vec![0u8; size];
    f.read_exact(&mut buf).await?;
    Ok(buf)
}

/// An upload in progress of this content to `key` (found by the server from the
/// `cairn-sha256` mark every upload of `put` carries), with the parts it holds that
/// fit this file's part layout; or none.
async fn resumable(
    conn: &Connection,
    bucket: &str,
    key: &str,
    sha256: &str,
    len: u64,
) -> anyhow::Result<Option<(String, Vec<CompletedPart>)>> {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("bucket", bucket)
        .append_pair("sha256", sha256)
        .append_pair("key", key)
        .finish();
    let found: PendingUploads = v1::get(conn, &format!("assets/uploads?{q}")).await?;
    let Some(u) = found.uploads.into_iter().find(|u| u.key == key) else { return Ok(None) };
    let done = u
        .parts
        .iter()
        .filter(|p| {
            let start = (u64::from(p.number).saturating_sub(1)) * PART;
            p.number >= 1 && start < len && p.size == PART.min(len - start)
        })
        .map(|p| CompletedPart::builder().part_number(p.number as i32).e_tag(format!("\"{}\"", p.etag)).build())
        .collect();
    Ok(Some((u.upload_id, done)))
}

/// Uploads `path` to `bucket/key`; answers the version id made, if any.
async fn upload(
    conn: &Connection,
    bucket: &str,
    key: &str,
    path: &Path,
    (sha256, len): (&str, u64),
    quiet: bool,
) -> anyhow::Result<Option<String>> {
    let s3 = conn.s3()?;
    if len < PART {
        let body = ByteStream::from_path(path).await?;
        let out = s3.put_object().bucket(bucket).key(key).body(body).send().await.map_err(|e| sdk("upload", e))?;
        return Ok(out.version_id().map(String::from));
    }
    let parts = len.div_ceil(PART) as i32;
    let (upload_id, mut done) = match resumable(conn, bucket, key, sha256, len).await? {
        Some(found) => {
            if !quiet {
                eprintln!("resuming upload {}: {} of {parts} parts already stored", found.0, found.1.len());
            }
            found
        }
        None => {
            let up = s3
                .create_multipart_upload()
                .bucket(bucket)
                .key(key)
                .metadata(UPLOAD_SHA256_META, sha256)
                .send()
                .await
                .map_err(|e| sdk("start upload", e))?;
            (up.upload_id().context("no upload id")?.to_string(), Vec::new())
        }
    };
    let b = bar(quiet, len, if done.is_empty() { "uploading" } else { "resuming" });
    for p in &done {
        let n = p.part_number().unwrap_or(1);
        b.inc(PART.min(len - (n as u64 - 1) * PART));
    }
    for number in 1..=parts {
        if done.iter().any(|p| p.part_number() == Some(number)) {
            continue;
        }
        let bytes = read_part(path, number, len).await?;
        let n = bytes.len() as u64;
        let out = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| sdk(&format!("upload part {number} (run the command again to resume)"), e))?;
        done.push(CompletedPart::builder().part_number(number).set_e_tag(out.e_tag().map(String::from)).build());
        b.inc(n);
    }
    b.finish_and_clear();
    done.sort_by_key(|p| p.part_number());
    let out = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
        .send()
        .await
        .map_err(|e| sdk("complete upload", e))?;
    Ok(out.version_id().map(String::from))
}

pub async fn run(conn: &Connection, a: PutArgs) -> anyhow::Result<()> {
    let file_name = a.file.file_name().and_then(|n| n.to_str()).context("the file has no usable name")?.to_string();
    let key = a.key.clone().unwrap_or_else(|| file_name.clone());
    let (sha256, len) = hash_file(&a.file, a.quiet).await?;
    // Instant upload: content the tenant holds already is pointed at, not sent again.
    let held = match a.no_dedupe {
        true => false,
        false => {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("sha256", &sha256).append_pair("size", &len.to_string());
            if let Some(t) = &a.tenant {
                q.append_pair("tenant", t);
            }
            let found: ContentMatches = v1::get(conn, &format!("assets/content?{}", q.finish())).await?;
            !found.matches.is_empty()
        }
    };
    let version = if held {
        if !a.quiet {
            eprintln!("the tenant holds this content already: nothing to upload");
        }
        NewVersion { content: Some(ContentRef { sha256, size: len }), ..Default::default() }
    } else {
        let version_id = upload(conn, &a.bucket, &key, &a.file, (&sha256, len), a.quiet).await?;
        NewVersion {
            object: ObjectRef { bucket: a.bucket.clone(), key, version_id },
            sha256: Some(sha256),
            ..Default::default()
        }
    };
    match &a.asset {
        Some(id) => {
            let v: AssetVersionInfo = v1::post(conn, &format!("assets/{}/versions", segment(id)?), &version).await?;
            if a.json { print_json(&v)? } else { println!("asset {id}: version {} ({} bytes)", v.number, v.size) }
        }
        None => {
            let Some(media_type) = a.media_type.clone() else {
                anyhow::bail!("--type is needed to register a new asset (video, audio, image, document, model, other)");
            };
            let d = a.describe;
            let body = RegisterAsset {
                tenant: a.tenant.clone(),
                name: a.name.clone().unwrap_or(file_name),
                media_type,
                project: d.project,
                status: d.status,
                tags: d.tags.into_iter().collect(),
                meta: meta(d.meta.as_deref())?,
                version: Some(version),
                ..Default::default()
            };
            let info: AssetInfo = v1::post(conn, "assets", &body).await?;
            if a.json { print_json(&info)? } else { print!("{}", describe(&info)) }
        }
    }
    Ok(())
}
