//! Tenants and quotas in the state machine: nesting, the carving rule, what a tenant
//! must hold no more of before it goes; pools of bucket, key, tenant and every
//! ancestor charged with every write and given back by every removal; writes that
//! would pass a limit refused whole, concurrent ones included; and the pools rebuilt
//! from the data.

mod common;

use cairn_raft::schema::*;
use cairn_raft::{Change, MetaStore, MEMBER_BUCKETS};
use common::*;

fn tenant(id: &str, parent: Option<&str>, bytes: Option<u64>, objects: Option<u64>) -> Tenant {
    Tenant {
        id: id.into(),
        name: format!("{id}-name"),
        parent: parent.map(String::from),
        quota: Quota { bytes, objects },
        warn_percent: vec![80, 95],
        created: 1,
    }
}

fn key(id: &str) -> AccessKey {
    AccessKey {
        access_key_id: id.into(),
        sealed_secret: vec![1],
        name: id.into(),
        is_root: false,
        created: 1,
        admin: false,
    }
}

fn writer(id: &str) -> Attrs {
    Attrs::from([(ATTR_WRITER.to_string(), id.as_bytes().to_vec())])
}

fn put_by(bucket: &str, k: &str, size: u64, by: &str) -> Command {
    Command::PutObjectWith {
        bucket: bucket.into(),
        key: k.into(),
        version: ObjectVersion { size, ..version("e") },
        condition: None,
        attrs: writer(by),
    }
}

fn pool(s: &MetaStore, p: Pool) -> (u64, u64) {
    let u = s.pool_usage(&p).unwrap();
    (u.bytes, u.objects)
}

async fn ok(s: &MetaStore, cmd: Command) {
    let r = s.propose(cmd).await.unwrap();
    assert!(
        matches!(
            r,
            CommandResult::Ok
                | CommandResult::Replaced(_)
                | CommandResult::Versioned { .. }
                | CommandResult::Discard(_)
        ),
        "{r:?}"
    );
}

fn refused(r: CommandResult) -> TenantRefusal {
    match r {
        CommandResult::TenantRefused(t) => t,
        other => panic!("expected a tenant refusal, got {other:?}"),
    }
}

fn breach(r: CommandResult) -> QuotaBreach {
    match r {
        CommandResult::QuotaExceeded(b) => b,
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
}

/// studio (1000 bytes) > prod (600) > dept (no quota); key `K1` in dept, bucket `b` of K1.
async fn studio(s: &MetaStore) {
    ok(s, Command::PutTenant { tenant: tenant("studio", None, Some(1000), None), create: true }).await;
    ok(s, Command::PutTenant { tenant: tenant("prod", Some("studio"), Some(600), None), create: true }).await;
    ok(s, Command::PutTenant { tenant: tenant("dept", Some("prod"), None, None), create: true }).await;
    let tenancy = KeyTenancy { tenant: Some("dept".into()), tenant_admin: false, quota: Quota::default() };
    ok(s, Command::PutAccessKeyIn { key: key("K1"), tenancy }).await;
    ok(s, Command::CreateBucket { bucket: bucket("b", "K1") }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_nest_and_carve() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    studio(&s).await;
    assert_eq!(s.tenant_path("dept").unwrap(), ["dept", "prod", "studio"]);
    assert_eq!(s.bucket_tenant("b").unwrap().as_deref(), Some("dept"));
    assert_eq!(s.tenant_members(MEMBER_BUCKETS, "dept", None, 10).unwrap(), ["b"]);

    // Children in name order, one page at a time.
    for (id, name) in [("p2", "beta"), ("p3", "alpha")] {
        let t = Tenant { name: name.into(), ..tenant(id, Some("studio"), Some(100), None) };
        ok(&s, Command::PutTenant { tenant: t, create: true }).await;
    }
    let names = |v: Vec<Tenant>| v.into_iter().map(|t| t.name).collect::<Vec<_>>();
    assert_eq!(names(s.tenant_children(Some("studio"), None, 10).unwrap()), ["alpha", "beta", "prod-name"]);
    assert_eq!(names(s.tenant_children(Some("studio"), Some("alpha"), 1).unwrap()), ["beta"]);
    assert_eq!(names(s.tenant_children(None, None, 10).unwrap()), ["studio-name"]);

    // 600 + 100 + 100 are given; 300 more do not fit in 1000.
    let r = s.propose(Command::PutTenant { tenant: tenant("p4", Some("studio"), Some(300), None), create: true }).await;
    assert_eq!(
        refused(r.unwrap()),
        TenantRefusal::ExceedsParent { parent: "studio".into(), objects: false, parent_limit: 1000, children: 1100 }
    );
    ok(&s, Command::PutTenant { tenant: tenant("p4", Some("studio"), Some(200), None), create: true }).await;
    // Raising a child is checked too; lowering the parent below its children is refused.
    let r = s.propose(Command::PutTenant { tenant: tenant("prod", Some("studio"), Some(601), None), create: false });
    assert!(matches!(refused(r.await.unwrap()), TenantRefusal::ExceedsParent { .. }));
    let r = s.propose(Command::PutTenant { tenant: tenant("studio", None, Some(999), None), create: false });
    assert_eq!(refused(r.await.unwrap()), TenantRefusal::BelowChildren { objects: false, children: 1000 });
    // A sibling's name, a missing parent, and depth.
    let taken = Tenant { name: "alpha".into(), ..tenant("p5", Some("studio"), None, None) };
    assert!(matches!(
        refused(s.propose(Command::PutTenant { tenant: taken, create: true }).await.unwrap()),
        TenantRefusal::AlreadyExists(_)
    ));
    let orphan = tenant("p6", Some("nope"), None, None);
    assert_eq!(
        refused(s.propose(Command::PutTenant { tenant: orphan, create: true }).await.unwrap()),
        TenantRefusal::NoSuchTenant("nope".into())
    );
    let mut parent = "dept".to_string();
    for depth in 4..=MAX_TENANT_DEPTH {
        let id = format!("d{depth}");
        ok(&s, Command::PutTenant { tenant: tenant(&id, Some(&parent), None, None), create: true }).await;
        parent = id;
    }
    let deep = tenant("too-deep", Some(&parent), None, None);
    assert_eq!(
        refused(s.propose(Command::PutTenant { tenant: deep, create: true }).await.unwrap()),
        TenantRefusal::TooDeep
    );

    // A tenant goes only once its children, buckets and keys are gone.
    let del = |id: &str| Command::DeleteTenant { id: id.into() };
    assert_eq!(refused(s.propose(del("prod")).await.unwrap()), TenantRefusal::NotEmpty("child tenants".into()));
    for depth in (4..=MAX_TENANT_DEPTH).rev() {
        ok(&s, del(&format!("d{depth}"))).await;
    }
    assert_eq!(refused(s.propose(del("dept")).await.unwrap()), TenantRefusal::NotEmpty("buckets".into()));
    ok(&s, Command::DeleteBucket { name: "b".into() }).await;
    assert_eq!(refused(s.propose(del("dept")).await.unwrap()), TenantRefusal::NotEmpty("access keys".into()));
    ok(&s, Command::DeleteAccessKey { access_key_id: "K1".into() }).await;
    assert!(s.key_tenancy("K1").unwrap().is_none());
    ok(&s, del("dept")).await;
    assert!(s.tenant("dept").unwrap().is_none());
    assert_eq!(names(s.tenant_children(Some("prod"), None, 10).unwrap()), Vec::<String>::new());
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pool_counts_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    studio(&s).await;
    let all = |s: &MetaStore| {
        [
            pool(s, Pool::Bucket("b".into())),
            pool(s, Pool::Key("K1".into())),
            pool(s, Pool::Tenant("dept".into())),
            pool(s, Pool::Tenant("prod".into())),
            pool(s, Pool::Tenant("studio".into())),
        ]
    };
    ok(&s, put_by("b", "a", 100, "K1")).await;
    assert_eq!(all(&s), [(100, 1); 5]);
    // An overwrite counts the difference; prod's 600 is the binding limit.
    ok(&s, put_by("b", "a", 550, "K1")).await;
    assert_eq!(all(&s), [(550, 1); 5]);
    let b = breach(s.propose(put_by("b", "c", 51, "K1")).await.unwrap());
    assert_eq!(
        b,
        QuotaBreach {
            pool: Pool::Tenant("prod".into()),
            objects: false,
            limit: 600,
            used: 550,
            adding: 51,
            below: Some("dept".into())
        }
    );
    assert!(s.get_object("b", "c").unwrap().is_none(), "a refused write leaves nothing");
    assert_eq!(all(&s), [(550, 1); 5]);
    ok(&s, put_by("b", "c", 50, "K1")).await;
    assert_eq!(all(&s), [(600, 2); 5], "exactly at the limit is allowed");
    // A shrinking overwrite passes even at the limit; a delete gives back at once.
    ok(&s, put_by("b", "c", 10, "K1")).await;
    ok(&s, Command::DeleteObject { bucket: "b".into(), key: "a".into() }).await;
    assert_eq!(all(&s), [(10, 1); 5]);

    // The bucket's own limit, then the key's.
    let q = Quota { bytes: Some(40), objects: None };
    let set = Command::PutBucketSetting {
        bucket: "b".into(),
        name: SETTING_QUOTA.into(),
        value: Some(bincode::serialize(&q).unwrap()),
    };
    ok(&s, set).await;
    assert_eq!(breach(s.propose(put_by("b", "d", 31, "K1")).await.unwrap()).pool, Pool::Bucket("b".into()));
    ok(&s, Command::PutBucketSetting { bucket: "b".into(), name: SETTING_QUOTA.into(), value: None }).await;
    let tenancy =
        KeyTenancy { tenant: Some("dept".into()), tenant_admin: false, quota: Quota { bytes: None, objects: Some(2) } };
    ok(&s, Command::PutAccessKeyIn { key: key("K1"), tenancy }).await;
    ok(&s, put_by("b", "d", 1, "K1")).await;
    let b = breach(s.propose(put_by("b", "e", 1, "K1")).await.unwrap());
    assert_eq!(
        b,
        QuotaBreach { pool: Pool::Key("K1".into()), objects: true, limit: 2, used: 2, adding: 1, below: None }
    );
    // Another key of the same tenant has its own pool, and the tenant's still counts.
    ok(&s, put_by("b", "e", 5, "K2")).await;
    assert_eq!(pool(&s, Pool::Key("K2".into())), (5, 1));
    assert_eq!(pool(&s, Pool::Tenant("studio".into())), (16, 3));

    // Parts count while the upload is in progress; completion counts the difference,
    // abort gives it all back.
    let upload = |id: &str| MultipartUpload {
        upload_id: id.into(),
        bucket: "b".into(),
        key: "m".into(),
        initiated: 1,
        checksum_algorithm: None,
        template: version("t"),
    };
    let part = |n: u32, size: u64| PartRef {
        number: n,
        size,
        etag: format!("p{n}"),
        checksum: None,
        last_modified: 1,
        data: ObjectData::Inline(vec![n as u8]),
    };
    let put_part =
        |id: &str, p: PartRef| Command::PutPart { bucket: "b".into(), key: "m".into(), upload_id: id.into(), part: p };
    ok(&s, Command::CreateUploadWith { upload: upload("u1"), attrs: writer("K2") }).await;
    ok(&s, put_part("u1", part(1, 300))).await;
    ok(&s, put_part("u1", part(2, 200))).await;
    assert_eq!(pool(&s, Pool::Tenant("prod".into())), (516, 3));
    assert_eq!(pool(&s, Pool::Key("K2".into())), (505, 1));
    let b = breach(s.propose(put_part("u1", part(3, 85))).await.unwrap());
    assert_eq!(b.pool, Pool::Tenant("prod".into()));
    ok(&s, put_part("u1", part(2, 100))).await; // a replaced part counts the difference
    assert_eq!(pool(&s, Pool::Tenant("prod".into())), (416, 3));
    let done = ObjectVersion { size: 300, data: ObjectData::Parts(vec![part(1, 300)]), ..version("m") };
    let complete = Command::CompleteUpload {
        bucket: "b".into(),
        key: "m".into(),
        upload_id: "u1".into(),
        version: done,
        condition: None,
    };
    ok(&s, complete).await;
    assert_eq!(pool(&s, Pool::Tenant("prod".into())), (316, 4), "part 2, left out, is given back");
    assert_eq!(pool(&s, Pool::Key("K2".into())), (305, 2), "the object counts for the upload's writer");
    ok(&s, Command::CreateUploadWith { upload: upload("u2"), attrs: writer("K2") }).await;
    ok(&s, put_part("u2", part(1, 250))).await;
    assert_eq!(pool(&s, Pool::Tenant("prod".into())), (566, 4));
    ok(&s, Command::AbortUpload { bucket: "b".into(), key: "m".into(), upload_id: "u2".into() }).await;
    assert_eq!(pool(&s, Pool::Tenant("prod".into())), (316, 4));

    // Versioning: noncurrent versions count; markers count their key name and are
    // never refused, even over the limit.
    ok(&s, Command::PutBucketVersioning { bucket: "b".into(), state: Versioning::Enabled }).await;
    ok(&s, put_by("b", "v", 200, "K2")).await;
    ok(&s, put_by("b", "v", 80, "K2")).await;
    assert_eq!(pool(&s, Pool::Tenant("prod".into())), (596, 6));
    let b = breach(s.propose(put_by("b", "v", 5, "K2")).await.unwrap());
    assert_eq!((b.used, b.adding), (596, 5));
    let del =
        Command::DeleteObjectAt { bucket: "b".into(), key: "v".into(), owner: "K2".into(), at: 5, condition: None };
    ok(&s, del.clone()).await;
    ok(&s, del).await;
    assert_eq!(pool(&s, Pool::Tenant("prod".into())), (598, 6));
    let before = s.all_usage().unwrap();

    // The pools are derived: rebuilt from the data, they come out the same.
    let pools = [
        Pool::Bucket("b".into()),
        Pool::Key("K1".into()),
        Pool::Key("K2".into()),
        Pool::Tenant("dept".into()),
        Pool::Tenant("prod".into()),
        Pool::Tenant("studio".into()),
    ];
    let figures = |s: &MetaStore| pools.iter().map(|p| pool(s, p.clone())).collect::<Vec<_>>();
    let expected = figures(&s);
    // Usage by class is kept in the same pools: every version counts in one class.
    let classes = |s: &MetaStore| pools.iter().map(|p| s.class_usage(p).unwrap()).collect::<Vec<_>>();
    let by_class = classes(&s);
    for (p, (c, (_, objects))) in pools.iter().zip(by_class.iter().zip(&expected)) {
        assert_eq!(c.iter().map(|(_, u)| u.objects).sum::<u64>(), *objects, "{p:?}: {c:?}");
        assert!(c.iter().all(|(name, _)| name == "STANDARD"), "{p:?}: {c:?}");
    }
    assert!(by_class[5][0].1.bytes > 0, "studio holds versions: {by_class:?}");
    s.shutdown().await.unwrap();
    drop(s);
    {
        let db = open_sled_after_drop(dir.path());
        db.open_tree("sm_meta").unwrap().remove("pools_indexed").unwrap();
        db.open_tree("sm_pools").unwrap().clear().unwrap();
        db.open_tree("sm_meta").unwrap().remove("class_usage_indexed").unwrap();
        db.open_tree("sm_class_usage").unwrap().clear().unwrap();
        db.flush().unwrap();
    }
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    assert_eq!(figures(&s), expected, "rebuilt from the data");
    assert_eq!(classes(&s), by_class, "usage by class rebuilt from the data");
    assert_eq!(s.all_usage().unwrap(), before);
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_never_pass_a_limit() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    studio(&s).await;
    for round in 0..5 {
        // 64 writers of 7 to 70 bytes race for prod's 600.
        let futs = (0..64u64).map(|i| {
            let s = s.clone();
            let cmd = put_by("b", &format!("r{round}/{i}"), 7 + (i * 13 + round) % 64, "K1");
            async move { (cmd.clone(), s.propose(cmd).await.unwrap()) }
        });
        let mut accepted = 0u64;
        for (cmd, r) in futures::future::join_all(futs).await {
            let Command::PutObjectWith { version, .. } = cmd else { unreachable!() };
            match r {
                CommandResult::Replaced(_) => accepted += version.size,
                CommandResult::QuotaExceeded(b) => assert!(b.used + b.adding > b.limit, "{b:?}"),
                other => panic!("{other:?}"),
            }
        }
        let (bytes, _) = pool(&s, Pool::Tenant("prod".into()));
        assert!(bytes <= 600, "round {round}: {bytes} bytes stored past 600");
        assert_eq!(bytes, accepted, "round {round}: the pool is exactly what was accepted");
        let stored: u64 = s
            .list_objects("b", &format!("r{round}/"), None, None, 1000)
            .unwrap()
            .objects
            .iter()
            .map(|(_, v)| v.size)
            .sum();
        assert_eq!(stored, accepted);
        for i in 0..64 {
            s.propose(Command::DeleteObject { bucket: "b".into(), key: format!("r{round}/{i}") }).await.unwrap();
        }
        assert_eq!(pool(&s, Pool::Tenant("prod".into())), (0, 0));
    }
    s.shutdown().await.unwrap();
}

/// The quota-warning events of `sub` until the event of a write of `key` to bucket
/// `b` (the write itself comes first, its warnings right after it).
async fn warnings_after(sub: &mut cairn_raft::Subscription, key: &str) -> Vec<(u8, bool, bool, u64)> {
    loop {
        let e = sub.next().await.unwrap();
        match &e.change {
            Change::ObjectPut { key: k, .. } | Change::ObjectDeleted { key: k, .. } if k == key => break,
            Change::TenantSet { id } if id == key => break,
            _ => {}
        }
    }
    let mut out = Vec::new();
    // Each write below is followed by a marker write to "z", so the warnings end there.
    loop {
        let e = sub.next().await.unwrap();
        match &e.change {
            Change::QuotaThreshold { tenant, percent, objects, rising, used, .. } => {
                assert_eq!(tenant, "studio");
                out.push((*percent, *objects, *rising, *used));
            }
            Change::ObjectPut { key, .. } if key == "z" => return out,
            other => panic!("unexpected event {other:?}"),
        }
    }
}

/// Applies `cmd` (a write of `key`, or a change of tenant `key`), then a write to
/// "plain/z", and answers the warnings between the two.
async fn step(
    s: &MetaStore,
    sub: &mut cairn_raft::Subscription,
    cmd: Command,
    key: &str,
) -> Vec<(u8, bool, bool, u64)> {
    ok(s, cmd).await;
    ok(s, put_by("plain", "z", 1, "root")).await;
    warnings_after(sub, key).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warning_thresholds_are_announced_on_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    let studio = Tenant { warn_percent: vec![50, 90], ..tenant("studio", None, Some(1000), Some(4)) };
    ok(&s, Command::PutTenant { tenant: studio, create: true }).await;
    let tenancy = KeyTenancy { tenant: Some("studio".into()), tenant_admin: false, quota: Quota::default() };
    ok(&s, Command::PutAccessKeyIn { key: key("K1"), tenancy }).await;
    ok(&s, Command::CreateBucket { bucket: bucket("b", "K1") }).await;
    // "z" lives in a bucket outside every tenant: it only ends each step's events.
    ok(&s, Command::CreateBucket { bucket: bucket("plain", "root") }).await;
    let mut sub = s.feed().subscribe(None).unwrap();
    let w = &mut sub;
    assert_eq!(step(&s, w, put_by("b", "a", 400, "K1"), "a").await, [], "40% of the bytes, 25% of the objects");
    assert_eq!(step(&s, w, put_by("b", "c", 100, "K1"), "c").await, [(50, false, true, 500), (50, true, true, 2)]);
    assert_eq!(step(&s, w, put_by("b", "d", 450, "K1"), "d").await, [(90, false, true, 950)]);
    assert_eq!(step(&s, w, put_by("b", "d", 460, "K1"), "d").await, [], "above 90% already");
    // A delete carries usage back below 90% of the bytes (500 of 1000 is still 50%).
    let delete = Command::DeleteObject { bucket: "b".into(), key: "d".into() };
    assert_eq!(step(&s, w, delete, "d").await, [(90, false, false, 500)]);
    // A refused write announces nothing.
    breach(s.propose(put_by("b", "e", 501, "K1")).await.unwrap());
    assert_eq!(step(&s, w, put_by("b", "e", 0, "K1"), "e").await, [], "an empty object crosses no byte threshold");
    // A new limit that leaves usage past a threshold announces it at once, without a
    // write: 500 of 520 bytes is past 90%; 3 of 10 objects falls below 50%.
    let retune = |bytes, objects, warn: Vec<u8>| Command::PutTenant {
        tenant: Tenant { warn_percent: warn, ..tenant("studio", None, bytes, objects) },
        create: false,
    };
    let tighter = step(&s, w, retune(Some(520), Some(10), vec![50, 90]), "studio").await;
    assert_eq!(tighter, [(90, false, true, 500), (50, true, false, 3)]);
    assert_eq!(step(&s, w, retune(Some(520), Some(10), vec![50, 90]), "studio").await, [], "nothing changed");
    // A threshold added below usage is announced; one taken away is not.
    let added = step(&s, w, retune(Some(520), Some(10), vec![25, 50]), "studio").await;
    assert_eq!(added, [(25, false, true, 500), (25, true, true, 3)]);
    // No byte limit: every byte threshold reached is left.
    let unlimited = step(&s, w, retune(None, Some(10), vec![25, 50]), "studio").await;
    assert_eq!(unlimited, [(25, false, false, 500), (50, false, false, 500)]);
    // Every event has a position of its own: a warning takes the next place in its entry.
    let from_start = Some(cairn_raft::Position::after_index(0));
    let events: Vec<_> = s.feed().subscribe(from_start).unwrap().next_batch(10_000).await.unwrap();
    assert!(events.iter().filter(|e| matches!(e.change, Change::QuotaThreshold { .. })).count() == 10);
    for pair in events.windows(2) {
        assert!(pair[0].position < pair[1].position, "positions grow: {pair:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_history_keeps_seven_days_of_hours_and_ninety_of_days() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(dir.path(), 1).await.unwrap();
    studio(&s).await;
    const H: u64 = 3600;
    let start = 1_800_000_000 - 1_800_000_000 % (24 * H);
    ok(&s, put_by("b", "a", 100, "K1")).await;
    ok(&s, Command::SampleUsage { slot: start, period: H }).await;
    ok(&s, put_by("b", "c", 50, "K1")).await;
    ok(&s, Command::SampleUsage { slot: start + H, period: H }).await;
    let stale = s.propose(Command::SampleUsage { slot: start, period: H }).await.unwrap();
    assert_eq!(stale, CommandResult::PreconditionFailed, "an hour already sampled");
    let odd = s.propose(Command::SampleUsage { slot: start + 2 * H + 1, period: H }).await.unwrap();
    assert_eq!(odd, CommandResult::PreconditionFailed, "a slot that is not the start of an hour");
    let hourly = s.usage_history("prod", false).unwrap();
    let figures = |h: &[(u64, PoolUsage)]| h.iter().map(|(t, u)| (*t, u.bytes, u.objects)).collect::<Vec<_>>();
    assert_eq!(figures(&hourly), [(start, 100, 1), (start + H, 150, 2)]);
    assert_eq!(figures(&s.usage_history("studio", true).unwrap()), [(start, 150, 2)], "the day's last sample");
    assert_eq!(s.last_usage_sample().unwrap(), Some(start + H));
    // 100 days of hourly samples: 168 hours and 90 days stay, oldest first.
    for hour in 2..100 * 24 {
        ok(&s, Command::SampleUsage { slot: start + hour * H, period: H }).await;
    }
    let last = start + (100 * 24 - 1) * H;
    let hourly = s.usage_history("dept", false).unwrap();
    assert_eq!(hourly.len(), 168);
    assert_eq!((hourly[0].0, hourly[167].0), (last - 167 * H, last));
    let daily = s.usage_history("dept", true).unwrap();
    assert_eq!(daily.len(), 90);
    assert_eq!(daily[89].0, start + 99 * 24 * H);
    assert!(daily.windows(2).all(|w| w[1].0 - w[0].0 == 24 * H));
    assert!(daily.iter().all(|(_, u)| (u.bytes, u.objects) == (150, 2)));
    // History survives a restart, and a tenant's history leaves with it.
    drop(s);
    let s = reopen(dir.path()).await;
    assert_eq!(s.usage_history("dept", false).unwrap().len(), 168);
    ok(&s, Command::PutTenant { tenant: tenant("spare", None, None, None), create: true }).await;
    ok(&s, Command::SampleUsage { slot: last + H, period: H }).await;
    assert_eq!(s.usage_history("spare", false).unwrap().len(), 1);
    ok(&s, Command::DeleteTenant { id: "spare".into() }).await;
    assert!(s.usage_history("spare", false).unwrap().is_empty());
    assert!(s.usage_history("spare", true).unwrap().is_empty());
}
