//! Length-prefixed frames over one QUIC bi-directional stream.

use super::error::TransportError;
use bytes::{Bytes, BytesMut};
use quinn::{ReadExactError, RecvStream, SendStream, VarInt};

/// Largest frame accepted or sent: 16 MiB.
pub const MAX_FRAME: usize = 16 << 20;

/// One bi-directional stream to or from a peer, carrying frames: a big-endian `u32` length, then
/// that many bytes.
#[derive(Debug)]
pub struct PeerStream {
    send: SendStream,
    recv: RecvStream,
    connection_id: usize,
}

impl PeerStream {
    pub(crate) fn new(send: SendStream, recv: RecvStream, connection_id: usize) -> PeerStream {
        PeerStream { send, recv, connection_id }
    }

    /// Identifies the QUIC connection carrying this stream (unique among this process's live
    /// connections): streams of one connection share its congestion and flow control.
    pub fn connection_id(&self) -> usize {
        self.connection_id
    }

    /// Sends one frame.
    pub async fn send_frame(&mut self, frame: &[u8]) -> Result<(), TransportError> {
        let header = header(frame.len())?;
        self.send.write_all(&header).await?;
        self.send.write_all(frame).await?;
        Ok(())
    }

    /// Sends one frame without copying its bytes into the stream's buffer.
    pub async fn send_frame_bytes(&mut self, frame: Bytes) -> Result<(), TransportError> {
        let header = header(frame.len())?;
        self.send.write_all_chunks(&mut [Bytes::copy_from_slice(&header), frame]).await?;
        Ok(())
    }

    /// Receives one frame; `None` when the peer finished its side cleanly between frames.
    pub async fn recv_frame(&mut self) -> Result<Option<Bytes>, TransportError> {
        let mut header = [0u8; 4];
        match self.recv.read_exact(&mut header).await {
            Ok(()) => {}
            Err(ReadExactError::FinishedEarly(0)) => return Ok(None),
            Err(ReadExactError::FinishedEarly(_)) => {
                return Err(TransportError::Protocol("stream ended inside a frame header"));
            }
            Err(ReadExactError::ReadError(e)) => return Err(e.into()),
        }
        let len = u32::from_be_bytes(header) as usize;
        if len > MAX_FRAME {
            // Tell the peer we will not read the rest.
            let _ = self.recv.stop(VarInt::from_u32(0));
            return Err(TransportError::FrameTooLarge { len, max: MAX_FRAME });
        }
        let mut body: Option<BytesMut> = None;
        let mut got = 0;
        while got < len {
            let Some(chunk) = self.recv.read_chunk(len - got, true).await? else {
                return Err(TransportError::Protocol("stream ended inside a frame"));
            };
            // The common case for small frames: one chunk holds the whole body, no copy.
            if got == 0 && chunk.bytes.len() == len {
                return Ok(Some(chunk.bytes));
            }
            body.get_or_insert_with(|| BytesMut::with_capacity(len)).extend_from_slice(&chunk.bytes);
            got += chunk.bytes.len();
        }
        Ok(Some(body.map(BytesMut::freeze).unwrap_or_default()))
    }

    /// Ends our sending side (the peer's `recv_frame` then returns `None`). Data already written
    /// is still delivered.
    pub async fn finish(&mut self) -> Result<(), TransportError> {
        self.send.finish()?;
        Ok(())
    }

    /// Abandons the stream in both directions with an application error `code`: the peer sees
    /// [`TransportError::Reset`].
    pub fn reset(&mut self, code: u32) {
        let code = VarInt::from_u32(code);
        let _ = self.send.reset(code);
        let _ = self.recv.stop(code);
    }

    /// The underlying quinn streams, for callers that need more than frames.
    pub fn into_inner(self) -> (SendStream, RecvStream) {
        (self.send, self.recv)
    }
}

fn header(len: usize) -> Result<[u8; 4], TransportError> {
    if len > MAX_FRAME {
        return Err(TransportError::FrameTooLarge { len, max: MAX_FRAME });
    }
    // MAX_FRAME fits in a u32.
    Ok((len as u32).to_be_bytes())
}
