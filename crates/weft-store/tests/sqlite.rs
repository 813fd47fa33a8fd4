//! What only the SQLite backend promises: the file keeps everything across
//! reopen, one process owns it, and files it does not understand are refused.

#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use weft_store::{Op, SCHEMA_VERSION, SqliteOptions, SqliteStore, Store, StoreError};

/// Set (to a database path) in the child process of
/// `a_second_process_gets_locked`.
const LOCK_PROBE_ENV: &str = "WEFT_STORE_LOCK_PROBE";

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path, SqliteOptions::default()).unwrap()
}

#[test]
fn reopen_keeps_keys_revisions_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dirs/store.db");
    let before = {
        let store = open(&path);
        store
            .commit(0, vec![Op::put("a", "1"), Op::put("b", "1")])
            .unwrap();
        store.commit(1, vec![Op::put("a", "2")]).unwrap();
        store.commit(2, vec![Op::delete("b")]).unwrap();
        store.range("").unwrap()
    };
    let store = open(&path);
    assert_eq!(store.revision().unwrap(), 3);
    assert_eq!(store.range("").unwrap(), before);
    let a = &before.items[0];
    assert_eq!((a.create_revision, a.mod_revision), (1, 2));

    let mut watch = store.watch("", 1).unwrap();
    let revisions: Vec<_> = (0..3)
        .map(|_| watch.blocking_next().unwrap().revision)
        .collect();
    assert_eq!(revisions, [1, 2, 3]);
    assert_eq!(store.commit(3, vec![Op::put("c", "1")]).unwrap(), 4);
    assert_eq!(watch.blocking_next().unwrap().revision, 4);
}

#[test]
fn reopen_keeps_the_compaction_point() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let options = SqliteOptions {
        history: 10,
        ..SqliteOptions::default()
    };
    let oldest = {
        let store = SqliteStore::open(&path, options).unwrap();
        for revision in 0..100 {
            store
                .commit(revision, vec![Op::put(format!("k{revision}"), "v")])
                .unwrap();
        }
        match store.watch("", 1) {
            Err(StoreError::Compacted {
                oldest_available, ..
            }) => oldest_available,
            other => panic!("expected Compacted, got {other:?}"),
        }
    };
    let store = SqliteStore::open(&path, options).unwrap();
    assert!(matches!(
        store.watch("", oldest - 1),
        Err(StoreError::Compacted { oldest_available, .. }) if oldest_available == oldest
    ));
    let mut watch = store.watch("", oldest).unwrap();
    assert_eq!(watch.blocking_next().unwrap().revision, oldest);
}

#[test]
fn a_second_open_in_this_process_gets_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let first = open(&path);
    first.commit(0, vec![Op::put("a", "1")]).unwrap();

    let started = Instant::now();
    let err = SqliteStore::open(&path, SqliteOptions::default()).unwrap_err();
    assert!(
        matches!(&err, StoreError::Locked { path: p } if *p == path),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));

    // The failed opener did not disturb the owner, and the lock goes with it.
    assert_eq!(first.commit(1, vec![Op::put("b", "1")]).unwrap(), 2);
    drop(first);
    assert_eq!(open(&path).revision().unwrap(), 2);
}

#[test]
fn a_second_process_gets_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = open(&path);
    store.commit(0, vec![Op::put("a", "1")]).unwrap();

    let started = Instant::now();
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["lock_probe_child", "--exact", "--ignored", "--nocapture"])
        .env(LOCK_PROBE_ENV, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("probe: locked"), "{stdout}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(store.commit(1, vec![Op::put("b", "1")]).unwrap(), 2);
}

/// Run by `a_second_process_gets_locked` in a child process.
#[test]
#[ignore = "child process of a_second_process_gets_locked"]
fn lock_probe_child() {
    let Some(path) = std::env::var_os(LOCK_PROBE_ENV) else {
        return;
    };
    let started = Instant::now();
    let result = SqliteStore::open(&PathBuf::from(path), SqliteOptions::default());
    let verdict = match result {
        Err(StoreError::Locked { .. }) if started.elapsed() < Duration::from_secs(1) => "locked",
        Err(StoreError::Locked { .. }) => "locked, slowly",
        Err(_) => "other error",
        Ok(_) => "opened",
    };
    writeln!(std::io::stdout(), "probe: {verdict}").unwrap();
}

#[test]
fn an_unknown_schema_version_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(open(&path));
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE meta SET value = ?1 WHERE name = 'schema_version'",
            [SCHEMA_VERSION + 1],
        )
        .unwrap();
    }
    let err = SqliteStore::open(&path, SqliteOptions::default()).unwrap_err();
    assert!(
        matches!(err, StoreError::UnsupportedSchema { found, supported }
            if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err:?}"
    );
}

#[test]
fn a_foreign_sqlite_database_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE users (name TEXT)")
        .unwrap();
    let err = SqliteStore::open(&path, SqliteOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
}

#[test]
fn a_file_that_is_not_a_database_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "x".repeat(4096)).unwrap();
    let err = SqliteStore::open(&path, SqliteOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "x".repeat(4096));
}
