//! Video annotations' commits (`raft/src/annotations.rs` holds the model; apply
//! decides frames against the video's timing, revisions, roles and replays).

use crate::{ObjectError, Store};
use cairn_raft::annotations::{Actor, AnnotationContent, AnnotationOutcome, NewAnnotation, VideoRef, VideoTiming};
use cairn_raft::schema::{Command, CommandResult};

fn outcome(r: CommandResult) -> Result<AnnotationOutcome, ObjectError> {
    match r {
        CommandResult::Annotations(o) => Ok(o),
        CommandResult::AnnotationRefused(r) => Err(ObjectError::Annotation(r)),
        other => Err(ObjectError::Unexpected(Box::new(other))),
    }
}

impl Store {
    /// Creates `items` on `video`, all or none; a replayed client id answers the
    /// annotation it made first.
    pub async fn put_annotations(
        &self,
        video: VideoRef,
        items: Vec<NewAnnotation>,
        by: Actor,
    ) -> Result<AnnotationOutcome, ObjectError> {
        outcome(self.meta.propose(Command::PutAnnotations { video, items, by }).await?)
    }

    pub async fn update_annotation(
        &self,
        id: &str,
        if_revision: Option<u32>,
        content: AnnotationContent,
        by: Actor,
    ) -> Result<AnnotationOutcome, ObjectError> {
        outcome(self.meta.propose(Command::UpdateAnnotation { id: id.into(), if_revision, content, by }).await?)
    }

    pub async fn delete_annotation(
        &self,
        id: &str,
        if_revision: Option<u32>,
        by: Actor,
    ) -> Result<AnnotationOutcome, ObjectError> {
        outcome(self.meta.propose(Command::DeleteAnnotation { id: id.into(), if_revision, by }).await?)
    }

    pub async fn set_video_timing(&self, video: VideoRef, timing: VideoTiming) -> Result<(), ObjectError> {
        match self.meta.propose(Command::SetVideoTiming { video, timing }).await? {
            CommandResult::Ok => Ok(()),
            other => outcome(other).map(|_| ()),
        }
    }
}
