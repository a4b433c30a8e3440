//! `cairn lifecycle status`: where the lifecycle worker is (bucket, last key, pass
//! times) and what bucket lifecycle rules have done, from any node (admin key). The
//! rules themselves are set with any S3 client (PutBucketLifecycleConfiguration).

use crate::admin;
use crate::client::Connection;
use cairn_api::lifecycle::LifecycleStatus;

#[derive(clap::Subcommand)]
pub enum LifecycleCommand {
    /// The worker's position and totals.
    Status {
        #[arg(long)]
        json: bool,
    },
}

fn time(ns: Option<i64>) -> String {
    match ns.and_then(|n| u64::try_from(n).ok()) {
        Some(n) => {
            humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(n)).to_string()
        }
        None => "-".into(),
    }
}

pub async fn run(conn: &Connection, cmd: LifecycleCommand) -> anyhow::Result<()> {
    let LifecycleCommand::Status { json } = cmd;
    let st: LifecycleStatus = admin::get(conn, "lifecycle").await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&st)?);
        return Ok(());
    }
    match &st.bucket {
        Some(b) => println!(
            "pass in progress since {}: bucket {b}, after key {}",
            time(st.pass_started),
            st.after_key.as_deref().unwrap_or("(start)")
        ),
        None => println!("between passes"),
    }
    println!("passes finished: {} (last {})", st.passes, time(st.last_pass_finished));
    let t = &st.totals;
    println!("keys scanned:          {}", t.keys_scanned);
    println!("expired (current):     {}", t.expired);
    println!("noncurrent removed:    {}", t.noncurrent_removed);
    println!("delete markers removed: {}", t.markers_removed);
    println!("uploads aborted:       {}", t.uploads_aborted);
    println!("versions transitioned: {}", t.transitioned);
    println!("tiered down by access: {}", t.tiered_down);
    println!("tiered up by access:   {}", t.tiered_up);
    println!("skipped (key changed): {}", t.skipped_changed);
    println!("skipped (locked):      {}", t.skipped_locked);
    Ok(())
}
