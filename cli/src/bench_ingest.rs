//! `cairn bench --op ingest`: batch ingest, one sitting. Builds `--count` tar archives
//! (default 20) of `--objects` files (default 1,000) of `--size` bytes each, in memory,
//! then PUTs them with `x-amz-meta-snowball-auto-extract: true`, `--concurrency` in
//! flight, and reports objects (and MiB) per second as a client sees them. Every
//! archive goes under its own prefix; `--keep` leaves the objects.

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use futures::StreamExt;
use std::time::Instant;

pub struct Ingest<'a> {
    pub bucket: &'a str,
    pub archives: u64,
    pub files: u64,
    pub size: u64,
    pub concurrency: usize,
    pub json: bool,
    pub keep: bool,
}

fn archive(files: u64, size: u64) -> anyhow::Result<Bytes> {
    let mut data = vec![0u8; size as usize];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut data);
    let mut b = tar::Builder::new(Vec::with_capacity((files * (size + 1024)) as usize));
    for i in 0..files {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(0o644);
        b.append_data(&mut h, format!("r{i:07}"), data.as_slice())?;
    }
    Ok(Bytes::from(b.into_inner()?))
}

pub async fn run(client: &aws_sdk_s3::Client, a: Ingest<'_>) -> anyhow::Result<()> {
    let body = archive(a.files, a.size)?;
    let run = format!("ingest-{:08x}", rand::random::<u32>());
    let start = Instant::now();
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(0..a.archives)
        .map(|n| {
            let (client, body, bucket, prefix) =
                (client.clone(), body.clone(), a.bucket.to_string(), format!("{run}/{n}"));
            async move {
                client
                    .put_object()
                    .bucket(bucket)
                    .key(format!("{prefix}.tar"))
                    .metadata("snowball-auto-extract", "true")
                    .metadata("minio-snowball-prefix", prefix)
                    .body(ByteStream::from(body))
                    .send()
                    .await?;
                Ok(())
            }
        })
        .buffer_unordered(a.concurrency.max(1))
        .collect()
        .await;
    let secs = start.elapsed().as_secs_f64();
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    let objects = a.archives * a.files;
    let per_sec = objects as f64 / secs;
    let mib = (objects * a.size) as f64 / 1048576.0 / secs;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"op": "ingest", "archives": a.archives, "files_per_archive": a.files,
                "size": a.size, "concurrency": a.concurrency, "seconds": secs,
                "objects_per_s": per_sec, "mib_per_s": mib})
        );
    } else {
        println!(
            "ingest: {objects} objects of {} B in {} archives, {} in flight: {secs:.2} s, {per_sec:.0} objects/s, {mib:.1} MiB/s",
            a.size, a.archives, a.concurrency
        );
    }
    if !a.keep {
        let mut token = None;
        loop {
            let page = client
                .list_objects_v2()
                .bucket(a.bucket)
                .prefix(format!("{run}/"))
                .set_continuation_token(token)
                .send()
                .await?;
            let ids: Vec<_> = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .map(|k| aws_sdk_s3::types::ObjectIdentifier::builder().key(k).build())
                .collect::<Result<_, _>>()?;
            if !ids.is_empty() {
                let del = aws_sdk_s3::types::Delete::builder().set_objects(Some(ids)).quiet(true).build()?;
                client.delete_objects().bucket(a.bucket).delete(del).send().await?;
            }
            match page.next_continuation_token() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
    }
    Ok(())
}
