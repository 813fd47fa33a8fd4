//! What can go wrong in a store and in a watch.

use std::path::PathBuf;

use crate::Revision;

/// Why a store operation failed. Every commit error means nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store moved on since the caller read it.
    #[error("Revision conflict: expected the store at revision {expected}, it is at {current}")]
    Conflict {
        expected: Revision,
        current: Revision,
    },

    /// A transaction deleted a key that does not exist.
    #[error("Key {key:?} does not exist")]
    NotFound { key: String },

    /// A transaction had no operations.
    #[error("Transaction has no operations")]
    EmptyTransaction,

    /// An operation named the empty key.
    #[error("Key must not be empty")]
    EmptyKey,

    /// A transaction wrote the same key twice.
    #[error("Key {key:?} appears more than once in one transaction")]
    DuplicateKey { key: String },

    /// A watch asked for history that compaction already removed.
    #[error(
        "Revision {requested} has been compacted; the oldest revision still watchable is {oldest_available}"
    )]
    Compacted {
        requested: Revision,
        oldest_available: Revision,
    },

    /// Another process (or another open store in this one) owns the file.
    #[error("Store {path} is in use by another process")]
    Locked { path: PathBuf },

    /// The file was written by a different version of weft.
    #[error("Store schema version {found} is not supported (this build reads version {supported})")]
    UnsupportedSchema { found: i64, supported: i64 },

    /// The file is not a weft store, or its contents break the store's
    /// invariants.
    #[error("Store {path} is corrupt: {detail}")]
    Corrupt { path: PathBuf, detail: String },

    /// An earlier commit failed while being made durable, so whether it
    /// reached the disk is unknown; the store refuses writes until reopened
    /// (reopening finds the file either with or without that commit).
    #[error("Store refuses writes after a failed commit; reopen it")]
    Poisoned,

    /// SQLite reported an error.
    #[error("SQLite operation failed")]
    Sqlite(#[source] rusqlite::Error),

    /// The file system reported an error.
    #[error("Store I/O failed on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sqlite(error)
    }
}

/// Why a [`Watch`](crate::Watch) stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The consumer fell behind and its buffer overflowed. Every batch before
    /// `resume_from` was delivered; watch again from `resume_from` (or, if
    /// that is compacted, re-read with `range`).
    #[error("Watcher fell behind; resume from revision {resume_from}")]
    Lagged { resume_from: Revision },

    /// The store was dropped.
    #[error("Store was closed")]
    Closed,
}
