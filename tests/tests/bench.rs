//! `cairn bench` against a real node: what bounds a run, and the output saying which did.

use cairn_tests::cluster::{cairn, stderr, stdout};
use cairn_tests::*;
use std::time::{Duration, Instant};

#[test]
fn a_duration_alone_bounds_the_run_and_the_output_says_what_ended_it() {
    let node = TestNode::start();
    let base = ["bench", "--op", "put", "--size", "1KiB", "--concurrency", "2", "--bucket", "bench-e2e"];

    // A duration alone: the run lasts that long (not cut short by a default count).
    let started = Instant::now();
    let out = cairn(node.endpoint(), &[&base[..], &["--duration", "1500ms", "--json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("JSON");
    assert_eq!(v["ended_by"], "duration", "{v}");
    let secs = v["seconds"].as_f64().unwrap();
    assert!((1.5..15.0).contains(&secs), "{v}");
    assert!(v["results"][0]["ops"].as_u64().unwrap() > 0, "{v}");
    assert!(started.elapsed() < Duration::from_secs(30));

    // Both: whichever comes first, here the count.
    let out = cairn(node.endpoint(), &[&base[..], &["--duration", "1m", "--count", "5"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("ended by --count 5"), "{text}");
    let put = text.lines().find(|l| l.starts_with("put ")).unwrap_or_else(|| panic!("no put row: {text}"));
    assert_eq!(put.split_whitespace().nth(1), Some("5"), "{text}");

    // A bad duration is refused before anything runs.
    let out = cairn(node.endpoint(), &[&base[..], &["--duration", "soon"]].concat());
    assert!(!out.status.success() && stderr(&out).contains("soon"), "{}", stderr(&out));
}
