//! An underlay IPv4 packet arriving on the tunnel decapsulation path
//! (MPLSoUDP, MPLSoGRE, VXLAN): decapsulate, walk the inner packet, and
//! check that re-encapsulating gives back the same headers and inner bytes.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    weft_fuzz::walk_overlay(data);
});
