//! `cairn cluster init|join|status`: forming a cluster and looking at it, through the
//! admin API of the node at the endpoint.

use crate::admin;
use crate::client::Connection;
use serde_json::{Value, json};

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
            let v = admin::post(conn, "cluster/init", &json!({})).await?;
            println!("Cluster initialized on node {} ({}).", v["node_id"], v["addr"].as_str().unwrap_or("?"));
            println!("Join other nodes with:");
            println!(
                "  cairn --endpoint <their S3 endpoint> cluster join --token {}",
                v["token"].as_str().unwrap_or("")
            );
            Ok(())
        }
        ClusterCommand::Join { token, addr } => {
            let v = admin::post(conn, "cluster/join", &json!({ "token": token, "addr": addr })).await?;
            println!("Joined as node {} via {}.", v["node_id"], v["joined_via"].as_str().unwrap_or("?"));
            Ok(())
        }
        ClusterCommand::Status { json } => {
            let v = admin::get(conn, "cluster").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_status(&v);
            }
            Ok(())
        }
    }
}

fn print_status(v: &Value) {
    let leader = v["leader"].as_u64().map_or("none".to_string(), |l| l.to_string());
    println!(
        "node {}  leader {}  term {}  log {}  applied {}",
        v["node_id"], leader, v["term"], v["last_log_index"], v["applied_index"]
    );
    let l = &v["layout"];
    println!(
        "layout v{}: {}+{} erasure, {} disks in {} sets",
        l["version"], l["data_shards"], l["parity_shards"], l["disks"], l["erasure_sets"]
    );
    println!("{:<20} {:<8} {:<7} {:<22} {:<22} DISKS", "NODE", "ROLE", "HEALTH", "INTERNODE", "S3");
    for n in v["nodes"].as_array().into_iter().flatten() {
        // serde_json's Display ignores width, so ids go through a String.
        println!(
            "{:<20} {:<8} {:<7} {:<22} {:<22} {}/{}",
            n["id"].to_string(),
            n["role"].as_str().unwrap_or("?"),
            if n["online"].as_bool() == Some(true) { "up" } else { "DOWN" },
            n["addr"].as_str().unwrap_or("?"),
            n["s3_addr"].as_str().unwrap_or("?"),
            n["disks_online"],
            n["disks"]
        );
    }
}
