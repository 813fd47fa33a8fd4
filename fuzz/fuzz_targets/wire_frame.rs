//! An Ethernet frame from a tap or veth: walks every layer weft-wire knows
//! above it, checking that each representation re-emits to itself.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    weft_fuzz::poke_unchecked(data);
    weft_fuzz::walk_frame(data);
});
