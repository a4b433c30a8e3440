//! Conversions between the metadata's nanosecond clock and s3s timestamps.

use cairn_raft::schema::Nanos;
use s3s::dto::{Timestamp, TimestampFormat};
use time::OffsetDateTime;

pub fn now() -> Nanos {
    OffsetDateTime::now_utc().unix_timestamp_nanos() as Nanos
}

pub fn to_timestamp(n: Nanos) -> Timestamp {
    Timestamp::from(OffsetDateTime::from_unix_timestamp_nanos(n as i128).unwrap_or(OffsetDateTime::UNIX_EPOCH))
}

/// HTTP dates carry whole seconds; comparisons against them must too.
pub fn to_seconds(n: Nanos) -> i64 {
    n.div_euclid(1_000_000_000)
}

pub fn timestamp_seconds(t: &Timestamp) -> i64 {
    OffsetDateTime::from(t.clone()).unix_timestamp()
}

pub fn format_http_date(t: &Timestamp) -> String {
    let mut buf = Vec::new();
    match t.format(TimestampFormat::HttpDate, &mut buf) {
        Ok(()) => String::from_utf8(buf).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

pub fn parse_http_date(s: &str) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, s).ok()
}
