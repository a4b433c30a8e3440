//! `cairn asset content|uploads|duplicates`: a tenant's content by its SHA-256. Does
//! the tenant hold these bytes already (`GET assets/content`), which uploads in
//! progress are of them (`GET assets/uploads`), and which content it holds more than
//! once (`GET assets/duplicates`). A FILE argument is hashed here, so the bytes never
//! leave the machine to be looked up.

use crate::admin::v1;
use crate::asset::print_json;
use crate::asset_upload::hash_file;
use crate::client::Connection;
use crate::tenant::show_size;
use anyhow::bail;
use cairn_api::assets::{ContentMatches, DuplicateGroup, DuplicateReport, ObjectRef, PendingUploads};
use std::path::PathBuf;

/// The content a command is about: a file to hash, or a hash.
#[derive(clap::Args)]
pub struct Content {
    /// A local file: its SHA-256 and size are the content.
    #[arg(required_unless_present = "sha256", conflicts_with = "sha256")]
    file: Option<PathBuf>,
    /// The content's SHA-256 (hex), instead of a file.
    #[arg(long)]
    sha256: Option<String>,
}

impl Content {
    /// `(sha256, size of the file)`.
    async fn resolve(&self) -> anyhow::Result<(String, Option<u64>)> {
        match (&self.file, &self.sha256) {
            (Some(f), _) => {
                let (sha, len) = hash_file(f, true).await?;
                Ok((sha, Some(len)))
            }
            (None, Some(s)) => Ok((s.to_ascii_lowercase(), None)),
            (None, None) => bail!("name the content: a FILE or --sha256"),
        }
    }
}

#[derive(clap::Args)]
pub struct ContentArgs {
    #[command(flatten)]
    content: Content,
    /// Only versions of this many bytes (a FILE gives its own size).
    #[arg(long, conflicts_with = "file")]
    size: Option<u64>,
    /// The tenant [default: the key's].
    #[arg(long)]
    tenant: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct UploadsArgs {
    #[command(flatten)]
    content: Content,
    /// The bucket the uploads go to.
    #[arg(long)]
    bucket: String,
    /// Only uploads to keys starting with this.
    #[arg(long)]
    key: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct DuplicatesArgs {
    /// The tenant [default: the key's].
    #[arg(long)]
    tenant: Option<String>,
    /// At most this many groups [default: all].
    #[arg(long)]
    limit: Option<usize>,
    #[arg(long)]
    json: bool,
}

fn show_object(o: &ObjectRef) -> String {
    let vid = o.version_id.as_deref().map(|i| format!("?versionId={i}")).unwrap_or_default();
    format!("{}/{}{vid}", o.bucket, o.key)
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(16)]
}

/// `cairn asset content (FILE | --sha256 HEX [--size N])`: the tenant's versions
/// holding that content (never another tenant's).
pub async fn content(conn: &Connection, a: ContentArgs) -> anyhow::Result<()> {
    let (sha, file_size) = a.content.resolve().await?;
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("sha256", &sha);
    if let Some(n) = file_size.or(a.size) {
        q.append_pair("size", &n.to_string());
    }
    if let Some(t) = &a.tenant {
        q.append_pair("tenant", t);
    }
    let found: ContentMatches = v1::get(conn, &format!("assets/content?{}", q.finish())).await?;
    if a.json {
        return print_json(&found);
    }
    if found.matches.is_empty() {
        println!("the tenant holds no content with sha256 {}", found.sha256);
    }
    for m in &found.matches {
        println!("{} v{:<4} {:>12}  {}", m.asset, m.version, show_size(m.size), show_object(&m.object));
    }
    Ok(())
}

/// `cairn asset uploads --bucket B (FILE | --sha256 HEX)`: the uploads in progress of
/// that content, with the parts they hold.
pub async fn uploads(conn: &Connection, a: UploadsArgs) -> anyhow::Result<()> {
    let (sha, _) = a.content.resolve().await?;
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("bucket", &a.bucket).append_pair("sha256", &sha);
    if let Some(k) = &a.key {
        q.append_pair("key", k);
    }
    let found: PendingUploads = v1::get(conn, &format!("assets/uploads?{}", q.finish())).await?;
    if a.json {
        return print_json(&found);
    }
    if found.uploads.is_empty() {
        println!("no upload of sha256 {} is in progress in {}", short(&sha), a.bucket);
    }
    for u in &found.uploads {
        let bytes: u64 = u.parts.iter().map(|p| p.size).sum();
        println!(
            "{}/{} upload {} since {}: {} parts, {}",
            u.bucket,
            u.key,
            u.upload_id,
            u.initiated,
            u.parts.len(),
            show_size(bytes)
        );
        for p in &u.parts {
            println!("  part {:<5} {:>12}  etag {}", p.number, show_size(p.size), p.etag);
        }
    }
    Ok(())
}

/// `cairn asset duplicates`: content held by more than one version, in hash order.
pub async fn duplicates(conn: &Connection, a: DuplicatesArgs) -> anyhow::Result<()> {
    let params = [("tenant", a.tenant.as_deref())];
    let all: Vec<DuplicateGroup> =
        v1::all_pages(conn, "assets/duplicates", &params, a.limit, |p: DuplicateReport| (p.groups, p.next_cursor))
            .await?;
    if a.json {
        return print_json(&all);
    }
    if all.is_empty() {
        println!("no content is held more than once");
    }
    for g in &all {
        let versions: Vec<String> = g.versions.iter().map(|v| format!("{} v{}", v.asset, v.version)).collect();
        println!(
            "sha256 {} {:>12} in {} versions: {}",
            short(&g.sha256),
            show_size(g.size),
            g.versions.len(),
            versions.join(", ")
        );
    }
    Ok(())
}
