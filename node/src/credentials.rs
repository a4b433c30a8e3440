//! The root access key: taken from CAIRN_ROOT_ACCESS_KEY / CAIRN_ROOT_SECRET_KEY
//! or generated on the first start, then kept in the Raft state machine with its
//! secret sealed by the cluster keyring. Touches the metadata store (access keys)
//! and the keyring, read only.

use anyhow::{Context, bail};
use cairn_raft::MetaStore;
use cairn_raft::schema::AccessKey;
use cairn_s3api::access::Keyring;
use rand::Rng;
use rand::distributions::Alphanumeric;
use std::time::Duration;

/// The root key as cairnd prints it.
pub struct RootKey {
    pub access_key_id: String,
    pub secret_key: String,
}

fn random_string(len: usize, upper: bool) -> String {
    let s: String = rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect();
    if upper { s.to_ascii_uppercase() } else { s }
}

/// True when the root key comes from the environment.
pub fn root_key_from_env() -> bool {
    std::env::var("CAIRN_ROOT_ACCESS_KEY").is_ok_and(|s| !s.is_empty())
}

/// Printed by a cluster member that cannot read the root key yet (no leader).
fn placeholder() -> RootKey {
    let note = "(held by the cluster: see the first node, or CAIRN_ROOT_ACCESS_KEY)".to_string();
    RootKey { access_key_id: note.clone(), secret_key: note }
}

fn open(keyring: &Keyring, key: &AccessKey) -> anyhow::Result<RootKey> {
    match keyring.open(&key.access_key_id, &key.sealed_secret) {
        Some(secret_key) => Ok(RootKey { access_key_id: key.access_key_id.clone(), secret_key }),
        None => bail!(
            "the stored root key cannot be opened with this node's keyring ({}); the keyring file does not belong to this cluster",
            crate::keyring::FILE
        ),
    }
}

/// The root key of a cluster member: the stored one, else (if `may_create`) the one
/// from the environment or a new one. A member that may not create one waits for
/// the key to arrive through Raft, so that two nodes never mint two root keys.
pub async fn root_key(meta: &MetaStore, keyring: &Keyring, may_create: bool) -> anyhow::Result<Option<RootKey>> {
    meta.read_barrier().await?;
    if let Some(root) = meta.list_access_keys()?.into_iter().find(|k| k.is_root) {
        return open(keyring, &root).map(Some);
    }
    if !may_create {
        return Ok(None);
    }
    ensure_root_key(meta, keyring).await.map(Some)
}

/// The root key a cluster member prints at start. A member may start before a quorum
/// of its peers: the S3 endpoint comes up at once and answers 503 until the cluster
/// has a leader. So the key is waited for only briefly; past that the member prints
/// the placeholder and keeps asking in the background (once a second, for ten
/// minutes), so that a member allowed to create the key still does once a leader is
/// there.
pub async fn member_root_key(meta: &MetaStore, keyring: &Keyring, may_create: bool) -> RootKey {
    match tokio::time::timeout(Duration::from_secs(5), root_key(meta, keyring, may_create)).await {
        Ok(Ok(Some(k))) => k,
        _ => {
            let meta = meta.clone();
            let keyring = keyring.clone();
            tokio::spawn(async move {
                for _ in 0..600 {
                    if let Ok(Some(_)) = root_key(&meta, &keyring, may_create).await {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
            placeholder()
        }
    }
}

pub async fn ensure_root_key(meta: &MetaStore, keyring: &Keyring) -> anyhow::Result<RootKey> {
    let env_key = std::env::var("CAIRN_ROOT_ACCESS_KEY").ok().filter(|s| !s.is_empty());
    let env_secret = std::env::var("CAIRN_ROOT_SECRET_KEY").ok().filter(|s| !s.is_empty());
    if let Some(root) = meta.list_access_keys().context("reading access keys")?.into_iter().find(|k| k.is_root) {
        if env_key.as_deref().is_some_and(|k| k != root.access_key_id) {
            tracing::warn!("CAIRN_ROOT_ACCESS_KEY differs from the stored root key; the stored key stays in force");
        }
        return open(keyring, &root);
    }
    let (access_key_id, secret_key) = match (env_key, env_secret) {
        (Some(k), Some(s)) => (k, s),
        (None, None) => (format!("CAIRN{}", random_string(15, true)), random_string(40, false)),
        _ => bail!("set both CAIRN_ROOT_ACCESS_KEY and CAIRN_ROOT_SECRET_KEY, or neither"),
    };
    if access_key_id.len() < 3 || secret_key.len() < 8 {
        bail!("the root access key needs at least 3 characters and the secret at least 8");
    }
    let key = AccessKey {
        sealed_secret: keyring.seal(&access_key_id, &secret_key),
        access_key_id: access_key_id.clone(),
        name: "root".into(),
        is_root: true,
        created: time_now_nanos(),
        admin: true,
    };
    cairn_object::meta::put_access_key(meta, key)
        .await
        .map_err(|e| anyhow::anyhow!("storing the root key failed: {e}"))?;
    Ok(RootKey { access_key_id, secret_key })
}

fn time_now_nanos() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}
