//! `cairn status`: what the node says about itself.

use crate::client::Connection;

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

pub async fn run(conn: &Connection, json: bool) -> anyhow::Result<()> {
    let info = crate::admin::get(conn, "info").await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    let raft = &info["raft"];
    println!(
        "Cairn {} at {} (node {}, up {} s)",
        info["version"].as_str().unwrap_or("?"),
        conn.endpoint,
        info["node_id"],
        info["uptime_seconds"]
    );
    println!(
        "  Raft:    {} · leader {} · term {} · last log {} · applied {}",
        raft["state"].as_str().unwrap_or("?"),
        raft["leader"],
        raft["term"],
        raft["last_log_index"],
        raft["applied_index"]
    );
    println!(
        "  Erasure: {} data + {} parity shards, {} KiB blocks",
        info["erasure"]["data_shards"],
        info["erasure"]["parity_shards"],
        info["erasure"]["block_size"].as_u64().unwrap_or(0) / 1024
    );
    println!("  Disks:");
    for d in info["disks"].as_array().into_iter().flatten() {
        let state = if d["online"].as_bool() == Some(true) { "online " } else { "OFFLINE" };
        println!(
            "    {} {}  {:>8.1} GiB free of {:>8.1} GiB  {}",
            d["index"],
            state,
            gib(d["free_bytes"].as_u64().unwrap_or(0)),
            gib(d["total_bytes"].as_u64().unwrap_or(0)),
            d["path"].as_str().unwrap_or("")
        );
    }
    Ok(())
}
