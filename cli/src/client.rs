//! Endpoint and credentials: flags, else env (`CAIRN_ENDPOINT`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`), else the profile (`--profile` / `CAIRN_PROFILE`,
//! default `default`) in the profile file, else built-in defaults.

use anyhow::Context;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:9000";
const DEFAULT_REGION: &str = "us-east-1";

#[derive(clap::Args, Clone)]
pub struct ConnectionArgs {
    /// S3 endpoint URL [default: http://127.0.0.1:9000].
    #[arg(long, global = true, env = "CAIRN_ENDPOINT")]
    endpoint: Option<String>,
    /// Access key id.
    #[arg(long, global = true, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key: Option<String>,
    /// Secret access key.
    #[arg(long, global = true, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Region to sign for [default: us-east-1].
    #[arg(long, global = true, env = "AWS_REGION")]
    region: Option<String>,
    /// Profile in the profile file (CAIRN_PROFILES, else ~/.config/cairn/profiles.toml)
    /// that supplies what flags and env leave out [default: default].
    #[arg(long, global = true, env = "CAIRN_PROFILE")]
    profile: Option<String>,
}

/// Where to connect and as whom, after flags, env and the profile are merged.
#[derive(Clone)]
pub struct Connection {
    pub endpoint: String,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub region: String,
}

/// One profile: any field may be left out.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

pub type Profiles = BTreeMap<String, Profile>;

pub fn profiles_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CAIRN_PROFILES") {
        return PathBuf::from(p);
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    config.join("cairn").join("profiles.toml")
}

/// The profile file; a missing file is no profiles.
pub fn load_profiles() -> anyhow::Result<Profiles> {
    let path = profiles_path();
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("invalid profile file {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Profiles::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

impl ConnectionArgs {
    pub fn resolve(&self) -> anyhow::Result<Connection> {
        let profiles = load_profiles()?;
        let p = match &self.profile {
            Some(name) => profiles
                .get(name)
                .cloned()
                .with_context(|| format!("no profile {name:?} in {}", profiles_path().display()))?,
            None => profiles.get("default").cloned().unwrap_or_default(),
        };
        Ok(Connection {
            endpoint: self.endpoint.clone().or(p.endpoint).unwrap_or_else(|| DEFAULT_ENDPOINT.into()),
            access_key: self.access_key.clone().or(p.access_key),
            secret_key: self.secret_key.clone().or(p.secret_key),
            region: self.region.clone().or(p.region).unwrap_or_else(|| DEFAULT_REGION.into()),
        })
    }
}

impl Connection {
    pub fn s3(&self) -> anyhow::Result<aws_sdk_s3::Client> {
        let (Some(ak), Some(sk)) = (&self.access_key, &self.secret_key) else {
            anyhow::bail!(
                "no credentials: pass --access-key/--secret-key, set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or save a profile (cairn profile save)"
            );
        };
        let http = aws_smithy_http_client::Builder::new().build_http();
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(self.region.clone()))
            .credentials_provider(Credentials::new(ak, sk, None, None, "cairn-cli"))
            .force_path_style(true)
            .http_client(http)
            .build();
        Ok(aws_sdk_s3::Client::from_conf(conf))
    }
}
