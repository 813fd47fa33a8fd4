//! What `weft vm` remembers of the VMs it started: one JSON file per VM in
//! the state directory, written whole (temporary file, then rename), next
//! to QEMU's pid file and the serial console log.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// One VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct VmRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) host: String,
    pub(crate) port_id: String,
    pub(crate) network_id: String,
    pub(crate) network_name: String,
    pub(crate) mac: String,
    pub(crate) tap: String,
    /// QEMU's PID.
    pub(crate) pid: u32,
    /// The namespace QEMU and the tap are in (none: the command's own).
    pub(crate) netns: Option<String>,
    pub(crate) console_log: PathBuf,
    pub(crate) image: PathBuf,
}

/// The state directory.
#[derive(Debug, Clone)]
pub(crate) struct Records {
    dir: PathBuf,
}

impl Records {
    /// The records in `dir` (made when missing, then taken as absolute:
    /// QEMU writes there after leaving the current directory).
    pub(crate) fn open(dir: &Path) -> anyhow::Result<Records> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("create the VM state directory {}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("resolve {}", dir.display()))?;
        Ok(Records { dir })
    }

    /// The records, if the directory exists (nothing is made to read).
    pub(crate) fn existing(dir: &Path) -> Records {
        Records {
            dir: dir.canonicalize().unwrap_or_else(|_| dir.to_owned()),
        }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    pub(crate) fn console_log(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.console.log"))
    }

    pub(crate) fn pidfile(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.pid"))
    }

    /// Writes a record whole.
    pub(crate) fn save(&self, record: &VmRecord) -> anyhow::Result<()> {
        let path = self.path(&record.id);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(record)?;
        std::fs::write(&tmp, text).with_context(|| format!("write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("write {}", path.display()))?;
        Ok(())
    }

    /// Every record, by name then id. An unreadable record is an error
    /// naming its file.
    pub(crate) fn all(&self) -> anyhow::Result<Vec<VmRecord>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("read {}", self.dir.display())),
        };
        let mut records = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("read {}", path.display()))?;
            let record: VmRecord = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a VM record", path.display()))?;
            records.push(record);
        }
        records.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(records)
    }

    /// The VM with that id, or the one VM with that name.
    pub(crate) fn find(&self, name_or_id: &str) -> anyhow::Result<VmRecord> {
        let all = self.all()?;
        if let Some(record) = all.iter().find(|r| r.id == name_or_id) {
            return Ok(record.clone());
        }
        let named: Vec<&VmRecord> = all.iter().filter(|r| r.name == name_or_id).collect();
        match named[..] {
            [one] => Ok(one.clone()),
            [] => bail!(
                "no VM {name_or_id:?} in {} (weft vm list shows them)",
                self.dir.display()
            ),
            _ => bail!(
                "{} VMs are named {name_or_id:?}: give the id ({})",
                named.len(),
                named
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Removes a VM's record, pid file and console log.
    pub(crate) fn remove(&self, id: &str) -> anyhow::Result<()> {
        for path in [self.pidfile(id), self.console_log(id), self.path(id)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("remove {}", path.display())),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, name: &str) -> VmRecord {
        VmRecord {
            id: id.into(),
            name: name.into(),
            host: "os-compute".into(),
            port_id: "p".into(),
            network_id: "n".into(),
            network_name: "seamless".into(),
            mac: "fa:16:3e:00:00:01".into(),
            tap: "tapp".into(),
            pid: 1,
            netns: None,
            console_log: "/x".into(),
            image: "/img".into(),
        }
    }

    #[test]
    fn records_are_saved_listed_found_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::open(&dir.path().join("vms")).unwrap();
        assert!(records.all().unwrap().is_empty());
        records.save(&record("b", "web")).unwrap();
        records.save(&record("a", "web")).unwrap();
        records.save(&record("c", "db")).unwrap();
        std::fs::write(records.console_log("c"), "boot").unwrap();
        let names: Vec<_> = records
            .all()
            .unwrap()
            .iter()
            .map(|r| format!("{}/{}", r.name, r.id))
            .collect();
        assert_eq!(names, ["db/c", "web/a", "web/b"]);
        assert_eq!(records.find("db").unwrap().id, "c");
        assert_eq!(records.find("b").unwrap().id, "b");
        let e = records.find("web").unwrap_err().to_string();
        assert!(
            e.contains("2 VMs are named \"web\": give the id (a, b)"),
            "{e}"
        );
        let e = records.find("nope").unwrap_err().to_string();
        assert!(e.contains("no VM \"nope\""), "{e}");
        records.remove("c").unwrap();
        assert!(!records.console_log("c").exists());
        assert!(records.find("db").is_err());
        records.remove("c").unwrap();
    }

    #[test]
    fn a_damaged_record_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::open(dir.path()).unwrap();
        std::fs::write(dir.path().join("x.json"), "{").unwrap();
        let e = format!("{:#}", records.all().unwrap_err());
        assert!(e.contains("x.json is not a VM record"), "{e}");
    }

    #[test]
    fn a_missing_directory_holds_no_vms() {
        let records = Records::existing(Path::new("/nonexistent/weft/vms"));
        assert!(records.all().unwrap().is_empty());
    }
}
