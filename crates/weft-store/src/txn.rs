//! The rules every backend applies to a transaction before writing it.

use std::collections::HashSet;

use crate::{Op, Revision, StoreError};

/// Checks what can be checked without reading keys: the transaction is not
/// empty, the store is at `expected`, and every key is non-empty and appears
/// once. (Whether deleted keys exist is the backend's to check.)
pub(crate) fn check(expected: Revision, current: Revision, ops: &[Op]) -> Result<(), StoreError> {
    if ops.is_empty() {
        return Err(StoreError::EmptyTransaction);
    }
    if expected != current {
        return Err(StoreError::Conflict { expected, current });
    }
    let mut seen = HashSet::with_capacity(ops.len());
    for op in ops {
        let key = op.key();
        if key.is_empty() {
            return Err(StoreError::EmptyKey);
        }
        if !seen.insert(key) {
            return Err(StoreError::DuplicateKey {
                key: key.to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_beats_conflict() {
        assert!(matches!(
            check(1, 2, &[]),
            Err(StoreError::EmptyTransaction)
        ));
    }

    #[test]
    fn conflict_reports_both_revisions() {
        assert!(matches!(
            check(1, 2, &[Op::put("a", "x")]),
            Err(StoreError::Conflict {
                expected: 1,
                current: 2
            })
        ));
    }

    #[test]
    fn keys_must_be_present_and_unique() {
        assert!(matches!(
            check(0, 0, &[Op::put("", "x")]),
            Err(StoreError::EmptyKey)
        ));
        assert!(matches!(
            check(0, 0, &[Op::put("a", "x"), Op::delete("a")]),
            Err(StoreError::DuplicateKey { key }) if key == "a"
        ));
        assert!(check(0, 0, &[Op::put("a", "x"), Op::delete("b")]).is_ok());
    }
}
