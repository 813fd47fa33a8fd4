//! A lab inventory (TF's instances.yaml or weft's format), as `weft lab up
//! --inventory` reads it.
//!
//! Checked: parsing never panics; an accepted inventory gives a topology
//! that passes the lab's own checks, whose hosts all sit on its underlay
//! with distinct addresses, and whose settings name only known
//! encapsulations.

#![no_main]

use std::collections::BTreeSet;

use weft_lab::Inventory;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(inventory) = Inventory::parse(text, "fz-") else {
        return;
    };
    let topology = &inventory.topology;
    assert!(topology.validate().is_ok(), "accepted an unusable topology");
    let mut seen = BTreeSet::new();
    for host in topology.hosts() {
        assert!(topology.underlay().contains(&host.underlay_ip));
        assert!(seen.insert(host.underlay_ip), "address given twice");
        assert!(!host.roles.is_empty());
    }
    for encap in inventory.settings.encapsulation.iter().flatten() {
        assert!(["MPLSoUDP", "MPLSoGRE", "VXLAN"].contains(&encap.as_str()));
    }
});
