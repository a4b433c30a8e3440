//! A version's bytes: writing them (streamed, memory bounded by a few stripes,
//! durable at write quorum before anything is committed) and reading a range of
//! them back. Writing never commits metadata; reading never returns bytes that failed
//! their checksums.

use crate::sse::package::{sealed_len, stored_range};
use crate::sse::{self, CustomerKey, Decrypt, Encrypt, Keys, SseRequest};
use crate::{ObjectError, Store};
use bytes::Bytes;
use cairn_erasure::{DiskSet, ShardSpec, ShardWriter};
use cairn_raft::schema::{ObjectData, ObjectVersion, SealedData, ShardRef};
use cairn_raft::tiers::STANDARD;
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
        body: DataStream,
        observe: &mut (dyn FnMut(&[u8]) + Send),
        expected_size: Option<u64>,
    ) -> Result<WrittenData, ObjectError> {
        self.write_data_sse(bucket, key, body, observe, expected_size, None, STANDARD).await
    }

    /// [`Store::write_data`], encrypted as `sse` asks: `observe` sees the plaintext,
    /// storage only sealed packages ([`crate::sse`]), and the data answered is
    /// `Sealed` with the data key's record. The shards are written in storage class
    /// `class`; a class other than STANDARD is never inline, so a version's class
    /// is always that of its blobs (`cairn_raft::tiers`).
    #[allow(clippy::too_many_arguments)]
    pub async fn write_data_sse(
        &self,
        bucket: &str,
        key: &str,
        mut body: DataStream,
        observe: &mut (dyn FnMut(&[u8]) + Send),
        expected_size: Option<u64>,
        sse: Option<&SseRequest>,
        class: &str,
    ) -> Result<WrittenData, ObjectError> {
        let inline_max = if class == STANDARD { self.config.inline_max } else { 0 };
        let mut sealer = match sse {
            Some(req) => {
                let (key, record) = self.new_data_key(req).await?;
                Some((Encrypt::new(key), record))
            }
            None => None,
        };
        let stored_expected = expected_size.map(|n| if sealer.is_some() { sealed_len(n) } else { n });
        // Taken before the first byte is read: a request waiting here holds no
        // body buffers, only its headers.
        let _slot = match stored_expected {
            Some(n) if n <= inline_max as u64 => None,
            _ => Some(self.writers.clone().acquire_owned().await.map_err(|_| ObjectError::ShuttingDown)?),
        };
        let mut place =
            Placing { store: self, bucket, key, class, inline_max, small: Vec::new(), writer: None, stored: 0 };
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
                match &mut sealer {
                    None => place.push(&chunk).await?,
                    Some((enc, _)) => {
                        for package in enc.push(&chunk) {
                            place.push(&package).await?;
                        }
                    }
                }
            }
            if let Some(last) = sealer.as_mut().and_then(|(enc, _)| enc.finish()) {
                place.push(&last).await?;
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
            place.abort().await;
            return Err(e);
        }
        let stored_size = place.stored;
        let data = place.finish().await?;
        let data = match sealer {
            None => data,
            Some((_, sse)) => ObjectData::Sealed(Box::new(SealedData { sse, stored_size, data })),
        };
        Ok(WrittenData { data, size })
    }

    /// `body` (exactly `size` bytes) as a new blob of storage class `class`, never
    /// inline, durable at write quorum: a stored blob copied as it is (a transition).
    pub(crate) async fn write_blob(
        &self,
        bucket: &str,
        key: &str,
        mut body: DataStream,
        size: u64,
        class: &str,
    ) -> Result<ShardRef, ObjectError> {
        let _slot = self.writers.clone().acquire_owned().await.map_err(|_| ObjectError::ShuttingDown)?;
        let mut place =
            Placing { store: self, bucket, key, class, inline_max: 0, small: Vec::new(), writer: None, stored: 0 };
        let result: Result<(), ObjectError> = async {
            while let Some(chunk) = body.next().await {
                place.push(&chunk?).await?;
            }
            if place.stored != size {
                return Err(ObjectError::IncompleteBody);
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            place.abort().await;
            return Err(e);
        }
        match place.finish().await? {
            ObjectData::Shards(r) => Ok(r),
            _ => Err(ObjectError::Corrupt),
        }
    }

    /// A copy of an encrypted single-blob version as it is stored: its ciphertext copied
    /// to a new blob for `bucket/key`, under the same sealed data key, without opening
    /// it; `None` for a version that is not one sealed blob (unencrypted, or multipart,
    /// whose parts each have their own key). The caller decides that the copy is to be
    /// encrypted the same way.
    pub async fn copy_sealed(
        &self,
        bucket: &str,
        key: &str,
        src: &ObjectVersion,
        class: &str,
    ) -> Result<Option<WrittenData>, ObjectError> {
        let ObjectData::Sealed(sealed) = &src.data else { return Ok(None) };
        let _hold = self.hold_for_read(&src.data);
        let stored = read_data(&self.disks, &sealed.data, sealed.stored_size, 0, sealed.stored_size, &Keys::default())?;
        let written =
            self.write_data_sse(bucket, key, stored, &mut |_| {}, Some(sealed.stored_size), None, class).await?;
        let data = ObjectData::Sealed(Box::new(SealedData {
            sse: sealed.sse.clone(),
            stored_size: sealed.stored_size,
            data: written.data,
        }));
        Ok(Some(WrittenData { data, size: src.size }))
    }

    /// Bytes `[start, end)` of a version as a stream.
    /// The shards it reads are not removed before the stream is dropped, even if
    /// the version is replaced or deleted meanwhile ([`crate::freed`]).
    pub fn read(&self, version: &ObjectVersion, start: u64, end: u64) -> Result<DataStream, ObjectError> {
        self.read_with(version, start, end, None)
    }

    /// [`Store::read`] with the request's SSE-C key, for objects encrypted with one.
    pub fn read_with(
        &self,
        version: &ObjectVersion,
        start: u64,
        end: u64,
        customer: Option<CustomerKey>,
    ) -> Result<DataStream, ObjectError> {
        let hold = self.hold_for_read(&version.data);
        let keys = self.keys(customer);
        let stream = read_data(&self.disks, &version.data, version.size, start, end, &keys)?;
        Ok(match hold {
            None => stream,
            Some(hold) => Box::pin(stream.map(move |chunk| {
                let _held = &hold;
                chunk
            })),
        })
    }
}

/// Where a body's stored bytes go as they come: kept for an inline record while
/// they fit, then to a new blob's shards.
struct Placing<'a> {
    store: &'a Store,
    bucket: &'a str,
    key: &'a str,
    class: &'a str,
    /// The most bytes kept for an inline record (0: never inline).
    inline_max: usize,
    small: Vec<u8>,
    writer: Option<(ShardWriter, ShardSpec, u64)>,
    /// Bytes pushed so far.
    stored: u64,
}

impl Placing<'_> {
    async fn push(&mut self, chunk: &[u8]) -> Result<(), ObjectError> {
        self.stored += chunk.len() as u64;
        match &mut self.writer {
            Some((w, _, _)) => w.write(chunk).await?,
            None if self.small.len() + chunk.len() <= self.inline_max => self.small.extend_from_slice(chunk),
            None => {
                let (spec, layout_version) = self.store.new_spec(self.bucket, self.key, self.class)?;
                let mut w = self.store.disks.writer(spec.clone())?;
                w.write(&self.small).await?;
                self.small = Vec::new();
                w.write(chunk).await?;
                self.writer = Some((w, spec, layout_version));
            }
        }
        Ok(())
    }

    /// Drops what was written so far.
    async fn abort(self) {
        if let Some((w, _, _)) = self.writer {
            w.abort().await;
        }
    }

    /// Makes the blob durable at write quorum: the stored form of what was pushed.
    async fn finish(mut self) -> Result<ObjectData, ObjectError> {
        if self.writer.is_none() && self.inline_max == 0 {
            // An empty body in a class that is never inline: an empty blob of it.
            let (spec, layout_version) = self.store.new_spec(self.bucket, self.key, self.class)?;
            let w = self.store.disks.writer(spec.clone())?;
            self.writer = Some((w, spec, layout_version));
        }
        Ok(match self.writer {
            None => ObjectData::Inline(self.small),
            Some((w, spec, layout_version)) => {
                let receipt = w.finish().await?;
                // Quorum but not every shard: the blob starts out degraded.
                if receipt.shards_written < spec.disks.len() {
                    self.store.disks.report_damaged(spec.id);
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
    keys: &Keys,
) -> Result<DataStream, ObjectError> {
    match data {
        ObjectData::Sealed(sealed) => {
            let key = sse::data_key(&sealed.sse, keys)?;
            if start >= end {
                return Ok(Box::pin(futures::stream::empty()));
            }
            let (stored, first, skip) = stored_range(start, end, sealed.stored_size);
            let inner = read_data(disks, &sealed.data, sealed.stored_size, stored.start, stored.end, keys)?;
            Ok(Decrypt::stream(inner, key, first, skip, end - start))
        }
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
            let keys = keys.clone();
            let chained = futures::stream::iter(segments)
                .map(move |(data, size, from, to)| match read_data(&disks, &data, size, from, to, &keys) {
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
