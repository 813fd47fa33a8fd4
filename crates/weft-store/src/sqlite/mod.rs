//! [`SqliteStore`]: the store in one SQLite file, crash-safe and owned by one
//! process.
//!
//! One connection serves everything, behind the mutex that orders commits,
//! reads and watch registrations. This process is the file's only user
//! (EXCLUSIVE locking mode), so the revision is cached in memory and checked
//! there; each commit is one SQLite transaction, i.e. one WAL append and one
//! fsync however many operations it holds.

mod schema;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use crate::history::{compaction_target, watch_start};
use crate::watch::WatchHub;
use crate::{
    DEFAULT_HISTORY, DEFAULT_WATCH_BUFFER, Event, EventKind, KeyValue, Op, Revision, Snapshot,
    Store, StoreError, Watch, WatchBatch, lock, txn,
};
use schema::{OP_DELETE, OP_PUT, corrupt};

pub use schema::SCHEMA_VERSION;

/// Tuning for [`SqliteStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Revisions of history kept for watchers, at least. Older history is
    /// deleted now and then, inside a commit.
    pub history: u64,
    /// Batches a watcher may have queued before it gets `Lagged`.
    pub watch_buffer: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            history: DEFAULT_HISTORY,
            watch_buffer: DEFAULT_WATCH_BUFFER,
        }
    }
}

/// A store in one SQLite file. See the crate documentation for its rules.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    conn: Connection,
    revision: Revision,
    compacted: Revision,
    keep: u64,
    hub: WatchHub,
    /// A COMMIT failed: SQLite may or may not have made it durable, so the
    /// cached revision cannot be trusted for new writes until a reopen.
    poisoned: bool,
}

impl SqliteStore {
    /// Opens the store at `path`, creating the file (and its directory) if
    /// missing, and holds it exclusively until dropped.
    ///
    /// Fails with [`StoreError::Locked`] at once if another process (or
    /// another `SqliteStore` in this one) has it open,
    /// [`StoreError::UnsupportedSchema`] for a file from another weft
    /// version, and [`StoreError::Corrupt`] for a file that is not a weft
    /// store.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        let (conn, meta) = schema::open(path)?;
        Ok(Self {
            path: path.to_owned(),
            state: Mutex::new(State {
                conn,
                revision: meta.revision,
                compacted: meta.compacted,
                keep: options.history,
                hub: WatchHub::new(options.watch_buffer),
                poisoned: false,
            }),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Store for SqliteStore {
    fn revision(&self) -> Result<Revision, StoreError> {
        Ok(lock(&self.state).revision)
    }

    fn range(&self, prefix: &str) -> Result<Snapshot, StoreError> {
        let state = lock(&self.state);
        // Keys compare as bytes (BINARY collation), like `str`, so the keys
        // under `prefix` are a contiguous run starting at `prefix`.
        let mut statement = state.conn.prepare_cached(
            "SELECT key, value, create_revision, mod_revision FROM kv WHERE key >= ?1 ORDER BY key",
        )?;
        let mut rows = statement.query([prefix])?;
        let mut items = Vec::new();
        while let Some(row) = rows.next()? {
            let key: String = row.get(0)?;
            if !key.starts_with(prefix) {
                break;
            }
            items.push(KeyValue {
                key,
                value: row.get(1)?,
                create_revision: row.get(2)?,
                mod_revision: row.get(3)?,
            });
        }
        Ok(Snapshot {
            revision: state.revision,
            items,
        })
    }

    fn commit(&self, expected: Revision, ops: Vec<Op>) -> Result<Revision, StoreError> {
        let mut guard = lock(&self.state);
        let state = &mut *guard;
        if state.poisoned {
            return Err(StoreError::Poisoned);
        }
        txn::check(expected, state.revision, &ops)?;
        let revision = state.revision + 1;
        let compact_to = compaction_target(revision, state.compacted, state.keep);

        let tx = state
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        write(&tx, revision, &ops, compact_to)?;
        // Returns once the WAL is fsync'd (synchronous = FULL). On any error
        // above, dropping `tx` rolls everything back.
        if let Err(error) = tx.commit() {
            // A failed fsync may still leave the transaction on disk, to be
            // recovered at the next open; refuse writes until then.
            state.poisoned = true;
            return Err(StoreError::Sqlite(error));
        }

        state.revision = revision;
        if let Some(compacted) = compact_to {
            state.compacted = compacted;
        }
        let events: Vec<Event> = ops.into_iter().map(Event::from).collect();
        state.hub.publish(revision, &events);
        Ok(revision)
    }

    fn watch(&self, prefix: &str, from: Revision) -> Result<Watch, StoreError> {
        let mut guard = lock(&self.state);
        let state = &mut *guard;
        let start = watch_start(from, state.compacted)?;
        let history = read_history(&state.conn, &self.path, prefix, start)?;
        let live_from = start.max(state.revision + 1);
        Ok(state.hub.subscribe(prefix, live_from, history))
    }
}

/// Writes one transaction at `revision`: the keys, its history rows, the new
/// revision, and a compaction if one is due.
fn write(
    tx: &Transaction<'_>,
    revision: Revision,
    ops: &[Op],
    compact_to: Option<Revision>,
) -> Result<(), StoreError> {
    let mut put = tx.prepare_cached(
        "INSERT INTO kv (key, value, create_revision, mod_revision) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_revision = excluded.mod_revision",
    )?;
    let mut delete = tx.prepare_cached("DELETE FROM kv WHERE key = ?1")?;
    let mut log = tx.prepare_cached(
        "INSERT INTO history (revision, ordinal, key, op, value) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (ordinal, op) in ops.iter().enumerate() {
        match op {
            Op::Put { key, value } => {
                put.execute(params![key, value, revision])?;
                log.execute(params![revision, ordinal, key, OP_PUT, value])?;
            }
            Op::Delete { key } => {
                if delete.execute([key])? == 0 {
                    return Err(StoreError::NotFound { key: key.clone() });
                }
                log.execute(params![revision, ordinal, key, OP_DELETE, None::<&[u8]>])?;
            }
        }
    }

    let mut set_meta = tx.prepare_cached("UPDATE meta SET value = ?2 WHERE name = ?1")?;
    set_meta.execute(params!["revision", revision])?;
    if let Some(compacted) = compact_to {
        tx.prepare_cached("DELETE FROM history WHERE revision <= ?1")?
            .execute([compacted])?;
        set_meta.execute(params!["compacted", compacted])?;
    }
    Ok(())
}

/// The kept transactions from revision `start` on that touch `prefix`, one
/// batch per revision.
fn read_history(
    conn: &Connection,
    path: &Path,
    prefix: &str,
    start: Revision,
) -> Result<VecDeque<WatchBatch>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT revision, key, op, value FROM history WHERE revision >= ?1 ORDER BY revision, ordinal",
    )?;
    let mut rows = statement.query([start])?;
    let mut batches: VecDeque<WatchBatch> = VecDeque::new();
    while let Some(row) = rows.next()? {
        let key: String = row.get(1)?;
        if !key.starts_with(prefix) {
            continue;
        }
        let revision: Revision = row.get(0)?;
        let event = match row.get::<_, i64>(2)? {
            OP_PUT => Event {
                kind: EventKind::Put,
                key,
                value: Some(row.get(3)?),
            },
            OP_DELETE => Event {
                kind: EventKind::Delete,
                key,
                value: None,
            },
            other => {
                return Err(corrupt(
                    path,
                    &format!("history revision {revision} has unknown op {other}"),
                ));
            }
        };
        match batches.back_mut() {
            Some(batch) if batch.revision == revision => batch.events.push(event),
            _ => batches.push_back(WatchBatch {
                revision,
                events: vec![event],
            }),
        }
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn pragma(store: &SqliteStore, name: &str) -> String {
        let state = lock(&store.state);
        state
            .conn
            .pragma_query_value(None, name, |row| {
                Ok(match row.get_ref(0)? {
                    rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                    other => other.as_str()?.to_owned(),
                })
            })
            .unwrap()
    }

    #[test]
    fn durability_settings_are_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db"), SqliteOptions::default()).unwrap();
        store.commit(0, vec![Op::put("a", "1")]).unwrap();
        assert_eq!(pragma(&store, "journal_mode"), "wal");
        assert_eq!(pragma(&store, "locking_mode"), "exclusive");
        // 2 = FULL: the WAL is synced at every commit.
        assert_eq!(pragma(&store, "synchronous"), "2");
        // EXCLUSIVE locking keeps the WAL index in memory: no -shm file.
        assert!(!dir.path().join("s.db-shm").exists());
    }

    #[test]
    fn compaction_deletes_old_history_rows() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteOptions {
            history: 10,
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open(&dir.path().join("s.db"), options).unwrap();
        for revision in 0..100 {
            store.commit(revision, vec![Op::put("k", "v")]).unwrap();
        }
        let state = lock(&store.state);
        let (rows, oldest): (u64, Revision) = state
            .conn
            .query_row("SELECT count(*), min(revision) FROM history", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .unwrap();
        assert_eq!(oldest, state.compacted + 1);
        assert_eq!(rows, 100 - state.compacted);
        assert!((10..=26).contains(&rows), "{rows}");
    }
}
