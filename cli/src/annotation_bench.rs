//! `cairn asset bench-annotations`: video annotations under load, one sitting, as a
//! client sees them (HTTP and SigV4 included). Registers a video asset (25 fps, 10 h)
//! over a seeded object, then:
//!
//! 1. writes `--count` annotations in batches of `--batch` (`--concurrency` in flight):
//!    annotations per second through batched commits;
//! 2. writes `--singles` annotations one request each (`--single-concurrency` in
//!    flight): per second, committed as the Raft log batches them;
//! 3. opens `--subscribers` live streams (SSE) on a second version of the video and
//!    writes `--live-writes` annotations at `--live-rate` per second: the time from
//!    a write being sent to each subscriber holding its event (an upper bound of
//!    commit-to-delivery), p50 and p99 over every delivery; every subscriber must get
//!    every event once, in order;
//! 4. times `--queries` frame-range queries (one second of frames, up to 100
//!    annotations) at random places of the first video: median and p99.
//!
//! The annotations stay: run it against a throwaway node.

use crate::admin::{signed, v1};
use crate::bucket::sdk;
use crate::client::Connection;
use aws_sdk_s3::primitives::ByteStream;
use cairn_api::V1_PREFIX;
use cairn_api::annotations::{AnnotationBatch, AnnotationBatchResult, AnnotationInfo, AnnotationList, NewAnnotation};
use cairn_api::assets::{AssetInfo, AssetVersionInfo, MediaMeta, NewVersion, ObjectRef, RegisterAsset};
use futures::StreamExt;
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Frames of ten hours at 25 fps.
const FRAMES: u64 = 25 * 3600 * 10;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Annotations written in batches (and queried).
    #[arg(long, default_value_t = 1_000_000)]
    count: usize,
    /// Annotations per batch request (at most 1000).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Batch requests in flight.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Annotations written one request each.
    #[arg(long, default_value_t = 20_000)]
    singles: usize,
    /// Single-annotation requests in flight.
    #[arg(long, default_value_t = 64)]
    single_concurrency: usize,
    /// Live subscribers.
    #[arg(long, default_value_t = 100)]
    subscribers: usize,
    /// Annotations written while the subscribers watch.
    #[arg(long, default_value_t = 2000)]
    live_writes: usize,
    /// Live writes per second.
    #[arg(long, default_value_t = 200)]
    live_rate: u32,
    /// Timed frame-range queries.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// The tenant to register the video in [default: the key's].
    #[arg(long)]
    tenant: Option<String>,
    #[arg(long, default_value = "cairn-annotation-bench")]
    bucket: String,
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct Timing {
    median: f64,
    p50: f64,
    p99: f64,
    samples: usize,
}

fn timing(mut d: Vec<Duration>) -> Timing {
    d.sort();
    let at = |q: f64| d.get(((d.len() as f64 - 1.0) * q).round() as usize).map_or(0.0, |x| x.as_secs_f64() * 1000.0);
    Timing { median: at(0.5), p50: at(0.5), p99: at(0.99), samples: d.len() }
}

#[derive(serde::Serialize)]
struct Report {
    batched: usize,
    batched_per_sec: f64,
    singles: usize,
    singles_per_sec: f64,
    subscribers: usize,
    live_writes: usize,
    delivery_ms: Timing,
    frame_range_query_ms: Timing,
    annotations_in_video: usize,
}

fn note(frame: u64, text: String) -> NewAnnotation {
    NewAnnotation { frame: Some(frame), kind: "text".into(), text: Some(text), ..Default::default() }
}

/// Registers the bench's video with two versions; its id.
async fn video(conn: &Connection, a: &BenchArgs) -> anyhow::Result<String> {
    let s3 = conn.s3()?;
    if s3.head_bucket().bucket(&a.bucket).send().await.is_err() {
        s3.create_bucket().bucket(&a.bucket).send().await.map_err(|e| sdk("create bucket", e))?;
    }
    let body = ByteStream::from(b"cairn annotation bench".to_vec());
    s3.put_object().bucket(&a.bucket).key("reel").body(body).send().await.map_err(|e| sdk("seed", e))?;
    let object = ObjectRef { bucket: a.bucket.clone(), key: "reel".into(), version_id: None };
    let reg = RegisterAsset {
        tenant: a.tenant.clone(),
        name: format!("annotation bench {:08x}", rand::thread_rng().r#gen::<u32>()),
        media_type: "video".into(),
        meta: MediaMeta { frame_rate: Some("25".into()), duration_ms: Some(FRAMES * 40), ..Default::default() },
        version: Some(NewVersion { object: object.clone(), ..Default::default() }),
        ..Default::default()
    };
    let asset: AssetInfo = v1::post(conn, "assets", &reg).await?;
    let _: AssetVersionInfo =
        v1::post(conn, &format!("assets/{}/versions", asset.id), &NewVersion { object, ..Default::default() }).await?;
    Ok(asset.id)
}

/// One subscriber's arrivals: (event seq, the write's index, when it arrived).
type Arrivals = Vec<(u64, usize, Instant)>;

/// Reads a live stream until `want` events arrived or `deadline` passed.
async fn subscribe(resp: reqwest::Response, want: usize, deadline: Instant) -> anyhow::Result<Arrivals> {
    let mut body = resp.bytes_stream();
    let mut buf = Vec::<u8>::new();
    let mut out = Arrivals::new();
    while out.len() < want {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(chunk)) = tokio::time::timeout(left, body.next()).await else { break };
        let now = Instant::now();
        buf.extend_from_slice(&chunk?);
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = buf.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&block);
            let Some(data) = text.lines().find_map(|l| l.strip_prefix("data: ")) else { continue };
            let v: serde_json::Value = serde_json::from_str(data)?;
            let seq = v["seq"].as_u64().unwrap_or(0);
            let idx =
                v["annotation"]["text"].as_str().and_then(|t| t.strip_prefix("live-")).and_then(|n| n.parse().ok());
            if let Some(i) = idx {
                out.push((seq, i, now));
            }
        }
    }
    Ok(out)
}

pub async fn run(conn: &Connection, a: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!((1..=1000).contains(&a.batch), "--batch is 1 to 1000");
    let id = video(conn, &a).await?;
    let first = format!("assets/{id}/versions/1/annotations");
    let second = format!("assets/{id}/versions/2/annotations");

    // 1. Batches.
    let batches: Vec<AnnotationBatch> = (0..a.count)
        .collect::<Vec<_>>()
        .chunks(a.batch)
        .map(|chunk| AnnotationBatch {
            annotations: chunk.iter().map(|i| note(*i as u64 * 7 % FRAMES, format!("b{i}"))).collect(),
        })
        .collect();
    let started = Instant::now();
    let path = format!("{first}/batch");
    let mut inflight = futures::stream::iter(batches.into_iter().map(|b| {
        let path = path.clone();
        async move {
            let r: anyhow::Result<AnnotationBatchResult> = v1::post(conn, &path, &b).await;
            r
        }
    }))
    .buffer_unordered(a.concurrency.max(1));
    let mut batched = 0;
    while let Some(r) = inflight.next().await {
        batched += r?.annotations.len();
    }
    let batched_per_sec = batched as f64 / started.elapsed().as_secs_f64();

    // 2. Singles.
    let started = Instant::now();
    let mut inflight = futures::stream::iter((0..a.singles).map(|i| {
        let first = first.clone();
        async move {
            let r: anyhow::Result<AnnotationInfo> =
                v1::post(conn, &first, &note((i as u64 * 13 + 3) % FRAMES, format!("s{i}"))).await;
            r
        }
    }))
    .buffer_unordered(a.single_concurrency.max(1));
    let mut singles = 0;
    while let Some(r) = inflight.next().await {
        r?;
        singles += 1;
    }
    let singles_per_sec = singles as f64 / started.elapsed().as_secs_f64();

    // 3. Live: subscribers on version 2, paced writes, the time to each delivery.
    let mut subs = Vec::new();
    let write_time = (a.live_writes as u64 * 1000 / u64::from(a.live_rate.max(1))) + 1000;
    let deadline = Instant::now() + Duration::from_millis(write_time) + Duration::from_secs(30);
    for _ in 0..a.subscribers {
        let resp = signed(conn, "GET", V1_PREFIX, &format!("{second}/live"), Vec::new())?.send().await?;
        anyhow::ensure!(resp.status().is_success(), "live stream: HTTP {}", resp.status());
        subs.push(tokio::spawn(subscribe(resp, a.live_writes, deadline)));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent: Arc<std::sync::Mutex<Vec<Option<Instant>>>> = Arc::new(std::sync::Mutex::new(vec![None; a.live_writes]));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(a.live_rate.max(1))));
    let mut writes = Vec::new();
    for i in 0..a.live_writes {
        tick.tick().await;
        let (sent, second) = (sent.clone(), second.clone());
        let conn = conn.clone();
        writes.push(tokio::spawn(async move {
            let at = Instant::now();
            sent.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(at);
            let r: anyhow::Result<AnnotationInfo> =
                v1::post(&conn, &second, &note(i as u64, format!("live-{i}"))).await;
            r.map(|_| ())
        }));
    }
    for w in writes {
        w.await??;
    }
    let sent = sent.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut delivery = Vec::new();
    for s in subs {
        let got = s.await??;
        anyhow::ensure!(got.len() == a.live_writes, "a subscriber got {} of {} events", got.len(), a.live_writes);
        anyhow::ensure!(got.windows(2).all(|w| w[1].0 == w[0].0 + 1), "a subscriber's events are not in sequence");
        for (_, i, at) in got {
            if let Some(t) = sent.get(i).copied().flatten() {
                delivery.push(at.saturating_duration_since(t));
            }
        }
    }

    // 4. Frame-range queries on the first video.
    let mut queries = Vec::new();
    for _ in 0..a.queries {
        let from = rand::thread_rng().gen_range(0..FRAMES - 25);
        let q = format!("{first}?from_frame={from}&to_frame={}&limit=100", from + 24);
        let t = Instant::now();
        let _: AnnotationList = v1::get(conn, &q).await?;
        queries.push(t.elapsed());
    }
    let report = Report {
        batched,
        batched_per_sec,
        singles,
        singles_per_sec,
        subscribers: a.subscribers,
        live_writes: a.live_writes,
        delivery_ms: timing(delivery),
        frame_range_query_ms: timing(queries),
        annotations_in_video: batched + singles,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("batched writes      {} ({:.0}/s)", report.batched, report.batched_per_sec);
        println!("single writes       {} ({:.0}/s)", report.singles, report.singles_per_sec);
        println!(
            "delivery            {} subscribers x {} writes: p50 {:.2} ms, p99 {:.2} ms",
            report.subscribers, report.live_writes, report.delivery_ms.p50, report.delivery_ms.p99
        );
        println!(
            "frame-range query   {} annotations: median {:.2} ms, p99 {:.2} ms",
            report.annotations_in_video, report.frame_range_query_ms.median, report.frame_range_query_ms.p99
        );
    }
    Ok(())
}
