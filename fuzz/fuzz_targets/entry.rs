#![no_main]
//! Fuzz target: entry. Parsing outside bytes never panics; what parses re-encodes to itself.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = ank_proofs::Entry::decode(data) {
        assert_eq!(&e.encode()[..], data);
    }
});
