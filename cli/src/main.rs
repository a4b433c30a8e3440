//! `cairn`: the command-line client of Cairn.

mod bench;
mod client;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cairn", version, about = "Command-line client for Cairn (and any S3 endpoint)")]
struct Cli {
    #[command(flatten)]
    conn: client::Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load generator: PUT / GET / mixed objects against an S3 endpoint and report ops/s, MiB/s and latency.
    Bench(bench::BenchArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Bench(args) => bench::run(&cli.conn, args).await,
        }
    })
}
