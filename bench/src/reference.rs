//! The references: what durable writes cost on this disk without weft.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rusqlite::Connection;

/// What one reference run measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Inserts {
    pub rows: usize,
    pub rows_per_transaction: usize,
    pub elapsed: Duration,
    /// The size of one value (they differ by a few bytes at most).
    pub value_bytes: usize,
}

impl Inserts {
    pub fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }
}

/// Inserts `rows` values of [`sample_value`] into a new SQLite database at
/// `path` — WAL, `synchronous=FULL`, so every commit fsyncs the WAL —
/// committing after every `rows_per_transaction` rows, sequentially.
pub fn sqlite_inserts(
    path: &Path,
    rows: usize,
    rows_per_transaction: usize,
) -> anyhow::Result<Inserts> {
    if rows_per_transaction == 0 {
        bail!("rows per transaction must be at least 1");
    }
    if path.exists() {
        bail!("{} already exists", path.display());
    }
    let context = || format!("reference database {}", path.display());
    let mut conn = Connection::open(path).with_context(context)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .with_context(context)?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!(
            "SQLite refused WAL mode for {} (kept {mode})",
            path.display()
        );
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .with_context(context)?;
    conn.execute_batch(
        "CREATE TABLE kv (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID;",
    )
    .with_context(context)?;

    // Values are built before the clock starts: the reference times the
    // store, not JSON encoding.
    let values: Vec<(String, String)> = (0..rows).map(|i| (key(i), sample_value(i))).collect();
    let value_bytes = values.first().map_or(0, |(_, v)| v.len());

    let start = Instant::now();
    for chunk in values.chunks(rows_per_transaction) {
        let tx = conn.transaction().with_context(context)?;
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO kv (key, value) VALUES (?1, ?2)")
                .with_context(context)?;
            for (key, value) in chunk {
                insert
                    .execute((key, value.as_bytes()))
                    .with_context(context)?;
            }
        }
        tx.commit().with_context(context)?;
    }
    let elapsed = start.elapsed();
    drop(conn);
    Ok(Inserts {
        rows,
        rows_per_transaction,
        elapsed,
        value_bytes,
    })
}

fn uuid_like(kind: u32, i: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{i:012x}")
}

fn key(i: usize) -> String {
    format!("port/{}", uuid_like(0x0b0b, i))
}

/// Row `i` of the reference: a port with the fields weft returns for one
/// (about 670 bytes), varying by row like the id, MAC and address do.
pub fn sample_value(i: usize) -> String {
    let [.., hi, lo] = (i as u64).to_be_bytes();
    serde_json::json!({
        "id": uuid_like(0x0b0b, i),
        "revision_number": 1,
        "created_at": "2026-01-01T00:00:00.000000000Z",
        "updated_at": "2026-01-01T00:00:00.000000000Z",
        "description": "",
        "tags": [],
        "name": "",
        "project_id": uuid_like(0x0001, 1),
        "network_id": uuid_like(0x0002, 1),
        "mac_address": format!("fa:16:3e:00:{hi:02x}:{lo:02x}"),
        "fixed_ips": [{
            "subnet_id": uuid_like(0x0003, 1),
            "ip_address": format!("10.0.{hi}.{lo}"),
        }],
        "security_groups": [uuid_like(0x0004, 1)],
        "allowed_address_pairs": [],
        "port_security_enabled": true,
        "admin_state_up": true,
        "vif_type": "unbound",
        "vnic_type": "normal",
        "binding_profile": {},
        "device_owner": "",
        "device_id": "",
        "status": "DOWN",
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_values_are_port_sized_and_distinct() {
        let a = sample_value(0);
        let b = sample_value(65_000);
        assert_ne!(a, b);
        for v in [&a, &b] {
            assert!((550..=750).contains(&v.len()), "{} bytes: {v}", v.len());
        }
    }

    #[test]
    fn inserts_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ref.db");
        let r = sqlite_inserts(&path, 10, 3).unwrap();
        assert_eq!((r.rows, r.rows_per_transaction), (10, 3));
        let conn = Connection::open(&path).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM kv", [], |row| row.get(0))
            .unwrap();
        assert_eq!(n, 10);
    }
}
