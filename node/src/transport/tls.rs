//! TLS 1.3 and QUIC configuration of the internode endpoint.
//!
//! Every process presents a fresh self-signed certificate. Clients accept any certificate (but
//! still check the handshake signatures): peers are authenticated by the cluster secret, bound to
//! the TLS session (see `auth.rs`), not by a PKI.

use anyhow::Context;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{IdleTimeout, TransportConfig, VarInt};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use std::time::Duration;

/// ALPN protocol of the internode transport.
pub(crate) const ALPN: &[u8] = b"cairn/1";
/// Name put in the certificate and sent as SNI (not verified).
pub(crate) const SERVER_NAME: &str = "cairn-node";

/// Keep-alive interval: a silent peer is noticed after [`IDLE_TIMEOUT`].
pub(crate) const KEEP_ALIVE: Duration = Duration::from_millis(500);
/// A connection without any packet from the peer for this long is dead.
pub(crate) const IDLE_TIMEOUT_MS: u32 = 3_000;
/// Per-stream receive window (flow control credit for one stream).
pub(crate) const STREAM_WINDOW: u32 = 8 << 20;
/// Per-connection receive window (all streams together), once authenticated.
pub(crate) const CONN_WINDOW: u32 = 32 << 20;
/// Per-connection send buffer.
pub(crate) const SEND_WINDOW: u64 = 32 << 20;
/// Concurrent bi-directional streams a peer may open, once authenticated.
pub(crate) const MAX_STREAMS: u32 = 1024;
/// Receive window granted to a connection before it has authenticated: enough for the proof,
/// small enough that an unauthenticated peer cannot make us buffer much.
pub(crate) const PRE_AUTH_WINDOW: u32 = 16 << 10;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Transport parameters shared by both sides.
fn transport_config(max_bidi: u32, receive_window: u32) -> TransportConfig {
    let mut t = TransportConfig::default();
    t.keep_alive_interval(Some(KEEP_ALIVE))
        .max_idle_timeout(Some(IdleTimeout::from(VarInt::from_u32(IDLE_TIMEOUT_MS))))
        .stream_receive_window(VarInt::from_u32(STREAM_WINDOW))
        .receive_window(VarInt::from_u32(receive_window))
        .send_window(SEND_WINDOW)
        .max_concurrent_bidi_streams(VarInt::from_u32(max_bidi))
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        .datagram_receive_buffer_size(None);
    t
}

/// Server side: a fresh self-signed certificate; one stream (the authentication stream) and a
/// small window until the peer has authenticated (then raised per connection).
pub(crate) fn server_config() -> anyhow::Result<quinn::ServerConfig> {
    let certified = rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_string()])
        .context("generating the transport's self-signed certificate")?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("TLS 1.3 with the ring provider")?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .context("loading the transport certificate")?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = QuicServerConfig::try_from(tls).context("QUIC server TLS configuration")?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport_config(1, PRE_AUTH_WINDOW)));
    // Peers have fixed addresses; refusing migration narrows what a stranger can do.
    config.migration(false);
    Ok(config)
}

/// Client side: any server certificate is accepted (authentication is the cluster secret), the
/// server may not open streams towards us.
pub(crate) fn client_config() -> anyhow::Result<quinn::ClientConfig> {
    let provider = provider();
    let verifier = Arc::new(AnyCertificate { algorithms: provider.signature_verification_algorithms });
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("TLS 1.3 with the ring provider")?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = QuicClientConfig::try_from(tls).context("QUIC client TLS configuration")?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(transport_config(0, CONN_WINDOW)));
    Ok(config)
}

/// Accepts any server certificate, but verifies that the server holds its key (the handshake
/// signatures), using the ring provider's algorithms.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
