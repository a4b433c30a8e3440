//! HTTP preconditions (RFC 7232 as S3 applies them) for GET, HEAD and the copy
//! source of CopyObject.

use crate::timefmt::{timestamp_seconds, to_seconds};
use cairn_raft::schema::{ObjectVersion, WriteCondition};
use s3s::dto::{ETagCondition, Timestamp};
use s3s::{S3Result, s3_error};

pub struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

pub enum Outcome {
    Proceed,
    NotModified,
    PreconditionFailed,
}

fn etag_matches(cond: &ETagCondition, etag: &str) -> bool {
    if cond.is_any() {
        return true;
    }
    cond.as_etag().is_some_and(|e| e.value() == etag)
}

impl Conditions<'_> {
    /// If-Match decides over If-Unmodified-Since, and If-None-Match over
    /// If-Modified-Since, as S3 documents.
    pub fn evaluate(&self, obj: &ObjectVersion) -> Outcome {
        let modified = to_seconds(obj.last_modified);
        match self.if_match {
            Some(c) if !etag_matches(c, &obj.etag) => return Outcome::PreconditionFailed,
            Some(_) => {}
            None => {
                if let Some(t) = self.if_unmodified_since
                    && modified > timestamp_seconds(t)
                {
                    return Outcome::PreconditionFailed;
                }
            }
        }
        match self.if_none_match {
            Some(c) if etag_matches(c, &obj.etag) => return Outcome::NotModified,
            Some(_) => {}
            None => {
                if let Some(t) = self.if_modified_since
                    && modified <= timestamp_seconds(t)
                {
                    return Outcome::NotModified;
                }
            }
        }
        Outcome::Proceed
    }

    pub fn check_read(&self, obj: &ObjectVersion) -> S3Result<()> {
        match self.evaluate(obj) {
            Outcome::Proceed => Ok(()),
            Outcome::NotModified => Err(not_modified(obj)),
            Outcome::PreconditionFailed => {
                Err(s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold"))
            }
        }
    }

    /// For a copy source S3 answers 412 for every failed condition, 304 included.
    pub fn check_copy_source(&self, obj: &ObjectVersion) -> S3Result<()> {
        match self.evaluate(obj) {
            Outcome::Proceed => Ok(()),
            _ => Err(s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold")),
        }
    }
}

/// 304 Not Modified carries the validators a cache needs to refresh its copy.
fn not_modified(obj: &ObjectVersion) -> s3s::S3Error {
    let mut e = s3_error!(NotModified);
    let mut h = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(&format!("\"{}\"", obj.etag)) {
        h.insert(http::header::ETAG, v);
    }
    let secs = u64::try_from(to_seconds(obj.last_modified)).unwrap_or(0);
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    if let Ok(v) = http::HeaderValue::from_str(&httpdate::fmt_http_date(when)) {
        h.insert(http::header::LAST_MODIFIED, v);
    }
    e.set_headers(h);
    e
}

pub(crate) fn write_condition(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<Option<WriteCondition>> {
    match (if_match, if_none_match) {
        (Some(_), Some(_)) => {
            Err(s3_error!(NotImplemented, "If-Match and If-None-Match together are not supported on writes"))
        }
        (None, Some(c)) if c.is_any() => Ok(Some(WriteCondition::IfNoneMatchAny)),
        (None, Some(_)) => Err(s3_error!(NotImplemented, "If-None-Match on writes supports only *")),
        (Some(c), None) if c.is_any() => Ok(Some(WriteCondition::IfMatch("*".into()))),
        (Some(c), None) => match c.as_etag() {
            Some(e) => Ok(Some(WriteCondition::IfMatch(e.value().to_string()))),
            None => Err(s3_error!(InvalidArgument, "invalid If-Match header")),
        },
        (None, None) => Ok(None),
    }
}
