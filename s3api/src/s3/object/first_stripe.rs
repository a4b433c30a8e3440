//! A GET reads the first stripe of its range before it answers.
//!
//! Headers, status 200 included, cannot be taken back once sent, and a body that
//! fails after them can only be cut short. The first chunk of a body is the first
//! stripe of the range, read from k shards and checked against their CRCs (rebuilt
//! from parity when a shard is bad), so reading it first means that an object that
//! cannot be read right now (too many of its shards on disks or peers that are away)
//! answers 503 ServiceUnavailable, which clients retry, instead of 200 and a body cut
//! off after the headers. A later stripe that fails still ends the body before its
//! Content-Length, which clients detect as a truncated response.

use crate::errors;
use bytes::Bytes;
use cairn_object::DataStream;
use futures::{Stream, StreamExt};
use s3s::{S3Error, S3Result, s3_error};
use std::pin::Pin;

/// A GET's body as s3s sends it.
pub(super) type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, S3Error>> + Send>>;

/// Seconds a client is asked to wait before retrying such a GET: about what a peer
/// restart, or a disk coming back, takes.
const RETRY_AFTER_SECS: u32 = 5;

/// `body` with its first chunk already read, or the 503 to answer instead.
pub(super) async fn read_first(body: DataStream) -> S3Result<ByteStream> {
    let mut body: ByteStream = Box::pin(body.map(|r| r.map_err(errors::object)));
    match body.next().await {
        // An empty range: no stripe to read.
        None => Ok(Box::pin(futures::stream::empty())),
        Some(Ok(first)) => Ok(Box::pin(futures::stream::once(async move { Ok(first) }).chain(body))),
        Some(Err(e)) => Err(unavailable(e)),
    }
}

fn unavailable(cause: S3Error) -> S3Error {
    tracing::warn!(code = cause.code().as_str(), "GET answered 503: the first stripe of the range cannot be read now");
    let mut e = s3_error!(
        ServiceUnavailable,
        "Too few shards of this object can be read right now (disks or nodes are unavailable); retry."
    );
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from(RETRY_AFTER_SECS));
    e.set_headers(headers);
    e
}
