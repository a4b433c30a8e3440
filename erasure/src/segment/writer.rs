//! A shard writer that keeps the shard in memory and commits it as one segment record, or,
//! once it outgrows [`super::SegmentConfig::max_shard`], moves what it has to a shard file and
//! goes on there.

use std::io;
use std::sync::Arc;

use crate::disk::{ShardFileWriter, HEADER_LEN};

use super::{Key, Segments};

/// Opens the shard-file writer a buffered shard spills into.
pub(crate) type Spill = Box<dyn FnOnce() -> io::Result<Box<dyn ShardFileWriter>> + Send>;

pub(crate) struct BufferedWriter {
    segs: Arc<Segments>,
    key: Key,
    /// The shard image so far: room for the header, then blocks and CRCs.
    buf: Vec<u8>,
    /// Length of each block appended, to replay them into a file on spill.
    blocks: Vec<u32>,
    spill: Option<Spill>,
    file: Option<Box<dyn ShardFileWriter>>,
}

impl BufferedWriter {
    /// Claims the shard; fails with AlreadyExists while another writer holds it.
    pub fn new(segs: Arc<Segments>, key: Key, spill: Spill) -> io::Result<BufferedWriter> {
        segs.begin(key)?;
        Ok(BufferedWriter { segs, key, buf: vec![0; HEADER_LEN], blocks: Vec::new(), spill: Some(spill), file: None })
    }

    fn spill(&mut self) -> io::Result<&mut Box<dyn ShardFileWriter>> {
        let open = self.spill.take().ok_or_else(|| io::Error::other("shard writer failed earlier"))?;
        let mut w = open()?;
        let mut at = HEADER_LEN;
        for &len in &self.blocks {
            let end = at + len as usize;
            let crc: [u8; 4] = self.buf[end..end + 4].try_into().map_err(io::Error::other)?;
            if let Err(e) = w.append(&self.buf[at..end], crc) {
                w.abort();
                return Err(e);
            }
            at = end + 4;
        }
        self.buf = Vec::new();
        Ok(self.file.insert(w))
    }
}

impl BufferedWriter {
    /// The whole shard image with its header, taken out of the writer: nothing more may go
    /// through it (a later append or commit fails).
    fn image(&mut self, header: &[u8; HEADER_LEN]) -> io::Result<Vec<u8>> {
        if self.spill.take().is_none() {
            return Err(io::Error::other("shard writer failed or committed earlier"));
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf[..HEADER_LEN].copy_from_slice(header);
        Ok(buf)
    }
}

impl ShardFileWriter for BufferedWriter {
    fn append(&mut self, block: &[u8], crc: [u8; 4]) -> io::Result<()> {
        if let Some(w) = self.file.as_mut() {
            return w.append(block, crc);
        }
        if self.spill.is_none() {
            return Err(io::Error::other("shard writer failed or committed earlier"));
        }
        if (self.buf.len() + block.len() + 4) as u64 > self.segs.max_shard() {
            return self.spill()?.append(block, crc);
        }
        self.buf.extend_from_slice(block);
        self.buf.extend_from_slice(&crc);
        self.blocks.push(block.len() as u32);
        Ok(())
    }

    fn commit(mut self: Box<Self>, header: &[u8; HEADER_LEN]) -> io::Result<()> {
        if let Some(w) = self.file.take() {
            w.commit(header)?;
            // An older copy in a segment would shadow the file.
            self.segs.remove(self.key)?;
            return Ok(());
        }
        let image = self.image(header)?;
        self.segs.put(self.key, image)
    }

    fn commit_deferred(&mut self, header: &[u8; HEADER_LEN]) -> Option<io::Result<crate::disk::Deferred>> {
        if self.file.is_some() || self.spill.is_none() {
            return None;
        }
        Some(self.image(header).and_then(|image| self.segs.put_deferred(self.key, image)))
    }

    fn abort(mut self: Box<Self>) {
        if let Some(w) = self.file.take() {
            w.abort();
        }
    }
}

impl Drop for BufferedWriter {
    fn drop(&mut self) {
        self.segs.end(self.key);
    }
}
