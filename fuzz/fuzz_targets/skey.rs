#![no_main]
//! Fuzz target: skey. Parsing outside bytes never panics; what parses re-encodes to itself.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(k) = ank_proofs::SignerKey::parse(s) {
            assert_eq!(k.to_text(), s);
        }
    }
});
