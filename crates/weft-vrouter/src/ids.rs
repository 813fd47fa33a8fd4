//! Identifiers the agent chooses and the engine keys its tables on, and the
//! engine's notion of time.

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);
    };
}

id!(
    /// A virtual interface (`vif0/<n>`).
    VifId
);
id!(
    /// A VRF: one virtual network's routing table on this node.
    VrfId
);
id!(
    /// A next hop (`nh --get <n>`).
    NhId
);
id!(
    /// A security group, as carried in routes and ACL rules.
    SgId
);

/// Milliseconds on a clock the caller owns; only differences matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
pub struct Millis(pub u64);

impl Millis {
    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}
