//! A DHCP message (a UDP payload on port 67): the options iterator, the
//! representation's parse/emit round trip, and the server's replies to it.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    weft_fuzz::walk_dhcp(data);
});
