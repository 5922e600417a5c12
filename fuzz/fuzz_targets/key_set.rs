#![no_main]
//! Fuzz target: key_set. Parsing outside bytes never panics; what parses re-encodes to itself.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = ank_proofs::KeySet::decode(data) {
        assert_eq!(k.encode(), data);
    }
});
