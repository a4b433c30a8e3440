//! Connections and requests: accepts TCP (and TLS) connections, answers the health
//! probes and `/metrics` itself and hands everything else to s3s, through the gate
//! (`cairn_s3api::gate`): requests refused from their head never reach s3s, and every
//! body is guarded. Holds the request slots: anonymous requests may take only a share
//! of them. Logs and counts every request; shuts down gracefully on request. Touches
//! sockets and the s3s service; what a request does is s3s's and s3api's business.

use super::health::Health;
use super::metrics::{Metrics, operation};
use super::text;
use super::tls::Tls;
use cairn_api::audit::AuditRecord;
use cairn_s3api::access::{AuditNote, ConnInfo, OpName};
use cairn_s3api::gate::{self, Gate, Refusal};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::service::S3Service;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long in-flight requests may run after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a connection needs to answer requests.
pub struct Front {
    pub service: S3Service,
    pub health: Health,
    pub metrics: Arc<Metrics>,
    /// Requests handled at once; beyond it S3's 503 SlowDown.
    pub limiter: Arc<tokio::sync::Semaphore>,
    /// The share of those slots requests without credentials may take, so that
    /// anonymous clients can never crowd out signed ones.
    pub anon_limiter: Arc<tokio::sync::Semaphore>,
    pub gate: Gate,
    /// Names this node in error bodies (`<HostId>`).
    pub host_id: String,
    pub refused: RefusalLog,
    /// Virtual-host style addressing, to name the bucket in logs.
    pub host: cairn_s3api::CairnHost,
    /// The signing region, told to the console's pages.
    pub region: String,
    pub tls: Option<Arc<Tls>>,
    pub audit: crate::audit::Audit,
    pub node_id: u64,
    /// Buckets' CORS rules: preflights, and the headers of answers to pages.
    pub cors: cairn_s3api::cors::Cors,
}

/// Request heads larger than this are refused (hyper answers 431).
const MAX_HEAD_BYTES: usize = 64 * 1024;

pub async fn serve(
    listener: TcpListener,
    front: Arc<Front>,
    header_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = ConnBuilder::new(TokioExecutor::new());
    // The header timeout also closes keep-alive connections that sit idle.
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Without NODELAY a response written in two parts waits for the
        // client's delayed ACK (~40 ms).
        let _ = stream.set_nodelay(true);
        let front = front.clone();
        let tls = front.tls.clone();
        let conn = ConnInfo { peer: peer.ip(), secure: tls.is_some() };
        let svc = service_fn(move |mut req: http::Request<Incoming>| {
            let front = front.clone();
            req.extensions_mut().insert(conn);
            async move { Ok::<_, s3s::HttpError>(front.handle(req).await) }
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let result = match tls {
                None => {
                    let Some(io) = first_bytes(stream, header_timeout, stop).await else { return };
                    watcher.watch(builder.serve_connection_with_upgrades(TokioIo::new(io), svc).into_owned()).await
                }
                Some(tls) => match tokio::time::timeout(header_timeout, tls.acceptor().accept(stream)).await {
                    Ok(Ok(stream)) => {
                        let Some(io) = first_bytes(stream, header_timeout, stop).await else { return };
                        watcher.watch(builder.serve_connection_with_upgrades(TokioIo::new(io), svc).into_owned()).await
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                },
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("in-flight requests did not finish within {DRAIN_TIMEOUT:?}");
    }
}

/// Waits, at most `timeout`, for a connection's first bytes. hyper's auto builder
/// reads them to tell HTTP/1 from HTTP/2 before its header timeout starts, so a
/// client that connects and sends nothing would otherwise hold its socket for
/// ever. A shutdown ends the wait at once (the connection holds a graceful-shutdown
/// watcher, which the drain waits for). The small buffer only holds what that first
/// read brings; later reads as large as it go straight to the connection.
async fn first_bytes<S: tokio::io::AsyncRead + Unpin>(
    io: S,
    timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> Option<tokio::io::BufReader<S>> {
    use tokio::io::AsyncBufReadExt;
    let mut io = tokio::io::BufReader::with_capacity(64, io);
    let first = tokio::select! {
        r = tokio::time::timeout(timeout, io.fill_buf()) => r,
        _ = stop.changed() => return None,
    };
    match first {
        Ok(Ok(first)) if !first.is_empty() => Some(io),
        _ => None,
    }
}

fn header_u64(headers: &http::HeaderMap, name: &str) -> u64 {
    headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

impl Front {
    async fn handle(&self, req: http::Request<Incoming>) -> http::Response<s3s::Body> {
        let vhost = self.host.bucket_of(host_of(&req)).is_some();
        if let Some(resp) = super::console::answer(&req, vhost, &self.region) {
            return resp;
        }
        if req.method() == http::Method::GET {
            if let Some(resp) = self.health.answer(req.uri().path()) {
                return resp;
            }
            if req.uri().path() == "/metrics" {
                return text(
                    http::StatusCode::OK,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    self.metrics.render(),
                );
            }
        }
        let request_id = format!("{:016X}", rand::random::<u64>());
        let (guess, bucket, object) = self.describe(&req);
        let anonymous = gate::is_anonymous(req.headers(), req.uri().query());
        let permits = self.limiter.clone().try_acquire_owned().ok().and_then(|p| {
            if anonymous {
                self.anon_limiter.clone().try_acquire_owned().ok().map(|a| (p, Some(a)))
            } else {
                Some((p, None))
            }
        });
        let Some(_permits) = permits else {
            self.metrics.rejected();
            self.refused.note(&request_id, "SlowDown", anonymous);
            let refusal = Refusal {
                status: http::StatusCode::SERVICE_UNAVAILABLE,
                code: "SlowDown",
                message: "Please reduce your request rate.".into(),
            };
            return self.refuse(&refusal, &request_id);
        };
        let is_ext_path = req.uri().path().starts_with("/cairn/");
        if req.method() == http::Method::OPTIONS && !is_ext_path {
            return self.preflight(&req, &bucket, &request_id);
        }
        // A page's request (it names its Origin): its answer may carry CORS headers.
        let from_page = (req.headers().contains_key(http::header::ORIGIN) && !is_ext_path && !bucket.is_empty())
            .then(|| (req.method().clone(), req.headers().clone()));
        let is_head = req.method() == http::Method::HEAD;
        let bytes_in = match header_u64(req.headers(), "x-amz-decoded-content-length") {
            0 => header_u64(req.headers(), "content-length"),
            n => n,
        };
        let (mut req, admitted) = match self.gate.admit(req, object) {
            Ok(a) => a,
            Err(refusal) => {
                self.metrics.start();
                self.metrics.finish(guess, refusal.status.as_u16(), 0.0, 0, 0);
                self.refused.note(&request_id, refusal.code, anonymous);
                return self.refuse(&refusal, &request_id);
            }
        };
        let op_name = OpName::default();
        req.extensions_mut().insert(op_name.clone());
        let note = AuditNote::default();
        req.extensions_mut().insert(note.clone());
        let source = req.extensions().get::<ConnInfo>().map(|c| c.peer.to_canonical().to_string()).unwrap_or_default();
        let ext_call =
            req.uri().path().starts_with("/cairn/").then(|| format!("cairn:{} {}", req.method(), req.uri().path()));
        let is_ext = ext_call.is_some();
        let key = object_key(&req, &bucket, object, vhost);
        let claimed = claimed_key(&req);
        self.metrics.start();
        let started = Instant::now();
        // Administrative changes this request makes name it and its caller.
        let actor = cairn_raft::admin_audit::Actor::for_request(self.node_id, &request_id);
        let resp = match cairn_raft::admin_audit::ACTOR.scope(actor, self.service.call(req)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(request_id, error = ?e, "request failed inside s3s");
                text(http::StatusCode::INTERNAL_SERVER_ERROR, "text/plain", "internal error\n".into())
            }
        };
        let mut resp = self.gate.answer(&admitted, resp, &request_id, &self.host_id);
        // s3s sets 206 for a ranged GET but serializes every HEAD as 200.
        if is_head && resp.status() == http::StatusCode::OK && resp.headers().contains_key(http::header::CONTENT_RANGE)
        {
            *resp.status_mut() = http::StatusCode::PARTIAL_CONTENT;
        }
        set_request_id(&mut resp, &request_id);
        if let Some((method, headers)) = &from_page {
            self.cors.decorate(&bucket, method, headers, resp.headers_mut());
        }
        let op = op_name.get();
        let op = op.as_deref().unwrap_or(guess);
        let status = resp.status().as_u16();
        let bytes_out = if is_head { 0 } else { header_u64(resp.headers(), "content-length") };
        let elapsed = started.elapsed();
        self.metrics.finish(op, status, elapsed.as_secs_f64(), bytes_in, bytes_out);
        tracing::info!(
            request_id,
            op,
            bucket,
            status,
            bytes_in,
            bytes_out,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
        // Every request the service saw: the authorizer's decision, or, for one s3s
        // refused before asking it (a bad signature, a malformed request), a denial.
        let decided = note.get().unwrap_or_else(|| cairn_s3api::access::Decided {
            access_key: claimed,
            allowed: status < 400,
            rule: match status {
                403 => "authentication",
                s if s < 400 => "none",
                _ => "malformed",
            }
            .into(),
            ..Default::default()
        });
        {
            self.audit.record(AuditRecord {
                time: rfc3339_now(),
                request_id,
                node: self.node_id,
                anonymous,
                access_key: decided.access_key,
                tenant: decided.tenant,
                source,
                operation: ext_call.unwrap_or_else(|| op.to_string()),
                bucket: (!bucket.is_empty() && !is_ext).then_some(bucket),
                key,
                version_id: decided.version_id,
                decision: if decided.allowed { "allow" } else { "deny" }.into(),
                rule: decided.rule,
                status,
                bytes_in,
                bytes_out,
                duration_ms: elapsed.as_secs_f64() * 1000.0,
            });
        }
        resp
    }

    /// A CORS preflight (`OPTIONS`): answered from the bucket's CORS rules, without
    /// credentials, before any other check.
    fn preflight(&self, req: &http::Request<Incoming>, bucket: &str, request_id: &str) -> http::Response<s3s::Body> {
        self.metrics.start();
        let started = Instant::now();
        let mut resp = match self.cors.preflight(bucket, req.headers()) {
            Ok(headers) => {
                let mut resp = http::Response::new(s3s::Body::empty());
                for (name, value) in headers {
                    if let Ok(v) = http::HeaderValue::from_str(&value) {
                        resp.headers_mut().insert(name, v);
                    }
                }
                resp
            }
            Err(refusal) => gate::error_response(&refusal, request_id, &self.host_id),
        };
        set_request_id(&mut resp, request_id);
        let status = resp.status().as_u16();
        self.metrics.finish("Preflight", status, started.elapsed().as_secs_f64(), 0, 0);
        resp
    }

    /// Answers a request refused before s3s saw it. Its body was not read, so the
    /// connection is not kept.
    fn refuse(&self, refusal: &Refusal, request_id: &str) -> http::Response<s3s::Body> {
        let mut resp = gate::error_response(refusal, request_id, &self.host_id);
        resp.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        set_request_id(&mut resp, request_id);
        resp
    }

    /// The operation name as far as the request line tells it (the authorizer
    /// names it exactly once s3s has routed it), the bucket (path style or virtual
    /// host), and whether a key is named.
    fn describe(&self, req: &http::Request<Incoming>) -> (&'static str, String, bool) {
        let host = req.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        let vhost = self.host.bucket_of(host);
        let path = req.uri().path();
        let op = operation(req.method(), path, req.uri().query(), vhost.is_some());
        let trimmed = path.trim_start_matches('/');
        let (bucket, object) = match vhost {
            Some(b) => (b, !trimmed.is_empty()),
            None => match trimmed.split_once('/') {
                Some((b, k)) => (b.to_string(), !k.is_empty()),
                None => (trimmed.to_string(), false),
            },
        };
        (op, bucket, object)
    }
}

fn set_request_id(resp: &mut http::Response<s3s::Body>, id: &str) {
    if let Ok(v) = http::HeaderValue::from_str(id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
}

/// Logs refused requests without letting a flood of them flood the log: the
/// first in each second is logged, with how many were refused since the last line.
#[derive(Default)]
pub struct RefusalLog {
    since_last: AtomicU64,
    last: Mutex<Option<Instant>>,
}

impl RefusalLog {
    fn note(&self, request_id: &str, code: &str, anonymous: bool) {
        let count = self.since_last.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
            return;
        }
        *last = Some(Instant::now());
        self.since_last.store(0, Ordering::Relaxed);
        tracing::warn!(request_id, code, anonymous, refused_since_last_line = count, "request refused");
    }
}

fn host_of<B>(req: &http::Request<B>) -> &str {
    req.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("")
}

/// The object key a request names (percent-decoded), if it names one.
fn object_key<B>(req: &http::Request<B>, bucket: &str, object: bool, vhost: bool) -> Option<String> {
    if !object || req.uri().path().starts_with("/cairn/") {
        return None;
    }
    let path = req.uri().path().trim_start_matches('/');
    let raw = if vhost { path } else { path.strip_prefix(bucket)?.strip_prefix('/')? };
    Some(percent_encoding::percent_decode_str(raw).decode_utf8_lossy().into_owned())
}

fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// The access key id a request claims (from `Authorization` or `X-Amz-Credential`),
/// before it is verified: for the audit record of one refused at authentication.
fn claimed_key<B>(req: &http::Request<B>) -> Option<String> {
    let from_header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .map(str::to_string);
    let from_query = || {
        form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == "X-Amz-Credential")
            .map(|(_, v)| v.into_owned())
    };
    let credential = from_header.or_else(from_query)?;
    let id = credential.split('/').next()?.trim();
    (!id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| id.to_string())
}
