//! A queued event (`cairn_raft::notify::QueuedEvent`) as S3 shapes an event message, so
//! consumers written for S3's notifications parse it: `{"Records": [...]}`, each record
//! with `eventVersion` 2.1, `eventSource` `aws:s3`, `eventName` without the `s3:`
//! prefix, and the `s3` section (configuration id, bucket, object with its URL-encoded
//! key, size, ETag, version id and sequencer). One message carries the records of one
//! delivered batch, in commit order.

use cairn_raft::notify::QueuedEvent;
use serde::Serialize;

#[derive(Serialize)]
pub struct Message {
    #[serde(rename = "Records")]
    pub records: Vec<Record>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    event_version: &'static str,
    event_source: &'static str,
    aws_region: String,
    event_time: String,
    event_name: String,
    user_identity: Principal,
    request_parameters: RequestParameters,
    response_elements: ResponseElements,
    s3: S3Entity,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Principal {
    principal_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestParameters {
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: String,
}

#[derive(Serialize)]
struct ResponseElements {
    #[serde(rename = "x-amz-request-id")]
    request_id: String,
    #[serde(rename = "x-amz-id-2")]
    id_2: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct S3Entity {
    s3_schema_version: &'static str,
    configuration_id: String,
    bucket: BucketEntity,
    object: ObjectEntity,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BucketEntity {
    name: String,
    owner_identity: Principal,
    arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectEntity {
    key: String,
    size: u64,
    #[serde(rename = "eTag", skip_serializing_if = "String::is_empty")]
    etag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_id: Option<String>,
    sequencer: String,
}

/// ISO 8601 with milliseconds, as S3 writes `eventTime`.
fn event_time(ns: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ns.into()).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.format(&f).unwrap_or_default()
}

impl Record {
    pub fn of(e: &QueuedEvent, region: &str, owner: &str) -> Record {
        let key: String = percent_encoding::utf8_percent_encode(&e.key, percent_encoding::NON_ALPHANUMERIC)
            .to_string()
            // S3 leaves these as they are in event keys.
            .replace("%2F", "/")
            .replace("%2D", "-")
            .replace("%2E", ".")
            .replace("%5F", "_");
        Record {
            event_version: "2.1",
            event_source: "aws:s3",
            aws_region: region.to_string(),
            event_time: event_time(e.time),
            event_name: e.name.clone(),
            user_identity: Principal { principal_id: owner.to_string() },
            request_parameters: RequestParameters { source_ip_address: String::new() },
            response_elements: ResponseElements { request_id: String::new(), id_2: String::new() },
            s3: S3Entity {
                s3_schema_version: "1.0",
                configuration_id: e.rule.clone(),
                bucket: BucketEntity {
                    name: e.bucket.clone(),
                    owner_identity: Principal { principal_id: owner.to_string() },
                    arn: format!("arn:aws:s3:::{}", e.bucket),
                },
                object: ObjectEntity {
                    key,
                    size: e.size,
                    etag: e.etag.clone(),
                    version_id: e.version_id.clone(),
                    sequencer: format!("{:016X}{:08X}", e.index, e.seq),
                },
            },
        }
    }
}
