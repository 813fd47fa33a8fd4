//! [`MemoryStore`]: the store's semantics without a disk.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::Mutex;

use crate::history::{compaction_target, watch_start};
use crate::watch::{WatchHub, batch_for};
use crate::{
    DEFAULT_HISTORY, DEFAULT_WATCH_BUFFER, Event, KeyValue, Op, Revision, Snapshot, Store,
    StoreError, Watch, lock, txn,
};

/// Tuning for [`MemoryStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryOptions {
    /// Revisions of history kept for watchers, at least.
    pub history: u64,
    /// Batches a watcher may have queued before it gets `Lagged`.
    pub watch_buffer: usize,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        Self {
            history: DEFAULT_HISTORY,
            watch_buffer: DEFAULT_WATCH_BUFFER,
        }
    }
}

/// A store held entirely in memory; everything is lost when it is dropped.
/// Meant for tests of the components above the store.
#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    revision: Revision,
    /// History of revisions up to and including this one is gone.
    compacted: Revision,
    keys: BTreeMap<String, KeyValue>,
    /// The events of each kept revision, oldest first.
    history: VecDeque<(Revision, Vec<Event>)>,
    hub: WatchHub,
    keep: u64,
}

impl MemoryStore {
    /// An empty store with default options.
    pub fn new() -> Self {
        Self::with_options(MemoryOptions::default())
    }

    /// An empty store.
    pub fn with_options(options: MemoryOptions) -> Self {
        Self {
            state: Mutex::new(State {
                revision: 0,
                compacted: 0,
                keys: BTreeMap::new(),
                history: VecDeque::new(),
                hub: WatchHub::new(options.watch_buffer),
                keep: options.history,
            }),
        }
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl Store for MemoryStore {
    fn revision(&self) -> Result<Revision, StoreError> {
        Ok(lock(&self.state).revision)
    }

    fn range(&self, prefix: &str) -> Result<Snapshot, StoreError> {
        let state = lock(&self.state);
        let items = state
            .keys
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(_, kv)| kv.clone())
            .collect();
        Ok(Snapshot {
            revision: state.revision,
            items,
        })
    }

    fn commit(&self, expected: Revision, ops: Vec<Op>) -> Result<Revision, StoreError> {
        let mut state = lock(&self.state);
        txn::check(expected, state.revision, &ops)?;
        // Keys are unique within the transaction, so a delete's key must exist
        // before it; check them all before changing anything.
        if let Some(missing) = ops
            .iter()
            .find(|op| matches!(op, Op::Delete { key } if !state.keys.contains_key(key)))
        {
            return Err(StoreError::NotFound {
                key: missing.key().to_owned(),
            });
        }

        let revision = state.revision + 1;
        let mut events = Vec::with_capacity(ops.len());
        for op in ops {
            match &op {
                Op::Put { key, value } => {
                    let create_revision = state
                        .keys
                        .get(key)
                        .map_or(revision, |old| old.create_revision);
                    state.keys.insert(
                        key.clone(),
                        KeyValue {
                            key: key.clone(),
                            value: value.clone(),
                            create_revision,
                            mod_revision: revision,
                        },
                    );
                }
                Op::Delete { key } => {
                    state.keys.remove(key);
                }
            }
            events.push(Event::from(op));
        }
        state.revision = revision;

        state.hub.publish(revision, &events);
        state.history.push_back((revision, events));
        if let Some(target) = compaction_target(revision, state.compacted, state.keep) {
            while state.history.front().is_some_and(|(r, _)| *r <= target) {
                state.history.pop_front();
            }
            state.compacted = target;
        }
        Ok(revision)
    }

    fn watch(&self, prefix: &str, from: Revision) -> Result<Watch, StoreError> {
        let mut state = lock(&self.state);
        let start = watch_start(from, state.compacted)?;
        let history = state
            .history
            .iter()
            .filter(|(revision, _)| *revision >= start)
            .filter_map(|(revision, events)| batch_for(*revision, events, prefix))
            .collect();
        let live_from = start.max(state.revision + 1);
        Ok(state.hub.subscribe(prefix, live_from, history))
    }
}
