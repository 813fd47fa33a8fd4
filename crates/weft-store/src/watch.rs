//! Watch fan-out shared by every backend.
//!
//! A backend keeps one [`WatchHub`] behind the same lock its commits take.
//! [`Store::watch`](crate::Store::watch) reads the history under that lock and
//! registers the subscriber before releasing it, and every commit publishes
//! under it after the transaction is durable; so a watcher sees history then
//! live batches without a gap or a duplicate.
//!
//! Each subscriber has a bounded tokio channel. Publishing never waits: when a
//! subscriber's channel is full, the hub records the first revision it could
//! not deliver and drops the sender. The consumer drains what was queued and
//! then gets [`WatchError::Lagged`] with that revision.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::{Event, Revision, WatchBatch, WatchError};

/// Live subscribers of one store.
#[derive(Debug)]
pub(crate) struct WatchHub {
    subscribers: Vec<Subscriber>,
    buffer: usize,
}

#[derive(Debug)]
struct Subscriber {
    prefix: String,
    /// Batches below this revision are not for this subscriber (it asked for
    /// a future revision, or got them from history).
    from: Revision,
    sender: mpsc::Sender<WatchBatch>,
    lagged: Arc<LaggedAt>,
}

/// The first revision a subscriber missed; 0 while it has missed nothing
/// (no commit has revision 0).
#[derive(Debug, Default)]
struct LaggedAt(AtomicU64);

impl WatchHub {
    /// A hub whose subscribers may each queue `buffer` batches (at least 1).
    pub(crate) fn new(buffer: usize) -> Self {
        Self {
            subscribers: Vec::new(),
            buffer: buffer.max(1),
        }
    }

    /// Registers a watcher of `prefix` that first replays `history` (the
    /// batches from `from` up to the current revision, already filtered by
    /// prefix) and then receives every live batch from `live_from` on.
    ///
    /// Call with the commit lock held, in the same critical section that read
    /// `history`.
    pub(crate) fn subscribe(
        &mut self,
        prefix: &str,
        live_from: Revision,
        history: VecDeque<WatchBatch>,
    ) -> Watch {
        let (sender, receiver) = mpsc::channel(self.buffer);
        let lagged = Arc::new(LaggedAt::default());
        self.subscribers.retain(|s| !s.sender.is_closed());
        self.subscribers.push(Subscriber {
            prefix: prefix.to_owned(),
            from: live_from,
            sender,
            lagged: Arc::clone(&lagged),
        });
        Watch {
            history,
            live: receiver,
            lagged,
        }
    }

    /// Delivers the events of a durable commit to every interested
    /// subscriber. Never blocks. Call with the commit lock held.
    pub(crate) fn publish(&mut self, revision: Revision, events: &[Event]) {
        self.subscribers.retain(|subscriber| {
            if revision < subscriber.from {
                return true;
            }
            let Some(batch) = batch_for(revision, events, &subscriber.prefix) else {
                return true;
            };
            match subscriber.sender.try_send(batch) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    // Set before the sender drops, so the consumer that sees the
                    // channel closed also sees why.
                    subscriber.lagged.0.store(revision, Ordering::Release);
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }
}

/// The events of one transaction that fall under `prefix`, or `None` if no
/// event does.
pub(crate) fn batch_for(revision: Revision, events: &[Event], prefix: &str) -> Option<WatchBatch> {
    let events: Vec<Event> = events
        .iter()
        .filter(|event| event.key.starts_with(prefix))
        .cloned()
        .collect();
    (!events.is_empty()).then_some(WatchBatch { revision, events })
}

/// A stream of committed transactions under one prefix, from
/// [`Store::watch`](crate::Store::watch).
///
/// Dropping it unsubscribes.
#[derive(Debug)]
pub struct Watch {
    /// Batches read from history when the watch started, delivered first.
    history: VecDeque<WatchBatch>,
    live: mpsc::Receiver<WatchBatch>,
    lagged: Arc<LaggedAt>,
}

impl Watch {
    /// The next batch, waiting for a commit if there is none yet.
    ///
    /// Cancel-safe: if the future is dropped before it completes (in a
    /// `select!`), no batch is lost. After an error every later call returns
    /// the same error.
    pub async fn next(&mut self) -> Result<WatchBatch, WatchError> {
        if let Some(batch) = self.history.pop_front() {
            return Ok(batch);
        }
        match self.live.recv().await {
            Some(batch) => Ok(batch),
            None => Err(self.ended()),
        }
    }

    /// Same as [`Watch::next`], blocking the thread. Must not be called from
    /// inside an async runtime (tokio panics if it is).
    pub fn blocking_next(&mut self) -> Result<WatchBatch, WatchError> {
        if let Some(batch) = self.history.pop_front() {
            return Ok(batch);
        }
        match self.live.blocking_recv() {
            Some(batch) => Ok(batch),
            None => Err(self.ended()),
        }
    }

    /// The next batch if one is ready, without waiting: `Ok(None)` if the
    /// watch is healthy but nothing has been committed since.
    pub fn try_next(&mut self) -> Result<Option<WatchBatch>, WatchError> {
        if let Some(batch) = self.history.pop_front() {
            return Ok(Some(batch));
        }
        match self.live.try_recv() {
            Ok(batch) => Ok(Some(batch)),
            Err(mpsc::error::TryRecvError::Empty) => Ok(None),
            Err(mpsc::error::TryRecvError::Disconnected) => Err(self.ended()),
        }
    }

    /// Why the channel closed, once it has been drained.
    fn ended(&self) -> WatchError {
        match self.lagged.0.load(Ordering::Acquire) {
            0 => WatchError::Closed,
            resume_from => WatchError::Lagged { resume_from },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::EventKind;

    fn put(key: &str) -> Event {
        Event {
            kind: EventKind::Put,
            key: key.to_owned(),
            value: Some(b"v".to_vec()),
        }
    }

    #[test]
    fn history_comes_before_live_batches() {
        let mut hub = WatchHub::new(4);
        let history = VecDeque::from([WatchBatch {
            revision: 1,
            events: vec![put("a/1")],
        }]);
        let mut watch = hub.subscribe("a/", 2, history);
        hub.publish(2, &[put("a/2")]);
        assert_eq!(watch.try_next().unwrap().unwrap().revision, 1);
        assert_eq!(watch.try_next().unwrap().unwrap().revision, 2);
        assert_eq!(watch.try_next().unwrap(), None);
    }

    #[test]
    fn publish_filters_by_prefix_and_skips_empty_batches() {
        let mut hub = WatchHub::new(4);
        let mut watch = hub.subscribe("a/", 1, VecDeque::new());
        hub.publish(1, &[put("b/1")]);
        hub.publish(2, &[put("b/2"), put("a/2"), put("ab")]);
        let batch = watch.try_next().unwrap().unwrap();
        assert_eq!(batch.revision, 2);
        assert_eq!(batch.events, vec![put("a/2")]);
        assert_eq!(watch.try_next().unwrap(), None);
    }

    #[test]
    fn batches_before_the_requested_revision_are_skipped() {
        let mut hub = WatchHub::new(4);
        let mut watch = hub.subscribe("", 3, VecDeque::new());
        hub.publish(2, &[put("x")]);
        hub.publish(3, &[put("y")]);
        assert_eq!(watch.try_next().unwrap().unwrap().revision, 3);
    }

    #[test]
    fn overflow_reports_the_first_missed_revision_after_the_queued_ones() {
        let mut hub = WatchHub::new(2);
        let mut watch = hub.subscribe("", 1, VecDeque::new());
        for revision in 1..=5 {
            hub.publish(revision, &[put("k")]);
        }
        assert_eq!(watch.try_next().unwrap().unwrap().revision, 1);
        assert_eq!(watch.try_next().unwrap().unwrap().revision, 2);
        assert_eq!(watch.try_next(), Err(WatchError::Lagged { resume_from: 3 }));
        assert_eq!(
            watch.blocking_next(),
            Err(WatchError::Lagged { resume_from: 3 })
        );
    }

    #[test]
    fn dropping_the_hub_closes_watches() {
        let mut hub = WatchHub::new(2);
        let mut watch = hub.subscribe("", 1, VecDeque::new());
        hub.publish(1, &[put("k")]);
        drop(hub);
        assert_eq!(watch.blocking_next().unwrap().revision, 1);
        assert_eq!(watch.blocking_next(), Err(WatchError::Closed));
    }

    #[test]
    fn dropped_watches_are_unsubscribed() {
        let mut hub = WatchHub::new(2);
        let watch = hub.subscribe("", 1, VecDeque::new());
        drop(watch);
        hub.publish(1, &[put("k")]);
        assert!(hub.subscribers.is_empty());
    }
}
