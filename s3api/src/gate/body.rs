//! The guarded body: every request body, whoever reads it (s3s's XML reader, the
//! object writer, Cairn's JSON routes), passes through it.
//!
//! As frames arrive it enforces what the gate decided from the request head: an
//! idle timeout between frames, a size cap for bodies read whole, their declared
//! digests at the end, and the framing of aws-chunked bodies. A body that breaks a
//! rule ends with an error, so whatever was reading it fails before it commits
//! anything, and the breach is recorded in the shared [`Watch`] for the front to
//! answer the right S3 error instead of the reader's generic one.

use super::chunked::{ChunkFraming, FramingError};
use crate::s3::checksum::{Algorithm, BodyHasher};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// What went wrong with a body, once it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Breach {
    /// No bytes for longer than the idle timeout.
    Idle,
    /// More bytes than a body read whole may have.
    TooLarge(u64),
    /// A declared digest does not match (code, message).
    Digest(&'static str, String),
    /// An aws-chunked body ended before its final chunk.
    IncompleteChunked,
    /// An aws-chunked body whose framing is broken.
    MalformedChunked,
    /// The connection ended before the body did.
    Incomplete,
}

/// Shared between the body (which records) and the front (which reads after the
/// operation returned).
#[derive(Default, Debug)]
pub struct Watch(Mutex<Option<Breach>>);

impl Watch {
    pub fn breach(&self) -> Option<Breach> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, b: Breach) {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(b);
        }
    }
}

/// The digests a body read whole must match: `Content-MD5`, `x-amz-checksum-*`, and
/// the hex SHA-256 a signed `x-amz-content-sha256` names (s3s checks that one too,
/// but its failure reaches the reader as an I/O error).
pub struct Declared {
    pub content_md5: Option<String>,
    pub checksums: BTreeMap<Algorithm, String>,
    pub content_sha256: Option<[u8; 32]>,
}

pub struct Rules {
    pub idle: Duration,
    pub max_len: Option<u64>,
    pub digests: Option<Declared>,
    pub chunked: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("request body refused: {0:?}")]
pub struct BodyRefused(pub Breach);

pin_project_lite::pin_project! {
    pub struct GuardedBody<B> {
        #[pin]
        inner: B,
        #[pin]
        sleep: Sleep,
        idle: Duration,
        max_len: Option<u64>,
        // The announced length (Content-Length), when there is one.
        length: Option<u64>,
        seen: u64,
        hasher: Hashing,
        framing: Option<ChunkFraming>,
        watch: Arc<Watch>,
        // The idle clock runs only while we wait for the sender, not while the
        // reader is busy elsewhere (a writer waiting on its disks).
        waiting: bool,
        done: bool,
    }
}

type Hashing = Option<(BodyHasher, Option<sha2::Sha256>, Declared)>;

/// Compares the digests of a whole body with what the request declared.
fn check_digests(hashing: Hashing) -> Result<(), Breach> {
    let Some((hasher, sha, declared)) = hashing else { return Ok(()) };
    if let (Some(sha), Some(want)) = (sha, declared.content_sha256)
        && sha2::Digest::finalize(sha).as_slice() != want
    {
        let msg = "The provided 'x-amz-content-sha256' header does not match what was computed.";
        return Err(Breach::Digest("XAmzContentSHA256Mismatch", msg.into()));
    }
    let digests = hasher.finish();
    if let Err(e) = digests.verify(declared.content_md5.as_deref(), &declared.checksums) {
        let code = match e.code() {
            s3s::S3ErrorCode::InvalidDigest => "InvalidDigest",
            _ => "BadDigest",
        };
        let msg = e.message().unwrap_or("The digest you specified did not match.").to_string();
        return Err(Breach::Digest(code, msg));
    }
    Ok(())
}

/// The breach an empty body already makes, before anything is read: s3s checks a
/// declared payload hash of an empty body before it reads it, and answers its
/// failure as an internal error.
pub fn check_empty(digests: Option<Declared>) -> Result<(), Breach> {
    let algs: Vec<Algorithm> = digests.iter().flat_map(|d| d.checksums.keys().copied()).collect();
    check_digests(digests.map(|d| {
        let sha = d.content_sha256.map(|_| <sha2::Sha256 as sha2::Digest>::new());
        (BodyHasher::new(&algs), sha, d)
    }))
}

impl<B: Body> GuardedBody<B> {
    pub fn new(inner: B, rules: Rules, watch: Arc<Watch>) -> Self {
        let hasher = rules.digests.map(|d| {
            let algs: Vec<Algorithm> = d.checksums.keys().copied().collect();
            let sha = d.content_sha256.map(|_| <sha2::Sha256 as sha2::Digest>::new());
            (BodyHasher::new(&algs), sha, d)
        });
        let length = inner.size_hint().exact();
        GuardedBody {
            length,
            inner,
            sleep: tokio::time::sleep(rules.idle),
            idle: rules.idle,
            max_len: rules.max_len,
            seen: 0,
            hasher,
            framing: rules.chunked.then(ChunkFraming::new),
            watch,
            waiting: false,
            done: false,
        }
    }
}

impl<B> Body for GuardedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        let fail = |watch: &Watch, done: &mut bool, b: Breach| {
            *done = true;
            watch.record(b.clone());
            Poll::Ready(Some(Err(Box::new(BodyRefused(b)) as Self::Error)))
        };
        let polled = this.inner.as_mut().poll_frame(cx);
        let frame = match polled {
            Poll::Pending => {
                if !*this.waiting {
                    *this.waiting = true;
                    let deadline = Instant::now() + *this.idle;
                    this.sleep.as_mut().reset(deadline);
                }
                ready!(this.sleep.as_mut().poll(cx));
                return fail(this.watch, this.done, Breach::Idle);
            }
            Poll::Ready(f) => f,
        };
        *this.waiting = false;
        match frame {
            None => {
                *this.done = true;
                if let Some(f) = this.framing.as_ref() {
                    match f.finish() {
                        Ok(()) => {}
                        Err(FramingError::Incomplete) => return fail(this.watch, this.done, Breach::IncompleteChunked),
                        Err(FramingError::Malformed) => return fail(this.watch, this.done, Breach::MalformedChunked),
                    }
                }
                if let Err(b) = check_digests(this.hasher.take()) {
                    return fail(this.watch, this.done, b);
                }
                Poll::Ready(None)
            }
            Some(Err(e)) => {
                // The sender went away mid-body (hyper's error says how).
                *this.done = true;
                this.watch.record(Breach::Incomplete);
                Poll::Ready(Some(Err(e.into())))
            }
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    *this.seen += data.len() as u64;
                    if let Some(max) = *this.max_len
                        && *this.seen > max
                    {
                        return fail(this.watch, this.done, Breach::TooLarge(max));
                    }
                    if let Some(f) = this.framing.as_mut()
                        && f.feed(data).is_err()
                    {
                        return fail(this.watch, this.done, Breach::MalformedChunked);
                    }
                    if let Some((h, sha, _)) = this.hasher.as_mut() {
                        h.update(data);
                        if let Some(sha) = sha {
                            sha2::Digest::update(sha, data);
                        }
                    }
                    // At the announced length the digests are decided before this
                    // last frame is handed on: s3s's own payload-hash check fires
                    // when it sees the last byte, and its error would hide ours.
                    if Some(*this.seen) == *this.length
                        && let Err(b) = check_digests(this.hasher.take())
                    {
                        return fail(this.watch, this.done, b);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || (self.inner.is_end_stream() && self.framing.is_none() && self.hasher.is_none())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
