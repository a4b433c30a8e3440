//! Video annotations end to end on a 3-node cluster of real `cairnd` processes: the
//! timing of a video and frames filled in from times and timecodes, batch creation
//! replayed by an offline client, stale revisions, who may change whose, queries
//! with cursors, history, conflicts, exports parsed back; and the live stream: 100
//! subscribers over three nodes each given every change exactly once and in order, a
//! subscriber that resumes after a disconnect, tombstones seen live, presence across
//! nodes, presigned URLs for SSE and WebSocket.

use cairn_tests::cluster::{cli_json, TestCluster};
use cairn_tests::live::{presign_v1, websocket, SseReader};
use cairn_tests::*;
use cairn_tests::{expect_status as expect, v1_json as v1};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Creds = (String, String);

fn c(k: &Creds) -> (&str, &str) {
    (k.0.as_str(), k.1.as_str())
}

fn error_of(got: &(u16, Value)) -> (u16, String) {
    (got.0, got.1["error"]["code"].as_str().unwrap_or("").to_string())
}

/// A studio with a bucket owner, two members and a tenant admin, a versioned bucket of
/// the owner's with two cuts of a film, and a video asset of both.
struct Studio {
    /// Kept for its processes: dropped, the nodes stop.
    _cluster: TestCluster,
    eps: Vec<String>,
    owner: Creds,
    editor: Creds,
    reviewer: Creds,
    admin: Creds,
    asset: String,
}

impl Studio {
    async fn start(meta: Value) -> Studio {
        let cluster = TestCluster::start(3);
        let eps: Vec<String> = cluster.nodes.iter().map(|n| n.endpoint().to_string()).collect();
        cli_json(&eps[0], &["tenant", "create", "Studio", "--id", "studio"]);
        let key = |name: &str, admin: bool| {
            let mut args = vec!["key", "create", "--tenant", "studio", "--name", name];
            if admin {
                args.push("--tenant-admin");
            }
            creds_of(&cli_json(&eps[0], &args))
        };
        let (owner, editor, reviewer, admin) =
            (key("owner", false), key("editor", false), key("reviewer", false), key("supervisor", true));
        let s3 = ClientBuilder::new(&eps[0]).credentials(&owner.0, &owner.1).build();
        s3.create_bucket().bucket("dailies").send().await.unwrap();
        for (key, seed) in [("reel1.mov", 1), ("reel1-v2.mov", 2)] {
            s3.put_object().bucket("dailies").key(key).body(random_bytes(seed, 20_000).into()).send().await.unwrap();
        }
        let body = json!({"name": "Reel 1", "media_type": "video", "meta": meta,
                          "version": {"object": {"bucket": "dailies", "key": "reel1.mov"}}});
        let a = expect("register", v1(&eps[0], c(&owner), "POST", "assets", body).await, 201);
        let asset = a["id"].as_str().unwrap().to_string();
        Studio { _cluster: cluster, eps, owner, editor, reviewer, admin, asset }
    }

    fn video(&self, n: u32) -> String {
        format!("assets/{}/versions/{n}", self.asset)
    }
}

fn ids_of(list: &Value) -> Vec<String> {
    list["annotations"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_string()).collect()
}

fn frames_of(list: &Value) -> Vec<u64> {
    list["annotations"].as_array().unwrap().iter().map(|a| a["frame"].as_u64().unwrap()).collect()
}

/// Every page of a query, following cursors.
async fn all_pages(ep: &str, who: (&str, &str), op: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if op.contains('?') { '&' } else { '?' };
        let q = match &cursor {
            Some(cur) => format!("{op}{sep}cursor={cur}"),
            None => op.to_string(),
        };
        let page = expect(op, v1(ep, who, "GET", &q, Value::Null).await, 200);
        out.extend(page["annotations"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return out,
        }
    }
}

/// `HH:MM:SS.mmm` in ms.
fn vtt_ms(s: &str) -> u64 {
    let (hms, ms) = s.split_once('.').expect("a WebVTT time has milliseconds");
    let p: Vec<u64> = hms.split(':').map(|x| x.parse().expect("number")).collect();
    assert_eq!(p.len(), 3, "WebVTT time {s}");
    assert_eq!(ms.len(), 3, "WebVTT time {s}");
    ((p[0] * 60 + p[1]) * 60 + p[2]) * 1000 + ms.parse::<u64>().unwrap()
}

/// A strict WebVTT parser: the signature, then cues of an id, a `start --> end`
/// timing line and text, each separated by one blank line. Answers (id, start ms,
/// end ms, text) per cue.
fn parse_webvtt(text: &str) -> Vec<(String, u64, u64, String)> {
    let mut blocks = text.split("\n\n");
    assert_eq!(blocks.next(), Some("WEBVTT"), "the file starts with the WEBVTT signature");
    let mut cues = Vec::new();
    for b in blocks.filter(|b| !b.trim().is_empty()) {
        let mut lines = b.lines();
        let id = lines.next().expect("cue id").to_string();
        let timing = lines.next().expect("cue timing");
        let (start, end) = timing.split_once(" --> ").expect("timing line has -->");
        let text: Vec<&str> = lines.collect();
        assert!(!text.is_empty(), "cue {id} has text");
        assert!(!id.contains("-->"), "cue id {id}");
        let (s, e) = (vtt_ms(start), vtt_ms(end));
        assert!(e > s, "cue {id} ends after it starts");
        cues.push((id, s, e, text.join("\n")));
    }
    cues
}

/// CMX 3600 events with their LOC markers: (event number, record in, record out,
/// marker timecode, marker text).
fn parse_edl(text: &str, fps: u64, drop: bool) -> Vec<(u32, u64, u64, u64, String)> {
    let tc = |s: &str| -> u64 {
        let sep_drop = s.contains(';');
        assert_eq!(sep_drop, drop, "timecode {s} drop-frame separator");
        let p: Vec<u64> = s.split([':', ';']).map(|x| x.parse().expect("timecode field")).collect();
        assert_eq!(p.len(), 4, "timecode {s}");
        assert!(p[3] < fps && p[2] < 60 && p[1] < 60, "timecode {s}");
        let counted = ((p[0] * 60 + p[1]) * 60 + p[2]) * fps + p[3];
        if drop {
            let minutes = p[0] * 60 + p[1];
            counted - 2 * (minutes - minutes / 10)
        } else {
            counted
        }
    };
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("TITLE: "));
    let fcm = lines.next().unwrap();
    assert_eq!(fcm, if drop { "FCM: DROP FRAME" } else { "FCM: NON-DROP FRAME" });
    let mut out: Vec<(u32, u64, u64, u64, String)> = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("* LOC: ") {
            let mut parts = rest.splitn(3, ' ');
            let at = tc(parts.next().unwrap());
            let rest = parts.collect::<Vec<_>>().join(" ");
            let (colour, text) = rest.trim_start().split_once(' ').unwrap_or((rest.as_str(), ""));
            assert!(["RED", "GREEN"].contains(&colour), "marker colour {colour}");
            let last = out.last_mut().expect("a LOC comment follows an event");
            last.3 = at;
            last.4 = text.trim().to_string();
        } else if line.starts_with('*') {
            continue;
        } else {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(f.len(), 8, "event line {line}");
            assert_eq!((f[2], f[3]), ("V", "C"), "event line {line}");
            let (src_in, src_out, rec_in, rec_out) = (tc(f[4]), tc(f[5]), tc(f[6]), tc(f[7]));
            assert_eq!((src_in, src_out), (rec_in, rec_out));
            assert!(rec_out > rec_in);
            out.push((f[0].parse().unwrap(), rec_in, rec_out, u64::MAX, String::new()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotations_are_frame_exact_idempotent_and_guarded() {
    within(420, async {
        let st = Studio::start(json!({"frame_rate": "30000/1001", "duration_ms": 600000})).await;
        let (ep0, ep1, ep2) = (&st.eps[0], &st.eps[1], &st.eps[2]);
        let (owner, editor, reviewer, admin) = (c(&st.owner), c(&st.editor), c(&st.reviewer), c(&st.admin));
        let v1p = st.video(1);

        // Timing: from the asset's metadata, then set with drop-frame and a start timecode.
        let t = expect("timing", v1(ep1, editor, "GET", &format!("{v1p}/timing"), Value::Null).await, 200);
        assert_eq!((t["frame_rate"].as_str(), t["source"].as_str()), (Some("30000/1001"), Some("metadata")));
        assert_eq!(t["frame_count"], 17982, "frames starting before 600 s at 29.97");
        let set = json!({"frame_rate": "30000/1001", "frame_count": 17982, "drop_frame": true,
                         "start_timecode": "01:00:00;00"});
        let t = expect("set timing", v1(ep2, owner, "PUT", &format!("{v1p}/timing"), set).await, 200);
        assert_eq!((t["source"].as_str(), t["start_timecode"].as_str()), (Some("set"), Some("01:00:00;00")));
        let bad =
            v1(ep0, owner, "PUT", &format!("{v1p}/timing"), json!({"frame_rate": "25", "drop_frame": true})).await;
        assert_eq!(bad.0, 400, "drop-frame at 25 fps: {}", bad.1);

        // A frame, a time or a timecode: the server fills in the others, exactly.
        let post = |body: Value| post_as(ep0, editor, &v1p, body);
        let a = expect("by frame", post(json!({"frame": 1800, "kind": "text", "text": "colour"})).await, 201);
        // Frame 1800 at 30000/1001 starts at ceil(1800 × 1001 / 30) = 60060 ms; drop-frame
        // timecode 00:01:00;02 (00;00 and 00;01 are skipped), after the start 01:00:00;00.
        assert_eq!((a["ms"].as_u64(), a["timecode"].as_str()), (Some(60060), Some("01:01:00;02")));
        let b = expect(
            "by time",
            post(json!({"ms": 60059, "kind": "point", "geometry": {"x": 0.5, "y": 0.25}, "shade": "teal"})).await,
            201,
        );
        assert_eq!(b["frame"], 1799, "60059 ms is still frame 1799");
        assert_eq!(b["shade"], "teal", "unknown fields are kept as sent");
        let tc = expect("by timecode", post(json!({"timecode": "01:01:00;02", "kind": "text"})).await, 201);
        assert_eq!(tc["frame"], 1800);
        let skipped = post(json!({"timecode": "01:01:00;01", "kind": "text"})).await;
        assert_eq!(skipped.0, 400, "a skipped drop-frame number: {}", skipped.1);
        assert_eq!(
            error_of(&post(json!({"frame": 1800, "ms": 60059, "kind": "text"})).await),
            (400, "TimingDisagrees".into())
        );
        assert_eq!(error_of(&post(json!({"frame": 17982, "kind": "text"})).await), (400, "OutsideVideo".into()));
        let off = post(json!({"frame": 1, "kind": "rect", "geometry": {"x": 0.5, "y": 0.5, "w": 0.7, "h": 1.2}})).await;
        assert_eq!(error_of(&off), (400, "InvalidGeometry".into()));
        assert_eq!(off.1["error"]["field"], "geometry.h");

        // An offline queue of 1,000, sent twice (the second time through another node):
        // one annotation per client id, nothing duplicated, the same ids back.
        let queue: Vec<Value> = (0..1000u64)
            .map(|i| {
                json!({"client_id": format!("q-{i}"), "frame": 100 + i * 7, "kind": "rect",
                            "geometry": {"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}, "text": format!("note {i}")})
            })
            .collect();
        let batch_op = format!("{v1p}/annotations/batch");
        let batch = |ep: &str| {
            let (ep, op) = (ep.to_string(), batch_op.clone());
            let body = json!({"annotations": queue});
            async move { v1(&ep, editor, "POST", &op, body).await }
        };
        let first = expect("batch", batch(ep0).await, 201);
        assert!(first["replayed"].as_array().unwrap().iter().all(|r| r == false));
        let again = expect("replayed batch", batch(ep1).await, 201);
        assert!(again["replayed"].as_array().unwrap().iter().all(|r| r == true));
        assert_eq!(ids_of(&first), ids_of(&again));
        let synced = all_pages(ep2, reviewer, &format!("{v1p}/annotations/sync?limit=1000")).await;
        assert_eq!(synced.len(), 1003, "three singles and the queue once");
        let mut changed = queue[5].clone();
        changed["text"] = json!("other");
        let conflict = v1(ep0, editor, "POST", &format!("{v1p}/annotations"), changed).await;
        assert_eq!(error_of(&conflict), (409, "ClientIdConflict".into()));
        let too_many: Vec<Value> = (0..1001).map(|i| json!({"frame": i, "kind": "text"})).collect();
        let refused =
            v1(ep0, editor, "POST", &format!("{v1p}/annotations/batch"), json!({"annotations": too_many})).await;
        assert_eq!(refused.0, 400);
        let mut half_bad = queue[..3].to_vec();
        half_bad.push(json!({"frame": 99999, "kind": "text", "client_id": "late"}));
        let all_or_none =
            v1(ep0, editor, "POST", &format!("{v1p}/annotations/batch"), json!({"annotations": half_bad})).await;
        assert_eq!(error_of(&all_or_none), (400, "OutsideVideo".into()));

        // Revisions: If-Match names the revision; a stale one gets 412 and the current.
        let id = a["id"].as_str().unwrap();
        let path = format!("{v1p}/annotations/{id}");
        let edit = json!({"frame": 1800, "kind": "text", "text": "warmer", "status": "open"});
        let (s, now, etag) = v1_json_with(ep1, editor, "PATCH", &path, &[("if-match", "\"1\"")], edit.clone()).await;
        assert_eq!((s, now["revision"].as_u64(), etag.as_deref()), (200, Some(2), Some("\"2\"")), "{now}");
        let (s, stale, _) = v1_json_with(ep2, editor, "PATCH", &path, &[("if-match", "\"1\"")], edit).await;
        assert_eq!(s, 412, "{stale}");
        assert_eq!(
            (stale["error"]["code"].as_str(), stale["current"]["revision"].as_u64()),
            (Some("PreconditionFailed"), Some(2))
        );
        assert_eq!(stale["current"]["text"], "warmer");

        // Roles: a member may not change another's; the bucket owner may change a
        // member's but not a tenant admin's; the tenant admin may.
        let resolve = json!({"frame": 1800, "kind": "text", "text": "warmer", "status": "resolved"});
        let denied = v1(ep0, reviewer, "PATCH", &path, resolve.clone()).await;
        assert_eq!(error_of(&denied), (403, "AccessDenied".into()));
        let by_owner = expect("owner resolves", v1(ep0, owner, "PATCH", &path, resolve).await, 200);
        assert_eq!(
            (by_owner["status"].as_str(), by_owner["author"].as_str()),
            (Some("resolved"), Some(st.editor.0.as_str()))
        );
        let boss = expect(
            "supervisor",
            post_as(ep0, admin, &v1p, json!({"frame": 10, "kind": "text", "text": "from the top"})).await,
            201,
        );
        assert_eq!(boss["author_role"], "tenant_admin");
        let boss_path = format!("{v1p}/annotations/{}", boss["id"].as_str().unwrap());
        assert_eq!(error_of(&v1(ep1, owner, "DELETE", &boss_path, Value::Null).await), (403, "AccessDenied".into()));
        let reply = expect(
            "reply",
            post_as(ep2, reviewer, &v1p, json!({"frame": 10, "kind": "text", "text": "agreed", "parent": boss["id"]}))
                .await,
            201,
        );
        assert_eq!(reply["author_role"], "member");

        // A tombstone: gone from queries, still in the sync, with its history.
        let b_path = format!("{v1p}/annotations/{}", b["id"].as_str().unwrap());
        let tomb = expect("delete", v1(ep0, editor, "DELETE", &b_path, Value::Null).await, 200);
        assert_eq!((tomb["deleted"].as_bool(), tomb["revision"].as_u64()), (Some(true), Some(2)));
        let around = expect(
            "window",
            v1(ep1, reviewer, "GET", &format!("{v1p}/annotations?at_frame=1800&window_secs=1"), Value::Null).await,
            200,
        );
        assert!(!ids_of(&around).contains(&b["id"].as_str().unwrap().to_string()), "a tombstone is in no query");
        let hist = expect("history", v1(ep2, reviewer, "GET", &format!("{path}/history"), Value::Null).await, 200);
        let revs: Vec<(u64, String)> = hist["revisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["revision"].as_u64().unwrap(), r["text"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(revs, [(1, "colour".into()), (2, "warmer".into()), (3, "warmer".into())]);
        let r1 = expect("revision 1", v1(ep0, reviewer, "GET", &format!("{path}?revision=1"), Value::Null).await, 200);
        assert_eq!(r1["text"], "colour");

        // Queries: frames, times, a window, an author, a status, a thread; cursors.
        let range = all_pages(ep1, reviewer, &format!("{v1p}/annotations?from_frame=100&to_frame=799&limit=16")).await;
        let frames: Vec<u64> = range.iter().map(|a| a["frame"].as_u64().unwrap()).collect();
        assert_eq!(frames, (0..100u64).map(|i| 100 + i * 7).collect::<Vec<_>>(), "frame order, every page once");
        // 0..=10 s at 29.97 is frames 0..=299.
        let by_time = all_pages(ep2, reviewer, &format!("{v1p}/annotations?from_ms=0&to_ms=10000&limit=1000")).await;
        assert!(by_time.iter().all(|a| a["frame"].as_u64().unwrap() <= 299));
        assert_eq!(by_time.len(), 2 + 29, "the supervisor's note, its reply and the queue's frames 100..=296");
        let window = frames_of(&around);
        assert!(window.iter().all(|f| (1770..=1830).contains(f)), "{window:?}");
        assert!(window.contains(&1800));
        let mine = all_pages(ep0, reviewer, &format!("{v1p}/annotations?author={}&limit=7", st.admin.0)).await;
        assert_eq!(mine.len(), 1);
        let resolved = all_pages(ep0, reviewer, &format!("{v1p}/annotations?status=resolved")).await;
        assert_eq!(resolved.iter().map(|a| a["id"].as_str().unwrap()).collect::<Vec<_>>(), [id]);
        let thread = expect("thread", v1(ep0, reviewer, "GET", &format!("{boss_path}/thread"), Value::Null).await, 200);
        assert_eq!(ids_of(&thread), [reply["id"].as_str().unwrap().to_string()]);
        let wrong = v1(ep0, reviewer, "GET", &format!("{v1p}/annotations?from_frame=0&cursor=Zm9v"), Value::Null).await;
        assert_eq!(error_of(&wrong), (400, "InvalidCursor".into()));

        // Across versions: a second cut, annotated too.
        let nv = json!({"object": {"bucket": "dailies", "key": "reel1-v2.mov"}});
        expect("version 2", v1(ep0, owner, "POST", &format!("assets/{}/versions", st.asset), nv).await, 201);
        let v2p = st.video(2);
        expect("on v2", post_as(ep1, editor, &v2p, json!({"frame": 5, "kind": "text", "text": "v2 note"})).await, 201);
        let every =
            all_pages(ep2, reviewer, &format!("assets/{}/annotations?author={}&limit=300", st.asset, st.editor.0))
                .await;
        let versions: BTreeSet<u64> = every.iter().map(|a| a["version"].as_u64().unwrap()).collect();
        assert_eq!(versions, [1, 2].into_iter().collect());
        assert_eq!(every.len(), 1000 + 2 + 1, "the editor's live annotations of both versions");

        // Conflicts: two overlapping boxes within a second; one far away is not one.
        let v2 = |body: Value| post_as(ep0, editor, &v2p, body);
        let x = expect(
            "x",
            v2(json!({"frame": 300, "kind": "rect", "geometry": {"x": 0.1, "y": 0.1, "w": 0.3, "h": 0.3}})).await,
            201,
        );
        let y = expect(
            "y",
            v2(json!({"frame": 320, "kind": "ellipse", "geometry": {"x": 0.3, "y": 0.3, "w": 0.2, "h": 0.2}})).await,
            201,
        );
        expect(
            "z",
            v2(json!({"frame": 900, "kind": "rect", "geometry": {"x": 0.1, "y": 0.1, "w": 0.3, "h": 0.3}})).await,
            201,
        );
        expect(
            "w",
            v2(json!({"frame": 305, "kind": "rect", "geometry": {"x": 0.8, "y": 0.8, "w": 0.1, "h": 0.1}})).await,
            201,
        );
        let report = expect(
            "conflicts",
            v1(ep1, reviewer, "GET", &format!("{v2p}/annotations/conflicts"), Value::Null).await,
            200,
        );
        let pairs: Vec<(String, String)> = report["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["first"].as_str().unwrap().into(), p["second"].as_str().unwrap().into()))
            .collect();
        assert_eq!(pairs, [(x["id"].as_str().unwrap().to_string(), y["id"].as_str().unwrap().to_string())]);

        // Exports, parsed back.
        let export = |format: &str| {
            let op = format!("{v1p}/annotations/export?format={format}");
            async move { v1_request(ep0, reviewer, "GET", &op, b"").await }
        };
        let live_ids: Vec<String> = all_pages(ep0, reviewer, &format!("{v1p}/annotations?limit=1000"))
            .await
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect();
        let (s, jsonl) = export("jsonl").await;
        assert_eq!(s, 200);
        let lines: Vec<Value> = jsonl.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
        assert_eq!(lines.iter().map(|a| a["id"].as_str().unwrap().to_string()).collect::<Vec<_>>(), live_ids);
        let (s, csv_text) = export("csv").await;
        assert_eq!(s, 200);
        let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
        let headers = rdr.headers().unwrap().clone();
        assert_eq!(&headers[0], "id");
        let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), live_ids.len());
        let row = rows.iter().find(|r| &r[0] == id).expect("the edited note");
        assert_eq!((&row[1], &row[5], &row[8], &row[12]), ("1800", "01:01:00;02", "resolved", "warmer"));
        let (s, vtt) = export("webvtt").await;
        assert_eq!(s, 200);
        let cues = parse_webvtt(&vtt);
        assert_eq!(cues.iter().map(|c| c.0.clone()).collect::<Vec<_>>(), live_ids);
        let cue = cues.iter().find(|c| c.0 == id).unwrap();
        assert_eq!((cue.1, cue.2), (60060, 62060));
        assert_eq!(cue.3, "<v editor>warmer");
        assert!(cues.windows(2).all(|w| w[0].1 <= w[1].1), "cues in time order");
        let (s, edl) = export("edl").await;
        assert_eq!(s, 200);
        let events = parse_edl(&edl, 30, true);
        assert_eq!(events.len(), live_ids.len());
        let start = 107_892; // 01:00:00;00: an hour of drop-frame timecode
        let ev = events.iter().find(|e| e.4 == "warmer").expect("the edited note's marker");
        assert_eq!((ev.1, ev.2, ev.3), (start + 1800, start + 1801, start + 1800));
        let bad = export("srt").await;
        assert_eq!(bad.0, 400);

        // Another tenant sees none of it.
        cli_json(ep0, &["tenant", "create", "School", "--id", "school"]);
        let outsider = creds_of(&cli_json(ep0, &["key", "create", "--tenant", "school", "--name", "t"]));
        let hidden = v1(ep0, c(&outsider), "GET", &format!("{v1p}/annotations"), Value::Null).await;
        assert_eq!(error_of(&hidden), (404, "NoSuchAsset".into()));
        // Transferred to the school, the asset's annotations go with it.
        let school = ClientBuilder::new(ep0).credentials(&outsider.0, &outsider.1).build();
        school.create_bucket().bucket("school-media").send().await.unwrap();
        let to = json!({"tenant": "school", "bucket": "school-media"});
        let root = (ROOT_ACCESS_KEY, ROOT_SECRET_KEY);
        expect("transfer", v1(ep0, root, "POST", &format!("assets/{}/transfer", st.asset), to).await, 200);
        let seen = expect("after transfer", v1(ep1, c(&outsider), "GET", &path, Value::Null).await, 200);
        assert_eq!((seen["tenant"].as_str(), seen["text"].as_str()), (Some("school"), Some("warmer")));
        let gone = v1(ep2, reviewer, "GET", &path, Value::Null).await;
        assert_eq!(error_of(&gone), (404, "NoSuchAsset".into()), "the studio no longer sees them");
        drop(st);
    })
    .await;
}

async fn post_as(ep: &str, who: (&str, &str), video: &str, body: Value) -> (u16, Value) {
    v1(ep, who, "POST", &format!("{video}/annotations"), body).await
}

/// Sequence numbers and annotation ids of a subscriber's events, in arrival order.
type Seen = Vec<(u64, String, String)>;

/// Reads events until `want` have arrived (or `wait` passes without one).
async fn take(reader: &mut SseReader, want: usize, seen: &mut Seen) {
    while seen.len() < want {
        let Some(e) = reader.next(Duration::from_secs(30)).await else { return };
        if e.event == "reset" {
            panic!("unexpected reset: {}", e.data);
        }
        let v: Value = serde_json::from_str(&e.data).expect("event data is JSON");
        let seq = v["seq"].as_u64().unwrap();
        assert_eq!(e.id.as_deref(), Some(seq.to_string().as_str()), "the SSE id is the sequence number");
        assert_eq!(e.event, v["kind"].as_str().unwrap());
        seen.push((seq, v["kind"].as_str().unwrap().into(), v["annotation"]["id"].as_str().unwrap().into()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_deliver_every_change_once_in_order_on_every_node() {
    within(480, async {
        let st = Studio::start(json!({"frame_rate": "25", "duration_ms": 3_600_000})).await;
        let eps = st.eps.clone();
        let editor = c(&st.editor);
        let v1p = st.video(1);
        let live_op = format!("{v1p}/annotations/live");

        // 100 subscribers, browser style (presigned URLs), spread over the three nodes.
        const SUBSCRIBERS: usize = 100;
        let mut readers = Vec::new();
        for i in 0..SUBSCRIBERS {
            let url = presign_v1(&eps[i % 3], c(&st.reviewer), &live_op, Duration::from_secs(600));
            readers.push(SseReader::open(&url, None).await);
        }
        // A WebSocket viewer on node 3 too, and one on node 1 for presence.
        let ws_url = presign_v1(&eps[2], c(&st.reviewer), &format!("{v1p}/annotations/ws"), Duration::from_secs(600));
        let mut ws3 = websocket(&ws_url).await;
        let ws_url1 = presign_v1(&eps[0], editor, &format!("{v1p}/annotations/ws"), Duration::from_secs(600));
        let mut ws1 = websocket(&ws_url1).await;

        // A load through every node at once: singles, batches, edits and deletes.
        let writers: Vec<_> = (0..6)
            .map(|w| {
                let ep = eps[w % 3].clone();
                let (k, s) = st.editor.clone();
                let v1p = v1p.clone();
                tokio::spawn(async move {
                    let who = (k.as_str(), s.as_str());
                    let mut made = Vec::new();
                    for i in 0..15u64 {
                        let body = json!({"frame": w as u64 * 1000 + i, "kind": "text", "text": format!("w{w} n{i}")});
                        let a = expect("live create", v1(&ep, who, "POST", &format!("{v1p}/annotations"), body).await, 201);
                        made.push(a["id"].as_str().unwrap().to_string());
                    }
                    let batch: Vec<Value> =
                        (0..20u64).map(|i| json!({"frame": w as u64 * 1000 + 500 + i, "kind": "text"})).collect();
                    expect("live batch", v1(&ep, who, "POST", &format!("{v1p}/annotations/batch"), json!({"annotations": batch})).await, 201);
                    let edit = json!({"frame": w as u64 * 1000, "kind": "text", "text": format!("w{w} n0"), "status": "resolved"});
                    expect("live edit", v1(&ep, who, "PATCH", &format!("{v1p}/annotations/{}", made[0]), edit).await, 200);
                    expect("live delete", v1(&ep, who, "DELETE", &format!("{v1p}/annotations/{}", made[1]), Value::Null).await, 200);
                })
            })
            .collect();
        // Subscriber 7 goes away after 40 events and comes back with Last-Event-ID.
        let mut early = Seen::new();
        take(&mut readers[7], 40, &mut early).await;
        let gone = readers.remove(7);
        drop(gone);
        for w in writers {
            w.await.unwrap();
        }
        let total = 6 * (15 + 20 + 2);
        let last_seen = early.last().unwrap().0.to_string();
        let url = presign_v1(&eps[1], c(&st.reviewer), &live_op, Duration::from_secs(600));
        let mut back = SseReader::open(&url, Some(&last_seen)).await;
        take(&mut back, total, &mut early).await;
        let seqs: Vec<u64> = early.iter().map(|e| e.0).collect();
        assert_eq!(seqs, (1..=total as u64).collect::<Vec<_>>(), "the resumed subscriber: nothing missed or repeated");
        assert!(back.next(Duration::from_millis(500)).await.is_none(), "and nothing more");

        // Every other subscriber: every change once, in commit order, the same for all.
        let mut reference: Option<Seen> = None;
        for (i, r) in readers.iter_mut().enumerate() {
            let mut seen = Seen::new();
            take(r, total, &mut seen).await;
            assert_eq!(seen.len(), total, "subscriber {i} got {} of {total}", seen.len());
            let seqs: Vec<u64> = seen.iter().map(|e| e.0).collect();
            assert_eq!(seqs, (1..=total as u64).collect::<Vec<_>>(), "subscriber {i}: once each, in order");
            match &reference {
                None => reference = Some(seen),
                Some(r0) => assert_eq!(&seen, r0, "subscriber {i} saw another order than the first"),
            }
        }
        let reference = reference.unwrap();
        let kinds: Vec<&str> = reference.iter().map(|e| e.1.as_str()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "created").count(), 6 * 35);
        assert_eq!(kinds.iter().filter(|k| **k == "status_changed").count(), 6);
        assert_eq!(kinds.iter().filter(|k| **k == "deleted").count(), 6, "tombstones are seen live");
        assert_eq!(early, reference, "the resumed subscriber saw what everyone saw");

        // The WebSocket viewer got the same events.
        let mut ws_seqs = Vec::new();
        while ws_seqs.len() < total {
            let msg = tokio::time::timeout(Duration::from_secs(30), ws3.next()).await.expect("WebSocket event").unwrap().unwrap();
            let Message::Text(t) = msg else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] == "event" {
                ws_seqs.push(v["seq"].as_u64().unwrap());
            }
        }
        assert_eq!(ws_seqs, (1..=total as u64).collect::<Vec<_>>());

        // Presence: a playhead published on node 1 reaches the viewer on node 3, and is
        // not stored (the sequence does not move).
        let presence = json!({"type": "presence", "frame": 1234, "pointer": {"x": 0.25, "y": 0.75}});
        ws1.send(Message::text(presence.to_string())).await.unwrap();
        let got = loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), ws3.next()).await.expect("presence").unwrap().unwrap();
            let Message::Text(t) = msg else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] == "presence" {
                break v;
            }
        };
        assert_eq!((got["frame"].as_u64(), got["pointer"]["x"].as_f64()), (Some(1234), Some(0.25)));
        assert_eq!(got["name"], "editor");
        assert!(got["from"].as_str().unwrap().starts_with(&st.editor.0));
        let sync = expect("sync", v1(&eps[0], editor, "GET", &format!("{v1p}/annotations/sync?limit=1000"), Value::Null).await, 200);
        assert_eq!(sync["annotations"].as_array().unwrap().len(), 6 * 35, "presence wrote nothing");

        // A subscriber that names a position past the latest is told to start over.
        let url = presign_v1(&eps[2], c(&st.reviewer), &format!("{live_op}?after=99999"), Duration::from_secs(600));
        let mut ahead = SseReader::open(&url, None).await;
        let e = ahead.next(Duration::from_secs(10)).await.expect("a reset");
        assert_eq!(e.event, "reset");
        assert_eq!(serde_json::from_str::<Value>(&e.data).unwrap()["seq"], total as u64);
        // An unsigned request is refused; a presigned URL of another video's key too.
        let plain = raw_http().get(format!("{}/cairn/v1/{live_op}", eps[0])).send().await.unwrap();
        assert_eq!(plain.status(), 403);
    })
    .await;
}
