//! The behaviour every `Store` backend must share. Each behaviour is one
//! generic function; `conformance!` at the bottom runs each against every
//! backend (a new backend adds one `Backend` impl and one line there).

#![allow(clippy::unwrap_used, clippy::panic)]

use std::ops::Deref;
use std::sync::Arc;
use std::thread;

use tempfile::TempDir;
use weft_store::{
    Event, EventKind, MemoryOptions, MemoryStore, Op, Revision, SqliteOptions, SqliteStore, Store,
    StoreError, Watch, WatchBatch, WatchError,
};

#[derive(Debug, Clone, Copy)]
struct Opts {
    history: u64,
    watch_buffer: usize,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            history: weft_store::DEFAULT_HISTORY,
            watch_buffer: weft_store::DEFAULT_WATCH_BUFFER,
        }
    }
}

/// A store under test and whatever must outlive it (fields drop in order).
struct Fixture<S> {
    store: S,
    _dir: Option<TempDir>,
}

impl<S> Deref for Fixture<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.store
    }
}

trait Backend {
    type S: Store;
    fn open(opts: Opts) -> Fixture<Self::S>;
}

struct Memory;
impl Backend for Memory {
    type S = MemoryStore;
    fn open(opts: Opts) -> Fixture<MemoryStore> {
        Fixture {
            store: MemoryStore::with_options(MemoryOptions {
                history: opts.history,
                watch_buffer: opts.watch_buffer,
            }),
            _dir: None,
        }
    }
}

struct Sqlite;
impl Backend for Sqlite {
    type S = SqliteStore;
    fn open(opts: Opts) -> Fixture<SqliteStore> {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(
            &dir.path().join("store.db"),
            SqliteOptions {
                history: opts.history,
                watch_buffer: opts.watch_buffer,
            },
        )
        .unwrap();
        Fixture {
            store,
            _dir: Some(dir),
        }
    }
}

fn put(key: &str, value: &str) -> Op {
    Op::put(key, value.as_bytes())
}

fn put_event(key: &str, value: &str) -> Event {
    Event {
        kind: EventKind::Put,
        key: key.to_owned(),
        value: Some(value.as_bytes().to_vec()),
    }
}

fn delete_event(key: &str) -> Event {
    Event {
        kind: EventKind::Delete,
        key: key.to_owned(),
        value: None,
    }
}

fn keys(store: &impl Store, prefix: &str) -> Vec<String> {
    store
        .range(prefix)
        .unwrap()
        .items
        .into_iter()
        .map(|kv| kv.key)
        .collect()
}

/// Commits one put per revision until the store is at `until`.
fn fill(store: &impl Store, until: Revision) {
    let mut revision = store.revision().unwrap();
    while revision < until {
        revision = store
            .commit(revision, vec![put(&format!("fill/{revision}"), "x")])
            .unwrap();
    }
}

/// Reads batches until one at `last` and returns their revisions.
fn drain_until(watch: &mut Watch, last: Revision) -> Vec<Revision> {
    let mut seen = Vec::new();
    while seen.last() != Some(&last) {
        seen.push(watch.blocking_next().unwrap().revision);
    }
    seen
}

fn assert_nothing_pending(watch: &mut Watch) {
    assert_eq!(watch.try_next().unwrap(), None);
}

fn revisions_increment_by_one<B: Backend>() {
    let store = B::open(Opts::default());
    assert_eq!(store.revision().unwrap(), 0);
    assert_eq!(store.commit(0, vec![put("a", "1")]).unwrap(), 1);
    let ops = vec![put("b", "1"), put("c", "1"), put("d", "1")];
    assert_eq!(store.commit(1, ops).unwrap(), 2);
    assert_eq!(store.commit(2, vec![Op::delete("b")]).unwrap(), 3);
    assert_eq!(store.revision().unwrap(), 3);
    assert_eq!(store.range("").unwrap().revision, 3);
}

fn conflict_writes_nothing<B: Backend>() {
    let store = B::open(Opts::default());
    store.commit(0, vec![put("a", "1")]).unwrap();
    let mut watch = store.watch("", 2).unwrap();
    for stale in [0, 2, 7] {
        let err = store.commit(stale, vec![put("b", "1")]).unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { expected, current: 1 } if expected == stale),
            "{err:?}"
        );
    }
    assert_eq!(store.revision().unwrap(), 1);
    assert_eq!(keys(&*store, ""), ["a"]);
    assert_nothing_pending(&mut watch);
}

fn not_found_delete_aborts_everything<B: Backend>() {
    let store = B::open(Opts::default());
    store.commit(0, vec![put("a", "1")]).unwrap();
    let ops = vec![
        put("b", "1"),
        Op::delete("a"),
        Op::delete("missing"),
        put("c", "1"),
    ];
    let err = store.commit(1, ops).unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound { key } if key == "missing"),
        "{err:?}"
    );
    assert_eq!(store.revision().unwrap(), 1);
    assert_eq!(keys(&*store, ""), ["a"]);
    // The failed attempt used no revision number.
    assert_eq!(store.commit(1, vec![Op::delete("a")]).unwrap(), 2);
    assert_eq!(keys(&*store, ""), Vec::<String>::new());
    let mut watch = store.watch("", 1).unwrap();
    assert_eq!(watch.blocking_next().unwrap().events, [put_event("a", "1")]);
    assert_eq!(watch.blocking_next().unwrap().events, [delete_event("a")]);
    assert_nothing_pending(&mut watch);
}

fn malformed_transactions_write_nothing<B: Backend>() {
    let store = B::open(Opts::default());
    store.commit(0, vec![put("a", "1")]).unwrap();
    let err = store.commit(1, vec![]).unwrap_err();
    assert!(matches!(err, StoreError::EmptyTransaction), "{err:?}");
    let err = store
        .commit(1, vec![put("b", "1"), put("", "1")])
        .unwrap_err();
    assert!(matches!(err, StoreError::EmptyKey), "{err:?}");
    let err = store
        .commit(1, vec![put("b", "1"), put("c", "1"), Op::delete("b")])
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::DuplicateKey { key } if key == "b"),
        "{err:?}"
    );
    assert_eq!(store.revision().unwrap(), 1);
    assert_eq!(keys(&*store, ""), ["a"]);
}

fn range_by_prefix<B: Backend>() {
    let store = B::open(Opts::default());
    let all = ["a", "a/", "a/1", "a/2", "a/é", "a0", "b/1", "ab"];
    // Insert out of order, over two transactions.
    store
        .commit(
            0,
            vec![
                put("b/1", ""),
                put("a/é", ""),
                put("a0", ""),
                put("a/2", ""),
            ],
        )
        .unwrap();
    store
        .commit(
            1,
            vec![put("ab", ""), put("a/1", ""), put("a", ""), put("a/", "")],
        )
        .unwrap();
    let mut sorted = all.to_vec();
    sorted.sort_unstable();
    assert_eq!(keys(&*store, ""), sorted);
    assert_eq!(keys(&*store, "a/"), ["a/", "a/1", "a/2", "a/é"]);
    assert_eq!(
        keys(&*store, "a"),
        ["a", "a/", "a/1", "a/2", "a/é", "a0", "ab"]
    );
    assert_eq!(keys(&*store, "a/1"), ["a/1"]);
    assert_eq!(keys(&*store, "b"), ["b/1"]);
    assert!(keys(&*store, "c").is_empty());
    assert!(keys(&*store, "a/1/").is_empty());
    assert_eq!(store.range("a/").unwrap().revision, 2);
}

fn create_and_mod_revisions<B: Backend>() {
    let store = B::open(Opts::default());
    let binary = vec![0_u8, 255, 10, 0];
    store
        .commit(0, vec![put("k", "v1"), Op::put("other", binary.clone())])
        .unwrap();
    store.commit(1, vec![put("k", "v2")]).unwrap();
    let snapshot = store.range("").unwrap();
    let k = &snapshot.items[0];
    assert_eq!(
        (
            k.key.as_str(),
            k.value.as_slice(),
            k.create_revision,
            k.mod_revision
        ),
        ("k", &b"v2"[..], 1, 2)
    );
    let other = &snapshot.items[1];
    assert_eq!(
        (
            other.value.clone(),
            other.create_revision,
            other.mod_revision
        ),
        (binary, 1, 1)
    );

    store.commit(2, vec![Op::delete("k")]).unwrap();
    store.commit(3, vec![put("unrelated", "")]).unwrap();
    store.commit(4, vec![Op::put("k", Vec::new())]).unwrap();
    let k = store.range("k").unwrap().items.remove(0);
    assert_eq!(
        (k.value.len(), k.create_revision, k.mod_revision),
        (0, 5, 5)
    );
}

/// Five transactions with puts, overwrites and deletes, and the events each
/// should produce.
fn script(store: &impl Store) -> Vec<WatchBatch> {
    let txns = vec![
        vec![put("a/1", "x"), put("b/1", "y")],
        vec![put("a/1", "z")],
        vec![Op::delete("b/1"), put("a/2", "w")],
        vec![put("b/2", "v")],
        vec![Op::delete("a/1"), Op::delete("a/2"), put("a/3", "u")],
    ];
    txns.into_iter()
        .map(|ops| {
            let events = ops.iter().cloned().map(Event::from).collect();
            let revision = store.commit(store.revision().unwrap(), ops).unwrap();
            WatchBatch { revision, events }
        })
        .collect()
}

fn watch_from_one_replays_everything<B: Backend>() {
    let store = B::open(Opts::default());
    let expected = script(&*store);
    for from in [0, 1] {
        let mut watch = store.watch("", from).unwrap();
        for batch in &expected {
            assert_eq!(&watch.blocking_next().unwrap(), batch);
        }
        assert_nothing_pending(&mut watch);
    }
    let mut watch = store.watch("", 1).unwrap();
    store.commit(5, vec![put("c", "1")]).unwrap();
    assert_eq!(drain_until(&mut watch, 6), [1, 2, 3, 4, 5, 6]);
}

fn watch_from_the_middle<B: Backend>() {
    let store = B::open(Opts::default());
    let expected = script(&*store);
    let mut watch = store.watch("", 3).unwrap();
    for batch in &expected[2..] {
        assert_eq!(&watch.blocking_next().unwrap(), batch);
    }
    assert_nothing_pending(&mut watch);
    store.commit(5, vec![put("c", "1")]).unwrap();
    let live = watch.blocking_next().unwrap();
    assert_eq!((live.revision, live.events), (6, vec![put_event("c", "1")]));
}

fn watch_from_now_and_the_future<B: Backend>() {
    let store = B::open(Opts::default());
    fill(&*store, 3);
    let mut now = store.watch("", 4).unwrap();
    let mut later = store.watch("", 6).unwrap();
    assert_nothing_pending(&mut now);
    fill(&*store, 7);
    assert_eq!(drain_until(&mut now, 7), [4, 5, 6, 7]);
    assert_eq!(drain_until(&mut later, 7), [6, 7]);
    assert_nothing_pending(&mut later);
}

fn prefix_filter<B: Backend>() {
    let store = B::open(Opts::default());
    let mut live = store.watch("a/", 1).unwrap();
    let expected = script(&*store);
    let mut history = store.watch("a/", 1).unwrap();
    for watch in [&mut history, &mut live] {
        for batch in expected.iter().filter(|b| b.revision != 4) {
            let events: Vec<Event> = batch
                .events
                .iter()
                .filter(|e| e.key.starts_with("a/"))
                .cloned()
                .collect();
            let got = watch.blocking_next().unwrap();
            assert_eq!((got.revision, got.events), (batch.revision, events));
        }
        assert_nothing_pending(watch);
    }
    let mut none = store.watch("c/", 1).unwrap();
    assert_nothing_pending(&mut none);
}

/// A committer thread runs while a watcher joins part-way from revision 1:
/// the watcher must see every revision exactly once, in order.
fn concurrent_commits_reach_watchers_exactly_once<B: Backend>() {
    const TOTAL: Revision = 300;
    let store = Arc::new(B::open(Opts::default()));
    fill(&**store, 20);
    let committer = {
        let store = Arc::clone(&store);
        thread::spawn(move || fill(&**store, TOTAL))
    };
    // Join while the committer is running.
    while store.revision().unwrap() < 60 {
        thread::yield_now();
    }
    let mut watch = store.watch("", 1).unwrap();
    let seen = drain_until(&mut watch, TOTAL);
    committer.join().unwrap();
    assert_eq!(seen, (1..=TOTAL).collect::<Vec<_>>());
    assert_nothing_pending(&mut watch);
}

/// The same through the async API, on a tokio runtime.
fn async_watch_sees_concurrent_commits<B: Backend>() {
    const TOTAL: Revision = 100;
    let store = Arc::new(B::open(Opts::default()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut watch = store.watch("", 1).unwrap();
    let committer = {
        let store = Arc::clone(&store);
        thread::spawn(move || fill(&**store, TOTAL))
    };
    let seen = runtime.block_on(async {
        let mut seen = Vec::new();
        while seen.last() != Some(&TOTAL) {
            seen.push(watch.next().await.unwrap().revision);
        }
        seen
    });
    committer.join().unwrap();
    assert_eq!(seen, (1..=TOTAL).collect::<Vec<_>>());
}

fn compacted_history_is_an_error<B: Backend>() {
    const HISTORY: u64 = 20;
    let store = B::open(Opts {
        history: HISTORY,
        ..Opts::default()
    });
    fill(&*store, 200);
    let Err(StoreError::Compacted {
        requested: 1,
        oldest_available,
    }) = store.watch("", 1)
    else {
        panic!("watch from 1 after 200 commits with history {HISTORY} must be compacted");
    };
    assert!(oldest_available > 1);
    // At least `history` revisions stay watchable.
    assert!(200 - oldest_available + 1 >= HISTORY, "{oldest_available}");
    let err = store.watch("", oldest_available - 1).unwrap_err();
    assert!(
        matches!(err, StoreError::Compacted { requested, oldest_available: o }
            if requested == oldest_available - 1 && o == oldest_available),
        "{err:?}"
    );
    let mut watch = store.watch("", oldest_available).unwrap();
    let seen = drain_until(&mut watch, 200);
    assert_eq!(seen, (oldest_available..=200).collect::<Vec<_>>());
    assert_nothing_pending(&mut watch);
    // Compaction never touches the keys themselves.
    assert_eq!(store.range("fill/").unwrap().items.len(), 200);
}

fn lagged_watcher_gets_a_resume_point<B: Backend>() {
    let store = B::open(Opts {
        watch_buffer: 4,
        ..Opts::default()
    });
    fill(&*store, 3);
    let mut slow = store.watch("", 4).unwrap();
    // Commits never wait for watchers.
    fill(&*store, 13);
    assert_eq!(drain_until(&mut slow, 7), [4, 5, 6, 7]);
    let err = slow.blocking_next().unwrap_err();
    assert_eq!(err, WatchError::Lagged { resume_from: 8 });
    assert_eq!(slow.try_next(), Err(WatchError::Lagged { resume_from: 8 }));
    let mut resumed = store.watch("", 8).unwrap();
    assert_eq!(drain_until(&mut resumed, 13), [8, 9, 10, 11, 12, 13]);
    assert_nothing_pending(&mut resumed);
}

fn watch_closes_when_store_is_dropped<B: Backend>() {
    let store = B::open(Opts::default());
    let mut watch = store.watch("", 1).unwrap();
    store.commit(0, vec![put("a", "1")]).unwrap();
    drop(store);
    assert_eq!(watch.blocking_next().unwrap().revision, 1);
    assert_eq!(watch.blocking_next(), Err(WatchError::Closed));
}

macro_rules! conformance {
    ($($behaviour:ident),* $(,)?) => {
        mod memory {
            $( #[test] fn $behaviour() { super::$behaviour::<super::Memory>(); } )*
        }
        mod sqlite {
            $( #[test] fn $behaviour() { super::$behaviour::<super::Sqlite>(); } )*
        }
    };
}

conformance!(
    revisions_increment_by_one,
    conflict_writes_nothing,
    not_found_delete_aborts_everything,
    malformed_transactions_write_nothing,
    range_by_prefix,
    create_and_mod_revisions,
    watch_from_one_replays_everything,
    watch_from_the_middle,
    watch_from_now_and_the_future,
    prefix_filter,
    concurrent_commits_reach_watchers_exactly_once,
    async_watch_sees_concurrent_commits,
    compacted_history_is_an_error,
    lagged_watcher_gets_a_resume_point,
    watch_closes_when_store_is_dropped,
);
