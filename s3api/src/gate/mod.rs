//! The gate: what every request on the S3 port passes in the HTTP front before
//! s3s sees it, and what its answer passes on the way out.
//!
//! On the way in it decides from the request head alone, before any body byte is
//! read:
//! - a browser-form POST (PostObject) is refused: s3s would read the whole file
//!   into memory before anything authorizes the caller;
//! - whether the caller presents credentials at all ([`is_anonymous`]: the front
//!   gives anonymous requests a bounded share of its request slots);
//! - a body that is read whole (XML and JSON: every operation but PutObject and
//!   UploadPart) may not announce more than [`MAX_WHOLE_BODY`] bytes, nor come
//!   aws-chunked, and an empty one's declared digests are checked at once;
//! - a `Range` that does not parse is dropped when no signature covers it.
//!
//! It then wraps the body in a [`body::GuardedBody`], so that whoever reads it
//! later, and only once authorization let them, meets the same rules: an idle
//! timeout on every body, the size cap and declared digests (`Content-MD5`,
//! `x-amz-checksum-*`) on bodies read whole, and complete aws-chunked framing.
//! Streamed object bodies have their digests checked by the object writer.
//!
//! On the way out, [`Gate::answer`] turns a body breach into its S3 error (the
//! reader only saw an I/O error) and gives every XML error its `<RequestId>`,
//! `<HostId>` and a message.

pub mod body;
pub mod chunked;

use crate::s3::checksum::Algorithm;
use body::{Breach, Declared, GuardedBody, Rules, Watch};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The largest body an operation may have when it is read whole. The largest
/// legitimate ones are a CompleteMultipartUpload of 10,000 parts and a
/// DeleteObjects of 1,000 long keys, both well under it.
pub const MAX_WHOLE_BODY: u64 = 2 * 1024 * 1024;

/// Query parameters that turn a PUT on an object into a small-document operation.
const OBJECT_DOCUMENTS: &[&str] = &["acl", "tagging", "retention", "legal-hold", "torrent", "restore", "select"];

#[derive(Clone, Debug)]
pub struct Gate {
    /// A body that sends nothing for this long is given up.
    pub idle: Duration,
}

/// A request the gate let through.
#[derive(Debug)]
pub struct Admitted {
    watch: Arc<Watch>,
}

/// A request refused from its head; nothing of its body was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn query_has(query: &str, name: &str) -> bool {
    query.split('&').any(|kv| kv.split('=').next() == Some(name))
}

/// True if the request presents no credentials: no Authorization header and no
/// presigned query (SigV4 or SigV2).
pub fn is_anonymous(headers: &HeaderMap, query: Option<&str>) -> bool {
    let q = query.unwrap_or("");
    !headers.contains_key(http::header::AUTHORIZATION)
        && !["X-Amz-Signature", "X-Amz-Credential", "Signature", "AWSAccessKeyId"].iter().any(|n| query_has(q, n))
}

/// A browser-form upload (`POST` with `multipart/form-data`).
pub fn is_form_post(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::POST
        && header(headers, "content-type")
            .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// PutObject and UploadPart: the object body streams to the erasure writer. `object`
/// says whether the request names a key (path style `/b/k`, virtual host `/k`).
pub fn streams_body(method: &Method, object: bool, query: Option<&str>) -> bool {
    method == Method::PUT && object && !OBJECT_DOCUMENTS.iter().any(|d| query_has(query.unwrap_or(""), d))
}

fn aws_chunked(headers: &HeaderMap) -> bool {
    header(headers, "x-amz-content-sha256").is_some_and(|v| v.starts_with("STREAMING-"))
        || header(headers, "content-encoding")
            .is_some_and(|v| v.split(',').any(|c| c.trim().eq_ignore_ascii_case("aws-chunked")))
}

fn length(headers: &HeaderMap, name: &str) -> Option<u64> {
    header(headers, name).and_then(|v| v.trim().parse().ok())
}

impl Gate {
    /// Decides a request from its head and guards its body. `object` says whether
    /// it names a key.
    pub fn admit<B>(
        &self,
        mut req: http::Request<B>,
        object: bool,
    ) -> Result<(http::Request<s3s::Body>, Admitted), Refusal>
    where
        B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        ignore_malformed_range(&mut req);
        let (method, headers, query) = (req.method(), req.headers(), req.uri().query());
        authorization_shape(headers)?;
        if is_form_post(method, headers) {
            return Err(Refusal {
                status: StatusCode::NOT_IMPLEMENTED,
                code: "NotImplemented",
                message:
                    "Browser-form uploads (POST Object) are not supported; upload with PUT or a presigned PUT URL."
                        .into(),
            });
        }
        let chunked = aws_chunked(headers);
        let whole = !streams_body(method, object, query);
        if whole && chunked {
            // s3s cannot read an aws-chunked body whole (it miscounts its length); SDKs
            // only stream object uploads this way.
            return Err(Refusal {
                status: StatusCode::NOT_IMPLEMENTED,
                code: "NotImplemented",
                message: "aws-chunked request bodies are accepted for PutObject and UploadPart only; send this \
                          request with a plain body"
                    .into(),
            });
        }
        if whole && length(headers, "content-length").is_some_and(|n| n > MAX_WHOLE_BODY) {
            return Err(too_large());
        }
        // A CompleteMultipartUpload's x-amz-checksum-* is the object's composite
        // checksum, checked against its parts, not a digest of the XML.
        let completes = method == Method::POST && query_has(query.unwrap_or(""), "uploadId");
        let digests = whole.then(|| Declared {
            content_sha256: header(headers, "x-amz-content-sha256").and_then(|v| {
                let mut out = [0u8; 32];
                hex::decode_to_slice(v.trim(), &mut out).ok().map(|()| out)
            }),
            content_md5: header(headers, "content-md5").map(str::to_string),
            checksums: if completes {
                BTreeMap::new()
            } else {
                Algorithm::ALL
                    .into_iter()
                    .filter_map(|a| header(headers, a.header()).map(|v| (a, v.to_string())))
                    .collect()
            },
        });
        let digests =
            digests.filter(|d| d.content_md5.is_some() || !d.checksums.is_empty() || d.content_sha256.is_some());
        // A body known to be empty is decided now (no Content-Length and no
        // Transfer-Encoding means no body at all).
        let empty = length(headers, "content-length") == Some(0)
            || (!headers.contains_key("content-length") && !headers.contains_key(http::header::TRANSFER_ENCODING));
        let digests = if empty && whole {
            if let Err(b) = body::check_empty(digests) {
                return Err(breach_refusal(&b));
            }
            None
        } else {
            digests
        };
        let rules = Rules { idle: self.idle, max_len: whole.then_some(MAX_WHOLE_BODY), digests, chunked };
        let admitted = Admitted { watch: Arc::new(Watch::default()) };
        let watch = admitted.watch.clone();
        let req = req.map(|b| s3s::Body::http_body(GuardedBody::new(b, rules, watch)));
        Ok((req, admitted))
    }

    /// The answer to send: a body breach replaces whatever the operation made of
    /// the failed read, and every XML error carries its ids and a message.
    pub fn answer(
        &self,
        admitted: &Admitted,
        resp: http::Response<s3s::Body>,
        request_id: &str,
        host_id: &str,
    ) -> http::Response<s3s::Body> {
        let resp = match admitted.watch.breach() {
            Some(b) => {
                let r = breach_refusal(&b);
                let mut resp = error_response(&r, request_id, host_id);
                // The rest of the body was not read: do not reuse the connection.
                resp.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
                return resp;
            }
            None => resp,
        };
        complete_error(resp, request_id, host_id)
    }
}

/// An `Authorization` header must be SigV4 of the form AWS gives
/// (`AWS4-HMAC-SHA256 Credential=AKID/yyyymmdd/region/service/aws4_request,
/// SignedHeaders=a;b, Signature=<64 hex>`) or SigV2 (`AWS AKID:signature`), as AWS
/// answers: AuthorizationHeaderMalformed for a broken SigV4 header, InvalidArgument
/// for another scheme. s3s would answer a generic InvalidRequest, and its date parser
/// is not safe on arbitrary bytes.
fn authorization_shape(headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else { return Ok(()) };
    let auth = value.to_str().unwrap_or("").trim();
    if auth.starts_with("AWS ") {
        return Ok(());
    }
    let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256") else {
        return Err(Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidArgument",
            message: "Unsupported Authorization Type: use AWS4-HMAC-SHA256 (or AWS for SigV2)".into(),
        });
    };
    let field = |name: &str| rest.split(',').find_map(|p| p.trim().strip_prefix(name));
    let scope_ok = field("Credential=").is_some_and(|c| {
        let parts: Vec<&str> = c.split('/').collect();
        parts.len() == 5
            && !parts[0].is_empty()
            && parts[1].len() == 8
            && parts[1].bytes().all(|b| b.is_ascii_digit())
            && !parts[2].is_empty()
            && !parts[3].is_empty()
            && parts[4] == "aws4_request"
    });
    let signed_ok = field("SignedHeaders=").is_some_and(|h| !h.is_empty());
    let signature_ok = field("Signature=").is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()));
    if scope_ok && signed_ok && signature_ok {
        return Ok(());
    }
    Err(Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "AuthorizationHeaderMalformed",
        message: "The authorization header is malformed: expected AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/\
                  <region>/<service>/aws4_request, SignedHeaders=<list>, Signature=<64 hex digits>"
            .into(),
    })
}

/// AWS ignores a Range header it cannot parse and serves the whole object (only
/// an unsatisfiable one is 416). s3s refuses one, so the gate drops it first, when
/// it can: a Range the request's signature covers must reach s3s as signed, and
/// then s3s answers 400.
pub(crate) fn ignore_malformed_range<B>(req: &mut http::Request<B>) {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return;
    }
    let Some(range) = req.headers().get(http::header::RANGE) else { return };
    if range.to_str().ok().is_some_and(|r| s3s::dto::Range::parse(r).is_ok()) {
        return;
    }
    if !signed_headers(req.headers(), req.uri().query()).iter().any(|h| h.eq_ignore_ascii_case("range")) {
        req.headers_mut().remove(http::header::RANGE);
    }
}

/// The header names a SigV4 signature covers (header or presigned form).
pub(crate) fn signed_headers(headers: &HeaderMap, query: Option<&str>) -> Vec<String> {
    if let Some(auth) = header(headers, "authorization")
        && let Some(list) = auth.split(',').find_map(|p| p.trim().split_once("SignedHeaders=").map(|(_, l)| l))
    {
        return list.split(';').map(|s| s.trim().to_string()).collect();
    }
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "X-Amz-SignedHeaders")
        .map(|(_, v)| v.split(';').map(str::to_string).collect())
        .unwrap_or_default()
}

fn too_large() -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "MaxMessageLengthExceeded",
        message: format!(
            "Your request was too big: a request body read whole may have at most {MAX_WHOLE_BODY} bytes."
        ),
    }
}

fn breach_refusal(b: &Breach) -> Refusal {
    let bad = |code: &'static str, message: String| Refusal { status: StatusCode::BAD_REQUEST, code, message };
    match b {
        Breach::Idle => bad(
            "RequestTimeout",
            "Your socket connection to the server was not read from or written to within the timeout period.".into(),
        ),
        Breach::TooLarge(_) => too_large(),
        Breach::Digest(code, msg) => bad(code, msg.clone()),
        Breach::IncompleteChunked => {
            bad("IncompleteBody", "The aws-chunked request body ended before its final zero-length chunk.".into())
        }
        Breach::MalformedChunked => bad("InvalidRequest", "The aws-chunked request body is not well framed.".into()),
        Breach::Incomplete => bad(
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header.".into(),
        ),
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// An S3 XML error response.
pub fn error_response(r: &Refusal, request_id: &str, host_id: &str) -> http::Response<s3s::Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>\
         <RequestId>{}</RequestId><HostId>{}</HostId></Error>",
        r.code,
        escape(&r.message),
        escape(request_id),
        escape(host_id)
    );
    let mut resp = http::Response::new(s3s::Body::from(body));
    *resp.status_mut() = r.status;
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
    resp
}

/// Gives an XML error body its `<RequestId>`, `<HostId>` and, when s3s left it
/// empty, a `<Message>` that says what was wrong.
fn complete_error(mut resp: http::Response<s3s::Body>, request_id: &str, host_id: &str) -> http::Response<s3s::Body> {
    if resp.status().as_u16() < 300 {
        return resp;
    }
    let Some(bytes) = resp.body().bytes() else { return resp };
    let Ok(text) = std::str::from_utf8(&bytes) else { return resp };
    let Some(end) = text.rfind("</Error>") else { return resp };
    let mut out = String::with_capacity(text.len() + 160);
    out.push_str(&text[..end]);
    let empty_message = !text.contains("<Message>") || text.contains("<Message></Message>");
    if empty_message {
        out = out.replace("<Message></Message>", "");
        let code = between(text, "<Code>", "</Code>").unwrap_or("");
        out.push_str(&format!("<Message>{}</Message>", escape(default_message(code, resp.status()))));
    }
    if !text.contains("<RequestId>") {
        out.push_str(&format!("<RequestId>{}</RequestId>", escape(request_id)));
    }
    if !text.contains("<HostId>") {
        out.push_str(&format!("<HostId>{}</HostId>", escape(host_id)));
    }
    out.push_str(&text[end..]);
    let len = out.len();
    *resp.body_mut() = s3s::Body::from(out);
    if resp.headers().contains_key(http::header::CONTENT_LENGTH) {
        resp.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
    }
    resp
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    Some(&text[start..start + len])
}

/// The message for an error s3s raised without one.
fn default_message(code: &str, status: StatusCode) -> &'static str {
    match code {
        "InvalidBucketName" => {
            "The specified bucket is not valid: names are 3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit."
        }
        "NoSuchBucket" => "The specified bucket does not exist.",
        "NoSuchKey" => "The specified key does not exist.",
        "NoSuchUpload" => "The specified multipart upload does not exist.",
        "InvalidArgument" => "One of the arguments of the request is not valid.",
        "InvalidRequest" => "The request is not valid.",
        "InvalidURI" => "The request URI could not be parsed.",
        "KeyTooLongError" => "Your key is too long: keys are at most 1024 bytes.",
        "MalformedXML" => "The XML you provided was not well-formed or did not validate against our published schema.",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "IncompleteBody" => "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        "AccessDenied" => "Access Denied",
        "SignatureDoesNotMatch" => "The request signature we calculated does not match the signature you provided.",
        "NotImplemented" => "A header or operation you provided implies functionality that is not implemented.",
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "InternalError" => "We encountered an internal error. Please try again.",
        "InvalidRange" => "The requested range is not satisfiable.",
        "PreconditionFailed" => "At least one of the preconditions you specified did not hold.",
        _ => match status.as_u16() {
            400 => "The request is not valid.",
            403 => "Access Denied",
            404 => "The specified resource does not exist.",
            405 => "The specified method is not allowed against this resource.",
            409 => "The request conflicts with the current state of the resource.",
            _ => "The request could not be completed.",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_posts_and_anonymity() {
        let mut h = HeaderMap::new();
        h.insert("content-type", "Multipart/Form-Data; boundary=x".parse().unwrap());
        assert!(is_form_post(&Method::POST, &h));
        assert!(!is_form_post(&Method::PUT, &h));
        assert!(is_anonymous(&h, Some("list-type=2")));
        assert!(!is_anonymous(&h, Some("X-Amz-Credential=a&X-Amz-Signature=b")));
        h.insert("authorization", "AWS4-HMAC-SHA256 x".parse().unwrap());
        assert!(!is_anonymous(&h, None));
    }

    #[test]
    fn authorization_headers_have_a_shape() {
        let check = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("authorization", v.parse().unwrap());
            authorization_shape(&h).map_err(|r| r.code)
        };
        let sig = "0".repeat(64);
        let good = format!(
            "AWS4-HMAC-SHA256 Credential=AK/20261204/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}"
        );
        assert_eq!(check(&good), Ok(()));
        assert_eq!(check("AWS AK:c2ln"), Ok(()));
        assert_eq!(check("garbage"), Err("InvalidArgument"));
        assert_eq!(check("AWS4-HMAC-SHA256"), Err("AuthorizationHeaderMalformed"));
        assert_eq!(check(&good.replace("20261204", "2026-12-")), Err("AuthorizationHeaderMalformed"));
        assert_eq!(check(&good.replace(&sig, "00")), Err("AuthorizationHeaderMalformed"));
        assert_eq!(check(&good.replace("host;x-amz-date", "")), Err("AuthorizationHeaderMalformed"));
        assert_eq!(
            check("AWS4-HMAC-SHA256 Credential=AK, SignedHeaders=host, Signature=abc"),
            Err("AuthorizationHeaderMalformed")
        );
    }

    #[test]
    fn which_bodies_stream() {
        assert!(streams_body(&Method::PUT, true, None));
        assert!(streams_body(&Method::PUT, true, Some("partNumber=1&uploadId=u")));
        assert!(!streams_body(&Method::PUT, true, Some("tagging")));
        assert!(!streams_body(&Method::PUT, false, Some("policy")));
        assert!(!streams_body(&Method::POST, false, Some("delete")));
    }

    #[test]
    fn malformed_unsigned_ranges_are_ignored() {
        let req = |range: &str, auth: Option<&str>| {
            let mut b = http::Request::get("/b/k").header("range", range);
            if let Some(a) = auth {
                b = b.header("authorization", a);
            }
            let mut r = b.body(()).unwrap();
            ignore_malformed_range(&mut r);
            r.headers().get("range").map(|v| v.to_str().unwrap().to_string())
        };
        assert_eq!(req("bytes=0-9", None).as_deref(), Some("bytes=0-9"));
        assert_eq!(req("bytes=9-0", None), None);
        assert_eq!(req("pages=1", None), None);
        assert_eq!(
            req("bytes=0-1,4-5", Some("AWS4-HMAC-SHA256 Credential=a, SignedHeaders=host;x-amz-date, Signature=s")),
            None
        );
        let signed = "AWS4-HMAC-SHA256 Credential=a, SignedHeaders=host;range;x-amz-date, Signature=s";
        assert_eq!(req("bytes=9-0", Some(signed)).as_deref(), Some("bytes=9-0"));
    }

    #[test]
    fn errors_get_ids_and_messages() {
        let mut resp = http::Response::new(s3s::Body::from(
            "<?xml version=\"1.0\"?><Error><Code>InvalidBucketName</Code></Error>".to_string(),
        ));
        *resp.status_mut() = StatusCode::BAD_REQUEST;
        let out = complete_error(resp, "R1", "H1");
        let text = String::from_utf8(out.body().bytes().unwrap().to_vec()).unwrap();
        assert!(text.contains("<RequestId>R1</RequestId><HostId>H1</HostId></Error>"), "{text}");
        assert!(text.contains("<Message>The specified bucket is not valid"), "{text}");
    }
}
