//! MPLS labels and vif ids, allocated per node by the agent (DESIGN.md
//! §3.3) and persisted so that a restarted agent re-plugs every port with
//! the label remote vRouters already use for it.
//!
//! [`Labels`] is the pure allocator; [`LabelStore`] keeps it in
//! `state_dir/labels.json`, written atomically (temporary file + rename).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use weft_types::MplsLabel;
use weft_vrouter::VifId;

/// What one port holds: its vif id and its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub vif: u32,
    pub label: u32,
}

impl Binding {
    pub fn vif_id(self) -> VifId {
        VifId(self.vif)
    }

    /// The label as the engine takes it; `None` only if the stored value is
    /// out of range (a hand-edited file).
    pub fn mpls_label(self) -> Option<MplsLabel> {
        MplsLabel::new(self.label).ok()
    }
}

/// Port id → binding. Labels start at 16 (the first unreserved one), vif
/// ids at 1 (`vif0/0` is the host interface in TF); the lowest free value is
/// handed out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labels {
    ports: BTreeMap<String, Binding>,
}

/// Why the label file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LabelStoreError {
    #[error("cannot {op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a label file")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("every MPLS label is in use")]
    Exhausted,
}

impl Labels {
    /// The binding of `port`, if it has one.
    pub fn get(&self, port: &str) -> Option<Binding> {
        self.ports.get(port).copied()
    }

    /// The binding of `port`, allocating one if needed. `Err` only when the
    /// label space is exhausted.
    pub fn allocate(&mut self, port: &str) -> Result<Binding, LabelStoreError> {
        if let Some(binding) = self.ports.get(port) {
            return Ok(*binding);
        }
        let label = lowest_free(
            self.ports.values().map(|b| b.label),
            MplsLabel::FIRST_UNRESERVED,
            MplsLabel::MAX,
        )
        .ok_or(LabelStoreError::Exhausted)?;
        let vif = lowest_free(self.ports.values().map(|b| b.vif), 1, u32::MAX)
            .ok_or(LabelStoreError::Exhausted)?;
        let binding = Binding { vif, label };
        self.ports.insert(port.to_owned(), binding);
        Ok(binding)
    }

    /// Frees the binding of a port that left the node.
    pub fn release(&mut self, port: &str) -> Option<Binding> {
        self.ports.remove(port)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Binding)> {
        self.ports.iter().map(|(port, b)| (port.as_str(), *b))
    }
}

fn lowest_free(used: impl Iterator<Item = u32>, first: u32, last: u32) -> Option<u32> {
    let mut used: Vec<u32> = used.collect();
    used.sort_unstable();
    let mut candidate = first;
    for value in used {
        if value == candidate {
            candidate = candidate.checked_add(1)?;
        } else if value > candidate {
            break;
        }
    }
    (candidate <= last).then_some(candidate)
}

/// [`Labels`] kept in a file.
#[derive(Debug)]
pub struct LabelStore {
    path: PathBuf,
    saved: Labels,
}

impl LabelStore {
    /// The file under `state_dir` (created if missing).
    pub fn path_in(state_dir: &Path) -> PathBuf {
        state_dir.join("labels.json")
    }

    /// Loads `state_dir/labels.json`; a missing file is an empty allocator.
    pub fn open(state_dir: &Path) -> Result<(LabelStore, Labels), LabelStoreError> {
        let path = Self::path_in(state_dir);
        std::fs::create_dir_all(state_dir).map_err(|source| LabelStoreError::Io {
            op: "create",
            path: state_dir.to_owned(),
            source,
        })?;
        let labels = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| LabelStoreError::Parse {
                    path: path.clone(),
                    source,
                })?
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Labels::default(),
            Err(source) => {
                return Err(LabelStoreError::Io {
                    op: "read",
                    path,
                    source,
                });
            }
        };
        Ok((
            LabelStore {
                path,
                saved: labels.clone(),
            },
            labels,
        ))
    }

    /// Writes `labels` if they differ from what was last written.
    pub fn save(&mut self, labels: &Labels) -> Result<(), LabelStoreError> {
        if *labels == self.saved {
            return Ok(());
        }
        let io = |op: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source| LabelStoreError::Io { op, path, source }
        };
        let bytes = serde_json::to_vec_pretty(labels).map_err(|source| LabelStoreError::Parse {
            path: self.path.clone(),
            source,
        })?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, bytes).map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io("rename", &self.path))?;
        self.saved = labels.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn labels_start_at_16_and_reuse_the_lowest_free() {
        let mut labels = Labels::default();
        assert_eq!(labels.allocate("a").unwrap(), Binding { vif: 1, label: 16 });
        assert_eq!(labels.allocate("b").unwrap(), Binding { vif: 2, label: 17 });
        assert_eq!(labels.allocate("a").unwrap().label, 16);
        labels.release("a");
        assert_eq!(labels.allocate("c").unwrap(), Binding { vif: 1, label: 16 });
        assert_eq!(labels.allocate("d").unwrap(), Binding { vif: 3, label: 18 });
    }

    #[test]
    fn store_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, mut labels) = LabelStore::open(dir.path()).unwrap();
        labels.allocate("p1").unwrap();
        labels.allocate("p2").unwrap();
        store.save(&labels).unwrap();
        let (_, again) = LabelStore::open(dir.path()).unwrap();
        assert_eq!(again, labels);
    }
}
