//! Submits what [`plan`] decides until the model matches the cluster.

use std::sync::Arc;

use weft_model::{Command, ModelError};

use crate::backend::{Backend, SubmitError, read};
use crate::cluster::Snapshot;
use crate::names::ClusterConfig;
use crate::reconcile::plan;

/// Passes per reconcile: one makes the cluster's objects, the next ports,
/// groups and Services, then default rules of new groups are trimmed and
/// load balancers take in the networks of new pod ports; more means
/// something keeps failing.
const MAX_PASSES: usize = 6;

/// What a reconcile did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub applied: usize,
    /// Commands the model refused, with why.
    pub failed: Vec<String>,
    /// What the cluster asks that cannot be done (bad annotations, missing
    /// networks, named ports no pod names), naming the object.
    pub problems: Vec<String>,
    /// Whether the last pass found nothing left to do.
    pub converged: bool,
}

/// Applies a cluster snapshot to the model.
#[derive(Clone)]
pub struct Reconciler {
    pub cluster: ClusterConfig,
    pub backend: Arc<dyn Backend>,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

fn describe(command: &Command) -> String {
    let text = format!("{command:?}");
    let mut short: String = text.chars().take(160).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

impl Reconciler {
    pub async fn reconcile(&self, snapshot: &Snapshot, synced: bool) -> Outcome {
        let mut outcome = Outcome::default();
        for _ in 0..MAX_PASSES {
            let plan = read(self.backend.as_ref(), |model| {
                plan(&self.cluster, snapshot, synced, model)
            });
            outcome.problems = plan.problems;
            if plan.commands.is_empty() {
                outcome.converged = true;
                break;
            }
            outcome.failed.clear();
            for command in plan.commands {
                let what = describe(&command);
                match self.backend.submit(command).await {
                    Ok(_) => outcome.applied += 1,
                    // A racing writer (the CNI ADD) made the same object.
                    Err(SubmitError::Refused(ModelError::AlreadyExists { .. })) => {}
                    Err(e) => outcome.failed.push(format!("{what}: {e}")),
                }
            }
        }
        outcome
    }
}
