//! Every acknowledged commit survives `kill -9`.
//!
//! The test re-runs its own binary as a child (`crash_child`) that commits
//! small transactions in a tight loop and prints each revision after
//! `commit` returns. The parent `kill -9`s it part-way, reopens the file and
//! checks that every acknowledged revision is there and that the store is
//! consistent; then it lets a new child carry on from there, a few times.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

use weft_store::{Op, Revision, SqliteOptions, SqliteStore, Store, StoreError};

/// Set (to a database path) in the child process.
const CHILD_ENV: &str = "WEFT_STORE_CRASH_CHILD";
const ROUNDS: usize = 4;
/// History small enough that compaction runs during the test.
const HISTORY: u64 = 150;

fn options() -> SqliteOptions {
    SqliteOptions {
        history: HISTORY,
        ..SqliteOptions::default()
    }
}

fn item_key(revision: Revision) -> String {
    format!("item/{revision:010}")
}

fn item_value(revision: Revision) -> Vec<u8> {
    format!("value of revision {revision} ")
        .repeat(4)
        .into_bytes()
}

/// The transaction that makes `revision`: a counter, one new item, and a
/// `toggle` key that odd revisions create and even ones delete.
fn transaction(revision: Revision) -> Vec<Op> {
    let toggle = if revision % 2 == 1 {
        Op::put("toggle", revision.to_string())
    } else {
        Op::delete("toggle")
    };
    vec![
        Op::put("counter", revision.to_string()),
        Op::put(item_key(revision), item_value(revision)),
        toggle,
    ]
}

/// Run by `acknowledged_commits_survive_kill_9` in a child process: commits
/// until killed.
#[test]
#[ignore = "child process of acknowledged_commits_survive_kill_9"]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = SqliteStore::open(Path::new(&path), options()).unwrap();
    let mut stdout = std::io::stdout().lock();
    let mut revision = store.revision().unwrap();
    loop {
        revision = store.commit(revision, transaction(revision + 1)).unwrap();
        writeln!(stdout, "ack {revision}").unwrap();
        stdout.flush().unwrap();
    }
}

/// Starts a child on `path`, kills it after `acks` acknowledgements, and
/// returns the revisions it acknowledged.
fn run_child_and_kill(path: &Path, acks: usize) -> Vec<Revision> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while acked.len() < acks {
        let Some(line) = lines.next() else {
            let output = child.wait_with_output().unwrap();
            panic!(
                "child stopped after {} acks: {}",
                acked.len(),
                String::from_utf8_lossy(&output.stderr)
            );
        };
        if let Some(revision) = line.unwrap().strip_prefix("ack ") {
            acked.push(revision.parse().unwrap());
        }
    }
    // SIGKILL, mid-way through the next commit more often than not.
    child.kill().unwrap();
    child.wait().unwrap();
    // Acknowledgements the child wrote before it died but this side had
    // not read yet are acknowledged all the same: the newest one printed
    // is what the store must hold (a slow reader used to miss them).
    for line in lines {
        let Ok(line) = line else { break };
        if let Some(Ok(revision)) = line.strip_prefix("ack ").map(str::parse) {
            acked.push(revision);
        }
    }
    acked
}

/// Reopens the store and checks it against everything acknowledged so far.
fn check(path: &Path, acked: &[Revision]) -> Revision {
    let store = SqliteStore::open(path, options()).unwrap();
    let revision = store.revision().unwrap();
    let newest_ack = *acked.last().unwrap();
    assert!(
        revision >= newest_ack,
        "lost commits: store at {revision}, acked {newest_ack}"
    );
    // A commit may have become durable just before the kill, unacknowledged;
    // at most one is in flight.
    assert!(revision <= newest_ack + 1);

    let snapshot = store.range("").unwrap();
    assert_eq!(snapshot.revision, revision);
    let keys: BTreeMap<&str, _> = snapshot
        .items
        .iter()
        .map(|kv| (kv.key.as_str(), kv))
        .collect();
    let newest_mod = snapshot.items.iter().map(|kv| kv.mod_revision).max();
    assert_eq!(newest_mod, Some(revision));

    let counter = keys["counter"];
    assert_eq!(counter.value, revision.to_string().into_bytes());
    assert_eq!(counter.mod_revision, revision);
    assert_eq!(keys.contains_key("toggle"), revision % 2 == 1);

    // Every revision, acknowledged or not, committed whole.
    for r in 1..=revision {
        let item = keys
            .get(item_key(r).as_str())
            .unwrap_or_else(|| panic!("revision {r} lost its item"));
        assert_eq!((item.create_revision, item.mod_revision), (r, r));
        assert_eq!(item.value, item_value(r));
    }
    assert_eq!(snapshot.items.len() as u64, revision + 1 + revision % 2);
    for r in acked {
        assert!(keys.contains_key(item_key(*r).as_str()));
    }

    // History is whole from the compaction point to the end.
    let oldest = match store.watch("", 1) {
        Ok(_) => 1,
        Err(StoreError::Compacted {
            oldest_available, ..
        }) => oldest_available,
        Err(other) => panic!("{other}"),
    };
    assert!(revision + 1 - oldest >= HISTORY.min(revision));
    let mut watch = store.watch("", oldest).unwrap();
    for r in oldest..=revision {
        let batch = watch.blocking_next().unwrap();
        assert_eq!(batch.revision, r);
        let events: Vec<_> = transaction(r).into_iter().map(Into::into).collect();
        assert_eq!(batch.events, events);
    }
    assert_eq!(watch.try_next().unwrap(), None);

    // And it takes new commits.
    store.commit(revision, transaction(revision + 1)).unwrap()
}

#[test]
fn acknowledged_commits_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut acked = Vec::new();
    for round in 0..ROUNDS {
        acked.extend(run_child_and_kill(&path, 200 + 37 * round));
        let after_check = check(&path, &acked);
        acked.push(after_check);
    }
    assert!(acked.len() > 800);
}
