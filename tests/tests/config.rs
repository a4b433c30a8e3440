//! Configuration precedence and errors, through the real `cairnd --print-config`.

use cairn_tests::*;
use std::process::Command;

fn cairnd(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(cairnd_bin());
    cmd.args(args).env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run cairnd");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cairn.toml");
    std::fs::write(
        &file,
        "region = \"file-region\"\ns3_listen = \"127.0.0.1:1111\"\ndata_shards = 1\nparity_shards = 1\nmax_requests = 7\n",
    )
    .unwrap();
    let (ok, out, err) = cairnd(
        &["--config", file.to_str().unwrap(), "--print-config", "--s3-listen", "127.0.0.1:3333"],
        &[("CAIRN_REGION", "env-region"), ("CAIRN_S3_LISTEN", "127.0.0.1:2222"), ("CAIRN_MAX_REQUESTS", "9")],
    );
    assert!(ok, "{err}");
    assert!(out.contains("s3_listen = \"127.0.0.1:3333\""), "flag beats env and file:\n{out}");
    assert!(out.contains("region = \"env-region\""), "env beats file:\n{out}");
    assert!(out.contains("max_requests = 9"), "env beats file:\n{out}");
    assert!(out.contains("data_shards = 1") && out.contains("parity_shards = 1"), "file beats default:\n{out}");
    assert!(out.contains("body_timeout_secs = 60"), "default:\n{out}");
}

#[test]
fn bad_configuration_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(&unknown, "data_shardz = 3\n").unwrap();
    let (ok, _, err) = cairnd(&["--config", unknown.to_str().unwrap(), "--print-config"], &[]);
    assert!(!ok && err.contains("data_shardz"), "unknown key: {err}");

    let bad_value = dir.path().join("bad.toml");
    std::fs::write(&bad_value, "data_shards = \"many\"\n").unwrap();
    let (ok, _, err) = cairnd(&["--config", bad_value.to_str().unwrap(), "--print-config"], &[]);
    assert!(!ok && err.contains("data_shards"), "bad value: {err}");

    let (ok, _, err) = cairnd(&["--print-config"], &[("CAIRN_PARITY_SHARDS", "lots")]);
    assert!(!ok && err.to_lowercase().contains("parity"), "bad env value: {err}");

    let (ok, _, err) = cairnd(&["--print-config", "--tls-cert", "/x.pem"], &[]);
    assert!(!ok && err.contains("tls_key"), "half a TLS setting: {err}");

    let missing = dir.path().join("missing.toml");
    let (ok, _, err) = cairnd(&["--config", missing.to_str().unwrap()], &[]);
    assert!(!ok && err.contains("missing.toml"), "missing config file: {err}");
}

#[test]
fn printed_configuration_is_a_config_file_that_prints_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let disks: Vec<String> =
        (1..=5).map(|i| dir.path().join(format!("disk{i}")).to_str().unwrap().to_string()).collect();
    let mut args = vec!["--print-config", "--data", data];
    for d in &disks {
        args.extend(["--disk", d.as_str()]);
    }
    args.extend([
        "--s3-listen",
        "127.0.0.1:7100",
        "--data-shards",
        "3",
        "--parity-shards",
        "2",
        "--region",
        "eu-north-1",
        "--domain",
        "s3.example.com",
        "--domain",
        "example.org",
        "--max-requests",
        "77",
        "--node-listen",
        "127.0.0.1:7101",
        "--peer",
        "127.0.0.1:7101",
        "--peer",
        "127.0.0.1:7201",
        "--tls-cert",
        "/etc/cairn/cert.pem",
        "--tls-key",
        "/etc/cairn/key.pem",
        "--log-format",
        "json",
    ]);
    let secret = [("CAIRN_CLUSTER_SECRET", "a-cluster-secret-of-some-length")];
    let (ok, printed, err) = cairnd(&args, &secret);
    assert!(ok, "{err}");
    for key in ["disk = [", "domain = [", "peers = [", "cluster_secret = \"********\"", "log_format = \"json\""] {
        assert!(printed.contains(key), "{key} missing from:\n{printed}");
    }
    let file = dir.path().join("printed.toml");
    std::fs::write(&file, &printed).unwrap();
    let file = file.to_str().unwrap();

    // The secret is masked: read back with it given again (env beats file), the same configuration.
    let (ok, again, err) = cairnd(&["--config", file, "--print-config"], &secret);
    assert!(ok, "the printed configuration is not a valid config file: {err}\n{printed}");
    assert_eq!(again, printed);
    // Without it, the mask is refused by name rather than taken for the secret.
    let (ok, _, err) = cairnd(&["--config", file, "--print-config"], &[]);
    assert!(!ok && err.contains("cluster_secret") && err.contains("--print-config"), "{err}");

    // Nothing set at all: the defaults read back as themselves too.
    let (ok, defaults, err) = cairnd(&["--print-config"], &[]);
    assert!(ok, "{err}");
    let file = dir.path().join("defaults.toml");
    std::fs::write(&file, &defaults).unwrap();
    let (ok, again, err) = cairnd(&["--config", file.to_str().unwrap(), "--print-config"], &[]);
    assert!(ok, "{err}\n{defaults}");
    assert_eq!(again, defaults);
}
