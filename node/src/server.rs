//! The HTTP front: accepts connections, answers the health probes itself and
//! hands everything else to s3s. Shuts down gracefully on request.

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::service::S3Service;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long in-flight requests may run after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn serve(
    listener: TcpListener,
    service: S3Service,
    ready: Arc<dyn Fn() -> bool + Send + Sync>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = ConnBuilder::new(TokioExecutor::new());
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
        let service = service.clone();
        let ready = ready.clone();
        let svc = service_fn(move |req: http::Request<Incoming>| {
            let service = service.clone();
            let ready = ready.clone();
            async move {
                if let Some(resp) = health(&req, ready.as_ref()) {
                    return Ok::<_, s3s::HttpError>(resp);
                }
                let is_head = req.method() == http::Method::HEAD;
                let mut resp = service.call(req.map(s3s::Body::from)).await?;
                // s3s sets 206 for a ranged GET but serializes every HEAD as 200.
                if is_head
                    && resp.status() == http::StatusCode::OK
                    && resp.headers().contains_key(http::header::CONTENT_RANGE)
                {
                    *resp.status_mut() = http::StatusCode::PARTIAL_CONTENT;
                }
                Ok(resp)
            }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), svc).into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("in-flight requests did not finish within {DRAIN_TIMEOUT:?}");
    }
}

fn health(
    req: &http::Request<Incoming>,
    ready: &(dyn Fn() -> bool + Send + Sync),
) -> Option<http::Response<s3s::Body>> {
    let ok = match req.uri().path() {
        "/health/live" => true,
        "/health/ready" => ready(),
        _ => return None,
    };
    let (status, text) = if ok { (200, "ok\n") } else { (503, "not ready\n") };
    let mut resp = http::Response::new(s3s::Body::from(text.to_string()));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    Some(resp)
}
