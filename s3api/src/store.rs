//! The object store under the S3 API: metadata through Raft, bytes through the
//! erasure-coded disk set. Writing a blob never commits metadata; reading never
//! returns bytes that failed their checksums.

use crate::errors;
use crate::placement;
use crate::s3::checksum::{BodyHasher, Digests};
use bytes::Bytes;
use cairn_erasure::{DiskSet, ShardSpec, ShardWriter};
use cairn_raft::MetaStore;
use cairn_raft::schema::{ObjectData, ObjectVersion, ShardRef};
use futures::{Stream, StreamExt};
use s3s::{S3Error, S3Result, s3_error};
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub data_shards: u8,
    pub parity_shards: u8,
    /// Object bytes per shard per stripe.
    pub block_size: u32,
    /// Bodies up to this size live in the metadata record instead of shards.
    pub inline_max: usize,
    pub region: String,
    /// Bodies streaming to shards at once. Each holds about two stripes of
    /// buffers; a body waiting for a slot is not read, so TCP back-pressure
    /// holds the client and memory stays bounded however many arrive.
    pub max_concurrent_writes: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            data_shards: 2,
            parity_shards: 2,
            block_size: 256 * 1024,
            inline_max: 4096,
            region: "us-east-1".into(),
            max_concurrent_writes: 32,
        }
    }
}

pub struct Store {
    pub meta: MetaStore,
    pub disks: Arc<DiskSet>,
    pub config: StoreConfig,
    writers: Arc<tokio::sync::Semaphore>,
}

pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, S3Error>> + Send>>;

/// A body that has been durably written but not yet committed.
pub struct WrittenBlob {
    pub data: ObjectData,
    pub size: u64,
    pub digests: Digests,
}

impl Store {
    pub fn new(meta: MetaStore, disks: DiskSet, config: StoreConfig) -> Self {
        let writers = Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_writes.max(1)));
        Self { meta, disks: Arc::new(disks), config, writers }
    }

    /// The shards of a new blob of `bucket/key`, and the layout version they were placed with.
    fn new_spec(&self, bucket: &str, key: &str) -> S3Result<(ShardSpec, u64)> {
        let hash = placement_hash(bucket, key);
        let layout = self.meta.layout().map_err(errors::meta)?;
        // Disk indices are global: until this node has the layout (and its disk table
        // follows it), no index can be trusted to name the right disk.
        let primary = layout.placement(hash).ok_or_else(|| {
            s3_error!(ServiceUnavailable, "The cluster layout has fewer disks than one erasure set needs.")
        })?;
        let disks = placement::substitute(&layout, primary, hash, |d| self.disks.is_online(d));
        let (k, m) = (layout.data_shards, layout.parity_shards);
        let spec = ShardSpec {
            id: rand::random::<u128>(),
            data_shards: k,
            parity_shards: m,
            block_size: self.config.block_size,
            disks,
        };
        Ok((spec, layout.version))
    }

    /// Streams `body` to durable storage while hashing it. Small bodies are kept
    /// in memory to be stored inline; anything larger goes to shards with memory
    /// bounded by the erasure writer's stripe buffers. On any error nothing is
    /// left behind.
    pub async fn write_blob(
        &self,
        bucket: &str,
        key: &str,
        mut body: ByteStream,
        mut hasher: BodyHasher,
        expected_size: Option<u64>,
    ) -> S3Result<WrittenBlob> {
        let mut small: Vec<u8> = Vec::new();
        let mut writer: Option<(ShardWriter, ShardSpec, u64)> = None;
        // Taken before the first byte is read: a request waiting here holds no
        // body buffers, only its headers.
        let _slot = match expected_size {
            Some(n) if n <= self.config.inline_max as u64 => None,
            _ => Some(
                self.writers
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| s3_error!(ServiceUnavailable, "shutting down"))?,
            ),
        };
        let mut size: u64 = 0;
        let result: S3Result<()> = async {
            loop {
                // A body gone silent ends with an error from the gate's guard
                // (node/src/server.rs wraps every body), which frees this slot.
                let next = body.next().await;
                let Some(chunk) = next else { break };
                let chunk = chunk?;
                hasher.update(&chunk);
                size += chunk.len() as u64;
                match &mut writer {
                    Some((w, _, _)) => w.write(&chunk).await.map_err(errors::erasure)?,
                    None if small.len() + chunk.len() <= self.config.inline_max => small.extend_from_slice(&chunk),
                    None => {
                        let (spec, layout_version) = self.new_spec(bucket, key)?;
                        let mut w = self.disks.writer(spec.clone()).map_err(errors::erasure)?;
                        w.write(&small).await.map_err(errors::erasure)?;
                        small = Vec::new();
                        w.write(&chunk).await.map_err(errors::erasure)?;
                        writer = Some((w, spec, layout_version));
                    }
                }
            }
            if let Some(expected) = expected_size
                && expected != size
            {
                return Err(s3_error!(
                    IncompleteBody,
                    "You did not provide the number of bytes specified by the Content-Length HTTP header."
                ));
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
        let digests = hasher.finish();
        let data = match writer {
            None => ObjectData::Inline(small),
            Some((w, spec, layout_version)) => {
                let receipt = w.finish().await.map_err(errors::erasure)?;
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
        Ok(WrittenBlob { data, size, digests })
    }

    /// Bytes `[start, end)` of an object version as a stream.
    pub fn read_blob(&self, obj: &ObjectVersion, start: u64, end: u64) -> S3Result<ByteStream> {
        read_data(&self.disks, &obj.data, obj.size, start, end)
    }

    /// Removes the bytes of a version whose metadata is gone. Runs after the
    /// commit, in the background; a crash here leaves orphans for the collector.
    pub fn discard(self: &Arc<Self>, data: ObjectData) {
        let mut specs = Vec::new();
        collect_shards(&data, &mut specs);
        if specs.is_empty() {
            return;
        }
        let store = self.clone();
        tokio::spawn(async move {
            for spec in specs {
                if let Err(e) = store.disks.delete(&spec).await {
                    tracing::warn!(error = %e, shard = %format!("{:032x}", spec.id), "could not remove shards");
                }
            }
        });
    }
}

/// The hash that picks an object's erasure set and rotation in the layout. Only new
/// writes and the rebalancer use it: reads follow the disks recorded in the ShardRef.
pub fn placement_hash(bucket: &str, key: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bucket.hash(&mut h);
    key.hash(&mut h);
    h.finish()
}

fn collect_shards(data: &ObjectData, out: &mut Vec<ShardSpec>) {
    match data {
        ObjectData::Inline(_) => {}
        ObjectData::Shards(r) => out.push(spec_of(r)),
        ObjectData::Parts(parts) => parts.iter().for_each(|p| collect_shards(&p.data, out)),
    }
}

/// Bytes `[start, end)` of one blob of `size` bytes. A multipart object chains
/// the parts that overlap the range, opening each reader only when the
/// previous part is done, so memory stays that of one reader.
fn read_data(disks: &Arc<DiskSet>, data: &ObjectData, size: u64, start: u64, end: u64) -> S3Result<ByteStream> {
    match data {
        ObjectData::Inline(bytes) => {
            let slice = bytes
                .get(start as usize..end as usize)
                .map(Bytes::copy_from_slice)
                .ok_or_else(|| s3_error!(InternalError, "inline object shorter than its recorded size"))?;
            Ok(Box::pin(futures::stream::once(async move { Ok(slice) })))
        }
        ObjectData::Shards(r) => {
            let reader = disks.reader(spec_of(r), size, start, end).map_err(errors::erasure)?;
            Ok(Box::pin(reader.into_stream().map(|r| r.map_err(errors::erasure))))
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
                    Err(e) => Box::pin(futures::stream::once(async move { Err(e) })) as ByteStream,
                })
                .flatten();
            Ok(Box::pin(chained))
        }
    }
}

pub fn spec_of(r: &ShardRef) -> ShardSpec {
    ShardSpec {
        id: r.id,
        data_shards: r.data_shards,
        parity_shards: r.parity_shards,
        block_size: r.block_size,
        disks: r.disks.clone(),
    }
}
