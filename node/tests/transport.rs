//! Internode transport over real UDP sockets on 127.0.0.1.

use bytes::Bytes;
use cairn_node::transport::{Handler, MAX_FRAME, PeerStream, Transport, TransportError};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BLOCK: usize = 256 << 10;
const BLOCKS: usize = 64;

/// Echoes `"<name>:<request>"` for one-frame requests. A first frame `sum` switches to checksum
/// mode: every following frame is hashed, and the answer is SHA-256 of them all followed by the
/// frame count (u32 BE).
struct TestHandler {
    name: &'static str,
    calls: AtomicUsize,
    connections: Mutex<HashSet<usize>>,
    peers: Mutex<HashSet<SocketAddr>>,
}

impl TestHandler {
    fn new(name: &'static str) -> Arc<TestHandler> {
        Arc::new(TestHandler {
            name,
            calls: AtomicUsize::new(0),
            connections: Mutex::new(HashSet::new()),
            peers: Mutex::new(HashSet::new()),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Handler for TestHandler {
    async fn serve(&self, peer: SocketAddr, mut stream: PeerStream) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.peers.lock().unwrap().insert(peer);
        self.connections.lock().unwrap().insert(stream.connection_id());
        let Ok(Some(first)) = stream.recv_frame().await else { return };
        let response = if &first[..] == b"sum" {
            let mut hash = Sha256::new();
            let mut count = 0u32;
            loop {
                match stream.recv_frame().await {
                    Ok(Some(frame)) => {
                        hash.update(&frame);
                        count += 1;
                    }
                    Ok(None) => break,
                    Err(_) => return,
                }
            }
            let mut out = hash.finalize().to_vec();
            out.extend_from_slice(&count.to_be_bytes());
            out
        } else if &first[..] == b"slow" {
            // Reads nothing for a while: what the client sends meanwhile sits in flow control
            // credit. Answers the total size of the following frames.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let mut total = 0u64;
            loop {
                match stream.recv_frame().await {
                    Ok(Some(frame)) => total += frame.len() as u64,
                    Ok(None) => break,
                    Err(_) => return,
                }
            }
            total.to_be_bytes().to_vec()
        } else {
            let mut out = format!("{}:", self.name).into_bytes();
            out.extend_from_slice(&first);
            out
        };
        if stream.send_frame(&response).await.is_ok() {
            let _ = stream.finish().await;
        }
    }
}

fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn node(name: &'static str, secret: Option<&[u8]>) -> (Transport, Arc<TestHandler>, String) {
    node_on(localhost(), name, secret).await
}

async fn node_on(
    listen: SocketAddr,
    name: &'static str,
    secret: Option<&[u8]>,
) -> (Transport, Arc<TestHandler>, String) {
    let handler = TestHandler::new(name);
    let transport = Transport::bind(listen, secret.map(<[u8]>::to_vec), handler.clone()).await.unwrap();
    let addr = transport.local_addr().to_string();
    (transport, handler, addr)
}

/// Bounds every test so that a hang fails instead of blocking the suite.
async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test).await.expect("test timed out");
}

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unary_echo_both_directions() {
    bounded(async {
        let (a, a_handler, a_addr) = node("A", Some(b"s3cret")).await;
        let (b, b_handler, b_addr) = node("B", Some(b"s3cret")).await;
        assert_eq!(&a.call(&b_addr, b"ping").await.unwrap()[..], b"B:ping");
        assert_eq!(&b.call(&a_addr, b"pong").await.unwrap()[..], b"A:pong");
        // An empty request and an empty frame round-trip too.
        assert_eq!(&a.call(&b_addr, b"").await.unwrap()[..], b"B:");
        assert_eq!((a_handler.calls(), b_handler.calls()), (1, 2));
        a.close().await;
        b.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_stream_and_concurrent_calls() {
    bounded(async {
        let (server, handler, addr) = node("S", Some(b"s3cret")).await;
        let (client, _, _) = node("C", Some(b"s3cret")).await;

        // 16 concurrent calls on a cold pool: one connection, shared.
        let calls = (0..16).map(|i| {
            let client = client.clone();
            let addr = addr.clone();
            tokio::spawn(async move { (i, client.call(&addr, format!("req{i}").as_bytes()).await) })
        });
        for call in calls {
            let (i, response) = call.await.unwrap();
            assert_eq!(response.unwrap(), Bytes::from(format!("S:req{i}")));
        }
        assert_eq!(handler.calls(), 16);
        assert_eq!(handler.connections.lock().unwrap().len(), 1, "concurrent callers must share one connection");
        assert!(client.is_connected(&addr));

        // 64 frames of 256 KiB on one stream, checksummed by the server.
        let mut expected = Sha256::new();
        let started = Instant::now();
        let mut stream = client.open(&addr).await.unwrap();
        stream.send_frame(b"sum").await.unwrap();
        for i in 0..BLOCKS {
            let block = pattern(i as u64 + 1, BLOCK);
            expected.update(&block);
            if i % 2 == 0 {
                stream.send_frame(&block).await.unwrap();
            } else {
                stream.send_frame_bytes(Bytes::from(block)).await.unwrap();
            }
        }
        stream.finish().await.unwrap();
        let response = stream.recv_frame().await.unwrap().expect("a checksum response");
        let elapsed = started.elapsed();
        assert_eq!(&response[..32], &expected.finalize()[..], "checksum of the received frames");
        assert_eq!(&response[32..], &(BLOCKS as u32).to_be_bytes());
        assert_eq!(stream.recv_frame().await.unwrap(), None, "clean end after the response");
        let mib = (BLOCKS * BLOCK) as f64 / (1 << 20) as f64;
        eprintln!("bulk: {mib} MiB in {elapsed:?} ({:.0} MiB/s, debug build)", mib / elapsed.as_secs_f64());
        assert_eq!(handler.connections.lock().unwrap().len(), 1, "the bulk stream reused the connection");

        // Authenticated connections get large flow control windows: 4 MiB are accepted while
        // the handler is not reading yet (before authentication, only a few KiB would be).
        let mut stream = client.open(&addr).await.unwrap();
        stream.send_frame(b"slow").await.unwrap();
        let started = Instant::now();
        tokio::time::timeout(Duration::from_millis(1000), stream.send_frame(&vec![7u8; 4 << 20]))
            .await
            .expect("4 MiB fit in the peer's receive window")
            .unwrap();
        eprintln!("4 MiB buffered by flow control in {:?}", started.elapsed());
        stream.finish().await.unwrap();
        let total = stream.recv_frame().await.unwrap().expect("a size response");
        assert_eq!(&total[..], &(4u64 << 20).to_be_bytes());

        // Frames over the limit are refused before anything is sent.
        let mut stream = client.open(&addr).await.unwrap();
        match stream.send_frame(&vec![0u8; MAX_FRAME + 1]).await {
            Err(TransportError::FrameTooLarge { len, max }) => assert_eq!((len, max), (MAX_FRAME + 1, MAX_FRAME)),
            other => panic!("expected FrameTooLarge, got {other:?}"),
        }
        client.close().await;
        server.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_secret_is_refused() {
    bounded(async {
        let (server, server_handler, server_addr) = node("S", Some(b"right")).await;
        // A client with the wrong secret.
        let (intruder, intruder_handler, intruder_addr) = node("I", Some(b"wrong")).await;
        match intruder.call(&server_addr, b"hello").await {
            Err(TransportError::Auth { .. }) => {}
            other => panic!("expected an authentication error, got {other:?}"),
        }
        assert!(!intruder.is_connected(&server_addr));
        // A server with the wrong secret, seen by a client with the right one.
        match server.call(&intruder_addr, b"hello").await {
            Err(TransportError::Auth { .. }) => {}
            other => panic!("expected an authentication error, got {other:?}"),
        }
        assert!(!server.is_connected(&intruder_addr));

        // No secret: cannot call, and refuses incoming connections.
        let (lonely, lonely_handler, lonely_addr) = node("L", None).await;
        assert!(!lonely.has_secret());
        assert!(matches!(lonely.call(&server_addr, b"hello").await, Err(TransportError::NoSecret)));
        match server.call(&lonely_addr, b"hello").await {
            Err(TransportError::Refused { .. } | TransportError::Auth { .. }) => {}
            other => panic!("expected a refusal, got {other:?}"),
        }
        // An empty secret counts as none.
        lonely.set_secret(Some(Vec::new()));
        assert!(!lonely.has_secret());

        assert_eq!(server_handler.calls(), 0);
        assert_eq!(intruder_handler.calls(), 0);
        assert_eq!(lonely_handler.calls(), 0);
        // The server still serves a peer with the right secret.
        let (friend, _, _) = node("F", Some(b"right")).await;
        assert_eq!(&friend.call(&server_addr, b"hi").await.unwrap()[..], b"S:hi");
        assert_eq!(server_handler.calls(), 1);
        for t in [server, intruder, lonely, friend] {
            t.close().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_peer_restart() {
    bounded(async {
        let (server, _, addr) = node("old", Some(b"s3cret")).await;
        let (client, _, _) = node("C", Some(b"s3cret")).await;
        assert_eq!(&client.call(&addr, b"x").await.unwrap()[..], b"old:x");
        assert!(client.is_connected(&addr));
        let listen: SocketAddr = addr.parse().unwrap();
        server.close().await;

        let handler = TestHandler::new("new");
        let restarted = Transport::bind(listen, Some(b"s3cret".to_vec()), handler.clone())
            .await
            .expect("the port is free again once close() returns");
        let started = Instant::now();
        let response = loop {
            match client.call(&addr, b"y").await {
                Ok(response) => break response,
                Err(e) if started.elapsed() < Duration::from_secs(10) => {
                    eprintln!("call after restart failed (retrying): {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no reconnect within 10 s: {e}"),
            }
        };
        assert_eq!(&response[..], b"new:y");
        eprintln!("reconnected after {:?}", started.elapsed());
        assert_eq!(handler.calls(), 1);
        assert!(client.is_connected(&addr));
        client.close().await;
        restarted.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_peer_fails_fast() {
    bounded(async {
        let dead = {
            let socket = std::net::UdpSocket::bind(localhost()).unwrap();
            socket.local_addr().unwrap().to_string()
        };
        let (live, _, live_addr) = node("L", Some(b"s3cret")).await;
        let (client, _, _) = node("C", Some(b"s3cret")).await;
        // Eight concurrent callers share one connection attempt: all fail within one timeout.
        let started = Instant::now();
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let (client, dead) = (client.clone(), dead.clone());
                tokio::spawn(async move { client.call(&dead, b"anyone?").await })
            })
            .collect();
        for call in calls {
            let result = call.await.unwrap();
            assert!(result.is_err(), "nothing listens there");
            eprintln!("call to a dead port failed after {:?}: {:?}", started.elapsed(), result.err());
        }
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(5), "failed after {elapsed:?}");
        assert!(!client.is_connected(&dead));
        assert!(!client.is_connected(&live_addr), "no call yet");
        client.call(&live_addr, b"hi").await.unwrap();
        assert!(client.is_connected(&live_addr));
        // Closing the peer is noticed without any call.
        live.close().await;
        let started = Instant::now();
        while client.is_connected(&live_addr) {
            assert!(started.elapsed() < Duration::from_secs(5), "closed peer still reported connected");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Unresolvable names fail cleanly too.
        assert!(matches!(client.call("no-such-host.invalid:1", b"x").await, Err(TransportError::Connect { .. })));
        client.close().await;
        assert!(matches!(client.call(&live_addr, b"x").await, Err(TransportError::Closed(_))));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_secret_switches_authentication() {
    bounded(async {
        let (server, handler, addr) = node("S", Some(b"one")).await;
        let (client, _, client_addr) = node("C", Some(b"one")).await;
        assert_eq!(&client.call(&addr, b"a").await.unwrap()[..], b"S:a");

        client.set_secret(Some(b"two".to_vec()));
        assert!(!client.is_connected(&addr), "set_secret drops cached connections");
        match client.call(&addr, b"b").await {
            Err(TransportError::Auth { .. }) => {}
            other => panic!("expected an authentication error, got {other:?}"),
        }
        client.set_secret(Some(b"one".to_vec()));
        assert_eq!(&client.call(&addr, b"c").await.unwrap()[..], b"S:c");
        assert_eq!(handler.calls(), 2);

        // Setting the same secret again keeps the connection.
        client.set_secret(Some(b"one".to_vec()));
        assert!(client.is_connected(&addr));

        // The server side changing its secret drops the connections it accepted.
        server.set_secret(Some(b"three".to_vec()));
        let started = Instant::now();
        while client.is_connected(&addr) {
            assert!(started.elapsed() < Duration::from_secs(2), "server kept the old-secret connection");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(matches!(client.call(&addr, b"d").await, Err(TransportError::Auth { .. })));
        // And removing the secret refuses everyone.
        server.set_secret(None);
        assert!(!server.has_secret());
        assert!(matches!(server.call(&client_addr, b"e").await, Err(TransportError::NoSecret)));
        client.close().await;
        server.close().await;
    })
    .await;
}

/// A peer that dies without closing its connections (its runtime is dropped, no
/// CONNECTION_CLOSE is sent) and comes back on the same port: the stale cached connection is
/// noticed by the idle timeout and replaced.
#[test]
fn reconnects_after_peer_crash() {
    let runtime =
        |threads| tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build().unwrap();
    let main = runtime(2);
    let doomed = runtime(1);
    let (server, _, addr) = doomed.block_on(node("old", Some(b"s3cret")));
    let client = main.block_on(async {
        let (client, _, _) = node("C", Some(b"s3cret")).await;
        assert_eq!(&client.call(&addr, b"x").await.unwrap()[..], b"old:x");
        client
    });
    // Crash: the endpoint's tasks vanish without telling the client.
    drop(doomed);
    drop(server);
    main.block_on(bounded(async {
        let listen: SocketAddr = addr.parse().unwrap();
        let started = Instant::now();
        let handler = TestHandler::new("new");
        let restarted = loop {
            match Transport::bind(listen, Some(b"s3cret".to_vec()), handler.clone()).await {
                Ok(t) => break t,
                Err(e) => {
                    assert!(started.elapsed() < Duration::from_secs(2), "port not released: {e:#}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        };
        let started = Instant::now();
        let mut failures = 0;
        let response = loop {
            match client.call(&addr, b"y").await {
                Ok(response) => break response,
                Err(e) => {
                    assert!(started.elapsed() < Duration::from_secs(10), "no reconnect within 10 s: {e}");
                    failures += 1;
                }
            }
        };
        let elapsed = started.elapsed();
        eprintln!("reconnected after a crash in {elapsed:?} ({failures} failed calls)");
        assert_eq!(&response[..], b"new:y");
        assert!(failures <= 1, "one call may fail on the stale connection, then it is replaced");
        assert!(elapsed < Duration::from_secs(5), "stale connection noticed by the 3 s idle timeout");
        client.close().await;
        restarted.close().await;
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_and_dual_stack() {
    bounded(async {
        if std::net::UdpSocket::bind("[::1]:0").is_err() {
            eprintln!("no IPv6 loopback here; skipping");
            return;
        }
        let secret = Some(&b"s3cret"[..]);
        let (v4, v4_handler, v4_addr) = node("V4", secret).await;
        let (v6, _, v6_addr) = node_on("[::1]:0".parse().unwrap(), "V6", secret).await;
        let (dual, dual_handler, _) = node_on("[::]:0".parse().unwrap(), "D", secret).await;
        assert!(v6_addr.starts_with("[::1]:"), "{v6_addr}");

        // A dual-stack node reaches IPv6 and IPv4 peers.
        assert_eq!(&dual.call(&v6_addr, b"a").await.unwrap()[..], b"V6:a");
        assert_eq!(&dual.call(&v4_addr, b"b").await.unwrap()[..], b"V4:b");
        // An IPv4 node cannot reach an IPv6 address, and says so.
        assert!(matches!(v4.call(&v6_addr, b"c").await, Err(TransportError::Connect { .. })));
        // Names resolve; an IPv4 node picks the IPv4 address of `localhost`.
        let dual_port = dual.local_addr().port();
        assert_eq!(&v4.call(&format!("localhost:{dual_port}"), b"d").await.unwrap()[..], b"D:d");
        // IPv4 peers of a dual-stack node are reported as plain IPv4 addresses.
        let peers = dual_handler.peers.lock().unwrap().clone();
        assert_eq!(peers, HashSet::from([v4.local_addr()]), "dual-stack server saw {peers:?}");
        assert_eq!(v4_handler.peers.lock().unwrap().len(), 1);
        for t in [v4, v6, dual] {
            t.close().await;
        }
    })
    .await;
}
