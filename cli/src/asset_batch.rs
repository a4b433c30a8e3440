//! `cairn asset batch|batch-get`: many assets in few requests. `batch FILE` registers
//! the registrations a file holds (`POST assets/batch`, up to 1,000 a request, each
//! request's registrations committed together, each answered on its own);
//! `batch-get ID...` reads assets by id (`POST assets/batch-get`, up to 1,000 a
//! request).

use crate::admin::v1;
use crate::asset::{print_json, table};
use crate::client::Connection;
use anyhow::{Context, bail};
use cairn_api::assets::{
    BatchGet, BatchGetResult, BatchRegister, BatchRegistered, MAX_BATCH_GET, MAX_BATCH_REGISTER, RegisterAsset,
};
use std::io::Read;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct BatchArgs {
    /// Registrations, as `POST assets` takes them: a JSON file (`{"assets": [...]}` or
    /// `[...]`) or JSON lines (one registration a line); `-` reads standard input.
    file: PathBuf,
    /// The owning tenant of registrations that name none [default: the key's].
    #[arg(long)]
    tenant: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct BatchGetArgs {
    /// Asset ids.
    ids: Vec<String>,
    /// Also the ids of this file, one a line (`-`: standard input).
    #[arg(long)]
    file: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn read_input(path: &PathBuf) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        return Ok(s);
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The registrations of a batch file: `{"assets": [...]}`, `[...]`, or JSON lines.
pub fn parse_registrations(text: &str) -> anyhow::Result<Vec<RegisterAsset>> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        return serde_json::from_str(text).context("a JSON array of registrations");
    }
    if let Ok(b) = serde_json::from_str::<BatchRegister>(text) {
        return Ok(b.assets);
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("line {}: not a registration", i + 1)))
        .collect()
}

/// `assets[3].media_type` of a request that started at `offset` of the file, as its
/// place in the file.
fn shift_field(field: &str, offset: usize) -> String {
    let Some(rest) = field.strip_prefix("assets[") else { return field.to_string() };
    match rest.split_once(']') {
        Some((n, tail)) if offset > 0 => match n.parse::<usize>() {
            Ok(n) => format!("assets[{}]{tail}", n + offset),
            Err(_) => field.to_string(),
        },
        _ => field.to_string(),
    }
}

pub async fn batch(conn: &Connection, a: BatchArgs) -> anyhow::Result<()> {
    let mut regs = parse_registrations(&read_input(&a.file)?)?;
    if regs.is_empty() {
        bail!("{} holds no registration", a.file.display());
    }
    for r in regs.iter_mut().filter(|r| r.tenant.is_none()) {
        r.tenant = a.tenant.clone();
    }
    let mut out = BatchRegistered::default();
    for (n, chunk) in regs.chunks(MAX_BATCH_REGISTER).enumerate() {
        let body = BatchRegister { assets: chunk.to_vec() };
        let mut got: BatchRegistered = v1::post(conn, "assets/batch", &body).await?;
        for item in &mut got.results {
            if let Some(e) = &mut item.error {
                e.field = e.field.as_deref().map(|f| shift_field(f, n * MAX_BATCH_REGISTER));
            }
        }
        out.results.extend(got.results);
    }
    let refused = out.results.iter().filter(|r| r.error.is_some()).count();
    if a.json {
        print_json(&out)?;
    } else {
        for (i, r) in out.results.iter().enumerate() {
            match (&r.asset, &r.error) {
                (Some(asset), _) => println!("{i:>5} {} {}", asset.id, asset.name),
                (None, Some(e)) => {
                    let field = e.field.as_deref().map(|f| format!(" ({f})")).unwrap_or_default();
                    println!("{i:>5} refused: {}{field}: {}", e.code, e.message)
                }
                (None, None) => println!("{i:>5} no answer"),
            }
        }
    }
    if refused > 0 {
        bail!("{refused} of {} registrations refused", out.results.len());
    }
    if !a.json {
        eprintln!("{} assets registered", out.results.len());
    }
    Ok(())
}

pub async fn batch_get(conn: &Connection, a: BatchGetArgs) -> anyhow::Result<()> {
    let mut ids = a.ids;
    if let Some(f) = &a.file {
        ids.extend(read_input(f)?.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from));
    }
    if ids.is_empty() {
        bail!("name the assets: IDs, or --file");
    }
    let mut out = BatchGetResult::default();
    for chunk in ids.chunks(MAX_BATCH_GET) {
        let got: BatchGetResult = v1::post(conn, "assets/batch-get", &BatchGet { ids: chunk.to_vec() }).await?;
        out.assets.extend(got.assets);
        out.missing.extend(got.missing);
    }
    if a.json {
        return print_json(&out);
    }
    print!("{}", table(&out.assets));
    for id in &out.missing {
        println!("{id:<26} missing (no such asset, or not the key's to see)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{parse_registrations, shift_field};

    #[test]
    fn a_batch_file_is_json_or_json_lines() {
        let obj = r#"{"assets": [{"name": "a", "media_type": "image"}]}"#;
        let arr = r#"[{"name": "a", "media_type": "image"}, {"name": "b", "media_type": "audio"}]"#;
        let lines = "{\"name\": \"a\", \"media_type\": \"image\"}\n\n{\"name\": \"b\", \"media_type\": \"audio\"}\n";
        assert_eq!(parse_registrations(obj).unwrap().len(), 1);
        assert_eq!(parse_registrations(arr).unwrap()[1].name, "b");
        assert_eq!(parse_registrations(lines).unwrap()[1].media_type, "audio");
        let bad = parse_registrations("{\"name\": \"a\", \"media_type\": \"image\"}\n{\"nom\": 1}\n").unwrap_err();
        assert!(format!("{bad:#}").contains("line 2"), "{bad:#}");
    }

    #[test]
    fn fields_are_placed_in_the_file() {
        assert_eq!(shift_field("assets[3].media_type", 1000), "assets[1003].media_type");
        assert_eq!(shift_field("assets[3].media_type", 0), "assets[3].media_type");
        assert_eq!(shift_field("name", 1000), "name");
    }
}
