//! A small warp-style load generator. A run is bounded by an operation count, a
//! duration, or both (whichever is reached first); objects are written under a fresh
//! prefix and removed afterwards.

use crate::client::Connection;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// put, get, mixed (1 PUT : 3 GET), delete (of --count seeded objects),
    /// list (pages of up to 1000 keys over --objects seeded keys)
    /// multipart (one object of --size in parts of --part-size, --concurrency parts in flight)
    /// or ingest (--count tar archives, default 20, of --objects files, default 1000, of
    /// --size each, PUT with snowball auto-extract).
    #[arg(long, default_value = "put")]
    op: String,
    /// Object size, e.g. 4KiB, 1MiB, 64MiB.
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    size: u64,
    /// Parallel requests.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Stop after this many operations. With --duration too, whichever is reached
    /// first ends the run. With neither: 1000 operations or 30 s, whichever comes first.
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this long: 90 (seconds), 5s, 500ms, 1m, 1h30m. Given without
    /// --count, only the duration (and a bound of 10,000,000 operations, which keeps
    /// the recorded latencies in memory in check) ends the run.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Objects to seed before a get, mixed or list run (default: 4 per connection for get/mixed, 10000 for list).
    #[arg(long)]
    objects: Option<u64>,
    /// Bucket to use (created if missing).
    #[arg(long, default_value = "cairn-bench")]
    bucket: String,
    /// Part size for --op multipart.
    #[arg(long, default_value = "8MiB", value_parser = parse_size)]
    part_size: u64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Keep the objects instead of deleting them.
    #[arg(long)]
    keep: bool,
    /// Turn versioning on for the bucket first (PutBucketVersioning Enabled).
    #[arg(long)]
    versioned: bool,
    /// Write every seeded object this many more times first, so that in a versioned
    /// bucket each key has this many noncurrent versions; PUTs then overwrite the
    /// seeded keys (default pool for put: 1000 keys) instead of writing new ones.
    #[arg(long, default_value_t = 0)]
    history: u32,
    /// For --op list: page through the keys already under this prefix ("" for the
    /// whole bucket), from the first again after the last, instead of seeding keys of
    /// its own. Nothing is written or removed.
    #[arg(long)]
    prefix: Option<String>,
    /// Server-side encryption of the objects written: AES256 (SSE-S3; the node needs a
    /// master key). Reads of them are decrypted by the node.
    #[arg(long, value_parser = ["AES256"])]
    sse: Option<String>,
}

/// Operations when neither --count nor --duration is given...
const DEFAULT_COUNT: u64 = 1000;
/// ...and the duration that bounds them.
const DEFAULT_DURATION: Duration = Duration::from_secs(30);
/// Operations a run given only --duration stops at: every latency is kept (16 bytes each).
const MAX_OPS: u64 = 10_000_000;

/// A duration as warp takes it: a bare number is seconds, else a number and unit
/// (`500ms`, `5s`, `1m`, `1h30m`, as humantime reads them).
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let d = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(s.parse().map_err(|_| format!("bad duration {s}"))?)
    } else {
        humantime::parse_duration(s).map_err(|e| format!("bad duration {s:?} ({e}): use e.g. 90, 5s, 500ms, 1m"))?
    };
    if d.is_zero() {
        return Err("the duration must be more than 0".into());
    }
    Ok(d)
}

/// What ends a run of operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Limits {
    count: u64,
    duration: Option<Duration>,
    /// `count` is the memory bound, not a count the user asked for.
    count_is_cap: bool,
}

impl Limits {
    fn new(count: Option<u64>, duration: Option<Duration>) -> Limits {
        match (count, duration) {
            (None, None) => Limits { count: DEFAULT_COUNT, duration: Some(DEFAULT_DURATION), count_is_cap: false },
            (Some(count), duration) => Limits { count, duration, count_is_cap: false },
            (None, Some(d)) => Limits { count: MAX_OPS, duration: Some(d), count_is_cap: true },
        }
    }
}

/// Why a run stopped (the first limit any worker reached).
const ENDED_RUNNING: u8 = 0;
const ENDED_COUNT: u8 = 1;
const ENDED_DURATION: u8 = 2;
const ENDED_OBJECTS: u8 = 3;

/// Why the run ended: a word for --json and a phrase for people.
fn ended_by(code: u8, limits: &Limits) -> (&'static str, String) {
    match code {
        ENDED_COUNT if limits.count_is_cap => ("max_ops", format!("the bound of {} operations", limits.count)),
        ENDED_COUNT => ("count", format!("--count {}", limits.count)),
        ENDED_DURATION => {
            let d = humantime::format_duration(limits.duration.unwrap_or_default());
            ("duration", format!("--duration {d}"))
        }
        ENDED_OBJECTS => ("objects", "every seeded object deleted".into()),
        _ => ("workers", "the workers stopping".into()),
    }
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("bad size {s}"))?;
    let mul = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("bad size unit {unit}")),
    };
    Ok(n * mul)
}

struct Stats {
    name: &'static str,
    latencies: Vec<Duration>,
    bytes: u64,
    errors: u64,
}

impl Stats {
    fn new(name: &'static str) -> Self {
        Self { name, latencies: Vec::new(), bytes: 0, errors: 0 }
    }

    fn pct(sorted: &[Duration], p: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[i].as_secs_f64() * 1000.0
    }

    fn report(&mut self, elapsed: Duration) -> serde_json::Value {
        self.latencies.sort();
        let secs = elapsed.as_secs_f64();
        serde_json::json!({
            "op": self.name,
            "ops": self.latencies.len(),
            "errors": self.errors,
            "ops_per_s": self.latencies.len() as f64 / secs,
            "mib_per_s": if self.name == "list" { 0.0 } else { self.bytes as f64 / secs / 1048576.0 },
            "keys_per_s": if self.name == "list" { self.bytes as f64 / secs } else { 0.0 },
            "p50_ms": Self::pct(&self.latencies, 0.5),
            "p90_ms": Self::pct(&self.latencies, 0.9),
            "p99_ms": Self::pct(&self.latencies, 0.99),
            "max_ms": self.latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        })
    }
}

pub async fn run(conn: &Connection, args: BenchArgs) -> anyhow::Result<()> {
    let client = conn.s3()?;
    if client.head_bucket().bucket(&args.bucket).send().await.is_err() {
        client.create_bucket().bucket(&args.bucket).send().await?;
    }
    if args.versioned {
        use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
        client
            .put_bucket_versioning()
            .bucket(&args.bucket)
            .versioning_configuration(
                VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
            )
            .send()
            .await?;
    }
    if args.op == "multipart" {
        return multipart(&client, &args).await;
    }
    if args.op == "ingest" {
        let ingest = crate::bench_ingest::Ingest {
            bucket: &args.bucket,
            archives: args.count.unwrap_or(20),
            files: args.objects.unwrap_or(1000),
            size: args.size,
            concurrency: args.concurrency,
            json: args.json,
            keep: args.keep,
        };
        return crate::bench_ingest::run(&client, ingest).await;
    }
    if args.prefix.is_some() && args.op != "list" {
        anyhow::bail!("--prefix is for --op list");
    }
    let listing_existing = args.prefix.is_some();
    let prefix = args.prefix.clone().unwrap_or_else(|| format!("bench-{:08x}/", rand::random::<u32>()));
    let mut data = vec![0u8; args.size as usize];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut data);
    let payload = Bytes::from(data);
    let keys = Arc::new(AtomicU64::new(0));

    // GET needs objects to read: seed a pool first.
    let limits = Limits::new(args.count, args.duration);
    let pool = match (args.op.as_str(), args.objects) {
        _ if listing_existing => 0,
        ("put", Some(n)) if args.history > 0 => n,
        ("put", None) if args.history > 0 => 1000,
        ("put", _) => 0,
        (_, Some(n)) => n,
        ("list", None) => 10_000,
        ("delete", None) => args.count.unwrap_or(DEFAULT_COUNT),
        _ => (args.concurrency as u64 * 4).min(limits.count.max(1)),
    };
    let sse = args.sse.as_deref().map(aws_sdk_s3::types::ServerSideEncryption::from);
    for _ in 0..=args.history {
        seed(&client, &args.bucket, &prefix, &payload, pool, sse.as_ref()).await?;
    }
    // PUTs overwrite the seeded keys when they carry a history, else write new keys.
    let overwrite = args.history > 0;
    keys.store(if overwrite { 0 } else { pool }, Ordering::SeqCst);

    let issued = Arc::new(AtomicU64::new(0));
    let ended = Arc::new(AtomicU8::new(ENDED_RUNNING));
    // Live progress on stderr; indicatif draws nothing when stderr is not a terminal.
    let (progress, template) = if limits.count_is_cap {
        (indicatif::ProgressBar::no_length(), "{spinner} {pos} ops {per_sec} [{elapsed_precise}]")
    } else {
        (indicatif::ProgressBar::new(limits.count), "{spinner} {pos}/{len} ops {per_sec} [{elapsed_precise}]")
    };
    progress.set_style(
        indicatif::ProgressStyle::with_template(template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let start = Instant::now();
    let deadline = limits.duration.map(|d| start + d);
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (client, bucket, prefix, payload, keys, issued, ended) = (
            client.clone(),
            args.bucket.clone(),
            prefix.clone(),
            payload.clone(),
            keys.clone(),
            issued.clone(),
            ended.clone(),
        );
        let op = args.op.clone();
        let sse = sse.clone();
        let count = limits.count;
        let progress = progress.clone();
        // The first limit reached is the one that ended the run.
        let end = move |why: u8| {
            let _ = ended.compare_exchange(ENDED_RUNNING, why, Ordering::SeqCst, Ordering::SeqCst);
        };
        tasks.push(tokio::spawn(async move {
            let mut put = Stats::new("put");
            let mut get = Stats::new("get");
            let mut list = Stats::new("list");
            let mut delete = Stats::new("delete");
            let mut token: Option<String> = None;
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    end(ENDED_DURATION);
                    break;
                }
                let n = issued.fetch_add(1, Ordering::SeqCst);
                if n >= count {
                    end(ENDED_COUNT);
                    break;
                }
                let do_put = match op.as_str() {
                    "put" => true,
                    "get" => false,
                    _ => n % 4 == 0,
                };
                progress.inc(1);
                let t = Instant::now();
                if op == "delete" {
                    if n >= pool {
                        end(ENDED_OBJECTS);
                        break;
                    }
                    match client.delete_object().bucket(&bucket).key(format!("{prefix}{n}")).send().await {
                        Ok(_) => delete.latencies.push(t.elapsed()),
                        Err(_) => delete.errors += 1,
                    }
                } else if op == "list" {
                    let r = client
                        .list_objects_v2()
                        .bucket(&bucket)
                        .prefix(&prefix)
                        .set_continuation_token(token.take())
                        .send()
                        .await;
                    match r {
                        Ok(page) => {
                            list.latencies.push(t.elapsed());
                            // For listings the "bytes" column counts keys.
                            list.bytes += page.key_count.unwrap_or(0) as u64;
                            token = page.next_continuation_token;
                        }
                        Err(_) => list.errors += 1,
                    }
                } else if do_put {
                    let k = keys.fetch_add(1, Ordering::SeqCst);
                    let k = if overwrite { k % pool.max(1) } else { k };
                    let r = client
                        .put_object()
                        .bucket(&bucket)
                        .key(format!("{prefix}{k}"))
                        .set_server_side_encryption(sse.clone())
                        .body(ByteStream::from(payload.clone()))
                        .send()
                        .await;
                    match r {
                        Ok(_) => {
                            put.latencies.push(t.elapsed());
                            put.bytes += payload.len() as u64;
                        }
                        Err(_) => put.errors += 1,
                    }
                } else {
                    let k = n % pool.max(1);
                    let r = client.get_object().bucket(&bucket).key(format!("{prefix}{k}")).send().await;
                    let ok = match r {
                        Ok(o) => o.body.collect().await.map(|b| b.into_bytes().len() as u64).ok(),
                        Err(_) => None,
                    };
                    match ok {
                        Some(len) => {
                            get.latencies.push(t.elapsed());
                            get.bytes += len;
                        }
                        None => get.errors += 1,
                    }
                }
            }
            (put, get, list, delete)
        }));
    }
    let mut put = Stats::new("put");
    let mut get = Stats::new("get");
    let mut list = Stats::new("list");
    let mut delete = Stats::new("delete");
    for t in tasks {
        let (p, g, l, d) = t.await?;
        delete.latencies.extend(d.latencies);
        delete.errors += d.errors;
        list.latencies.extend(l.latencies);
        list.bytes += l.bytes;
        list.errors += l.errors;
        put.latencies.extend(p.latencies);
        put.bytes += p.bytes;
        put.errors += p.errors;
        get.latencies.extend(g.latencies);
        get.bytes += g.bytes;
        get.errors += g.errors;
    }
    let elapsed = start.elapsed();
    progress.finish_and_clear();
    let (ended_key, ended_by) = ended_by(ended.load(Ordering::SeqCst), &limits);
    let mut rows = Vec::new();
    for s in [&mut put, &mut get, &mut list, &mut delete] {
        if !s.latencies.is_empty() || s.errors > 0 {
            rows.push(s.report(elapsed));
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"size": args.size, "concurrency": args.concurrency, "seconds": elapsed.as_secs_f64(),
                "ended_by": ended_key, "results": rows})
        );
    } else {
        println!(
            "size={} concurrency={} elapsed={:.1}s ended by {ended_by}",
            args.size,
            args.concurrency,
            elapsed.as_secs_f64()
        );
        println!(
            "{:<5} {:>8} {:>7} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9}",
            "op", "ops", "errors", "ops/s", "MiB/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        for r in rows.iter().filter(|r| r["op"] == "list") {
            println!("list: {:.0} keys/s", r["keys_per_s"].as_f64().unwrap_or(0.0));
        }
        for r in &rows {
            println!(
                "{:<5} {:>8} {:>7} {:>10.1} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                r["op"].as_str().unwrap_or(""),
                r["ops"].as_u64().unwrap_or(0),
                r["errors"].as_u64().unwrap_or(0),
                r["ops_per_s"].as_f64().unwrap_or(0.0),
                r["mib_per_s"].as_f64().unwrap_or(0.0),
                r["p50_ms"].as_f64().unwrap_or(0.0),
                r["p90_ms"].as_f64().unwrap_or(0.0),
                r["p99_ms"].as_f64().unwrap_or(0.0),
                r["max_ms"].as_f64().unwrap_or(0.0)
            );
        }
    }
    if !args.keep && !listing_existing {
        let total = if overwrite { pool } else { keys.load(Ordering::SeqCst) };
        for chunk in (0..total).collect::<Vec<_>>().chunks(1000) {
            let ids: Vec<_> = chunk
                .iter()
                .filter_map(|i| aws_sdk_s3::types::ObjectIdentifier::builder().key(format!("{prefix}{i}")).build().ok())
                .collect();
            let del = aws_sdk_s3::types::Delete::builder().set_objects(Some(ids)).quiet(true).build()?;
            client.delete_objects().bucket(&args.bucket).delete(del).send().await?;
        }
    }
    Ok(())
}

/// Writes `count` objects with bounded parallelism so a large pool seeds quickly.
async fn seed(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    payload: &Bytes,
    count: u64,
    sse: Option<&aws_sdk_s3::types::ServerSideEncryption>,
) -> anyhow::Result<()> {
    use futures::StreamExt;
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(0..count)
        .map(|i| async move {
            client
                .put_object()
                .bucket(bucket)
                .key(format!("{prefix}{i}"))
                .set_server_side_encryption(sse.cloned())
                .body(ByteStream::from(payload.clone()))
                .send()
                .await?;
            Ok(())
        })
        .buffer_unordered(32)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Uploads one object of `size` bytes as a multipart upload with `concurrency`
/// parts in flight, then removes it. Every part carries the same random bytes:
/// the server hashes and codes each part regardless.
async fn multipart(client: &aws_sdk_s3::Client, args: &BenchArgs) -> anyhow::Result<()> {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    use futures::StreamExt;
    let key = format!("bench-mpu-{:08x}", rand::random::<u32>());
    let mut data = vec![0u8; args.part_size as usize];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut data);
    let part = Bytes::from(data);
    let parts = args.size.div_ceil(args.part_size).max(1);
    let start = Instant::now();
    let upload = client.create_multipart_upload().bucket(&args.bucket).key(&key).send().await?;
    let upload_id = upload.upload_id().unwrap_or_default().to_string();
    let results: Vec<anyhow::Result<CompletedPart>> = futures::stream::iter(1..=parts)
        .map(|n| {
            let len = if n == parts { args.size - (parts - 1) * args.part_size } else { args.part_size };
            let body = part.slice(..len as usize);
            let (client, bucket, key, upload_id) =
                (client.clone(), args.bucket.clone(), key.clone(), upload_id.clone());
            async move {
                let r = client
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(n as i32)
                    .body(ByteStream::from(body))
                    .send()
                    .await?;
                Ok(CompletedPart::builder().part_number(n as i32).set_e_tag(r.e_tag).build())
            }
        })
        .buffered(args.concurrency.max(1))
        .collect()
        .await;
    let completed: Vec<CompletedPart> = results.into_iter().collect::<anyhow::Result<_>>()?;
    client
        .complete_multipart_upload()
        .bucket(&args.bucket)
        .key(&key)
        .upload_id(&upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(completed)).build())
        .send()
        .await?;
    let secs = start.elapsed().as_secs_f64();
    let mib = args.size as f64 / 1048576.0;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"op": "multipart", "size": args.size, "part_size": args.part_size,
                "parallel_parts": args.concurrency, "seconds": secs, "mib_per_s": mib / secs})
        );
    } else {
        println!(
            "multipart: {mib:.0} MiB in {parts} parts of {} MiB, {} in flight: {secs:.2} s, {:.1} MiB/s",
            args.part_size / 1048576,
            args.concurrency,
            mib / secs
        );
    }
    if !args.keep {
        client.delete_object().bucket(&args.bucket).key(&key).send().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_warp_takes_them() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration(" 2m "), Ok(Duration::from_secs(120)));
        for bad in ["", "0", "0s", "5x", "-5s", "s", "1.5.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn the_flags_given_set_the_limits() {
        let min = Duration::from_secs(60);
        // Neither: the defaults, together.
        assert_eq!(
            Limits::new(None, None),
            Limits { count: DEFAULT_COUNT, duration: Some(DEFAULT_DURATION), count_is_cap: false }
        );
        // A duration alone is not cut short by the default count.
        assert_eq!(Limits::new(None, Some(min)), Limits { count: MAX_OPS, duration: Some(min), count_is_cap: true });
        // A count alone is not cut short by the default duration.
        assert_eq!(Limits::new(Some(5), None), Limits { count: 5, duration: None, count_is_cap: false });
        // Both: whichever comes first.
        assert_eq!(Limits::new(Some(5), Some(min)), Limits { count: 5, duration: Some(min), count_is_cap: false });
    }

    #[test]
    fn the_output_names_what_ended_the_run() {
        let both = Limits::new(Some(5), Some(Duration::from_millis(1500)));
        assert_eq!(ended_by(ENDED_COUNT, &both), ("count", "--count 5".to_string()));
        assert_eq!(ended_by(ENDED_DURATION, &both), ("duration", "--duration 1s 500ms".to_string()));
        let alone = Limits::new(None, Some(Duration::from_secs(60)));
        assert_eq!(ended_by(ENDED_COUNT, &alone).0, "max_ops");
    }

    #[test]
    fn bench_flags_parse() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            bench: BenchArgs,
        }
        let cli = <Cli as clap::Parser>::try_parse_from(["cairn", "--duration", "5s"]).unwrap();
        assert_eq!((cli.bench.count, cli.bench.duration), (None, Some(Duration::from_secs(5))));
        let cli = <Cli as clap::Parser>::try_parse_from(["cairn", "--duration", "90", "--count", "7"]).unwrap();
        assert_eq!((cli.bench.count, cli.bench.duration), (Some(7), Some(Duration::from_secs(90))));
        assert!(<Cli as clap::Parser>::try_parse_from(["cairn", "--duration", "soon"]).is_err());
    }
}
