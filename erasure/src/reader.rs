//! [`ShardReader`]: streams an object's bytes (or a range) back from its shard files,
//! data blocks first, rebuilding a stripe from parity when a block is missing or fails
//! its checksum, and reporting damage through the disk set's hook.

use std::sync::Arc;

use bytes::Bytes;
use tokio::task::{spawn_blocking, JoinHandle};

use crate::disk::ShardDisk;
use crate::disk_set::DamageHook;
use crate::error::{join_error, ErasureError};
use crate::layout::Layout;
use crate::spec::ShardSpec;
use crate::stripe_source::{StripeOut, StripeSource};

type StripeTask = JoinHandle<(Box<StripeSource>, Result<StripeOut, ErasureError>)>;

/// Reads a byte range of one object, one stripe per chunk, with the next stripe's read
/// already running while the caller consumes the current chunk.
pub struct ShardReader {
    layout: Layout,
    start: u64,
    end: u64,
    next_stripe: u64,
    end_stripe: u64,
    /// None while a blocking task owns it.
    source: Option<Box<StripeSource>>,
    inflight: Option<StripeTask>,
    degraded: bool,
    done: bool,
    id: u128,
    on_damage: Option<DamageHook>,
}

impl ShardReader {
    pub(crate) fn new(
        disks: Vec<Option<Arc<dyn ShardDisk>>>,
        spec: ShardSpec,
        object_size: u64,
        start: u64,
        end: u64,
        on_damage: Option<DamageHook>,
    ) -> Self {
        let layout = Layout { k: spec.data(), block_size: spec.block_size as u64, object_size };
        let stripe_len = layout.stripe_len();
        let (next_stripe, end_stripe) =
            if start == end { (0, 0) } else { (start / stripe_len, (end - 1) / stripe_len + 1) };
        ShardReader {
            id: spec.id,
            on_damage,
            layout,
            start,
            end,
            next_stripe,
            end_stripe,
            source: Some(Box::new(StripeSource::new(disks, spec, layout))),
            inflight: None,
            degraded: false,
            done: false,
        }
    }

    /// Next chunk of the range (at most one stripe of data); None at the end. After an error
    /// the reader is finished.
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, ErasureError>> {
        if self.done {
            return None;
        }
        if self.inflight.is_none() && !self.spawn_next() {
            self.done = true;
            return None;
        }
        let handle = self.inflight.as_mut()?;
        let res = handle.await;
        self.inflight = None;
        let (source, out) = match res {
            Ok(r) => r,
            Err(e) => {
                self.done = true;
                return Some(Err(join_error(e)));
            }
        };
        self.source = Some(source);
        match out {
            Ok(out) => {
                if out.degraded && !self.degraded {
                    self.degraded = true;
                    if let Some(hook) = &self.on_damage {
                        hook(self.id);
                    }
                }
                self.spawn_next();
                Some(Ok(out.bytes))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    /// True once any stripe needed reconstruction.
    pub fn degraded(&self) -> bool {
        self.degraded
    }

    pub fn into_stream(self) -> impl futures::Stream<Item = Result<Bytes, ErasureError>> + Send + 'static {
        futures::stream::unfold(self, |mut reader| async move {
            let item = reader.next_chunk().await?;
            Some((item, reader))
        })
    }

    fn spawn_next(&mut self) -> bool {
        if self.next_stripe >= self.end_stripe {
            return false;
        }
        let Some(mut source) = self.source.take() else {
            return false;
        };
        let stripe = self.next_stripe;
        self.next_stripe += 1;
        let stripe_start = stripe * self.layout.stripe_len();
        let stripe_end = stripe_start + self.layout.data_len(stripe);
        let lo = (self.start.max(stripe_start) - stripe_start) as usize;
        let hi = (self.end.min(stripe_end) - stripe_start) as usize;
        self.inflight = Some(spawn_blocking(move || {
            let out = source.read(stripe, lo, hi);
            (source, out)
        }));
        true
    }
}
