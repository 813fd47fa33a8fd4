//! The durable store under weft's server: keys and values with one global
//! revision, atomic transactions and watch, shaped after etcd so that an etcd
//! backend can implement the same [`Store`] trait.
//!
//! # Semantics
//!
//! * **Revision.** The store has one counter, [`Revision`]. An empty store is
//!   at revision 0; every successful [`Store::commit`] increases it by exactly
//!   one, whatever the number of operations in it. Failed commits change
//!   nothing.
//! * **Keys** are non-empty UTF-8 strings ordered by their bytes (the order of
//!   [`str`]'s `Ord`); directories are a naming convention (`vn/default/blue`)
//!   and [`Store::range`] selects by prefix. Values are opaque bytes.
//! * **Transactions** are optimistic: [`Store::commit`] applies a list of
//!   [`Op`]s if and only if the store is still at the revision the caller
//!   read (compare-and-swap on the whole store, like an etcd `Txn` comparing
//!   the mod revision of everything it read). Either every operation is
//!   applied or none: a conflict, an empty list, an empty or repeated key, or a
//!   delete of a missing key rejects the whole transaction. A key may appear
//!   only once per transaction (etcd rejects duplicates too).
//! * **Durability.** When `commit` returns `Ok`, the transaction is on stable
//!   storage (for SQLite: written to the WAL and fsync'd with
//!   `synchronous=FULL`), so it survives `kill -9` and power loss, and it is
//!   already visible to [`Store::range`] and to every [`Watch`].
//! * **Each key** carries the revision that created it (`create_revision`,
//!   reset when a deleted key is put again) and the revision that last wrote it
//!   (`mod_revision`).
//! * **Watch.** [`Store::watch`] streams every committed transaction that
//!   touches a prefix, one [`WatchBatch`] per revision, in revision order: the
//!   kept history from the requested revision first, then live commits, with
//!   no gap and no duplicate. History is compacted automatically (each backend
//!   keeps at least a configured number of revisions); asking for an older
//!   revision is [`StoreError::Compacted`], and the caller re-reads with
//!   [`Store::range`] and watches from the snapshot's revision + 1. A watcher
//!   that does not keep up gets [`WatchError::Lagged`] once its bounded buffer
//!   overflows, after every batch that did fit, and resumes from the revision
//!   it names. Watchers never slow down commits.
//!
//! # Backends
//!
//! * [`SqliteStore`]: one SQLite file in WAL mode, owned exclusively by one
//!   process (a second opener gets [`StoreError::Locked`]).
//! * [`MemoryStore`]: the same behaviour without a disk, for tests of other
//!   components.
//!
//! Both share the watch fan-out ([`Watch`]) and the transaction rules, and the
//! conformance suite in `tests/conformance.rs` runs against both.
//!
//! Nothing here needs a tokio runtime: commits are synchronous, and a
//! [`Watch`] is read either with `.next().await` inside a runtime or with
//! [`Watch::blocking_next`] on a plain thread.

mod error;
mod history;
mod memory;
mod sqlite;
mod txn;
mod watch;

pub use error::{StoreError, WatchError};
pub use memory::{MemoryOptions, MemoryStore};
pub use sqlite::{SCHEMA_VERSION, SqliteOptions, SqliteStore};
pub use watch::Watch;

/// The store's global version: 0 for an empty store, then one more for every
/// successful commit.
pub type Revision = u64;

/// How many revisions of history a backend keeps by default.
pub const DEFAULT_HISTORY: u64 = 100_000;

/// How many undelivered batches a watcher may have queued before it is cut off
/// with [`WatchError::Lagged`], by default.
pub const DEFAULT_WATCH_BUFFER: usize = 1024;

/// One key as stored at some revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    /// The revision of the put that created the key (after its last delete).
    pub create_revision: Revision,
    /// The revision of the last put to the key.
    pub mod_revision: Revision,
}

/// One write inside a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Creates the key or replaces its value.
    Put { key: String, value: Vec<u8> },
    /// Removes the key, which must exist.
    Delete { key: String },
}

impl Op {
    /// Shorthand for [`Op::Put`].
    pub fn put(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Self::Put {
            key: key.into(),
            value: value.into(),
        }
    }

    /// Shorthand for [`Op::Delete`].
    pub fn delete(key: impl Into<String>) -> Self {
        Self::Delete { key: key.into() }
    }

    /// The key the operation writes.
    pub fn key(&self) -> &str {
        match self {
            Self::Put { key, .. } | Self::Delete { key } => key,
        }
    }
}

/// Whether an [`Event`] wrote or removed its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Put,
    Delete,
}

/// One applied operation, as a watcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub key: String,
    /// The new value; `None` for a delete.
    pub value: Option<Vec<u8>>,
}

impl From<Op> for Event {
    fn from(op: Op) -> Self {
        match op {
            Op::Put { key, value } => Self {
                kind: EventKind::Put,
                key,
                value: Some(value),
            },
            Op::Delete { key } => Self {
                kind: EventKind::Delete,
                key,
                value: None,
            },
        }
    }
}

/// The events of one committed transaction that fall under a watcher's
/// prefix, in the order the transaction listed them. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchBatch {
    pub revision: Revision,
    pub events: Vec<Event>,
}

/// Every key under a prefix, read at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub revision: Revision,
    /// Sorted by key.
    pub items: Vec<KeyValue>,
}

/// A revisioned key/value store; see the crate documentation for the rules
/// every backend follows.
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// The revision of the last successful commit (0 for an empty store).
    fn revision(&self) -> Result<Revision, StoreError>;

    /// Every key starting with `prefix` (all keys for `""`), at one
    /// consistent revision.
    fn range(&self, prefix: &str) -> Result<Snapshot, StoreError>;

    /// Applies `ops` atomically if and only if the store's current revision
    /// equals `expected`, and returns the new revision.
    ///
    /// On `Ok` the transaction is durable and visible to [`Store::range`]
    /// and [`Store::watch`]. On `Err` nothing was written:
    /// [`StoreError::Conflict`] if the revision moved,
    /// [`StoreError::EmptyTransaction`] for no ops,
    /// [`StoreError::EmptyKey`] / [`StoreError::DuplicateKey`] for a bad key,
    /// [`StoreError::NotFound`] for a delete of a missing key.
    /// A backend that cannot tell whether a failed write reached the disk
    /// answers [`StoreError::Poisoned`] from then on.
    fn commit(&self, expected: Revision, ops: Vec<Op>) -> Result<Revision, StoreError>;

    /// Every transaction with revision `>= from` that touches keys under
    /// `prefix`, in order: first the kept history, then live commits, with
    /// no gap and no duplicate.
    ///
    /// `from` = current revision + 1 means "only new ones"; a later `from`
    /// waits for that revision; `from` = 0 is read as 1. A `from` whose
    /// history was compacted away is [`StoreError::Compacted`].
    ///
    /// The history part is read when the watch starts, so a watch from far
    /// back holds every matching event since then in memory: watch from the
    /// revision of a recent [`Store::range`] + 1.
    fn watch(&self, prefix: &str, from: Revision) -> Result<Watch, StoreError>;
}

/// Locks a backend's state. A panic while it was held cannot have left it
/// half-written (memory commits check before they change anything; SQLite
/// rolls back an unfinished transaction), so a poisoned lock is still usable.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
