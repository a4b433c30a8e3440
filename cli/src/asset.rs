//! `cairn asset register|put|batch|ls|search|info|batch-get|update|versions|version|add-version|rollback|diff|share|unshare|shares|shared|transfer|rm|restore|purge|trash-retention|content|uploads|duplicates|stats|events|bench|bench-annotations`:
//! the asset catalogue through `/cairn/v1/assets` (typed in `cairn_api::assets`), as a
//! key of the tenant (or a tenant admin, or an admin naming `--tenant`). `put`
//! uploads a file (`asset_upload.rs`) and registers it in one command; `batch` and
//! `batch-get` are `asset_batch.rs`, `content`, `uploads` and `duplicates`
//! `asset_content.rs`, `events` `asset_events.rs`.

use crate::admin::v1;
use crate::client::Connection;
use crate::tenant::{segment, show_size};
use anyhow::bail;
use cairn_api::assets::{
    AssetInfo, AssetList, AssetStats, AssetVersionInfo, IncomingList, MediaMeta, NewVersion, ObjectRef, Purged,
    RegisterAsset, Rendition, Rollback, ShareInfo, ShareList, ShareRequest, TransferRequest, TrashRetention,
    UpdateAsset, VersionDiff, VersionList,
};
use std::collections::BTreeMap;

#[derive(clap::Args, Clone, Default)]
pub struct Describe {
    /// Tag KEY=VALUE (repeatable).
    #[arg(long = "tag", value_parser = key_value)]
    pub tags: Vec<(String, String)>,
    #[arg(long)]
    pub project: Option<String>,
    #[arg(long)]
    pub status: Option<String>,
    /// Type-specific metadata as JSON, e.g. '{"frame_rate":"24000/1001","width":1920}'.
    #[arg(long)]
    pub meta: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum AssetCommand {
    /// Register an existing object (BUCKET/KEY) as a new asset.
    Register {
        /// BUCKET/KEY of the first version's object.
        object: String,
        #[arg(long)]
        name: String,
        /// video, audio, image, document, model or other.
        #[arg(long = "type")]
        media_type: String,
        /// The object's version id [default: its current version].
        #[arg(long)]
        version_id: Option<String>,
        /// The owning tenant [default: the key's].
        #[arg(long)]
        tenant: Option<String>,
        /// Rendition ROLE=BUCKET/KEY (repeatable).
        #[arg(long = "rendition", value_parser = key_value)]
        renditions: Vec<(String, String)>,
        /// Registering again with the same key answers the same asset.
        #[arg(long)]
        idempotency_key: Option<String>,
        #[command(flatten)]
        describe: Describe,
        #[arg(long)]
        json: bool,
    },
    /// Upload FILE (multipart, with progress, resumable) and register it in one command.
    Put(crate::asset_upload::PutArgs),
    /// Register the assets of a JSON or JSON-lines file, up to 1,000 a request, each
    /// request committed together; each registration is answered on its own.
    Batch(crate::asset_batch::BatchArgs),
    /// A tenant's assets, oldest first (filters combine).
    Ls {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long = "type")]
        media_type: Option<String>,
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        status: Option<String>,
        /// KEY=VALUE.
        #[arg(long)]
        tag: Option<String>,
        /// Only assets created at or after this RFC 3339 time.
        #[arg(long)]
        created_from: Option<String>,
        /// Only assets created before this RFC 3339 time.
        #[arg(long)]
        created_until: Option<String>,
        /// Newest first.
        #[arg(long)]
        newest: bool,
        /// The trash instead (by the time each asset went in).
        #[arg(long)]
        trash: bool,
        /// At most this many [default: all].
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// Full-text search over a tenant's assets (names, tags, text metadata), best first;
    /// or --prefix: assets whose name starts with the words.
    Search {
        /// Words (tantivy's query language: `tides AND prores`, `"final cut"`).
        query: String,
        #[arg(long)]
        prefix: bool,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// One asset and its latest version.
    Info {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Many assets by id (up to 1,000 a request), in the order asked; the ones the key
    /// may not see are missing.
    BatchGet(crate::asset_batch::BatchGetArgs),
    /// Change an asset's name, project, status, tags (replacing them) or metadata.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        describe: Describe,
        #[arg(long)]
        json: bool,
    },
    /// Share an asset with another tenant (no byte is copied): its keys read it and its objects.
    Share {
        id: String,
        /// The tenant to share with.
        #[arg(long = "with")]
        tenant: String,
        /// Let it annotate too.
        #[arg(long)]
        annotate: bool,
        #[arg(long)]
        json: bool,
    },
    /// End a share: from its commit, the tenant reads nothing of the asset.
    Unshare {
        id: String,
        #[arg(long = "with")]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// The tenants an asset is shared with.
    Shares {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// The assets other tenants shared with this key's tenant (or --tenant).
    Shared {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Move an asset to another tenant: its objects into that tenant's bucket (no byte
    /// copied), its usage to that tenant's quota, in one commit.
    Transfer {
        id: String,
        #[arg(long = "to")]
        tenant: String,
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        json: bool,
    },
    /// Put an asset in its tenant's trash (purged after the tenant's retention).
    Rm {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Take an asset out of the trash.
    Restore {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Purge a trashed asset now: its records, and the object versions nothing else points at.
    Purge {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Show, or with --set change, how long a tenant's trashed assets stay (e.g. 7d, 12h, 0).
    TrashRetention {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, value_parser = humantime::parse_duration)]
        set: Option<std::time::Duration>,
        #[arg(long)]
        json: bool,
    },
    /// An asset's version chain, oldest first.
    Versions {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// One version of an asset: N, or latest.
    Version {
        id: String,
        number: String,
        #[arg(long)]
        json: bool,
    },
    /// Append a version pointing at BUCKET/KEY.
    AddVersion {
        id: String,
        object: String,
        #[arg(long)]
        version_id: Option<String>,
        #[arg(long = "rendition", value_parser = key_value)]
        renditions: Vec<(String, String)>,
        /// Only if the chain holds this many versions.
        #[arg(long)]
        if_versions: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Append a version identical to version TO (no bytes are copied).
    Rollback {
        id: String,
        #[arg(long)]
        to: u32,
        #[arg(long)]
        json: bool,
    },
    /// What differs between two versions.
    Diff {
        id: String,
        from: String,
        to: String,
        #[arg(long)]
        json: bool,
    },
    /// Does the tenant hold this content (a FILE, hashed here, or --sha256): its
    /// versions holding it, never another tenant's.
    Content(crate::asset_content::ContentArgs),
    /// The uploads in progress into --bucket of some content (a FILE or --sha256),
    /// with the parts they hold.
    Uploads(crate::asset_content::UploadsArgs),
    /// Content the tenant holds in more than one version.
    Duplicates(crate::asset_content::DuplicatesArgs),
    /// A tenant's asset events after --cursor (from the oldest kept), one JSON line each;
    /// --follow keeps waiting for new ones (long polls), --stream too (Server-Sent Events).
    Events(crate::asset_events::EventsArgs),
    /// Load the catalogue and time its reads (registrations/s, list page, batch get, stats).
    Bench(crate::asset_bench::BenchArgs),
    /// Load a video with annotations and time them: writes/s, live delivery to
    /// subscribers, frame-range queries.
    BenchAnnotations(crate::annotation_bench::BenchArgs),
    /// Count and bytes per media type of a tenant's assets.
    Stats {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

pub fn object_ref(target: &str, version_id: Option<String>) -> anyhow::Result<ObjectRef> {
    match target.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => {
            Ok(ObjectRef { bucket: b.to_string(), key: k.to_string(), version_id })
        }
        _ => bail!("expected BUCKET/KEY, got {target:?}"),
    }
}

pub fn renditions(pairs: &[(String, String)]) -> anyhow::Result<Vec<Rendition>> {
    pairs
        .iter()
        .map(|(role, target)| {
            Ok(Rendition { role: role.clone(), object: object_ref(target, None)?, ..Default::default() })
        })
        .collect()
}

pub fn meta(json: Option<&str>) -> anyhow::Result<MediaMeta> {
    match json {
        Some(j) => Ok(serde_json::from_str(j).map_err(|e| anyhow::anyhow!("--meta: {e}"))?),
        None => Ok(MediaMeta::default()),
    }
}

pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn show_version(v: &AssetVersionInfo) -> String {
    let mut out = format!(
        "v{:<4} {}/{}{} {} sha256 {}{}",
        v.number,
        v.object.bucket,
        v.object.key,
        v.object.version_id.as_deref().map(|i| format!("?versionId={i}")).unwrap_or_default(),
        show_size(v.size),
        v.sha256.as_deref().map_or("-", |s| &s[..s.len().min(16)]),
        v.rollback_of.map(|n| format!(" (rollback of v{n})")).unwrap_or_default(),
    );
    for r in &v.renditions {
        out.push_str(&format!("\n       {}: {}/{} {}", r.role, r.object.bucket, r.object.key, show_size(r.size)));
    }
    out
}

pub fn describe(a: &AssetInfo) -> String {
    let tags: Vec<String> = a.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let rows = [
        ("id", a.id.clone()),
        ("name", a.name.clone()),
        ("tenant", a.tenant.clone()),
        ("project", a.project.clone().unwrap_or_default()),
        ("type", a.media_type.clone()),
        ("status", a.status.clone()),
        ("tags", tags.join(", ")),
        ("versions", a.versions.to_string()),
        ("latest", a.latest.as_ref().map(show_version).unwrap_or_default()),
        ("created", a.created.clone()),
        ("updated", a.updated.clone()),
    ];
    rows.iter().map(|(k, v)| format!("{:<9} {v}\n", format!("{k}:"))).collect()
}

pub fn table(assets: &[AssetInfo]) -> String {
    let mut out = format!("{:<26} {:<10} {:<10} {:>4} {:>12}  {}\n", "ID", "TYPE", "STATUS", "VERS", "SIZE", "NAME");
    for a in assets {
        let size = a.latest.as_ref().map(|v| show_size(v.size)).unwrap_or_default();
        out.push_str(&format!(
            "{:<26} {:<10} {:<10} {:>4} {:>12}  {}\n",
            a.id, a.media_type, a.status, a.versions, size, a.name
        ));
    }
    out
}

fn tags(pairs: &[(String, String)]) -> BTreeMap<String, String> {
    pairs.iter().cloned().collect()
}

pub async fn run(conn: &Connection, cmd: AssetCommand) -> anyhow::Result<()> {
    match cmd {
        AssetCommand::Register {
            object,
            name,
            media_type,
            version_id,
            tenant,
            renditions: rs,
            idempotency_key,
            describe: d,
            json,
        } => {
            let body = RegisterAsset {
                tenant,
                name,
                media_type,
                project: d.project,
                status: d.status,
                tags: tags(&d.tags),
                meta: meta(d.meta.as_deref())?,
                version: Some(NewVersion {
                    object: object_ref(&object, version_id)?,
                    renditions: renditions(&rs)?,
                    ..Default::default()
                }),
                idempotency_key,
                ..Default::default()
            };
            let a: AssetInfo = v1::post(conn, "assets", &body).await?;
            if json { print_json(&a)? } else { print!("{}", describe(&a)) }
        }
        AssetCommand::Put(args) => crate::asset_upload::run(conn, args).await?,
        AssetCommand::Batch(args) => crate::asset_batch::batch(conn, args).await?,
        AssetCommand::BatchGet(args) => crate::asset_batch::batch_get(conn, args).await?,
        AssetCommand::Content(args) => crate::asset_content::content(conn, args).await?,
        AssetCommand::Uploads(args) => crate::asset_content::uploads(conn, args).await?,
        AssetCommand::Duplicates(args) => crate::asset_content::duplicates(conn, args).await?,
        AssetCommand::Events(args) => crate::asset_events::run(conn, args).await?,
        AssetCommand::Ls {
            tenant,
            media_type,
            project,
            status,
            tag,
            created_from,
            created_until,
            newest,
            trash,
            limit,
            json,
        } => {
            let params = [
                ("tenant", tenant.as_deref()),
                ("media_type", media_type.as_deref()),
                ("project", project.as_deref()),
                ("status", status.as_deref()),
                ("tag", tag.as_deref()),
                ("created_from", created_from.as_deref()),
                ("created_until", created_until.as_deref()),
                ("order", newest.then_some("desc")),
            ];
            let base = if trash { "assets/trash" } else { "assets" };
            let all = v1::all_pages(conn, base, &params, limit, |p: AssetList| (p.assets, p.next_cursor)).await?;
            if json { print_json(&all)? } else { print!("{}", table(&all)) }
        }
        AssetCommand::Search { query, prefix, tenant, limit, json } => {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair(if prefix { "name_prefix" } else { "q" }, &query).append_pair("limit", &limit.to_string());
            if let Some(t) = &tenant {
                q.append_pair("tenant", t);
            }
            let found: AssetList = v1::get(conn, &format!("assets/search?{}", q.finish())).await?;
            if json { print_json(&found.assets)? } else { print!("{}", table(&found.assets)) }
        }
        AssetCommand::Info { id, json } => {
            let a: AssetInfo = v1::get(conn, &format!("assets/{}", segment(&id)?)).await?;
            if json { print_json(&a)? } else { print!("{}", describe(&a)) }
        }
        AssetCommand::Update { id, name, describe: d, json } => {
            let body = UpdateAsset {
                name,
                project: d.project,
                status: d.status,
                tags: (!d.tags.is_empty()).then(|| tags(&d.tags)),
                meta: d.meta.as_deref().map(|m| meta(Some(m))).transpose()?,
                ..Default::default()
            };
            let a: AssetInfo = v1::patch(conn, &format!("assets/{}", segment(&id)?), &body).await?;
            if json { print_json(&a)? } else { print!("{}", describe(&a)) }
        }
        AssetCommand::Share { id, tenant, annotate, json } => {
            let body = ShareRequest { tenant, permission: annotate.then(|| "read_annotate".to_string()) };
            let sh: ShareInfo = v1::post(conn, &format!("assets/{}/shares", segment(&id)?), &body).await?;
            if json {
                print_json(&sh)?
            } else {
                println!("asset {} shared with {} ({})", sh.asset, sh.tenant, sh.permission)
            }
        }
        AssetCommand::Unshare { id, tenant, json } => {
            let path = format!("assets/{}/shares/{}", segment(&id)?, segment(&tenant)?);
            let left: ShareList = v1::delete(conn, &path).await?;
            if json { print_json(&left)? } else { println!("asset {id} is no longer shared with {tenant}") }
        }
        AssetCommand::Shares { id, json } => {
            let l: ShareList = v1::get(conn, &format!("assets/{}/shares", segment(&id)?)).await?;
            if json {
                print_json(&l)?
            } else {
                for sh in &l.shares {
                    println!("{:<20} {:<14} since {}", sh.tenant, sh.permission, sh.created);
                }
            }
        }
        AssetCommand::Shared { tenant, json } => {
            let params = [("tenant", tenant.as_deref())];
            let all = v1::all_pages(conn, "assets/shared", &params, None, |p: IncomingList| (p.shares, p.next_cursor))
                .await?;
            if json {
                print_json(&all)?
            } else {
                for i in &all {
                    println!(
                        "{} {:<10} {:<14} from {:<16} {}",
                        i.asset.id, i.asset.media_type, i.share.permission, i.share.owner, i.asset.name
                    );
                }
            }
        }
        AssetCommand::Transfer { id, tenant, bucket, json } => {
            let body = TransferRequest { tenant, bucket };
            let a: AssetInfo = v1::post(conn, &format!("assets/{}/transfer", segment(&id)?), &body).await?;
            if json { print_json(&a)? } else { print!("{}", describe(&a)) }
        }
        AssetCommand::Rm { id, json } => {
            let a: AssetInfo = v1::delete(conn, &format!("assets/{}", segment(&id)?)).await?;
            if json {
                print_json(&a)?
            } else {
                println!("asset {} is in the trash until {}", a.id, a.purge_at.unwrap_or_default())
            }
        }
        AssetCommand::Restore { id, json } => {
            let a: AssetInfo = v1::post(conn, &format!("assets/{}/restore", segment(&id)?), &()).await?;
            if json { print_json(&a)? } else { print!("{}", describe(&a)) }
        }
        AssetCommand::Purge { id, json } => {
            let p: Purged = v1::post(conn, &format!("assets/{}/purge", segment(&id)?), &()).await?;
            if json {
                print_json(&p)?
            } else {
                println!("purged {}: {} objects deleted, {} kept", p.purged, p.objects_deleted, p.objects_kept)
            }
        }
        AssetCommand::TrashRetention { tenant, set, json } => {
            let q = tenant
                .as_ref()
                .map(|t| {
                    format!("?{}", form_urlencoded::Serializer::new(String::new()).append_pair("tenant", t).finish())
                })
                .unwrap_or_default();
            let r: TrashRetention = match set {
                Some(d) => {
                    let body = TrashRetention { tenant: tenant.clone(), retention_secs: d.as_secs() };
                    v1::put(conn, "assets/trash/retention", &body).await?
                }
                None => v1::get(conn, &format!("assets/trash/retention{q}")).await?,
            };
            if json {
                print_json(&r)?
            } else {
                let d = humantime::format_duration(std::time::Duration::from_secs(r.retention_secs));
                println!("{}: trashed assets stay {d}", r.tenant.unwrap_or_default());
            }
        }
        AssetCommand::Versions { id, json } => {
            let path = format!("assets/{}/versions", segment(&id)?);
            let all = v1::all_pages(conn, &path, &[], None, |p: VersionList| (p.versions, p.next_cursor)).await?;
            if json {
                print_json(&all)?
            } else {
                for v in &all {
                    println!("{}", show_version(v));
                }
            }
        }
        AssetCommand::Version { id, number, json } => {
            let path = format!("assets/{}/versions/{}", segment(&id)?, segment(&number)?);
            let v: AssetVersionInfo = v1::get(conn, &path).await?;
            if json { print_json(&v)? } else { println!("{}", show_version(&v)) }
        }
        AssetCommand::AddVersion { id, object, version_id, renditions: rs, if_versions, json } => {
            let body = NewVersion {
                object: object_ref(&object, version_id)?,
                renditions: renditions(&rs)?,
                if_versions,
                ..Default::default()
            };
            let v: AssetVersionInfo = v1::post(conn, &format!("assets/{}/versions", segment(&id)?), &body).await?;
            if json { print_json(&v)? } else { println!("{}", show_version(&v)) }
        }
        AssetCommand::Rollback { id, to, json } => {
            let v: AssetVersionInfo =
                v1::post(conn, &format!("assets/{}/rollback", segment(&id)?), &Rollback { to }).await?;
            if json { print_json(&v)? } else { println!("{}", show_version(&v)) }
        }
        AssetCommand::Diff { id, from, to, json } => {
            let q = form_urlencoded::Serializer::new(String::new())
                .append_pair("from", &from)
                .append_pair("to", &to)
                .finish();
            let d: VersionDiff = v1::get(conn, &format!("assets/{}/diff?{q}", segment(&id)?)).await?;
            if json {
                print_json(&d)?
            } else {
                println!(
                    "v{} → v{}: {}",
                    d.from,
                    d.to,
                    if d.same_content { "same content" } else { "different content" }
                );
                for c in &d.changes {
                    println!("  {}: {} → {}", c.field, c.from, c.to);
                }
            }
        }
        AssetCommand::Bench(args) => crate::asset_bench::run(conn, args).await?,
        AssetCommand::BenchAnnotations(args) => crate::annotation_bench::run(conn, args).await?,
        AssetCommand::Stats { tenant, json } => {
            let q = tenant.map(|t| form_urlencoded::Serializer::new(String::new()).append_pair("tenant", &t).finish());
            let path = match q {
                Some(q) => format!("assets/stats?{q}"),
                None => "assets/stats".to_string(),
            };
            let s: AssetStats = v1::get(conn, &path).await?;
            if json {
                print_json(&s)?
            } else {
                println!("{:<10} {:>10} {:>14}", "TYPE", "COUNT", "BYTES");
                for (t, st) in &s.media_types {
                    println!("{t:<10} {:>10} {:>14}", st.count, show_size(st.bytes));
                }
                println!("{:<10} {:>10} {:>14}", "total", s.total.count, show_size(s.total.bytes));
            }
        }
    }
    Ok(())
}
