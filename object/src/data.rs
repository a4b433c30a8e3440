//! A version's bytes: writing them (streamed, memory bounded by a few stripes,
//! durable at write quorum before anything is committed) and reading a range of
//! them back. Writing never commits metadata; reading never returns bytes that failed
//! their checksums.

use crate::{ObjectError, Store};
use bytes::Bytes;
use cairn_erasure::{DiskSet, ShardSpec, ShardWriter};
use cairn_raft::schema::{ObjectData, ObjectVersion, ShardRef};
use futures::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;

/// Bytes in, or out: a body to write, or a range being read.
pub type DataStream = Pin<Box<dyn Stream<Item = Result<Bytes, ObjectError>> + Send>>;

/// Data that has been durably written but not yet committed: commit it in a version
/// or a part, or hand it to [`Store::discard_data`].
pub struct WrittenData {
    pub data: ObjectData,
    pub size: u64,
}

impl Store {
    /// Streams `body` to durable storage, showing every chunk to `observe` (the
    /// caller's digests). Small bodies are kept in memory to be stored inline; anything
    /// larger goes to shards placed for `bucket/key`, with memory bounded by the
    /// erasure writer's stripe buffers. A body of another length than
    /// `expected_size` fails. On any error nothing is left behind.
    pub async fn write_data(
        &self,
        bucket: &str,
        key: &str,
        mut body: DataStream,
        observe: &mut (dyn FnMut(&[u8]) + Send),
        expected_size: Option<u64>,
    ) -> Result<WrittenData, ObjectError> {
        let mut small: Vec<u8> = Vec::new();
        let mut writer: Option<(ShardWriter, ShardSpec, u64)> = None;
        // Taken before the first byte is read: a request waiting here holds no
        // body buffers, only its headers.
        let _slot = match expected_size {
            Some(n) if n <= self.config.inline_max as u64 => None,
            _ => Some(self.writers.clone().acquire_owned().await.map_err(|_| ObjectError::ShuttingDown)?),
        };
        let mut size: u64 = 0;
        let result: Result<(), ObjectError> = async {
            loop {
                // A body gone silent ends with an error from the gate's guard
                // (node/src/server.rs wraps every body), which frees this slot.
                let next = body.next().await;
                let Some(chunk) = next else { break };
                let chunk = chunk?;
                observe(&chunk);
                size += chunk.len() as u64;
                match &mut writer {
                    Some((w, _, _)) => w.write(&chunk).await?,
                    None if small.len() + chunk.len() <= self.config.inline_max => small.extend_from_slice(&chunk),
                    None => {
                        let (spec, layout_version) = self.new_spec(bucket, key)?;
                        let mut w = self.disks.writer(spec.clone())?;
                        w.write(&small).await?;
                        small = Vec::new();
                        w.write(&chunk).await?;
                        writer = Some((w, spec, layout_version));
                    }
                }
            }
            if let Some(expected) = expected_size
                && expected != size
            {
                return Err(ObjectError::IncompleteBody);
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            if let Some((w, _, _)) = writer {
                w.abort().await;
            }
            return Err(e);
        }
        let data = match writer {
            None => ObjectData::Inline(small),
            Some((w, spec, layout_version)) => {
                let receipt = w.finish().await?;
                // Quorum but not every shard: the blob starts out degraded.
                if receipt.shards_written < spec.disks.len() {
                    self.disks.report_damaged(spec.id);
                }
                ObjectData::Shards(ShardRef {
                    id: spec.id,
                    data_shards: spec.data_shards,
                    parity_shards: spec.parity_shards,
                    block_size: spec.block_size,
                    disks: spec.disks,
                    layout_version,
                })
            }
        };
        Ok(WrittenData { data, size })
    }

    /// Bytes `[start, end)` of a version as a stream.
    /// The shards it reads are not removed before the stream is dropped, even if
    /// the version is replaced or deleted meanwhile ([`crate::freed`]).
    pub fn read(&self, version: &ObjectVersion, start: u64, end: u64) -> Result<DataStream, ObjectError> {
        let hold = self.hold_for_read(&version.data);
        let stream = read_data(&self.disks, &version.data, version.size, start, end)?;
        Ok(match hold {
            None => stream,
            Some(hold) => Box::pin(stream.map(move |chunk| {
                let _held = &hold;
                chunk
            })),
        })
    }
}

/// Bytes `[start, end)` of one blob of `size` bytes. A multipart object chains
/// the parts that overlap the range, opening each reader only when the
/// previous part is done, so memory stays that of one reader.
fn read_data(
    disks: &Arc<DiskSet>,
    data: &ObjectData,
    size: u64,
    start: u64,
    end: u64,
) -> Result<DataStream, ObjectError> {
    match data {
        ObjectData::Inline(bytes) => {
            let slice =
                bytes.get(start as usize..end as usize).map(Bytes::copy_from_slice).ok_or(ObjectError::Corrupt)?;
            Ok(Box::pin(futures::stream::once(async move { Ok(slice) })))
        }
        ObjectData::Shards(r) => {
            let reader = disks.reader(spec_of(r), size, start, end)?;
            Ok(Box::pin(reader.into_stream().map(|r| r.map_err(ObjectError::from))))
        }
        ObjectData::Parts(parts) => {
            let mut segments = Vec::new();
            let mut offset = 0u64;
            for p in parts {
                let (p_start, p_end) = (offset, offset + p.size);
                offset = p_end;
                if p_end <= start || p_start >= end {
                    continue;
                }
                let from = start.max(p_start) - p_start;
                let to = end.min(p_end) - p_start;
                segments.push((p.data.clone(), p.size, from, to));
            }
            let disks = disks.clone();
            let chained = futures::stream::iter(segments)
                .map(move |(data, size, from, to)| match read_data(&disks, &data, size, from, to) {
                    Ok(s) => s,
                    Err(e) => Box::pin(futures::stream::once(async move { Err(e) })) as DataStream,
                })
                .flatten();
            Ok(Box::pin(chained))
        }
    }
}

/// The shard spec a recorded blob was written with.
pub fn spec_of(r: &ShardRef) -> ShardSpec {
    ShardSpec {
        id: r.id,
        data_shards: r.data_shards,
        parity_shards: r.parity_shards,
        block_size: r.block_size,
        disks: r.disks.clone(),
    }
}
