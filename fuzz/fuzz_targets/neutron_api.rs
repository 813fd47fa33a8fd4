//! A script of Neutron API requests, run in process against a fresh server
//! behind a fake Keystone: see `weft_fuzz::neutron` for the script's form
//! and what is checked.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let calls = weft_fuzz::neutron::parse(text);
    if calls.is_empty() {
        return;
    }
    weft_fuzz::neutron::run(&calls);
});
