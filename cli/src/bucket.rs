//! `cairn bucket ls|create|rm|info`.

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
}

pub async fn run(conn: &Connection, cmd: BucketCommand) -> anyhow::Result<()> {
    if let BucketCommand::Quota { name, bytes, objects, clear } = &cmd {
        return crate::tenant::bucket_quota(conn, name, *bytes, *objects, *clear).await;
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
        BucketCommand::Quota { .. } => unreachable!("answered above"),
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
