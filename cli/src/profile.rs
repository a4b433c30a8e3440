//! `cairn profile save|list`: named connections in the profile file, so a user types
//! `cairn --profile prod status` instead of an endpoint and two keys.

use crate::client::{Connection, Profile, load_profiles, profiles_path};
use anyhow::Context;

#[derive(clap::Subcommand)]
pub enum ProfileCommand {
    /// Save the endpoint, keys and region in effect (from flags, env or a profile) under NAME.
    Save {
        /// Profile name (the one used when no --profile is given is `default`).
        #[arg(default_value = "default")]
        name: String,
    },
    /// The saved profiles and their endpoints (secrets are not shown).
    List,
}

pub fn run(conn: &Connection, cmd: ProfileCommand) -> anyhow::Result<()> {
    let path = profiles_path();
    match cmd {
        ProfileCommand::Save { name } => {
            let mut all = load_profiles()?;
            all.insert(
                name.clone(),
                Profile {
                    endpoint: Some(conn.endpoint.clone()),
                    access_key: conn.access_key.clone(),
                    secret_key: conn.secret_key.clone(),
                    region: Some(conn.region.clone()),
                },
            );
            let text = toml::to_string(&all)?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            // The file holds secret keys: owner-only from the moment it exists.
            let tmp = path.with_extension("toml.tmp");
            {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)
                    .with_context(|| format!("writing {}", tmp.display()))?;
                f.write_all(text.as_bytes())?;
                f.sync_all()?;
            }
            std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
            println!("saved profile {name} ({}) in {}", conn.endpoint, path.display());
        }
        ProfileCommand::List => {
            let all = load_profiles()?;
            if all.is_empty() {
                println!("no profiles in {}", path.display());
            }
            for (name, p) in all {
                println!(
                    "{name:<16} {:<40} {}",
                    p.endpoint.as_deref().unwrap_or("-"),
                    p.access_key.as_deref().unwrap_or("(no key)")
                );
            }
        }
    }
    Ok(())
}
