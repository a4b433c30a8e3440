//! Signed JSON requests to Cairn's admin API (`/cairn/admin/v1/`).

use crate::client::Connection;
use anyhow::{Context, bail};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode,
    sign,
};
use std::time::SystemTime;

pub async fn get(conn: &Connection, endpoint: &str) -> anyhow::Result<serde_json::Value> {
    request(conn, "GET", endpoint, None).await
}

pub async fn post(conn: &Connection, endpoint: &str, body: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
    request(conn, "POST", endpoint, Some(body)).await
}

pub async fn delete(conn: &Connection, endpoint: &str) -> anyhow::Result<serde_json::Value> {
    request(conn, "DELETE", endpoint, None).await
}

async fn request(
    conn: &Connection,
    method: &str,
    endpoint: &str,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let (Some(ak), Some(sk)) = (&conn.access_key, &conn.secret_key) else {
        bail!("no credentials: pass --access-key/--secret-key or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
    };
    let url = format!("{}/cairn/admin/v1/{endpoint}", conn.endpoint.trim_end_matches('/'));
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
    let mut req = reqwest::Client::new().request(method, &url).body(body);
    for (name, value) in instructions.headers() {
        req = req.header(name, value);
    }
    let resp = req.send().await.with_context(|| format!("connecting to {}", conn.endpoint))?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        // Signature and access errors come from the S3 layer as XML; the admin
        // API's own errors are JSON.
        let code = text
            .split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
            .map(|(c, _)| c.to_string())
            .or_else(|| {
                serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
            })
            .unwrap_or_else(|| text.trim().to_string());
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string));
        match message {
            Some(m) => bail!("{code}: {m}"),
            None => bail!("{url}: HTTP {status}: {code}"),
        }
    }
    serde_json::from_str(&text).with_context(|| format!("{url} did not answer JSON"))
}
