//! The asset catalogue's full-text index: a tantivy index on every node (under
//! `<data>/search`), fed from the change feed and rebuilt from the metadata when it is
//! missing or behind what the feed still holds. It only ever answers asset ids; the
//! records come from the metadata, so the index can lag (it waits a moment to catch
//! up, [`AssetSearch::caught_up`]) but never says anything the metadata does not.
//!
//! Per asset (trashed ones are left out): `id` (stored), `tenant` (a term every
//! query is restricted to), `name` (text), `name_raw` (the lower-cased name as one
//! term, for prefix search), and `text`: tags and machine tags as `key value`, the
//! status, project, media type, codec, format and the free-form metadata.
//!
//! The commit payload is the feed position the index is complete up to; on open the
//! feeder resumes there, or rebuilds when the feed no longer holds it. Feed events that
//! touch no asset advance the position in memory only, committed at most every
//! [`POSITION_COMMIT_EVERY`]. May touch: its
//! own directory, metadata reads, the change feed.

use cairn_raft::assets::Asset;
use cairn_raft::{Change, FeedError, MetaStore, Position};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, RegexQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TEXT, Value};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};
use tokio::sync::watch;

/// Memory the index writer may use.
const WRITER_HEAP: usize = 20 << 20;
/// A stretch of the feed with no asset changes is only recorded in memory (the index is
/// complete through it all the same); the position is committed to disk at most this often
/// then, so that a restart need not re-read much of the feed. Committing for every object
/// write cost a tantivy commit (files, fsyncs, threads) per PUT.
const POSITION_COMMIT_EVERY: Duration = Duration::from_secs(10);
/// Most search results one query answers.
pub const MAX_RESULTS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query does not parse: for the caller to fix.
    #[error("{0}")]
    Query(String),
    #[error("the search index failed: {0}")]
    Index(String),
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        SearchError::Index(e.to_string())
    }
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    tenant: Field,
    name: Field,
    name_raw: Field,
    text: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        tenant: b.add_text_field("tenant", STRING),
        name: b.add_text_field("name", TEXT),
        name_raw: b.add_text_field("name_raw", STRING),
        text: b.add_text_field("text", TEXT),
    };
    (b.build(), fields)
}

pub struct AssetSearch {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    /// The feed position the index (committed, its searcher reloaded) is complete up to;
    /// ahead of the payload on disk after a stretch with no asset changes.
    indexed: watch::Sender<Option<Position>>,
}

fn position_text(p: Position) -> String {
    format!("{}.{}", p.index, p.seq)
}

fn parse_position(s: &str) -> Option<Position> {
    let (i, q) = s.split_once('.')?;
    Some(Position { index: i.parse().ok()?, seq: q.parse().ok()? })
}

impl AssetSearch {
    /// Opens the index in `dir` (created when missing; recreated when it cannot be
    /// read, since it can always be rebuilt).
    pub fn open(dir: &Path) -> Result<Arc<AssetSearch>, SearchError> {
        let (schema, fields) = schema();
        std::fs::create_dir_all(dir).map_err(|e| SearchError::Index(e.to_string()))?;
        let open = || -> tantivy::Result<Index> {
            let d = tantivy::directory::MmapDirectory::open(dir)?;
            Index::open_or_create(d, schema.clone())
        };
        let index = match open() {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(error = %e, "the search index cannot be read; it is rebuilt");
                let _ = std::fs::remove_dir_all(dir);
                std::fs::create_dir_all(dir).map_err(|e| SearchError::Index(e.to_string()))?;
                open()?
            }
        };
        let writer = index.writer(WRITER_HEAP)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let payload = index.load_metas()?.payload.as_deref().and_then(parse_position);
        let (indexed, _) = watch::channel(payload);
        Ok(Arc::new(AssetSearch { index, reader, writer: Mutex::new(writer), fields, indexed }))
    }

    fn document(&self, a: &Asset) -> TantivyDocument {
        let f = self.fields;
        let mut text = vec![a.status.clone(), a.media_type.as_str().to_string()];
        text.extend(a.project.clone());
        text.extend(a.tags.iter().map(|(k, v)| format!("{k} {v}")));
        text.extend(a.machine_tags.iter().map(|(k, t)| format!("{k} {}", t.value)));
        text.extend(a.meta.codec.clone());
        text.extend(a.meta.format.clone());
        text.extend(a.meta.extra.clone());
        doc!(
            f.id => a.id.clone(),
            f.tenant => a.tenant.clone(),
            f.name => a.name.clone(),
            f.name_raw => a.name.to_lowercase(),
            f.text => text.join("\n"),
        )
    }

    /// Replaces asset `id`'s document with what the metadata holds now (none for a
    /// purged or trashed asset).
    fn refresh(&self, w: &mut IndexWriter, meta: &MetaStore, id: &str) -> Result<(), SearchError> {
        w.delete_term(Term::from_field_text(self.fields.id, id));
        match meta.asset(id) {
            Ok(Some(a)) if a.trashed_at.is_none() => {
                w.add_document(self.document(&a))?;
            }
            Ok(_) => {}
            Err(e) => return Err(SearchError::Index(e.to_string())),
        }
        Ok(())
    }

    fn commit(&self, w: &mut IndexWriter, at: Position) -> Result<(), SearchError> {
        let mut prepared = w.prepare_commit()?;
        prepared.set_payload(&position_text(at));
        prepared.commit()?;
        self.reader.reload()?;
        self.indexed.send_replace(Some(at));
        Ok(())
    }

    /// Indexes every asset anew, complete up to the feed position `at`.
    fn rebuild(&self, meta: &MetaStore, at: Position) -> Result<u64, SearchError> {
        let mut w = self.writer.lock().expect("search writer");
        w.delete_all_documents()?;
        let mut after: Option<String> = None;
        let mut n = 0u64;
        loop {
            let page = meta.assets_after(after.as_deref(), 1000).map_err(|e| SearchError::Index(e.to_string()))?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            for a in page.iter().filter(|a| a.trashed_at.is_none()) {
                w.add_document(self.document(a))?;
                n += 1;
            }
        }
        self.commit(&mut w, at)?;
        Ok(n)
    }

    /// Keeps the index in step with the feed until `shutdown`: resumes from the
    /// committed position, or rebuilds (when there is none, or the feed no longer
    /// holds it).
    pub async fn run(self: Arc<Self>, meta: MetaStore, mut shutdown: watch::Receiver<bool>) {
        loop {
            let resume = *self.indexed.borrow();
            let sub = match resume.map(|p| meta.feed().subscribe(Some(p))) {
                Some(Ok(sub)) => Ok(sub),
                _ => match meta.feed().subscribe(None) {
                    Ok(sub) => {
                        let at = sub.position();
                        let this = self.clone();
                        let m = meta.clone();
                        match tokio::task::spawn_blocking(move || this.rebuild(&m, at)).await {
                            Ok(Ok(n)) => {
                                tracing::info!(assets = n, "search index rebuilt from the metadata");
                                Ok(sub)
                            }
                            Ok(Err(e)) => Err(e.to_string()),
                            Err(e) => Err(e.to_string()),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                },
            };
            let mut sub = match sub {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "search index not ready; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = shutdown.changed() => return,
                    }
                }
            };
            let mut committed_at = std::time::Instant::now();
            loop {
                let batch = tokio::select! {
                    b = sub.next_batch(1000) => b,
                    _ = shutdown.changed() => return,
                };
                let events = match batch {
                    Ok(events) => events,
                    Err(FeedError::Gap { .. }) => {
                        // Fell behind the feed's history: start again from the metadata.
                        self.indexed.send_replace(None);
                        break;
                    }
                    // The store was replaced (this node joined a cluster): its positions
                    // are another log's, so index it anew from its feed.
                    Err(FeedError::Closed) => {
                        self.indexed.send_replace(None);
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(100)) => break,
                            _ = shutdown.changed() => return,
                        }
                    }
                };
                // A snapshot install replaced the state wholesale: index it anew.
                if events.iter().any(|e| matches!(e.change, Change::SnapshotInstalled)) {
                    self.indexed.send_replace(None);
                    break;
                }
                let Some(last) = events.last().map(|e| e.position) else { continue };
                let mut ids: Vec<String> = Vec::new();
                for e in &events {
                    let id = match &e.change {
                        Change::AssetCreated { id, .. }
                        | Change::AssetVersionAdded { id, .. }
                        | Change::AssetUpdated { id, .. }
                        | Change::AssetPurged { id, .. }
                        | Change::AssetShared { id, .. } => id,
                        _ => continue,
                    };
                    if !ids.contains(id) {
                        ids.push(id.clone());
                    }
                }
                if ids.is_empty() && committed_at.elapsed() < POSITION_COMMIT_EVERY {
                    self.indexed.send_replace(Some(last));
                    continue;
                }
                committed_at = std::time::Instant::now();
                let this = self.clone();
                let m = meta.clone();
                let done = tokio::task::spawn_blocking(move || -> Result<(), SearchError> {
                    let mut w = this.writer.lock().expect("search writer");
                    for id in &ids {
                        this.refresh(&mut w, &m, id)?;
                    }
                    this.commit(&mut w, last)
                })
                .await;
                if let Ok(Err(e)) | Err(e) = done.map_err(|e| SearchError::Index(e.to_string())) {
                    tracing::warn!(error = %e, "search index update failed; rebuilding");
                    self.indexed.send_replace(None);
                    break;
                }
            }
        }
    }

    /// Waits (at most `limit`) until the index is complete up to `at` (a feed head:
    /// an entry's position with `seq` at its largest is its end, which the last event
    /// of that entry reaches); answers whether it is.
    pub async fn caught_up(&self, at: Position, limit: Duration) -> bool {
        let mut rx = self.indexed.subscribe();
        let reached =
            |p: &Option<Position>| p.is_some_and(|p| if at.seq == u32::MAX { p.index >= at.index } else { p >= at });
        tokio::time::timeout(limit, rx.wait_for(reached)).await.is_ok_and(|r| r.is_ok())
    }

    fn in_tenant(&self, tenant: &str, q: Box<dyn Query>) -> BooleanQuery {
        let t = TermQuery::new(Term::from_field_text(self.fields.tenant, tenant), IndexRecordOption::Basic);
        BooleanQuery::new(vec![(Occur::Must, Box::new(t)), (Occur::Must, q)])
    }

    fn ids(&self, q: &dyn Query, limit: usize) -> Result<Vec<String>, SearchError> {
        let searcher = self.reader.searcher();
        let top = searcher.search(q, &TopDocs::with_limit(limit.clamp(1, MAX_RESULTS)))?;
        let mut out = Vec::new();
        for (_, addr) in top {
            let d: TantivyDocument = searcher.doc(addr)?;
            if let Some(id) = d.get_first(self.fields.id).and_then(|v| v.as_str()) {
                out.push(id.to_string());
            }
        }
        Ok(out)
    }

    /// The ids of `tenant`'s assets matching `query` (words over the name and the
    /// text; the query language of tantivy: `tides AND prores`, `"final cut"`,
    /// `name:reel`), best first.
    pub fn search(&self, tenant: &str, query: &str, limit: usize) -> Result<Vec<String>, SearchError> {
        let parser = QueryParser::for_index(&self.index, vec![self.fields.name, self.fields.text]);
        let q = parser.parse_query(query).map_err(|e| SearchError::Query(e.to_string()))?;
        self.ids(&self.in_tenant(tenant, q), limit)
    }

    /// The ids of `tenant`'s assets whose name starts with `prefix` (any case).
    pub fn name_prefix(&self, tenant: &str, prefix: &str, limit: usize) -> Result<Vec<String>, SearchError> {
        let pattern = format!("{}.*", regex_escape(&prefix.to_lowercase()));
        let q = RegexQuery::from_pattern(&pattern, self.fields.name_raw)?;
        self.ids(&self.in_tenant(tenant, Box::new(q)), limit)
    }
}

/// `s` with every regular-expression metacharacter escaped.
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~\"@<>".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
