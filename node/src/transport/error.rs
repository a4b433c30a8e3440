//! The transport's error type and the mapping of quinn's errors onto it.

use quinn::{ConnectionError, ReadError, TransportErrorCode, VarInt, WriteError};
use std::sync::Arc;

/// Application error codes carried in QUIC `CONNECTION_CLOSE` frames.
pub(crate) mod code {
    use quinn::VarInt;

    /// The peer failed to prove knowledge of the cluster secret.
    pub const AUTH_FAILED: VarInt = VarInt::from_u32(1);
    /// The local cluster secret was replaced; connections made with the old one are dropped.
    pub const SECRET_CHANGED: VarInt = VarInt::from_u32(2);
    /// The endpoint is shutting down.
    pub const SHUTDOWN: VarInt = VarInt::from_u32(3);
    /// Authentication did not complete in time.
    pub const AUTH_TIMEOUT: VarInt = VarInt::from_u32(4);
}

/// Errors of the internode transport.
///
/// Cloneable so that the outcome of one connection attempt can be handed to every caller that
/// waited for it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// No cluster secret is configured: this node is not part of a cluster yet.
    #[error("no cluster secret is configured")]
    NoSecret,
    /// The peer could not be resolved or reached (the QUIC handshake failed).
    #[error("cannot connect to {peer}: {reason}")]
    Connect { peer: String, reason: String },
    /// Connecting and authenticating did not finish within the connect timeout.
    #[error("timed out connecting to {peer}")]
    Timeout { peer: String },
    /// The peer refused the connection (it has no cluster secret, or is shutting down).
    #[error("{peer} refused the connection (no cluster secret there, or shutting down)")]
    Refused { peer: String },
    /// Mutual authentication with the cluster secret failed: the peer rejected our proof, or
    /// could not prove that it knows the secret.
    #[error("authentication with {peer} failed: {reason}")]
    Auth { peer: String, reason: &'static str },
    /// The connection or stream is gone (peer closed it, timed out, or this transport was closed).
    #[error("connection closed: {0}")]
    Closed(String),
    /// The peer reset its sending side or stopped reading ours, with an application code.
    #[error("stream reset by the peer (code {0})")]
    Reset(u64),
    /// A frame larger than [`MAX_FRAME`](super::MAX_FRAME) was sent or announced.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge { len: usize, max: usize },
    /// The peer broke the framing (e.g. a stream ended inside a frame or without a response).
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// A local I/O error.
    #[error("i/o error: {0}")]
    Io(Arc<std::io::Error>),
}

impl From<std::io::Error> for TransportError {
    fn from(e: std::io::Error) -> Self {
        TransportError::Io(Arc::new(e))
    }
}

/// Human-readable description of why a connection ended.
pub(crate) fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ApplicationClosed(c) if c.error_code == code::SHUTDOWN => "peer shut down".into(),
        ConnectionError::ApplicationClosed(c) if c.error_code == code::SECRET_CHANGED => {
            "cluster secret changed".into()
        }
        ConnectionError::ApplicationClosed(c) if c.error_code == code::AUTH_FAILED => "authentication failed".into(),
        ConnectionError::TimedOut => "timed out (peer unreachable)".into(),
        ConnectionError::LocallyClosed => "closed locally".into(),
        other => other.to_string(),
    }
}

/// Maps an error seen while connecting to or authenticating with `peer`.
pub(crate) fn connect_error(peer: &str, e: &ConnectionError) -> TransportError {
    let peer = peer.to_string();
    match e {
        ConnectionError::ApplicationClosed(c) if c.error_code == code::AUTH_FAILED => {
            TransportError::Auth { peer, reason: "peer rejected our cluster secret" }
        }
        ConnectionError::ApplicationClosed(c) if c.error_code == code::AUTH_TIMEOUT => {
            TransportError::Auth { peer, reason: "peer timed out our authentication" }
        }
        ConnectionError::ApplicationClosed(c) if c.error_code == code::SHUTDOWN => TransportError::Refused { peer },
        ConnectionError::ConnectionClosed(c) if c.error_code == TransportErrorCode::CONNECTION_REFUSED => {
            TransportError::Refused { peer }
        }
        ConnectionError::TimedOut => TransportError::Timeout { peer },
        other => TransportError::Connect { peer, reason: describe(other) },
    }
}

/// Maps an error of an established connection.
pub(crate) fn connection_error(e: &ConnectionError) -> TransportError {
    TransportError::Closed(describe(e))
}

fn reset(code: VarInt) -> TransportError {
    TransportError::Reset(code.into_inner())
}

impl From<WriteError> for TransportError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Stopped(code) => reset(code),
            WriteError::ConnectionLost(e) => connection_error(&e),
            WriteError::ClosedStream => TransportError::Closed("stream already finished or reset".into()),
            WriteError::ZeroRttRejected => TransportError::Closed("0-RTT rejected".into()),
        }
    }
}

impl From<ReadError> for TransportError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Reset(code) => reset(code),
            ReadError::ConnectionLost(e) => connection_error(&e),
            ReadError::ClosedStream => TransportError::Closed("stream already closed".into()),
            ReadError::IllegalOrderedRead => TransportError::Protocol("ordered read after unordered read"),
            ReadError::ZeroRttRejected => TransportError::Closed("0-RTT rejected".into()),
        }
    }
}

impl From<quinn::ClosedStream> for TransportError {
    fn from(_: quinn::ClosedStream) -> Self {
        TransportError::Closed("stream already finished or reset".into())
    }
}
