//! The asset catalogue in apply: registration against objects that exist, the
//! version chain, rollback, idempotency, the indexes every query scans, exact stats,
//! and an index rebuilt from the records.

mod common;

use cairn_raft::assets::*;
use cairn_raft::schema::*;
use cairn_raft::{AssetQuery, Change, MetaStore};
use common::*;
use std::collections::BTreeMap;

fn tenant(id: &str) -> Tenant {
    Tenant { id: id.into(), name: id.into(), parent: None, quota: Quota::default(), warn_percent: vec![], created: 1 }
}

fn asset(tenant: &str, name: &str, t: MediaType, created: Nanos) -> Asset {
    Asset {
        id: String::new(),
        tenant: tenant.into(),
        project: None,
        name: name.into(),
        media_type: t,
        status: "active".into(),
        tags: BTreeMap::new(),
        machine_tags: BTreeMap::new(),
        meta: MediaMeta::default(),
        created,
        updated: created,
        created_by: "K1".into(),
        versions: 0,
        latest_size: 0,
        idempotency_key: None,
        trashed_at: None,
        purge_at: None,
    }
}

fn obj(bucket: &str, key: &str) -> ObjectRef {
    ObjectRef { bucket: bucket.into(), key: key.into(), version_id: None }
}

fn ver(o: ObjectRef, at: Nanos) -> AssetVersion {
    AssetVersion {
        number: 0,
        object: o,
        // What a request claims is never kept: apply takes the object's own figures.
        size: 999_999,
        etag: "claimed".into(),
        sha256: Some("ab".repeat(32)),
        renditions: vec![],
        created: at,
        created_by: "K1".into(),
        rollback_of: None,
    }
}

async fn made(s: &MetaStore, cmd: Command) -> AssetOutcome {
    match s.propose(cmd).await.unwrap() {
        CommandResult::Asset(o) => o,
        other => panic!("expected an asset outcome, got {other:?}"),
    }
}

async fn refusal(s: &MetaStore, cmd: Command) -> AssetRefusal {
    match s.propose(cmd).await.unwrap() {
        CommandResult::AssetRefused(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn query(tenant: &str, scan: IndexScan) -> AssetQuery {
    AssetQuery { tenant: tenant.into(), scan, from: None, until: None, after: None, descending: false, limit: 100 }
}

fn ids(s: &MetaStore, q: &AssetQuery) -> Vec<String> {
    s.asset_positions(q).unwrap().into_iter().map(|(_, id)| id).collect()
}

fn stats(s: &MetaStore, tenant: &str, t: MediaType) -> (u64, u64) {
    let all = s.asset_stats(tenant).unwrap();
    let st = all.iter().find(|(m, _)| *m == t).unwrap().1;
    (st.count, st.bytes)
}

async fn setup(s: &MetaStore) {
    for t in ["studio", "school"] {
        let r = s.propose(Command::PutTenant { tenant: tenant(t), create: true }).await.unwrap();
        assert_eq!(r, CommandResult::Ok);
    }
    create_bucket(s, "media").await;
    for (k, body) in [("cut1.mov", "aaaa"), ("cut2.mov", "bbbbbbbb"), ("poster.jpg", "cc")] {
        let r = s.propose(put("media", k, body, None)).await.unwrap();
        assert!(matches!(r, CommandResult::Replaced(_)), "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_chain_rollback_and_idempotency() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    setup(&s).await;
    let mut feed = s.feed().subscribe(None).unwrap();

    // A version takes its size and ETag from the object it points at.
    let a = asset("studio", "Cut", MediaType::Video, 10);
    let o = made(&s, Command::PutAsset { asset: a.clone(), version: Some(ver(obj("media", "cut1.mov"), 10)) }).await;
    assert_eq!((o.tenant.as_str(), o.version, o.replayed), ("studio", 1, false));
    let v1 = s.asset_version(&o.id, 1).unwrap().unwrap();
    assert_eq!((v1.size, v1.etag.as_str()), (4, "aaaa"));
    let rec = s.asset(&o.id).unwrap().unwrap();
    assert_eq!((rec.versions, rec.latest_size, rec.id.len()), (1, 4, 24));
    let e = feed.next().await.unwrap();
    assert_eq!(e.change, Change::AssetCreated { tenant: "studio".into(), id: o.id.clone(), version: 1 });

    // Objects that do not exist are refused, naming the field at fault.
    let missing = ver(obj("media", "nope.mov"), 11);
    let r = refusal(&s, Command::PutAsset { asset: a.clone(), version: Some(missing.clone()) }).await;
    assert!(matches!(r, AssetRefusal::NoSuchObject { ref field, .. } if field == "object"), "{r:?}");
    let mut with_rendition = ver(obj("media", "cut2.mov"), 11);
    with_rendition.renditions =
        vec![Rendition { role: "poster".into(), object: obj("media", "gone.jpg"), size: 0, etag: String::new() }];
    let r =
        refusal(&s, Command::AddAssetVersion { id: o.id.clone(), version: with_rendition.clone(), if_versions: None })
            .await;
    assert!(matches!(r, AssetRefusal::NoSuchObject { ref field, .. } if field == "renditions[0].object"), "{r:?}");
    let r = refusal(&s, Command::PutAsset { asset: asset("nobody", "x", MediaType::Image, 1), version: None }).await;
    assert_eq!(r, AssetRefusal::NoSuchTenant("nobody".into()));

    // The next version, guarded by the chain's length.
    with_rendition.renditions[0].object = obj("media", "poster.jpg");
    let v2 =
        made(&s, Command::AddAssetVersion { id: o.id.clone(), version: with_rendition, if_versions: Some(1) }).await;
    assert_eq!(v2.version, 2);
    let r = refusal(&s, Command::AddAssetVersion { id: o.id.clone(), version: missing, if_versions: Some(1) }).await;
    assert_eq!(r, AssetRefusal::ChainMoved { versions: 2 });
    let got = s.asset_version(&o.id, 2).unwrap().unwrap();
    assert_eq!((got.size, got.renditions[0].size, got.renditions[0].etag.as_str()), (8, 2, "cc"));
    assert_eq!(stats(&s, "studio", MediaType::Video), (1, 8), "the latest version's size");

    // Rollback appends a version identical to the old one: same object, same hash.
    let rb = made(&s, Command::RollbackAsset { id: o.id.clone(), to: 1, at: 20, by: "K2".into() }).await;
    assert_eq!(rb.version, 3);
    let v3 = s.asset_version(&o.id, 3).unwrap().unwrap();
    assert_eq!((v3.object.clone(), v3.sha256.clone(), v3.size), (v1.object.clone(), v1.sha256.clone(), 4));
    assert_eq!((v3.rollback_of, v3.created_by.as_str(), v3.created), (Some(1), "K2", 20));
    assert_eq!(stats(&s, "studio", MediaType::Video), (1, 4));
    let r = refusal(&s, Command::RollbackAsset { id: o.id.clone(), to: 9, at: 21, by: "K2".into() }).await;
    assert_eq!(r, AssetRefusal::NoSuchVersion(9));
    let chain: Vec<u32> = s.asset_versions(&o.id, 0, 10).unwrap().iter().map(|v| v.number).collect();
    assert_eq!(chain, [1, 2, 3]);
    assert_eq!(s.asset_versions(&o.id, 1, 1).unwrap()[0].number, 2, "paged after a number");

    // Idempotent registration: the same key and request answer the first asset;
    // another request under the same key is refused; neither changes anything.
    let keyed = Asset { idempotency_key: Some("upload-7".into()), ..asset("studio", "Still", MediaType::Image, 30) };
    let first =
        made(&s, Command::PutAsset { asset: keyed.clone(), version: Some(ver(obj("media", "poster.jpg"), 30)) }).await;
    let again =
        made(&s, Command::PutAsset { asset: keyed.clone(), version: Some(ver(obj("media", "poster.jpg"), 31)) }).await;
    assert_eq!((again.id.as_str(), again.replayed), (first.id.as_str(), true));
    let other = Asset { name: "Other".into(), ..keyed.clone() };
    let r = refusal(&s, Command::PutAsset { asset: other, version: None }).await;
    assert_eq!(r, AssetRefusal::IdempotencyConflict("upload-7".into()));
    assert_eq!(stats(&s, "studio", MediaType::Image), (1, 2));
    // The same key in another tenant is another registration.
    let elsewhere = Asset { tenant: "school".into(), ..keyed };
    assert_ne!(made(&s, Command::PutAsset { asset: elsewhere, version: None }).await.id, first.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_is_an_index_scan_and_stats_stay_exact() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    setup(&s).await;
    // 30 assets over three types, created at 100, 101, …; every third tagged.
    let mut made_ids = Vec::new();
    for i in 0..30i64 {
        let t = [MediaType::Video, MediaType::Image, MediaType::Audio][(i % 3) as usize];
        let mut a = asset("studio", &format!("a{i:02}"), t, 100 + i);
        if i % 3 == 0 {
            a.tags.insert("show".into(), "tides".into());
            a.project = Some("tides".into());
        }
        let o = made(&s, Command::PutAsset { asset: a, version: Some(ver(obj("media", "cut1.mov"), 100 + i)) }).await;
        made_ids.push(o.id);
    }
    made(&s, Command::PutAsset { asset: asset("school", "lecture", MediaType::Video, 5), version: None }).await;

    assert_eq!(ids(&s, &query("studio", IndexScan::Tenant)), made_ids, "a tenant's assets, oldest first");
    let videos: Vec<String> = made_ids.iter().step_by(3).cloned().collect();
    assert_eq!(ids(&s, &query("studio", IndexScan::MediaType(MediaType::Video))), videos);
    assert_eq!(ids(&s, &query("studio", IndexScan::Tag("show".into(), "tides".into()))), videos);
    assert_eq!(ids(&s, &query("studio", IndexScan::Project("tides".into()))), videos);
    assert_eq!(ids(&s, &query("school", IndexScan::Tenant)).len(), 1, "tenants never mix");

    // Pages by (created, id) cursor, both ways, and a created-time window.
    let mut q = AssetQuery { limit: 7, ..query("studio", IndexScan::Tenant) };
    let mut paged = Vec::new();
    loop {
        let page = s.asset_positions(&q).unwrap();
        let Some(last) = page.last().cloned() else { break };
        paged.extend(page.into_iter().map(|(_, id)| id));
        q.after = Some(last);
    }
    assert_eq!(paged, made_ids);
    let newest = AssetQuery { descending: true, limit: 3, ..query("studio", IndexScan::Tenant) };
    let rev: Vec<String> = made_ids.iter().rev().take(3).cloned().collect();
    assert_eq!(ids(&s, &newest), rev);
    let window = AssetQuery { from: Some(110), until: Some(115), ..query("studio", IndexScan::Tenant) };
    assert_eq!(ids(&s, &window), made_ids[10..15]);

    // Stats are exact at commit: 10 assets of each type, 4 bytes each.
    assert_eq!(stats(&s, "studio", MediaType::Video), (10, 40));
    assert_eq!(stats(&s, "studio", MediaType::Document), (0, 0));

    // An update moves the asset between indexes and stats in the same commit.
    let patch = AssetPatch {
        status: Some("archived".into()),
        tags: Some(BTreeMap::from([("show".into(), "harbour".into())])),
        ..Default::default()
    };
    made(&s, Command::UpdateAsset { id: made_ids[0].clone(), patch, at: 500 }).await;
    assert_eq!(ids(&s, &query("studio", IndexScan::Tag("show".into(), "tides".into()))), videos[1..]);
    assert_eq!(ids(&s, &query("studio", IndexScan::Tag("show".into(), "harbour".into()))), videos[..1]);
    assert_eq!(ids(&s, &query("studio", IndexScan::Status("archived".into()))), videos[..1]);
    assert_eq!(ids(&s, &query("studio", IndexScan::Status("active".into()))).len(), 29);

    // The index is derived: dropped, it is rebuilt from the records on open.
    drop(s);
    {
        let db = open_sled_after_drop(dir.path());
        db.open_tree("sm_asset_index").unwrap().clear().unwrap();
        db.open_tree("sm_meta").unwrap().remove("assets_indexed").unwrap();
        db.flush().unwrap();
    }
    let s = reopen(dir.path()).await;
    assert_eq!(ids(&s, &query("studio", IndexScan::Tenant)), made_ids);
    // Versions' entries too: every version by its content, in the tenant's own index.
    let sha = "ab".repeat(32);
    assert_eq!(s.asset_contents("studio", &sha, Some(4), 100).unwrap().len(), 30);
    assert!(s.asset_contents("school", &sha, None, 100).unwrap().is_empty());
    assert_eq!(ids(&s, &query("studio", IndexScan::Status("archived".into()))), videos[..1]);
    assert_eq!(stats(&s, "studio", MediaType::Video), (10, 40));
    assert_eq!(stats(&s, "studio", MediaType::Audio), (10, 40));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trash_restore_and_purge_free_only_what_nothing_else_points_at() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    setup(&s).await;
    let reg = |name: &str, key: &str, at: Nanos| Command::PutAsset {
        asset: Asset { idempotency_key: Some(format!("k-{name}")), ..asset("studio", name, MediaType::Video, at) },
        version: Some(ver(obj("media", key), at)),
    };
    let a = made(&s, reg("A", "cut1.mov", 10)).await.id;
    made(&s, Command::AddAssetVersion { id: a.clone(), version: ver(obj("media", "cut2.mov"), 11), if_versions: None })
        .await;
    let b = made(&s, reg("B", "cut1.mov", 12)).await.id;
    let c = made(&s, reg("C", "poster.jpg", 13)).await.id;
    assert_eq!(stats(&s, "studio", MediaType::Video), (3, 8 + 4 + 2));

    // Trashed: out of the lists and the stats, into the trash; nothing changes it there.
    let trashed = made(&s, Command::TrashAsset { id: a.clone(), at: 100 }).await;
    assert_eq!(trashed.id, a);
    assert_eq!(ids(&s, &query("studio", IndexScan::Tenant)), [b.clone(), c.clone()]);
    assert_eq!(ids(&s, &query("studio", IndexScan::Trash)), [a.as_str()]);
    assert_eq!(stats(&s, "studio", MediaType::Video), (2, 6));
    let rec = s.asset(&a).unwrap().unwrap();
    let week = 7 * 24 * 3600 * 1_000_000_000;
    assert_eq!((rec.trashed_at, rec.purge_at), (Some(100), Some(100 + week)));
    let patch = AssetPatch { status: Some("x".into()), ..Default::default() };
    assert_eq!(refusal(&s, Command::UpdateAsset { id: a.clone(), patch, at: 101 }).await, AssetRefusal::InTrash);
    assert_eq!(refusal(&s, Command::TrashAsset { id: a.clone(), at: 101 }).await, AssetRefusal::InTrash);
    assert_eq!(refusal(&s, Command::RestoreAsset { id: b.clone(), at: 101 }).await, AssetRefusal::NotInTrash);
    assert_eq!(refusal(&s, Command::PurgeAsset { id: b.clone(), at: 101, due: false }).await, AssetRefusal::NotInTrash);

    // Restored where it was; trashed again; an expiry purge before its time is refused.
    made(&s, Command::RestoreAsset { id: a.clone(), at: 200 }).await;
    assert_eq!(ids(&s, &query("studio", IndexScan::Tenant)), [a.clone(), b.clone(), c.clone()]);
    assert_eq!(stats(&s, "studio", MediaType::Video), (3, 14));
    made(&s, Command::TrashAsset { id: a.clone(), at: 300 }).await;
    let early = Command::PurgeAsset { id: a.clone(), at: 300 + week - 1, due: true };
    assert_eq!(refusal(&s, early).await, AssetRefusal::NotDue);

    // The purge: cut2.mov was only A's and goes; cut1.mov is still B's and stays.
    let p = made(&s, Command::PurgeAsset { id: a.clone(), at: 300 + week, due: true }).await;
    assert_eq!((p.objects_deleted, p.objects_kept), (1, 1));
    assert!(s.get_object("media", "cut2.mov").unwrap().is_none());
    assert!(s.get_object("media", "cut1.mov").unwrap().is_some());
    assert!(s.asset(&a).unwrap().is_none() && s.asset_version(&a, 1).unwrap().is_none());
    assert!(ids(&s, &query("studio", IndexScan::Trash)).is_empty());
    // Its idempotency key is free again.
    let again = made(&s, reg("A", "cut1.mov", 400)).await;
    assert!(!again.replayed && again.id != a);

    // A tenant's own retention: zero seconds purges at once when due.
    let r = s.propose(Command::SetTrashRetention { tenant: "studio".into(), secs: 0 }).await.unwrap();
    assert_eq!(r, CommandResult::Ok);
    made(&s, Command::TrashAsset { id: c.clone(), at: 500 }).await;
    assert_eq!(s.asset(&c).unwrap().unwrap().purge_at, Some(500));
    let p = made(&s, Command::PurgeAsset { id: c.clone(), at: 500, due: true }).await;
    assert_eq!((p.objects_deleted, p.objects_kept), (1, 0));
    assert!(s.get_object("media", "poster.jpg").unwrap().is_none());

    // The feed tells it all, in order.
    let kinds: Vec<AssetEventKind> =
        s.asset_events("studio", None, 100).unwrap().into_iter().map(|(_, e)| e.kind).collect();
    use AssetEventKind::*;
    assert_eq!(
        kinds,
        [Created, VersionAdded, Created, Created, Trashed, Restored, Trashed, Purged, Created, Trashed, Purged]
    );
    // Events older than the feed keeps are dropped, oldest first, as new ones arrive
    // (up to the first one still kept: the purge above was stamped a week ahead).
    let late = ASSET_EVENTS_KEPT + 1000;
    made(&s, Command::PutAsset { asset: asset("studio", "Late", MediaType::Audio, late), version: None }).await;
    let left: Vec<Nanos> = s.asset_events("studio", None, 100).unwrap().into_iter().map(|(_, e)| e.at).collect();
    assert_eq!(left, [300 + week, 400, 500, 500, late]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_grant_exactly_the_assets_objects_until_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    setup(&s).await;
    let mut v = ver(obj("media", "cut1.mov"), 10);
    v.renditions =
        vec![Rendition { role: "poster".into(), object: obj("media", "poster.jpg"), size: 0, etag: String::new() }];
    let a =
        made(&s, Command::PutAsset { asset: asset("studio", "A", MediaType::Video, 10), version: Some(v) }).await.id;
    let share = |tenant: &str| Command::ShareAsset {
        id: a.clone(),
        tenant: tenant.into(),
        permission: SharePermission::Read,
        at: 20,
        by: "K1".into(),
    };
    assert_eq!(refusal(&s, share("studio")).await, AssetRefusal::ShareWithOwner);
    assert_eq!(refusal(&s, share("nobody")).await, AssetRefusal::NoSuchTenant("nobody".into()));
    made(&s, share("school")).await;
    let got = s.asset_share(&a, "school").unwrap().unwrap();
    assert_eq!((got.owner.as_str(), got.permission, got.created), ("studio", SharePermission::Read, 20));
    assert_eq!(s.incoming_shares("school", None, 10).unwrap(), [(20, a.clone())]);
    // Exactly the asset's objects (its renditions included), nothing else of the bucket.
    assert!(s.shared_with("school", &obj("media", "cut1.mov")).unwrap());
    assert!(s.shared_with("school", &obj("media", "poster.jpg")).unwrap());
    assert!(!s.shared_with("school", &obj("media", "cut2.mov")).unwrap());
    assert!(!s.shared_with("studio", &obj("media", "cut1.mov")).unwrap(), "a share is for the tenant named");
    // Both feeds hear of it, each naming the other tenant.
    let last = |t: &str| s.asset_events(t, None, 100).unwrap().pop().unwrap().1;
    assert_eq!((last("school").kind, last("school").with.as_deref()), (AssetEventKind::Shared, Some("studio")));
    assert_eq!((last("studio").kind, last("studio").with.as_deref()), (AssetEventKind::Shared, Some("school")));
    // A trashed asset grants nothing; revoked, nothing either.
    made(&s, Command::TrashAsset { id: a.clone(), at: 30 }).await;
    assert!(!s.shared_with("school", &obj("media", "cut1.mov")).unwrap());
    made(&s, Command::RestoreAsset { id: a.clone(), at: 31 }).await;
    assert!(s.shared_with("school", &obj("media", "cut1.mov")).unwrap());
    made(&s, Command::RevokeShare { id: a.clone(), tenant: "school".into(), at: 40 }).await;
    assert!(!s.shared_with("school", &obj("media", "cut1.mov")).unwrap());
    assert!(s.incoming_shares("school", None, 10).unwrap().is_empty());
    let again = refusal(&s, Command::RevokeShare { id: a.clone(), tenant: "school".into(), at: 41 }).await;
    assert_eq!(again, AssetRefusal::NoSuchShare("school".into()));
    // A purge takes its shares with it.
    made(&s, share("school")).await;
    made(&s, Command::TrashAsset { id: a.clone(), at: 50 }).await;
    made(&s, Command::PurgeAsset { id: a.clone(), at: 51, due: false }).await;
    assert!(s.asset_shares(&a).unwrap().is_empty());
    assert!(s.incoming_shares("school", None, 10).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_moves_objects_and_usage_in_one_commit_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    setup(&s).await;
    let school_key = school_key_template();
    let tenancy = KeyTenancy { tenant: Some("school".into()), tenant_admin: false, quota: Quota::default() };
    assert_eq!(s.propose(Command::PutAccessKeyIn { key: school_key, tenancy }).await.unwrap(), CommandResult::Ok);
    assert_eq!(
        s.propose(Command::CreateBucket { bucket: bucket("school-media", "KS") }).await.unwrap(),
        CommandResult::Ok
    );
    // The studio's own bucket (its key's tenant is the studio), with the objects.
    let studio_key = AccessKey { access_key_id: "KT".into(), name: "KT".into(), ..school_key_template() };
    let tenancy = KeyTenancy { tenant: Some("studio".into()), tenant_admin: false, quota: Quota::default() };
    assert_eq!(s.propose(Command::PutAccessKeyIn { key: studio_key, tenancy }).await.unwrap(), CommandResult::Ok);
    assert_eq!(
        s.propose(Command::CreateBucket { bucket: bucket("studio-media", "KT") }).await.unwrap(),
        CommandResult::Ok
    );
    for (k, body) in [("cut1.mov", "aaaa"), ("cut2.mov", "bbbbbbbb"), ("poster.jpg", "cc")] {
        assert!(matches!(s.propose(put("studio-media", k, body, None)).await.unwrap(), CommandResult::Replaced(_)));
    }
    let mut v2 = ver(obj("studio-media", "cut2.mov"), 11);
    v2.renditions = vec![Rendition {
        role: "poster".into(),
        object: obj("studio-media", "poster.jpg"),
        size: 0,
        etag: String::new(),
    }];
    let a = made(
        &s,
        Command::PutAsset {
            asset: asset("studio", "A", MediaType::Video, 10),
            version: Some(ver(obj("studio-media", "cut1.mov"), 10)),
        },
    )
    .await
    .id;
    made(&s, Command::AddAssetVersion { id: a.clone(), version: v2, if_versions: None }).await;
    let move_to = |bucket: &str| Command::TransferAsset {
        id: a.clone(),
        tenant: "school".into(),
        bucket: bucket.into(),
        at: 50,
        by: "KS".into(),
    };
    let school_pool = || {
        let u = s.pool_usage(&Pool::Tenant("school".into())).unwrap();
        (u.bytes, u.objects)
    };
    assert_eq!(refusal(&s, move_to("studio-media")).await, AssetRefusal::NotTenantBucket("studio-media".into()));

    // The school's quota cannot take 14 bytes: refused, and nothing changed anywhere.
    let limited = Tenant { quota: Quota { bytes: Some(10), objects: None }, ..tenant("school") };
    assert_eq!(s.propose(Command::PutTenant { tenant: limited, create: false }).await.unwrap(), CommandResult::Ok);
    let r = s.propose(move_to("school-media")).await.unwrap();
    assert!(matches!(r, CommandResult::QuotaExceeded(_)), "{r:?}");
    assert_eq!(s.asset(&a).unwrap().unwrap().tenant, "studio");
    assert!(s.get_object("studio-media", "cut1.mov").unwrap().is_some());
    assert!(s.get_object("school-media", "cut1.mov").unwrap().is_none());
    assert_eq!(school_pool(), (0, 0));
    assert_eq!(s.asset_version(&a, 2).unwrap().unwrap().object, obj("studio-media", "cut2.mov"));

    // A key that is there already: refused, nothing changed (cut1 was not moved either).
    assert!(matches!(
        s.propose(put("school-media", "poster.jpg", "zz", None)).await.unwrap(),
        CommandResult::Replaced(_)
    ));
    let roomy = Tenant { quota: Quota { bytes: Some(100), objects: None }, ..tenant("school") };
    assert_eq!(s.propose(Command::PutTenant { tenant: roomy, create: false }).await.unwrap(), CommandResult::Ok);
    assert_eq!(refusal(&s, move_to("school-media")).await, AssetRefusal::DestinationExists("poster.jpg".into()));
    assert!(s.get_object("studio-media", "cut1.mov").unwrap().is_some());
    assert!(s.get_object("school-media", "cut1.mov").unwrap().is_none());
    let r = s.propose(Command::DeleteObject { bucket: "school-media".into(), key: "poster.jpg".into() }).await.unwrap();
    assert!(matches!(r, CommandResult::Replaced(Some(_))), "{r:?}");

    // Another asset pointing at one of its objects keeps it where it is.
    let b = made(
        &s,
        Command::PutAsset {
            asset: asset("studio", "B", MediaType::Image, 20),
            version: Some(ver(obj("studio-media", "poster.jpg"), 20)),
        },
    )
    .await
    .id;
    assert_eq!(
        refusal(&s, move_to("school-media")).await,
        AssetRefusal::ObjectShared(obj("studio-media", "poster.jpg"))
    );
    made(&s, Command::TrashAsset { id: b.clone(), at: 21 }).await;
    made(&s, Command::PurgeAsset { id: b.clone(), at: 22, due: false }).await;
    // Purging B keeps poster.jpg: A points at it too.
    assert!(s.get_object("studio-media", "poster.jpg").unwrap().is_some());

    // Now it moves: the records, the objects (same data, new bucket) and the usage.
    let studio_before = s.pool_usage(&Pool::Tenant("studio".into())).unwrap();
    let data_before = s.get_object("studio-media", "cut2.mov").unwrap().unwrap().data;
    made(&s, move_to("school-media")).await;
    let moved = s.asset(&a).unwrap().unwrap();
    assert_eq!(moved.tenant, "school");
    let v2 = s.asset_version(&a, 2).unwrap().unwrap();
    assert_eq!((v2.object.bucket.as_str(), v2.renditions[0].object.bucket.as_str()), ("school-media", "school-media"));
    let landed = s.get_object("school-media", "cut2.mov").unwrap().unwrap();
    assert_eq!((landed.size, landed.data), (8, data_before), "the same data: no byte copied");
    assert!(s.get_object("studio-media", "cut1.mov").unwrap().is_none());
    assert!(s.get_object("studio-media", "poster.jpg").unwrap().is_none());
    assert_eq!(school_pool(), (14, 3));
    let studio_after = s.pool_usage(&Pool::Tenant("studio".into())).unwrap();
    assert_eq!((studio_before.bytes, studio_before.objects), (14, 3));
    assert_eq!((studio_after.bytes, studio_after.objects), (0, 0));
    assert_eq!(stats(&s, "school", MediaType::Video), (1, 8));
    assert_eq!(stats(&s, "studio", MediaType::Video), (0, 0));
    assert_eq!(ids(&s, &query("school", IndexScan::Tenant)), [a.as_str()]);
    // Its content index moved with it: the school finds the bytes, the studio no more.
    let sha = "ab".repeat(32);
    assert_eq!(s.asset_contents("school", &sha, Some(4), 10).unwrap().len(), 1);
    assert!(s.asset_contents("studio", &sha, None, 10).unwrap().is_empty());
    let kinds = |t: &str| s.asset_events(t, None, 100).unwrap().into_iter().map(|(_, e)| e.kind).collect::<Vec<_>>();
    assert_eq!(kinds("school").last(), Some(&AssetEventKind::Transferred));
    assert_eq!(kinds("studio").last(), Some(&AssetEventKind::Transferred));
}

fn school_key_template() -> AccessKey {
    AccessKey {
        access_key_id: "KS".into(),
        sealed_secret: vec![1],
        name: "KS".into(),
        is_root: false,
        created: 1,
        admin: false,
    }
}
