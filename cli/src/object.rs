//! `cairn object versions|rollback`: a key's version history, and restoring an older
//! version as the newest (S3 CopyObject from the version onto its own key, so it
//! works against any S3 store with versioning).

use crate::bucket::sdk;
use crate::client::Connection;
use aws_sdk_s3::types::ObjectVersion;

#[derive(clap::Subcommand)]
pub enum ObjectCommand {
    /// A key's versions and delete markers, newest first.
    Versions {
        /// BUCKET/KEY
        target: String,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Make an older version the newest again (a new version with its content).
    Rollback {
        /// BUCKET/KEY
        target: String,
        /// The version to restore.
        #[arg(long)]
        version: String,
    },
}

fn split(target: &str) -> anyhow::Result<(&str, &str)> {
    match target.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b, k)),
        _ => anyhow::bail!("expected BUCKET/KEY, got {target:?}"),
    }
}

/// One row of a key's history.
struct Row {
    version_id: String,
    latest: bool,
    marker: bool,
    size: i64,
    modified: String,
    /// `modified` as (seconds, nanoseconds), to order by: the text drops trailing zeros.
    at: (i64, u32),
    etag: String,
}

fn at(t: Option<&aws_sdk_s3::primitives::DateTime>) -> (i64, u32) {
    t.map_or((0, 0), |t| (t.secs(), t.subsec_nanos()))
}

fn object_row(v: &ObjectVersion) -> Row {
    Row {
        version_id: v.version_id().unwrap_or("null").to_string(),
        latest: v.is_latest().unwrap_or(false),
        marker: false,
        size: v.size().unwrap_or(0),
        modified: v.last_modified().map(|t| t.to_string()).unwrap_or_default(),
        at: at(v.last_modified()),
        etag: v.e_tag().unwrap_or("").to_string(),
    }
}

pub async fn run(conn: &Connection, cmd: ObjectCommand) -> anyhow::Result<()> {
    let s3 = conn.s3()?;
    match cmd {
        ObjectCommand::Versions { target, json } => {
            let (bucket, key) = split(&target)?;
            let mut rows = Vec::new();
            let (mut km, mut vm) = (None::<String>, None::<String>);
            loop {
                let page = s3
                    .list_object_versions()
                    .bucket(bucket)
                    .prefix(key)
                    .set_key_marker(km.clone())
                    .set_version_id_marker(vm.clone())
                    .send()
                    .await
                    .map_err(|e| sdk("listing versions", e))?;
                rows.extend(page.versions().iter().filter(|v| v.key() == Some(key)).map(object_row));
                rows.extend(page.delete_markers().iter().filter(|m| m.key() == Some(key)).map(|m| Row {
                    version_id: m.version_id().unwrap_or("null").to_string(),
                    latest: m.is_latest().unwrap_or(false),
                    marker: true,
                    size: 0,
                    modified: m.last_modified().map(|t| t.to_string()).unwrap_or_default(),
                    at: at(m.last_modified()),
                    etag: String::new(),
                }));
                // Past this key: the rest of the prefix holds other keys.
                let past = page.next_key_marker().is_some_and(|k| k != key);
                if !page.is_truncated().unwrap_or(false) || past {
                    break;
                }
                km = page.next_key_marker().map(str::to_string);
                vm = page.next_version_id_marker().map(str::to_string);
            }
            // Newest first, across versions and markers (each list already is; the
            // stable sort keeps that order between entries of the same instant).
            rows.sort_by(|a, b| b.latest.cmp(&a.latest).then(b.at.cmp(&a.at)));
            if rows.is_empty() {
                anyhow::bail!("{bucket}/{key} has no versions");
            }
            for r in rows {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "version_id": r.version_id, "latest": r.latest, "delete_marker": r.marker,
                            "size": r.size, "last_modified": r.modified, "etag": r.etag,
                        })
                    );
                } else {
                    let what = if r.marker { "delete marker".to_string() } else { format!("{} bytes", r.size) };
                    let latest = if r.latest { " (latest)" } else { "" };
                    println!("{}  {}  {what}{latest}", r.version_id, r.modified);
                }
            }
        }
        ObjectCommand::Rollback { target, version } => {
            let (bucket, key) = split(&target)?;
            let source = format!(
                "{bucket}/{}?versionId={}",
                percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC),
                version
            );
            let out = s3
                .copy_object()
                .bucket(bucket)
                .key(key)
                .copy_source(source)
                .send()
                .await
                .map_err(|e| sdk("restoring the version", e))?;
            println!(
                "{bucket}/{key}: version {version} restored as {}",
                out.version_id().unwrap_or("the current version")
            );
        }
    }
    Ok(())
}
