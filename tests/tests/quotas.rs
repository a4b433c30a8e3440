//! Tenants and quotas end to end: real `cairnd` processes driven by the `cairn` CLI,
//! the tenant API and `aws-sdk-s3`. A studio with a production and a department, a
//! tenant admin that cannot step outside its subtree (nor onto its sibling) and whose
//! deleted keys S3 refuses at once, versions and delete markers counted in a
//! versioned bucket, usage lists paged by cursor, limits on a key, a bucket, a
//! tenant and an ancestor refused with S3's 403 `QuotaExceeded`, a body that cannot
//! fit refused before it is sent, multipart parts counted while in flight and given
//! back when the upload expires; warning thresholds in the log and `/metrics`, usage
//! history, exact usage on a node that caught up from a snapshot; and 64 writers
//! through three nodes that never pass a tenant's quota by one byte.

use cairn_tests::aws_sdk_s3::primitives::ByteStream;
use cairn_tests::aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use cairn_tests::cluster::{cairn, cli_json, stderr, stdout, TestCluster};
use cairn_tests::*;
use cairn_tests::{expect_status as expect, v1_json as v1};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

const ROOT: (&str, &str) = (ROOT_ACCESS_KEY, ROOT_SECRET_KEY);
const KIB: u64 = 1024;

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

fn client_as(endpoint: &str, (ak, sk): (&str, &str)) -> cairn_tests::aws_sdk_s3::Client {
    ClientBuilder::new(endpoint).credentials(ak, sk).build()
}

async fn put(c: &cairn_tests::aws_sdk_s3::Client, bucket: &str, key: &str, len: u64) -> Result<(), ErrInfo> {
    let body = ByteStream::from(random_bytes(len, len as usize));
    c.put_object().bucket(bucket).key(key).body(body).send().await.map(|_| ()).map_err(|e| ErrInfo::from_sdk(&e))
}

fn used(v: &Value) -> (u64, u64) {
    (v["used"]["bytes"].as_u64().unwrap(), v["used"]["objects"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_keys_and_every_kind_of_limit() {
    within(240, async {
        let node = TestNode::start();
        let ep = node.endpoint().to_string();

        // Root builds the studio with the CLI; sizes are human both ways.
        let studio = cli_json(&ep, &["tenant", "create", "Studio", "--id", "studio", "--quota-bytes", "1MiB"]);
        assert_eq!(studio["quota"]["bytes"], 1 << 20);
        let again = cli_json(&ep, &["tenant", "create", "Studio", "--id", "studio", "--quota-bytes", "1MiB"]);
        assert_eq!(again["id"], "studio", "the same id again is a replay");
        let out = cairn(&ep, &["tenant", "create", "Other", "--id", "studio"]);
        assert!(!out.status.success() && stderr(&out).contains("TenantAlreadyExists"), "{}", stderr(&out));
        cli_json(&ep, &["tenant", "create", "Prod", "--id", "prod", "--parent", "studio", "--quota-bytes", "600KiB"]);
        cli_json(&ep, &["tenant", "create", "Rival", "--id", "rival", "--quota-bytes", "1GB"]);
        let out = cairn(&ep, &["tenant", "create", "Greedy", "--parent", "studio", "--quota-bytes", "500KiB"]);
        assert!(!out.status.success() && stderr(&out).contains("QuotaExceedsParent"), "carving: {}", stderr(&out));
        let info = cairn(&ep, &["tenant", "info", "prod"]);
        let text = stdout(&info);
        assert!(text.contains("studio / prod") && text.contains("600.00 KiB"), "{text}");

        // A tenant admin of the studio works inside it and nowhere else.
        let admin = cli_json(&ep, &["key", "create", "--tenant", "studio", "--tenant-admin", "--name", "studio-admin"]);
        let (aid, asec) = creds_of(&admin);
        let ta = (aid.as_str(), asec.as_str());
        let dept = expect(
            "tenant admin creates a department",
            v1(&ep, ta, "POST", "tenants", json!({"name": "Dept", "id": "dept", "parent": "prod"})).await,
            201,
        );
        assert_eq!(dept["path"], json!(["studio", "prod", "dept"]));
        let listed = expect("list", v1(&ep, ta, "GET", "tenants", Value::Null).await, 200);
        assert_eq!(listed["tenants"][0]["id"], "studio", "a tenant admin lists its own tenant");
        for (method, op, body) in [
            ("GET", "tenants/rival", Value::Null),
            ("GET", "tenants/rival/usage", Value::Null),
            ("POST", "tenants", json!({"name": "x", "parent": "rival"})),
            ("POST", "tenants/rival/keys", json!({})),
            ("PUT", "tenants/rival/quota", json!({"quota": {"bytes": 1}})),
            ("DELETE", "tenants/rival", Value::Null),
            ("PUT", "tenants/studio/quota", json!({"quota": {"bytes": 1u64 << 40}})),
            ("DELETE", "tenants/studio", Value::Null),
            ("POST", "tenants", json!({"name": "top"})),
        ] {
            let (status, v) = v1(&ep, ta, method, op, body).await;
            assert!(status == 403 || status == 400, "{method} {op}: {status} {v}");
            assert!(code(&v) == "AccessDenied" || code(&v) == "InvalidRequest", "{method} {op}: {v}");
        }
        assert_eq!(
            expect("rival untouched", v1(&ep, ROOT, "GET", "tenants/rival", Value::Null).await, 200)["quota"]["bytes"],
            1_000_000_000u64
        );

        // An editor key in the department, made by the tenant admin, with its own limit.
        let editor = expect(
            "editor key",
            v1(&ep, ta, "POST", "tenants/dept/keys", json!({"name": "editor", "quota": {"bytes": 300 * KIB}})).await,
            201,
        );
        let (eid, esec) = creds_of(&editor);
        let ed = (eid.as_str(), esec.as_str());
        let (status, v) = v1(&ep, ed, "GET", "tenants/dept", Value::Null).await;
        assert_eq!((status, code(&v)), (403, "AccessDenied"), "an ordinary key has no tenant API");

        let c = client_as(&ep, ed);
        c.create_bucket().bucket("dept-media").send().await.unwrap();
        let q = expect("bucket quota", v1(&ep, ta, "GET", "buckets/dept-media/quota", Value::Null).await, 200);
        assert_eq!(q["tenant"], "dept", "a bucket belongs to its creator's tenant");

        // The key's limit: 200 KiB fit, 150 KiB more do not.
        put(&c, "dept-media", "a", 200 * KIB).await.unwrap();

        // Another key of the department lists the department's buckets as its own, but
        // reading them still takes a policy: tenancy loosens no access. Keys outside the
        // department (its tenant admin belongs to the studio) do not list them.
        let colleague =
            expect("colleague key", v1(&ep, ta, "POST", "tenants/dept/keys", json!({"name": "colleague"})).await, 201);
        let (cid, csec) = creds_of(&colleague);
        let cc = client_as(&ep, (cid.as_str(), csec.as_str()));
        let names = |r: cairn_tests::aws_sdk_s3::operation::list_buckets::ListBucketsOutput| {
            r.buckets().iter().filter_map(|b| b.name().map(String::from)).collect::<Vec<_>>()
        };
        cc.create_bucket().bucket("dept-notes").send().await.unwrap();
        assert_eq!(names(cc.list_buckets().send().await.unwrap()), ["dept-media", "dept-notes"]);
        let paged = cc.list_buckets().max_buckets(1).send().await.unwrap();
        let token = paged.continuation_token().expect("a second page").to_string();
        assert_eq!(names(paged), ["dept-media"]);
        let rest = cc.list_buckets().max_buckets(1).continuation_token(token).send().await.unwrap();
        assert_eq!(names(rest), ["dept-notes"]);
        assert_eq!(names(c.list_buckets().prefix("dept-n").send().await.unwrap()), ["dept-notes"]);
        assert_s3_err(
            "a colleague reads nothing without a policy",
            cc.get_object().bucket("dept-media").key("a").send().await,
            403,
            "AccessDenied",
        );
        assert!(names(client_as(&ep, ta).list_buckets().send().await.unwrap()).is_empty());
        cc.delete_bucket().bucket("dept-notes").send().await.unwrap();
        let shards = || node.disk_dirs().iter().flat_map(|d| stored_shards(d)).collect::<Vec<_>>();
        let stored = shards();
        let e = put(&c, "dept-media", "b", 150 * KIB).await.unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (Some(403), Some("QuotaExceeded")), "{e:?}");
        assert_eq!(shards(), stored, "a refused small body is read and dropped, never stored");
        assert!(e.message.as_deref().unwrap_or("").contains(&format!("access key {eid}")), "{e:?}");
        assert!(e.message.as_deref().unwrap_or("").contains(&format!("{} bytes are left", 100 * KIB)), "{e:?}");
        assert_s3_err(
            "the refused key is absent",
            c.head_object().bucket("dept-media").key("b").send().await,
            404,
            "NotFound",
        );

        // A body that cannot fit is refused before it is sent: 100 GB announced, none sent.
        let url = format!("{ep}/dept-media/huge");
        let len = (100u64 << 30).to_string();
        let headers = [("content-length", len.as_str())];
        let mut all: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        all.extend(sigv4_headers("PUT", &url, &headers, Payload::Unsigned, SystemTime::now(), Some(ed)));
        let (tx, body) = ChannelBody::new(100 << 30);
        let mut req = raw_http().put(&url).body(reqwest::Body::wrap(body));
        for (k, v) in &all {
            req = req.header(k, v);
        }
        let r =
            tokio::time::timeout(Duration::from_secs(15), req.send()).await.expect("an answer before any body byte");
        drop(tx);
        let r = r.unwrap();
        assert_eq!(r.status(), 403);
        assert_eq!(xml_error_code(&r.text().await.unwrap()).as_deref(), Some("QuotaExceeded"));

        // Raise the key's limit: now prod (600 KiB), an ancestor, binds.
        expect(
            "key quota",
            v1(&ep, ta, "PUT", &format!("tenants/dept/keys/{eid}/quota"), json!({"quota": {"bytes": 10u64 << 20}}))
                .await,
            200,
        );
        put(&c, "dept-media", "b", 350 * KIB).await.unwrap();
        let e = put(&c, "dept-media", "c", 60 * KIB).await.unwrap_err();
        assert_eq!(e.code.as_deref(), Some("QuotaExceeded"));
        let msg = e.message.unwrap_or_default();
        assert!(msg.contains("tenant prod (an ancestor of the bucket's tenant dept)"), "{msg}");
        // Deletes are never refused and give space back at once; overwrites count the difference.
        c.delete_object().bucket("dept-media").key("b").send().await.unwrap();
        put(&c, "dept-media", "a", 100 * KIB).await.unwrap();
        let u = expect("usage", v1(&ep, ta, "GET", "tenants/dept/usage", Value::Null).await, 200);
        assert_eq!(used(&u["tenant"]), (100 * KIB, 1));
        assert_eq!(used(&u["buckets"][0]), (100 * KIB, 1));

        // The bucket's own limit.
        let out = cairn(&ep, &["bucket", "quota", "dept-media", "--bytes", "150KiB"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let e = put(&c, "dept-media", "d", 60 * KIB).await.unwrap_err();
        assert!(e.message.unwrap_or_default().contains("bucket dept-media"));
        let out = cairn(&ep, &["bucket", "quota", "dept-media", "--clear"]);
        assert!(out.status.success() && stdout(&out).contains("of none"), "{}", stdout(&out));

        // Multipart: a part counts from its commit; abort gives it back.
        let up = c.create_multipart_upload().bucket("dept-media").key("mp").send().await.unwrap();
        let id = up.upload_id().unwrap();
        c.upload_part()
            .bucket("dept-media")
            .key("mp")
            .upload_id(id)
            .part_number(1)
            .body(ByteStream::from(random_bytes(1, (300 * KIB) as usize)))
            .send()
            .await
            .unwrap();
        let dept_now = cli_json(&ep, &["tenant", "info", "dept"]);
        assert_eq!(used(&dept_now), (400 * KIB, 1), "the part in flight counts");
        let e = c
            .upload_part()
            .bucket("dept-media")
            .key("mp")
            .upload_id(id)
            .part_number(2)
            .body(ByteStream::from(random_bytes(2, (250 * KIB) as usize)))
            .send()
            .await
            .map_err(|e| ErrInfo::from_sdk(&e))
            .unwrap_err();
        assert_eq!(e.code.as_deref(), Some("QuotaExceeded"), "a part that cannot fit");
        c.abort_multipart_upload().bucket("dept-media").key("mp").upload_id(id).send().await.unwrap();
        assert_eq!(used(&cli_json(&ep, &["tenant", "info", "dept"])), (100 * KIB, 1));

        // Completion counts only the difference, and the version belongs to the uploader.
        let up = c.create_multipart_upload().bucket("dept-media").key("mp").send().await.unwrap();
        let id = up.upload_id().unwrap();
        let p = c
            .upload_part()
            .bucket("dept-media")
            .key("mp")
            .upload_id(id)
            .part_number(1)
            .body(ByteStream::from(random_bytes(3, (200 * KIB) as usize)))
            .send()
            .await
            .unwrap();
        let parts = CompletedMultipartUpload::builder()
            .parts(CompletedPart::builder().part_number(1).e_tag(p.e_tag().unwrap()).build())
            .build();
        c.complete_multipart_upload()
            .bucket("dept-media")
            .key("mp")
            .upload_id(id)
            .multipart_upload(parts)
            .send()
            .await
            .unwrap();
        assert_eq!(used(&cli_json(&ep, &["tenant", "info", "dept"])), (300 * KIB, 2));
        let keys = expect("keys", v1(&ep, ta, "GET", "tenants/dept/keys", Value::Null).await, 200);
        let editor_row = keys["keys"].as_array().unwrap().iter().find(|k| k["access_key_id"] == eid.as_str()).unwrap();
        assert_eq!(used(editor_row), (300 * KIB, 2));

        // A tenant with buckets, keys or children cannot go; the CLI reads the usage.
        let (status, v) = v1(&ep, ROOT, "DELETE", "tenants/dept", Value::Null).await;
        assert_eq!((status, code(&v)), (409, "TenantNotEmpty"));
        let out = cairn(&ep, &["tenant", "usage", "prod"]);
        assert!(out.status.success() && stdout(&out).contains("dept"), "{}", stdout(&out));
        let out = cairn(&ep, &["tenant", "ls", "--parent", "studio"]);
        assert!(stdout(&out).contains("prod"), "{}", stdout(&out));

        // Usage is exact after a restart (the pools are rebuilt or kept as applied).
        let before = cli_json(&ep, &["tenant", "info", "studio"]);
        let mut node = node;
        node.restart(false);
        node.wait_ready(Duration::from_secs(30)).await;
        assert_eq!(used(&cli_json(node.endpoint(), &["tenant", "info", "studio"])), used(&before));
    })
    .await;
}

/// How many times the race runs (`QUOTA_ROUNDS`, default 20).
fn rounds() -> usize {
    std::env::var("QUOTA_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(20)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_writers_through_three_nodes_never_pass_the_quota() {
    within(900, async {
        let cluster = TestCluster::start(3);
        let eps: Vec<String> = cluster.nodes.iter().map(|n| n.endpoint().to_string()).collect();
        const QUOTA: u64 = 1 << 20;
        cli_json(&eps[0], &["tenant", "create", "Small", "--id", "small", "--quota-bytes", "1MiB"]);
        cli_json(&eps[0], &["tenant", "create", "Team", "--id", "team", "--parent", "small"]);
        let key = cli_json(&eps[0], &["key", "create", "--tenant", "team"]);
        let (kid, ksec) = creds_of(&key);
        let clients: Vec<_> = eps.iter().map(|e| client_as(e, (&kid, &ksec))).collect();
        clients[0].create_bucket().bucket("race").send().await.unwrap();
        put(&clients[0], "race", "seed", 30 * KIB).await.unwrap();

        for round in 0..rounds() {
            // Writers through every node: single PUTs, copies of the seed, one-part uploads.
            let tasks: Vec<_> = (0..64u64)
                .map(|i| {
                    let c = clients[(i % 3) as usize].clone();
                    let key = format!("r{round}/{i}");
                    let size = 5 * KIB + (i * 7919 + round as u64 * 104_729) % (40 * KIB);
                    tokio::spawn(async move {
                        let r = match i % 4 {
                            0 => c
                                .copy_object()
                                .bucket("race")
                                .key(&key)
                                .copy_source("race/seed")
                                .send()
                                .await
                                .map(|_| 30 * KIB)
                                .map_err(|e| ErrInfo::from_sdk(&e)),
                            1 => {
                                let up = c.create_multipart_upload().bucket("race").key(&key).send().await.unwrap();
                                let id = up.upload_id().unwrap().to_string();
                                let part = c
                                    .upload_part()
                                    .bucket("race")
                                    .key(&key)
                                    .upload_id(&id)
                                    .part_number(1)
                                    .body(ByteStream::from(random_bytes(i, size as usize)))
                                    .send()
                                    .await;
                                match part {
                                    Ok(p) => {
                                        let parts = CompletedMultipartUpload::builder()
                                            .parts(
                                                CompletedPart::builder()
                                                    .part_number(1)
                                                    .e_tag(p.e_tag().unwrap())
                                                    .build(),
                                            )
                                            .build();
                                        c.complete_multipart_upload()
                                            .bucket("race")
                                            .key(&key)
                                            .upload_id(&id)
                                            .multipart_upload(parts)
                                            .send()
                                            .await
                                            .map(|_| size)
                                            .map_err(|e| ErrInfo::from_sdk(&e))
                                    }
                                    Err(e) => {
                                        c.abort_multipart_upload()
                                            .bucket("race")
                                            .key(&key)
                                            .upload_id(&id)
                                            .send()
                                            .await
                                            .unwrap();
                                        Err(ErrInfo::from_sdk(&e))
                                    }
                                }
                            }
                            _ => put(&c, "race", &key, size).await.map(|_| size),
                        };
                        (key, r)
                    })
                })
                .collect();
            let mut accepted = 30 * KIB; // the seed
            let mut refused = 0;
            for t in tasks {
                let (key, r) = t.await.unwrap();
                match r {
                    Ok(size) => accepted += size,
                    Err(e) => {
                        assert_eq!((e.status, e.code.as_deref()), (Some(403), Some("QuotaExceeded")), "{key}: {e:?}");
                        refused += 1;
                    }
                }
            }
            assert!(refused > 0, "round {round}: 64 writers of ~25 KiB each must meet a 1 MiB quota");
            assert!(accepted <= QUOTA, "round {round}: {accepted} bytes accepted past {QUOTA}");
            // Usage, read through another node right away, is exactly what is stored.
            let reader = &eps[(round + 1) % 3];
            let small = cli_json(reader, &["tenant", "info", "small"]);
            let listed = clients[round % 3].list_objects_v2().bucket("race").send().await.unwrap();
            let stored: u64 = listed.contents().iter().map(|o| o.size().unwrap_or(0) as u64).sum();
            assert_eq!(stored, accepted, "round {round}: what is stored is what was acknowledged");
            assert_eq!(used(&small).0, stored, "round {round}: usage is exact");
            for o in listed.contents() {
                if o.key() != Some("seed") {
                    clients[0].delete_object().bucket("race").key(o.key().unwrap()).send().await.unwrap();
                }
            }
            assert_eq!(used(&cli_json(reader, &["tenant", "info", "team"])).0, 30 * KIB);
        }

        // A write acknowledged by one node shows in the usage another node answers at once.
        put(&clients[0], "race", "late", 10 * KIB).await.unwrap();
        let u = expect("usage on a follower", v1(&eps[2], ROOT, "GET", "tenants/small/usage", Value::Null).await, 200);
        assert_eq!(used(&u["tenant"]), (40 * KIB, 2));
    })
    .await;
}

/// The tenant's history samples through `ep`, as (bytes, objects).
fn history(ep: &str, tenant: &str, daily: bool) -> Vec<(u64, u64)> {
    let mut args = vec!["tenant", "usage", tenant, "--history"];
    if daily {
        args.push("--daily");
    }
    let h = cli_json(ep, &args);
    h["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["bytes"].as_u64().unwrap(), s["objects"].as_u64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_history_and_usage_after_a_snapshot_install() {
    within(300, async {
        // Short "hours" for the history; snapshots every 20 entries, so a node that
        // joins late can only catch up from one.
        let flags = [
            "--raft-snapshot-every",
            "20",
            "--usage-sample-secs",
            "2",
            "--metrics-tenant-depth",
            "2",
            "--multipart-expiry-secs",
            "3",
        ];
        let mut cluster = TestCluster::start_with(2, &flags);
        let ep = cluster.nodes[0].endpoint().to_string();
        let studio = cli_json(
            &ep,
            &["tenant", "create", "Studio", "--id", "studio", "--quota-bytes", "100000", "--warn", "50,90"],
        );
        assert_eq!(studio["warn_percent"], json!([50, 90]));
        cli_json(&ep, &["tenant", "create", "Prod", "--id", "prod", "--parent", "studio"]);
        let key = cli_json(&ep, &["key", "create", "--tenant", "prod"]);
        let (kid, ksec) = creds_of(&key);
        let c = client_as(&ep, (&kid, &ksec));
        c.create_bucket().bucket("dailies").send().await.unwrap();
        for i in 0..60 {
            put(&c, "dailies", &format!("shot{i:02}"), 1000).await.unwrap();
        }

        // 60,000 of 100,000 bytes: past 50%, short of 90%. Both nodes applied the
        // crossing and logged it; /metrics shows the level, and prod (depth 2) too.
        for node in &cluster.nodes {
            let log = node.log_text();
            assert!(log.contains("tenant studio reached 50% of its byte quota"), "{}", node.log_tail(30));
            assert!(!log.contains("reached 90%"), "{}", node.log_tail(30));
        }
        let metrics = raw_http().get(format!("{ep}/metrics")).send().await.unwrap().text().await.unwrap();
        for line in [
            "cairn_tenant_quota_warning_percent{tenant=\"studio\"} 50",
            "cairn_tenant_used_bytes{tenant=\"studio\"} 60000",
            "cairn_tenant_used_bytes{tenant=\"prod\"} 60000",
            "cairn_tenant_quota_warning_percent{tenant=\"prod\"} 0",
        ] {
            assert!(metrics.lines().any(|l| l == line), "/metrics lacks `{line}`:\n{metrics}");
        }

        // The leader samples every tenant's usage once per "hour" (2 s here).
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !history(&ep, "studio", false).contains(&(60000, 60)) {
            assert!(
                std::time::Instant::now() < deadline,
                "no sample of 60000 bytes: {:?}",
                history(&ep, "studio", false)
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(history(&ep, "prod", true).contains(&(60000, 60)), "the day's sample");
        let out = cairn(&ep, &["tenant", "usage", "studio", "--history"]);
        assert!(stdout(&out).contains("58.59 KiB"), "human sizes: {}", stdout(&out));
        let (status, v) = v1(&ep, ROOT, "GET", "tenants/studio/usage/history?period=weekly", Value::Null).await;
        assert_eq!((status, code(&v)), (400, "InvalidRequest"), "{v}");

        // An upload in flight counts from its first part; its expiry gives the space back.
        let up = c.create_multipart_upload().bucket("dailies").key("raw").send().await.unwrap();
        let part = ByteStream::from(vec![7u8; 20000]);
        let upload_id = up.upload_id().unwrap();
        c.upload_part()
            .bucket("dailies")
            .key("raw")
            .upload_id(upload_id)
            .part_number(1)
            .body(part)
            .send()
            .await
            .unwrap();
        assert_eq!(used(&cli_json(&ep, &["tenant", "info", "prod"])), (80000, 60), "the part counts at once");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let now = used(&cli_json(&ep, &["tenant", "info", "studio"]));
            if now == (60000, 60) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the expired upload still counts: {now:?}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }

        // A node that joins now catches up from a snapshot: its pools are rebuilt and
        // exact, and the history came with the snapshot.
        let (late, addr) = cairn_tests::cluster::start_node(&flags);
        let out = cairn(late.endpoint(), &["cluster", "join", "--token", &cluster.token, &cluster.node_addrs[0]]);
        assert!(out.status.success(), "join: {}{}", stderr(&out), late.log_tail(20));
        cluster.nodes.push(late);
        cluster.node_addrs.push(addr);
        cluster.wait_formed(Duration::from_secs(30));
        let late_ep = cluster.nodes[2].endpoint().to_string();
        assert!(cluster.nodes[2].log_text().contains("installed snapshot"), "{}", cluster.nodes[2].log_tail(30));
        for id in ["studio", "prod"] {
            let info = cli_json(&late_ep, &["tenant", "info", id]);
            assert_eq!(used(&info), (60000, 60), "{id} through the late node");
        }
        assert!(history(&late_ep, "studio", false).contains(&(60000, 60)));
        // One more write through the late node counts everywhere at once.
        put(&client_as(&late_ep, (&kid, &ksec)), "dailies", "late", 31000).await.unwrap();
        assert_eq!(used(&cli_json(&ep, &["tenant", "info", "studio"])), (91000, 61));
        let log = cluster.nodes[2].log_text();
        assert!(log.contains("tenant studio reached 90% of its byte quota"), "{}", cluster.nodes[2].log_tail(30));
    })
    .await;
}

/// A tenant admin of a production (`prod`) works in its own subtree (creates a
/// sub-tenant, creates and deletes keys, sets a quota, reads usage) and is refused,
/// with 403 `AccessDenied`, on every one of those on its sibling `promo`, on its
/// parent, and on its own quota. A key it deletes is refused by S3 at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_production_admin_is_refused_on_its_sibling() {
    within(120, async {
        let node = TestNode::start();
        let ep = node.endpoint().to_string();
        cli_json(&ep, &["tenant", "create", "Studio", "--id", "studio", "--quota-bytes", "1MiB"]);
        cli_json(&ep, &["tenant", "create", "Prod", "--id", "prod", "--parent", "studio", "--quota-bytes", "400KiB"]);
        cli_json(&ep, &["tenant", "create", "Promo", "--id", "promo", "--parent", "studio", "--quota-bytes", "200KiB"]);
        cli_json(&ep, &["tenant", "create", "Spots", "--id", "spots", "--parent", "promo"]);
        let admin = cli_json(&ep, &["key", "create", "--tenant", "prod", "--tenant-admin", "--name", "prod-admin"]);
        let (aid, asec) = creds_of(&admin);
        let pa = (aid.as_str(), asec.as_str());
        // The sibling's own key, with a bucket and an object in it.
        let promo_key = cli_json(&ep, &["key", "create", "--tenant", "promo", "--name", "promo-editor"]);
        let (pid, psec) = creds_of(&promo_key);
        let promo = client_as(&ep, (pid.as_str(), psec.as_str()));
        promo.create_bucket().bucket("promo-cuts").send().await.unwrap();
        put(&promo, "promo-cuts", "teaser", 10 * KIB).await.unwrap();

        // Inside its subtree: everything a tenant admin may do.
        let sub = expect(
            "a sub-tenant of prod",
            v1(&ep, pa, "POST", "tenants", json!({"name": "Trailers", "id": "trailers", "parent": "prod"})).await,
            201,
        );
        assert_eq!(sub["path"], json!(["studio", "prod", "trailers"]));
        let set = expect(
            "the sub-tenant's quota",
            v1(&ep, pa, "PUT", "tenants/trailers/quota", json!({"quota": {"bytes": 150 * KIB}})).await,
            200,
        );
        assert_eq!(set["quota"]["bytes"], 150 * KIB);
        let cutter = expect(
            "a key in the sub-tenant",
            v1(&ep, pa, "POST", "tenants/trailers/keys", json!({"name": "cutter", "quota": {"bytes": 50 * KIB}})).await,
            201,
        );
        let (cid, csec) = creds_of(&cutter);
        let key_quota = expect(
            "the key's quota",
            v1(&ep, pa, "PUT", &format!("tenants/trailers/keys/{cid}/quota"), json!({"quota": {"bytes": 60 * KIB}}))
                .await,
            200,
        );
        assert_eq!(key_quota["quota"]["bytes"], 60 * KIB);
        let u = expect("its own usage", v1(&ep, pa, "GET", "tenants/prod/usage", Value::Null).await, 200);
        assert_eq!(u["children"][0]["id"], "trailers");
        expect("a child's usage", v1(&ep, pa, "GET", "tenants/trailers/usage", Value::Null).await, 200);
        expect("its children", v1(&ep, pa, "GET", "tenants/prod/usage/children", Value::Null).await, 200);

        // The key works until the tenant admin deletes it; then S3 refuses it at once.
        let cutter_s3 = client_as(&ep, (cid.as_str(), csec.as_str()));
        cutter_s3.list_buckets().send().await.expect("the new key signs S3 requests");
        let gone = expect(
            "delete a key of the sub-tenant",
            v1(&ep, pa, "DELETE", &format!("tenants/trailers/keys/{cid}"), Value::Null).await,
            200,
        );
        assert_eq!(gone["deleted"], cid.as_str());
        assert_s3_err("a deleted key", cutter_s3.list_buckets().send().await, 403, "InvalidAccessKeyId");
        let keys = expect("keys left", v1(&ep, pa, "GET", "tenants/trailers/keys", Value::Null).await, 200);
        assert_eq!(keys["keys"], json!([]));
        let (status, v) = v1(&ep, pa, "DELETE", &format!("tenants/trailers/keys/{cid}"), Value::Null).await;
        assert_eq!((status, code(&v)), (404, "NoSuchKey"), "deleted twice: {v}");

        // The sibling, its child, and its key: all refused.
        let denied = [
            ("GET", "tenants/promo".to_string(), Value::Null),
            ("GET", "tenants?parent=promo".to_string(), Value::Null),
            ("GET", "tenants/promo/usage".to_string(), Value::Null),
            ("GET", "tenants/promo/usage/buckets".to_string(), Value::Null),
            ("GET", "tenants/promo/usage/children".to_string(), Value::Null),
            ("GET", "tenants/promo/usage/history".to_string(), Value::Null),
            ("GET", "tenants/spots/usage".to_string(), Value::Null),
            ("POST", "tenants".to_string(), json!({"name": "Sneaky", "id": "sneaky", "parent": "promo"})),
            ("POST", "tenants".to_string(), json!({"name": "Sneaky", "id": "sneaky", "parent": "spots"})),
            ("GET", "tenants/promo/keys".to_string(), Value::Null),
            ("POST", "tenants/promo/keys".to_string(), json!({"name": "mine", "tenant_admin": true})),
            ("DELETE", format!("tenants/promo/keys/{pid}"), Value::Null),
            ("PUT", format!("tenants/promo/keys/{pid}/quota"), json!({"quota": {"bytes": 1}})),
            ("PUT", "tenants/promo/quota".to_string(), json!({"quota": {"bytes": 1}})),
            ("PUT", "tenants/spots/quota".to_string(), json!({"quota": {"bytes": 1}})),
            ("DELETE", "tenants/spots".to_string(), Value::Null),
            ("DELETE", "tenants/promo".to_string(), Value::Null),
            ("GET", "buckets/promo-cuts/quota".to_string(), Value::Null),
            ("PUT", "buckets/promo-cuts/quota".to_string(), json!({"quota": {"bytes": 1}})),
            // Up the tree, and its own limit.
            ("GET", "tenants/studio/usage".to_string(), Value::Null),
            ("PUT", "tenants/studio/quota".to_string(), json!({"quota": {"bytes": 1u64 << 40}})),
            ("PUT", "tenants/prod/quota".to_string(), json!({"quota": {"bytes": 1u64 << 30}})),
        ];
        for (method, op, body) in denied {
            let (status, v) = v1(&ep, pa, method, &op, body).await;
            assert_eq!((status, code(&v)), (403, "AccessDenied"), "{method} {op}: {v}");
        }
        // A sibling's key named under its own tenant is not one of its keys.
        let (status, v) = v1(&ep, pa, "DELETE", &format!("tenants/prod/keys/{pid}"), Value::Null).await;
        assert_eq!((status, code(&v)), (404, "NoSuchKey"), "{v}");
        let (status, v) =
            v1(&ep, pa, "PUT", &format!("tenants/prod/keys/{pid}/quota"), json!({"quota": {"bytes": 1}})).await;
        assert_eq!((status, code(&v)), (404, "NoSuchKey"), "{v}");

        // Nothing of the sibling changed: its quota, its children, its key (which still works).
        let p = expect("promo as root", v1(&ep, ROOT, "GET", "tenants/promo", Value::Null).await, 200);
        assert_eq!(p["quota"]["bytes"], 200 * KIB);
        assert_eq!(used(&p), (10 * KIB, 1));
        let kids = expect("promo's children", v1(&ep, ROOT, "GET", "tenants?parent=promo", Value::Null).await, 200);
        let ids: Vec<_> = kids["tenants"].as_array().unwrap().iter().map(|t| t["id"].clone()).collect();
        assert_eq!(ids, [json!("spots")]);
        let keys = expect("promo's keys", v1(&ep, ROOT, "GET", "tenants/promo/keys", Value::Null).await, 200);
        let ids: Vec<_> = keys["keys"].as_array().unwrap().iter().map(|k| k["access_key_id"].clone()).collect();
        assert_eq!(ids, [json!(pid)]);
        assert_eq!(keys["keys"][0]["quota"], json!({}), "the sibling key's quota is untouched");
        let spots = expect("spots as root", v1(&ep, ROOT, "GET", "tenants/spots", Value::Null).await, 200);
        assert_eq!(spots["quota"], json!({}));
        let q = expect("promo's bucket", v1(&ep, ROOT, "GET", "buckets/promo-cuts/quota", Value::Null).await, 200);
        assert_eq!(q["quota"], json!({}));
        put(&promo, "promo-cuts", "teaser2", KIB).await.expect("the sibling's key still writes");
        let s = expect("studio", v1(&ep, ROOT, "GET", "tenants/studio", Value::Null).await, 200);
        assert_eq!(s["quota"]["bytes"], 1u64 << 20);
        let p = expect("prod", v1(&ep, ROOT, "GET", "tenants/prod", Value::Null).await, 200);
        assert_eq!(p["quota"]["bytes"], 400 * KIB);
    })
    .await;
}

/// `(bytes, objects)` of tenant `id`, its bucket `bucket` and its key `key`, read as root.
async fn pools(ep: &str, id: &str, bucket: &str, key: &str) -> [(u64, u64); 3] {
    let t = expect("tenant", v1(ep, ROOT, "GET", &format!("tenants/{id}"), Value::Null).await, 200);
    let b = expect("bucket", v1(ep, ROOT, "GET", &format!("buckets/{bucket}/quota"), Value::Null).await, 200);
    let keys = expect("keys", v1(ep, ROOT, "GET", &format!("tenants/{id}/keys"), Value::Null).await, 200);
    let k = keys["keys"].as_array().unwrap().iter().find(|k| k["access_key_id"] == key).expect("the key").clone();
    [used(&t), used(&b), used(&k)]
}

/// A versioned bucket through S3 (`raft/src/quota.rs` has the rule): every version,
/// current or not, counts its bytes and one object; a delete marker counts the bytes
/// of its key name and no object, and is never refused; deleting a version or a marker
/// by its version id gives its share back; and a write that would fit beside the
/// current versions alone is refused because the noncurrent ones count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versioned_buckets_count_every_version_and_marker() {
    use cairn_tests::aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    within(120, async {
        let node = TestNode::start();
        let ep = node.endpoint().to_string();
        cli_json(&ep, &["tenant", "create", "Archive", "--id", "archive", "--quota-bytes", "100KiB"]);
        let key = cli_json(&ep, &["key", "create", "--tenant", "archive"]);
        let (kid, ksec) = creds_of(&key);
        let c = client_as(&ep, (kid.as_str(), ksec.as_str()));
        c.create_bucket().bucket("vault").send().await.unwrap();
        let on = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
        c.put_bucket_versioning().bucket("vault").versioning_configuration(on).send().await.unwrap();
        let at = |bytes: u64, objects: u64| [(bytes, objects); 3];

        // An overwrite keeps the first version, and it counts.
        put(&c, "vault", "clip", 40 * KIB).await.unwrap();
        put(&c, "vault", "clip", 30 * KIB).await.unwrap();
        assert_eq!(pools(&ep, "archive", "vault", &kid).await, at(70 * KIB, 2));
        let versions = c.list_object_versions().bucket("vault").send().await.unwrap();
        let sizes: Vec<u64> = versions.versions().iter().map(|v| v.size().unwrap() as u64).collect();
        assert_eq!(sizes, [30 * KIB, 40 * KIB], "newest first");
        assert_eq!(sizes.iter().sum::<u64>(), 70 * KIB, "usage is the sum of all versions");
        let old = versions.versions()[1].version_id().unwrap().to_string();

        // 40 KiB more: the current versions alone (30 KiB) would leave room, all of
        // them (70 KiB) do not.
        let e = put(&c, "vault", "reel", 40 * KIB).await.unwrap_err();
        assert_eq!((e.status, e.code.as_deref()), (Some(403), Some("QuotaExceeded")), "{e:?}");
        let msg = e.message.unwrap_or_default();
        let want = format!(
            "The quota of tenant archive allows {} bytes; {} are used, {} bytes are left, and this write needs {}.",
            100 * KIB,
            70 * KIB,
            30 * KIB,
            40 * KIB
        );
        assert_eq!(msg, want);
        assert_status_err("the refused write is absent", c.head_object().bucket("vault").key("reel").send().await, 404);
        assert_eq!(pools(&ep, "archive", "vault", &kid).await, at(70 * KIB, 2));

        // A delete marker: the 4 bytes of "clip", no object; never refused, even with
        // the quota lowered to exactly what is used.
        expect(
            "a tight quota",
            v1(&ep, ROOT, "PUT", "tenants/archive/quota", json!({"quota": {"bytes": 70 * KIB}})).await,
            200,
        );
        let marker = c.delete_object().bucket("vault").key("clip").send().await.unwrap();
        assert_eq!(marker.delete_marker(), Some(true));
        let marker_id = marker.version_id().unwrap().to_string();
        assert_eq!(pools(&ep, "archive", "vault", &kid).await, at(70 * KIB + 4, 2), "the marker counts 4 bytes");
        let e = put(&c, "vault", "x", 1).await.unwrap_err();
        assert_eq!(e.code.as_deref(), Some("QuotaExceeded"), "past the limit, a write of one byte is refused");
        expect(
            "the quota back",
            v1(&ep, ROOT, "PUT", "tenants/archive/quota", json!({"quota": {"bytes": 100 * KIB}})).await,
            200,
        );

        // A permanent delete of the old version gives its 40 KiB back, and now the
        // write that was refused fits.
        c.delete_object().bucket("vault").key("clip").version_id(&old).send().await.unwrap();
        assert_eq!(pools(&ep, "archive", "vault", &kid).await, at(30 * KIB + 4, 1));
        put(&c, "vault", "reel", 40 * KIB).await.expect("fits once the noncurrent version is gone");
        assert_eq!(pools(&ep, "archive", "vault", &kid).await, at(70 * KIB + 4, 2));

        // Removing the marker by its version id gives its 4 bytes back.
        c.delete_object().bucket("vault").key("clip").version_id(&marker_id).send().await.unwrap();
        assert_eq!(pools(&ep, "archive", "vault", &kid).await, at(70 * KIB, 2));
        let versions = c.list_object_versions().bucket("vault").send().await.unwrap();
        assert!(versions.delete_markers().is_empty());
        let stored: u64 = versions.versions().iter().map(|v| v.size().unwrap() as u64).sum();
        assert_eq!(stored, 70 * KIB, "usage is what is stored");
    })
    .await;
}

/// The usage answer lists a tenant's buckets and children a page at a time: the first
/// page comes with the usage, the next ones from `usage/buckets` and
/// `usage/children`, and `cairn tenant usage` follows them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_lists_page_with_cursors() {
    within(120, async {
        let node = TestNode::start();
        let ep = node.endpoint().to_string();
        cli_json(&ep, &["tenant", "create", "Net", "--id", "net"]);
        for (name, id) in [("Charlie", "c3"), ("Alpha", "c1"), ("Bravo", "c2")] {
            cli_json(&ep, &["tenant", "create", name, "--id", id, "--parent", "net"]);
        }
        let key = cli_json(&ep, &["key", "create", "--tenant", "net"]);
        let (kid, ksec) = creds_of(&key);
        let c = client_as(&ep, (kid.as_str(), ksec.as_str()));
        for (i, b) in ["net-c", "net-a", "net-b"].into_iter().enumerate() {
            c.create_bucket().bucket(b).send().await.unwrap();
            put(&c, b, "o", (i as u64 + 1) * KIB).await.unwrap();
        }
        let names = |v: &Value, field: &str, name: &str| -> Vec<String> {
            v[field].as_array().unwrap().iter().map(|x| x[name].as_str().unwrap().to_string()).collect()
        };

        // Two per page: the first two of each list and a cursor for each.
        let first =
            expect("usage, 2 a page", v1(&ep, ROOT, "GET", "tenants/net/usage?limit=2", Value::Null).await, 200);
        assert_eq!(used(&first["tenant"]), (6 * KIB, 3));
        assert_eq!(names(&first, "buckets", "bucket"), ["net-a", "net-b"]);
        assert_eq!(names(&first, "children", "id"), ["c1", "c2"]);
        assert_eq!(used(&first["buckets"][1]), (3 * KIB, 1));
        let bc = first["next_buckets_cursor"].as_str().expect("more buckets").to_string();
        let cc = first["next_children_cursor"].as_str().expect("more children").to_string();
        let rest = expect(
            "the next buckets",
            v1(&ep, ROOT, "GET", &format!("tenants/net/usage/buckets?limit=2&cursor={bc}"), Value::Null).await,
            200,
        );
        assert_eq!(names(&rest, "buckets", "bucket"), ["net-c"]);
        assert_eq!(used(&rest["buckets"][0]), (KIB, 1));
        assert_eq!(rest["buckets"][0]["tenant"], "net");
        assert!(rest.get("next_cursor").is_none(), "the last page: {rest}");
        let rest = expect(
            "the next children",
            v1(&ep, ROOT, "GET", &format!("tenants/net/usage/children?limit=2&cursor={cc}"), Value::Null).await,
            200,
        );
        assert_eq!(names(&rest, "tenants", "id"), ["c3"]);
        assert!(rest.get("next_cursor").is_none(), "the last page: {rest}");

        // The sub-resources page from the start too; a page that ends a list exactly
        // has no cursor, and neither has the default (1000 a page).
        let one =
            expect("one bucket", v1(&ep, ROOT, "GET", "tenants/net/usage/buckets?limit=1", Value::Null).await, 200);
        assert_eq!(names(&one, "buckets", "bucket"), ["net-a"]);
        assert!(one["next_cursor"].is_string());
        for q in ["tenants/net/usage?limit=3", "tenants/net/usage"] {
            let all = expect(q, v1(&ep, ROOT, "GET", q, Value::Null).await, 200);
            assert_eq!(names(&all, "buckets", "bucket"), ["net-a", "net-b", "net-c"], "{q}");
            assert_eq!(names(&all, "children", "id"), ["c1", "c2", "c3"], "{q}");
            assert!(all.get("next_buckets_cursor").is_none() && all.get("next_children_cursor").is_none(), "{all}");
        }
        for q in [
            "tenants/net/usage?limit=0",
            "tenants/net/usage?limit=1001",
            "tenants/net/usage?cursor=bmV0LWE",
            "tenants/net/usage?page=2",
            "tenants/net/usage/buckets?cursor=%21%21",
        ] {
            let (status, v) = v1(&ep, ROOT, "GET", q, Value::Null).await;
            assert_eq!((status, code(&v)), (400, "InvalidRequest"), "{q}: {v}");
        }
        let (status, v) = v1(&ep, ROOT, "GET", "tenants/nobody/usage/buckets", Value::Null).await;
        assert_eq!((status, code(&v)), (404, "NoSuchTenant"), "{v}");

        // The CLI, one item a request, reads every page: all of each list, once.
        let u = cli_json(&ep, &["tenant", "usage", "net", "--page-size", "1"]);
        assert_eq!(names(&u, "buckets", "bucket"), ["net-a", "net-b", "net-c"]);
        assert_eq!(names(&u, "children", "id"), ["c1", "c2", "c3"]);
        assert!(u.get("next_buckets_cursor").is_none() && u.get("next_children_cursor").is_none(), "{u}");
        let out = cairn(&ep, &["tenant", "usage", "net", "--page-size", "2"]);
        let text = stdout(&out);
        for name in ["net-a", "net-b", "net-c", "Alpha", "Bravo", "Charlie"] {
            assert_eq!(text.matches(name).count(), 1, "{name} once in:\n{text}");
        }
    })
    .await;
}
