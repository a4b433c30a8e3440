//! What the S3 layer refuses before an operation runs, decided from the request
//! head in one place, before authorization and before any body byte is read:
//!
//! - features Cairn does not implement yet, named by a header, answer 501
//!   NotImplemented (never a silent 200 that leaves the client believing its
//!   object is encrypted, locked or tagged): [`UNSUPPORTED`] is the list, and it
//!   shrinks as the features land;
//! - a SigV4 credential scope naming another region, and presigned URLs valid for
//!   more than seven days, are refused as AWS refuses them;
//! - user metadata over 2 KB (MetadataTooLarge);
//! - a DeleteObjects without a digest of its body (AWS requires one).
//!
//! Operations Cairn does not serve at all fall through to s3s's NotImplemented.

use http::HeaderMap;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

/// Which operations a refused header applies to (`None`: every operation).
type Ops = Option<&'static [&'static str]>;

/// A header naming a feature Cairn does not implement yet.
pub struct Unsupported {
    /// The header name, or a prefix of header names when it ends with `*`.
    pub header: &'static str,
    /// Refused only when its value is one of these (case-insensitive); empty: any value.
    pub values: &'static [&'static str],
    /// Refused unless the value is one of these (case-insensitive).
    pub allowed: &'static [&'static str],
    pub ops: Ops,
    pub feature: &'static str,
}

const WRITES: &[&str] = &["PutObject", "CopyObject", "CreateMultipartUpload"];

const fn any(header: &'static str, ops: Ops, feature: &'static str) -> Unsupported {
    Unsupported { header, values: &[], allowed: &[], ops, feature }
}

/// Every header Cairn refuses with 501 until the feature it names exists.
pub const UNSUPPORTED: &[Unsupported] = &[
    // SSE-S3 (AES256), SSE-KMS (with Bucket Keys) and SSE-C are served (`s3/sse.rs`);
    // dual-layer is not.
    Unsupported {
        header: "x-amz-server-side-encryption",
        values: &["aws:kms:dsse"],
        allowed: &[],
        ops: None,
        feature: "Dual-layer server-side encryption with KMS keys (DSSE-KMS)",
    },
    any("x-amz-website-redirect-location", Some(WRITES), "Website redirects"),
    any("x-amz-write-offset-bytes", None, "Appending to objects"),
    any("x-amz-mfa", None, "MFA delete"),
];

/// S3's limit on user metadata: the bytes of every `x-amz-meta-*` name (less the
/// prefix) and value, added up.
pub const MAX_USER_METADATA: usize = 2048;

/// The longest a presigned URL may be valid for: seven days.
pub const MAX_PRESIGNED_EXPIRES: u64 = 604_800;

fn not_implemented(header: &str, feature: &str) -> S3Error {
    s3_error!(
        NotImplemented,
        "{feature} is not implemented by this server; the request carried {header}. Nothing was stored."
    )
}

fn matches(rule: &str, name: &str) -> bool {
    match rule.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == rule,
    }
}

/// The first header of the request naming a feature Cairn does not implement.
pub fn unsupported_header(op: &str, headers: &HeaderMap) -> S3Result<()> {
    for (name, value) in headers {
        let name = name.as_str();
        let value = value.to_str().unwrap_or("").trim();
        for rule in UNSUPPORTED {
            if !matches(rule.header, name) || rule.ops.is_some_and(|ops| !ops.contains(&op)) {
                continue;
            }
            let refused = if !rule.allowed.is_empty() {
                !rule.allowed.iter().any(|v| v.eq_ignore_ascii_case(value))
            } else {
                rule.values.is_empty() || rule.values.iter().any(|v| v.eq_ignore_ascii_case(value))
            };
            if refused {
                return Err(not_implemented(name, rule.feature));
            }
        }
    }
    Ok(())
}

/// The storage classes S3 names. One of these that the cluster has not configured is
/// an S3 feature Cairn does not offer here (501); any other name is no storage class
/// at all (400 InvalidStorageClass).
const S3_STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
];

/// `name` as a storage class a write or a lifecycle transition may use: one of the
/// cluster's `classes` (names are exact, as S3's are), else the refusal.
pub fn known_class(name: &str, classes: &[String]) -> S3Result<()> {
    if classes.iter().any(|c| c == name) {
        return Ok(());
    }
    let has = classes.join(", ");
    if S3_STORAGE_CLASSES.contains(&name) {
        return Err(s3_error!(
            NotImplemented,
            "Storage class {name} is not offered by this cluster; it has {has} (see docs/storage-classes.md)"
        ));
    }
    Err(s3_error!(InvalidStorageClass, "The storage class you specified is not valid: this cluster has {has}"))
}

/// The refusal of an `x-amz-storage-class` on a write that names none of the cluster's
/// storage classes (`classes`, read from the metadata only when the header is there).
pub fn storage_class(op: &str, headers: &HeaderMap, classes: impl FnOnce() -> Vec<String>) -> S3Result<()> {
    let Some(v) = headers.get("x-amz-storage-class") else { return Ok(()) };
    if !WRITES.contains(&op) {
        return Ok(());
    }
    known_class(v.to_str().unwrap_or("").trim(), &classes())
}

/// SSE-C keys travel in the request's headers: AWS takes them over HTTPS only. Cairn
/// also takes them over plain HTTP from loopback clients (the key never leaves the
/// machine), and from anywhere when `allow_plain` (the node's `sse_c_plain_http`).
pub fn sse_c_transport(headers: &HeaderMap, conn: Option<crate::access::ConnInfo>, allow_plain: bool) -> S3Result<()> {
    let carries_key = headers.keys().any(|n| {
        let n = n.as_str();
        n.starts_with("x-amz-server-side-encryption-customer-")
            || n.starts_with("x-amz-copy-source-server-side-encryption-customer-")
    });
    let plain_remote = conn.is_some_and(|c| !c.secure && !c.peer.is_loopback());
    if carries_key && plain_remote && !allow_plain {
        return Err(s3_error!(
            InvalidRequest,
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection."
        ));
    }
    Ok(())
}

/// MetadataTooLarge for user metadata over [`MAX_USER_METADATA`] bytes.
pub fn metadata_size(op: &str, headers: &HeaderMap) -> S3Result<()> {
    if !matches!(op, "PutObject" | "CopyObject" | "CreateMultipartUpload") {
        return Ok(());
    }
    let size: usize = headers
        .iter()
        .filter_map(|(n, v)| n.as_str().strip_prefix("x-amz-meta-").map(|k| k.len() + v.as_bytes().len()))
        .sum();
    if size > MAX_USER_METADATA {
        return Err(s3_error!(
            MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size: {size} bytes, at most {MAX_USER_METADATA}"
        ));
    }
    Ok(())
}

/// AWS requires a digest of a DeleteObjects body (it names the keys to delete).
pub fn delete_objects_digest(op: &str, headers: &HeaderMap) -> S3Result<()> {
    if op != "DeleteObjects" {
        return Ok(());
    }
    let has = |n: &str| headers.contains_key(n);
    let checksum =
        ["crc32", "crc32c", "sha1", "sha256", "crc64nvme"].iter().any(|a| has(&format!("x-amz-checksum-{a}")));
    if has("content-md5") || checksum || has("x-amz-sdk-checksum-algorithm") {
        return Ok(());
    }
    Err(s3_error!(InvalidRequest, "Missing required header for this request: Content-MD5 or x-amz-checksum-*"))
}

/// The `response-*` overrides of GetObject / HeadObject: only signed requests may
/// use them (as on AWS), and each must be a value a header can carry.
pub fn response_overrides(op: &str, signed: bool, uri: &http::Uri) -> S3Result<()> {
    if !matches!(op, "GetObject" | "HeadObject") {
        return Ok(());
    }
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if !k.starts_with("response-") {
            continue;
        }
        if !signed {
            return Err(s3_error!(
                InvalidRequest,
                "Request specific response headers cannot be used for anonymous GET requests."
            ));
        }
        if http::HeaderValue::from_str(&v).is_err() {
            return Err(s3_error!(InvalidArgument, "The {k} parameter is not a valid header value."));
        }
    }
    Ok(())
}

fn custom(code: &str, message: String) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::Custom(code.to_string().into()), message);
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

/// The credential scope's region must be this node's, and a presigned URL may be
/// valid for at most seven days.
pub fn credential_scope(region: &str, headers: &HeaderMap, uri: &http::Uri) -> S3Result<()> {
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let q = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if let Some(credential) = q("X-Amz-Credential") {
        if let Some(got) = scope_region(credential)
            && got != region
        {
            return Err(custom(
                "AuthorizationQueryParametersError",
                format!(
                    "Error parsing the X-Amz-Credential parameter; the region '{got}' is wrong; expecting '{region}'"
                ),
            ));
        }
        if let Some(expires) = q("X-Amz-Expires") {
            match expires.parse::<u64>() {
                Ok(n) if n <= MAX_PRESIGNED_EXPIRES => {}
                Ok(_) => {
                    return Err(custom(
                        "AuthorizationQueryParametersError",
                        format!("X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGNED_EXPIRES}"),
                    ));
                }
                Err(_) => {
                    return Err(custom(
                        "AuthorizationQueryParametersError",
                        "X-Amz-Expires should be a number of seconds".to_string(),
                    ));
                }
            }
        }
        return Ok(());
    }
    let auth = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    if let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256")
        && let Some(credential) = rest.split(',').find_map(|p| p.trim().strip_prefix("Credential="))
        && let Some(got) = scope_region(credential)
        && got != region
    {
        let mut e = custom(
            "AuthorizationHeaderMalformed",
            format!("The authorization header is malformed; the region '{got}' is wrong; expecting '{region}'"),
        );
        e.set_status_code(http::StatusCode::BAD_REQUEST);
        return Err(e);
    }
    Ok(())
}

/// The region of a credential scope `AKID/date/region/service/aws4_request`.
fn scope_region(credential: &str) -> Option<&str> {
    let parts: Vec<&str> = credential.trim().split('/').collect();
    (parts.len() == 5).then(|| parts[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn unsupported_features_are_refused() {
        let refused = |op: &str, pairs: &[(&str, &str)]| unsupported_header(op, &headers(pairs)).is_err();
        // SSE-S3, SSE-KMS and SSE-C are served; dual-layer and bucket keys are not.
        assert!(!refused("PutObject", &[("x-amz-server-side-encryption", "AES256")]));
        assert!(!refused("GetObject", &[("x-amz-server-side-encryption-customer-algorithm", "AES256")]));
        assert!(!refused("PutObject", &[("x-amz-server-side-encryption", "aws:kms")]));
        assert!(!refused("PutObject", &[("x-amz-server-side-encryption-aws-kms-key-id", "k")]));
        assert!(refused("PutObject", &[("x-amz-server-side-encryption", "aws:kms:dsse")]));
        // Object lock and tagging are served now.
        assert!(!refused("CreateBucket", &[("x-amz-bucket-object-lock-enabled", "True")]));
        assert!(!refused("PutObject", &[("x-amz-object-lock-legal-hold", "ON"), ("x-amz-tagging", "a=b")]));
        assert!(!refused("CopyObject", &[("x-amz-tagging-directive", "REPLACE")]));
        assert!(refused("PutObject", &[("x-amz-mfa", "x")]));
        let class = |v: &str| {
            storage_class("PutObject", &headers(&[("x-amz-storage-class", v)]), || {
                vec!["STANDARD".to_string(), "COLD".to_string()]
            })
        };
        assert!(class("COLD").is_ok() && class("STANDARD").is_ok(), "the cluster's classes are served");
        assert_eq!(*class("GLACIER").unwrap_err().code(), s3s::S3ErrorCode::NotImplemented, "S3's, not configured");
        assert_eq!(*class("FROZEN").unwrap_err().code(), s3s::S3ErrorCode::InvalidStorageClass);
        assert_eq!(*class("cold").unwrap_err().code(), s3s::S3ErrorCode::InvalidStorageClass, "names are exact");
        assert!(!refused("PutObject", &[("x-amz-meta-a", "b"), ("content-type", "text/plain")]));
    }

    #[test]
    fn sse_c_keys_need_tls_off_loopback() {
        use crate::access::ConnInfo;
        let key = headers(&[("x-amz-server-side-encryption-customer-key", "a2V5")]);
        let source = headers(&[("x-amz-copy-source-server-side-encryption-customer-key", "a2V5")]);
        let remote = |secure| Some(ConnInfo { peer: "192.0.2.7".parse().unwrap(), secure });
        let local = Some(ConnInfo { peer: "127.0.0.1".parse().unwrap(), secure: false });
        let e = sse_c_transport(&key, remote(false), false).unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidRequest);
        assert!(sse_c_transport(&source, remote(false), false).is_err());
        assert!(sse_c_transport(&key, remote(true), false).is_ok());
        assert!(sse_c_transport(&key, local, false).is_ok());
        assert!(sse_c_transport(&key, remote(false), true).is_ok(), "allowed by sse_c_plain_http");
        assert!(sse_c_transport(&headers(&[]), remote(false), false).is_ok());
    }

    #[test]
    fn response_overrides_are_checked() {
        let uri = |q: &str| format!("/b/k?{q}").parse::<http::Uri>().unwrap();
        assert!(response_overrides("GetObject", true, &uri("response-content-type=text%2Fplain")).is_ok());
        assert!(response_overrides("HeadObject", true, &uri("response-content-type=a%0D%0Ab")).is_err());
        assert!(response_overrides("GetObject", false, &uri("response-content-type=text%2Fplain")).is_err());
        assert!(response_overrides("PutObject", false, &uri("response-content-type=a%0Db")).is_ok());
    }

    #[test]
    fn metadata_is_bounded() {
        let v = "x".repeat(2000);
        assert!(metadata_size("PutObject", &headers(&[("x-amz-meta-a", &v)])).is_ok());
        let e = metadata_size("PutObject", &headers(&[("x-amz-meta-a", &v), ("x-amz-meta-b", &v)])).unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::MetadataTooLarge);
        assert!(metadata_size("GetObject", &headers(&[("x-amz-meta-a", &v), ("x-amz-meta-b", &v)])).is_ok());
    }

    #[test]
    fn scopes_and_expiry() {
        let h = |r: &str| {
            headers(&[(
                "authorization",
                &format!(
                    "AWS4-HMAC-SHA256 Credential=AK/20260101/{r}/s3/aws4_request, SignedHeaders=host, Signature=x"
                ),
            )])
        };
        let uri: http::Uri = "/b/k".parse().unwrap();
        assert!(credential_scope("us-east-1", &h("us-east-1"), &uri).is_ok());
        let e = credential_scope("us-east-1", &h("eu-west-1"), &uri).unwrap_err();
        assert_eq!(e.code().as_str(), "AuthorizationHeaderMalformed");
        let presigned = |exp: &str| -> http::Uri {
            format!("/b/k?X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Expires={exp}")
                .parse()
                .unwrap()
        };
        assert!(credential_scope("us-east-1", &HeaderMap::new(), &presigned("604800")).is_ok());
        let e = credential_scope("us-east-1", &HeaderMap::new(), &presigned("604801")).unwrap_err();
        assert_eq!(e.code().as_str(), "AuthorizationQueryParametersError");
        assert!(credential_scope("us-east-1", &HeaderMap::new(), &presigned("-1")).is_err());
    }
}
