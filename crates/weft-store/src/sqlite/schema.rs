//! Opening the SQLite file: connection settings, the exclusive lock, and the
//! schema (created on first open, checked on every later one).
//!
//! ```text
//! meta    (name TEXT PRIMARY KEY, value INTEGER)
//!         'schema_version' = 1, 'revision' = current, 'compacted' = history
//!         up to and including this revision is gone
//! kv      (key TEXT PRIMARY KEY, value BLOB, create_revision, mod_revision)
//! history (revision, ordinal, key, op, value)  PRIMARY KEY (revision, ordinal)
//!         one row per operation of every kept transaction; op 1 = put,
//!         2 = delete (value NULL)
//! ```

use std::path::Path;
use std::time::Duration;

use rusqlite::ffi::ErrorCode;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::{Revision, StoreError};

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: i64 = 1;

/// `history.op` of a put.
pub(super) const OP_PUT: i64 = 1;
/// `history.op` of a delete.
pub(super) const OP_DELETE: i64 = 2;

const CREATE_SCHEMA: &str = "
    CREATE TABLE meta (
        name  TEXT PRIMARY KEY NOT NULL,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE kv (
        key             TEXT PRIMARY KEY NOT NULL,
        value           BLOB NOT NULL,
        create_revision INTEGER NOT NULL,
        mod_revision    INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE history (
        revision INTEGER NOT NULL,
        ordinal  INTEGER NOT NULL,
        key      TEXT NOT NULL,
        op       INTEGER NOT NULL CHECK (op IN (1, 2)),
        value    BLOB,
        PRIMARY KEY (revision, ordinal)
    ) WITHOUT ROWID;
";

/// What the meta table says about an opened file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Meta {
    pub(super) revision: Revision,
    pub(super) compacted: Revision,
}

/// Opens (creating if needed) the database at `path`, takes its exclusive
/// lock, and creates or checks the schema.
pub(super) fn open(path: &Path) -> Result<(Connection, Meta), StoreError> {
    let created = !path.exists();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
            path: parent.to_owned(),
            source,
        })?;
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    configure(&conn, path)?;
    let meta = init_or_check(&mut conn, path)?;
    if created {
        sync_parent_dir(path)?;
    }
    Ok((conn, meta))
}

/// Connection settings. EXCLUSIVE locking must come before WAL so that SQLite
/// keeps the WAL index in process memory (no `-shm` file) and holds the file
/// lock from the first read until the connection closes; the first read is
/// the `journal_mode` switch, so a second owner fails right here.
fn configure(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let error = |e| open_error(path, e);
    // Fail at once rather than wait for a lock that is never released.
    conn.busy_timeout(Duration::ZERO).map_err(error)?;
    conn.pragma_update_and_check(None, "locking_mode", "EXCLUSIVE", |_| Ok(()))
        .map_err(error)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(corrupt(
            path,
            &format!("SQLite refused WAL journal mode (kept {mode})"),
        ));
    }
    // FULL: the WAL is fsync'd at every commit, so an acknowledged commit
    // survives power loss, not only a crash of this process.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(error)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

/// Creates the schema in an empty file, or checks an existing one.
fn init_or_check(conn: &mut Connection, path: &Path) -> Result<Meta, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| open_error(path, e))?;
    let tables: i64 = tx
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |row| row.get(0),
        )
        .map_err(|e| open_error(path, e))?;
    let has_meta = tx
        .query_row(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();

    let meta = if tables == 0 {
        tx.execute_batch(CREATE_SCHEMA)?;
        tx.execute(
            "INSERT INTO meta (name, value) VALUES ('schema_version', ?1), ('revision', 0), ('compacted', 0)",
            [SCHEMA_VERSION],
        )?;
        Meta {
            revision: 0,
            compacted: 0,
        }
    } else if !has_meta {
        return Err(corrupt(path, "not a weft store (no meta table)"));
    } else {
        let found = read_meta(&tx, path, "schema_version")?;
        if found != SCHEMA_VERSION {
            return Err(StoreError::UnsupportedSchema {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        let meta = Meta {
            revision: read_revision(&tx, path, "revision")?,
            compacted: read_revision(&tx, path, "compacted")?,
        };
        check_invariants(&tx, path, meta)?;
        meta
    };
    tx.commit()?;
    Ok(meta)
}

/// Cheap sanity checks of an existing file (index lookups only).
fn check_invariants(conn: &Connection, path: &Path, meta: Meta) -> Result<(), StoreError> {
    if meta.compacted > meta.revision {
        return Err(corrupt(
            path,
            &format!(
                "compacted revision {} is past the current revision {}",
                meta.compacted, meta.revision
            ),
        ));
    }
    let newest: Option<Revision> =
        conn.query_row("SELECT max(revision) FROM history", [], |row| row.get(0))?;
    if let Some(newest) = newest.filter(|&newest| newest > meta.revision) {
        return Err(corrupt(
            path,
            &format!(
                "history holds revision {newest}, past the current revision {}",
                meta.revision
            ),
        ));
    }
    Ok(())
}

fn read_meta(conn: &Connection, path: &Path, name: &str) -> Result<i64, StoreError> {
    conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |row| {
        row.get(0)
    })
    .optional()?
    .ok_or_else(|| corrupt(path, &format!("meta entry {name:?} is missing")))
}

fn read_revision(conn: &Connection, path: &Path, name: &str) -> Result<Revision, StoreError> {
    let value = read_meta(conn, path, name)?;
    Revision::try_from(value)
        .map_err(|_| corrupt(path, &format!("meta entry {name:?} is negative ({value})")))
}

/// Makes the new file's directory entry durable too.
fn sync_parent_dir(path: &Path) -> Result<(), StoreError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| StoreError::Io {
            path: parent.to_owned(),
            source,
        })
}

pub(super) fn corrupt(path: &Path, detail: &str) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        detail: detail.to_owned(),
    }
}

/// Names the errors an opener can act on: someone else holds the file, or it
/// is not a database.
fn open_error(path: &Path, error: rusqlite::Error) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
            path: path.to_owned(),
        },
        Some(ErrorCode::NotADatabase) => corrupt(path, "not an SQLite database"),
        Some(ErrorCode::DatabaseCorrupt) => corrupt(path, "SQLite reports the file malformed"),
        _ => StoreError::Sqlite(error),
    }
}
