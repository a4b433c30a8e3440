//! `cairn kms key create|list|info|rotate|disable|enable`: the built-in KMS key store
//! behind SSE-KMS, through the admin API of the node at the endpoint (admin key).

use crate::admin;
use crate::client::Connection;
use cairn_api::kms::{CreateKmsKey, KmsKeyInfo, KmsKeyList};

#[derive(clap::Subcommand)]
pub enum KmsCommand {
    /// KMS keys: create, list, show, rotate, disable, enable.
    #[command(subcommand)]
    Key(KmsKeyCommand),
}

#[derive(clap::Subcommand)]
pub enum KmsKeyCommand {
    /// Create a key (its first version): `x-amz-server-side-encryption-aws-kms-key-id: ID` uses it.
    Create {
        /// Key id: 1 to 128 letters, digits and - _ / .
        id: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        json: bool,
    },
    /// List the keys.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One key and its versions.
    Info {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Add a version: new objects are sealed with it, older ones stay readable with theirs.
    Rotate {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Disable a key: writes with it and reads of its objects are refused until it is enabled.
    Disable {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Enable a disabled key.
    Enable {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

/// `kms/keys/<id>`: a key id's `/`-separated parts as path segments.
fn key_path(id: &str) -> anyhow::Result<String> {
    let parts = id.split('/').map(crate::tenant::segment).collect::<anyhow::Result<Vec<_>>>();
    let parts = parts.map_err(|_| anyhow::anyhow!("invalid KMS key id {id:?}"))?;
    Ok(format!("kms/keys/{}", parts.join("/")))
}

fn show(v: &KmsKeyInfo, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(v)?);
        return Ok(());
    }
    println!("id:          {}", v.id);
    println!("arn:         {}", v.arn);
    println!("description: {}", if v.description.is_empty() { "-" } else { &v.description });
    println!("created:     {}", v.created);
    println!("enabled:     {}", if v.enabled { "yes" } else { "no" });
    println!("version:     {} (of {})", v.current_version, v.versions.len());
    for ver in &v.versions {
        println!("  v{:<4} created {}", ver.version, ver.created);
    }
    Ok(())
}

pub async fn run(conn: &Connection, cmd: KmsCommand) -> anyhow::Result<()> {
    let KmsCommand::Key(cmd) = cmd;
    match cmd {
        KmsKeyCommand::Create { id, description, json } => {
            let v: KmsKeyInfo = admin::post(conn, "kms/keys", &CreateKmsKey { id, description }).await?;
            show(&v, json)
        }
        KmsKeyCommand::List { json } => {
            let v: KmsKeyList = admin::get(conn, "kms/keys").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            println!("{:<32} {:<8} {:>7}  created", "id", "enabled", "version");
            for k in &v.keys {
                let enabled = if k.enabled { "yes" } else { "no" };
                println!("{:<32} {:<8} {:>7}  {}", k.id, enabled, k.current_version, k.created);
            }
            Ok(())
        }
        KmsKeyCommand::Info { id, json } => show(&admin::get(conn, &key_path(&id)?).await?, json),
        KmsKeyCommand::Rotate { id, json } => {
            show(&admin::post(conn, &format!("{}/rotate", key_path(&id)?), &()).await?, json)
        }
        KmsKeyCommand::Disable { id, json } => {
            show(&admin::post(conn, &format!("{}/disable", key_path(&id)?), &()).await?, json)
        }
        KmsKeyCommand::Enable { id, json } => {
            show(&admin::post(conn, &format!("{}/enable", key_path(&id)?), &()).await?, json)
        }
    }
}
