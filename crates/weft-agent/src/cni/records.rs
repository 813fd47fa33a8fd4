//! What the CNI endpoint keeps on disk, under `state_dir/cni/`:
//!
//! * `attachments/<container id>.<ifname>.json` — one per plugged
//!   container interface: its port and the result ADD answered, so a
//!   repeated ADD answers the same and DEL knows the port after a restart;
//! * `port-deletes/<port id>` — ports whose deletion the server has not
//!   confirmed yet (it was away); retried until it answers.
//!
//! The plugin's own spool (DELs it could not hand to the agent) is a third
//! directory, read by [`Records::take_spooled`].
//!
//! Every file is written to a temporary name, synced and renamed, so a crash
//! leaves either the old or the new content.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use weft_api::cni::{CniAttachment, CniTarget};

/// One plugged container interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub container_id: String,
    pub ifname: String,
    pub netns: Option<String>,
    pub port_id: String,
    /// The pod's UID, when known.
    #[serde(default)]
    pub pod_uid: Option<String>,
    /// The host end of the veth.
    pub host_interface: String,
    pub result: CniAttachment,
}

/// Why a record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot {op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a CNI record")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Whether `text` may be used as (part of) a file name: CNI restricts
/// container ids to letters, digits, `_`, `.` and `-`, and interface names
/// to 15 characters without `/` or whitespace.
pub(super) fn safe_name(text: &str) -> bool {
    !text.is_empty()
        && text != "."
        && text != ".."
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The CNI records of one agent.
#[derive(Clone, Debug)]
pub struct Records {
    attachments: PathBuf,
    deletes: PathBuf,
    spool: PathBuf,
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> RecordError + use<> {
    let path = path.to_owned();
    move |source| RecordError::Io { op, path, source }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::File::create(&tmp).map_err(io_err("create", &tmp))?;
    file.write_all(bytes).map_err(io_err("write", &tmp))?;
    file.sync_all().map_err(io_err("sync", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("rename", path))?;
    if let Some(dir) = path.parent()
        && let Ok(dir) = fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn remove(path: &Path) -> Result<(), RecordError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove", path)(e)),
    }
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>, RecordError> {
    let mut out = Vec::new();
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_err("list", dir)(e)),
    };
    for entry in read {
        let path = entry.map_err(io_err("list", dir))?.path();
        if path.extension().is_some_and(|e| e == "tmp") {
            continue;
        }
        out.push(path);
    }
    out.sort();
    Ok(out)
}

impl Records {
    /// Records under `state_dir/cni`, the plugin's spool in `spool`.
    pub fn open(state_dir: &Path, spool: &Path) -> Result<Records, RecordError> {
        let base = state_dir.join("cni");
        let records = Records {
            attachments: base.join("attachments"),
            deletes: base.join("port-deletes"),
            spool: spool.to_owned(),
        };
        for dir in [&records.attachments, &records.deletes, &records.spool] {
            fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        }
        Ok(records)
    }

    fn attachment_path(&self, container_id: &str, ifname: &str) -> PathBuf {
        self.attachments
            .join(format!("{container_id}.{ifname}.json"))
    }

    /// The attachment of `container_id` + `ifname`, if plugged.
    pub fn get(&self, container_id: &str, ifname: &str) -> Result<Option<Attachment>, RecordError> {
        let path = self.attachment_path(container_id, ifname);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| RecordError::Parse { path, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &path)(e)),
        }
    }

    pub fn put(&self, attachment: &Attachment) -> Result<(), RecordError> {
        let path = self.attachment_path(&attachment.container_id, &attachment.ifname);
        let bytes = serde_json::to_vec_pretty(attachment).map_err(|source| RecordError::Parse {
            path: path.clone(),
            source,
        })?;
        write_atomic(&path, &bytes)
    }

    pub fn forget(&self, container_id: &str, ifname: &str) -> Result<(), RecordError> {
        remove(&self.attachment_path(container_id, ifname))
    }

    /// Every attachment.
    pub fn all(&self) -> Result<Vec<Attachment>, RecordError> {
        let mut out = Vec::new();
        for path in entries(&self.attachments)? {
            let bytes = fs::read(&path).map_err(io_err("read", &path))?;
            out.push(
                serde_json::from_slice(&bytes)
                    .map_err(|source| RecordError::Parse { path, source })?,
            );
        }
        Ok(out)
    }

    /// Remembers that `port_id` must be deleted on the server.
    pub fn queue_port_delete(&self, port_id: &str) -> Result<(), RecordError> {
        write_atomic(&self.deletes.join(port_id), port_id.as_bytes())
    }

    pub fn port_delete_done(&self, port_id: &str) -> Result<(), RecordError> {
        remove(&self.deletes.join(port_id))
    }

    /// Ports still to delete on the server.
    pub fn pending_port_deletes(&self) -> Result<Vec<String>, RecordError> {
        Ok(entries(&self.deletes)?
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .filter(|name| safe_name(name))
            .collect())
    }

    /// The DELs the plugin spooled while the agent was away, each with the
    /// file to remove once it is done. Unreadable files are reported and
    /// left in place.
    pub fn spooled(&self) -> Result<Vec<(PathBuf, CniTarget)>, RecordError> {
        let mut out = Vec::new();
        for path in entries(&self.spool)? {
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let parsed = fs::read(&path)
                .map_err(io_err("read", &path))
                .and_then(|bytes| {
                    serde_json::from_slice(&bytes).map_err(|source| RecordError::Parse {
                        path: path.clone(),
                        source,
                    })
                });
            match parsed {
                Ok(target) => out.push((path, target)),
                Err(e) => tracing::warn!(error = %e, "skipping a spooled CNI DEL"),
            }
        }
        Ok(out)
    }

    /// Removes a spooled DEL once done.
    pub fn take_spooled(&self, path: &Path) -> Result<(), RecordError> {
        remove(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_api::cni::CniDns;

    fn attachment(cid: &str) -> Attachment {
        Attachment {
            container_id: cid.into(),
            ifname: "eth0".into(),
            netns: Some("/run/netns/x".into()),
            port_id: "p1".into(),
            pod_uid: None,
            host_interface: "vethp1".into(),
            result: CniAttachment {
                interfaces: Vec::new(),
                ips: Vec::new(),
                routes: Vec::new(),
                dns: CniDns::default(),
                port_id: "p1".into(),
            },
        }
    }

    #[test]
    fn attachments_and_deletes_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = dir.path().join("spool");
        let records = Records::open(dir.path(), &spool).expect("open");
        records.put(&attachment("c1")).expect("put");
        records.queue_port_delete("p9").expect("queue");
        let again = Records::open(dir.path(), &spool).expect("reopen");
        assert_eq!(
            again.get("c1", "eth0").expect("get"),
            Some(attachment("c1"))
        );
        assert_eq!(again.get("c2", "eth0").expect("get"), None);
        assert_eq!(again.pending_port_deletes().expect("pending"), vec!["p9"]);
        again.port_delete_done("p9").expect("done");
        again.forget("c1", "eth0").expect("forget");
        assert!(again.all().expect("all").is_empty());
        assert!(again.pending_port_deletes().expect("pending").is_empty());
    }

    #[test]
    fn only_plain_names_become_file_names() {
        assert!(safe_name("0123abc_def.g-h"));
        for bad in ["", ".", "..", "a/b", "a b", "é"] {
            assert!(!safe_name(bad), "{bad:?}");
        }
    }
}
