//! Prometheus metrics (`GET /metrics`, unauthenticated like the health probes)
//! and the S3 operation name of a request, shared by metrics and request logs.
//! Counts what the front sees; reads the metadata store, the disk table and the
//! durability workers' gauges when rendered; touches nothing.

use crate::workers::durability::Durability;
use cairn_erasure::DiskSet;
use cairn_raft::MetaStore;
use cairn_raft::schema::Pool;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    op: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    op: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StripeLabels {
    pass: &'static str,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BucketLabels {
    bucket: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PassLabels {
    pass: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DiskLabels {
    disk: String,
    path: String,
}

type LatencyFamily = Family<OpLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    bytes_in: Counter,
    bytes_out: Counter,
    in_flight: Gauge,
    rejected: Counter,
    raft_leader: Gauge,
    raft_term: Gauge<u64, AtomicU64>,
    raft_last_log: Gauge<u64, AtomicU64>,
    raft_applied: Gauge<u64, AtomicU64>,
    proposal_latency: Histogram,
    disk_online: Family<DiskLabels, Gauge>,
    disk_total: Family<DiskLabels, Gauge<u64, AtomicU64>>,
    disk_free: Family<DiskLabels, Gauge<u64, AtomicU64>>,
    segment_bytes: Family<DiskLabels, Gauge<u64, AtomicU64>>,
    segment_live: Family<DiskLabels, Gauge<u64, AtomicU64>>,
    segment_records: Family<DiskLabels, Gauge<u64, AtomicU64>>,
    segment_syncs: Family<DiskLabels, Gauge<u64, AtomicU64>>,
    pass_running: Family<PassLabels, Gauge>,
    pass_objects: Family<PassLabels, Gauge<u64, AtomicU64>>,
    pass_bytes: Family<PassLabels, Gauge<u64, AtomicU64>>,
    pass_rewritten: Family<PassLabels, Gauge<u64, AtomicU64>>,
    pass_stripes: Family<StripeLabels, Gauge<u64, AtomicU64>>,
    heal_on_read: Family<ResultLabels, Gauge<u64, AtomicU64>>,
    bucket_objects: Family<BucketLabels, Gauge<u64, AtomicU64>>,
    bucket_bytes: Family<BucketLabels, Gauge<u64, AtomicU64>>,
    tenant_used_bytes: Family<TenantLabels, Gauge<u64, AtomicU64>>,
    tenant_used_objects: Family<TenantLabels, Gauge<u64, AtomicU64>>,
    tenant_quota_bytes: Family<TenantLabels, Gauge<u64, AtomicU64>>,
    tenant_quota_objects: Family<TenantLabels, Gauge<u64, AtomicU64>>,
    tenant_warning: Family<TenantLabels, Gauge<u64, AtomicU64>>,
    /// The audit log's counts, read at each render.
    audit: Arc<crate::audit::AuditStats>,
    audit_gauges: Family<AuditLabels, Gauge>,
    /// The lifecycle worker's totals and passes, read from the metadata at each render.
    lifecycle: Family<LifecycleLabels, Gauge>,
    /// Event notification backlogs by target, read from the metadata at each render.
    events: Family<EventLabels, Gauge>,
    tenant_depth: usize,
    meta: MetaStore,
    disks: Arc<DiskSet>,
    durability: Arc<Durability>,
}

/// The most tenants `/metrics` reports.
const MAX_TENANT_SERIES: usize = 1000;

fn latency_histogram() -> Histogram {
    // 0.5 ms to ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Metrics {
    pub fn new(
        meta: MetaStore,
        disks: Arc<DiskSet>,
        durability: Arc<Durability>,
        tenant_depth: usize,
        audit: Arc<crate::audit::AuditStats>,
    ) -> Self {
        let mut registry = Registry::with_prefix("cairn");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let m = Metrics {
            requests: requests.clone(),
            latency: latency.clone(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            in_flight: Gauge::default(),
            rejected: Counter::default(),
            raft_leader: Gauge::default(),
            raft_term: Gauge::default(),
            raft_last_log: Gauge::default(),
            raft_applied: Gauge::default(),
            proposal_latency: latency_histogram(),
            disk_online: Family::default(),
            disk_total: Family::default(),
            disk_free: Family::default(),
            segment_bytes: Family::default(),
            segment_live: Family::default(),
            segment_records: Family::default(),
            segment_syncs: Family::default(),
            pass_running: Family::default(),
            pass_objects: Family::default(),
            pass_bytes: Family::default(),
            pass_rewritten: Family::default(),
            pass_stripes: Family::default(),
            heal_on_read: Family::default(),
            bucket_objects: Family::default(),
            bucket_bytes: Family::default(),
            tenant_used_bytes: Family::default(),
            tenant_used_objects: Family::default(),
            tenant_quota_bytes: Family::default(),
            tenant_quota_objects: Family::default(),
            tenant_warning: Family::default(),
            tenant_depth,
            audit,
            audit_gauges: Family::default(),
            lifecycle: Family::default(),
            events: Family::default(),
            meta,
            disks,
            durability,
            registry: Registry::default(),
        };
        registry.register("requests", "S3 requests by operation and HTTP status", requests);
        registry.register("request_duration_seconds", "Time to response headers by operation", latency);
        registry.register("received_bytes", "Request body bytes announced by clients", m.bytes_in.clone());
        registry.register("sent_bytes", "Response body bytes announced to clients", m.bytes_out.clone());
        registry.register("requests_in_flight", "Requests being handled", m.in_flight.clone());
        registry.register("requests_rejected", "Requests refused with 503 SlowDown", m.rejected.clone());
        registry.register("raft_is_leader", "1 if this node leads the metadata group", m.raft_leader.clone());
        registry.register("raft_term", "Current Raft term", m.raft_term.clone());
        registry.register("raft_last_log_index", "Index of the last Raft log entry", m.raft_last_log.clone());
        registry.register("raft_applied_index", "Index of the last applied Raft log entry", m.raft_applied.clone());
        registry.register(
            "raft_proposal_duration_seconds",
            "Time from proposing a metadata change to its applied result",
            m.proposal_latency.clone(),
        );
        let h = m.proposal_latency.clone();
        m.meta.observe_proposals(Arc::new(move |d| h.observe(d.as_secs_f64())));
        registry.register("disk_online", "1 if the disk's shard directory is readable", m.disk_online.clone());
        registry.register("disk_total_bytes", "Size of the disk's filesystem", m.disk_total.clone());
        registry.register("disk_free_bytes", "Space available on the disk's filesystem", m.disk_free.clone());
        registry.register("disk_segment_bytes", "Bytes of the disk's segment files", m.segment_bytes.clone());
        registry.register(
            "disk_segment_live_bytes",
            "Bytes of segment records still in use (the rest is reclaimed by compaction)",
            m.segment_live.clone(),
        );
        registry.register(
            "disk_segment_records",
            "Segment records appended since the node started",
            m.segment_records.clone(),
        );
        registry.register(
            "disk_segment_syncs",
            "fdatasyncs of segment files since the node started (concurrent writes share them)",
            m.segment_syncs.clone(),
        );
        registry.register("pass_running", "1 while a heal or scrub pass runs on this node", m.pass_running.clone());
        registry.register(
            "pass_objects",
            "Objects done by the current (else last) heal or scrub pass",
            m.pass_objects.clone(),
        );
        registry.register(
            "pass_verified_bytes",
            "Shard bytes checked by the current (else last) heal or scrub pass",
            m.pass_bytes.clone(),
        );
        registry.register(
            "pass_shards_rewritten",
            "Shards rebuilt by the current (else last) heal or scrub pass",
            m.pass_rewritten.clone(),
        );
        registry.register(
            "pass_stripes",
            "Stripes of the current (else last) pass after healing, by state (whole, degraded, lost)",
            m.pass_stripes.clone(),
        );
        registry.register(
            "heal_on_read",
            "Blobs reported damaged by reads and writes, by outcome",
            m.heal_on_read.clone(),
        );
        registry.register("bucket_objects", "Objects in the bucket (current versions)", m.bucket_objects.clone());
        registry.register("bucket_bytes", "Bytes of the bucket's objects (current versions)", m.bucket_bytes.clone());
        registry.register(
            "tenant_used_bytes",
            "Bytes a tenant holds with its sub-tenants (versions, markers, parts in flight)",
            m.tenant_used_bytes.clone(),
        );
        registry.register(
            "tenant_used_objects",
            "Object versions a tenant holds with its sub-tenants",
            m.tenant_used_objects.clone(),
        );
        registry.register("tenant_quota_bytes", "Byte quota of a tenant (absent: none)", m.tenant_quota_bytes.clone());
        registry.register(
            "tenant_quota_objects",
            "Object quota of a tenant (absent: none)",
            m.tenant_quota_objects.clone(),
        );
        registry.register(
            "tenant_quota_warning_percent",
            "The highest warning threshold (percent of the byte or object quota) a tenant's usage has reached (0: none)",
            m.tenant_warning.clone(),
        );
        registry.register(
            "audit",
            "Audit records since the node started, by what became of them (written, dropped: the queue was full; webhook_sent, webhook_dropped: removed by retention before they were sent, webhook_failures: failed POSTs, webhook_backlog: written and not yet sent)",
            m.audit_gauges.clone(),
        );
        registry.register(
            "lifecycle",
            "What the lifecycle rules did since the cluster began (keys_scanned, expired, noncurrent_removed, markers_removed, uploads_aborted, skipped_changed, skipped_locked, transitioned, tiered_down, tiered_up) and passes finished, as the leader committed them",
            m.lifecycle.clone(),
        );
        registry.register(
            "events",
            "Bucket event notifications by target: queued (the backlog), delivered (acknowledged by the target), dropped (the backlog was full)",
            m.events.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Usage, quota and warning level of the tenants down to `metrics_tenant_depth`
    /// (1: the top-level ones, whose sub-tenants are inside them), at most
    /// [`MAX_TENANT_SERIES`] of them, so the label count stays bounded by the
    /// platform's customers, not their trees.
    fn render_tenants(&self) {
        for f in [
            &self.tenant_used_bytes,
            &self.tenant_used_objects,
            &self.tenant_quota_bytes,
            &self.tenant_quota_objects,
            &self.tenant_warning,
        ] {
            f.clear();
        }
        let mut level: Vec<Option<String>> = vec![None];
        let mut reported = 0;
        for _ in 0..self.tenant_depth {
            let mut next = Vec::new();
            for parent in &level {
                let room = MAX_TENANT_SERIES - reported;
                for t in self.meta.tenant_children(parent.as_deref(), None, room).unwrap_or_default() {
                    self.render_tenant(&t);
                    reported += 1;
                    next.push(Some(t.id));
                }
                if reported >= MAX_TENANT_SERIES {
                    return;
                }
            }
            level = next;
        }
    }

    fn render_tenant(&self, t: &cairn_raft::schema::Tenant) {
        let used = self.meta.pool_usage(&Pool::Tenant(t.id.clone())).unwrap_or_default();
        let l = TenantLabels { tenant: t.id.clone() };
        self.tenant_used_bytes.get_or_create(&l).set(used.bytes);
        self.tenant_used_objects.get_or_create(&l).set(used.objects);
        if let Some(b) = t.quota.bytes {
            self.tenant_quota_bytes.get_or_create(&l).set(b);
        }
        if let Some(o) = t.quota.objects {
            self.tenant_quota_objects.get_or_create(&l).set(o);
        }
        let warning = cairn_raft::quota::highest_warning(t, used);
        self.tenant_warning.get_or_create(&l).set(u64::from(warning));
    }

    pub fn start(&self) {
        self.in_flight.inc();
    }

    pub fn finish(&self, op: &str, status: u16, seconds: f64, bytes_in: u64, bytes_out: u64) {
        self.in_flight.dec();
        self.requests.get_or_create(&RequestLabels { op: op.to_string(), status }).inc();
        self.latency.get_or_create(&OpLabels { op: op.to_string() }).observe(seconds);
        self.bytes_in.inc_by(bytes_in);
        self.bytes_out.inc_by(bytes_out);
    }

    pub fn rejected(&self) {
        self.rejected.inc();
    }

    fn render_lifecycle(&self) {
        let raw = self.meta.service_state(cairn_object::lifecycle::WORKER_STATE).ok().flatten();
        let st: cairn_api::lifecycle::LifecycleStatus =
            raw.and_then(|v| serde_json::from_slice(&v).ok()).unwrap_or_default();
        let t = &st.totals;
        for (what, n) in [
            ("keys_scanned", t.keys_scanned),
            ("expired", t.expired),
            ("noncurrent_removed", t.noncurrent_removed),
            ("markers_removed", t.markers_removed),
            ("uploads_aborted", t.uploads_aborted),
            ("transitioned", t.transitioned),
            ("tiered_down", t.tiered_down),
            ("tiered_up", t.tiered_up),
            ("skipped_changed", t.skipped_changed),
            ("skipped_locked", t.skipped_locked),
            ("passes", st.passes),
        ] {
            self.lifecycle.get_or_create(&LifecycleLabels { what: what.to_string() }).set(n as i64);
        }
    }

    /// The text exposition, with Raft state read at scrape time.
    pub fn render(&self) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        let a = &self.audit;
        for (what, v) in [
            ("written", &a.written),
            ("dropped", &a.dropped),
            ("webhook_sent", &a.webhook_sent),
            ("webhook_dropped", &a.webhook_dropped),
            ("webhook_failures", &a.webhook_failures),
            ("webhook_backlog", &a.webhook_backlog),
        ] {
            self.audit_gauges.get_or_create(&AuditLabels { state: what.to_string() }).set(v.load(Relaxed) as i64);
        }
        self.render_lifecycle();
        self.events.clear();
        for (target, q) in self.meta.event_queues().unwrap_or_default() {
            for (state, n) in [("queued", q.queued()), ("delivered", q.delivered), ("dropped", q.dropped)] {
                self.events.get_or_create(&EventLabels { target: target.clone(), state }).set(n as i64);
            }
        }
        let m = self.meta.metrics();
        self.raft_leader.set(i64::from(m.current_leader == Some(m.id)));
        self.raft_term.set(m.current_term);
        self.raft_last_log.set(m.last_log_index.unwrap_or(0));
        self.raft_applied.set(m.last_applied.map(|l| l.index).unwrap_or(0));
        for d in self.disks.usage() {
            let labels = DiskLabels { disk: d.index.to_string(), path: d.root.display().to_string() };
            self.disk_online.get_or_create(&labels).set(i64::from(d.online));
            self.disk_total.get_or_create(&labels).set(d.total_bytes);
            self.disk_free.get_or_create(&labels).set(d.free_bytes);
            if let Some(seg) = &d.segments {
                self.segment_bytes.get_or_create(&labels).set(seg.bytes);
                self.segment_live.get_or_create(&labels).set(seg.live_bytes);
                self.segment_records.get_or_create(&labels).set(seg.appended);
                self.segment_syncs.get_or_create(&labels).set(seg.syncs);
            }
        }
        // Rebuilt at every scrape, so deleted buckets drop out.
        self.bucket_objects.clear();
        self.bucket_bytes.clear();
        for (bucket, u) in self.meta.all_usage().unwrap_or_default() {
            let l = BucketLabels { bucket };
            self.bucket_objects.get_or_create(&l).set(u.objects);
            self.bucket_bytes.get_or_create(&l).set(u.bytes);
        }
        self.render_tenants();
        let g = self.durability.gauges();
        for (pass, running, status) in [("heal", g.heal_running, Some(g.heal)), ("scrub", g.scrub_running, g.scrub)] {
            let l = PassLabels { pass };
            self.pass_running.get_or_create(&l).set(i64::from(running));
            let s = status.unwrap_or_default();
            self.pass_objects.get_or_create(&l).set(s.objects);
            self.pass_bytes.get_or_create(&l).set(s.bytes_verified);
            self.pass_rewritten.get_or_create(&l).set(s.shards_rewritten);
            for (state, n) in [("whole", s.stripes.whole), ("degraded", s.stripes.degraded), ("lost", s.stripes.lost)] {
                self.pass_stripes.get_or_create(&StripeLabels { pass, state }).set(n);
            }
        }
        let r = g.on_read;
        for (result, n) in [
            ("reported", r.reported),
            ("healed", r.healed),
            ("already_whole", r.already_whole),
            ("failed", r.failed),
            ("dropped", r.dropped),
            ("pending", r.pending),
        ] {
            self.heal_on_read.get_or_create(&ResultLabels { result }).set(n);
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The S3 operation a request asks for, guessed from its method, path and query:
/// the name logs and metrics use when s3s never routed the request (refused by the
/// gate or before authorization). Routed requests are named by the authorizer,
/// exactly as s3s names them. Unknown shapes are "Other"; Cairn's own endpoints
/// are "CairnApi".
pub fn operation(method: &http::Method, path: &str, query: Option<&str>, vhost_bucket: bool) -> &'static str {
    if !vhost_bucket && (path == "/cairn" || path.starts_with("/cairn/")) {
        return "CairnApi";
    }
    let has = |name: &str| query.is_some_and(|q| q.split('&').any(|kv| kv.split('=').next() == Some(name)));
    let segments = path.trim_start_matches('/');
    let (bucket, key) = match segments.split_once('/') {
        _ if vhost_bucket => (true, !segments.is_empty()),
        Some((_, k)) => (true, !k.is_empty()),
        None => (!segments.is_empty(), false),
    };
    use http::Method as M;
    match (method, bucket, key) {
        (&M::GET, false, _) => "ListBuckets",
        (&M::GET, true, false) if has("location") => "GetBucketLocation",
        (&M::GET, true, false) if has("versions") => "ListObjectVersions",
        (&M::GET, true, false) if has("uploads") => "ListMultipartUploads",
        (&M::GET, true, false) if has("list-type") => "ListObjectsV2",
        (&M::GET, true, false) => "ListObjects",
        (&M::PUT, true, false) => "CreateBucket",
        (&M::HEAD, true, false) => "HeadBucket",
        (&M::DELETE, true, false) => "DeleteBucket",
        (&M::POST, true, false) if has("delete") => "DeleteObjects",
        (&M::GET, true, true) if has("uploadId") => "ListParts",
        (&M::GET, true, true) => "GetObject",
        (&M::HEAD, true, true) => "HeadObject",
        (&M::PUT, true, true) if has("uploadId") => "UploadPart",
        (&M::PUT, true, true) => "PutObject",
        (&M::POST, true, true) if has("uploads") => "CreateMultipartUpload",
        (&M::POST, true, true) if has("uploadId") => "CompleteMultipartUpload",
        (&M::DELETE, true, true) if has("uploadId") => "AbortMultipartUpload",
        (&M::DELETE, true, true) => "DeleteObject",
        _ => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn classifies_operations() {
        let op = |m: Method, p: &str, q: Option<&str>| operation(&m, p, q, false);
        assert_eq!(op(Method::GET, "/", None), "ListBuckets");
        assert_eq!(op(Method::PUT, "/b", None), "CreateBucket");
        assert_eq!(op(Method::GET, "/b", Some("list-type=2&prefix=a")), "ListObjectsV2");
        assert_eq!(op(Method::GET, "/b/", None), "ListObjects");
        assert_eq!(op(Method::GET, "/b", Some("location")), "GetBucketLocation");
        assert_eq!(op(Method::PUT, "/b/k/x", None), "PutObject");
        assert_eq!(op(Method::PUT, "/b/k", Some("partNumber=1&uploadId=u")), "UploadPart");
        assert_eq!(op(Method::POST, "/b/k", Some("uploads")), "CreateMultipartUpload");
        assert_eq!(op(Method::POST, "/b", Some("delete")), "DeleteObjects");
        assert_eq!(operation(&Method::GET, "/k", None, true), "GetObject");
        assert_eq!(operation(&Method::GET, "/", Some("list-type=2"), true), "ListObjectsV2");
        assert_eq!(op(Method::GET, "/cairn/admin/v1/usage", None), "CairnApi");
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct EventLabels {
    target: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct LifecycleLabels {
    what: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct AuditLabels {
    state: String,
}
