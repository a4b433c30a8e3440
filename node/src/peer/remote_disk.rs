//! A disk of a peer node, reached over the transport. The erasure crate calls it from
//! blocking tasks, so each call drives its async transport work to completion on the
//! runtime handle captured at construction. Touches the transport and the peer's up flag
//! (kept by `crate::cluster`'s prober; a failed call lowers it).

use super::messages::{self, APPEND, COMMIT, PeerRequest};
use crate::transport::{PeerStream, Transport};
use cairn_erasure::{Deferred, DiskUsage, HEADER_LEN, ShardDisk, ShardFileReader, ShardFileWriter};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::runtime::Handle;

/// How long a peer may take to make a shard durable once it has all its blocks.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one remote read may take.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct RemoteDisk {
    transport: Transport,
    addr: String,
    node: u64,
    /// The disk's index on its node.
    disk: u16,
    up: Arc<AtomicBool>,
    rt: Handle,
}

impl std::fmt::Debug for RemoteDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteDisk(node {} at {}, disk {})", self.node, self.addr, self.disk)
    }
}

fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl RemoteDisk {
    pub fn new(transport: Transport, addr: String, node: u64, disk: u16, up: Arc<AtomicBool>, rt: Handle) -> Self {
        RemoteDisk { transport, addr, node, disk, up, rt }
    }

    /// Fails at once for a peer that does not answer pings, so a dead node costs a
    /// request nothing but the shard; the prober brings it back when it answers.
    fn check_up(&self) -> io::Result<()> {
        if self.up.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(io::Error::new(io::ErrorKind::NotConnected, format!("node {} at {} is down", self.node, self.addr)))
        }
    }

    fn mark_down(&self, e: io::Error) -> io::Error {
        self.up.store(false, Ordering::Relaxed);
        e
    }

    /// One request, one reply; the reply's status byte is checked.
    fn request(&self, req: &PeerRequest, timeout: Duration) -> io::Result<bytes::Bytes> {
        self.check_up()?;
        let msg = bincode::serialize(req).map_err(io_err)?;
        let reply = self
            .rt
            .block_on(async {
                tokio::time::timeout(timeout, self.transport.call(&self.addr, &msg))
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("peer {} timed out", self.addr)))?
                    .map_err(io_err)
            })
            .map_err(|e| self.mark_down(e))?;
        messages::parse_reply(&reply)?;
        Ok(reply.slice(1..))
    }
}

impl ShardDisk for RemoteDisk {
    fn create(&self, id: u128, shard: usize) -> io::Result<Box<dyn ShardFileWriter>> {
        self.check_up()?;
        let req = PeerRequest::ShardWrite { disk: self.disk, id, shard: shard as u16 };
        let msg = bincode::serialize(&req).map_err(io_err)?;
        let stream = self
            .rt
            .block_on(async {
                let mut s = self.transport.open(&self.addr).await.map_err(io_err)?;
                s.send_frame(&msg).await.map_err(io_err)?;
                Ok::<_, io::Error>(s)
            })
            .map_err(|e| self.mark_down(e))?;
        Ok(Box::new(RemoteWriter { stream: Some(stream), rt: self.rt.clone(), buf: Vec::new() }))
    }

    fn open(&self, id: u128, shard: usize) -> io::Result<Box<dyn ShardFileReader>> {
        // No round trip here: the header read that follows tells whether the shard exists.
        Ok(Box::new(RemoteReader { disk: self.clone(), id, shard: shard as u16 }))
    }

    fn remove(&self, id: u128, shard: usize) -> io::Result<()> {
        self.request(&PeerRequest::ShardRemove { disk: self.disk, id, shard: shard as u16 }, READ_TIMEOUT).map(|_| ())
    }

    fn is_online(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    fn local_usage(&self) -> Option<DiskUsage> {
        None
    }
}

/// Sends the commit frame with the shard's header and waits for the peer to confirm it durable.
async fn confirm(mut stream: PeerStream, header: &[u8; HEADER_LEN]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(1 + HEADER_LEN);
    frame.push(COMMIT);
    frame.extend_from_slice(header);
    stream.send_frame(&frame).await.map_err(io_err)?;
    stream.finish().await.map_err(io_err)?;
    let reply = match tokio::time::timeout(COMMIT_TIMEOUT, stream.recv_frame()).await {
        Ok(Ok(Some(r))) => r,
        Ok(Ok(None)) => return Err(io_err("peer closed the shard stream before confirming")),
        Ok(Err(e)) => return Err(io_err(e)),
        Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "peer did not confirm the shard in time")),
    };
    messages::parse_reply(&reply).map(|_| ())
}

struct RemoteWriter {
    stream: Option<PeerStream>,
    rt: Handle,
    /// Reused frame buffer: tag, block, CRC.
    buf: Vec<u8>,
}

impl ShardFileWriter for RemoteWriter {
    fn append(&mut self, block: &[u8], crc: [u8; 4]) -> io::Result<()> {
        let stream = self.stream.as_mut().ok_or_else(|| io_err("shard stream already closed"))?;
        self.buf.clear();
        self.buf.reserve(1 + block.len() + 4);
        self.buf.push(APPEND);
        self.buf.extend_from_slice(block);
        self.buf.extend_from_slice(&crc);
        let buf = &self.buf;
        self.rt.block_on(stream.send_frame(buf)).map_err(io_err)
    }

    fn commit(mut self: Box<Self>, header: &[u8; HEADER_LEN]) -> io::Result<()> {
        let stream = self.stream.take().ok_or_else(|| io_err("shard stream already closed"))?;
        self.rt.block_on(confirm(stream, header))
    }

    /// The commit is a frame and a wait for the peer's answer: done by a task on the runtime,
    /// so no thread is parked on the round trip.
    fn commit_deferred(&mut self, header: &[u8; HEADER_LEN]) -> Option<io::Result<Deferred>> {
        let Some(stream) = self.stream.take() else { return Some(Err(io_err("shard stream already closed"))) };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let header = *header;
        self.rt.spawn(async move {
            let _ = tx.send(confirm(stream, &header).await);
        });
        Some(Ok(rx))
    }

    fn abort(mut self: Box<Self>) {
        // The peer discards a shard whose stream ends without a commit.
        if let Some(mut s) = self.stream.take() {
            s.reset(0);
        }
    }
}

impl Drop for RemoteWriter {
    fn drop(&mut self) {
        if let Some(mut s) = self.stream.take() {
            s.reset(0);
        }
    }
}

struct RemoteReader {
    disk: RemoteDisk,
    id: u128,
    shard: u16,
}

impl RemoteReader {
    fn read(&self, offset: u64, len: usize) -> io::Result<bytes::Bytes> {
        let len32 = u32::try_from(len).map_err(|_| io_err("read too large"))?;
        let req = PeerRequest::ShardRead { disk: self.disk.disk, id: self.id, shard: self.shard, offset, len: len32 };
        let data = self.disk.request(&req, READ_TIMEOUT)?;
        if data.len() != len {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "peer returned a short read"));
        }
        Ok(data)
    }
}

impl ShardFileReader for RemoteReader {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        buf.copy_from_slice(&self.read(offset, buf.len())?);
        Ok(())
    }

    fn read_block(&self, offset: u64, block: &mut [u8], crc: &mut [u8; 4]) -> io::Result<()> {
        let data = self.read(offset, block.len() + 4)?;
        let (b, c) = data.split_at(block.len());
        block.copy_from_slice(b);
        crc.copy_from_slice(c);
        Ok(())
    }
}
