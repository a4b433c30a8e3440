//! The web console: static files under `/console/`, embedded in the binary at build
//! time from `node/console/`, and the redirect from `/` that brings a browser there.
//!
//! The console holds no power of its own: the page signs every request itself (SigV4
//! in the browser) and calls the same S3 and `/cairn/` endpoints as any client, so the
//! one authorizer decides everything. This module only hands out files.
//!
//! Which requests are the console's: a `GET` or `HEAD` of `/console` or below that
//! carries no credentials (no `Authorization` header, no presigned query) and is not
//! addressed to a virtual-hosted bucket. A signed request for a path under `/console/`
//! still goes to S3 (`console` is a reserved bucket name, so new buckets cannot take
//! it; one created before the console existed stays reachable to signed clients).
//! An anonymous `GET /` from a browser (it asks for HTML) is redirected here; every
//! other `GET /` is S3's ListBuckets, as before.

use http::{HeaderValue, Method, StatusCode, header};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "console/"]
struct Files;

/// The console's answer to `req`, or `None` when the request is not the console's.
/// `region` is the node's signing region, handed to the page in `env.json`.
pub fn answer<B>(req: &http::Request<B>, vhost: bool, region: &str) -> Option<http::Response<s3s::Body>> {
    if vhost || !(req.method() == Method::GET || req.method() == Method::HEAD) || signed(req) {
        return None;
    }
    let path = req.uri().path();
    if path == "/" {
        return wants_html(req).then(|| redirect("/console/"));
    }
    if path == "/console" {
        return Some(redirect("/console/"));
    }
    let rest = path.strip_prefix("/console/")?;
    let head = req.method() == Method::HEAD;
    Some(match rest {
        "" => file("index.html", head),
        "env.json" => {
            let body = serde_json::json!({ "region": region, "version": env!("CARGO_PKG_VERSION") }).to_string();
            respond(StatusCode::OK, "application/json", "no-store", body.into_bytes(), head)
        }
        other => file(other, head),
    })
}

/// Whether the request carries credentials of any kind (header or presigned query).
fn signed<B>(req: &http::Request<B>) -> bool {
    req.headers().contains_key(header::AUTHORIZATION)
        || req.uri().query().is_some_and(|q| {
            q.split('&').any(|p| {
                let name = p.split('=').next().unwrap_or("");
                name.eq_ignore_ascii_case("X-Amz-Signature")
                    || name.eq_ignore_ascii_case("X-Amz-Credential")
                    || name == "Signature"
                    || name == "AWSAccessKeyId"
            })
        })
}

fn wants_html<B>(req: &http::Request<B>) -> bool {
    req.uri().query().is_none()
        && req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

fn redirect(to: &'static str) -> http::Response<s3s::Body> {
    let mut resp = http::Response::new(s3s::Body::empty());
    *resp.status_mut() = StatusCode::FOUND;
    resp.headers_mut().insert(header::LOCATION, HeaderValue::from_static(to));
    resp
}

fn file(name: &str, head: bool) -> http::Response<s3s::Body> {
    match Files::get(name) {
        Some(f) => {
            let mime = mime_guess::from_path(name).first_or_octet_stream();
            // Files change with the binary: revalidate by ETag (the file's hash).
            let etag = format!("\"{}\"", hex::encode(&f.metadata.sha256_hash()[..16]));
            let mut resp = respond(StatusCode::OK, mime.essence_str(), "no-cache", f.data.into_owned(), head);
            if let Ok(v) = HeaderValue::from_str(&etag) {
                resp.headers_mut().insert(header::ETAG, v);
            }
            resp
        }
        None => respond(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "no-store", b"Not found\n".to_vec(), head),
    }
}

fn respond(
    status: StatusCode,
    mime: &str,
    cache: &'static str,
    body: Vec<u8>,
    head: bool,
) -> http::Response<s3s::Body> {
    let len = body.len();
    let mut resp = http::Response::new(if head { s3s::Body::empty() } else { s3s::Body::from(body) });
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // The page talks only to its own origin and loads nothing from anywhere else.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; \
             style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}
