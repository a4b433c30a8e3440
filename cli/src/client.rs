//! Endpoint and credentials: flags, else env (`CAIRN_ENDPOINT`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

#[derive(clap::Args, Clone)]
pub struct Connection {
    /// S3 endpoint URL.
    #[arg(long, global = true, env = "CAIRN_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    pub endpoint: String,
    /// Access key id.
    #[arg(long, global = true, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    pub access_key: Option<String>,
    /// Secret access key.
    #[arg(long, global = true, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Region to sign for.
    #[arg(long, global = true, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
}

impl Connection {
    pub fn s3(&self) -> anyhow::Result<aws_sdk_s3::Client> {
        let (Some(ak), Some(sk)) = (&self.access_key, &self.secret_key) else {
            anyhow::bail!(
                "no credentials: pass --access-key/--secret-key or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
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
