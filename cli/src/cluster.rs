//! `cairn cluster init|join|status`: forming a cluster and looking at it, through the
//! admin API of the node at the endpoint.

use crate::admin;
use crate::client::Connection;
use cairn_api::admin::{ClusterInit, ClusterJoined, ClusterStatus, JoinRequest};

#[derive(clap::Subcommand)]
pub enum ClusterCommand {
    /// Make the node at the endpoint a cluster that others can join; prints a join token.
    Init,
    /// Join the node at the endpoint to a cluster, through a member's internode address.
    Join {
        /// The token `cairn cluster init` printed.
        #[arg(long, env = "CAIRN_JOIN_TOKEN", hide_env_values = true)]
        token: String,
        /// Internode address (host:port) of a member; defaults to the address in the token.
        addr: Option<String>,
    },
    /// Nodes, roles, Raft term and indexes, disks and health.
    Status {
        /// Print the admin API's JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(conn: &Connection, cmd: ClusterCommand) -> anyhow::Result<()> {
    match cmd {
        ClusterCommand::Init => {
            let v: ClusterInit = admin::post(conn, "cluster/init", &serde_json::json!({})).await?;
            println!("Cluster initialized on node {} ({}).", v.node_id, v.addr);
            println!("Join other nodes with:");
            println!("  cairn --endpoint <their S3 endpoint> cluster join --token {}", v.token);
            Ok(())
        }
        ClusterCommand::Join { token, addr } => {
            let v: ClusterJoined = admin::post(conn, "cluster/join", &JoinRequest { token, addr }).await?;
            println!("Joined as node {} via {}.", v.node_id, v.joined_via);
            Ok(())
        }
        ClusterCommand::Status { json } => {
            let v: ClusterStatus = admin::get(conn, "cluster").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_status(&v);
            }
            Ok(())
        }
    }
}

/// An optional index as JSON shows it.
fn or_null(v: Option<u64>) -> String {
    v.map_or("null".to_string(), |v| v.to_string())
}

fn print_status(v: &ClusterStatus) {
    let leader = v.leader.map_or("none".to_string(), |l| l.to_string());
    println!(
        "node {}  leader {}  term {}  log {}  applied {}",
        v.node_id,
        leader,
        v.term,
        or_null(v.last_log_index),
        or_null(v.applied_index)
    );
    let l = &v.layout;
    println!(
        "layout v{}: {}+{} erasure, {} disks in {} sets",
        l.version, l.data_shards, l.parity_shards, l.disks, l.erasure_sets
    );
    if !v.storage_classes.is_empty() {
        println!("{:<20} {:<8} {:<20} {:<8} SETS", "STORAGE CLASS", "CODE", "POOL", "DISKS");
        for c in &v.storage_classes {
            println!(
                "{:<20} {:<8} {:<20} {:<8} {}",
                c.name,
                format!("{}+{}", c.data_shards, c.parity_shards),
                c.pool,
                format!("{}/{}", c.disks_online, c.disks),
                c.erasure_sets
            );
        }
    }
    println!("{:<20} {:<8} {:<7} {:<22} {:<22} DISKS", "NODE", "ROLE", "HEALTH", "INTERNODE", "S3");
    for n in &v.nodes {
        println!(
            "{:<20} {:<8} {:<7} {:<22} {:<22} {}/{}",
            n.id,
            n.role.as_str(),
            if n.online { "up" } else { "DOWN" },
            n.addr,
            n.s3_addr,
            n.disks_online,
            n.disks
        );
    }
}
