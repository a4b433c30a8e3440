//! Node configuration: flag > `CAIRN_*` env var > TOML file > built-in default.
//! Every key has the same name in all three places (dashes in flags,
//! underscores in TOML and env). Reads the flags, the environment and the config
//! file; touches nothing else.

use anyhow::{Context, bail};
use clap::Parser;
use serde::Deserialize;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

/// The config file read when `--config` is not given and this file exists.
pub const SYSTEM_CONFIG: &str = "/etc/cairn/cairn.toml";

#[derive(Parser, Debug, Default)]
#[command(
    name = "cairnd",
    version,
    about = "Cairn: an S3-compatible object store with erasure coding and Raft metadata"
)]
pub struct Flags {
    /// TOML config file (default: /etc/cairn/cairn.toml when it exists).
    #[arg(long, env = "CAIRN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory: metadata, and the disk directories unless --disk is given.
    #[arg(long, env = "CAIRN_DATA")]
    pub data: Option<PathBuf>,
    /// A disk directory for shards; repeat for each disk (env: comma-separated).
    #[arg(long = "disk", env = "CAIRN_DISK", value_delimiter = ',')]
    pub disk: Vec<PathBuf>,
    /// Address of the S3 endpoint (port 0 picks a free port).
    #[arg(long, env = "CAIRN_S3_LISTEN")]
    pub s3_listen: Option<SocketAddr>,
    /// Data shards per stripe (k).
    #[arg(long, env = "CAIRN_DATA_SHARDS")]
    pub data_shards: Option<u8>,
    /// Parity shards per stripe (m).
    #[arg(long, env = "CAIRN_PARITY_SHARDS")]
    pub parity_shards: Option<u8>,
    /// Region reported to clients.
    #[arg(long, env = "CAIRN_REGION")]
    pub region: Option<String>,
    /// Domain for virtual-host style requests (`bucket.<domain>`); repeatable.
    #[arg(long = "domain", env = "CAIRN_DOMAIN", value_delimiter = ',')]
    pub domain: Vec<String>,
    /// Incomplete multipart uploads older than this many seconds are aborted (default 7 days).
    #[arg(long, env = "CAIRN_MULTIPART_EXPIRY_SECS")]
    pub multipart_expiry_secs: Option<u64>,
    /// Length of the "hour" of tenant usage history, in seconds (default 3600; a test aid).
    #[arg(long, env = "CAIRN_USAGE_SAMPLE_SECS")]
    pub usage_sample_secs: Option<u64>,
    /// Length of a lifecycle rule's "day", in seconds (default 86400; a test aid).
    #[arg(long, env = "CAIRN_LIFECYCLE_DAY_SECS")]
    pub lifecycle_day_secs: Option<u64>,
    /// How often this node commits the reads it served, for tiering by access (seconds).
    #[arg(long, env = "CAIRN_ACCESS_FLUSH_SECS")]
    pub access_flush_secs: Option<u64>,
    /// Tenant depth `/metrics` reports usage and quota for (1: top-level tenants only).
    #[arg(long, env = "CAIRN_METRICS_TENANT_DEPTH")]
    pub metrics_tenant_depth: Option<usize>,
    /// Requests handled at once; more get 503 SlowDown.
    #[arg(long, env = "CAIRN_MAX_REQUESTS")]
    pub max_requests: Option<usize>,
    /// Seconds a request body (or a request's headers) may stall before the request is dropped.
    #[arg(long, env = "CAIRN_BODY_TIMEOUT_SECS")]
    pub body_timeout_secs: Option<u64>,
    /// PEM certificate chain for HTTPS on the S3 endpoint (with --tls-key; reloaded on SIGHUP).
    #[arg(long, env = "CAIRN_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "CAIRN_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Internode (QUIC) address: Raft and shard traffic between cluster nodes (default
    /// 127.0.0.1:9001). Unset, a node outside any cluster runs without one when that
    /// port is taken; set it to form or join a cluster.
    #[arg(long, env = "CAIRN_NODE_LISTEN")]
    pub node_listen: Option<SocketAddr>,
    /// Internode address other nodes dial, when it differs from node_listen (e.g. 0.0.0.0).
    #[arg(long, env = "CAIRN_NODE_ADVERTISE")]
    pub node_advertise: Option<String>,
    /// Static cluster: the internode addresses of all nodes, this one included, the
    /// same list in the same order on every node (env: comma-separated). Needs cluster_secret.
    #[arg(long = "peer", env = "CAIRN_PEERS", value_delimiter = ',')]
    pub peers: Vec<String>,
    /// Shared secret that cluster nodes authenticate each other with (static clusters).
    #[arg(long, env = "CAIRN_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// Shard bytes per second the background scrubber may read, in MiB (0: unthrottled).
    #[arg(long, env = "CAIRN_SCRUB_RATE_MIB")]
    pub scrub_rate_mib: Option<u64>,
    /// Metadata log entries between Raft snapshots while the metadata holds fewer than
    /// twice as many records, then half its records (the log behind a snapshot is purged).
    #[arg(long, env = "CAIRN_RAFT_SNAPSHOT_EVERY")]
    pub raft_snapshot_every: Option<u64>,
    /// Shard bytes per second the rebalancer may move, in MiB (0: unthrottled).
    #[arg(long, env = "CAIRN_REBALANCE_RATE_MIB")]
    pub rebalance_rate_mib: Option<u64>,
    /// Seconds between the starts of two scrub passes over every object (0: never on its own).
    #[arg(long, env = "CAIRN_SCRUB_INTERVAL_SECS")]
    pub scrub_interval_secs: Option<u64>,
    /// Shard files that no metadata refers to are removed once they are this many seconds old.
    #[arg(long, env = "CAIRN_ORPHAN_GRACE_SECS")]
    pub orphan_grace_secs: Option<u64>,
    /// Objects of at most this many bytes live in their metadata record instead of
    /// shard files (0 to 65536).
    #[arg(long, env = "CAIRN_INLINE_MAX")]
    pub inline_max: Option<usize>,
    /// Shards of at most this many bytes are packed into per-disk segment files with group
    /// commit instead of a file each (0 turns segments off; at most 16 MiB).
    #[arg(long, env = "CAIRN_SEGMENT_MAX_SHARD")]
    pub segment_max_shard: Option<u64>,
    /// A disk's active segment file is sealed, and a new one started, at this many bytes
    /// (1 MiB to 1 GiB); only sealed segments are compacted.
    #[arg(long, env = "CAIRN_SEGMENT_BYTES")]
    pub segment_bytes: Option<u64>,
    /// Seconds between segment compaction passes over this node's disks.
    #[arg(long, env = "CAIRN_COMPACT_INTERVAL_SECS")]
    pub compact_interval_secs: Option<u64>,
    /// Memory for the metadata store's page cache, in MiB (at least 16).
    #[arg(long, env = "CAIRN_META_CACHE_MIB")]
    pub meta_cache_mib: Option<u64>,
    /// File holding the master key (32 bytes as hex or base64) that SSE-S3's keys are
    /// derived from: the same on every node, kept outside the data directory, backed up
    /// apart from the data (without it, SSE-S3 objects cannot be read).
    #[arg(long, env = "CAIRN_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// The master key itself (hex or base64), instead of master_key_file.
    #[arg(long, env = "CAIRN_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// Accept SSE-C keys over plain HTTP from clients that are not on loopback (the key
    /// then crosses the network in the clear).
    #[arg(long, env = "CAIRN_SSE_C_PLAIN_HTTP", num_args = 0..=1, default_missing_value = "true")]
    pub sse_c_plain_http: Option<bool>,
    /// An audit file is closed and the next started past this many MiB.
    #[arg(long, env = "CAIRN_AUDIT_MAX_FILE_MIB")]
    pub audit_max_file_mib: Option<u64>,
    /// Closed audit files kept (the oldest are removed past this many).
    #[arg(long, env = "CAIRN_AUDIT_KEEP_FILES")]
    pub audit_keep_files: Option<usize>,
    /// Also send audit records to this URL (http://), POSTed as JSON Lines in batches.
    #[arg(long, env = "CAIRN_AUDIT_WEBHOOK")]
    pub audit_webhook: Option<String>,
    /// Records per webhook POST, at most.
    #[arg(long, env = "CAIRN_AUDIT_WEBHOOK_BATCH")]
    pub audit_webhook_batch: Option<usize>,
    /// A bucket notification target, `NAME=http://host:port/path` (repeat for more;
    /// the same on every node): rules name it by an ARN ending in `:NAME`.
    #[arg(long, env = "CAIRN_NOTIFY_TARGETS", value_delimiter = ',')]
    pub notify_target: Vec<String>,
    /// Puts a disk in a named pool, `POOL=PATH` (PATH one of the disks; repeat for
    /// more). Disks no entry names are in pool `default`, STANDARD's pool.
    #[arg(long, env = "CAIRN_DISK_POOLS", value_delimiter = ',')]
    pub disk_pool: Vec<String>,
    /// A storage class, `NAME=K+M@POOL` such as `COLD=4+2@capacity` (repeat for more;
    /// the same on every node). STANDARD is always the layout's code on pool `default`.
    #[arg(long, env = "CAIRN_STORAGE_CLASSES", value_delimiter = ',')]
    pub storage_class: Vec<String>,
    /// Log format: text or json.
    #[arg(long, env = "CAIRN_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Print the effective configuration (secrets masked) and exit.
    #[arg(long)]
    pub print_config: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data: Option<PathBuf>,
    disk: Option<Vec<PathBuf>>,
    s3_listen: Option<SocketAddr>,
    data_shards: Option<u8>,
    parity_shards: Option<u8>,
    region: Option<String>,
    domain: Option<Vec<String>>,
    multipart_expiry_secs: Option<u64>,
    usage_sample_secs: Option<u64>,
    lifecycle_day_secs: Option<u64>,
    access_flush_secs: Option<u64>,
    metrics_tenant_depth: Option<usize>,
    max_requests: Option<usize>,
    body_timeout_secs: Option<u64>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    node_listen: Option<SocketAddr>,
    node_advertise: Option<String>,
    peers: Option<Vec<String>>,
    cluster_secret: Option<String>,
    scrub_rate_mib: Option<u64>,
    scrub_interval_secs: Option<u64>,
    rebalance_rate_mib: Option<u64>,
    orphan_grace_secs: Option<u64>,
    inline_max: Option<usize>,
    segment_max_shard: Option<u64>,
    segment_bytes: Option<u64>,
    compact_interval_secs: Option<u64>,
    meta_cache_mib: Option<u64>,
    raft_snapshot_every: Option<u64>,
    master_key_file: Option<PathBuf>,
    master_key: Option<String>,
    sse_c_plain_http: Option<bool>,
    audit_max_file_mib: Option<u64>,
    audit_keep_files: Option<usize>,
    audit_webhook: Option<String>,
    audit_webhook_batch: Option<usize>,
    notify_targets: Option<Vec<String>>,
    disk_pools: Option<Vec<String>>,
    storage_classes: Option<Vec<String>>,
    log_format: Option<LogFormat>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Config {
    pub data: PathBuf,
    /// `disk` in the file, as the flag (printed under the file's name so that
    /// `--print-config` output is a valid config file).
    #[serde(rename = "disk")]
    pub disks: Vec<PathBuf>,
    pub s3_listen: SocketAddr,
    pub data_shards: u8,
    pub parity_shards: u8,
    pub region: String,
    #[serde(rename = "domain")]
    pub domains: Vec<String>,
    pub multipart_expiry_secs: u64,
    pub usage_sample_secs: u64,
    pub lifecycle_day_secs: u64,
    pub access_flush_secs: u64,
    pub metrics_tenant_depth: usize,
    pub max_requests: usize,
    pub body_timeout_secs: u64,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// None: not set anywhere, [`DEFAULT_NODE_LISTEN`] is used, and only needed once
    /// the node is part of a cluster (see [`Config::internode_configured`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_listen: Option<SocketAddr>,
    pub node_advertise: Option<String>,
    pub peers: Vec<String>,
    #[serde(serialize_with = "mask_secret")]
    pub cluster_secret: Option<String>,
    pub scrub_rate_mib: u64,
    pub scrub_interval_secs: u64,
    pub rebalance_rate_mib: u64,
    pub orphan_grace_secs: u64,
    pub inline_max: usize,
    pub segment_max_shard: u64,
    pub segment_bytes: u64,
    pub compact_interval_secs: u64,
    pub meta_cache_mib: u64,
    pub raft_snapshot_every: u64,
    pub master_key_file: Option<PathBuf>,
    #[serde(serialize_with = "mask_secret")]
    pub master_key: Option<String>,
    pub sse_c_plain_http: bool,
    pub audit_max_file_mib: u64,
    pub audit_keep_files: usize,
    pub audit_webhook: Option<String>,
    pub audit_webhook_batch: usize,
    /// Bucket notification targets: name to URL (printed as the file takes them).
    #[serde(serialize_with = "targets_as_list")]
    pub notify_targets: std::collections::BTreeMap<String, String>,
    /// `POOL=PATH` entries: disks in pools other than `default`.
    pub disk_pools: Vec<String>,
    /// `NAME=K+M@POOL` storage classes besides STANDARD.
    pub storage_classes: Vec<String>,
    pub log_format: LogFormat,
}

/// `NAME=http://...` pairs: names of letters, digits, `-` and `_`, URLs over http://.
impl Config {
    /// `disk_pools` as (disk index, pool).
    fn pool_entries(&self) -> anyhow::Result<Vec<(usize, String)>> {
        let mut out: Vec<(usize, String)> = Vec::new();
        for e in &self.disk_pools {
            let Some((pool, path)) = e.split_once('=') else {
                bail!("disk pool {e:?}: expected POOL=PATH, PATH one of the disks");
            };
            if !cairn_raft::tiers::valid_pool(pool) {
                bail!("disk pool {e:?}: a pool's name is 1 to 32 of a-z, 0-9, '-' and '_'");
            }
            let Some(i) = self.disks.iter().position(|d| d == Path::new(path)) else {
                bail!("disk pool {e:?}: {path} is not one of this node's disks");
            };
            if out.iter().any(|(j, _)| *j == i) {
                bail!("disk pool {e:?}: {path} is given a pool twice");
            }
            out.push((i, pool.to_string()));
        }
        Ok(out)
    }

    /// The pool of each disk, in disk order.
    pub fn pools(&self) -> Vec<String> {
        let mut pools = vec![cairn_raft::tiers::DEFAULT_POOL.to_string(); self.disks.len()];
        for (i, pool) in self.pool_entries().unwrap_or_default() {
            pools[i] = pool;
        }
        pools
    }

    /// The storage classes this node's configuration names (checked at load).
    pub fn classes(&self) -> Vec<cairn_raft::tiers::StorageClass> {
        self.storage_classes.iter().filter_map(|c| cairn_raft::tiers::StorageClass::parse(c).ok()).collect()
    }
}

/// A list setting: the flag's (or env's) entries, else the file's.
fn given(flag: &[String], file: Option<Vec<String>>) -> Vec<String> {
    let list = if flag.is_empty() { file.unwrap_or_default() } else { flag.to_vec() };
    list.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

fn parse_targets(given: &[String]) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for t in given.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let Some((name, url)) = t.split_once('=') else {
            bail!("notify target {t:?}: expected NAME=http://host:port/path");
        };
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            bail!("notify target {t:?}: the name is 1 to 64 letters, digits, '-' or '_'");
        }
        if !url.starts_with("http://") {
            bail!("notify target {t:?}: only http:// URLs are supported");
        }
        if out.insert(name.to_string(), url.to_string()).is_some() {
            bail!("notify target {name} is given twice");
        }
    }
    Ok(out)
}

/// What `--print-config` shows in place of a secret.
pub const SECRET_MASK: &str = "********";

/// Targets as the config file lists them: `["NAME=URL", ...]`.
fn targets_as_list<S: serde::Serializer>(
    v: &std::collections::BTreeMap<String, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|(name, url)| format!("{name}={url}")))
}

fn mask_secret<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str(SECRET_MASK),
        None => s.serialize_none(),
    }
}

impl Config {
    /// The configuration as a TOML config file (secrets masked): what `--print-config`
    /// prints. Read back with `--config`, it gives the same configuration (a masked
    /// secret has to be put back, or given by flag or env).
    pub fn to_toml(&self) -> anyhow::Result<String> {
        let mut text = toml::to_string_pretty(self).context("printing the configuration as TOML")?;
        if self.node_listen.is_none() {
            // Unset is not the same as set to the default: say so without setting it.
            text.push_str(&format!(
                "# node_listen is not set: internode listens on {DEFAULT_NODE_LISTEN} when that port is free, \
                 and a node outside any cluster runs without it when not.\n\
                 # node_listen = \"{DEFAULT_NODE_LISTEN}\"\n"
            ));
        }
        Ok(text)
    }

    /// The master key, from master_key_file or master_key; `None` when neither is set.
    pub fn load_master_key(&self) -> anyhow::Result<Option<cairn_object::sse::MasterKey>> {
        let (text, from) = match (&self.master_key, &self.master_key_file) {
            (Some(k), _) => (k.clone(), "master_key".to_string()),
            (None, Some(f)) => (
                std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
                f.display().to_string(),
            ),
            (None, None) => return Ok(None),
        };
        match cairn_object::sse::MasterKey::parse(&text) {
            Some(k) => Ok(Some(k)),
            None => bail!("{from} is not a master key: 32 bytes, as 64 hex digits or as base64"),
        }
    }

    /// The address the internode endpoint listens on.
    pub fn node_listen_addr(&self) -> SocketAddr {
        self.node_listen.unwrap_or(DEFAULT_NODE_LISTEN)
    }

    /// Whether the internode endpoint was asked for (node_listen, node_advertise or
    /// peers set): then failing to bind it stops the node. Unasked, only a node that is
    /// part of a cluster needs it.
    pub fn internode_configured(&self) -> bool {
        self.node_listen.is_some() || self.node_advertise.is_some() || !self.peers.is_empty()
    }

    /// The internode address this node is reached at.
    pub fn advertise_addr(&self) -> String {
        self.node_advertise.clone().unwrap_or_else(|| self.node_listen_addr().to_string())
    }
}

pub const DEFAULT_DISKS: usize = 4;
pub const DEFAULT_NODE_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9001));
pub const DEFAULT_MAX_REQUESTS: usize = 1024;
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 60;
pub const DEFAULT_MULTIPART_EXPIRY_SECS: u64 = 7 * 24 * 3600;
pub const DEFAULT_SCRUB_RATE_MIB: u64 = 64;
pub const DEFAULT_SCRUB_INTERVAL_SECS: u64 = 7 * 24 * 3600;
pub const DEFAULT_ORPHAN_GRACE_SECS: u64 = 3600;
pub const DEFAULT_REBALANCE_RATE_MIB: u64 = 64;
/// Objects up to this size are stored in their metadata record (chosen by
/// measurement: see [`cairn_object::DEFAULT_INLINE_MAX`]).
pub const DEFAULT_INLINE_MAX: usize = cairn_object::DEFAULT_INLINE_MAX;
/// The largest inline threshold allowed: every inline byte travels through the Raft
/// log and snapshots.
pub const MAX_INLINE_MAX: usize = 64 << 10;
/// A shard bound for a segment is held in memory until commit: this bounds that memory.
pub const MAX_SEGMENT_MAX_SHARD: u64 = 16 << 20;
/// The smallest segment file size: below it, sealing (a hint file and two syncs) would cost
/// more than the shards it packs save.
pub const MIN_SEGMENT_BYTES: u64 = 1 << 20;
/// Seconds between compaction passes: sealed segments pile up slowly (256 MiB each by
/// default), so a pass every half minute keeps space amplification near its bound.
pub const DEFAULT_COMPACT_INTERVAL_SECS: u64 = 30;

impl Config {
    pub fn load(flags: &Flags) -> anyhow::Result<Config> {
        let file = match &flags.config {
            Some(p) => read_file(p)?,
            None if Path::new(SYSTEM_CONFIG).exists() => read_file(Path::new(SYSTEM_CONFIG))?,
            None => FileConfig::default(),
        };
        let data = flags.data.clone().or(file.data).unwrap_or_else(|| PathBuf::from("./cairn-data"));
        let disks = if !flags.disk.is_empty() {
            flags.disk.clone()
        } else if let Some(d) = file.disk.filter(|d| !d.is_empty()) {
            d
        } else {
            (1..=DEFAULT_DISKS).map(|i| data.join("disks").join(format!("disk{i}"))).collect()
        };
        let cfg = Config {
            data,
            disks,
            s3_listen: flags.s3_listen.or(file.s3_listen).unwrap_or_else(|| "127.0.0.1:9000".parse().unwrap()),
            data_shards: flags.data_shards.or(file.data_shards).unwrap_or(2),
            parity_shards: flags.parity_shards.or(file.parity_shards).unwrap_or(2),
            region: flags.region.clone().or(file.region).unwrap_or_else(|| "us-east-1".into()),
            domains: if !flags.domain.is_empty() {
                flags.domain.clone()
            } else {
                file.domain.unwrap_or_else(|| vec!["localhost".into()])
            },
            multipart_expiry_secs: flags
                .multipart_expiry_secs
                .or(file.multipart_expiry_secs)
                .unwrap_or(DEFAULT_MULTIPART_EXPIRY_SECS),
            usage_sample_secs: flags.usage_sample_secs.or(file.usage_sample_secs).unwrap_or(3600),
            lifecycle_day_secs: flags.lifecycle_day_secs.or(file.lifecycle_day_secs).unwrap_or(86_400),
            access_flush_secs: flags.access_flush_secs.or(file.access_flush_secs).unwrap_or(60),
            metrics_tenant_depth: flags.metrics_tenant_depth.or(file.metrics_tenant_depth).unwrap_or(1),
            max_requests: flags.max_requests.or(file.max_requests).unwrap_or(DEFAULT_MAX_REQUESTS),
            body_timeout_secs: flags.body_timeout_secs.or(file.body_timeout_secs).unwrap_or(DEFAULT_BODY_TIMEOUT_SECS),
            tls_cert: flags.tls_cert.clone().or(file.tls_cert),
            tls_key: flags.tls_key.clone().or(file.tls_key),
            node_listen: flags.node_listen.or(file.node_listen),
            node_advertise: flags.node_advertise.clone().or(file.node_advertise),
            peers: if !flags.peers.is_empty() { flags.peers.clone() } else { file.peers.unwrap_or_default() },
            cluster_secret: flags.cluster_secret.clone().or(file.cluster_secret).filter(|s| !s.is_empty()),
            scrub_rate_mib: flags.scrub_rate_mib.or(file.scrub_rate_mib).unwrap_or(DEFAULT_SCRUB_RATE_MIB),
            scrub_interval_secs: flags
                .scrub_interval_secs
                .or(file.scrub_interval_secs)
                .unwrap_or(DEFAULT_SCRUB_INTERVAL_SECS),
            rebalance_rate_mib: flags
                .rebalance_rate_mib
                .or(file.rebalance_rate_mib)
                .unwrap_or(DEFAULT_REBALANCE_RATE_MIB),
            orphan_grace_secs: flags.orphan_grace_secs.or(file.orphan_grace_secs).unwrap_or(DEFAULT_ORPHAN_GRACE_SECS),
            inline_max: flags.inline_max.or(file.inline_max).unwrap_or(DEFAULT_INLINE_MAX),
            segment_max_shard: flags
                .segment_max_shard
                .or(file.segment_max_shard)
                .unwrap_or(cairn_erasure::segment::DEFAULT_MAX_SHARD),
            segment_bytes: flags
                .segment_bytes
                .or(file.segment_bytes)
                .unwrap_or(cairn_erasure::segment::DEFAULT_SEGMENT_BYTES),
            compact_interval_secs: flags
                .compact_interval_secs
                .or(file.compact_interval_secs)
                .unwrap_or(DEFAULT_COMPACT_INTERVAL_SECS),
            meta_cache_mib: flags.meta_cache_mib.or(file.meta_cache_mib).unwrap_or(cairn_raft::DEFAULT_META_CACHE_MIB),
            raft_snapshot_every: flags
                .raft_snapshot_every
                .or(file.raft_snapshot_every)
                .unwrap_or(cairn_raft::DEFAULT_SNAPSHOT_EVERY),
            master_key_file: flags.master_key_file.clone().or(file.master_key_file),
            master_key: flags.master_key.clone().or(file.master_key).filter(|s| !s.is_empty()),
            sse_c_plain_http: flags.sse_c_plain_http.or(file.sse_c_plain_http).unwrap_or(false),
            audit_max_file_mib: flags.audit_max_file_mib.or(file.audit_max_file_mib).unwrap_or(64),
            audit_keep_files: flags.audit_keep_files.or(file.audit_keep_files).unwrap_or(16),
            audit_webhook: flags.audit_webhook.clone().or(file.audit_webhook).filter(|s| !s.is_empty()),
            audit_webhook_batch: flags.audit_webhook_batch.or(file.audit_webhook_batch).unwrap_or(500),
            notify_targets: parse_targets(if flags.notify_target.is_empty() {
                file.notify_targets.as_deref().unwrap_or_default()
            } else {
                &flags.notify_target
            })?,
            disk_pools: given(&flags.disk_pool, file.disk_pools),
            storage_classes: given(&flags.storage_class, file.storage_classes),
            log_format: flags.log_format.or(file.log_format).unwrap_or(LogFormat::Text),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.cluster_secret.as_deref() == Some(SECRET_MASK) {
            bail!(
                "cluster_secret is \"{SECRET_MASK}\", the mask --print-config shows instead of the secret: \
                 put the real secret in the config file, or give it with --cluster-secret or CAIRN_CLUSTER_SECRET"
            );
        }
        if self.master_key.as_deref() == Some(SECRET_MASK) {
            bail!(
                "master_key is \"{SECRET_MASK}\", the mask --print-config shows: give the real key, or use master_key_file"
            );
        }
        if self.master_key.is_some() && self.master_key_file.is_some() {
            bail!("master_key and master_key_file are two ways to give the same key: set one");
        }
        if let Some(file) = &self.master_key_file {
            let file = file.canonicalize().with_context(|| format!("master_key_file {}", file.display()))?;
            for dir in std::iter::once(&self.data).chain(&self.disks) {
                if dir.canonicalize().is_ok_and(|d| file.starts_with(d)) {
                    bail!(
                        "master_key_file {} is inside {}: keep the master key apart from the data it protects",
                        file.display(),
                        dir.display()
                    );
                }
            }
        }
        if self.audit_max_file_mib == 0 || self.audit_keep_files == 0 || self.audit_webhook_batch == 0 {
            bail!("audit_max_file_mib, audit_keep_files and audit_webhook_batch must be at least 1");
        }
        if let Some(url) = &self.audit_webhook
            && !url.starts_with("http://")
        {
            bail!(
                "audit_webhook {url:?}: only http:// URLs are supported (send to a collector on this machine or a private network)"
            );
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            bail!("tls_cert and tls_key go together: set both or neither");
        }
        if self.body_timeout_secs == 0 {
            bail!("body_timeout_secs must be at least 1");
        }
        if self.max_requests == 0 {
            bail!("max_requests must be at least 1");
        }
        if self.raft_snapshot_every < 10 {
            bail!("raft_snapshot_every must be at least 10");
        }
        if self.multipart_expiry_secs == 0 {
            bail!("multipart_expiry_secs must be at least 1");
        }
        if self.meta_cache_mib < 16 {
            bail!("meta_cache_mib must be at least 16");
        }
        if self.inline_max > MAX_INLINE_MAX {
            bail!("inline_max is at most {MAX_INLINE_MAX} bytes");
        }
        if self.segment_max_shard > MAX_SEGMENT_MAX_SHARD {
            bail!("segment_max_shard is at most {MAX_SEGMENT_MAX_SHARD} bytes");
        }
        if !(MIN_SEGMENT_BYTES..=cairn_erasure::segment::MAX_SEGMENT_BYTES).contains(&self.segment_bytes) {
            bail!(
                "segment_bytes must be from {MIN_SEGMENT_BYTES} to {} bytes",
                cairn_erasure::segment::MAX_SEGMENT_BYTES
            );
        }
        if self.compact_interval_secs == 0 {
            bail!("compact_interval_secs must be at least 1");
        }
        if self.usage_sample_secs == 0 {
            bail!("usage_sample_secs must be at least 1");
        }
        if self.lifecycle_day_secs == 0 {
            bail!("lifecycle_day_secs must be at least 1");
        }
        if self.access_flush_secs == 0 {
            bail!("access_flush_secs must be at least 1");
        }
        if !(1..=cairn_raft::schema::MAX_TENANT_DEPTH).contains(&self.metrics_tenant_depth) {
            bail!("metrics_tenant_depth must be from 1 to {}", cairn_raft::schema::MAX_TENANT_DEPTH);
        }
        if self.data_shards == 0 {
            bail!("data_shards must be at least 1");
        }
        let width = usize::from(self.data_shards) + usize::from(self.parity_shards);
        if width > self.disks.len() {
            bail!(
                "data_shards + parity_shards = {width} but only {} disk directories are configured (disk)",
                self.disks.len()
            );
        }
        if width > 255 {
            bail!("data_shards + parity_shards must be at most 255");
        }
        self.pool_entries()?;
        for c in &self.storage_classes {
            cairn_raft::tiers::StorageClass::parse(c).map_err(anyhow::Error::msg)?;
        }
        if !self.peers.is_empty() {
            if self.cluster_secret.as_ref().is_none_or(|s| s.len() < 16) {
                bail!("peers needs cluster_secret (at least 16 characters), the same on every node");
            }
            let me = self.advertise_addr();
            if !self.peers.contains(&me) {
                bail!("peers must list this node's own internode address {me} (node_listen or node_advertise)");
            }
            if self.peers.len() > 64 {
                bail!("peers lists {} nodes; at most 64 are supported", self.peers.len());
            }
        }
        let mut seen = std::collections::HashSet::new();
        for d in &self.disks {
            if !seen.insert(d) {
                bail!("disk {} is listed twice", d.display());
            }
        }
        Ok(())
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Flags {
        Flags::try_parse_from(std::iter::once("cairnd").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn defaults() {
        let c = Config::load(&flags(&["--config", "/dev/null"])).unwrap();
        assert_eq!(c.data, PathBuf::from("./cairn-data"));
        assert_eq!(c.disks.len(), 4);
        assert_eq!(c.s3_listen.to_string(), "127.0.0.1:9000");
        assert_eq!((c.data_shards, c.parity_shards), (2, 2));
        assert_eq!(c.node_listen, None);
        assert_eq!(c.node_listen_addr().to_string(), "127.0.0.1:9001");
        assert!(!c.internode_configured());
    }

    #[test]
    fn flag_beats_file() {
        let dir = tempfile_dir();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "data = \"/x\"\ns3_listen = \"127.0.0.1:1234\"\ndata_shards = 1\nparity_shards = 1\n")
            .unwrap();
        let c = Config::load(&flags(&["--config", p.to_str().unwrap(), "--s3-listen", "127.0.0.1:5"])).unwrap();
        assert_eq!(c.data, PathBuf::from("/x"));
        assert_eq!(c.s3_listen.to_string(), "127.0.0.1:5");
        assert_eq!((c.data_shards, c.parity_shards), (1, 1));
    }

    #[test]
    fn unknown_key_is_an_error() {
        let dir = tempfile_dir();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "datta = \"/x\"\n").unwrap();
        let err = Config::load(&flags(&["--config", p.to_str().unwrap()])).unwrap_err();
        assert!(format!("{err:#}").contains("datta"), "{err:#}");
    }

    #[test]
    fn master_key_is_kept_apart_from_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let key = "ab".repeat(32);
        let inside = data.join("master.key");
        std::fs::write(&inside, &key).unwrap();
        let d = data.to_str().unwrap();
        let err = Config::load(&flags(&[
            "--config",
            "/dev/null",
            "--data",
            d,
            "--master-key-file",
            inside.to_str().unwrap(),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("inside"), "{err}");
        let outside = dir.path().join("master.key");
        std::fs::write(&outside, format!("{key}\n")).unwrap();
        let c = Config::load(&flags(&[
            "--config",
            "/dev/null",
            "--data",
            d,
            "--master-key-file",
            outside.to_str().unwrap(),
        ]))
        .unwrap();
        assert!(c.load_master_key().unwrap().is_some());
        let both = ["--config", "/dev/null", "--master-key", &key, "--master-key-file", outside.to_str().unwrap()];
        assert!(Config::load(&flags(&both)).is_err(), "a key given twice");
        let c = Config::load(&flags(&["--config", "/dev/null", "--master-key", "not-a-key"])).unwrap();
        assert!(c.load_master_key().unwrap_err().to_string().contains("not a master key"));
        let c = Config::load(&flags(&["--config", "/dev/null", "--master-key", &key])).unwrap();
        assert!(c.to_toml().unwrap().contains(&format!("master_key = \"{SECRET_MASK}\"")), "the key is masked");
    }

    #[test]
    fn inline_max_is_bounded() {
        let c = Config::load(&flags(&["--config", "/dev/null", "--inline-max", "65536"])).unwrap();
        assert_eq!(c.inline_max, 65536);
        let err = Config::load(&flags(&["--config", "/dev/null", "--inline-max", "65537"])).unwrap_err();
        assert!(err.to_string().contains("inline_max"), "{err}");
    }

    #[test]
    fn segment_max_shard_is_bounded() {
        let c = Config::load(&flags(&["--config", "/dev/null"])).unwrap();
        assert_eq!(c.segment_max_shard, cairn_erasure::segment::DEFAULT_MAX_SHARD);
        let c = Config::load(&flags(&["--config", "/dev/null", "--segment-max-shard", "0"])).unwrap();
        assert_eq!(c.segment_max_shard, 0, "0 turns segments off");
        let err = Config::load(&flags(&["--config", "/dev/null", "--segment-max-shard", "16777217"])).unwrap_err();
        assert!(err.to_string().contains("segment_max_shard"), "{err}");
    }

    #[test]
    fn segment_size_and_compaction_interval_are_bounded() {
        let c = Config::load(&flags(&["--config", "/dev/null"])).unwrap();
        assert_eq!((c.segment_bytes, c.compact_interval_secs), (256 << 20, DEFAULT_COMPACT_INTERVAL_SECS));
        let c = Config::load(&flags(&[
            "--config",
            "/dev/null",
            "--segment-bytes",
            "1048576",
            "--compact-interval-secs",
            "1",
        ]))
        .unwrap();
        assert_eq!((c.segment_bytes, c.compact_interval_secs), (1 << 20, 1));
        for bad in ["1048575", "1073741825"] {
            let err = Config::load(&flags(&["--config", "/dev/null", "--segment-bytes", bad])).unwrap_err();
            assert!(err.to_string().contains("segment_bytes must be from 1048576"), "{bad}: {err}");
        }
        let err = Config::load(&flags(&["--config", "/dev/null", "--compact-interval-secs", "0"])).unwrap_err();
        assert!(err.to_string().contains("compact_interval_secs"), "{err}");
    }

    #[test]
    fn pools_name_this_nodes_disks_and_classes_parse() {
        let base = ["--config", "/dev/null", "--disk", "/a", "--disk", "/b", "--disk", "/c", "--disk", "/d"];
        let load = |extra: &[&str]| Config::load(&flags(&[&base[..], extra].concat()));
        for (extra, says) in [
            (&["--disk-pool", "cap=/elsewhere"][..], "not one of this node's disks"),
            (&["--disk-pool", "cap=/a", "--disk-pool", "hdd=/a"][..], "twice"),
            (&["--disk-pool", "Cap=/a"][..], "pool's name"),
            (&["--disk-pool", "/a"][..], "POOL=PATH"),
            (&["--storage-class", "COLD=4+2"][..], "NAME=K+M@POOL"),
            (&["--storage-class", "cold=4+2@cap"][..], "storage class name"),
        ] {
            let err = load(extra).unwrap_err().to_string();
            assert!(err.contains(says), "{extra:?}: {err}");
        }
        let c = load(&["--disk-pool", "cap=/c", "--disk-pool", "cap=/a"]).unwrap();
        assert_eq!(c.pools(), ["cap", "default", "cap", "default"]);
    }

    #[test]
    fn too_few_disks() {
        let err =
            Config::load(&flags(&["--config", "/dev/null", "--disk", "/a", "--disk", "/b", "--data-shards", "2"]))
                .unwrap_err();
        assert!(err.to_string().contains("disk"), "{err}");
    }

    #[test]
    fn the_example_config_is_valid_and_complete() {
        let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/cairn.example.toml");
        let c = Config::load(&flags(&["--config", example])).unwrap();
        assert_eq!(c.data, PathBuf::from("/var/lib/cairn"));
        assert_eq!(c.s3_listen.to_string(), "127.0.0.1:9000");
        assert_eq!((c.multipart_expiry_secs, c.max_requests, c.body_timeout_secs), (604800, 1024, 60));
        // Every key the file format knows appears in the example (set or commented out).
        let text = std::fs::read_to_string(example).unwrap();
        let effective = toml::to_string(&c).unwrap();
        for key in effective.lines().filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim())) {
            assert!(text.contains(&format!("{key} = ")), "the example config does not mention {key}");
        }
    }

    #[test]
    fn printed_config_reads_back_the_same() {
        let dir = tempfile_dir();
        let p = dir.path().join("printed.toml");
        let args: Vec<&str> = "--config /dev/null --data /srv/cairn --disk /d1 --disk /d2 --disk /d3 \
             --domain s3.example.com --domain example.org --data-shards 2 --parity-shards 1 --log-format json \
             --notify-target a=http://127.0.0.1:9/x --lifecycle-day-secs 5 \
             --disk /d4 --disk-pool capacity=/d4 --storage-class COLD=1+0@capacity"
            .split_whitespace()
            .collect();
        let printed = Config::load(&flags(&args)).unwrap().to_toml().unwrap();
        std::fs::write(&p, &printed).unwrap();
        let again = Config::load(&flags(&["--config", p.to_str().unwrap()])).unwrap();
        assert_eq!(again.to_toml().unwrap(), printed);
        assert_eq!(again.disks.len(), 4);
        assert_eq!(again.pools(), ["default", "default", "default", "capacity"]);
        assert_eq!(again.classes().iter().map(|c| c.describe()).collect::<Vec<_>>(), ["COLD=1+0@capacity"]);
        assert_eq!(again.domains, ["s3.example.com", "example.org"]);
        assert_eq!(again.node_listen, None, "an unset node_listen stays unset:\n{printed}");

        let printed = Config::load(&flags(&["--config", "/dev/null", "--node-listen", "127.0.0.1:9001"]))
            .unwrap()
            .to_toml()
            .unwrap();
        std::fs::write(&p, &printed).unwrap();
        let again = Config::load(&flags(&["--config", p.to_str().unwrap()])).unwrap();
        assert_eq!(again.node_listen, Some(DEFAULT_NODE_LISTEN), "a node_listen set stays set:\n{printed}");
        assert!(again.internode_configured());
    }

    #[test]
    fn a_masked_secret_is_refused_unless_the_real_one_is_given() {
        let dir = tempfile_dir();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, format!("cluster_secret = \"{SECRET_MASK}\"\n")).unwrap();
        let err = Config::load(&flags(&["--config", p.to_str().unwrap()])).unwrap_err();
        assert!(err.to_string().contains("cluster_secret") && err.to_string().contains("--print-config"), "{err}");
        let c =
            Config::load(&flags(&["--config", p.to_str().unwrap(), "--cluster-secret", "a-real-secret-0123"])).unwrap();
        assert_eq!(c.cluster_secret.as_deref(), Some("a-real-secret-0123"));
    }

    /// A directory removed when the test ends.
    fn tempfile_dir() -> tempfile::TempDir {
        tempfile::Builder::new().prefix("cairn-cfg-").tempdir().unwrap()
    }
}
