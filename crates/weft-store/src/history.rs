//! When history is compacted, and which watches it still serves.
//!
//! A store that has compacted up to revision `c` keeps the events of
//! revisions `c + 1 ..= current`. Compaction runs "now and then": only once
//! more than `keep + slack` revisions are held, and then it trims back to
//! exactly `keep`, so the cost is paid once every `slack` commits (a tenth of
//! `keep`, between 16 and 1000, so that no one commit deletes too much).

use crate::{Revision, StoreError};

/// The revision to compact up to (inclusive) after a commit reached
/// `current`, or `None` if it is not time yet. Keeps at least `keep`
/// revisions.
pub(crate) fn compaction_target(
    current: Revision,
    compacted: Revision,
    keep: u64,
) -> Option<Revision> {
    let slack = (keep / 10).clamp(16, 1_000);
    let held = current.saturating_sub(compacted);
    (held > keep.saturating_add(slack)).then(|| current - keep)
}

/// The first revision a watch from `from` replays, or
/// [`StoreError::Compacted`] if history before it is gone. Revision 0 has no
/// events, so `from = 0` means 1.
pub(crate) fn watch_start(from: Revision, compacted: Revision) -> Result<Revision, StoreError> {
    let start = from.max(1);
    if start <= compacted {
        return Err(StoreError::Compacted {
            requested: from,
            oldest_available: compacted + 1,
        });
    }
    Ok(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacts_only_past_the_slack_and_keeps_exactly_keep() {
        assert_eq!(compaction_target(116, 0, 100), None);
        assert_eq!(compaction_target(117, 0, 100), Some(17));
        assert_eq!(compaction_target(133, 17, 100), None);
        assert_eq!(compaction_target(134, 17, 100), Some(34));
        assert_eq!(compaction_target(0, 0, 0), None);
        assert_eq!(compaction_target(17, 0, 0), Some(17));
        let big = 100_000;
        assert_eq!(compaction_target(big + 1_000, 0, big), None);
        assert_eq!(compaction_target(big + 1_001, 0, big), Some(1_001));
    }

    #[test]
    fn watch_start_rejects_compacted_revisions() {
        assert_eq!(watch_start(0, 0).ok(), Some(1));
        assert_eq!(watch_start(1, 0).ok(), Some(1));
        assert_eq!(watch_start(6, 5).ok(), Some(6));
        assert!(matches!(
            watch_start(5, 5),
            Err(StoreError::Compacted {
                requested: 5,
                oldest_available: 6
            })
        ));
        assert!(matches!(
            watch_start(0, 5),
            Err(StoreError::Compacted {
                requested: 0,
                oldest_available: 6
            })
        ));
    }
}
