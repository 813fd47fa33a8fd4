//! An IPv4 or IPv6 packet (what an MPLS tunnel carries): the same walk as
//! `wire_frame`, starting one layer up so the fuzzer reaches transports
//! sooner.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    weft_fuzz::walk_ip(data);
});
