//! `cairn status`: what the node says about itself.

use crate::client::Connection;
use cairn_api::admin::NodeInfo;

/// An optional value as JSON shows it.
fn or_null(v: Option<u64>) -> String {
    v.map_or("null".to_string(), |v| v.to_string())
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

pub async fn run(conn: &Connection, json: bool) -> anyhow::Result<()> {
    let info: NodeInfo = crate::admin::get(conn, "info").await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    let raft = &info.raft;
    println!("Cairn {} at {} (node {}, up {} s)", info.version, conn.endpoint, info.node_id, info.uptime_seconds);
    println!(
        "  Raft:    {} · leader {} · term {} · last log {} · applied {}",
        raft.state,
        or_null(raft.leader),
        raft.term,
        or_null(raft.last_log_index),
        or_null(raft.applied_index)
    );
    println!(
        "  Erasure: {} data + {} parity shards, {} KiB blocks",
        info.erasure.data_shards,
        info.erasure.parity_shards,
        info.erasure.block_size / 1024
    );
    println!("  Disks:");
    for d in &info.disks {
        let state = if d.online { "online " } else { "OFFLINE" };
        let segments = match (d.segment_bytes, d.segment_live_bytes) {
            (Some(all), Some(live)) if all > 0 => {
                format!("  segments {:.1} GiB, {:.0}% live", gib(all), live as f64 * 100.0 / all as f64)
            }
            _ => String::new(),
        };
        println!(
            "    {} {}  {:>8.1} GiB free of {:>8.1} GiB  {}{segments}",
            d.index,
            state,
            gib(d.free_bytes),
            gib(d.total_bytes),
            d.path
        );
    }
    Ok(())
}
