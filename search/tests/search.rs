//! The search index against a real metadata store (sled in a temporary directory):
//! fed from the change feed, restricted to a tenant, following updates, transfers out
//! of view by trash, resumed after a restart and rebuilt when its directory is gone.

use cairn_raft::assets::{Asset, MediaMeta, MediaType};
use cairn_raft::schema::{Command, CommandResult, Quota, Tenant};
use cairn_raft::{MetaStore, Position};
use cairn_search::AssetSearch;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

fn asset(tenant: &str, name: &str, tags: &[(&str, &str)], codec: Option<&str>) -> Asset {
    Asset {
        id: String::new(),
        tenant: tenant.into(),
        project: None,
        name: name.into(),
        media_type: MediaType::Video,
        status: "active".into(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        machine_tags: BTreeMap::new(),
        meta: MediaMeta { codec: codec.map(String::from), ..MediaMeta::default() },
        created: 1,
        updated: 1,
        created_by: "K".into(),
        versions: 0,
        latest_size: 0,
        idempotency_key: None,
        trashed_at: None,
        purge_at: None,
    }
}

async fn register(s: &MetaStore, a: Asset) -> String {
    match s.propose(Command::PutAsset { asset: a, version: None }).await.unwrap() {
        CommandResult::Asset(o) => o.id,
        other => panic!("{other:?}"),
    }
}

fn head(s: &MetaStore) -> Position {
    s.feed().subscribe(None).unwrap().position()
}

async fn fresh(search: &AssetSearch, s: &MetaStore) {
    assert!(search.caught_up(head(s), Duration::from_secs(10)).await, "the index never caught up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_follows_the_feed_resumes_and_rebuilds() {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(&dir.path().join("meta"), 1).await.unwrap();
    for t in ["studio", "school"] {
        let tenant = Tenant {
            id: t.into(),
            name: t.into(),
            parent: None,
            quota: Quota::default(),
            warn_percent: vec![],
            created: 1,
        };
        assert_eq!(s.propose(Command::PutTenant { tenant, create: true }).await.unwrap(), CommandResult::Ok);
    }
    let index_dir = dir.path().join("search");
    let search = AssetSearch::open(&index_dir).unwrap();
    let (stop, rx) = watch::channel(false);
    let feeder = tokio::spawn(search.clone().run(s.clone(), rx));

    let reel = register(&s, asset("studio", "Harbour Reel final", &[("show", "harbour")], Some("prores"))).await;
    let cut = register(&s, asset("studio", "Tides rough cut", &[("show", "tides")], Some("h264"))).await;
    let lecture = register(&s, asset("school", "Harbour history lecture", &[], None)).await;
    fresh(&search, &s).await;
    assert_eq!(search.search("studio", "harbour", 10).unwrap(), [reel.as_str()]);
    assert_eq!(search.search("studio", "prores", 10).unwrap(), [reel.as_str()], "text metadata is searched");
    assert_eq!(search.search("studio", "tides", 10).unwrap(), [cut.as_str()], "names and tags");
    assert_eq!(search.search("school", "harbour", 10).unwrap(), [lecture.as_str()], "one tenant at a time");
    assert_eq!(search.name_prefix("studio", "tIDes R", 10).unwrap(), [cut.as_str()]);
    assert!(search.name_prefix("studio", "harbour history", 10).unwrap().is_empty());
    assert!(matches!(search.search("studio", "name:(", 10), Err(cairn_search::SearchError::Query(_))));

    // An update is followed; a trashed asset leaves the index, a restored one returns.
    let patch = cairn_raft::assets::AssetPatch { name: Some("Tides final cut".into()), ..Default::default() };
    let r = s.propose(Command::UpdateAsset { id: cut.clone(), patch, at: 2 }).await.unwrap();
    assert!(matches!(r, CommandResult::Asset(_)), "{r:?}");
    let r = s.propose(Command::TrashAsset { id: reel.clone(), at: 3 }).await.unwrap();
    assert!(matches!(r, CommandResult::Asset(_)), "{r:?}");
    fresh(&search, &s).await;
    assert_eq!(search.search("studio", "final", 10).unwrap(), [cut.as_str()]);
    s.propose(Command::RestoreAsset { id: reel.clone(), at: 4 }).await.unwrap();
    fresh(&search, &s).await;
    assert_eq!(search.search("studio", "final", 10).unwrap().len(), 2);

    // Stopped, then started again: it resumes from its committed position.
    let _ = stop.send(true);
    feeder.await.unwrap();
    drop(search);
    let later = register(&s, asset("studio", "Pilot episode", &[], None)).await;
    let search = AssetSearch::open(&index_dir).unwrap();
    let (stop, rx) = watch::channel(false);
    let feeder = tokio::spawn(search.clone().run(s.clone(), rx));
    fresh(&search, &s).await;
    assert_eq!(search.search("studio", "pilot", 10).unwrap(), [later.as_str()]);
    let _ = stop.send(true);
    feeder.await.unwrap();
    drop(search);

    // Its directory gone: rebuilt from the metadata.
    std::fs::remove_dir_all(&index_dir).unwrap();
    let search: Arc<AssetSearch> = AssetSearch::open(&index_dir).unwrap();
    let (_stop, rx) = watch::channel(false);
    tokio::spawn(search.clone().run(s.clone(), rx));
    fresh(&search, &s).await;
    assert_eq!(search.search("studio", "pilot OR harbour OR tides", 10).unwrap().len(), 3);
    assert_eq!(search.search("school", "lecture", 10).unwrap(), [lecture.as_str()]);
}
