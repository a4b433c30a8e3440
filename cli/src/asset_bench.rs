//! `cairn asset bench`: the catalogue under load, one sitting. Registers `--count`
//! assets in batches (`POST assets/batch`, `--concurrency` batches in flight; the
//! media types rotate, each asset with one version pointing at one seeded object and
//! its SHA-256 given), then times, as a client sees them (HTTP and SigV4 included):
//! a page of 100 of one media type (the first page and pages deep into the list,
//! followed by cursor), a batch get of 1,000 random ids, and a stats read. Reports
//! registrations per second and the median and p99 of each read, in milliseconds.
//! The assets stay (there is no asset delete yet): run it against a throwaway node.

use crate::admin::v1;
use crate::bucket::sdk;
use crate::client::Connection;
use aws_sdk_s3::primitives::ByteStream;
use cairn_api::assets::{
    AssetList, AssetStats, BatchGet, BatchGetResult, BatchRegister, BatchRegistered, MEDIA_TYPES, NewVersion,
    ObjectRef, RegisterAsset,
};
use futures::StreamExt;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Assets to register.
    #[arg(long, default_value_t = 100_000)]
    count: usize,
    /// Registrations per batch request (at most 1000).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Batch requests in flight.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Timed requests of each read kind.
    #[arg(long, default_value_t = 50)]
    reads: usize,
    /// The tenant to register into [default: the key's].
    #[arg(long)]
    tenant: Option<String>,
    /// Bucket for the seeded object (created if missing).
    #[arg(long, default_value = "cairn-asset-bench")]
    bucket: String,
    /// Skip registration: time the reads over the assets already there.
    #[arg(long)]
    reads_only: bool,
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct Report {
    registered: usize,
    registrations_per_sec: f64,
    page_of_100_ms: Timing,
    batch_get_1000_ms: Timing,
    stats_ms: Timing,
    total_assets: u64,
}

#[derive(serde::Serialize)]
struct Timing {
    median: f64,
    p99: f64,
}

fn timing(mut d: Vec<Duration>) -> Timing {
    d.sort();
    let at = |q: f64| d.get(((d.len() as f64 - 1.0) * q).round() as usize).map_or(0.0, |x| x.as_secs_f64() * 1000.0);
    Timing { median: at(0.5), p99: at(0.99) }
}

fn query(tenant: &Option<String>, extra: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(t) = tenant {
        q.append_pair("tenant", t);
    }
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    q.finish()
}

pub async fn run(conn: &Connection, a: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!((1..=1000).contains(&a.batch), "--batch is 1 to 1000");
    let s3 = conn.s3()?;
    let body = b"cairn asset bench".to_vec();
    let sha = hex::encode(Sha256::digest(&body));
    if s3.head_bucket().bucket(&a.bucket).send().await.is_err() {
        s3.create_bucket().bucket(&a.bucket).send().await.map_err(|e| sdk("create bucket", e))?;
    }
    s3.put_object()
        .bucket(&a.bucket)
        .key("seed")
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| sdk("seed", e))?;
    let mut ids: Vec<String> = Vec::new();
    let mut rate = 0.0;
    if !a.reads_only {
        let run_tag = format!("{:08x}", rand::thread_rng().r#gen::<u32>());
        let batches: Vec<BatchRegister> = (0..a.count)
            .collect::<Vec<_>>()
            .chunks(a.batch)
            .map(|chunk| BatchRegister {
                assets: chunk
                    .iter()
                    .map(|i| RegisterAsset {
                        tenant: a.tenant.clone(),
                        name: format!("bench-{run_tag}-{i:08}"),
                        media_type: MEDIA_TYPES[i % MEDIA_TYPES.len()].to_string(),
                        version: Some(NewVersion {
                            object: ObjectRef { bucket: a.bucket.clone(), key: "seed".into(), version_id: None },
                            sha256: Some(sha.clone()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .collect(),
            })
            .collect();
        let started = Instant::now();
        let mut inflight = futures::stream::iter(batches.into_iter().map(|b| async move {
            let r: anyhow::Result<BatchRegistered> = v1::post(conn, "assets/batch", &b).await;
            r
        }))
        .buffer_unordered(a.concurrency.max(1));
        while let Some(r) = inflight.next().await {
            for item in r?.results {
                match (item.asset, item.error) {
                    (Some(asset), _) => ids.push(asset.id),
                    (None, Some(e)) => anyhow::bail!("a registration was refused: {}: {}", e.code, e.message),
                    (None, None) => anyhow::bail!("an empty result"),
                }
            }
        }
        rate = ids.len() as f64 / started.elapsed().as_secs_f64();
    }
    // Pages of 100 videos: the first, then deeper ones by cursor.
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen_ids: Vec<String> = Vec::new();
    for _ in 0..a.reads {
        let mut extra = vec![("media_type", "video"), ("limit", "100")];
        if let Some(c) = &cursor {
            extra.push(("cursor", c));
        }
        let path = format!("assets?{}", query(&a.tenant, &extra));
        let t = Instant::now();
        let page: AssetList = v1::get(conn, &path).await?;
        pages.push(t.elapsed());
        anyhow::ensure!(!page.assets.is_empty(), "no video assets to page through");
        seen_ids.extend(page.assets.into_iter().map(|x| x.id));
        cursor = page.next_cursor;
    }
    let pool = if ids.is_empty() { seen_ids } else { ids.clone() };
    let mut gets = Vec::new();
    for _ in 0..a.reads {
        let pick: Vec<String> = (0..1000).map(|_| pool[rand::thread_rng().gen_range(0..pool.len())].clone()).collect();
        let t = Instant::now();
        let got: BatchGetResult = v1::post(conn, "assets/batch-get", &BatchGet { ids: pick }).await?;
        gets.push(t.elapsed());
        anyhow::ensure!(got.missing.is_empty(), "batch get missed {} ids", got.missing.len());
    }
    let mut stats = Vec::new();
    let mut total = 0;
    for _ in 0..a.reads {
        let t = Instant::now();
        let s: AssetStats = v1::get(conn, &format!("assets/stats?{}", query(&a.tenant, &[]))).await?;
        stats.push(t.elapsed());
        total = s.total.count;
    }
    let report = Report {
        registered: ids.len(),
        registrations_per_sec: rate,
        page_of_100_ms: timing(pages),
        batch_get_1000_ms: timing(gets),
        stats_ms: timing(stats),
        total_assets: total,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("registered          {} ({:.0}/s)", report.registered, report.registrations_per_sec);
        println!("assets in tenant    {}", report.total_assets);
        for (what, t) in [
            ("page of 100", &report.page_of_100_ms),
            ("batch get 1000", &report.batch_get_1000_ms),
            ("stats", &report.stats_ms),
        ] {
            println!("{what:<19} median {:.2} ms, p99 {:.2} ms", t.median, t.p99);
        }
    }
    Ok(())
}
