//! The `cairnd` binary: parses flags, loads the configuration, sets up logging,
//! starts the node (`cairn_node::Node`), prints its endpoint and keys, and stops it
//! gracefully on SIGTERM or Ctrl-C. Everything else is the library's.

use cairn_node::Node;
use cairn_node::config::{Config, Flags, LogFormat};
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// jemalloc instead of glibc's malloc: the metadata store and the request tasks allocate from
/// many threads, and glibc's per-thread arenas kept freed memory resident (see README's
/// memory figures).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn init_logging(format: LogFormat) {
    // s3s logs every refused request at error level; those are answers, not faults.
    let filter =
        EnvFilter::try_from_env("CAIRN_LOG").unwrap_or_else(|_| EnvFilter::new("info,s3s=off,sled=warn,openraft=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    let cfg = match Config::load(&flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cairnd: {e:#}");
            std::process::exit(2);
        }
    };
    if flags.print_config {
        print!("{}", cfg.to_toml()?);
        return Ok(());
    }
    init_logging(cfg.log_format);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let node = match Node::start(&cfg).await {
            Ok(n) => n,
            Err(e) => {
                eprintln!("cairnd: {e:#}");
                std::process::exit(1);
            }
        };
        let endpoint = format!("{}://{}", node.scheme, node.s3_addr);
        println!("Cairn {} is ready.", env!("CARGO_PKG_VERSION"));
        println!("  S3 endpoint:  {endpoint}");
        match &node.node_addr {
            Some(addr) => println!("  Internode:    {addr}"),
            None => println!(
                "  Internode:    none ({} is taken; to form or join a cluster, restart with --node-listen ADDR:PORT)",
                cfg.node_listen_addr()
            ),
        }
        println!("  Region:       {}", cfg.region);
        println!("  Access key:   {}", node.access_key);
        println!("  Secret key:   {}", node.secret_key);
        println!(
            "  Data:         {} ({} disks, {} data + {} parity shards)",
            cfg.data.display(),
            cfg.disks.len(),
            cfg.data_shards,
            cfg.parity_shards
        );
        println!(
            "  Try:          AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} aws --endpoint-url {endpoint} s3 mb s3://demo",
            node.access_key, node.secret_key
        );
        wait_for_signal().await;
        tracing::info!("shutting down");
        node.stop().await
    })
}
