//! Internode transport: one QUIC endpoint per node (server and client on one UDP socket) carrying
//! Raft RPCs and shard streams between peers.
//!
//! Bytes-level: callers exchange length-prefixed frames over bi-directional streams
//! ([`PeerStream`]) and know nothing of QUIC. Every connection is TLS 1.3 (ALPN `cairn/1`) and is
//! mutually authenticated with the cluster secret, bound to the TLS session (see `auth.rs`),
//! before any stream reaches a [`Handler`]. Outgoing connections are cached, one per peer.
//!
//! The one place that touches the internode socket (UDP, quinn). Knows nothing of what the
//! bytes mean: the protocol is `crate::peer`'s, and this module is also public so that tests
//! can drive it with handlers of their own.

mod auth;
mod error;
mod frame;
mod pool;
mod tls;

pub use error::TransportError;
pub use frame::{MAX_FRAME, PeerStream};

use anyhow::Context;
use auth::Secret;
use error::{code, connect_error, connection_error, describe};
use pool::{Pool, lock};
use quinn::{Connecting, Connection, Endpoint, EndpointConfig};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Budget for resolving, connecting to and authenticating with a peer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// An incoming connection that has not authenticated within this time is dropped.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(5);
/// Requested UDP socket buffer size (each direction).
const SOCKET_BUFFER: usize = 4 << 20;
/// Incoming connections allowed to be handshaking or authenticating at once; more are refused.
const MAX_PENDING_AUTH: usize = 256;
/// How long [`Transport::close`] waits for connections to be closed cleanly.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Serves the streams that authenticated peers open to this node.
#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Serves one bi-directional stream opened by an authenticated peer. `peer` is the remote UDP
    /// address.
    async fn serve(&self, peer: SocketAddr, stream: PeerStream);
}

/// The node's QUIC endpoint. Cheap to clone; all clones share the endpoint and the connections.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` once closed.
    endpoint: Mutex<Option<Endpoint>>,
    local_addr: SocketAddr,
    secret: watch::Sender<Option<Secret>>,
    pool: Pool,
    closed: AtomicBool,
    accept_task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone without `close`: stop the accept loop, which holds its own
        // endpoint handle.
        if let Some(endpoint) = lock(&self.endpoint).take() {
            endpoint.close(code::SHUTDOWN, b"shutdown");
        }
    }
}

impl Transport {
    /// Binds the endpoint (server + client on one UDP socket). `secret` None = no cluster yet:
    /// every incoming connection is refused and outgoing calls fail with
    /// [`TransportError::NoSecret`]. An empty secret counts as none.
    pub async fn bind(
        listen: SocketAddr,
        secret: Option<Vec<u8>>,
        handler: Arc<dyn Handler>,
    ) -> anyhow::Result<Transport> {
        let socket = bind_socket(listen).with_context(|| format!("binding the internode endpoint on {listen}"))?;
        let mut endpoint = Endpoint::new(
            EndpointConfig::default(),
            Some(tls::server_config()?),
            socket,
            Arc::new(quinn::TokioRuntime),
        )
        .context("starting the internode endpoint")?;
        endpoint.set_default_client_config(tls::client_config()?);
        let local_addr = endpoint.local_addr().context("reading the internode endpoint's address")?;
        let (secret, secret_rx) = watch::channel(Secret::new(secret));
        let accept_task = tokio::spawn(accept_loop(endpoint.clone(), secret_rx, handler));
        tracing::debug!(%local_addr, "internode transport listening");
        Ok(Transport {
            inner: Arc::new(Inner {
                endpoint: Mutex::new(Some(endpoint)),
                local_addr,
                secret,
                pool: Pool::default(),
                closed: AtomicBool::new(false),
                accept_task: Mutex::new(Some(accept_task)),
            }),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Replaces the cluster secret (used by `cluster init` / `join`). If it changed, every
    /// connection, cached outgoing and accepted incoming, is closed: they were authenticated with
    /// the old secret. Setting the same secret again is a no-op.
    pub fn set_secret(&self, secret: Option<Vec<u8>>) {
        let new = Secret::new(secret);
        let changed = self.inner.secret.send_if_modified(|current| {
            if *current == new {
                return false;
            }
            *current = new;
            true
        });
        if changed {
            tracing::info!(has_secret = self.has_secret(), "internode cluster secret replaced; dropping connections");
            self.inner.pool.close_all(code::SECRET_CHANGED, b"cluster secret changed");
        }
    }

    pub fn has_secret(&self) -> bool {
        self.inner.secret.borrow().is_some()
    }

    /// Opens a new bi-directional stream to `peer` (`host:port`, IPv4 or IPv6), reusing the
    /// cached authenticated connection to it or connecting (and authenticating) anew. A dead
    /// cached connection is replaced transparently (one reconnect attempt).
    ///
    /// Connections are cached by the `peer` string as given: use one spelling per peer.
    pub async fn open(&self, peer: &str) -> Result<PeerStream, TransportError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(TransportError::Closed("transport closed".into()));
        }
        let secret = self.inner.secret.borrow().clone().ok_or(TransportError::NoSecret)?;
        let slot = self.inner.pool.slot(peer);
        let mut retried = false;
        loop {
            let (conn, fresh) = slot.get_or_connect(|| self.connect(peer, secret.clone())).await?;
            match conn.open_bi().await {
                Ok((send, recv)) => return Ok(PeerStream::new(send, recv, conn.stable_id())),
                Err(e) => {
                    slot.invalidate(&conn);
                    if fresh || retried {
                        return Err(connection_error(&e));
                    }
                    tracing::debug!(peer, reason = %describe(&e), "cached connection is dead; reconnecting");
                    retried = true;
                }
            }
        }
    }

    /// Unary RPC: opens a stream, sends `request` as one frame, finishes, and reads one response
    /// frame.
    pub async fn call(&self, peer: &str, request: &[u8]) -> Result<bytes::Bytes, TransportError> {
        let mut stream = self.open(peer).await?;
        stream.send_frame(request).await?;
        stream.finish().await?;
        stream.recv_frame().await?.ok_or(TransportError::Protocol("peer ended the stream without a response"))
    }

    /// Whether an authenticated connection to `peer` is currently open (no I/O). A peer that
    /// died is reported connected until the idle timeout (3 s) notices.
    pub fn is_connected(&self, peer: &str) -> bool {
        self.inner.pool.get(peer).is_some_and(|slot| slot.live().is_some())
    }

    /// Closes the endpoint: stops accepting, closes every connection, waits (briefly) for peers
    /// to be told, and releases the UDP port. Later calls fail with [`TransportError::Closed`].
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let endpoint = lock(&self.inner.endpoint).take();
        self.inner.pool.close_all(code::SHUTDOWN, b"shutdown");
        if let Some(endpoint) = endpoint {
            endpoint.close(code::SHUTDOWN, b"shutdown");
            let _ = tokio::time::timeout(CLOSE_GRACE, endpoint.wait_idle()).await;
        }
        let accept_task = lock(&self.inner.accept_task).take();
        if let Some(task) = accept_task {
            let _ = tokio::time::timeout(CLOSE_GRACE, task).await;
            // quinn's endpoint driver task drops the socket shortly after the last endpoint
            // handle is gone; wait for that so that a restart can bind the port right away.
            wait_port_released(self.inner.local_addr).await;
        }
        tracing::debug!(local_addr = %self.inner.local_addr, "internode transport closed");
    }

    /// Resolves, connects and authenticates, within [`CONNECT_TIMEOUT`].
    async fn connect(&self, peer: &str, secret: Secret) -> Result<Connection, TransportError> {
        let endpoint =
            lock(&self.inner.endpoint).clone().ok_or_else(|| TransportError::Closed("transport closed".into()))?;
        let ipv6 = self.inner.local_addr.is_ipv6();
        let attempt = async {
            let addr = resolve(peer, ipv6).await?;
            let connecting = endpoint
                .connect(addr, tls::SERVER_NAME)
                .map_err(|e| TransportError::Connect { peer: peer.to_string(), reason: e.to_string() })?;
            let conn = connecting.await.map_err(|e| connect_error(peer, &e))?;
            auth::client(&conn, &secret, peer).await?;
            Ok::<_, TransportError>(conn)
        };
        let conn = match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                tracing::debug!(peer, error = %e, "connecting to peer failed");
                return Err(e);
            }
            Err(_) => {
                tracing::debug!(peer, "connecting to peer timed out");
                return Err(TransportError::Timeout { peer: peer.to_string() });
            }
        };
        // The secret may have been replaced while we were connecting with the old one.
        let current = self.inner.secret.borrow().clone();
        if current.as_ref() != Some(&secret) {
            conn.close(code::SECRET_CHANGED, b"cluster secret changed");
            return Err(match current {
                None => TransportError::NoSecret,
                Some(_) => {
                    TransportError::Auth { peer: peer.to_string(), reason: "cluster secret changed while connecting" }
                }
            });
        }
        tracing::debug!(peer, remote = %conn.remote_address(), "connected to peer");
        Ok(conn)
    }
}

/// Binds the UDP socket, with kernel buffers large enough for bulk transfers (best effort: the
/// kernel caps them at `net.core.rmem_max` / `wmem_max`).
fn bind_socket(listen: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let socket = std::net::UdpSocket::bind(listen)?;
    let state = quinn::udp::UdpSocketState::new((&socket).into())?;
    for (what, result) in [
        ("receive", state.set_recv_buffer_size((&socket).into(), SOCKET_BUFFER)),
        ("send", state.set_send_buffer_size((&socket).into(), SOCKET_BUFFER)),
    ] {
        if let Err(e) = result {
            tracing::debug!(error = %e, "cannot enlarge the internode socket's {what} buffer");
        }
    }
    Ok(socket)
}

/// Waits (at most [`CLOSE_GRACE`]) until `addr` can be bound again.
async fn wait_port_released(addr: SocketAddr) {
    let deadline = Instant::now() + CLOSE_GRACE;
    loop {
        match std::net::UdpSocket::bind(addr) {
            Ok(_probe) => return,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(_) => return,
        }
    }
}

/// Resolves `peer` to an address the endpoint's socket can reach.
async fn resolve(peer: &str, ipv6_socket: bool) -> Result<SocketAddr, TransportError> {
    let unreachable = |reason: String| TransportError::Connect { peer: peer.to_string(), reason };
    let mut addrs = tokio::net::lookup_host(peer).await.map_err(|e| unreachable(format!("cannot resolve: {e}")))?;
    // An IPv6 socket is dual-stack (IPv4 peers are reached through mapped addresses); an IPv4
    // socket reaches IPv4 peers only.
    addrs.find(|a| ipv6_socket || a.is_ipv4()).ok_or_else(|| unreachable("no address of a reachable family".into()))
}

/// IPv4 peers seen through a dual-stack socket, as plain IPv4 addresses.
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

async fn accept_loop(endpoint: Endpoint, secret: watch::Receiver<Option<Secret>>, handler: Arc<dyn Handler>) {
    let pending = Arc::new(Semaphore::new(MAX_PENDING_AUTH));
    while let Some(incoming) = endpoint.accept().await {
        if secret.borrow().is_none() {
            tracing::debug!(peer = %incoming.remote_address(), "refusing connection: no cluster secret");
            incoming.refuse();
            continue;
        }
        let Ok(permit) = pending.clone().try_acquire_owned() else {
            tracing::warn!(peer = %incoming.remote_address(), "refusing connection: too many unauthenticated connections");
            incoming.refuse();
            continue;
        };
        match incoming.accept() {
            Ok(connecting) => {
                tokio::spawn(serve_connection(connecting, permit, secret.clone(), handler.clone()));
            }
            Err(e) => tracing::debug!(error = %e, "incoming connection failed"),
        }
    }
}

/// Authenticates one incoming connection, then hands each stream it opens to the handler.
async fn serve_connection(
    connecting: Connecting,
    pending: OwnedSemaphorePermit,
    mut secret_rx: watch::Receiver<Option<Secret>>,
    handler: Arc<dyn Handler>,
) {
    let peer = canonical(connecting.remote_address());
    let Some(secret) = secret_rx.borrow_and_update().clone() else {
        return;
    };
    let deadline = Instant::now() + AUTH_TIMEOUT;
    let conn = match tokio::time::timeout_at(deadline, connecting).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            tracing::debug!(%peer, reason = %describe(&e), "incoming handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "incoming handshake timed out");
            return;
        }
    };
    match tokio::time::timeout_at(deadline, auth::server(&conn, &secret)).await {
        Ok(Ok(())) => tracing::debug!(%peer, "peer authenticated"),
        Ok(Err(e)) => {
            tracing::warn!(%peer, error = %e, "rejected an internode connection");
            return;
        }
        Err(_) => {
            tracing::warn!(%peer, "internode connection did not authenticate in time");
            conn.close(code::AUTH_TIMEOUT, b"authentication timed out");
            return;
        }
    }
    drop(pending);
    loop {
        tokio::select! {
            accepted = conn.accept_bi() => match accepted {
                Ok((send, recv)) => {
                    let handler = handler.clone();
                    let stream = PeerStream::new(send, recv, conn.stable_id());
                    tokio::spawn(async move { handler.serve(peer, stream).await });
                }
                Err(e) => {
                    tracing::debug!(%peer, reason = %describe(&e), "peer connection ended");
                    return;
                }
            },
            changed = secret_rx.changed() => {
                let (code, reason): (_, &[u8]) = match changed {
                    Ok(()) => (code::SECRET_CHANGED, b"cluster secret changed"),
                    Err(_) => (code::SHUTDOWN, b"shutdown"),
                };
                conn.close(code, reason);
                return;
            }
        }
    }
}
