//! `cairn key create|list|info|delete`: access keys, through the admin API of the node
//! at the endpoint (admin key).

use crate::admin;
use crate::client::Connection;
use anyhow::bail;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};

#[derive(clap::Subcommand)]
pub enum KeyCommand {
    /// Create an access key; it owns the buckets it creates. Its secret is shown only once.
    Create {
        /// Name of the key (at most 128 characters) [default: its access key id].
        #[arg(long)]
        name: Option<String>,
        /// Make it an admin key: it may use the admin API and every bucket.
        #[arg(long)]
        admin: bool,
        /// Print the admin API's JSON (it holds the secret key).
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
        KeyCommand::Create { name, admin, json } => {
            let v = admin::post(conn, "keys", &create_body(name, admin)).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", describe(&v));
                println!();
                println!("The secret key is shown only this once: store it now.");
            }
        }
        KeyCommand::List { json } => {
            let v = admin::get(conn, "keys").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let keys = v["keys"].as_array().map(Vec::as_slice).unwrap_or_default();
                print!("{}", key_table(keys));
            }
        }
        KeyCommand::Info { id, json } => {
            let v = admin::get(conn, &key_path(&id)?).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!("{}", describe(&v));
            }
        }
        KeyCommand::Delete { id } => {
            let v = admin::delete(conn, &key_path(&id)?).await?;
            println!("deleted key {}", v["deleted"].as_str().unwrap_or(&id));
        }
    }
    Ok(())
}

/// The body of `POST keys`: `name` only when given (the server defaults it to the access key id).
fn create_body(name: Option<String>, admin: bool) -> Value {
    let mut body = Map::new();
    if let Some(name) = name {
        body.insert("name".into(), Value::String(name));
    }
    body.insert("admin".into(), Value::Bool(admin));
    Value::Object(body)
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

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or("-")
}

fn yes_no(v: &Value) -> &'static str {
    match v.as_bool() {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    }
}

/// One key as `label: value` lines: the secret when the answer has one (create), the
/// owned buckets when it lists them (info).
fn describe(v: &Value) -> String {
    let mut rows = vec![("access key id", text(v, "access_key_id").to_string())];
    if let Some(secret) = v["secret_access_key"].as_str() {
        rows.push(("secret key", secret.to_string()));
    }
    rows.extend([
        ("name", text(v, "name").to_string()),
        ("owner id", text(v, "owner_id").to_string()),
        ("admin", yes_no(&v["admin"]).to_string()),
        ("created", text(v, "created").to_string()),
    ]);
    let buckets = v["buckets"].as_array();
    if let Some(b) = buckets {
        rows.push(("buckets", if b.is_empty() { "(none)".to_string() } else { b.len().to_string() }));
    }
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (label, value) in rows {
        out.push_str(&format!("{:<width$} {value}\n", format!("{label}:")));
    }
    for b in buckets.into_iter().flatten() {
        out.push_str(&format!("  {}\n", b.as_str().unwrap_or("?")));
    }
    out
}

/// The keys of `GET keys` as a table aligned on the widest value of each column.
fn key_table(keys: &[Value]) -> String {
    let header = ["ACCESS KEY", "NAME", "ADMIN", "CREATED"];
    let rows: Vec<[&str; 4]> = keys
        .iter()
        .map(|k| [text(k, "access_key_id"), text(k, "name"), yes_no(&k["admin"]), text(k, "created")])
        .collect();
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
        assert_eq!(create_body(None, false), json!({"admin": false}));
        assert_eq!(create_body(Some("alice".into()), true), json!({"name": "alice", "admin": true}));
    }

    #[test]
    fn table_aligns_columns() {
        let keys = [
            json!({"access_key_id": "AK1", "name": "alice", "owner_id": "ab", "admin": false,
                   "created": "2026-11-22T10:00:00Z"}),
            json!({"access_key_id": "AKLONGERKEYID", "name": "root", "owner_id": "cd", "admin": true,
                   "created": "2026-11-21T09:00:00Z"}),
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
        let keys = [json!({"access_key_id": "AK1", "name": "zoë", "admin": true})];
        assert_eq!(key_table(&keys), "ACCESS KEY  NAME  ADMIN  CREATED\nAK1         zoë   yes    -\n");
    }

    #[test]
    fn describe_shows_secret_and_buckets_when_present() {
        let created = json!({"access_key_id": "AK1", "secret_access_key": "SK1", "name": "alice",
                             "owner_id": "ab", "admin": false, "created": "2026-11-22T10:00:00Z"});
        assert_eq!(
            describe(&created),
            "access key id: AK1\n\
             secret key:    SK1\n\
             name:          alice\n\
             owner id:      ab\n\
             admin:         no\n\
             created:       2026-11-22T10:00:00Z\n"
        );
        let info = json!({"access_key_id": "AK1", "name": "alice", "owner_id": "ab", "admin": true,
                          "created": "2026-11-22T10:00:00Z", "buckets": ["docs", "photos"]});
        assert_eq!(
            describe(&info),
            "access key id: AK1\n\
             name:          alice\n\
             owner id:      ab\n\
             admin:         yes\n\
             created:       2026-11-22T10:00:00Z\n\
             buckets:       2\n  docs\n  photos\n"
        );
        let none = json!({"access_key_id": "AK2", "buckets": []});
        assert!(describe(&none).ends_with("buckets:       (none)\n"), "{}", describe(&none));
    }
}
