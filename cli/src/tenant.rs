//! `cairn tenant create|ls|info|set-quota|rm|usage` and `cairn bucket quota`: tenants
//! and quotas through the tenant API (`/cairn/v1/`), as an admin or a tenant admin key.
//! Sizes are human both ways: `10TiB`, `500GB`, `1.5GiB`, or plain bytes.

use crate::admin::v1;
use crate::client::Connection;
use anyhow::{Context, bail};
use cairn_api::tenants::{
    BucketQuota, BucketUsageList, CreateTenant, Deleted, Quota, SetQuota, TenantInfo, TenantList, TenantUsage,
    UsageHistory, Used,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

#[derive(clap::Subcommand)]
pub enum TenantCommand {
    /// Create a tenant, at the top level or inside --parent (whose quota it is carved from).
    Create {
        name: String,
        /// The parent tenant's id.
        #[arg(long)]
        parent: Option<String>,
        /// The tenant's id (a-z, 0-9, -) [default: generated]; creating the same id again is a no-op.
        #[arg(long)]
        id: Option<String>,
        /// Byte limit, e.g. 10TiB or 500GB [default: none].
        #[arg(long, value_parser = parse_size)]
        quota_bytes: Option<u64>,
        /// Object limit [default: none].
        #[arg(long)]
        quota_objects: Option<u64>,
        /// Usage warning thresholds in percent of the quota, e.g. 75,90 [default: 80,95].
        #[arg(long, value_delimiter = ',')]
        warn: Option<Vec<u8>>,
        #[arg(long)]
        json: bool,
    },
    /// The tenants inside --parent, or the top-level ones (a tenant admin: its own).
    Ls {
        #[arg(long)]
        parent: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One tenant: path, quota, usage.
    Info {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Set a tenant's limits (an absent flag removes that limit).
    SetQuota {
        id: String,
        #[arg(long, value_parser = parse_size)]
        bytes: Option<u64>,
        #[arg(long)]
        objects: Option<u64>,
        /// Usage warning thresholds in percent of the quota, e.g. 75,90 [default: unchanged].
        #[arg(long, value_delimiter = ',')]
        warn: Option<Vec<u8>>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a tenant that has no child tenants, buckets or keys left.
    Rm { id: String },
    /// What a tenant holds: in all, per bucket and per child tenant.
    Usage {
        id: String,
        /// The usage history instead: hourly samples of the last 7 days.
        #[arg(long)]
        history: bool,
        /// With --history: daily samples of the last 90 days.
        #[arg(long, requires = "history")]
        daily: bool,
        /// The most buckets (and children) one request answers [default: 1000]; every page is read.
        #[arg(long, hide = true, value_parser = clap::value_parser!(u16).range(1..=1000))]
        page_size: Option<u16>,
        #[arg(long)]
        json: bool,
    },
}

/// Human sizes in: `10TiB`, `500GB`, `1.5 GiB`, `4096`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    byte_unit::Byte::parse_str(s.trim(), true)
        .map(|b| b.as_u64())
        .map_err(|e| format!("{s:?} is not a size such as 10TiB, 500GB or 4096: {e}"))
}

/// Human sizes out: exact bytes below 1 KiB, else two decimals in binary units.
pub fn show_size(n: u64) -> String {
    if n < 1024 {
        return format!("{n} B");
    }
    let a = byte_unit::Byte::from_u64(n).get_appropriate_unit(byte_unit::UnitType::Binary);
    format!("{a:.2}")
}

fn show_limit(limit: Option<u64>, sizes: bool) -> String {
    match limit {
        None => "none".into(),
        Some(n) if sizes => show_size(n),
        Some(n) => n.to_string(),
    }
}

/// `used / limit (percent)` for bytes, then objects.
pub fn show_use(used: &Used, quota: Quota) -> (String, String) {
    let pct = |u: u64, l: Option<u64>| match l {
        Some(l) if l > 0 => format!(" ({:.1}%)", u as f64 * 100.0 / l as f64),
        _ => String::new(),
    };
    (
        format!("{} of {}{}", show_size(used.bytes), show_limit(quota.bytes, true), pct(used.bytes, quota.bytes)),
        format!("{} of {}{}", used.objects, show_limit(quota.objects, false), pct(used.objects, quota.objects)),
    )
}

/// A pool's bytes by storage class, e.g. "STANDARD 1.2 GiB, COLD 40 GiB".
pub fn by_class(used: &Used) -> String {
    used.classes.iter().map(|c| format!("{} {}", c.class, show_size(c.bytes))).collect::<Vec<_>>().join(", ")
}

const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// One path segment, percent-encoded (and never `.`, `..` or empty).
pub fn segment(s: &str) -> anyhow::Result<String> {
    if s.is_empty() || s == "." || s == ".." || s.contains('/') {
        bail!("invalid name {s:?}");
    }
    Ok(utf8_percent_encode(s, SEGMENT).to_string())
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn describe(t: &TenantInfo) -> String {
    let (bytes, objects) = show_use(&t.used, t.quota);
    let rows = [
        ("id", t.id.clone()),
        ("name", t.name.clone()),
        ("path", t.path.join(" / ")),
        ("bytes", bytes),
        ("objects", objects),
        ("classes", by_class(&t.used)),
        ("warn at", t.warn_percent.iter().map(|p| format!("{p}%")).collect::<Vec<_>>().join(", ")),
        ("created", t.created.clone()),
    ];
    rows.iter().map(|(k, v)| format!("{:<9} {v}\n", format!("{k}:"))).collect()
}

fn table(tenants: &[TenantInfo]) -> String {
    let mut out = format!("{:<20} {:<24} {:>24} {:>16}\n", "ID", "NAME", "BYTES (OF QUOTA)", "OBJECTS");
    for t in tenants {
        let (bytes, objects) = show_use(&t.used, t.quota);
        out.push_str(&format!("{:<20} {:<24} {:>24} {:>16}\n", t.id, t.name, bytes, objects));
    }
    out
}

pub async fn run(conn: &Connection, cmd: TenantCommand) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Create { name, parent, id, quota_bytes, quota_objects, warn, json } => {
            let body = CreateTenant {
                name,
                id,
                parent,
                quota: Quota { bytes: quota_bytes, objects: quota_objects },
                warn_percent: warn,
            };
            let t: TenantInfo = v1::post(conn, "tenants", &body).await?;
            if json { print_json(&t)? } else { print!("{}", describe(&t)) }
        }
        TenantCommand::Ls { parent, json } => {
            let all = v1::all_pages(conn, "tenants", &[("parent", parent.as_deref())], None, |p: TenantList| {
                (p.tenants, p.next_cursor)
            })
            .await?;
            if json { print_json(&all)? } else { print!("{}", table(&all)) }
        }
        TenantCommand::Info { id, json } => {
            let t: TenantInfo = v1::get(conn, &format!("tenants/{}", segment(&id)?)).await?;
            if json { print_json(&t)? } else { print!("{}", describe(&t)) }
        }
        TenantCommand::SetQuota { id, bytes, objects, warn, json } => {
            let body = SetQuota { quota: Quota { bytes, objects }, warn_percent: warn };
            let t: TenantInfo = v1::put(conn, &format!("tenants/{}/quota", segment(&id)?), &body).await?;
            if json { print_json(&t)? } else { print!("{}", describe(&t)) }
        }
        TenantCommand::Rm { id } => {
            let d: Deleted = v1::delete(conn, &format!("tenants/{}", segment(&id)?)).await?;
            println!("deleted tenant {}", d.deleted);
        }
        TenantCommand::Usage { id, history: true, daily, json, .. } => {
            let period = if daily { "daily" } else { "hourly" };
            let path = format!("tenants/{}/usage/history?period={period}", segment(&id)?);
            let h: UsageHistory = v1::get(conn, &path).await?;
            if json {
                return print_json(&h);
            }
            println!("{:<26} {:>16} {:>12}", "AT", "BYTES", "OBJECTS");
            for s in &h.samples {
                println!("{:<26} {:>16} {:>12}", s.at, show_size(s.bytes), s.objects);
            }
        }
        TenantCommand::Usage { id, history: false, page_size, json, .. } => {
            let u = usage(conn, &id, page_size).await?;
            if json {
                return print_json(&u);
            }
            print!("{}", describe(&u.tenant));
            println!();
            println!("{:<32} {:>24} {:>16}", "BUCKET", "BYTES (OF QUOTA)", "OBJECTS");
            for b in &u.buckets {
                let (bytes, objects) = show_use(&b.used, b.quota);
                println!("{:<32} {bytes:>24} {objects:>16}", b.bucket);
            }
            if !u.children.is_empty() {
                println!();
                print!("{}", table(&u.children));
            }
        }
    }
    Ok(())
}

/// A tenant's usage with every bucket and child: the first page of each list comes
/// with the usage, the rest from `usage/buckets` and `usage/children`, page by page.
async fn usage(conn: &Connection, id: &str, page_size: Option<u16>) -> anyhow::Result<TenantUsage> {
    let base = format!("tenants/{}/usage", segment(id)?);
    let limit = page_size.unwrap_or(1000).to_string();
    let params = [("limit", Some(limit.as_str()))];
    let mut u: TenantUsage = v1::get(conn, &format!("{base}?limit={limit}")).await?;
    if let Some(c) = u.next_buckets_cursor.take() {
        let more = v1::pages_from(conn, &format!("{base}/buckets"), &params, Some(c), None, |p: BucketUsageList| {
            (p.buckets, p.next_cursor)
        })
        .await?;
        u.buckets.extend(more);
    }
    if let Some(c) = u.next_children_cursor.take() {
        let more = v1::pages_from(conn, &format!("{base}/children"), &params, Some(c), None, |p: TenantList| {
            (p.tenants, p.next_cursor)
        })
        .await?;
        u.children.extend(more);
    }
    Ok(u)
}

/// `cairn bucket quota BUCKET [--bytes SIZE] [--objects N] [--clear]`.
pub async fn bucket_quota(
    conn: &Connection,
    bucket: &str,
    bytes: Option<u64>,
    objects: Option<u64>,
    clear: bool,
) -> anyhow::Result<()> {
    let path = format!("buckets/{}/quota", segment(bucket)?);
    let q: BucketQuota = if clear || bytes.is_some() || objects.is_some() {
        let body = SetQuota { quota: Quota { bytes, objects }, warn_percent: None };
        v1::put(conn, &path, &body).await.context("setting the bucket's quota")?
    } else {
        v1::get(conn, &path).await?
    };
    let (b, o) = show_use(&q.used, q.quota);
    println!("bucket:  {}", q.bucket);
    println!("tenant:  {}", q.tenant.as_deref().unwrap_or("-"));
    println!("bytes:   {b}");
    println!("objects: {o}");
    if !q.used.classes.is_empty() {
        println!("classes: {}", by_class(&q.used));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(parse_size("10TiB"), Ok(10 << 40));
        assert_eq!(parse_size("500GB"), Ok(500_000_000_000));
        assert_eq!(parse_size("1.5 GiB"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("100gib"), Ok(100 << 30));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("-1").is_err());
        assert_eq!(show_size(1000), "1000 B");
        assert_eq!(show_size(10 << 40), "10.00 TiB");
        assert_eq!(show_size(3 << 29), "1.50 GiB");
    }
}
