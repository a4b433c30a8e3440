//! The quota gate in front of a body: a PUT or UploadPart whose announced size cannot
//! fit is refused before anything is stored. Whether a write fits is decided in apply
//! with the write itself (`raft/src/quota.rs`); this gate only spares the disks, and
//! the client, a body that apply would refuse, and never refuses one it would accept
//! (`cairn_object::tenants`).
//!
//! A large body (or one sent with `Expect: 100-continue`) is refused unread: the
//! client, which waits or is still sending, reads the 403 and the connection closes.
//! A small body is read and dropped first, because a client that writes its whole body
//! before it reads would otherwise see a reset connection instead of the answer.

use crate::errors;
use cairn_object::ObjectError;
use cairn_object::tenants::{EARLY_REFUSAL_MIN, refuse_unread};
use futures::StreamExt;
use s3s::S3Result;
use s3s::dto::StreamingBlob;
use std::time::Duration;

/// How long a refused small body may take to arrive before the answer goes anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Passes a write that fits; otherwise empties `body` as described above and answers
/// the refusal.
pub(crate) async fn admit(
    fits: Result<(), ObjectError>,
    len: u64,
    headers: &http::HeaderMap,
    body: &mut Option<StreamingBlob>,
) -> S3Result<()> {
    let Err(refusal) = fits else { return Ok(()) };
    let expects = headers.get(http::header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if let Some(mut blob) = body.take().filter(|_| !refuse_unread(len, expects)) {
        // Bounded: the announced length is under EARLY_REFUSAL_MIN; framing (aws-chunked
        // signatures) adds little, and anything past twice the bound is not waited for.
        let drain = async {
            let mut seen = 0u64;
            while let Some(Ok(chunk)) = blob.next().await {
                seen += chunk.len() as u64;
                if seen > 2 * EARLY_REFUSAL_MIN {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
    }
    Err(errors::object(refusal))
}
