//! `cairn events status`: each bucket notification target's backlog (queued), what it
//! took (delivered) and what was dropped because its backlog was full, from any node
//! (admin key). Rules are set with any S3 client (PutBucketNotificationConfiguration).

use crate::admin;
use crate::client::Connection;
use cairn_api::events::EventTargets;

#[derive(clap::Subcommand)]
pub enum EventsCommand {
    /// Each target's backlog.
    Status {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(conn: &Connection, cmd: EventsCommand) -> anyhow::Result<()> {
    let EventsCommand::Status { json } = cmd;
    let st: EventTargets = admin::get(conn, "events").await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&st)?);
        return Ok(());
    }
    if st.targets.is_empty() {
        println!("no events queued for any target yet");
    }
    println!("{:<24} {:>10} {:>12} {:>10}", "TARGET", "QUEUED", "DELIVERED", "DROPPED");
    for t in &st.targets {
        println!("{:<24} {:>10} {:>12} {:>10}", t.name, t.queued, t.delivered, t.dropped);
    }
    Ok(())
}
