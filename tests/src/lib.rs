//! End-to-end test harness for Cairn.
//!
//! Everything here drives real parts: a real `cairnd` process listening on
//! 127.0.0.1 with its data in a real temporary directory, the real
//! `aws-sdk-s3` client over plain HTTP, and `reqwest` for raw requests
//! (unsigned, badly signed, virtual-host style).
//!
//! The binary is found at `$CAIRND_BIN`, else next to the test executable's
//! profile dir (`<target>/debug/cairnd`). Build it first with
//! `cargo build -p cairn-node --bin cairnd`.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_s3::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RequestChecksumCalculation, RuntimeComponents,
    StalledStreamProtectionConfig,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use base64::Engine;
use md5::Digest as _;
use rand::{RngCore, SeedableRng};

pub use aws_sdk_s3;
pub use reqwest;

/// Root credentials given to every test node.
pub const ROOT_ACCESS_KEY: &str = "cairnadmin";
pub const ROOT_SECRET_KEY: &str = "cairnadmin-secret-key";
pub const REGION: &str = "us-east-1";

/// How long `cairnd` may take to print its endpoint.
const START_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Node process
// ---------------------------------------------------------------------------

pub mod browser;
pub mod cluster;
pub mod live;
pub mod review;
pub mod stored;
pub use stored::{find_shard, stored_shards, stored_shards_all, StoredShard};

/// Path of the `cairnd` binary under test.
pub fn cairnd_bin() -> PathBuf {
    workspace_bin("cairnd", "CAIRND_BIN", "cargo build -p cairn-node --bin cairnd")
}

/// Path of the `cairn` command-line client.
pub fn cairn_bin() -> PathBuf {
    workspace_bin("cairn", "CAIRN_BIN", "cargo build -p cairn-cli --bin cairn")
}

/// A workspace binary: `$env` if set, else next to the test executable's
/// profile dir (current_exe = <target>/<profile>/deps/<test>-<hash>).
fn workspace_bin(name: &str, env: &str, build: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "{env}={} does not exist", p.display());
        return p;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("test executable has no profile dir");
    let bin = profile_dir.join(name);
    assert!(bin.is_file(), "{name} binary not found at {}: run `{build}` first (or set {env})", bin.display());
    bin
}

/// A running `cairnd` on a temporary data directory. Killed (SIGKILL) on drop.
pub struct TestNode {
    child: Option<Child>,
    endpoint: String,
    port: u16,
    args: Vec<String>,
    log_path: PathBuf,
    data: PathBuf,
    /// Parent of `data`; owns everything the node writes.
    root: tempfile::TempDir,
    restarts: u32,
}

impl TestNode {
    /// Start a node with default settings (4 disk dirs under `<data>/disks`, 2+2).
    pub fn start() -> TestNode {
        Self::start_with(&[])
    }

    /// Start a node with extra command-line arguments.
    pub fn start_with(extra_args: &[&str]) -> TestNode {
        Self::start_prepared(extra_args, |_| {})
    }

    /// Start a node on a data directory that `prepare` fills first (it is given the
    /// directory's parent; the data directory is `<parent>/data`).
    pub fn start_prepared(extra_args: &[&str], prepare: impl FnOnce(&Path)) -> TestNode {
        let root = tempfile::Builder::new().prefix("cairn-e2e-").tempdir().expect("tempdir");
        let data = root.path().join("data");
        prepare(root.path());
        std::fs::create_dir_all(&data).expect("create data dir");
        let log_path = root.path().join("cairnd.log");
        let mut node = TestNode {
            child: None,
            endpoint: String::new(),
            port: 0,
            args: extra_args.iter().map(|s| s.to_string()).collect(),
            log_path,
            data,
            root,
            restarts: 0,
        };
        node.spawn();
        node
    }

    fn spawn(&mut self) {
        let bin = cairnd_bin();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log_path).expect("open log file");
        let mut cmd = Command::new(&bin);
        cmd.arg("--data").arg(&self.data);
        if !self.args.iter().any(|a| a == "--s3-listen") {
            cmd.arg("--s3-listen").arg("127.0.0.1:0");
        }
        // Parallel tests must not fight over the default internode port.
        if !self.args.iter().any(|a| a == "--node-listen") {
            cmd.arg("--node-listen").arg("127.0.0.1:0");
        }
        cmd.args(&self.args);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().to_string();
            if k.starts_with("AWS_") || k.starts_with("CAIRN_") {
                cmd.env_remove(&k);
            }
        }
        cmd.env("CAIRN_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY)
            .env("CAIRN_ROOT_SECRET_KEY", ROOT_SECRET_KEY)
            .env("RUST_BACKTRACE", "1")
            .current_dir(self.root.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        // Make sure no node outlives a test process that dies abruptly.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let mut sent = false;
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if !sent {
                            if let Some(rest) = line.trim_end().strip_prefix("  S3 endpoint:") {
                                let _ = tx.send(rest.trim().to_string());
                                sent = true;
                            }
                        }
                    }
                }
            }
            // Drain anything left so the pipe never fills.
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let endpoint = loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(ep) => break ep,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!("cairnd exited before it was ready ({status}); log:\n{}", self.log_tail(60));
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        panic!(
                            "cairnd did not print its S3 endpoint within {START_TIMEOUT:?}; log:\n{}",
                            self.log_tail(60)
                        );
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().ok();
                    panic!("cairnd closed stdout before it was ready ({status:?}); log:\n{}", self.log_tail(60));
                }
            }
        };
        let port = endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse::<u16>().ok())
            .unwrap_or_else(|| panic!("cannot parse port from endpoint {endpoint:?}"));
        self.endpoint = endpoint.trim_end_matches('/').to_string();
        self.port = port;
        self.child = Some(child);
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn access_key(&self) -> &str {
        ROOT_ACCESS_KEY
    }
    pub fn secret_key(&self) -> &str {
        ROOT_SECRET_KEY
    }
    pub fn data_dir(&self) -> &Path {
        &self.data
    }
    /// The temp dir holding `data` (and the log file); nothing else should appear here.
    pub fn root_dir(&self) -> &Path {
        self.root.path()
    }
    /// The default disk directories: `<data>/disks/disk1..disk4`.
    pub fn disk_dirs(&self) -> Vec<PathBuf> {
        (1..=4).map(|i| self.data.join("disks").join(format!("disk{i}"))).collect()
    }
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("node not running").id()
    }

    /// Last `n` lines of the node's stderr log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Peak resident set size of the node process in bytes (VmHWM).
    pub fn peak_rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("read /proc status");
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM line");
        let kb: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmHWM value");
        kb * 1024
    }

    /// SIGKILL the node and wait for it to exit.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM the node and wait (up to 20 s, then SIGKILL). Returns whether it exited by itself.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return true };
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop the node and start it again on the same data dir with `extra_args` in place
    /// of the ones it was started with.
    pub fn restart_with(&mut self, extra_args: &[&str]) {
        self.args = extra_args.iter().map(|s| s.to_string()).collect();
        self.restart(false);
    }

    /// Stop the node (SIGKILL if `hard`, else SIGTERM) and start it again on the same data dir.
    /// The port may change: rebuild clients afterwards.
    pub fn restart(&mut self, hard: bool) {
        if hard {
            self.kill9();
        } else {
            let clean = self.terminate();
            assert!(clean, "cairnd did not exit within 20 s of SIGTERM; log:\n{}", self.log_tail(40));
        }
        self.restarts += 1;
        self.spawn();
    }

    // -- clients ----------------------------------------------------------

    /// Path-style SDK client with root credentials (SDK defaults for checksums).
    pub fn client(&self) -> Client {
        self.client_builder().build()
    }

    /// SDK client builder pre-configured for this node; customise before `build()`.
    pub fn client_builder(&self) -> ClientBuilder {
        ClientBuilder::new(&self.endpoint)
    }

    /// Path-style client that records the HTTP status of every response.
    pub fn recording_client(&self) -> (Client, StatusRecorder) {
        let rec = StatusRecorder::default();
        (self.client_builder().recorder(rec.clone()).build(), rec)
    }

    /// Virtual-host style client: endpoint `http://localhost:PORT`, path style off, so the SDK
    /// addresses `bucket.localhost:PORT`. The connection is made to 127.0.0.1 with that Host
    /// header (no DNS needed for `*.localhost`).
    pub fn vhost_client(&self) -> Client {
        ClientBuilder::new(&format!("http://localhost:{}", self.port)).virtual_host().build()
    }

    /// The node's whole stderr log (every run of it, appended).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Block until GET /health/ready answers 200 (at most `timeout`).
    pub async fn wait_ready(&self, timeout: Duration) {
        let url = format!("{}/health/ready", self.endpoint);
        let http = raw_http();
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(r) = http.get(&url).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "health/ready never answered 200 within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A root-signed request to the admin API: `op` is what follows `/cairn/admin/v1/`
    /// (with its query string, e.g. `gc?grace_secs=0`). Returns (status, body text).
    pub async fn admin(&self, method: &str, op: &str, body: &[u8]) -> (u16, String) {
        admin_request(&self.endpoint, method, op, body).await
    }

    /// Block until GET /health/live answers 200.
    pub async fn wait_live(&self) {
        let url = format!("{}/health/live", self.endpoint);
        let http = raw_http();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(r) = http.get(&url).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "health/live never answered 200");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- cairnd log ({}) ----\n{}\n---- end of log ----", self.endpoint, self.log_tail(40));
        }
        self.kill9();
    }
}

// ---------------------------------------------------------------------------
// SDK client construction
// ---------------------------------------------------------------------------

/// Builder for an `aws-sdk-s3` client against a node: static credentials, us-east-1,
/// plain HTTP, retries off (every test sees exactly one attempt).
pub struct ClientBuilder {
    endpoint: String,
    access_key: String,
    secret_key: String,
    path_style: bool,
    vhost_rewrite: bool,
    checksum_when_required: bool,
    recorder: Option<StatusRecorder>,
}

impl ClientBuilder {
    pub fn new(endpoint: &str) -> Self {
        ClientBuilder {
            endpoint: endpoint.to_string(),
            access_key: ROOT_ACCESS_KEY.into(),
            secret_key: ROOT_SECRET_KEY.into(),
            path_style: true,
            vhost_rewrite: false,
            checksum_when_required: false,
            recorder: None,
        }
    }
    pub fn credentials(mut self, access_key: &str, secret_key: &str) -> Self {
        self.access_key = access_key.into();
        self.secret_key = secret_key.into();
        self
    }
    /// Virtual-host addressing; requests to `*.localhost` are sent to 127.0.0.1.
    pub fn virtual_host(mut self) -> Self {
        self.path_style = false;
        self.vhost_rewrite = true;
        self
    }
    /// Path style on or off, without rerouting `*.localhost` (for presigning vhost URLs).
    pub fn path_style(mut self, on: bool) -> Self {
        self.path_style = on;
        self
    }
    /// Only send checksums when the operation requires them (no aws-chunked trailer on PUT).
    pub fn checksum_when_required(mut self) -> Self {
        self.checksum_when_required = true;
        self
    }
    pub fn recorder(mut self, rec: StatusRecorder) -> Self {
        self.recorder = Some(rec);
        self
    }
    pub fn build(self) -> Client {
        let creds = Credentials::new(self.access_key, self.secret_key, None, None, "cairn-tests");
        let http = aws_smithy_http_client::Builder::new().build_http();
        let mut b = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(creds)
            .endpoint_url(self.endpoint)
            .force_path_style(self.path_style)
            .http_client(http)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder().connect_timeout(Duration::from_secs(10)).build(),
            );
        if self.checksum_when_required {
            b = b.request_checksum_calculation(RequestChecksumCalculation::WhenRequired);
        }
        if self.vhost_rewrite {
            b = b.interceptor(LocalhostVhost);
        }
        if let Some(rec) = self.recorder {
            b = b.interceptor(rec);
        }
        Client::from_conf(b.build())
    }
}

/// An IPv4 address of this machine that is not a loopback address, if it has one: a
/// node listening there sees a client connecting to it as a remote peer, as it would
/// see one on another machine, while the traffic stays in this machine.
pub fn local_non_loopback_ipv4() -> Option<std::net::Ipv4Addr> {
    let mut addrs: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `addrs` with a list freed below by freeifaddrs; each
    // entry's ifa_addr is null or points to a sockaddr of the family it names.
    unsafe {
        if libc::getifaddrs(&mut addrs) != 0 {
            return None;
        }
        let mut found = None;
        let mut cur = addrs;
        while !cur.is_null() {
            let a = (*cur).ifa_addr;
            if !a.is_null() && i32::from((*a).sa_family) == libc::AF_INET {
                let sin = &*(a as *const libc::sockaddr_in);
                let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                if !ip.is_loopback() && !ip.is_unspecified() {
                    found = Some(ip);
                    break;
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(addrs);
        found
    }
}

/// Sends requests addressed to `*.localhost[:port]` to 127.0.0.1 while keeping the Host
/// header (the one that was signed).
#[derive(Debug)]
struct LocalhostVhost;

impl Intercept for LocalhostVhost {
    fn name(&self) -> &'static str {
        "LocalhostVhost"
    }
    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = context.request_mut();
        let uri: http::Uri = req.uri().parse()?;
        let authority = uri.authority().ok_or("request without authority")?.clone();
        let host = authority.host();
        if host == "localhost" || host.ends_with(".localhost") {
            let port = authority.port_u16().unwrap_or(80);
            let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let new_uri = format!("http://127.0.0.1:{port}{pq}");
            req.headers_mut().insert("host", authority.as_str().to_string());
            req.set_uri(new_uri.as_str())?;
        }
        Ok(())
    }
}

/// Interceptor recording the HTTP status of every response a client receives.
#[derive(Clone, Debug, Default)]
pub struct StatusRecorder(Arc<Mutex<Vec<u16>>>);

impl StatusRecorder {
    pub fn last(&self) -> Option<u16> {
        self.0.lock().unwrap().last().copied()
    }
    pub fn all(&self) -> Vec<u16> {
        self.0.lock().unwrap().clone()
    }
}

impl Intercept for StatusRecorder {
    fn name(&self) -> &'static str {
        "StatusRecorder"
    }
    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.lock().unwrap().push(context.response().status().as_u16());
        Ok(())
    }
}

/// Plain reqwest client (no proxy, no TLS).
pub fn raw_http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("reqwest client")
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// What a failed SDK call looked like on the wire.
#[derive(Debug, Clone)]
pub struct ErrInfo {
    /// HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// S3 error code from the XML body (or the SDK's modelled code).
    pub code: Option<String>,
    pub message: Option<String>,
    pub debug: String,
}

impl ErrInfo {
    pub fn from_sdk<E, R>(e: &SdkError<E, R>) -> ErrInfo
    where
        E: ProvideErrorMetadata + std::fmt::Debug,
        R: std::fmt::Debug + RawStatus,
    {
        ErrInfo {
            status: e.raw_response().map(|r| r.raw_status()),
            code: e.code().map(str::to_string),
            message: e.message().map(str::to_string),
            debug: format!("{e:?}"),
        }
    }
}

/// Status of a raw SDK response.
pub trait RawStatus {
    fn raw_status(&self) -> u16;
}
impl RawStatus for aws_smithy_runtime_api::http::Response {
    fn raw_status(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Unwrap the error of an SDK call that must fail.
pub fn expect_err<T: std::fmt::Debug, E, R>(what: &str, r: Result<T, SdkError<E, R>>) -> ErrInfo
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug + RawStatus,
{
    match r {
        Ok(v) => panic!("{what}: expected an error, got success: {v:?}"),
        Err(e) => ErrInfo::from_sdk(&e),
    }
}

/// Assert an SDK call failed with this HTTP status and S3 error code.
#[track_caller]
pub fn assert_s3_err<T: std::fmt::Debug, E, R>(what: &str, r: Result<T, SdkError<E, R>>, status: u16, code: &str)
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug + RawStatus,
{
    let e = expect_err(what, r);
    assert_eq!(e.status, Some(status), "{what}: wrong status (want {status} {code}); error: {}", e.debug);
    assert_eq!(e.code.as_deref(), Some(code), "{what}: wrong error code (status {status}); error: {}", e.debug);
}

/// Assert an SDK call failed with this HTTP status (for bodiless responses: HEAD, 304).
#[track_caller]
pub fn assert_status_err<T: std::fmt::Debug, E, R>(what: &str, r: Result<T, SdkError<E, R>>, status: u16)
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug + RawStatus,
{
    let e = expect_err(what, r);
    assert_eq!(e.status, Some(status), "{what}: wrong status; error: {}", e.debug);
}

/// Extract `<Code>..</Code>` from an S3 XML error body.
pub fn xml_error_code(body: &str) -> Option<String> {
    xml_tag(body, "Code")
}

/// First `<tag>value</tag>` in an XML document (no nesting awareness).
pub fn xml_tag(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&close)? + start;
    Some(body[start..end].to_string())
}

/// All `<tag>value</tag>` in an XML document.
pub fn xml_tags(body: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(after[..j].to_string());
        rest = &after[j + close.len()..];
    }
    out
}

// ---------------------------------------------------------------------------
// Data helpers
// ---------------------------------------------------------------------------

/// `len` pseudo-random bytes from `seed` (deterministic).
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(md5::Md5::digest(data))
}
pub fn md5_b64(data: &[u8]) -> String {
    b64(&md5::Md5::digest(data))
}
/// `"<md5 hex>"`, the ETag of a single-part object.
pub fn etag_of(data: &[u8]) -> String {
    format!("\"{}\"", md5_hex(data))
}
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
pub fn crc32_b64(data: &[u8]) -> String {
    b64(&crc32fast::hash(data).to_be_bytes())
}
pub fn crc32c_b64(data: &[u8]) -> String {
    b64(&crc32c::crc32c(data).to_be_bytes())
}
pub fn sha1_b64(data: &[u8]) -> String {
    use sha1::Digest;
    b64(&sha1::Sha1::digest(data))
}
pub fn sha256_b64(data: &[u8]) -> String {
    b64(&sha2::Sha256::digest(data))
}

/// Percent-decode a listing value returned with `encoding-type=url` (`+` means space).
pub fn url_decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s).decode_utf8().expect("utf-8 after url-decoding").into_owned()
}

/// Read a whole SDK body stream.
pub async fn read_body(body: aws_sdk_s3::primitives::ByteStream) -> Vec<u8> {
    body.collect().await.expect("read body").into_bytes().to_vec()
}

/// Generates a large deterministic object chunk by chunk, never holding more than one
/// chunk: a seeded 1 MiB random block, rotated by a seeded offset per chunk and stamped
/// with the chunk index, so no two chunks (and no two stripes) are alike.
pub struct ChunkGen {
    base: bytes::Bytes,
    rng: rand::rngs::SmallRng,
    total: u64,
    produced: u64,
    chunk_index: u64,
    chunk_size: usize,
    hasher: Arc<Mutex<sha2::Sha256>>,
}

impl ChunkGen {
    pub const CHUNK: usize = 1 << 20;

    pub fn new(seed: u64, total: u64) -> ChunkGen {
        ChunkGen {
            base: random_bytes(seed, Self::CHUNK).into(),
            rng: rand::rngs::SmallRng::seed_from_u64(seed ^ 0x5eed_5eed),
            total,
            produced: 0,
            chunk_index: 0,
            chunk_size: Self::CHUNK,
            hasher: Arc::new(Mutex::new(sha2::Sha256::new())),
        }
    }

    /// Chunk size of the generated pieces (default 1 MiB, at most 1 MiB).
    pub fn with_chunk_size(mut self, size: usize) -> Self {
        assert!(size > 0 && size <= Self::CHUNK);
        self.chunk_size = size;
        self
    }

    /// Shared handle on the SHA-256 of everything generated so far.
    pub fn hasher(&self) -> Arc<Mutex<sha2::Sha256>> {
        self.hasher.clone()
    }

    pub fn remaining(&self) -> u64 {
        self.total - self.produced
    }

    pub fn next_chunk(&mut self) -> Option<bytes::Bytes> {
        if self.produced >= self.total {
            return None;
        }
        let n = (self.total - self.produced).min(self.chunk_size as u64) as usize;
        let rot = (self.rng.next_u64() % Self::CHUNK as u64) as usize;
        let mut buf = Vec::with_capacity(n);
        let tail = &self.base[rot..];
        if tail.len() >= n {
            buf.extend_from_slice(&tail[..n]);
        } else {
            buf.extend_from_slice(tail);
            buf.extend_from_slice(&self.base[..n - tail.len()]);
        }
        let stamp = self.chunk_index.to_le_bytes();
        let k = stamp.len().min(n);
        buf[..k].copy_from_slice(&stamp[..k]);
        self.chunk_index += 1;
        self.produced += n as u64;
        self.hasher.lock().unwrap().update(&buf);
        Some(buf.into())
    }
}

/// An `http_body` body streaming a [`ChunkGen`] with an exact size hint.
pub struct GenBody(pub ChunkGen);

impl http_body::Body for GenBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(self.0.next_chunk().map(|c| Ok(http_body::Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.remaining() == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.0.remaining())
    }
}

/// A streaming SDK body of `total` generated bytes, plus the handle on its SHA-256.
pub fn generated_stream(seed: u64, total: u64) -> (aws_sdk_s3::primitives::ByteStream, Arc<Mutex<sha2::Sha256>>) {
    let gen = ChunkGen::new(seed, total);
    let h = gen.hasher();
    (aws_sdk_s3::primitives::ByteStream::from_body_1_x(GenBody(gen)), h)
}

/// Finish a shared SHA-256 into hex.
pub fn finish_hex(h: &Arc<Mutex<sha2::Sha256>>) -> String {
    hex::encode(h.lock().unwrap().clone().finalize())
}

/// All regular files under `dir`, recursively (empty if `dir` does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// Shard files of a disk: `<disk>/objects/<2 hex>/<32 hex>.<index>`.
pub fn shard_files(disk: &Path) -> Vec<PathBuf> {
    files_under(&disk.join("objects"))
        .into_iter()
        .filter(|p| {
            let Some(name) = p.file_name().and_then(|n| n.to_str()) else { return false };
            let Some((stem, idx)) = name.rsplit_once('.') else { return false };
            let parent_ok = p
                .parent()
                .and_then(|d| d.file_name())
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.len() == 2 && n.chars().all(|c| c.is_ascii_hexdigit()));
            parent_ok
                && stem.len() == 32
                && stem.chars().all(|c| c.is_ascii_hexdigit())
                && !idx.is_empty()
                && idx.chars().all(|c| c.is_ascii_digit())
        })
        .collect()
}

/// Overwrite 64 bytes in the middle of a file with a fixed pattern (idempotent: applying it
/// twice leaves the file corrupted, unlike a bit flip).
pub fn corrupt_middle(path: &Path) {
    use std::io::{Seek, SeekFrom, Write};
    let len = std::fs::metadata(path).expect("stat shard").len();
    assert!(len > 128, "shard file {} too small to corrupt ({len} bytes)", path.display());
    let pattern = random_bytes(0xbad_c0de, 64);
    let mut f = std::fs::OpenOptions::new().write(true).open(path).expect("open shard");
    f.seek(SeekFrom::Start(len / 2 - 32)).unwrap();
    f.write_all(&pattern).unwrap();
    f.sync_all().unwrap();
}

/// Unique-ish names for resources inside one test.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}", N.fetch_add(1, Ordering::Relaxed))
}

// ---------------------------------------------------------------------------
// Small SDK conveniences (panic on failure, with the error)
// ---------------------------------------------------------------------------

pub async fn create_bucket(c: &Client, bucket: &str) {
    c.create_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create_bucket {bucket}: {:?}", ErrInfo::from_sdk(&e)));
}

/// PutObject; returns the ETag.
pub async fn put_bytes(c: &Client, bucket: &str, key: &str, data: impl Into<bytes::Bytes>) -> String {
    let data: bytes::Bytes = data.into();
    let out = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(data))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put_object {bucket}/{key}: {:?}", ErrInfo::from_sdk(&e)));
    out.e_tag().expect("PutObject returned no ETag").to_string()
}

/// GetObject; returns the whole body.
pub async fn get_bytes(c: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = c
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get_object {bucket}/{key}: {:?}", ErrInfo::from_sdk(&e)));
    read_body(out.body).await
}

/// Every key of a bucket via ListObjectsV2 (default page size), in listing order.
pub async fn list_all_keys(c: &Client, bucket: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("list_objects_v2 {bucket}: {:?}", ErrInfo::from_sdk(&e)));
        keys.extend(out.contents().iter().map(|o| o.key().unwrap_or_default().to_string()));
        if out.is_truncated() == Some(true) {
            token = Some(out.next_continuation_token().expect("truncated without token").to_string());
        } else {
            return keys;
        }
    }
}

// ---------------------------------------------------------------------------
// Raw SigV4 signing (for requests the SDK will not make: wrong payload hash, skewed clock)
// ---------------------------------------------------------------------------

/// What `x-amz-content-sha256` says about the body.
pub enum Payload<'a> {
    /// The hash of these bytes.
    Bytes(&'a [u8]),
    /// This hex SHA-256, whatever the body really is.
    Precomputed(String),
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
}

/// SigV4 settings as S3 signs: the path as sent, neither encoded again nor normalized.
pub fn s3_signing_settings() -> aws_sigv4::http_request::SigningSettings {
    let mut settings = aws_sigv4::http_request::SigningSettings::default();
    settings.uri_path_normalization_mode = aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
    settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
    settings
}

/// Signing parameters for this region's S3 at `time`.
pub fn s3_signing_params<'a>(
    identity: &'a aws_smithy_runtime_api::client::identity::Identity,
    time: std::time::SystemTime,
    settings: aws_sigv4::http_request::SigningSettings,
) -> aws_sigv4::http_request::SigningParams<'a> {
    aws_sigv4::sign::v4::SigningParams::builder()
        .identity(identity)
        .region(REGION)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .expect("signing params")
        .into()
}

/// Headers (Authorization, X-Amz-Date, x-amz-content-sha256, ...) that sign a request
/// with SigV4 at `time` for the root credentials (or `creds`).
pub fn sigv4_headers(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    payload: Payload<'_>,
    time: std::time::SystemTime,
    creds: Option<(&str, &str)>,
) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{sign, PayloadChecksumKind, SignableBody, SignableRequest};
    let (ak, sk) = creds.unwrap_or((ROOT_ACCESS_KEY, ROOT_SECRET_KEY));
    let identity = aws_credential_types::Credentials::new(ak, sk, None, None, "raw-signer").into();
    let mut settings = s3_signing_settings();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = s3_signing_params(&identity, time, settings);
    let body = match &payload {
        Payload::Bytes(b) => SignableBody::Bytes(b),
        Payload::Precomputed(h) => SignableBody::Precomputed(h.clone()),
        Payload::Unsigned => SignableBody::UnsignedPayload,
    };
    let req = SignableRequest::new(method, url, headers.iter().copied(), body).expect("signable request");
    let (instructions, _sig) = sign(req, &params).expect("sign").into_parts();
    instructions.headers().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Send a raw request signed with [`sigv4_headers`]; returns (status, body text).
pub async fn send_signed(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    payload: Payload<'_>,
    body: Vec<u8>,
    time: std::time::SystemTime,
) -> (u16, String) {
    let signed = sigv4_headers(method, url, headers, payload, time, None);
    let mut req = raw_http().request(method.parse().unwrap(), url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    for (k, v) in signed {
        req = req.header(k, v);
    }
    let r = req.body(body).send().await.expect("send signed request");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// Run a test body with an overall time limit, so a hung server fails the test instead of
/// hanging the suite.
pub async fn within<F: std::future::Future<Output = ()>>(secs: u64, f: F) {
    if tokio::time::timeout(Duration::from_secs(secs), f).await.is_err() {
        panic!("test did not finish within {secs} s");
    }
}

/// ETag of a multipart object: `"<hex md5 of the concatenated binary part md5s>-N"`.
pub fn multipart_etag<P: AsRef<[u8]>>(parts: &[P]) -> String {
    let mut cat = Vec::new();
    for p in parts {
        cat.extend_from_slice(&md5::Md5::digest(p.as_ref()));
    }
    format!("\"{}-{}\"", md5_hex(&cat), parts.len())
}

/// A root-signed request to the admin API of the node at `endpoint`: `op` is what follows
/// `/cairn/admin/v1/`, query string included. Returns (status, body text).
pub async fn admin_request(endpoint: &str, method: &str, op: &str, body: &[u8]) -> (u16, String) {
    let url = format!("{}/cairn/admin/v1/{}", endpoint.trim_end_matches('/'), op.trim_start_matches('/'));
    send_signed(method, &url, &[], Payload::Bytes(body), body.to_vec(), std::time::SystemTime::now()).await
}

/// Distinct shard-file groups (the 32-hex stems of `<stem>.<index>` shard files) over these disks.
/// One erasure-coded write (an object, or a part of a multipart upload) is one group.
pub fn shard_groups(disks: &[PathBuf]) -> std::collections::BTreeSet<String> {
    stored_shards_all(disks).iter().map(|s| s.id().to_string()).collect()
}

/// Poll `f` every 50 ms until it returns true or `timeout` passes; returns whether it did.
pub async fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An `http_body` body fed through a channel, announcing `total` bytes (exact size hint)
/// whatever is sent: lets a test keep an upload in flight for as long as it likes.
/// Ends when the sender is dropped.
pub struct ChannelBody {
    rx: tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>,
    remaining: u64,
}

impl ChannelBody {
    pub fn new(total: u64) -> (tokio::sync::mpsc::UnboundedSender<bytes::Bytes>, ChannelBody) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (tx, ChannelBody { rx, remaining: total })
    }
}

impl http_body::Body for ChannelBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        match self.rx.poll_recv(cx) {
            std::task::Poll::Ready(Some(b)) => {
                self.remaining = self.remaining.saturating_sub(b.len() as u64);
                std::task::Poll::Ready(Some(Ok(http_body::Frame::data(b))))
            }
            std::task::Poll::Ready(None) => std::task::Poll::Ready(None),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

/// A request to the tenant API (`/cairn/v1/`) signed with `creds`: `op` is what follows
/// `/cairn/v1/`, query string included. Returns (status, body text).
pub async fn v1_request(endpoint: &str, creds: (&str, &str), method: &str, op: &str, body: &[u8]) -> (u16, String) {
    let url = format!("{}/cairn/v1/{}", endpoint.trim_end_matches('/'), op.trim_start_matches('/'));
    let signed = sigv4_headers(method, &url, &[], Payload::Bytes(body), std::time::SystemTime::now(), Some(creds));
    let mut req = raw_http().request(method.parse().unwrap(), &url);
    for (k, v) in signed {
        req = req.header(k, v);
    }
    let r = req.body(body.to_vec()).send().await.expect("send tenant API request");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// [`v1_json`] with request headers (signed too); answers also the ETag.
pub async fn v1_json_with(
    endpoint: &str,
    creds: (&str, &str),
    method: &str,
    op: &str,
    headers: &[(&str, &str)],
    body: serde_json::Value,
) -> (u16, serde_json::Value, Option<String>) {
    let body = if body.is_null() { Vec::new() } else { serde_json::to_vec(&body).unwrap() };
    let url = format!("{}/cairn/v1/{}", endpoint.trim_end_matches('/'), op.trim_start_matches('/'));
    let signed = sigv4_headers(method, &url, headers, Payload::Bytes(&body), std::time::SystemTime::now(), Some(creds));
    let mut req = raw_http().request(method.parse().unwrap(), &url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    for (k, v) in signed {
        req = req.header(k, v);
    }
    let r = req.body(body).send().await.expect("send tenant API request");
    let status = r.status().as_u16();
    let etag = r.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_string);
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)), etag)
}

/// [`v1_request`] with a JSON body (`Null`: none) and the answer parsed (a body that is
/// not JSON comes back as a string).
pub async fn v1_json(
    endpoint: &str,
    creds: (&str, &str),
    method: &str,
    op: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let body = if body.is_null() { Vec::new() } else { serde_json::to_vec(&body).unwrap() };
    let (status, text) = v1_request(endpoint, creds, method, op, &body).await;
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

/// `(status, body)` must have `status`; answers the body.
pub fn expect_status(what: &str, got: (u16, serde_json::Value), status: u16) -> serde_json::Value {
    assert_eq!(got.0, status, "{what}: {}", got.1);
    got.1
}

/// The access key id and secret of a key as the JSON APIs answer a creation.
pub fn creds_of(key: &serde_json::Value) -> (String, String) {
    (key["access_key_id"].as_str().unwrap().to_string(), key["secret_access_key"].as_str().unwrap().to_string())
}
