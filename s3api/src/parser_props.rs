//! Property tests for the parsers Cairn owns (the aws-chunked framing has its own,
//! in `gate/chunked.rs`): whatever the input, none of them panics, and where a
//! value can be written and read back, it reads back the same.

use crate::access::copy_source;
use crate::gate::{ignore_malformed_range, signed_headers};
use crate::policy::Policy;
use crate::refusals::credential_scope;
use crate::s3::multipart::parse_copy_range;
use proptest::prelude::*;
use s3s::dto::CopySource;

/// JSON values shaped like policy documents: the keys a policy has, nested values.
fn policy_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        "[ -~]{0,24}".prop_map(serde_json::Value::String),
        prop_oneof![
            Just("s3:GetObject"),
            Just("s3:*"),
            Just("arn:aws:s3:::b/*"),
            Just("Allow"),
            Just("Deny"),
            Just("*"),
            Just("2012-10-17"),
            Just("10.0.0.0/8"),
            Just("${aws:username}")
        ]
        .prop_map(|s| serde_json::Value::String(s.to_string())),
    ];
    let keys = prop_oneof![
        Just("Version"),
        Just("Statement"),
        Just("Effect"),
        Just("Principal"),
        Just("NotPrincipal"),
        Just("Action"),
        Just("NotAction"),
        Just("Resource"),
        Just("NotResource"),
        Just("Condition"),
        Just("Sid"),
        Just("AWS"),
        Just("StringLike"),
        Just("IpAddress"),
        Just("aws:SourceIp"),
        Just("DateLessThan"),
        Just("ForAnyValue:StringEquals"),
        "[a-zA-Z:]{1,12}".prop_map(|s| Box::leak(s.into_boxed_str()) as &str),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..5)
                .prop_map(|m| { serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()) }),
        ]
    })
}

/// A bucket name S3 accepts.
fn bucket_name() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9-]{1,30}[a-z0-9]"
}

/// Percent-encodes a key as clients do for `x-amz-copy-source` (slashes kept).
fn encode_key(key: &str) -> String {
    const SET: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(key, SET).to_string()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn policy_text_never_panics(text in "\\PC{0,200}") {
        let _ = Policy::parse(&text, "bucket");
    }

    #[test]
    fn policy_shaped_json_never_panics(doc in policy_json()) {
        let _ = Policy::parse(&doc.to_string(), "bucket");
        let wrapped = serde_json::json!({"Version": "2012-10-17", "Statement": [doc]});
        let _ = Policy::parse(&wrapped.to_string(), "bucket");
    }

    #[test]
    fn copy_source_never_panics(header in "\\PC{0,120}") {
        let _ = copy_source(&header);
    }

    #[test]
    fn copy_source_round_trips(bucket in bucket_name(), key in "\\PC{1,80}", version in proptest::option::of("[A-Za-z0-9._-]{1,32}"),
                               slash in any::<bool>()) {
        let mut header = format!("{}{bucket}/{}", if slash { "/" } else { "" }, encode_key(&key));
        if let Some(v) = &version {
            header.push_str(&format!("?versionId={v}"));
        }
        match copy_source(&header) {
            Ok(CopySource::Bucket { bucket: b, key: k, version_id }) => {
                prop_assert_eq!(&*b, bucket.as_str());
                prop_assert_eq!(&*k, key.as_str());
                prop_assert_eq!(version_id.as_deref(), version.as_deref());
            }
            other => prop_assert!(false, "{} parsed to {:?}", header, other),
        }
    }

    #[test]
    fn copy_range_never_panics(header in "\\PC{0,40}", size in any::<u64>()) {
        let _ = parse_copy_range(&header, size);
    }

    #[test]
    fn copy_range_round_trips(size in 1u64..u64::MAX, a in any::<u64>(), b in any::<u64>()) {
        let (first, last) = (a % size, b % size);
        let (first, last) = (first.min(last), first.max(last));
        let r = parse_copy_range(&format!("bytes={first}-{last}"), size);
        prop_assert_eq!(r.ok(), Some(first..last + 1));
        let past_end = format!("bytes={}-{}", first, size);
        prop_assert!(parse_copy_range(&past_end, size).is_err());
    }

    #[test]
    fn range_and_signature_heads_never_panic(range in "\\PC{0,40}", auth in "\\PC{0,120}", query in "\\PC{0,120}") {
        let mut b = http::Request::get("/b/k");
        if let Ok(v) = http::HeaderValue::from_str(&range) {
            b = b.header("range", v);
        }
        if let Ok(v) = http::HeaderValue::from_str(&auth) {
            b = b.header("authorization", v);
        }
        if let Ok(mut r) = b.body(()) {
            ignore_malformed_range(&mut r);
            let _ = signed_headers(r.headers(), Some(&query));
            let uri = format!("/b/k?{}", encode_key(&query)).parse::<http::Uri>();
            if let Ok(uri) = uri {
                let _ = credential_scope("us-east-1", r.headers(), &uri);
            }
        }
    }

    #[test]
    fn valid_ranges_survive_the_gate(first in 0u64..1 << 40, len in proptest::option::of(0u64..1 << 20)) {
        let spec = match len { Some(n) => format!("bytes={first}-{}", first + n), None => format!("bytes={first}-") };
        let mut r = http::Request::get("/b/k").header("range", spec.as_str()).body(()).unwrap();
        ignore_malformed_range(&mut r);
        prop_assert_eq!(r.headers().get("range").and_then(|v| v.to_str().ok()), Some(spec.as_str()));
    }
}
