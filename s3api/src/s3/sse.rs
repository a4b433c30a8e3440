//! Server-side encryption as S3 asks for it: which encryption a write requests
//! (`x-amz-server-side-encryption: AES256`, or an SSE-C key in
//! `x-amz-server-side-encryption-customer-*`), the SSE-C key a read or a copy source
//! brings, and the headers an answer shows. The keys and ciphers are the object
//! layer's (`cairn_object::sse`); SSE-KMS uses its built-in key store
//! (`cairn_object::sse::kms`), with or without an S3 Bucket Key; DSSE-KMS is refused in
//! `refusals.rs`.

use base64::Engine;
use cairn_object::sse::{CustomerKey, SseError, SseRequest, kms};
use cairn_raft::schema::{MultipartUpload, ObjectData, SealedData, Sse, SseMode};
use http::HeaderMap;
use md5::{Digest, Md5};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

const SSE: &str = "x-amz-server-side-encryption";
const KMS_KEY_ID: &str = "x-amz-server-side-encryption-aws-kms-key-id";
const KMS_CONTEXT: &str = "x-amz-server-side-encryption-context";
const BUCKET_KEY: &str = "x-amz-server-side-encryption-bucket-key-enabled";
/// The SSE-C headers of the object itself, and of a copy's source.
pub(crate) const CUSTOMER: &str = "x-amz-server-side-encryption-customer-";
pub(crate) const COPY_SOURCE_CUSTOMER: &str = "x-amz-copy-source-server-side-encryption-customer-";

/// An SSE-C key from a request, checked against its MD5 (kept, base64, to answer with).
#[derive(Clone, Debug)]
pub(crate) struct Customer {
    pub key: CustomerKey,
    pub key_md5: String,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> S3Result<Option<&'a str>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.trim())).map_err(|_| s3_error!(InvalidArgument, "{name} is not text")),
    }
}

/// The SSE-C key under `prefix` (`algorithm`, `key`, `key-MD5`), if the request sent one.
pub(crate) fn customer_key(headers: &HeaderMap, prefix: &str) -> S3Result<Option<Customer>> {
    let algorithm = header(headers, &format!("{prefix}algorithm"))?;
    let key = header(headers, &format!("{prefix}key"))?;
    let md5 = header(headers, &format!("{prefix}key-md5"))?;
    if algorithm.is_none() && key.is_none() && md5.is_none() {
        return Ok(None);
    }
    let (Some(algorithm), Some(key), Some(md5)) = (algorithm, key, md5) else {
        return Err(s3_error!(
            InvalidArgument,
            "Requests specifying Server Side Encryption with Customer provided keys must provide the algorithm, the key and the key's MD5 ({prefix}algorithm, key, key-MD5)."
        ));
    };
    if algorithm != "AES256" {
        let mut e = S3Error::with_message(
            S3ErrorCode::Custom("InvalidEncryptionAlgorithmError".into()),
            format!("The encryption algorithm {algorithm} is not supported; SSE-C uses AES256."),
        );
        e.set_status_code(http::StatusCode::BAD_REQUEST);
        return Err(e);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let bytes = b64.decode(key).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()).ok_or_else(|| {
        s3_error!(
            InvalidArgument,
            "The secret key was invalid for the specified algorithm: SSE-C needs 256 bits, base64-encoded."
        )
    })?;
    if b64.encode(Md5::digest(bytes)) != md5 {
        return Err(s3_error!(
            InvalidArgument,
            "The calculated MD5 hash of the key did not match the hash that was provided."
        ));
    }
    Ok(Some(Customer { key: CustomerKey(bytes), key_md5: md5.to_string() }))
}

/// An encryption context header: base64 of a JSON object of strings, kept as
/// canonical JSON (keys sorted) so the same context always binds the same way.
fn context(headers: &HeaderMap) -> S3Result<Option<String>> {
    let Some(text) = header(headers, KMS_CONTEXT)? else { return Ok(None) };
    let invalid = || s3_error!(InvalidArgument, "{KMS_CONTEXT} must be base64 of a JSON object of string values");
    let json = base64::engine::general_purpose::STANDARD.decode(text).map_err(|_| invalid())?;
    let map: std::collections::BTreeMap<String, String> = serde_json::from_slice(&json).map_err(|_| invalid())?;
    Ok(Some(serde_json::to_string(&map).map_err(|_| invalid())?))
}

/// `x-amz-server-side-encryption-bucket-key-enabled`, if the request sent it.
pub(crate) fn bucket_key_header(headers: &HeaderMap) -> S3Result<Option<bool>> {
    match header(headers, BUCKET_KEY)? {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(s3_error!(InvalidArgument, "{BUCKET_KEY} must be true or false")),
    }
}

/// The encryption a write into `bucket` asks for: SSE-S3, SSE-KMS (with `bucket`'s
/// Bucket Key if the request enables it), SSE-C, or none.
pub(crate) fn write_request(headers: &HeaderMap, bucket: &str) -> S3Result<(Option<SseRequest>, Option<Customer>)> {
    let customer = customer_key(headers, CUSTOMER)?;
    let kms_only =
        |what: &str| s3_error!(InvalidArgument, "{what} goes only with x-amz-server-side-encryption: aws:kms");
    let asked = match header(headers, SSE)? {
        None => None,
        Some("AES256") => Some(SseRequest::S3),
        Some("aws:kms") => {
            let key_id = match header(headers, KMS_KEY_ID)? {
                Some(given) => kms::key_id_of(given).map_err(error)?,
                None => kms::DEFAULT_KEY.to_string(),
            };
            let bucket_key = (bucket_key_header(headers)? == Some(true)).then(|| bucket.to_string());
            Some(SseRequest::Kms { key_id, context: context(headers)?, bucket_key })
        }
        // aws:kms:dsse is refused before this (refusals.rs).
        Some(other) => {
            return Err(s3_error!(
                InvalidArgument,
                "The encryption method {other} is not supported; use AES256 or aws:kms."
            ));
        }
    };
    if !matches!(asked, Some(SseRequest::Kms { .. })) {
        if headers.contains_key(KMS_KEY_ID) {
            return Err(kms_only(KMS_KEY_ID));
        }
        if headers.contains_key(KMS_CONTEXT) {
            return Err(kms_only(KMS_CONTEXT));
        }
        if bucket_key_header(headers)? == Some(true) {
            return Err(kms_only(BUCKET_KEY));
        }
    }
    match (asked, customer) {
        (Some(_), Some(_)) => Err(s3_error!(
            InvalidArgument,
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified"
        )),
        (Some(r), None) => Ok((Some(r), None)),
        (None, Some(c)) => Ok((Some(SseRequest::Customer(c.key)), Some(c))),
        (None, None) => Ok((None, None)),
    }
}

/// The ARN an answer names KMS key `id` by.
pub(crate) fn kms_arn(region: &str, id: &str) -> String {
    format!("arn:aws:kms:{region}:000000000000:key/{id}")
}

/// Whether a copy of an object encrypted as `src` (opened with `src_customer`) asked to
/// be encrypted as `target` may keep the source's ciphertext and sealed data key: the
/// same mode, the same KMS key and context, or the same SSE-C key.
pub(crate) fn same_encryption(src: Option<&Sse>, src_customer: Option<&Customer>, target: Option<&SseRequest>) -> bool {
    match (src.map(|s| &s.mode), target) {
        (Some(SseMode::S3 { .. }), Some(SseRequest::S3)) => true,
        (
            Some(mode @ (SseMode::Kms { .. } | SseMode::KmsBucketKey { .. })),
            Some(SseRequest::Kms { key_id, context, bucket_key }),
        ) => mode.kms().is_some_and(|seal| {
            seal.key_id == key_id && seal.context == context.as_deref() && seal.bucket_key == bucket_key.as_deref()
        }),
        (Some(SseMode::Customer), Some(SseRequest::Customer(k))) => src_customer.is_some_and(|c| c.key.0 == k.0),
        _ => false,
    }
}

/// The template data of a multipart upload encrypted as `sse`: a placeholder that
/// records how every part is to be encrypted.
pub(crate) fn upload_marker(sse: Sse) -> ObjectData {
    ObjectData::Sealed(Box::new(SealedData { sse, stored_size: 0, data: ObjectData::Inline(Vec::new()) }))
}

/// How a part of `upload` is encrypted: as the upload was created, with the SSE-C key
/// the part request brings (checked against the upload's).
pub(crate) fn part_request(
    store: &cairn_object::Store,
    upload: &MultipartUpload,
    customer: Option<&Customer>,
) -> S3Result<Option<SseRequest>> {
    let sse = upload.template.data.sse();
    check_read(store, sse, customer)?;
    Ok(match sse.map(|s| &s.mode) {
        None => None,
        Some(SseMode::S3 { .. }) => Some(SseRequest::S3),
        Some(mode @ (SseMode::Kms { .. } | SseMode::KmsBucketKey { .. })) => mode.kms().map(|seal| SseRequest::Kms {
            key_id: seal.key_id.to_string(),
            context: seal.context.map(str::to_string),
            bucket_key: seal.bucket_key.map(str::to_string),
        }),
        Some(SseMode::Customer) => customer.map(|c| SseRequest::Customer(c.key)),
    })
}

/// The ETag of a body written as `req` asks: the plaintext's MD5 (`md5_etag`) except
/// under SSE-C and SSE-KMS, whose ETags AWS does not make the MD5 of the plaintext (it
/// would be a fingerprint of the data next to ciphertext): there, random.
pub(crate) fn etag(md5_etag: String, req: Option<&SseRequest>) -> String {
    match req {
        Some(SseRequest::Customer(_) | SseRequest::Kms { .. }) => hex::encode(rand::random::<[u8; 16]>()),
        _ => md5_etag,
    }
}

/// What an answer about an object says of its encryption.
#[derive(Default, Clone)]
pub(crate) struct Shown {
    pub server_side_encryption: Option<s3s::dto::ServerSideEncryption>,
    pub customer_algorithm: Option<String>,
    pub customer_key_md5: Option<String>,
    pub kms_key_id: Option<String>,
    pub bucket_key_enabled: Option<bool>,
}

/// The headers for an object encrypted as `sse`; `customer` is the request's SSE-C key.
pub(crate) fn shown(sse: Option<&Sse>, customer: Option<&Customer>, region: &str) -> Shown {
    match sse.map(|s| &s.mode) {
        Some(mode @ (SseMode::Kms { .. } | SseMode::KmsBucketKey { .. })) => Shown {
            server_side_encryption: Some(s3s::dto::ServerSideEncryption::from_static(
                s3s::dto::ServerSideEncryption::AWS_KMS,
            )),
            kms_key_id: mode.kms().map(|seal| kms_arn(region, seal.key_id)),
            bucket_key_enabled: matches!(mode, SseMode::KmsBucketKey { .. }).then_some(true),
            ..Default::default()
        },
        None => Shown::default(),
        Some(SseMode::S3 { .. }) => Shown {
            server_side_encryption: Some(s3s::dto::ServerSideEncryption::from_static(
                s3s::dto::ServerSideEncryption::AES256,
            )),
            ..Default::default()
        },
        Some(SseMode::Customer) => Shown {
            customer_algorithm: Some("AES256".into()),
            customer_key_md5: customer.map(|c| c.key_md5.clone()),
            ..Default::default()
        },
    }
}

/// Sets an output's encryption fields from a [`Shown`].
macro_rules! set_sse_fields {
    ($out:expr, $shown:expr) => {{
        let s: crate::s3::sse::Shown = $shown;
        $out.server_side_encryption = s.server_side_encryption;
        $out.sse_customer_algorithm = s.customer_algorithm;
        $out.sse_customer_key_md5 = s.customer_key_md5;
        $out.ssekms_key_id = s.kms_key_id;
        $out.bucket_key_enabled = s.bucket_key_enabled;
    }};
}
pub(crate) use set_sse_fields;

/// Whether `keys` may read an object encrypted as `sse`: S3's answers for a missing,
/// wrong or needless SSE-C key.
pub(crate) fn check_read(store: &cairn_object::Store, sse: Option<&Sse>, customer: Option<&Customer>) -> S3Result<()> {
    cairn_object::sse::check_keys(sse, &store.keys(customer.map(|c| c.key))).map_err(error)
}

/// S3's answer for an encryption failure.
pub(crate) fn error(e: SseError) -> S3Error {
    match e {
        SseError::CustomerKeyMissing => s3_error!(
            InvalidRequest,
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
        ),
        SseError::CustomerKeyWrong => {
            s3_error!(AccessDenied, "The provided customer key does not match the key the object was encrypted with.")
        }
        SseError::CustomerKeyNotApplicable => {
            s3_error!(InvalidRequest, "The encryption parameters are not applicable to this object.")
        }
        SseError::NoMasterKey => {
            s3_error!(
                NotImplemented,
                "Server-side encryption with AES256 or aws:kms needs a master key, and this node was started without one (master_key_file or CAIRN_MASTER_KEY)."
            )
        }
        SseError::KmsNotFound(id) => custom(
            "KMS.NotFoundException",
            format!("Key '{id}' does not exist in this server's key store (cairn kms key create)"),
        ),
        SseError::KmsDisabled(id) => custom("KMS.DisabledException", format!("Key '{id}' is disabled.")),
        SseError::MasterKeyWrong | SseError::Tampered => {
            S3Error::with_message(S3ErrorCode::InternalError, e.to_string())
        }
    }
}

/// A 400 with an error code s3s does not know.
fn custom(code: &str, message: String) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::Custom(code.to_string().into()), message);
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}
