//! Random commit sequences against a BTreeMap model: the store accepts and
//! rejects exactly what the model does, and holds the same keys, revisions
//! and history afterwards (also across reopening the SQLite file).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use weft_store::{
    Event, KeyValue, MemoryStore, Op, Revision, SqliteOptions, SqliteStore, Store, StoreError,
    WatchBatch,
};

#[derive(Debug, Clone)]
enum Step {
    /// Commit `ops`, claiming the store is at its revision plus `skew`.
    Commit { skew: i8, ops: Vec<Op> },
    /// Close and reopen the store (SQLite only).
    Reopen,
}

/// The outcome of a commit, comparable between store and model.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Committed(Revision),
    Conflict,
    NotFound(String),
    Empty,
    Duplicate(String),
}

impl Outcome {
    fn of(result: Result<Revision, StoreError>) -> Self {
        match result {
            Ok(revision) => Self::Committed(revision),
            Err(StoreError::Conflict { .. }) => Self::Conflict,
            Err(StoreError::NotFound { key }) => Self::NotFound(key),
            Err(StoreError::EmptyTransaction) => Self::Empty,
            Err(StoreError::DuplicateKey { key }) => Self::Duplicate(key),
            Err(other) => panic!("unexpected store error: {other}"),
        }
    }
}

/// The specification: a map, a counter, and a log.
#[derive(Debug, Default)]
struct Model {
    revision: Revision,
    keys: BTreeMap<String, KeyValue>,
    log: Vec<WatchBatch>,
}

impl Model {
    fn commit(&mut self, expected: Revision, ops: &[Op]) -> Outcome {
        if ops.is_empty() {
            return Outcome::Empty;
        }
        if expected != self.revision {
            return Outcome::Conflict;
        }
        for (i, op) in ops.iter().enumerate() {
            if ops[..i].iter().any(|earlier| earlier.key() == op.key()) {
                return Outcome::Duplicate(op.key().to_owned());
            }
        }
        for op in ops {
            if let Op::Delete { key } = op
                && !self.keys.contains_key(key)
            {
                return Outcome::NotFound(key.clone());
            }
        }
        self.revision += 1;
        let revision = self.revision;
        for op in ops {
            match op {
                Op::Put { key, value } => {
                    let create_revision =
                        self.keys.get(key).map_or(revision, |kv| kv.create_revision);
                    let kv = KeyValue {
                        key: key.clone(),
                        value: value.clone(),
                        create_revision,
                        mod_revision: revision,
                    };
                    self.keys.insert(key.clone(), kv);
                }
                Op::Delete { key } => {
                    self.keys.remove(key);
                }
            }
        }
        self.log.push(WatchBatch {
            revision,
            events: ops.iter().cloned().map(Event::from).collect(),
        });
        Outcome::Committed(revision)
    }
}

fn op() -> impl Strategy<Value = Op> {
    let key = prop::sample::select(vec!["a", "a/1", "a/2", "b", "b/x", "é"]);
    prop_oneof![
        3 => (key.clone(), prop::collection::vec(any::<u8>(), 0..24))
            .prop_map(|(key, value)| Op::put(key, value)),
        1 => key.prop_map(Op::delete),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => (prop_oneof![8 => Just(0_i8), 1 => Just(-1), 1 => Just(1)],
               prop::collection::vec(op(), 0..5))
            .prop_map(|(skew, ops)| Step::Commit { skew, ops }),
        1 => Just(Step::Reopen),
    ]
}

/// Runs `steps` against a store from `open` (called again on `Reopen`) and
/// the model, comparing after every step and the whole history at the end.
fn run(steps: Vec<Step>, mut open: impl FnMut() -> Box<dyn Store>) -> Result<(), TestCaseError> {
    let mut store = open();
    let mut model = Model::default();
    for step in steps {
        match step {
            Step::Reopen => {
                drop(store);
                store = open();
            }
            Step::Commit { skew, ops } => {
                let expected = model.revision.saturating_add_signed(skew.into());
                let want = model.commit(expected, &ops);
                let got = Outcome::of(store.commit(expected, ops));
                prop_assert_eq!(got, want);
            }
        }
        let snapshot = store.range("").unwrap();
        prop_assert_eq!(snapshot.revision, model.revision);
        prop_assert_eq!(
            &snapshot.items,
            &model.keys.values().cloned().collect::<Vec<_>>()
        );
        let under_a = store.range("a/").unwrap().items;
        let model_a: Vec<_> = model
            .keys
            .values()
            .filter(|kv| kv.key.starts_with("a/"))
            .cloned()
            .collect();
        prop_assert_eq!(under_a, model_a);
    }
    let mut watch = store.watch("", 1).unwrap();
    for batch in &model.log {
        prop_assert_eq!(&watch.try_next().unwrap().unwrap(), batch);
    }
    prop_assert_eq!(watch.try_next().unwrap(), None);
    Ok(())
}

proptest! {
    // Each SQLite commit is an fsync; keep the case count modest.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn sqlite_store_agrees_with_the_model(steps in prop::collection::vec(step(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        run(steps, || Box::new(SqliteStore::open(&path, SqliteOptions::default()).unwrap()))?;
    }
}

proptest! {
    #[test]
    fn memory_store_agrees_with_the_model(steps in prop::collection::vec(step(), 1..40)) {
        // Reopening a memory store would empty it: leave reopens out.
        let steps = steps.into_iter().filter(|s| !matches!(s, Step::Reopen)).collect();
        run(steps, || Box::new(MemoryStore::new()))?;
    }
}
