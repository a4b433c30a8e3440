//! `cairn bucket ls|create|rm|info|quota|tiering`.

use crate::client::Connection;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// An SDK error as one line: S3's error code and message when there is one.
pub(crate) fn sdk<E, R>(what: &str, e: SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => anyhow::anyhow!("{what}: {code}: {message}"),
        (Some(code), None) => anyhow::anyhow!("{what}: {code}"),
        _ => anyhow::anyhow!("{what}: {}", DisplayErrorContext(&e)),
    }
}

#[derive(clap::Subcommand)]
pub enum BucketCommand {
    /// List buckets.
    Ls,
    /// Create a bucket.
    Create { name: String },
    /// Remove an empty bucket (with --force, delete its objects first).
    Rm {
        name: String,
        #[arg(long)]
        force: bool,
    },
    /// Object count and total size of a bucket (lists every key).
    Info { name: String },
    /// Show a bucket's quota and usage, or set it (admin, or an admin of its tenant).
    Quota {
        name: String,
        /// Byte limit, e.g. 100GiB.
        #[arg(long, value_parser = crate::tenant::parse_size)]
        bytes: Option<u64>,
        /// Object limit.
        #[arg(long)]
        objects: Option<u64>,
        /// Remove the bucket's limits.
        #[arg(long, conflicts_with_all = ["bytes", "objects"])]
        clear: bool,
    },
    /// Show or set a bucket's tiering by access (admin, or an admin of its tenant):
    /// versions not read for --down-after-days move to --cold-class, cold ones read
    /// --up-after-reads times within --up-within-days move back to --hot-class.
    Tiering {
        name: String,
        #[arg(long, requires_all = ["down_after_days", "up_after_reads"])]
        cold_class: Option<String>,
        #[arg(long)]
        down_after_days: Option<u32>,
        #[arg(long, default_value = "STANDARD")]
        hot_class: String,
        #[arg(long)]
        up_after_reads: Option<u32>,
        #[arg(long, default_value_t = 7)]
        up_within_days: u32,
        /// Only keys under this prefix.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Remove the bucket's tiering.
        #[arg(long, conflicts_with = "cold_class")]
        clear: bool,
    },
}

pub async fn run(conn: &Connection, cmd: BucketCommand) -> anyhow::Result<()> {
    if let BucketCommand::Quota { name, bytes, objects, clear } = &cmd {
        return crate::tenant::bucket_quota(conn, name, *bytes, *objects, *clear).await;
    }
    if let BucketCommand::Tiering { .. } = &cmd {
        return tiering(conn, cmd).await;
    }
    let s3 = conn.s3()?;
    match cmd {
        BucketCommand::Ls => {
            let out = s3.list_buckets().send().await.map_err(|e| sdk("listing buckets", e))?;
            for b in out.buckets() {
                let created = b.creation_date().map(|d| d.to_string()).unwrap_or_default();
                println!("{created}  {}", b.name().unwrap_or(""));
            }
        }
        BucketCommand::Create { name } => {
            s3.create_bucket().bucket(&name).send().await.map_err(|e| sdk(&format!("creating {name}"), e))?;
            println!("created {name}");
        }
        BucketCommand::Rm { name, force } => {
            if force {
                let (s3, name) = (&s3, name.as_str());
                each_page(s3, name, |page| async move {
                    let ids: Vec<_> = page
                        .contents()
                        .iter()
                        .filter_map(|o| o.key())
                        .filter_map(|k| aws_sdk_s3::types::ObjectIdentifier::builder().key(k).build().ok())
                        .collect();
                    if !ids.is_empty() {
                        let del = aws_sdk_s3::types::Delete::builder().set_objects(Some(ids)).quiet(true).build()?;
                        s3.delete_objects()
                            .bucket(name)
                            .delete(del)
                            .send()
                            .await
                            .map_err(|e| sdk("deleting objects", e))?;
                    }
                    Ok(())
                })
                .await?;
            }
            s3.delete_bucket().bucket(&name).send().await.map_err(|e| sdk(&format!("removing {name}"), e))?;
            println!("removed {name}");
        }
        BucketCommand::Quota { .. } | BucketCommand::Tiering { .. } => unreachable!("answered above"),
        BucketCommand::Info { name } => {
            s3.head_bucket().bucket(&name).send().await.map_err(|e| sdk(&format!("bucket {name}"), e))?;
            // With an admin key, the node's exact counters; else count by listing.
            let usage: Option<cairn_api::admin::Usage> =
                crate::admin::get(conn, &format!("usage?bucket={name}")).await.ok();
            if let Some(u) = usage.as_ref().and_then(|u| u.buckets.first()) {
                println!("bucket:  {name}\nobjects: {}\nbytes:   {}", u.objects, u.bytes);
                if u.delete_markers > 0 {
                    println!("delete markers: {}", u.delete_markers);
                }
                if u.classes.iter().any(|c| c.class != "STANDARD") {
                    for c in &u.classes {
                        println!("class {}: {} objects, {} bytes", c.class, c.objects, c.bytes);
                    }
                }
                return Ok(());
            }
            let (mut objects, mut bytes) = (0u64, 0u64);
            each_page(&s3, &name, |page| {
                for o in page.contents() {
                    objects += 1;
                    bytes += o.size().unwrap_or(0) as u64;
                }
                async { Ok(()) }
            })
            .await?;
            println!("bucket:  {name}\nobjects: {objects}\nbytes:   {bytes}");
        }
    }
    Ok(())
}

async fn tiering(conn: &Connection, cmd: BucketCommand) -> anyhow::Result<()> {
    use cairn_api::tiering::AccessTiering;
    let BucketCommand::Tiering {
        name,
        cold_class,
        down_after_days,
        hot_class,
        up_after_reads,
        up_within_days,
        prefix,
        clear,
    } = cmd
    else {
        unreachable!("called for tiering only")
    };
    let path = format!("buckets/{}/tiering", crate::tenant::segment(&name)?);
    if clear {
        let _: cairn_api::tenants::Deleted = crate::admin::v1::delete(conn, &path).await?;
        println!("{name}: no tiering by access");
        return Ok(());
    }
    let t: AccessTiering = match cold_class {
        Some(cold_class) => {
            let body = AccessTiering {
                prefix,
                cold_class,
                down_after_days: down_after_days.unwrap_or_default(),
                hot_class,
                up_after_reads: up_after_reads.unwrap_or_default(),
                up_within_days,
            };
            crate::admin::v1::put(conn, &path, &body).await?
        }
        None => crate::admin::v1::get(conn, &path).await?,
    };
    println!("bucket:  {name}");
    println!("prefix:  {}", if t.prefix.is_empty() { "(all keys)" } else { &t.prefix });
    println!("down:    {} -> {} after {} days unread", t.hot_class, t.cold_class, t.down_after_days);
    println!(
        "up:      {} -> {} after {} reads within {} days",
        t.cold_class, t.hot_class, t.up_after_reads, t.up_within_days
    );
    Ok(())
}

/// Calls `f` with every page of a ListObjectsV2 of `bucket`, in order.
async fn each_page<F, Fut>(s3: &aws_sdk_s3::Client, bucket: &str, mut f: F) -> anyhow::Result<()>
where
    F: FnMut(aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| sdk(&format!("listing {bucket}"), e))?;
        let next = page.next_continuation_token().map(str::to_string);
        f(page).await?;
        match next {
            Some(t) => token = Some(t),
            None => return Ok(()),
        }
    }
}
