//! A video's live annotation stream, as Server-Sent Events and as a WebSocket, on
//! every node, and presence (playheads and pointers) across nodes.
//!
//! Every committed change of a video's annotations has a number in the video's live
//! sequence, kept in the metadata with the change (`raft/src/annotations.rs`, the
//! last `LIVE_EVENTS_KEPT`), so a client names the last number it saw and is given
//! exactly what came after, on any node, after any restart.
//!
//! One [`LiveHub`] per node: one task follows the change feed and, for each video
//! someone watches here, reads the new events from the table once, renders each
//! as JSON once and broadcasts it to the video's [`Channel`]. A subscriber first
//! subscribes to the channel, then reads the table from its position, then takes the
//! broadcast, skipping what it has sent; a subscriber that falls behind the
//! broadcast reads the table again. Nothing is sent twice or out of order, and a
//! subscriber too far behind the table is sent a reset.
//!
//! Presence is never stored: a WebSocket client's presence message goes to the
//! video's other clients on this node and, through the [`PresenceRelay`] the node
//! gives the hub (its peers over the internode transport), on every other node.

use super::AdminError;
use super::annotation_fields::annotation_out;
use super::annotations::Video;
use super::asset_fields::invalid;
use bytes::Bytes;
use cairn_api::annotations::{LiveEventInfo, LiveMessage, LiveReset, Presence};
use cairn_raft::annotations::{LiveEvent, VideoRef};
use cairn_raft::{Change, MetaStore};
use futures::{SinkExt, StreamExt};
use s3s::dto::StreamingBlob;
use s3s::{Body, S3Response};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role as WsRole;

/// How often an idle stream sends a heartbeat.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// Events read from the table at a time.
const PAGE: usize = 1000;
/// Batches of events a channel holds for subscribers that are slow to take them (a
/// batch is up to [`PAGE`] rendered events; one further behind reads the table).
const CHANNEL_DEPTH: usize = 64;
/// Largest presence message a client may send.
const MAX_PRESENCE: usize = 4096;

/// Sends presence messages to the other nodes (the node implements it over its
/// internode transport; a single node has none).
pub trait PresenceRelay: Send + Sync {
    fn send(&self, video: &VideoRef, message: Arc<str>);
}

/// The WebSocket upgrade of the request, when it asked for one (hyper's).
pub type Upgrade = Option<hyper::upgrade::OnUpgrade>;

/// One event as subscribers send it.
#[derive(Clone, Debug)]
struct Rendered {
    seq: u64,
    kind: &'static str,
    /// A [`LiveEventInfo`] as JSON.
    json: Arc<str>,
}

/// The node's side of one video someone watches here.
struct Channel {
    video: VideoRef,
    events: broadcast::Sender<Arc<Vec<Rendered>>>,
    /// (sender's connection, message JSON).
    presence: broadcast::Sender<(u64, Arc<str>)>,
    /// The last sequence number broadcast.
    sent: Mutex<u64>,
}

pub struct LiveHub {
    meta: MetaStore,
    channels: Mutex<HashMap<VideoRef, Weak<Channel>>>,
    relay: OnceLock<Arc<dyn PresenceRelay>>,
    following: AtomicBool,
    connections: AtomicU64,
}

fn render(meta: &MetaStore, v: &VideoRef, events: &[(u64, LiveEvent)]) -> Vec<Rendered> {
    let timing = meta.video_timing(v).ok().flatten();
    let tenant = meta.asset(&v.asset).ok().flatten().map(|a| a.tenant).unwrap_or_default();
    events
        .iter()
        .filter_map(|(seq, e)| {
            let a = meta.annotation_revision(&e.id, e.revision).ok().flatten()?;
            let info = LiveEventInfo {
                seq: *seq,
                kind: e.kind.as_str().into(),
                annotation: annotation_out(&a, timing.as_ref(), &tenant),
            };
            let json: Arc<str> = serde_json::to_string(&info).ok()?.into();
            Some(Rendered { seq: *seq, kind: e.kind.as_str(), json })
        })
        .collect()
}

/// What a subscriber is given next.
enum Next {
    Events(Vec<Rendered>),
    Shared(Arc<Vec<Rendered>>),
    /// Too far behind: the latest sequence number.
    Reset(u64),
}

/// One subscriber's position in a video's sequence.
struct Cursor {
    meta: MetaStore,
    channel: Arc<Channel>,
    rx: broadcast::Receiver<Arc<Vec<Rendered>>>,
    sent: u64,
    /// Events are in the table past `sent` that this subscriber has not read.
    behind: bool,
    /// The client named a position past the latest: it is told to start over.
    reset_first: bool,
}

impl Cursor {
    /// The next events after `sent` (waiting for them), or a reset.
    async fn next(&mut self) -> Next {
        if std::mem::take(&mut self.reset_first) {
            return Next::Reset(self.sent);
        }
        loop {
            if self.behind {
                match self.meta.live_events(&self.channel.video, self.sent, PAGE) {
                    Ok(Some(page)) if !page.is_empty() => {
                        self.behind = page.len() == PAGE;
                        let out = render(&self.meta, &self.channel.video, &page);
                        self.sent = page.last().map(|(s, _)| *s).unwrap_or(self.sent);
                        return Next::Events(out);
                    }
                    Ok(Some(_)) => self.behind = false,
                    Ok(None) | Err(_) => {
                        let latest = self.meta.live_sequence(&self.channel.video).unwrap_or(0);
                        self.sent = latest;
                        self.behind = false;
                        return Next::Reset(latest);
                    }
                }
            }
            match self.rx.recv().await {
                Ok(batch) => {
                    let first = batch.first().map(|r| r.seq).unwrap_or(0);
                    let last = batch.last().map(|r| r.seq).unwrap_or(0);
                    if last <= self.sent {
                        continue;
                    }
                    if first > self.sent + 1 {
                        // Something between was not seen here: read it from the table.
                        self.behind = true;
                        continue;
                    }
                    let partial = first <= self.sent;
                    let sent = std::mem::replace(&mut self.sent, last);
                    if partial {
                        return Next::Events(batch.iter().filter(|r| r.seq > sent).cloned().collect());
                    }
                    return Next::Shared(batch);
                }
                Err(broadcast::error::RecvError::Lagged(_)) => self.behind = true,
                Err(broadcast::error::RecvError::Closed) => {
                    // Never while the cursor holds the channel; read the table anyway.
                    self.behind = true;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

impl LiveHub {
    pub fn new(meta: MetaStore) -> Arc<LiveHub> {
        Arc::new(LiveHub {
            meta,
            channels: Mutex::new(HashMap::new()),
            relay: OnceLock::new(),
            following: AtomicBool::new(false),
            connections: AtomicU64::new(0),
        })
    }

    /// The node's way to its peers, for presence (set once, at start-up).
    pub fn set_relay(&self, relay: Arc<dyn PresenceRelay>) {
        let _ = self.relay.set(relay);
    }

    /// A presence message from another node, for this node's clients of `video`.
    pub fn deliver_presence(&self, video: &VideoRef, message: Arc<str>) {
        if let Some(c) = self.channel_if_watched(video) {
            let _ = c.presence.send((0, message));
        }
    }

    fn channel_if_watched(&self, v: &VideoRef) -> Option<Arc<Channel>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner()).get(v).and_then(Weak::upgrade)
    }

    fn channel(self: &Arc<Self>, v: &VideoRef) -> Arc<Channel> {
        self.follow();
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = channels.get(v).and_then(Weak::upgrade) {
            return c;
        }
        channels.retain(|_, w| w.strong_count() > 0);
        let c = Arc::new(Channel {
            video: v.clone(),
            events: broadcast::channel(CHANNEL_DEPTH).0,
            presence: broadcast::channel(CHANNEL_DEPTH).0,
            sent: Mutex::new(self.meta.live_sequence(v).unwrap_or(0)),
        });
        channels.insert(v.clone(), Arc::downgrade(&c));
        c
    }

    /// Starts the task that follows the change feed, once.
    fn follow(self: &Arc<Self>) {
        if self.following.swap(true, Ordering::SeqCst) {
            return;
        }
        let hub = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(meta) = hub.upgrade().map(|h| h.meta.clone()) else { return };
                let mut sub = match meta.feed().subscribe(None) {
                    Ok(s) => s,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // Anything committed before the subscription is read from the table.
                if let Some(h) = hub.upgrade() {
                    h.pump_all();
                }
                loop {
                    let batch = sub.next_batch(256).await;
                    let Some(h) = hub.upgrade() else { return };
                    match batch {
                        Ok(events) => {
                            let mut seen: Vec<VideoRef> = Vec::new();
                            for e in events {
                                if let Change::AnnotationsChanged { asset, version, .. } = &e.change {
                                    let v = VideoRef { asset: asset.clone(), version: *version };
                                    if !seen.contains(&v) {
                                        seen.push(v);
                                    }
                                }
                            }
                            for v in seen {
                                if let Some(c) = h.channel_if_watched(&v) {
                                    h.pump(&c);
                                }
                            }
                        }
                        // A gap or a replaced store: read every watched video's table.
                        Err(_) => {
                            h.pump_all();
                            break;
                        }
                    }
                }
            }
        });
    }

    fn pump_all(&self) {
        let watched: Vec<Arc<Channel>> =
            self.channels.lock().unwrap_or_else(|p| p.into_inner()).values().filter_map(Weak::upgrade).collect();
        for c in watched {
            self.pump(&c);
        }
    }

    /// Broadcasts the channel's events past what it broadcast.
    fn pump(&self, c: &Channel) {
        let mut sent = c.sent.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let page = match self.meta.live_events(&c.video, *sent, PAGE) {
                Ok(Some(page)) => page,
                // Behind the table (or it failed): subscribers read it themselves.
                Ok(None) | Err(_) => {
                    *sent = self.meta.live_sequence(&c.video).unwrap_or(*sent);
                    return;
                }
            };
            let Some(last) = page.last().map(|(s, _)| *s) else { return };
            let rendered = render(&self.meta, &c.video, &page);
            *sent = last;
            let _ = c.events.send(Arc::new(rendered));
            if page.len() < PAGE {
                return;
            }
        }
    }

    /// A subscriber positioned after `after` (the latest when None).
    fn cursor(self: &Arc<Self>, v: &VideoRef, after: Option<u64>) -> Cursor {
        let channel = self.channel(v);
        // Subscribed before the table is read: nothing committed in between is missed.
        let rx = channel.events.subscribe();
        let latest = self.meta.live_sequence(v).unwrap_or(0);
        let (sent, reset_first) = match after {
            Some(a) if a > latest => (latest, true),
            Some(a) => (a, false),
            None => (latest, false),
        };
        Cursor { meta: self.meta.clone(), channel, rx, sent, behind: sent < latest, reset_first }
    }

    /// `GET V/annotations/live`: Server-Sent Events until the client goes away.
    pub(super) fn sse(
        self: &Arc<Self>,
        v: &Video,
        query: Option<&str>,
        last_event_id: Option<&str>,
    ) -> Result<S3Response<Body>, AdminError> {
        let after = after_param(query, last_event_id)?;
        let mut cursor = self.cursor(&v.video, after);
        let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
        tokio::spawn(async move {
            // Says at once that the stream is open (and where it stands).
            let hello = format!(": live after {}\nretry: 1000\n\n", cursor.sent);
            if tx.send(Ok(Bytes::from(hello))).await.is_err() {
                return;
            }
            loop {
                let next = tokio::select! {
                    n = cursor.next() => n,
                    _ = tokio::time::sleep(HEARTBEAT) => {
                        if tx.send(Ok(Bytes::from_static(b": heartbeat\n\n"))).await.is_err() {
                            return;
                        }
                        continue;
                    }
                };
                let mut out = String::new();
                let mut add = |r: &Rendered| {
                    out.push_str(&format!("id: {}\nevent: {}\ndata: {}\n\n", r.seq, r.kind, r.json));
                };
                match next {
                    Next::Events(v) => v.iter().for_each(&mut add),
                    Next::Shared(v) => v.iter().for_each(&mut add),
                    Next::Reset(seq) => {
                        let data = serde_json::to_string(&LiveReset { seq }).unwrap_or_default();
                        out = format!("id: {seq}\nevent: reset\ndata: {data}\n\n");
                    }
                }
                if tx.send(Ok(Bytes::from(out))).await.is_err() {
                    return;
                }
            }
        });
        let blob = StreamingBlob::wrap(sync_wrapper::SyncStream::new(rx));
        let mut resp = S3Response::with_status(Body::from(blob), http::StatusCode::OK);
        resp.headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/event-stream"));
        resp.headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
        resp.headers.insert("x-accel-buffering", http::HeaderValue::from_static("no"));
        Ok(resp)
    }

    /// `GET V/annotations/ws`: answers 101 and serves the socket once upgraded.
    pub(super) fn websocket(
        self: &Arc<Self>,
        v: &Video,
        (key, name): (String, String),
        query: Option<&str>,
        headers: &http::HeaderMap,
        upgrade: Upgrade,
    ) -> S3Response<Body> {
        let res = (|| {
            let after = after_param(query, None)?;
            let is_ws = headers
                .get(http::header::UPGRADE)
                .and_then(|h| h.to_str().ok())
                .is_some_and(|s| s.eq_ignore_ascii_case("websocket"));
            let ws_key = headers.get("sec-websocket-key").filter(|_| is_ws).ok_or_else(|| {
                AdminError::new(400, "InvalidRequest", "this endpoint is a WebSocket: send Upgrade: websocket")
            })?;
            let on_upgrade = upgrade.ok_or_else(|| {
                AdminError::new(400, "InvalidRequest", "WebSocket needs HTTP/1.1 with Upgrade (not HTTP/2)")
            })?;
            let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(ws_key.as_bytes());
            Ok((after, on_upgrade, accept))
        })();
        let (after, on_upgrade, accept) = match res {
            Ok(x) => x,
            Err(e) => return super::answer::<()>(Err(e)),
        };
        let cursor = self.cursor(&v.video, after);
        let conn = self.connections.fetch_add(1, Ordering::Relaxed) + 1;
        let hub = self.clone();
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else { return };
            let io = hyper_util::rt::TokioIo::new(upgraded);
            let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(io, WsRole::Server, None).await;
            hub.serve_socket(ws, cursor, conn, key, name).await;
        });
        let mut resp = S3Response::with_status(Body::empty(), http::StatusCode::SWITCHING_PROTOCOLS);
        resp.headers.insert(http::header::UPGRADE, http::HeaderValue::from_static("websocket"));
        resp.headers.insert(http::header::CONNECTION, http::HeaderValue::from_static("Upgrade"));
        if let Ok(h) = http::HeaderValue::from_str(&accept) {
            resp.headers.insert("sec-websocket-accept", h);
        }
        resp
    }

    async fn serve_socket<S>(
        &self,
        ws: tokio_tungstenite::WebSocketStream<S>,
        mut cursor: Cursor,
        conn: u64,
        key: String,
        name: String,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let (mut sink, mut source) = ws.split();
        let channel = cursor.channel.clone();
        let mut presence = channel.presence.subscribe();
        let from = format!("{key}/{conn}");
        loop {
            let out: Vec<Message> = tokio::select! {
                next = cursor.next() => match next {
                    Next::Events(v) => v.iter().map(|r| event_message(&r.json)).collect(),
                    Next::Shared(v) => v.iter().map(|r| event_message(&r.json)).collect(),
                    Next::Reset(seq) => vec![Message::text(json(&LiveMessage::Reset(LiveReset { seq })))],
                },
                p = presence.recv() => match p {
                    Ok((sender, msg)) if sender != conn => vec![Message::text(msg.to_string())],
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                incoming = source.next() => match incoming {
                    Some(Ok(Message::Text(t))) => {
                        if let Some(msg) = self.presence_from(t.as_str(), &from, &name) {
                            let _ = channel.presence.send((conn, msg.clone()));
                            if let Some(r) = self.relay.get() {
                                r.send(&channel.video, msg);
                            }
                        }
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => continue,
                },
                _ = tokio::time::sleep(HEARTBEAT) => {
                    vec![Message::text(json(&LiveMessage::Heartbeat { seq: cursor.sent }))]
                }
            };
            for m in out {
                if sink.send(m).await.is_err() {
                    return;
                }
            }
        }
    }

    /// A client's presence message with the sender filled in, if it is one.
    fn presence_from(&self, text: &str, from: &str, name: &str) -> Option<Arc<str>> {
        if text.len() > MAX_PRESENCE {
            return None;
        }
        match serde_json::from_str::<LiveMessage>(text).ok()? {
            LiveMessage::Presence(p) => {
                let p = Presence { from: Some(from.to_string()), name: Some(name.to_string()), ..p };
                Some(json(&LiveMessage::Presence(p)).into())
            }
            _ => None,
        }
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A rendered event inside the WebSocket's `{"type":"event",...}` envelope.
fn event_message(event_json: &str) -> Message {
    let body = event_json.strip_prefix('{').unwrap_or(event_json);
    Message::text(format!("{{\"type\":\"event\",{body}"))
}

/// Where a subscriber starts: `after=SEQ` or `Last-Event-ID`; the latest when
/// neither is given.
fn after_param(query: Option<&str>, last_event_id: Option<&str>) -> Result<Option<u64>, AdminError> {
    let mut after = last_event_id.map(str::to_string);
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "after" => after = Some(v.into_owned()),
            // SigV4 presigned URL parameters are the authorizer's.
            k if k.starts_with("X-Amz-") || k.starts_with("x-amz-") => {}
            other => return Err(invalid(other, format!("unknown parameter {other}"))),
        }
    }
    after.map(|a| a.trim().parse().map_err(|_| invalid("after", "after is a sequence number"))).transpose()
}
