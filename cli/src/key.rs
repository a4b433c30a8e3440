//! `cairn key create|list|info|delete`: access keys, through the admin API of the node
//! at the endpoint (admin key).

use crate::admin;
use crate::client::Connection;
use anyhow::bail;
use cairn_api::admin::{CreateKey, KeyDeleted, KeyInfo, KeyList};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

#[derive(clap::Subcommand)]
pub enum KeyCommand {
    /// Create an access key; it owns the buckets it creates. Its secret is shown only once.
    Create {
        /// Name of the key (at most 128 characters) [default: its access key id].
        #[arg(long)]
        name: Option<String>,
        /// Make it an admin key: it may use the admin API and every bucket.
        #[arg(long, conflicts_with = "tenant")]
        admin: bool,
        /// Make it a key of this tenant (id): its buckets belong to the tenant, and
        /// an admin of the tenant (or of one above it) may create it.
        #[arg(long)]
        tenant: Option<String>,
        /// With --tenant: it administers the tenant's subtree (keys, sub-tenants, their quotas).
        #[arg(long, requires = "tenant")]
        tenant_admin: bool,
        /// With --tenant: byte limit of what this key writes, e.g. 100GiB.
        #[arg(long, requires = "tenant", value_parser = crate::tenant::parse_size)]
        quota_bytes: Option<u64>,
        /// With --tenant: object limit of what this key writes.
        #[arg(long, requires = "tenant")]
        quota_objects: Option<u64>,
        /// Print the API's JSON (it holds the secret key).
        #[arg(long)]
        json: bool,
    },
    /// List the access keys (never their secrets).
    List {
        /// Print the admin API's JSON.
        #[arg(long)]
        json: bool,
    },
    /// One access key and the buckets it owns.
    Info {
        /// Access key id.
        id: String,
        /// Print the admin API's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete an access key: every node refuses it from then on. The root key cannot be deleted.
    Delete {
        /// Access key id.
        id: String,
    },
}

pub async fn run(conn: &Connection, cmd: KeyCommand) -> anyhow::Result<()> {
    match cmd {
        KeyCommand::Create { name, tenant: Some(tenant), tenant_admin, quota_bytes, quota_objects, json, .. } => {
            let body = cairn_api::tenants::CreateTenantKey {
                name,
                tenant_admin,
                quota: cairn_api::tenants::Quota { bytes: quota_bytes, objects: quota_objects },
            };
            let path = format!("tenants/{}/keys", crate::tenant::segment(&tenant)?);
            let v: cairn_api::tenants::TenantKey = admin::v1::post(conn, &path, &body).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let (bytes, objects) = crate::tenant::show_use(&v.used, v.quota);
                println!("access key id: {}", v.access_key_id);
                println!("secret key:    {}", v.secret_access_key.as_deref().unwrap_or("-"));
                println!("name:          {}", v.name);
                println!("tenant:        {}", v.tenant);
                println!("tenant admin:  {}", yes_no(v.tenant_admin));
                println!("bytes:         {bytes}");
                println!("objects:       {objects}");
                println!();
                println!("The secret key is shown only this once: store it now.");
            }
        }
        KeyCommand::Create { name, admin, json, .. } => {
            let v: KeyInfo = admin::post(conn, "keys", &create_body(name, admin)).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", describe(&v));
                println!();
                println!("The secret key is shown only this once: store it now.");
            }
        }
        KeyCommand::List { json } => {
            let v: KeyList = admin::get(conn, "keys").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", key_table(&v.keys));
            }
        }
        KeyCommand::Info { id, json } => {
            let v: KeyInfo = admin::get(conn, &key_path(&id)?).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", describe(&v));
            }
        }
        KeyCommand::Delete { id } => {
            let v: KeyDeleted = admin::delete(conn, &key_path(&id)?).await?;
            println!("deleted key {}", v.deleted);
        }
    }
    Ok(())
}

/// The body of `POST keys`: `name` only when given (the server defaults it to the access key id).
fn create_body(name: Option<String>, admin: bool) -> CreateKey {
    CreateKey { name, admin }
}

/// Everything but RFC 3986's unreserved characters is percent-encoded, as SigV4 expects.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The admin endpoint of one key: `keys/<id>`, the id percent-encoded as one path segment.
fn key_path(id: &str) -> anyhow::Result<String> {
    // URL parsing resolves `.` and `..` segments (encoded or not) against the path, and
    // the S3 layer checks the signature of a path with its `%2F` decoded to `/`.
    if id.is_empty() || id == "." || id == ".." || id.contains('/') {
        bail!("invalid access key id {id:?}");
    }
    Ok(format!("keys/{}", utf8_percent_encode(id, PATH_SEGMENT)))
}

/// A field an answer left out shows as `-`.
fn text(v: &str) -> &str {
    if v.is_empty() { "-" } else { v }
}

fn yes_no(v: bool) -> &'static str {
    if v { "yes" } else { "no" }
}

/// One key as `label: value` lines: the secret when the answer has one (create), the
/// owned buckets when it lists them (info).
fn describe(v: &KeyInfo) -> String {
    let mut rows = vec![("access key id", text(&v.access_key_id).to_string())];
    if let Some(secret) = &v.secret_access_key {
        rows.push(("secret key", secret.to_string()));
    }
    rows.extend([
        ("name", text(&v.name).to_string()),
        ("owner id", text(&v.owner_id).to_string()),
        ("admin", yes_no(v.admin).to_string()),
        ("created", text(&v.created).to_string()),
    ]);
    let buckets = v.buckets.as_ref();
    if let Some(b) = buckets {
        rows.push(("buckets", if b.is_empty() { "(none)".to_string() } else { b.len().to_string() }));
    }
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (label, value) in rows {
        out.push_str(&format!("{:<width$} {value}\n", format!("{label}:")));
    }
    for b in buckets.into_iter().flatten() {
        out.push_str(&format!("  {b}\n"));
    }
    out
}

/// The keys of `GET keys` as a table aligned on the widest value of each column.
fn key_table(keys: &[KeyInfo]) -> String {
    let header = ["ACCESS KEY", "NAME", "ADMIN", "CREATED"];
    let rows: Vec<[&str; 4]> =
        keys.iter().map(|k| [text(&k.access_key_id), text(&k.name), yes_no(k.admin), text(&k.created)]).collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < row.len() {
                line.extend(std::iter::repeat_n(' ', widths[i] - cell.chars().count()));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A key as the server's JSON has it.
    fn key(v: serde_json::Value) -> KeyInfo {
        serde_json::from_value(v).expect("a key")
    }

    #[test]
    fn key_path_encodes_one_segment() {
        assert_eq!(key_path("AKIA0123abcd").unwrap(), "keys/AKIA0123abcd");
        assert_eq!(key_path("a-b.c_d~e").unwrap(), "keys/a-b.c_d~e");
        assert_eq!(key_path("a b+c?d%é").unwrap(), "keys/a%20b%2Bc%3Fd%25%C3%A9");
        for bad in ["", ".", "..", "a/b"] {
            assert!(key_path(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn create_body_leaves_out_a_missing_name() {
        let body = |name, admin| serde_json::to_value(create_body(name, admin)).unwrap();
        assert_eq!(body(None, false), json!({"admin": false}));
        assert_eq!(body(Some("alice".into()), true), json!({"name": "alice", "admin": true}));
    }

    #[test]
    fn table_aligns_columns() {
        let keys = [
            key(json!({"access_key_id": "AK1", "name": "alice", "owner_id": "ab", "admin": false,
                   "created": "2026-11-22T10:00:00Z"})),
            key(json!({"access_key_id": "AKLONGERKEYID", "name": "root", "owner_id": "cd", "admin": true,
                   "created": "2026-11-21T09:00:00Z"})),
        ];
        assert_eq!(
            key_table(&keys),
            "ACCESS KEY     NAME   ADMIN  CREATED\n\
             AK1            alice  no     2026-11-22T10:00:00Z\n\
             AKLONGERKEYID  root   yes    2026-11-21T09:00:00Z\n"
        );
    }

    #[test]
    fn table_of_no_keys_is_the_header() {
        assert_eq!(key_table(&[]), "ACCESS KEY  NAME  ADMIN  CREATED\n");
    }

    #[test]
    fn table_pads_by_characters_and_marks_missing_fields() {
        let keys = [key(json!({"access_key_id": "AK1", "name": "zoë", "admin": true}))];
        assert_eq!(key_table(&keys), "ACCESS KEY  NAME  ADMIN  CREATED\nAK1         zoë   yes    -\n");
    }

    #[test]
    fn describe_shows_secret_and_buckets_when_present() {
        let created = key(json!({"access_key_id": "AK1", "secret_access_key": "SK1", "name": "alice",
                             "owner_id": "ab", "admin": false, "created": "2026-11-22T10:00:00Z"}));
        assert_eq!(
            describe(&created),
            "access key id: AK1\n\
             secret key:    SK1\n\
             name:          alice\n\
             owner id:      ab\n\
             admin:         no\n\
             created:       2026-11-22T10:00:00Z\n"
        );
        let info = key(json!({"access_key_id": "AK1", "name": "alice", "owner_id": "ab", "admin": true,
                          "created": "2026-11-22T10:00:00Z", "buckets": ["docs", "photos"]}));
        assert_eq!(
            describe(&info),
            "access key id: AK1\n\
             name:          alice\n\
             owner id:      ab\n\
             admin:         yes\n\
             created:       2026-11-22T10:00:00Z\n\
             buckets:       2\n  docs\n  photos\n"
        );
        let none = key(json!({"access_key_id": "AK2", "buckets": []}));
        assert!(describe(&none).ends_with("buckets:       (none)\n"), "{}", describe(&none));
    }
}
