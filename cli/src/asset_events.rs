//! `cairn asset events`: a tenant's asset feed, one JSON line per event. Without
//! `--follow` it reads what is there (`GET assets/events`, page after page); with
//! `--follow` it keeps waiting for new events with long polls (`wait=30`); with
//! `--stream` it follows through Server-Sent Events (`GET assets/events/stream`),
//! reconnecting with `Last-Event-ID` when the connection drops.

use crate::admin::{signed, v1};
use crate::client::Connection;
use anyhow::{Context, bail};
use cairn_api::assets::{AssetEventInfo, AssetEventList};
use cairn_api::{ErrorBody, V1_PREFIX};

#[derive(clap::Args)]
pub struct EventsArgs {
    /// The tenant [default: the key's].
    #[arg(long)]
    tenant: Option<String>,
    /// Start after this event (a cursor an event carries) [default: the oldest kept].
    #[arg(long)]
    cursor: Option<String>,
    /// Keep waiting for new events (long polls of up to 30 s).
    #[arg(long)]
    follow: bool,
    /// Keep waiting for new events through Server-Sent Events (one open connection).
    #[arg(long, conflicts_with = "follow")]
    stream: bool,
    /// Stop after this many events.
    #[arg(long)]
    limit: Option<usize>,
}

fn query(tenant: Option<&str>, cursor: Option<&str>, wait: bool) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(t) = tenant {
        q.append_pair("tenant", t);
    }
    if let Some(c) = cursor {
        q.append_pair("cursor", c);
    }
    if wait {
        q.append_pair("wait", "30");
    }
    q.finish()
}

pub async fn run(conn: &Connection, a: EventsArgs) -> anyhow::Result<()> {
    if a.limit == Some(0) {
        return Ok(());
    }
    if a.stream {
        return stream(conn, a).await;
    }
    let (mut cursor, mut printed) = (a.cursor, 0usize);
    loop {
        let q = query(a.tenant.as_deref(), cursor.as_deref(), a.follow);
        let page: AssetEventList = v1::get(conn, &format!("assets/events?{q}")).await?;
        for e in &page.events {
            println!("{}", serde_json::to_string(e)?);
            printed += 1;
            if a.limit == Some(printed) {
                return Ok(());
            }
        }
        cursor = page.cursor.or(cursor);
        if !a.follow && page.events.is_empty() {
            return Ok(());
        }
    }
}

/// One Server-Sent Event: its `event:` name, `id:` and `data:` lines.
#[derive(Default)]
struct Frame {
    event: String,
    id: Option<String>,
    data: String,
}

/// The frame of one SSE block (the lines between two blank lines); `None` for a
/// comment-only block (a keep-alive).
fn parse_frame(block: &str) -> Option<Frame> {
    let mut f = Frame { event: "message".into(), ..Default::default() };
    let mut any = false;
    for line in block.lines() {
        if line.is_empty() || line.starts_with(':') {
            continue;
        }
        let (field, value) =
            line.split_once(':').map(|(k, v)| (k, v.strip_prefix(' ').unwrap_or(v))).unwrap_or((line, ""));
        any = true;
        match field {
            "event" => f.event = value.to_string(),
            "id" => f.id = Some(value.to_string()),
            "data" => {
                if !f.data.is_empty() {
                    f.data.push('\n');
                }
                f.data.push_str(value);
            }
            _ => {}
        }
    }
    any.then_some(f)
}

/// Follows `GET assets/events/stream`; when the server closes the connection, opens
/// another that resumes after the last event printed (`Last-Event-ID`).
async fn stream(conn: &Connection, a: EventsArgs) -> anyhow::Result<()> {
    let (mut last, mut printed) = (a.cursor.clone(), 0usize);
    loop {
        let q = query(a.tenant.as_deref(), None, false);
        let endpoint =
            if q.is_empty() { "assets/events/stream".to_string() } else { format!("assets/events/stream?{q}") };
        let mut req = signed(conn, "GET", V1_PREFIX, &endpoint, Vec::new())?.header("accept", "text/event-stream");
        if let Some(c) = &last {
            req = req.header("last-event-id", c);
        }
        let mut resp = req.send().await.with_context(|| format!("connecting to {}", conn.endpoint))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            match serde_json::from_str::<ErrorBody>(&text) {
                Ok(e) => bail!("{}: {}", e.error.code, e.error.message),
                Err(_) => bail!("{endpoint}: HTTP {status}: {}", text.trim()),
            }
        }
        let mut buf = String::new();
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => {
                    eprintln!("cairn: the event stream broke ({e}); resuming");
                    break;
                }
            };
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let Some(frame) = parse_frame(&block) else { continue };
                match frame.event.as_str() {
                    "asset" => {
                        let e: AssetEventInfo = serde_json::from_str(&frame.data)
                            .with_context(|| format!("an event that is not JSON: {}", frame.data))?;
                        println!("{}", serde_json::to_string(&e)?);
                        last = frame.id.or(Some(e.cursor));
                        printed += 1;
                        if a.limit == Some(printed) {
                            return Ok(());
                        }
                    }
                    "error" => bail!("the event stream failed: {}", frame.data),
                    _ => {}
                }
            }
        }
        // The server ended the stream (a restart, a proxy's timeout): resume after a pause.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::parse_frame;

    #[test]
    fn frames_are_parsed_as_sse_defines_them() {
        let f = parse_frame("id: c1\nevent: asset\ndata: {\"a\":1}\n\n").unwrap();
        assert_eq!((f.event.as_str(), f.id.as_deref(), f.data.as_str()), ("asset", Some("c1"), "{\"a\":1}"));
        assert!(parse_frame(": keep-alive\n\n").is_none());
        let f = parse_frame("data:x\ndata: y\n").unwrap();
        assert_eq!((f.event.as_str(), f.data.as_str()), ("message", "x\ny"));
    }
}
