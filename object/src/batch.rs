//! A batch of new versions committed in one command, all or none (a tar archive
//! extracted into a bucket): the data of every item is written first; if the batch
//! is refused, all of it is freed; if it commits, the versions it replaced are.

use crate::freed::shards_of;
use crate::{ObjectError, Store};
use cairn_raft::schema::{BatchPut, Command, CommandResult};
use std::sync::Arc;

impl Store {
    /// Commits `items` into `bucket` in one command; answers each new version's id
    /// (`None`: the null version), in order. A refusal names the item refused.
    pub async fn put_versions(
        self: &Arc<Self>,
        bucket: String,
        items: Vec<BatchPut>,
    ) -> Result<Vec<Option<String>>, ObjectError> {
        let fresh: Vec<_> = items.iter().filter_map(|i| shards_of(&i.version.data)).collect();
        // On a Raft error the outcome is unknown: the new shards stay for the orphan
        // collector rather than risk committed records without bytes.
        let result = self.meta.propose(Command::PutObjects { bucket, items }).await?;
        let refuse = |e: ObjectError| {
            fresh.iter().for_each(|d| self.discard(d.clone()));
            Err(e)
        };
        match result {
            CommandResult::ObjectsPut(results) => Ok(results
                .into_iter()
                .map(|r| match r {
                    CommandResult::Replaced(old) => {
                        if let Some(d) = old.as_ref().and_then(|o| shards_of(&o.data)) {
                            self.discard(d);
                        }
                        None
                    }
                    CommandResult::Versioned { version_id, freed, .. } => {
                        freed.into_iter().for_each(|d| self.discard(d));
                        version_id
                    }
                    _ => None,
                })
                .collect()),
            CommandResult::BatchRefused { index, result } => {
                let error = match *result {
                    CommandResult::NoSuchBucket => ObjectError::NoSuchBucket,
                    CommandResult::Refused(r) => ObjectError::Refused(r),
                    other => ObjectError::Unexpected(Box::new(other)),
                };
                refuse(ObjectError::InBatch { index, error: Box::new(error) })
            }
            CommandResult::QuotaExceeded(b) => refuse(ObjectError::QuotaExceeded(b)),
            other => refuse(ObjectError::Unexpected(Box::new(other))),
        }
    }
}
