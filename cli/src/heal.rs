//! `cairn heal`, `cairn scrub` and `cairn gc`: the durability services of the node at
//! the endpoint, through its admin API.

use crate::admin;
use crate::client::Connection;
use anyhow::bail;
use cairn_api::durability::{
    GcReport, HealStatus, ObjectHealReport, ObjectHealth, PassState, PassStatus, RebalanceStatus, ScrubStatus,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
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

fn summary(p: &PassStatus) -> String {
    let s = &p.stripes;
    format!(
        "{} objects, {} blobs, {:.1} MiB verified | stripes: {} whole, {} degraded, {} lost | {} shards rewritten, {} failures",
        p.objects,
        p.blobs,
        p.bytes_verified as f64 / (1 << 20) as f64,
        s.whole,
        s.degraded,
        s.lost,
        p.shards_rewritten,
        p.heal_failures,
    )
}

fn scope_text(p: &PassStatus) -> String {
    let scope = &p.scope;
    match (scope.bucket.as_deref(), scope.prefix.as_str(), scope.disk) {
        (_, _, Some(d)) => format!("disk {d}"),
        (Some(b), "", _) => format!("bucket {b}"),
        (Some(b), pre, _) => format!("{b}/{pre}*"),
        (None, _, _) => "the whole cluster".into(),
    }
}

fn state_text(s: PassState) -> &'static str {
    match s {
        PassState::Idle => "idle",
        PassState::Running => "running",
        PassState::Done => "done",
        PassState::Stopped => "stopped",
    }
}

/// Polls `endpoint` until the pass `pass` picks out is no longer running, with a spinner.
async fn follow<T: DeserializeOwned>(
    conn: &Connection,
    endpoint: &str,
    pass: fn(&T) -> Option<&PassStatus>,
) -> anyhow::Result<T> {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    loop {
        let v = admin::get::<T>(conn, endpoint).await?;
        let running = match pass(&v) {
            Some(p) => {
                bar.set_message(format!("{} — {}", scope_text(p), summary(p)));
                p.state == PassState::Running
            }
            None => false,
        };
        if !running {
            bar.finish_and_clear();
            return Ok(v);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn verdict(p: &PassStatus) -> anyhow::Result<()> {
    if p.stripes.lost > 0 {
        bail!("{} stripes are lost: fewer than k good shards remain", p.stripes.lost);
    }
    Ok(())
}

fn print_json(v: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub async fn heal(conn: &Connection, a: HealArgs) -> anyhow::Result<()> {
    if a.object {
        let Some((bucket, key)) = a.target.as_deref().and_then(|t| t.split_once('/')) else {
            bail!("--object needs BUCKET/KEY");
        };
        let ep = format!("heal/object?{}", query(&[("bucket", bucket), ("key", key)]));
        let v: ObjectHealReport =
            if a.dry_run { admin::get(conn, &ep).await? } else { admin::post(conn, &ep, &json!({})).await? };
        if a.json {
            print_json(&v)?;
        } else {
            let s = &v.stripes;
            let state = match v.state {
                ObjectHealth::Whole => "whole",
                ObjectHealth::Degraded => "degraded",
                ObjectHealth::Lost => "lost",
            };
            println!("{bucket}/{key}: {state} ({} whole, {} degraded, {} lost stripes)", s.whole, s.degraded, s.lost);
            for b in &v.blobs {
                if b.rewritten > 0 {
                    println!("  blob {}: {} shards rewritten", b.id, b.rewritten);
                }
                for f in &b.failed {
                    println!("  blob {} shard {}: {}", b.id, f.shard, f.error);
                }
            }
        }
        return match v.state {
            ObjectHealth::Lost => bail!("the object has lost stripes"),
            _ => Ok(()),
        };
    }
    let v: HealStatus = if a.status {
        admin::get(conn, "heal").await?
    } else {
        let (bucket, prefix) = a.target.as_deref().map(split_target).unwrap_or(("", ""));
        let started: HealStatus =
            admin::post(conn, &format!("heal?{}", query(&[("bucket", bucket), ("prefix", prefix)])), &json!({}))
                .await?;
        if a.no_wait { started } else { follow(conn, "heal", |v: &HealStatus| Some(&v.pass)).await? }
    };
    let p = &v.pass;
    if a.json {
        print_json(&v)?;
    } else {
        println!("heal of {}: {}", scope_text(p), state_text(p.state));
        println!("  {}", summary(p));
        if let Some(e) = &p.last_error {
            println!("  last error: {e}");
        }
        let r = &v.on_read;
        println!(
            "  heal on read: {} reported, {} healed, {} pending, {} failed",
            r.reported, r.healed, r.pending, r.failed
        );
    }
    // Only a pass this command ran decides the exit status; --status is a query.
    if !a.status && p.state == PassState::Done { verdict(p) } else { Ok(()) }
}

pub async fn scrub(conn: &Connection, a: ScrubArgs) -> anyhow::Result<()> {
    let mut v: ScrubStatus =
        if a.status { admin::get(conn, "scrub").await? } else { admin::post(conn, "scrub", &json!({})).await? };
    if a.wait {
        // The leader picks the request up within a couple of seconds.
        for _ in 0..50 {
            if v.current.as_ref().is_some_and(|c| c.state == PassState::Running) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            v = admin::get(conn, "scrub").await?;
        }
        v = follow(conn, "scrub", |v: &ScrubStatus| v.current.as_ref().or(v.last.as_ref())).await?;
    }
    if a.json {
        return print_json(&v);
    }
    println!(
        "scrubber: {} at most {} MiB/s, a pass every {} s (leader: {})",
        if v.running { "running," } else { "idle," },
        v.rate_mib,
        v.interval_secs,
        v.leader.map(|l| format!("node {l}")).unwrap_or_else(|| "none".into())
    );
    if let Some(c) = &v.current {
        println!("  current pass: {}", summary(c));
    }
    if let Some(l) = &v.last {
        println!("  last pass:    {}", summary(l));
        if a.wait {
            verdict(l)?;
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
    let v: RebalanceStatus = admin::get(conn, "rebalance").await?;
    if a.json {
        return print_json(&v);
    }
    let placed = v.done_version == v.layout_version;
    println!(
        "layout v{}: {} (at most {} MiB/s)",
        v.layout_version,
        if placed { "every shard where the layout places it" } else { "shards still to move" },
        v.rate_mib
    );
    for (name, p) in [("current", &v.current), ("last", &v.last)] {
        if let Some(p) = p {
            println!(
                "  {name} pass: {} objects, {} blobs moved ({} shards), {} skipped{}",
                p.objects,
                p.blobs_moved,
                p.shards_moved,
                p.skipped,
                p.last_error.as_deref().map(|e| format!("; last error: {e}")).unwrap_or_default()
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
    let v: GcReport = admin::post(conn, &ep, &json!({})).await?;
    if a.json {
        print_json(&v)?;
    } else {
        println!(
            "{} shard files on {} disks: {} orphans removed, {} too young, {} stale temp files removed",
            v.scanned, v.disks, v.removed, v.young, v.tmp_removed
        );
    }
    Ok(())
}
