//! Mutual authentication with the cluster secret, bound to the TLS session.
//!
//! Both sides derive keying material from the TLS session (RFC 5705 exporter). The client opens
//! the connection's first bi-directional stream and sends `HMAC-SHA256(secret, "client" || ekm)`;
//! the server checks it and answers `HMAC-SHA256(secret, "server" || ekm)`, which the client
//! checks. The exporter output is unique to the session, so a proof cannot be replayed on another
//! connection, and neither side learns anything about the secret from the other's proof.

use super::error::{TransportError, code, connect_error};
use super::tls::{CONN_WINDOW, MAX_STREAMS};
use hmac::{Hmac, Mac};
use quinn::{Connection, ReadExactError, VarInt};
use sha2::Sha256;
use std::fmt;
use std::sync::Arc;

const EKM_LABEL: &[u8] = b"cairn-peer-auth";
const EKM_LEN: usize = 32;
const PROOF_LEN: usize = 32;
const CLIENT: &[u8] = b"client";
const SERVER: &[u8] = b"server";

type HmacSha256 = Hmac<Sha256>;

/// The cluster secret. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(Arc<[u8]>);

impl Secret {
    /// `None` for an absent or empty secret (an empty HMAC key would authenticate anyone).
    pub(crate) fn new(secret: Option<Vec<u8>>) -> Option<Secret> {
        secret.filter(|s| !s.is_empty()).map(|s| Secret(s.into()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

fn keying_material(conn: &Connection) -> Option<[u8; EKM_LEN]> {
    let mut ekm = [0u8; EKM_LEN];
    conn.export_keying_material(&mut ekm, EKM_LABEL, b"").ok()?;
    Some(ekm)
}

fn mac(secret: &Secret, role: &[u8], ekm: &[u8]) -> Option<HmacSha256> {
    // HMAC takes keys of any length; this cannot fail, but is not unwrapped either.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(&secret.0).ok()?;
    mac.update(role);
    mac.update(ekm);
    Some(mac)
}

fn proof(secret: &Secret, role: &[u8], ekm: &[u8]) -> Option<[u8; PROOF_LEN]> {
    Some(mac(secret, role, ekm)?.finalize().into_bytes().into())
}

/// Constant-time check of a peer's proof.
fn verify(secret: &Secret, role: &[u8], ekm: &[u8], proof: &[u8]) -> bool {
    mac(secret, role, ekm).is_some_and(|m| m.verify_slice(proof).is_ok())
}

fn reject(conn: &Connection) {
    conn.close(code::AUTH_FAILED, b"authentication failed");
}

fn read_error(peer: &str, e: ReadExactError) -> TransportError {
    match e {
        ReadExactError::FinishedEarly(_) => {
            TransportError::Auth { peer: peer.into(), reason: "peer ended the proof early" }
        }
        ReadExactError::ReadError(quinn::ReadError::ConnectionLost(e)) => connect_error(peer, &e),
        ReadExactError::ReadError(_) => {
            TransportError::Auth { peer: peer.into(), reason: "peer reset the proof stream" }
        }
    }
}

fn internal(peer: &str) -> TransportError {
    TransportError::Auth { peer: peer.into(), reason: "cannot derive keying material from the TLS session" }
}

/// Client half: proves the secret, then checks the server's proof. On failure the connection is
/// closed (by us or by the server) and the error says which side refused.
pub(crate) async fn client(conn: &Connection, secret: &Secret, peer: &str) -> Result<(), TransportError> {
    let Some(ekm) = keying_material(conn) else {
        reject(conn);
        return Err(internal(peer));
    };
    let Some(ours) = proof(secret, CLIENT, &ekm) else {
        reject(conn);
        return Err(internal(peer));
    };
    let (mut send, mut recv) = conn.open_bi().await.map_err(|e| connect_error(peer, &e))?;
    if let Err(e) = send.write_all(&ours).await {
        return Err(match e {
            quinn::WriteError::ConnectionLost(e) => connect_error(peer, &e),
            _ => TransportError::Auth { peer: peer.into(), reason: "peer stopped the proof stream" },
        });
    }
    let _ = send.finish();
    let mut theirs = [0u8; PROOF_LEN];
    recv.read_exact(&mut theirs).await.map_err(|e| read_error(peer, e))?;
    if !verify(secret, SERVER, &ekm, &theirs) {
        reject(conn);
        return Err(TransportError::Auth { peer: peer.into(), reason: "peer failed to prove the cluster secret" });
    }
    Ok(())
}

/// Server half: reads and checks the client's proof on the connection's first stream; on success
/// lifts the pre-authentication limits and answers with our proof. On failure the connection is
/// closed with [`code::AUTH_FAILED`].
pub(crate) async fn server(conn: &Connection, secret: &Secret) -> Result<(), TransportError> {
    let peer = conn.remote_address().to_string();
    let Some(ekm) = keying_material(conn) else {
        reject(conn);
        return Err(internal(&peer));
    };
    let (mut send, mut recv) = conn.accept_bi().await.map_err(|e| connect_error(&peer, &e))?;
    let mut theirs = [0u8; PROOF_LEN];
    if let Err(e) = recv.read_exact(&mut theirs).await {
        reject(conn);
        return Err(read_error(&peer, e));
    }
    if !verify(secret, CLIENT, &ekm, &theirs) {
        reject(conn);
        return Err(TransportError::Auth { peer, reason: "peer failed to prove the cluster secret" });
    }
    let Some(ours) = proof(secret, SERVER, &ekm) else {
        reject(conn);
        return Err(internal(&peer));
    };
    conn.set_max_concurrent_bi_streams(VarInt::from_u32(MAX_STREAMS));
    conn.set_receive_window(VarInt::from_u32(CONN_WINDOW));
    send.write_all(&ours).await.map_err(TransportError::from)?;
    let _ = send.finish();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tls;
    use std::net::SocketAddr;

    fn secret(s: &[u8]) -> Secret {
        Secret(s.into())
    }

    #[test]
    fn proofs_are_role_and_secret_bound() {
        let ekm = [7u8; EKM_LEN];
        let s = secret(b"cluster secret");
        let Some(p) = proof(&s, CLIENT, &ekm) else { panic!("no proof") };
        assert!(verify(&s, CLIENT, &ekm, &p));
        assert!(!verify(&s, SERVER, &ekm, &p), "a client proof must not pass as a server proof");
        assert!(!verify(&secret(b"other secret"), CLIENT, &ekm, &p));
        assert!(!verify(&s, CLIENT, &[8u8; EKM_LEN], &p), "proof bound to the session");
        assert!(!verify(&s, CLIENT, &ekm, &p[..31]));
        assert!(Secret::new(Some(Vec::new())).is_none());
        assert_eq!(format!("{:?}", s), "Secret(<redacted>)");
    }

    /// A server that does not know the secret but answers anyway (reading the client's proof and
    /// sending garbage) must be refused by the client.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn client_refuses_a_server_that_cannot_prove_the_secret() -> anyhow::Result<()> {
        let server = quinn::Endpoint::server(tls::server_config()?, SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = server.local_addr()?;
        let impostor = tokio::spawn(async move {
            let conn = server.accept().await?.await.ok()?;
            let (mut send, mut recv) = conn.accept_bi().await.ok()?;
            let mut buf = [0u8; PROOF_LEN];
            recv.read_exact(&mut buf).await.ok()?;
            send.write_all(&[0x55; PROOF_LEN]).await.ok()?;
            let _ = send.finish();
            Some(conn.closed().await)
        });
        let mut client = quinn::Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        client.set_default_client_config(tls::client_config()?);
        let conn = client.connect(addr, tls::SERVER_NAME)?.await?;
        let res = super::client(&conn, &secret(b"right"), &addr.to_string()).await;
        match res {
            Err(TransportError::Auth { reason, .. }) => assert_eq!(reason, "peer failed to prove the cluster secret"),
            other => panic!("expected an authentication error, got {other:?}"),
        }
        // The client closed the connection with the authentication failure code.
        match impostor.await? {
            Some(quinn::ConnectionError::ApplicationClosed(c)) => assert_eq!(c.error_code, code::AUTH_FAILED),
            other => panic!("impostor saw {other:?}"),
        }
        Ok(())
    }
}
