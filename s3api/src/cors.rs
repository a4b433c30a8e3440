//! CORS: a bucket's CORS rules (the bucket setting [`SETTING`], JSON), matched against
//! a request's Origin, method and headers as S3 matches them, the answer to a preflight
//! (`OPTIONS`, never authenticated: a browser sends no credentials with it), and the
//! `Access-Control-*` headers added to actual answers. Put/Get/DeleteBucketCors are
//! `s3/bucket_cors.rs`; the HTTP front calls [`Cors::preflight`] and [`Cors::decorate`].
//!
//! A preflight to a bucket without CORS rules and one to a bucket that does not exist
//! get the same 403, so a preflight tells nobody whether a bucket exists.

use crate::gate::Refusal;
use cairn_raft::MetaStore;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::{Deserialize, Serialize};

/// The bucket setting that holds a bucket's [`CorsConfig`].
pub const SETTING: &str = "cors";
/// The methods a rule may allow.
pub const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsConfig {
    pub rules: Vec<CorsRule>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    pub id: Option<String>,
    /// Origins, each with at most one `*`.
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may ask for, each with at most one `*`.
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<u32>,
}

/// `pattern` (at most one `*`, standing for any run of characters) against `s`.
fn matches(pattern: &str, s: &str, ignore_case: bool) -> bool {
    let (p, s) =
        if ignore_case { (pattern.to_ascii_lowercase(), s.to_ascii_lowercase()) } else { (pattern.into(), s.into()) };
    match p.split_once('*') {
        None => p == s,
        Some((head, tail)) => s.len() >= head.len() + tail.len() && s.starts_with(head) && s.ends_with(tail),
    }
}

impl CorsRule {
    fn allows(&self, origin: &str, method: &str, headers: &[String]) -> bool {
        self.allowed_origins.iter().any(|o| matches(o, origin, false))
            && self.allowed_methods.iter().any(|m| m == method)
            && headers.iter().all(|h| self.allowed_headers.iter().any(|a| matches(a, h, true)))
    }

    /// The headers an answer to `origin` carries under this rule.
    fn headers(&self, origin: &str) -> Vec<(HeaderName, String)> {
        use http::header::*;
        let any_origin = self.allowed_origins.iter().any(|o| o == "*");
        let mut out = vec![
            (ACCESS_CONTROL_ALLOW_ORIGIN, if any_origin { "*".to_string() } else { origin.to_string() }),
            (ACCESS_CONTROL_ALLOW_METHODS, self.allowed_methods.join(", ")),
        ];
        if !any_origin {
            out.push((ACCESS_CONTROL_ALLOW_CREDENTIALS, "true".into()));
        }
        if !self.expose_headers.is_empty() {
            out.push((ACCESS_CONTROL_EXPOSE_HEADERS, self.expose_headers.join(", ")));
        }
        if let Some(age) = self.max_age_seconds {
            out.push((ACCESS_CONTROL_MAX_AGE, age.to_string()));
        }
        out
    }
}

impl CorsConfig {
    /// The first rule that allows `origin` to send `method` with `headers`.
    pub fn find(&self, origin: &str, method: &str, headers: &[String]) -> Option<&CorsRule> {
        self.rules.iter().find(|r| r.allows(origin, method, headers))
    }
}

fn forbidden() -> Refusal {
    Refusal {
        status: StatusCode::FORBIDDEN,
        code: "AccessForbidden",
        message: "CORSResponse: This CORS request is not allowed. This is usually because the evaluation of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.".into(),
    }
}

fn bad(message: &str) -> Refusal {
    Refusal { status: StatusCode::BAD_REQUEST, code: "BadRequest", message: message.into() }
}

const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

/// Reads buckets' CORS rules for the HTTP front.
#[derive(Clone)]
pub struct Cors {
    meta: MetaStore,
}

impl Cors {
    pub fn new(meta: MetaStore) -> Self {
        Self { meta }
    }

    fn config(&self, bucket: &str) -> Option<CorsConfig> {
        let raw = self.meta.bucket_setting(bucket, SETTING).ok().flatten()?;
        serde_json::from_slice(&raw).ok()
    }

    /// The answer to a preflight for `bucket`: the headers of a 200, or the refusal.
    pub fn preflight(&self, bucket: &str, headers: &HeaderMap) -> Result<Vec<(HeaderName, String)>, Refusal> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let Some(origin) = text("origin").filter(|o| !o.is_empty()) else {
            return Err(bad("Insufficient information. Origin request header needed."));
        };
        let Some(method) = text("access-control-request-method") else {
            return Err(bad("Insufficient information. Access-Control-Request-Method request header needed."));
        };
        if !METHODS.contains(&method) {
            return Err(bad(&format!("Invalid Access-Control-Request-Method: {method}")));
        }
        let asked: Vec<String> = text("access-control-request-headers")
            .unwrap_or("")
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        let config = if bucket.is_empty() { None } else { self.config(bucket) };
        let rule = config.as_ref().and_then(|c| c.find(origin, method, &asked)).ok_or_else(forbidden)?;
        let mut out = rule.headers(origin);
        if !asked.is_empty() {
            out.push((http::header::ACCESS_CONTROL_ALLOW_HEADERS, asked.join(", ")));
        }
        out.push((http::header::VARY, VARY.into()));
        Ok(out)
    }

    /// Adds the `Access-Control-*` headers to the answer of an actual request from a
    /// page (one with an `Origin`) to `bucket`, when a rule allows it.
    pub fn decorate(&self, bucket: &str, method: &Method, request: &HeaderMap, answer: &mut HeaderMap) {
        let Some(origin) = request.get("origin").and_then(|v| v.to_str().ok()) else { return };
        if bucket.is_empty() {
            return;
        }
        let Some(config) = self.config(bucket) else { return };
        let Some(rule) = config.find(origin, method.as_str(), &[]) else { return };
        for (name, value) in rule.headers(origin) {
            if let Ok(v) = HeaderValue::from_str(&value) {
                answer.insert(name, v);
            }
        }
        answer.insert(http::header::VARY, HeaderValue::from_static(VARY));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        CorsRule {
            allowed_origins: v(origins),
            allowed_methods: v(methods),
            allowed_headers: v(headers),
            ..Default::default()
        }
    }

    #[test]
    fn origins_methods_and_headers_match_as_s3_matches_them() {
        let c = CorsConfig {
            rules: vec![
                rule(&["https://*.example.com"], &["GET", "PUT"], &["content-*", "x-amz-*"]),
                rule(&["*"], &["GET"], &[]),
            ],
        };
        let h = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let first = Some(&c.rules[0]);
        assert_eq!(c.find("https://app.example.com", "PUT", &h(&["content-type", "x-amz-date"])), first);
        assert_eq!(c.find("https://app.example.com", "PUT", &h(&["Content-Type"])), first, "headers ignore case");
        assert_eq!(c.find("https://app.example.com", "PUT", &h(&["authorization"])), None);
        assert_eq!(c.find("https://evil.com", "PUT", &[]), None);
        assert_eq!(c.find("http://app.example.com", "PUT", &[]), None, "the scheme is part of the origin");
        assert_eq!(c.find("https://evil.com", "GET", &[]), Some(&c.rules[1]));
        assert_eq!(c.find("https://evil.com", "DELETE", &[]), None);
        let any = c.rules[1].headers("https://evil.com");
        assert!(any.contains(&(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".into())));
        assert!(!any.iter().any(|(n, _)| n == http::header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
        let named = c.rules[0].headers("https://app.example.com");
        assert!(named.contains(&(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "https://app.example.com".into())));
        assert!(named.contains(&(http::header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true".into())));
    }
}
