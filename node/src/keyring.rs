//! `<data>/keyring`: this node's copy of the cluster keyring (the key that seals
//! access-key secrets in the metadata), hex, mode 600.
//!
//! A lone node makes a random one on its first start and keeps it when it becomes
//! a cluster (`cluster init`); a node that joins takes the cluster's from the member
//! it joins through; the nodes of a static cluster derive the same one from the
//! shared cluster secret. Touches `<data>/keyring` only.

use anyhow::{Context, bail};
use cairn_s3api::access::{KEY_LEN, Keyring};
use std::io::Write;
use std::path::Path;

pub const FILE: &str = "keyring";

pub fn load_or_create(data: &Path, static_secret: Option<&str>) -> anyhow::Result<Keyring> {
    let path = data.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim()).ok().and_then(|b| <[u8; KEY_LEN]>::try_from(b).ok());
            match bytes {
                Some(b) => Ok(Keyring::from_bytes(b)),
                None => bail!("{} is not a keyring ({} hex-encoded bytes)", path.display(), KEY_LEN),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let keyring = match static_secret {
                Some(secret) => Keyring::derive(secret.as_bytes()),
                None => Keyring::generate(),
            };
            save(data, &keyring)?;
            Ok(keyring)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes the keyring (fsync + rename), readable by the owner only.
pub fn save(data: &Path, keyring: &Keyring) -> anyhow::Result<()> {
    let tmp = data.join(format!("{FILE}.tmp"));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(hex::encode(keyring.bytes()).as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, data.join(FILE))?;
    std::fs::File::open(data)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path(), None).unwrap();
        let b = load_or_create(dir.path(), None).unwrap();
        assert_eq!(a.bytes(), b.bytes());
        let mode = std::fs::metadata(dir.path().join(FILE)).unwrap().permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o600);

        let s1 = tempfile::tempdir().unwrap();
        let s2 = tempfile::tempdir().unwrap();
        let x = load_or_create(s1.path(), Some("shared cluster secret")).unwrap();
        let y = load_or_create(s2.path(), Some("shared cluster secret")).unwrap();
        assert_eq!(x.bytes(), y.bytes(), "static members derive the same keyring");

        std::fs::write(dir.path().join(FILE), "zz").unwrap();
        assert!(load_or_create(dir.path(), None).is_err());
    }
}
