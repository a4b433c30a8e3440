//! [`ShardReader`]: streams an object's bytes (or a range) back from its shard files,
//! data blocks first, rebuilding a stripe from parity when a block is missing or fails
//! its checksum, and reporting damage through the disk set's hook.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use tokio::task::{spawn_blocking, JoinHandle};

use crate::disk::ShardDisk;
use crate::disk_set::DamageHook;
use crate::error::{join_error, ErasureError};
use crate::layout::Layout;
use crate::spec::ShardSpec;
use crate::stripe_source::{StripeOut, StripeSource};

type StripeTask = JoinHandle<(Box<StripeSource>, Result<Vec<StripeOut>, ErasureError>)>;

/// A short last stripe of at most this many bytes is read in the same blocking task as
/// the stripe before it: a second task and round of reads for a few bytes cost more
/// than the bytes (an encrypted object of a whole number of MiB ends in such a stripe).
const TAIL_WITH_PREVIOUS: u64 = 64 * 1024;

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
    /// Chunks read but not yet answered (a stripe and its short tail).
    ready: VecDeque<Bytes>,
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
            ready: VecDeque::new(),
            degraded: false,
            done: false,
        }
    }

    /// Next chunk of the range (at most one stripe of data); None at the end. After an error
    /// the reader is finished.
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, ErasureError>> {
        if let Some(b) = self.ready.pop_front() {
            return Some(Ok(b));
        }
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
            Ok(outs) => {
                if outs.iter().any(|o| o.degraded) && !self.degraded {
                    self.degraded = true;
                    if let Some(hook) = &self.on_damage {
                        hook(self.id);
                    }
                }
                self.spawn_next();
                self.ready.extend(outs.into_iter().map(|o| o.bytes));
                self.ready.pop_front().map(Ok)
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
        let first = self.next_stripe;
        let tail = first + 1;
        let with_tail = tail + 1 == self.end_stripe
            && tail * self.layout.stripe_len() + TAIL_WITH_PREVIOUS >= self.layout.object_size;
        self.next_stripe = if with_tail { tail + 1 } else { tail };
        let reads: Vec<(u64, usize, usize)> = (first..self.next_stripe).map(|s| self.bounds(s)).collect();
        self.inflight = Some(spawn_blocking(move || {
            let out = reads.into_iter().map(|(stripe, lo, hi)| source.read(stripe, lo, hi)).collect();
            (source, out)
        }));
        true
    }

    /// Stripe `stripe` and the offsets within it of the part of the range it holds.
    fn bounds(&self, stripe: u64) -> (u64, usize, usize) {
        let stripe_start = stripe * self.layout.stripe_len();
        let stripe_end = stripe_start + self.layout.data_len(stripe);
        let lo = (self.start.max(stripe_start) - stripe_start) as usize;
        let hi = (self.end.min(stripe_end) - stripe_start) as usize;
        (stripe, lo, hi)
    }
}
