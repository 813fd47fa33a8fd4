//! The single writer: every change to the model goes through one thread that
//! plans commands in arrival order and commits them in groups.
//!
//! Commands that arrive while a commit is in flight are planned together and
//! written in one store transaction — one fsync for the group — and each
//! client is answered only after that transaction is durable. An answer is
//! therefore a promise that survives `kill -9`.
//!
//! The writer keeps its own copy of the model, ahead of the store by at most
//! one group. Readers see a second copy that receives only committed changes,
//! so nobody ever reads a write that might still be lost.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::thread;

use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;
use weft_model::{Change, Command, Ctx, Entropy, Model, ModelError, Object};
use weft_store::{Op, Revision, Store, StoreError};

use crate::codec;

/// Most commands planned into one transaction.
const MAX_GROUP: usize = 512;

/// What the readers see: the model as of a committed revision.
#[derive(Debug, Default)]
pub struct View {
    pub model: Model,
    pub revision: Revision,
}

impl View {
    /// Runs `f` on the readers' view. A panic elsewhere while the lock was
    /// held leaves a whole view behind (the writer replaces it in one
    /// step), so a poisoned lock is read all the same.
    pub fn read<T>(view: &RwLock<View>, f: impl FnOnce(&View) -> T) -> T {
        match view.read() {
            Ok(view) => f(&view),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }
}

/// A command's result, once durable.
#[derive(Debug)]
pub struct Committed {
    pub object: Object,
    pub revision: Revision,
}

/// Why a command produced no result.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Refused(#[from] ModelError),
    /// The group's transaction failed; none of it was written.
    #[error("the store could not record the change, so nothing was written ({0})")]
    StoreFailed(String),
    #[error("the writer has stopped")]
    Stopped,
}

/// Real randomness for ids and MAC addresses.
struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn uuid(&mut self) -> Uuid {
        Uuid::new_v4()
    }
    fn mac_tail(&mut self) -> [u8; 3] {
        rand::random()
    }
}

struct Job {
    command: Command,
    reply: oneshot::Sender<Result<Committed, WriteError>>,
}

/// The handle through which requests submit commands.
#[derive(Clone, Debug)]
pub struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
    revisions: tokio::sync::watch::Receiver<Revision>,
}

/// Why the model could not be loaded from the store.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the store")]
    Store(#[from] StoreError),
    #[error("the store holds an unreadable object")]
    Decode(#[from] codec::DecodeError),
    #[error("the store's objects do not fit together")]
    Model(#[from] weft_model::ApplyError),
    #[error("cannot start the writer thread")]
    Thread(#[source] std::io::Error),
}

/// Reads every object from the store and rebuilds the model.
pub fn load(store: &dyn Store) -> Result<(Model, Revision), LoadError> {
    let snapshot = store.range(codec::PREFIX)?;
    let objects = snapshot
        .items
        .iter()
        .map(codec::decode)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((Model::load(objects)?, snapshot.revision))
}

impl Writer {
    /// Loads the model, bootstraps a fresh store, and starts the writer thread.
    pub fn start(store: Arc<dyn Store>) -> Result<(Writer, Arc<RwLock<View>>), LoadError> {
        let (mut model, mut revision) = load(store.as_ref())?;
        let mut entropy = SystemEntropy;
        let mut ctx = Ctx {
            now: Timestamp::now(),
            entropy: &mut entropy,
        };
        let boot = model.bootstrap(&mut ctx);
        if !boot.is_empty() {
            revision = store.commit(revision, boot.iter().map(codec::op).collect())?;
            for change in &boot {
                model.apply(change)?;
            }
        }
        let view = Arc::new(RwLock::new(View {
            model: model.clone(),
            revision,
        }));
        let (jobs, rx) = mpsc::unbounded_channel();
        let (revision_tx, revisions) = tokio::sync::watch::channel(revision);
        let state = WriterState {
            store,
            model,
            revision,
            view: view.clone(),
            revision_tx,
        };
        thread::Builder::new()
            .name("weft-writer".into())
            .spawn(move || state.run(rx))
            .map_err(LoadError::Thread)?;
        Ok((Writer { jobs, revisions }, view))
    }

    /// The committed revision, updated after every commit readers can see.
    pub fn revisions(&self) -> tokio::sync::watch::Receiver<Revision> {
        self.revisions.clone()
    }

    /// Submits a command and waits until it is durable (or refused).
    pub async fn submit(&self, command: Command) -> Result<Committed, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { command, reply })
            .map_err(|_| WriteError::Stopped)?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }
}

struct WriterState {
    store: Arc<dyn Store>,
    model: Model,
    revision: Revision,
    view: Arc<RwLock<View>>,
    revision_tx: tokio::sync::watch::Sender<Revision>,
}

/// The last state of each key a group touched, and whether the store had it before.
#[derive(Default)]
struct PendingOps {
    keys: BTreeMap<String, (bool, Option<Vec<u8>>)>,
}

impl PendingOps {
    fn record(&mut self, existed_before: bool, change: &Change) {
        let key = codec::key(change.kind(), change.id());
        let value = match change {
            Change::Put(object) => Some(codec::encode_object(object)),
            Change::Delete { .. } => None,
        };
        self.keys
            .entry(key)
            .and_modify(|slot| slot.1 = value.clone())
            .or_insert((existed_before, value));
    }

    fn into_ops(self) -> Vec<Op> {
        self.keys
            .into_iter()
            .filter_map(|(key, (existed, value))| match value {
                Some(value) => Some(Op::Put { key, value }),
                None if existed => Some(Op::Delete { key }),
                // Made and removed within one group: the store never sees it.
                None => None,
            })
            .collect()
    }
}

impl WriterState {
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            let mut jobs = vec![first];
            while jobs.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.group(jobs);
        }
    }

    /// Plans a group of commands, commits their changes at once, answers each.
    fn group(&mut self, jobs: Vec<Job>) {
        let mut entropy = SystemEntropy;
        let mut ctx = Ctx {
            now: Timestamp::now(),
            entropy: &mut entropy,
        };
        let mut pending = PendingOps::default();
        let mut applied: Vec<Change> = Vec::new();
        let mut answers = Vec::with_capacity(jobs.len());
        let mut inconsistent = false;
        for job in jobs {
            let result = match self.model.plan(job.command, &mut ctx) {
                Ok(outcome) => {
                    for change in &outcome.changes {
                        let existed = self.model.get(change.kind(), change.id()).is_some();
                        pending.record(existed, change);
                        if let Err(e) = self.model.apply(change) {
                            tracing::error!(error = %e, "planned change did not apply");
                            inconsistent = true;
                        }
                    }
                    applied.extend(outcome.changes);
                    Ok(outcome.object)
                }
                Err(refused) => Err(refused),
            };
            answers.push((job.reply, result));
        }
        if inconsistent {
            self.reload();
            for (reply, _) in answers {
                let message = "the model was inconsistent and has been reloaded".to_owned();
                let _ = reply.send(Err(WriteError::StoreFailed(message)));
            }
            return;
        }
        let ops = pending.into_ops();
        let revision = if ops.is_empty() {
            Ok(self.revision)
        } else {
            self.store.commit(self.revision, ops)
        };
        match revision {
            Ok(revision) => {
                self.revision = revision;
                self.publish(&applied, revision);
                for (reply, result) in answers {
                    let answer = result
                        .map(|object| Committed { object, revision })
                        .map_err(WriteError::Refused);
                    let _ = reply.send(answer);
                }
            }
            Err(error) => {
                tracing::error!(%error, "store commit failed; reloading the model");
                self.reload();
                let message = error.to_string();
                for (reply, _) in answers {
                    let _ = reply.send(Err(WriteError::StoreFailed(message.clone())));
                }
            }
        }
    }

    /// Hands committed changes to the readers.
    fn publish(&self, changes: &[Change], revision: Revision) {
        let mut view = match self.view.write() {
            Ok(view) => view,
            Err(poisoned) => poisoned.into_inner(),
        };
        for change in changes {
            if let Err(e) = view.model.apply(change) {
                tracing::error!(error = %e, "reader model diverged; copying the writer's");
                view.model = self.model.clone();
                break;
            }
        }
        view.revision = revision;
        drop(view);
        self.revision_tx.send_replace(revision);
    }

    /// Throws away the writer's uncommitted state and reloads from the store.
    fn reload(&mut self) {
        match load(self.store.as_ref()) {
            Ok((model, revision)) => {
                self.model = model;
                self.revision = revision;
            }
            Err(error) => {
                tracing::error!(%error, "cannot reload the model from the store");
            }
        }
    }
}
