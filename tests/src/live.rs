//! Clients of Cairn's live streams, as a browser would use them: SigV4 presigned URLs
//! (a browser cannot sign an EventSource or WebSocket request with headers), a
//! Server-Sent Events reader and a WebSocket.

use crate::raw_http;
use futures::StreamExt;
use std::time::{Duration, SystemTime};

/// A presigned GET URL for `/cairn/v1/<op>` (`op` may carry a query string).
pub fn presign_v1(endpoint: &str, creds: (&str, &str), op: &str, expires: Duration) -> String {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation};
    let url = format!("{}/cairn/v1/{}", endpoint.trim_end_matches('/'), op.trim_start_matches('/'));
    let identity = aws_credential_types::Credentials::new(creds.0, creds.1, None, None, "presigner").into();
    let mut settings = crate::s3_signing_settings();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    let params = crate::s3_signing_params(&identity, SystemTime::now(), settings);
    let req = SignableRequest::new("GET", &url, std::iter::empty(), SignableBody::UnsignedPayload).expect("signable");
    let (instructions, _) = sign(req, &params).expect("presign").into_parts();
    let mut u = url::Url::parse(&url).expect("url");
    for (k, v) in instructions.params() {
        u.query_pairs_mut().append_pair(k, v);
    }
    u.to_string()
}

/// One Server-Sent Event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

/// Reads a `text/event-stream` response event by event (comments skipped).
pub struct SseReader {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl SseReader {
    /// Opens `url` (a presigned URL), with `Last-Event-ID` when given; panics unless
    /// the answer is a 200 event stream.
    pub async fn open(url: &str, last_event_id: Option<&str>) -> SseReader {
        let mut req = raw_http().get(url).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let r = req.send().await.expect("open event stream");
        let status = r.status();
        let ctype = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        if status != 200 {
            panic!("event stream {url}: {status}: {}", r.text().await.unwrap_or_default());
        }
        assert!(ctype.starts_with("text/event-stream"), "content type {ctype}");
        SseReader { body: r.bytes_stream().boxed(), buf: String::new() }
    }

    /// The next event, or None when the stream ended or `wait` passed.
    pub async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut e = SseEvent { event: "message".into(), ..Default::default() };
                let mut any = false;
                for line in block.lines() {
                    if line.starts_with(':') || line.is_empty() {
                        continue;
                    }
                    let (field, value) =
                        line.split_once(':').map(|(f, v)| (f, v.strip_prefix(' ').unwrap_or(v))).unwrap_or((line, ""));
                    any = true;
                    match field {
                        "id" => e.id = Some(value.to_string()),
                        "event" => e.event = value.to_string(),
                        "data" => {
                            if !e.data.is_empty() {
                                e.data.push('\n');
                            }
                            e.data.push_str(value)
                        }
                        _ => {}
                    }
                }
                if any && !(e.data.is_empty() && e.id.is_none() && e.event == "message") {
                    return Some(e);
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next()).await.ok()??.ok()?;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

pub type WebSocket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a WebSocket to a presigned `http://` URL.
pub async fn websocket(url: &str) -> WebSocket {
    let ws_url = url.replacen("http://", "ws://", 1).replacen("https://", "wss://", 1);
    let (ws, resp) = tokio_tungstenite::connect_async(ws_url.as_str()).await.expect("WebSocket handshake");
    assert_eq!(resp.status(), 101);
    ws
}
