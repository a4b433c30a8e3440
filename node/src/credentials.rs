//! The root access key: taken from CAIRN_ROOT_ACCESS_KEY / CAIRN_ROOT_SECRET_KEY
//! or generated on the first start, then kept in the Raft state machine.

use anyhow::{Context, bail};
use cairn_raft::MetaStore;
use cairn_raft::schema::{AccessKey, Command, CommandResult};
use rand::Rng;
use rand::distributions::Alphanumeric;

fn random_string(len: usize, upper: bool) -> String {
    let s: String = rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect();
    if upper { s.to_ascii_uppercase() } else { s }
}

/// True when the root key comes from the environment.
pub fn root_key_from_env() -> bool {
    std::env::var("CAIRN_ROOT_ACCESS_KEY").is_ok_and(|s| !s.is_empty())
}

/// Printed by a cluster member that cannot read the root key yet (no leader).
pub fn placeholder() -> AccessKey {
    let note = "(held by the cluster: see the first node, or CAIRN_ROOT_ACCESS_KEY)".to_string();
    AccessKey { access_key_id: note.clone(), secret_key: note, name: "root".into(), is_root: true, created: 0 }
}

/// The root key of a cluster member: the stored one, else (if `may_create`) the one
/// from the environment or a new one. A member that may not create one waits for
/// the key to arrive through Raft, so that two nodes never mint two root keys.
pub async fn root_key(meta: &MetaStore, may_create: bool) -> anyhow::Result<Option<AccessKey>> {
    meta.read_barrier().await?;
    if let Some(root) = meta.list_access_keys()?.into_iter().find(|k| k.is_root) {
        return Ok(Some(root));
    }
    if !may_create {
        return Ok(None);
    }
    ensure_root_key(meta).await.map(Some)
}

pub async fn ensure_root_key(meta: &MetaStore) -> anyhow::Result<AccessKey> {
    let env_key = std::env::var("CAIRN_ROOT_ACCESS_KEY").ok().filter(|s| !s.is_empty());
    let env_secret = std::env::var("CAIRN_ROOT_SECRET_KEY").ok().filter(|s| !s.is_empty());
    if let Some(root) = meta.list_access_keys().context("reading access keys")?.into_iter().find(|k| k.is_root) {
        if env_key.as_deref().is_some_and(|k| k != root.access_key_id) {
            tracing::warn!("CAIRN_ROOT_ACCESS_KEY differs from the stored root key; the stored key stays in force");
        }
        return Ok(root);
    }
    let (access_key_id, secret_key) = match (env_key, env_secret) {
        (Some(k), Some(s)) => (k, s),
        (None, None) => (format!("CAIRN{}", random_string(15, true)), random_string(40, false)),
        _ => bail!("set both CAIRN_ROOT_ACCESS_KEY and CAIRN_ROOT_SECRET_KEY, or neither"),
    };
    if access_key_id.len() < 3 || secret_key.len() < 8 {
        bail!("the root access key needs at least 3 characters and the secret at least 8");
    }
    let key = AccessKey { access_key_id, secret_key, name: "root".into(), is_root: true, created: time_now_nanos() };
    match meta.propose(Command::PutAccessKey { key: key.clone() }).await? {
        CommandResult::Ok => Ok(key),
        other => bail!("storing the root key failed: {other:?}"),
    }
}

fn time_now_nanos() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}
