//! Property: no input makes the engine panic, whatever the frame, payload
//! or sequence, and every drop is counted.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use weft_vrouter::{Millis, TunnelKind, VifId};

fn kind(n: u8) -> TunnelKind {
    match n % 3 {
        0 => TunnelKind::MplsOverUdp,
        1 => TunnelKind::MplsOverGre,
        _ => TunnelKind::Vxlan,
    }
}

/// Every input ends in outputs or in exactly one counted drop, never both
/// a silent loss and never two drops.
fn one_outcome(before: u64, after: u64, outputs: usize) -> Result<(), TestCaseError> {
    let dropped = after - before;
    prop_assert!(dropped <= 1, "{dropped} drops for one input");
    prop_assert!(
        dropped == 1 || outputs > 0,
        "input neither forwarded nor counted"
    );
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_frames_and_payloads(
        inputs in proptest::collection::vec(
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..200)),
            1..40,
        )
    ) {
        let mut w = World::new(all_encaps());
        for (i, (selector, bytes)) in inputs.iter().enumerate() {
            let mut out = Vec::new();
            let now = Millis(u64::try_from(i).unwrap() * 10_000);
            let before = w.a.drop_stats().total();
            if selector % 2 == 0 {
                let vif = [VM_VIF, VifId(99)][usize::from(selector % 4 / 2)];
                w.a.receive_vif(now, vif, bytes, &mut out);
            } else {
                w.a.receive_underlay(now, B_UNDERLAY, kind(*selector / 2), bytes, &mut out);
            }
            one_outcome(before, w.a.drop_stats().total(), out.len())?;
            w.a.poll(now);
        }
    }

    /// Well-formed pings from the VM with arbitrary addresses and TTLs.
    #[test]
    fn crafted_pings(dst in any::<[u8; 4]>(), src in any::<[u8; 4]>(), ttl in any::<u8>()) {
        let mut w = World::new(all_encaps());
        let frame = ping_ttl(VM_MAC, src.into(), dst.into(), ttl);
        let mut out = Vec::new();
        w.a.receive_vif(Millis(0), VM_VIF, &frame, &mut out);
        one_outcome(0, w.a.drop_stats().total(), out.len())?;
    }
}
