//! `cairn heal`, `cairn scrub` and `cairn gc`: the durability services of the node at
//! the endpoint, through its admin API.

use crate::admin;
use crate::client::Connection;
use anyhow::bail;
use serde_json::{Value, json};
use std::time::Duration;

#[derive(clap::Args)]
pub struct HealArgs {
    /// What to heal: BUCKET or BUCKET/PREFIX (default: every object of the cluster);
    /// with --object, BUCKET/KEY.
    target: Option<String>,
    /// Check and heal one object now and show its stripes.
    #[arg(long)]
    object: bool,
    /// With --object: only verify, rewrite nothing.
    #[arg(long, requires = "object")]
    dry_run: bool,
    /// Show the running or last heal pass instead of starting one.
    #[arg(long, conflicts_with = "object")]
    status: bool,
    /// Start the pass and return at once.
    #[arg(long)]
    no_wait: bool,
    /// Print the admin API's JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct ScrubArgs {
    /// Show the scrubber's progress and last pass instead of starting a pass.
    #[arg(long)]
    status: bool,
    /// After starting, follow the pass until it is done.
    #[arg(long)]
    wait: bool,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct GcArgs {
    /// Only files older than this are removed (default: the node's orphan_grace_secs).
    #[arg(long)]
    grace_secs: Option<u64>,
    #[arg(long)]
    json: bool,
}

fn split_target(t: &str) -> (&str, &str) {
    t.split_once('/').unwrap_or((t, ""))
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    q.finish()
}

fn summary(p: &Value) -> String {
    let s = &p["stripes"];
    format!(
        "{} objects, {} blobs, {:.1} MiB verified | stripes: {} whole, {} degraded, {} lost | {} shards rewritten, {} failures",
        p["objects"],
        p["blobs"],
        p["bytes_verified"].as_f64().unwrap_or(0.0) / (1 << 20) as f64,
        s["whole"],
        s["degraded"],
        s["lost"],
        p["shards_rewritten"],
        p["heal_failures"],
    )
}

fn scope_text(p: &Value) -> String {
    let scope = &p["scope"];
    match (scope["bucket"].as_str(), scope["prefix"].as_str().unwrap_or(""), scope["disk"].as_u64()) {
        (_, _, Some(d)) => format!("disk {d}"),
        (Some(b), "", _) => format!("bucket {b}"),
        (Some(b), pre, _) => format!("{b}/{pre}*"),
        (None, _, _) => "the whole cluster".into(),
    }
}

/// Polls `endpoint` until the pass at `path` is no longer running, with a spinner.
async fn follow(conn: &Connection, endpoint: &str, path: fn(&Value) -> &Value) -> anyhow::Result<Value> {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    loop {
        let v = admin::get::<Value>(conn, endpoint).await?;
        let p = path(&v).clone();
        bar.set_message(format!("{} — {}", scope_text(&p), summary(&p)));
        if p["state"].as_str() != Some("running") {
            bar.finish_and_clear();
            return Ok(v);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn verdict(p: &Value) -> anyhow::Result<()> {
    if p["stripes"]["lost"].as_u64().unwrap_or(0) > 0 {
        bail!("{} stripes are lost: fewer than k good shards remain", p["stripes"]["lost"]);
    }
    Ok(())
}

pub async fn heal(conn: &Connection, a: HealArgs) -> anyhow::Result<()> {
    if a.object {
        let Some((bucket, key)) = a.target.as_deref().and_then(|t| t.split_once('/')) else {
            bail!("--object needs BUCKET/KEY");
        };
        let ep = format!("heal/object?{}", query(&[("bucket", bucket), ("key", key)]));
        let v = if a.dry_run {
            admin::get::<Value>(conn, &ep).await?
        } else {
            admin::post::<Value>(conn, &ep, &json!({})).await?
        };
        if a.json {
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            let s = &v["stripes"];
            println!(
                "{bucket}/{key}: {} ({} whole, {} degraded, {} lost stripes)",
                v["state"].as_str().unwrap_or("?"),
                s["whole"],
                s["degraded"],
                s["lost"]
            );
            for b in v["blobs"].as_array().into_iter().flatten() {
                let rewritten = b["rewritten"].as_u64().unwrap_or(0);
                if rewritten > 0 {
                    println!("  blob {}: {rewritten} shards rewritten", b["id"].as_str().unwrap_or("?"));
                }
                for f in b["failed"].as_array().into_iter().flatten() {
                    println!("  blob {} shard {}: {}", b["id"].as_str().unwrap_or("?"), f["shard"], f["error"]);
                }
            }
        }
        return match v["state"].as_str() {
            Some("lost") => bail!("the object has lost stripes"),
            _ => Ok(()),
        };
    }
    let v = if a.status {
        admin::get::<Value>(conn, "heal").await?
    } else {
        let (bucket, prefix) = a.target.as_deref().map(split_target).unwrap_or(("", ""));
        let started = admin::post::<Value>(
            conn,
            &format!("heal?{}", query(&[("bucket", bucket), ("prefix", prefix)])),
            &json!({}),
        )
        .await?;
        if a.no_wait { started } else { follow(conn, "heal", |v| &v["pass"]).await? }
    };
    let p = &v["pass"];
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("heal of {}: {}", scope_text(p), p["state"].as_str().unwrap_or("?"));
        println!("  {}", summary(p));
        if let Some(e) = p["last_error"].as_str() {
            println!("  last error: {e}");
        }
        let r = &v["on_read"];
        println!(
            "  heal on read: {} reported, {} healed, {} pending, {} failed",
            r["reported"], r["healed"], r["pending"], r["failed"]
        );
    }
    // Only a pass this command ran decides the exit status; --status is a query.
    if !a.status && p["state"].as_str() == Some("done") { verdict(p) } else { Ok(()) }
}

pub async fn scrub(conn: &Connection, a: ScrubArgs) -> anyhow::Result<()> {
    let mut v = if a.status {
        admin::get::<Value>(conn, "scrub").await?
    } else {
        admin::post::<Value>(conn, "scrub", &json!({})).await?
    };
    if a.wait {
        // The leader picks the request up within a couple of seconds.
        for _ in 0..50 {
            if v["current"]["state"].as_str() == Some("running") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            v = admin::get::<Value>(conn, "scrub").await?;
        }
        v = follow(conn, "scrub", |v| if v["current"].is_null() { &v["last"] } else { &v["current"] }).await?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "scrubber: {} at most {} MiB/s, a pass every {} s (leader: node {})",
        if v["running"].as_bool() == Some(true) { "running," } else { "idle," },
        v["rate_mib"],
        v["interval_secs"],
        v["leader"]
    );
    if !v["current"].is_null() {
        println!("  current pass: {}", summary(&v["current"]));
    }
    if !v["last"].is_null() {
        println!("  last pass:    {}", summary(&v["last"]));
        if a.wait {
            verdict(&v["last"])?;
        }
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct RebalanceArgs {
    #[arg(long)]
    json: bool,
}

pub async fn rebalance(conn: &Connection, a: RebalanceArgs) -> anyhow::Result<()> {
    let v = admin::get::<Value>(conn, "rebalance").await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let placed = v["done_version"] == v["layout_version"];
    println!(
        "layout v{}: {} (at most {} MiB/s)",
        v["layout_version"],
        if placed { "every shard where the layout places it" } else { "shards still to move" },
        v["rate_mib"]
    );
    for (name, p) in [("current", &v["current"]), ("last", &v["last"])] {
        if !p.is_null() {
            println!(
                "  {name} pass: {} objects, {} blobs moved ({} shards), {} skipped{}",
                p["objects"],
                p["blobs_moved"],
                p["shards_moved"],
                p["skipped"],
                p["last_error"].as_str().map(|e| format!("; last error: {e}")).unwrap_or_default()
            );
        }
    }
    Ok(())
}

pub async fn gc(conn: &Connection, a: GcArgs) -> anyhow::Result<()> {
    let ep = match a.grace_secs {
        Some(g) => format!("gc?grace_secs={g}"),
        None => "gc".into(),
    };
    let v = admin::post::<Value>(conn, &ep, &json!({})).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{} shard files on {} disks: {} orphans removed, {} too young, {} stale temp files removed",
            v["scanned"], v["disks"], v["removed"], v["young"], v["tmp_removed"]
        );
    }
    Ok(())
}
