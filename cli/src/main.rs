//! `cairn`: the command-line client of Cairn.

mod admin;
mod annotation_bench;
mod asset;
mod asset_batch;
mod asset_bench;
mod asset_content;
mod asset_events;
mod asset_upload;
mod audit;
mod bench;
mod bench_ingest;
mod bucket;
mod client;
mod cluster;
mod events;
mod heal;
mod key;
mod kms;
mod lifecycle;
mod object;
mod profile;
mod status;
mod tenant;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cairn", version, about = "Command-line client for Cairn (and any S3 endpoint)")]
struct Cli {
    #[command(flatten)]
    conn: client::ConnectionArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Node status: Raft, erasure layout, disks (admin key).
    Status {
        /// Print the admin API's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Buckets.
    #[command(subcommand)]
    Bucket(bucket::BucketCommand),
    /// Objects: a key's versions, and rolling back to one.
    #[command(subcommand)]
    Object(object::ObjectCommand),
    /// Cluster: init, join, status (admin key).
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Verify and heal objects (all, a bucket, a prefix or one object) with a progress display (admin key).
    Heal(heal::HealArgs),
    /// Start the background scrubber now, or show its progress (admin key).
    Scrub(heal::ScrubArgs),
    /// Progress of moving shards to where the layout places them, after nodes join (admin key, ask the leader).
    Rebalance(heal::RebalanceArgs),
    /// Remove this node's orphan shard files: shards no metadata refers to (admin key).
    Gc(heal::GcArgs),
    /// Access keys: create, list, show, delete (admin key).
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Administrative changes, who made them and when, from any node (admin key).
    Audit(audit::AuditArgs),
    /// The built-in KMS key store behind SSE-KMS: keys, rotation, disabling (admin key).
    #[command(subcommand)]
    Kms(kms::KmsCommand),
    /// Bucket event notification targets: backlog, delivered, dropped (admin key).
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// The lifecycle worker: its position and what bucket lifecycle rules did (admin key).
    #[command(subcommand)]
    Lifecycle(lifecycle::LifecycleCommand),
    /// Tenants and their quotas (admin or tenant admin key).
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// The asset catalogue: register, upload, list, versions, rollback, stats (a tenant's key).
    #[command(subcommand)]
    Asset(asset::AssetCommand),
    /// Named connections (endpoint, keys, region) in the profile file.
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Load generator: PUT / GET / mixed objects against an S3 endpoint and report ops/s, MiB/s and latency.
    Bench(bench::BenchArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(run(cli)));
    if let Err(e) = result {
        eprintln!("cairn: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let conn = cli.conn.resolve()?;
    {
        match cli.command {
            Command::Bench(args) => bench::run(&conn, args).await,
            Command::Status { json } => status::run(&conn, json).await,
            Command::Bucket(cmd) => bucket::run(&conn, cmd).await,
            Command::Object(cmd) => object::run(&conn, cmd).await,
            Command::Cluster(cmd) => cluster::run(&conn, cmd).await,
            Command::Heal(a) => heal::heal(&conn, a).await,
            Command::Scrub(a) => heal::scrub(&conn, a).await,
            Command::Gc(a) => heal::gc(&conn, a).await,
            Command::Rebalance(a) => heal::rebalance(&conn, a).await,
            Command::Key(cmd) => key::run(&conn, cmd).await,
            Command::Kms(cmd) => kms::run(&conn, cmd).await,
            Command::Audit(a) => audit::run(&conn, a).await,
            Command::Lifecycle(cmd) => lifecycle::run(&conn, cmd).await,
            Command::Events(cmd) => events::run(&conn, cmd).await,
            Command::Tenant(cmd) => tenant::run(&conn, cmd).await,
            Command::Asset(cmd) => asset::run(&conn, cmd).await,
            Command::Profile(cmd) => profile::run(&conn, cmd),
            Command::Completions { shell } => {
                use clap::CommandFactory;
                clap_complete::generate(shell, &mut Cli::command(), "cairn", &mut std::io::stdout());
                Ok(())
            }
        }
    }
}
