//! The internode port. A node alone, given no internode setting, does not need one:
//! two such nodes run side by side on one machine. A node told which address to use,
//! or part of a cluster, does need it, and says which setting to change when it is taken.
//!
//! These nodes are started here rather than through `TestNode`, which always passes
//! `--node-listen`: what is tested is a node started without it.

use cairn_tests::cluster::{cairn, free_udp_port, stderr, stdout};
use cairn_tests::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A `cairnd` on `data` with only `--data`, `--s3-listen 127.0.0.1:0` and `extra` set.
/// Killed on drop.
struct Node {
    child: Child,
    endpoint: String,
    /// What the start-up banner says on its `Internode:` line.
    internode: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(cairnd_bin());
    cmd.arg("--data").arg(data).args(["--s3-listen", "127.0.0.1:0"]).args(extra);
    cmd.env_clear()
        .env("CAIRN_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY)
        .env("CAIRN_ROOT_SECRET_KEY", ROOT_SECRET_KEY)
        .envs(env.iter().copied())
        .current_dir(data.parent().unwrap())
        .stdin(Stdio::null());
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd
}

/// Starts a node and waits for its banner; Err(its stderr) if it exits instead.
fn start(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Result<Node, String> {
    let log = data.with_extension("log");
    let mut child = command(data, extra, env)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn cairnd");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<(String, String)>();
    std::thread::spawn(move || {
        let mut endpoint = None;
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(e) = line.strip_prefix("  S3 endpoint:") {
                endpoint = Some(e.trim().to_string());
            } else if let (Some(i), Some(e)) = (line.strip_prefix("  Internode:"), &endpoint) {
                let _ = tx.send((e.clone(), i.trim().to_string()));
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok((endpoint, internode)) => Ok(Node { child, endpoint, internode }),
        Err(_) => {
            let _ = child.kill();
            let status = child.wait().unwrap();
            Err(format!("({status}) {}", std::fs::read_to_string(&log).unwrap_or_default()))
        }
    }
}

/// A node that must not start: its exit status and stderr.
fn refused(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> String {
    match start(data, extra, env) {
        Ok(node) => panic!("cairnd started ({}) although it should not have", node.internode),
        Err(err) => err,
    }
}

async fn serves_s3(endpoint: &str, bucket: &str) {
    let client = ClientBuilder::new(endpoint).build();
    create_bucket(&client, bucket).await;
    put_bytes(&client, bucket, "k", b"hello".to_vec()).await;
    assert_eq!(get_bytes(&client, bucket, "k").await, b"hello");
}

#[tokio::test]
async fn two_lone_nodes_on_one_machine_need_no_internode_setting() {
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    // Neither sets the internode address: the first takes the default port if it is
    // free, the second finds it taken (by the first, or by whatever else holds it).
    let a = start(&data_a, &[], &[]).unwrap_or_else(|e| panic!("first node: {e}"));
    let b = start(&data_b, &[], &[]).unwrap_or_else(|e| panic!("second node: {e}"));
    // If something else held the default port, hold it from now on in case it lets go.
    let _held = a.internode.starts_with("none").then(|| std::net::UdpSocket::bind("127.0.0.1:9001").ok());
    assert!(b.internode.starts_with("none") && b.internode.contains("--node-listen"), "{}", b.internode);
    serves_s3(&a.endpoint, "on-a").await;
    serves_s3(&b.endpoint, "on-b").await;

    // Without an internode endpoint, forming a cluster answers how to get one.
    let out = cairn(&b.endpoint, &["cluster", "init"]);
    assert!(!out.status.success(), "cluster init: {}", stdout(&out));
    assert!(stderr(&out).contains("--node-listen ADDR:PORT"), "cluster init: {}", stderr(&out));
    let out = cairn(&b.endpoint, &["cluster", "join", "--token", "cairn1.x", "127.0.0.1:1"]);
    assert!(!out.status.success() && stderr(&out).contains("--node-listen"), "cluster join: {}", stderr(&out));

    // Restarted as told, the same node forms a cluster and keeps its data.
    drop(b);
    let addr = format!("127.0.0.1:{}", free_udp_port());
    let b = start(&data_b, &["--node-listen", &addr], &[]).unwrap_or_else(|e| panic!("restart: {e}"));
    assert_eq!(b.internode, addr);
    let out = cairn(&b.endpoint, &["cluster", "init"]);
    assert!(out.status.success(), "cluster init with --node-listen: {}", stderr(&out));
    let client = ClientBuilder::new(&b.endpoint).build();
    assert_eq!(get_bytes(&client, "on-b", "k").await, b"hello");

    // Part of a cluster now, it needs its internode port: with the default one taken
    // (node a, or whatever else holds it), it does not start, and names the setting.
    drop(b);
    let err = refused(&data_b, &[], &[]);
    assert!(
        err.contains("127.0.0.1:9001") && err.contains("--node-listen") && err.contains("CAIRN_NODE_LISTEN"),
        "{err}"
    );
    drop(a);
}

#[test]
fn a_node_listen_that_is_taken_stops_start_up_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();

    let err = refused(&dir.path().join("flag"), &["--node-listen", &addr], &[]);
    assert!(err.contains(&addr) && err.contains("--node-listen") && err.contains("in use"), "{err}");

    let err = refused(&dir.path().join("env"), &[], &[("CAIRN_NODE_LISTEN", &addr)]);
    assert!(err.contains(&addr) && err.contains("CAIRN_NODE_LISTEN"), "{err}");

    let file = dir.path().join("cairn.toml");
    std::fs::write(&file, format!("node_listen = \"{addr}\"\n")).unwrap();
    let err = refused(&dir.path().join("file"), &["--config", file.to_str().unwrap()], &[]);
    assert!(err.contains(&addr) && err.contains("node_listen"), "{err}");
}
