//! Several `cairnd` processes on loopback formed into one cluster through the `cairn`
//! CLI, as a user would do it.

use crate::{TestNode, ROOT_ACCESS_KEY, ROOT_SECRET_KEY};
use std::process::Output;
use std::time::{Duration, Instant};

/// A free UDP port on 127.0.0.1 (released before use; the race is harmless in tests).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("udp port")
}

pub struct TestCluster {
    pub nodes: Vec<TestNode>,
    /// Internode address of each node (fixed across restarts).
    pub node_addrs: Vec<String>,
    pub token: String,
}

/// Runs `cairn` against `endpoint` with root keys.
pub fn cairn(endpoint: &str, args: &[&str]) -> Output {
    std::process::Command::new(crate::cairn_bin())
        .arg("--endpoint")
        .arg(endpoint)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", ROOT_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", ROOT_SECRET_KEY)
        .env_remove("CAIRN_ENDPOINT")
        .env_remove("AWS_CA_BUNDLE")
        .output()
        .expect("run cairn")
}

/// Runs `cairn ... --json` against `endpoint` with root keys; it must succeed, and
/// its output is the JSON answer.
pub fn cli_json(endpoint: &str, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = cairn(endpoint, &all);
    assert!(out.status.success(), "cairn {args:?} failed: {}{}", stdout(&out), stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("cairn {args:?}: {e}: {}", stdout(&out)))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Starts one node whose internode endpoint listens on a fixed free port.
pub fn start_node(extra: &[&str]) -> (TestNode, String) {
    let addr = format!("127.0.0.1:{}", free_udp_port());
    let mut args = vec!["--node-listen", addr.as_str()];
    args.extend_from_slice(extra);
    (TestNode::start_with(&args), addr)
}

impl TestCluster {
    /// `n` nodes: `cairn cluster init` on the first, `cairn cluster join` on the rest.
    pub fn start(n: usize) -> TestCluster {
        Self::start_with(n, &[])
    }

    /// Like [`TestCluster::start`], every node started with `extra` arguments too.
    pub fn start_with(n: usize, extra: &[&str]) -> TestCluster {
        let (nodes, node_addrs): (Vec<_>, Vec<_>) = (0..n).map(|_| start_node(extra)).unzip();
        let out = cairn(nodes[0].endpoint(), &["cluster", "init"]);
        assert!(out.status.success(), "cluster init failed: {}", stderr(&out));
        let text = stdout(&out);
        let token = text
            .split_whitespace()
            .find(|w| w.starts_with("cairn1."))
            .unwrap_or_else(|| panic!("no token in: {text}"))
            .to_string();
        for node in &nodes[1..] {
            let out = cairn(node.endpoint(), &["cluster", "join", "--token", &token, &node_addrs[0]]);
            assert!(out.status.success(), "cluster join failed: {}\n{}", stderr(&out), node.log_tail(30));
        }
        let cluster = TestCluster { nodes, node_addrs, token };
        cluster.wait_formed(Duration::from_secs(30));
        cluster
    }

    /// `cairn cluster status --json` through node `i`.
    pub fn status(&self, i: usize) -> Option<serde_json::Value> {
        let out = cairn(self.nodes[i].endpoint(), &["cluster", "status", "--json"]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Waits until every node sees every node registered, up, with a leader.
    pub fn wait_formed(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let ok = (0..self.nodes.len()).all(|i| {
                self.status(i).is_some_and(|s| {
                    let nodes = s["nodes"].as_array().cloned().unwrap_or_default();
                    s["leader"].is_u64()
                        && nodes.len() == self.nodes.len()
                        && nodes.iter().all(|n| n["online"].as_bool() == Some(true))
                })
            });
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "cluster did not form within {timeout:?}: {:?}", self.status(0));
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Index of the node that leads, as node `asking` sees it.
    pub fn leader(&self, asking: usize) -> Option<usize> {
        let s = self.status(asking)?;
        let leader = s["leader"].as_u64()?;
        let addr =
            s["nodes"].as_array()?.iter().find(|n| n["id"].as_u64() == Some(leader))?["addr"].as_str()?.to_string();
        self.node_addrs.iter().position(|a| *a == addr)
    }
}
