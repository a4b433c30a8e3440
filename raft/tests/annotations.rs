//! Annotations in apply: a batch made whole or not at all, idempotent by client id,
//! queries by frame, author, status and thread, revisions with an expected revision,
//! who may change whose, tombstones, history, and an index rebuilt from the records.

mod common;

use cairn_raft::annotations::*;
use cairn_raft::assets::{Asset, AssetVersion, MediaMeta, MediaType, ObjectRef, Ratio};
use cairn_raft::schema::*;
use cairn_raft::{Change, MetaStore};
use common::*;
use std::collections::BTreeMap;

fn video() -> VideoRef {
    VideoRef { asset: String::new(), version: 1 }
}

fn content(frame: u64, text: &str) -> AnnotationContent {
    AnnotationContent {
        frame,
        end_frame: None,
        ms: frame * 40,
        end_ms: None,
        kind: "text".into(),
        text: Some(text.into()),
        body: r#"{"geometry":{"x":0.5,"y":0.5},"future_field":1}"#.into(),
        status: AnnotationStatus::Open,
        parent: None,
    }
}

fn actor(key: &str, role: Role) -> Actor {
    Actor { key: key.into(), name: format!("{key}-name"), role, at: 100 }
}

fn new(frame: u64, text: &str, client: Option<&str>) -> NewAnnotation {
    NewAnnotation { client_id: client.map(String::from), content: content(frame, text) }
}

async fn made(s: &MetaStore, cmd: Command) -> AnnotationOutcome {
    match s.propose(cmd).await.unwrap() {
        CommandResult::Annotations(o) => o,
        other => panic!("expected annotations, got {other:?}"),
    }
}

async fn refusal(s: &MetaStore, cmd: Command) -> AnnotationRefusal {
    match s.propose(cmd).await.unwrap() {
        CommandResult::AnnotationRefused(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A tenant, a bucket with a video object, and an asset with one version of it.
async fn setup(s: &MetaStore) -> VideoRef {
    let tenant = Tenant {
        id: "studio".into(),
        name: "Studio".into(),
        parent: None,
        quota: Quota::default(),
        warn_percent: vec![],
        created: 1,
    };
    assert_eq!(s.propose(Command::PutTenant { tenant, create: true }).await.unwrap(), CommandResult::Ok);
    create_bucket(s, "media").await;
    assert!(matches!(s.propose(put("media", "cut.mov", "aaaa", None)).await.unwrap(), CommandResult::Replaced(_)));
    let asset = Asset {
        id: String::new(),
        tenant: "studio".into(),
        project: None,
        name: "Cut".into(),
        media_type: MediaType::Video,
        status: "active".into(),
        tags: BTreeMap::new(),
        machine_tags: BTreeMap::new(),
        meta: MediaMeta { frame_rate: Some(Ratio { num: 25, den: 1 }), ..MediaMeta::default() },
        created: 1,
        updated: 1,
        created_by: "K".into(),
        versions: 0,
        latest_size: 0,
        idempotency_key: None,
        trashed_at: None,
        purge_at: None,
    };
    let version = AssetVersion {
        number: 0,
        object: ObjectRef { bucket: "media".into(), key: "cut.mov".into(), version_id: None },
        size: 0,
        etag: String::new(),
        sha256: None,
        renditions: vec![],
        created: 1,
        created_by: "K".into(),
        rollback_of: None,
    };
    let id = match s.propose(Command::PutAsset { asset, version: Some(version) }).await.unwrap() {
        CommandResult::Asset(o) => o.id,
        other => panic!("{other:?}"),
    };
    VideoRef { asset: id, ..video() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotations_are_exact_idempotent_and_revised() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    let v = setup(&s).await;
    let mut feed = s.feed().subscribe(None).unwrap();
    let ed = actor("ED", Role::Member);

    // A batch: ids in order, the feed names them; a missing video is refused.
    let batch = vec![new(300, "late", Some("q1")), new(100, "early", Some("q2")), new(200, "middle", None)];
    let o = made(&s, Command::PutAnnotations { video: v.clone(), items: batch.clone(), by: ed.clone() }).await;
    let ids: Vec<String> = o.items.iter().map(|(a, _)| a.id.clone()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids sort in the batch's order: {ids:?}");
    assert!(o.items.iter().all(|(a, replayed)| !replayed && a.revision == 1 && a.author == "ED"));
    let e = feed.next().await.unwrap();
    assert_eq!(
        e.change,
        Change::AnnotationsChanged { tenant: "studio".into(), asset: v.asset.clone(), version: 1, ids: ids.clone() }
    );
    let nowhere = VideoRef { asset: v.asset.clone(), version: 2 };
    assert_eq!(
        refusal(&s, Command::PutAnnotations { video: nowhere.clone(), items: vec![new(1, "x", None)], by: ed.clone() })
            .await,
        AnnotationRefusal::NoSuchVideo(nowhere)
    );

    // The offline queue replayed: the same client ids answer the same annotations.
    let again =
        made(&s, Command::PutAnnotations { video: v.clone(), items: batch[..2].to_vec(), by: ed.clone() }).await;
    assert_eq!(
        again.items.iter().map(|(a, r)| (a.id.clone(), *r)).collect::<Vec<_>>(),
        [(ids[0].clone(), true), (ids[1].clone(), true)]
    );
    // A client id reused for other content refuses the whole batch: nothing of it is made.
    let mixed = vec![new(500, "fresh", Some("q9")), new(300, "changed", Some("q1"))];
    assert_eq!(
        refusal(&s, Command::PutAnnotations { video: v.clone(), items: mixed, by: ed.clone() }).await,
        AnnotationRefusal::ClientIdConflict("q1".into())
    );
    assert_eq!(s.video_annotations(&v, None, 100).unwrap().len(), 3);
    let twice = vec![new(7, "same", Some("q7")), new(7, "same", Some("q7"))];
    let o2 = made(&s, Command::PutAnnotations { video: v.clone(), items: twice, by: ed.clone() }).await;
    assert_eq!(
        (o2.items[0].0.id.clone(), o2.items[1].1),
        (o2.items[1].0.id.clone(), true),
        "one annotation, then its replay"
    );
    let d7 =
        made(&s, Command::DeleteAnnotation { id: o2.items[0].0.id.clone(), if_revision: None, by: ed.clone() }).await;
    assert!(d7.items[0].0.deleted);

    // By frame, in (frame, id) order, with a range and a cursor.
    let by_frame = s.annotations_by_frame(&v, 0, u64::MAX, None, 10).unwrap();
    assert_eq!(by_frame.iter().map(|(f, _)| *f).collect::<Vec<_>>(), [100, 200, 300]);
    assert_eq!(s.annotations_by_frame(&v, 150, 300, None, 10).unwrap().len(), 2);
    let after_first = s.annotations_by_frame(&v, 0, u64::MAX, Some((100, &ids[1])), 10).unwrap();
    assert_eq!(after_first.iter().map(|(f, _)| *f).collect::<Vec<_>>(), [200, 300]);
    assert_eq!(s.annotations_by_author(&v, "ED", None, 10).unwrap(), ids);

    // A reply joins the thread; a reply to nothing is refused.
    let mut reply = new(300, "done?", None);
    reply.content.parent = Some(ids[0].clone());
    let r =
        made(&s, Command::PutAnnotations { video: v.clone(), items: vec![reply], by: actor("BO", Role::BucketOwner) })
            .await;
    assert_eq!(s.annotation_thread(&ids[0], None, 10).unwrap(), [r.items[0].0.id.clone()]);
    let mut orphan = new(1, "?", None);
    orphan.content.parent = Some("nope".into());
    assert_eq!(
        refusal(&s, Command::PutAnnotations { video: v.clone(), items: vec![orphan], by: ed.clone() }).await,
        AnnotationRefusal::NoSuchParent("nope".into())
    );

    // Revisions: an edit names the revision it saw; a stale one gets the current.
    let resolved = AnnotationContent { status: AnnotationStatus::Resolved, ..content(300, "late, fixed") };
    let up = made(
        &s,
        Command::UpdateAnnotation {
            id: ids[0].clone(),
            if_revision: Some(1),
            content: resolved.clone(),
            by: ed.clone(),
        },
    )
    .await;
    assert_eq!(up.items[0].0.revision, 2);
    match refusal(
        &s,
        Command::UpdateAnnotation {
            id: ids[0].clone(),
            if_revision: Some(1),
            content: content(300, "stale"),
            by: ed.clone(),
        },
    )
    .await
    {
        AnnotationRefusal::RevisionMoved(now) => {
            assert_eq!((now.revision, now.content.text.as_deref()), (2, Some("late, fixed")))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.annotations_by_status(&v, AnnotationStatus::Resolved, None, 10).unwrap(), [ids[0].clone()]);
    let history = s.annotation_history(&ids[0]).unwrap();
    assert_eq!(
        history.iter().map(|a| (a.revision, a.content.text.clone())).collect::<Vec<_>>(),
        [(1, Some("late".to_string()))]
    );

    // Who may change whose: another member may not; a bucket owner may change a
    // member's, not a tenant admin's; the author always may.
    let other = actor("OT", Role::Member);
    assert_eq!(
        refusal(&s, Command::DeleteAnnotation { id: ids[1].clone(), if_revision: None, by: other }).await,
        AnnotationRefusal::NotAllowed { author_role: Role::Member }
    );
    let ta = actor("TA", Role::TenantAdmin);
    let boss =
        made(&s, Command::PutAnnotations { video: v.clone(), items: vec![new(50, "from the top", None)], by: ta })
            .await;
    let boss_id = boss.items[0].0.id.clone();
    let owner = actor("BO", Role::BucketOwner);
    assert_eq!(
        refusal(&s, Command::DeleteAnnotation { id: boss_id.clone(), if_revision: None, by: owner.clone() }).await,
        AnnotationRefusal::NotAllowed { author_role: Role::TenantAdmin }
    );
    made(
        &s,
        Command::UpdateAnnotation {
            id: ids[1].clone(),
            if_revision: None,
            content: content(100, "owner's edit"),
            by: owner,
        },
    )
    .await;

    // A delete leaves a tombstone: out of every index, still read by id and by sync.
    let d = made(&s, Command::DeleteAnnotation { id: ids[2].clone(), if_revision: Some(1), by: ed.clone() }).await;
    assert!(d.items[0].0.deleted && d.items[0].0.revision == 2);
    assert!(s.annotation(&ids[2]).unwrap().unwrap().deleted);
    assert!(!s.annotations_by_frame(&v, 0, u64::MAX, None, 10).unwrap().iter().any(|(_, id)| id == &ids[2]));
    assert!(s.video_annotations(&v, None, 100).unwrap().iter().any(|a| a.id == ids[2] && a.deleted));
    assert!(matches!(
        refusal(&s, Command::DeleteAnnotation { id: ids[2].clone(), if_revision: None, by: ed.clone() }).await,
        AnnotationRefusal::NoSuchAnnotation(_)
    ));
    // Unknown fields of the body are kept as they were sent.
    assert!(s.annotation(&ids[0]).unwrap().unwrap().content.body.contains("future_field"));

    // The index is derived: dropped, it is rebuilt from the records on open.
    let before = s.annotations_by_frame(&v, 0, u64::MAX, None, 100).unwrap();
    drop(s);
    {
        let db = open_sled_after_drop(dir.path());
        db.open_tree("sm_annotation_index").unwrap().clear().unwrap();
        db.open_tree("sm_meta").unwrap().remove("annotations_indexed").unwrap();
        db.flush().unwrap();
    }
    let s = reopen(dir.path()).await;
    assert_eq!(s.annotations_by_frame(&v, 0, u64::MAX, None, 100).unwrap(), before);
    assert_eq!(s.annotation_thread(&ids[0], None, 10).unwrap().len(), 1);

    // A purged asset takes its annotations with it: records, history, index.
    assert!(matches!(
        s.propose(Command::TrashAsset { id: v.asset.clone(), at: 200 }).await.unwrap(),
        CommandResult::Asset(_)
    ));
    assert!(matches!(
        s.propose(Command::PurgeAsset { id: v.asset.clone(), at: 201, due: false }).await.unwrap(),
        CommandResult::Asset(_)
    ));
    assert!(s.video_annotations(&v, None, 100).unwrap().is_empty());
    assert!(s.annotation(&ids[0]).unwrap().is_none());
    assert!(s.annotation_history(&ids[0]).unwrap().is_empty());
    assert!(s.annotations_by_frame(&v, 0, u64::MAX, None, 100).unwrap().is_empty());
    assert!(s.annotation_thread(&ids[0], None, 10).unwrap().is_empty());
    assert_eq!(s.live_sequence(&v).unwrap(), 0, "the live sequence went with the asset");
    assert_eq!(s.live_events(&v, 0, 10).unwrap(), Some(vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_are_checked_against_the_timing_and_every_change_is_a_live_event() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    let v = setup(&s).await;
    let ed = actor("ED", Role::Member);

    // The asset says 25 fps: frame 10 starts at 400 ms and ends before 440.
    assert_eq!(s.video_timing(&v).unwrap().map(|t| t.rate), Some(Ratio { num: 25, den: 1 }));
    let mut at = new(10, "ok", None);
    at.content.ms = 439;
    made(&s, Command::PutAnnotations { video: v.clone(), items: vec![at.clone()], by: ed.clone() }).await;
    at.content.ms = 440;
    assert_eq!(
        refusal(&s, Command::PutAnnotations { video: v.clone(), items: vec![at], by: ed.clone() }).await,
        AnnotationRefusal::TimingDisagrees { frame: 10, ms: 440 }
    );

    // Timing set through the API wins over the metadata: 30000/1001 with 100 frames.
    let ntsc = VideoTiming {
        rate: Ratio { num: 30000, den: 1001 },
        frames: Some(100),
        duration_ms: None,
        start_frame: 0,
        drop_frame: true,
    };
    assert_eq!(s.propose(Command::SetVideoTiming { video: v.clone(), timing: ntsc }).await.unwrap(), CommandResult::Ok);
    assert!(s.video_timing_is_set(&v).unwrap());
    let mut f = new(99, "last frame", None);
    f.content.ms = 3304; // frame 99 starts at ceil(99 × 1001 / 30) = 3303.3 → 3304 ms
    made(&s, Command::PutAnnotations { video: v.clone(), items: vec![f.clone()], by: ed.clone() }).await;
    f.content.frame = 100;
    f.content.ms = 3337;
    assert_eq!(
        refusal(&s, Command::PutAnnotations { video: v.clone(), items: vec![f], by: ed.clone() }).await,
        AnnotationRefusal::OutsideVideo { frame: 100, frames: Some(100) }
    );
    let nowhere = VideoRef { asset: v.asset.clone(), version: 9 };
    assert_eq!(
        s.propose(Command::SetVideoTiming { video: nowhere.clone(), timing: ntsc }).await.unwrap(),
        CommandResult::AnnotationRefused(AnnotationRefusal::NoSuchVideo(nowhere))
    );

    // Every change is one event of the video's sequence, in commit order.
    let first = s.video_annotations(&v, None, 10).unwrap()[0].id.clone();
    let mut c = s.annotation(&first).unwrap().unwrap().content;
    c.ms = 334; // frame 10 at 30000/1001
    made(&s, Command::UpdateAnnotation { id: first.clone(), if_revision: None, content: c.clone(), by: ed.clone() })
        .await;
    c.status = AnnotationStatus::Resolved;
    made(&s, Command::UpdateAnnotation { id: first.clone(), if_revision: None, content: c.clone(), by: ed.clone() })
        .await;
    made(&s, Command::DeleteAnnotation { id: first.clone(), if_revision: None, by: ed.clone() }).await;
    let events = s.live_events(&v, 0, 100).unwrap().unwrap();
    let seen: Vec<(u64, LiveKind, u32)> = events.iter().map(|(n, e)| (*n, e.kind, e.revision)).collect();
    assert_eq!(
        seen,
        [
            (1, LiveKind::Created, 1),
            (2, LiveKind::Created, 1),
            (3, LiveKind::Updated, 2),
            (4, LiveKind::StatusChanged, 3),
            (5, LiveKind::Deleted, 4)
        ]
    );
    assert_eq!(s.live_sequence(&v).unwrap(), 5);
    assert_eq!(s.live_events(&v, 3, 100).unwrap().unwrap().len(), 2, "resuming after 3 gives 4 and 5");
    // Each event's revision is readable as it was.
    let r2 = s.annotation_revision(&first, 2).unwrap().unwrap();
    assert_eq!((r2.revision, r2.content.ms, r2.content.status), (2, 334, AnnotationStatus::Open));
}
