//! Signed JSON requests to Cairn's admin API (`/cairn/admin/v1/`) and, through [`v1`],
//! its tenant API (`/cairn/v1/`), answers read into the server's own types (`cairn-api`).

use crate::client::Connection;
use anyhow::{Context, bail};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode,
    sign,
};
use cairn_api::{ADMIN_PREFIX, ErrorBody, V1_PREFIX};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::SystemTime;

pub async fn get<T: DeserializeOwned>(conn: &Connection, endpoint: &str) -> anyhow::Result<T> {
    request(conn, "GET", ADMIN_PREFIX, endpoint, None).await
}

pub async fn post<T: DeserializeOwned>(conn: &Connection, endpoint: &str, body: &impl Serialize) -> anyhow::Result<T> {
    request(conn, "POST", ADMIN_PREFIX, endpoint, Some(serde_json::to_vec(body)?)).await
}

pub async fn delete<T: DeserializeOwned>(conn: &Connection, endpoint: &str) -> anyhow::Result<T> {
    request(conn, "DELETE", ADMIN_PREFIX, endpoint, None).await
}

/// The same under `/cairn/v1/`.
pub mod v1 {
    use super::*;

    pub async fn get<T: DeserializeOwned>(conn: &Connection, endpoint: &str) -> anyhow::Result<T> {
        request(conn, "GET", V1_PREFIX, endpoint, None).await
    }

    pub async fn post<T: DeserializeOwned>(
        conn: &Connection,
        endpoint: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        request(conn, "POST", V1_PREFIX, endpoint, Some(serde_json::to_vec(body)?)).await
    }

    pub async fn put<T: DeserializeOwned>(
        conn: &Connection,
        endpoint: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        request(conn, "PUT", V1_PREFIX, endpoint, Some(serde_json::to_vec(body)?)).await
    }

    pub async fn patch<T: DeserializeOwned>(
        conn: &Connection,
        endpoint: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        request(conn, "PATCH", V1_PREFIX, endpoint, Some(serde_json::to_vec(body)?)).await
    }

    pub async fn delete<T: DeserializeOwned>(conn: &Connection, endpoint: &str) -> anyhow::Result<T> {
        request(conn, "DELETE", V1_PREFIX, endpoint, None).await
    }

    /// Every item of a cursor-paged list: `GET endpoint?params&cursor=…`, page after
    /// page, until a page has no next cursor or `most` items are in. `split` takes a
    /// page apart into its items and its next cursor.
    pub async fn all_pages<P: DeserializeOwned, T>(
        conn: &Connection,
        endpoint: &str,
        params: &[(&str, Option<&str>)],
        most: Option<usize>,
        split: impl Fn(P) -> (Vec<T>, Option<String>),
    ) -> anyhow::Result<Vec<T>> {
        pages_from(conn, endpoint, params, None, most, split).await
    }

    /// As [`all_pages`], from `cursor` on (the next cursor of a page already read;
    /// `None` is the first page).
    pub async fn pages_from<P: DeserializeOwned, T>(
        conn: &Connection,
        endpoint: &str,
        params: &[(&str, Option<&str>)],
        mut cursor: Option<String>,
        most: Option<usize>,
        split: impl Fn(P) -> (Vec<T>, Option<String>),
    ) -> anyhow::Result<Vec<T>> {
        let mut all = Vec::new();
        loop {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in params {
                if let Some(v) = v {
                    q.append_pair(k, v);
                }
            }
            if let Some(c) = &cursor {
                q.append_pair("cursor", c);
            }
            let q = q.finish();
            let path = if q.is_empty() { endpoint.to_string() } else { format!("{endpoint}?{q}") };
            let (items, next) = split(get(conn, &path).await?);
            all.extend(items);
            if let Some(m) = most.filter(|m| all.len() >= *m) {
                all.truncate(m);
                return Ok(all);
            }
            match next {
                Some(c) => cursor = Some(c),
                None => return Ok(all),
            }
        }
    }
}

/// One HTTP client (and its pool of connections) for every request of the process.
fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new)
}

/// A request to `prefix` + `endpoint`, signed with SigV4 (the caller sends it).
pub fn signed(
    conn: &Connection,
    method: &str,
    prefix: &str,
    endpoint: &str,
    body: Vec<u8>,
) -> anyhow::Result<reqwest::RequestBuilder> {
    let (Some(ak), Some(sk)) = (&conn.access_key, &conn.secret_key) else {
        bail!("no credentials: pass --access-key/--secret-key or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
    };
    let url = format!("{}{prefix}{endpoint}", conn.endpoint.trim_end_matches('/'));
    let identity = aws_credential_types::Credentials::new(ak, sk, None, None, "cairn-cli").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&conn.region)
        .name("s3")
        .time(SystemTime::now())
        .settings({
            let mut s = SigningSettings::default();
            s.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            // As S3 signs: the path as sent (already percent-encoded, e.g. a key id in
            // `keys/<id>`), neither encoded again nor normalized.
            s.percent_encoding_mode = PercentEncodingMode::Single;
            s.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
            s
        })
        .build()?
        .into();
    let signable = SignableRequest::new(method, &url, std::iter::empty(), SignableBody::Bytes(&body))?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    let method = reqwest::Method::from_bytes(method.as_bytes())?;
    let mut req = client().request(method, &url).body(body);
    for (name, value) in instructions.headers() {
        req = req.header(name, value);
    }
    Ok(req)
}

async fn request<T: DeserializeOwned>(
    conn: &Connection,
    method: &str,
    prefix: &str,
    endpoint: &str,
    body: Option<Vec<u8>>,
) -> anyhow::Result<T> {
    let url = format!("{}{prefix}{endpoint}", conn.endpoint.trim_end_matches('/'));
    let req = signed(conn, method, prefix, endpoint, body.unwrap_or_default())?;
    let resp = req.send().await.with_context(|| format!("connecting to {}", conn.endpoint))?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        // Signature and access errors come from the S3 layer as XML; the admin
        // API's own errors are JSON.
        let json = serde_json::from_str::<ErrorBody>(&text).ok();
        let code = text
            .split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
            .map(|(c, _)| c.to_string())
            .or_else(|| json.as_ref().map(|e| e.error.code.clone()))
            .unwrap_or_else(|| text.trim().to_string());
        let message = json.map(|e| e.error.message);
        match message {
            Some(m) => bail!("{code}: {m}"),
            None => bail!("{url}: HTTP {status}: {code}"),
        }
    }
    serde_json::from_str(&text).with_context(|| format!("{url} did not answer JSON"))
}
