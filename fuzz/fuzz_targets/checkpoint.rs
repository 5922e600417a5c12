#![no_main]
//! Fuzz target: checkpoint. Parsing outside bytes never panics; what parses re-encodes to itself.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(c) = ank_proofs::Checkpoint::parse(s) {
            assert_eq!(c.to_text(), s);
        }
    }
    let k = ank_proofs::SignerKey::from_seed("k", 1, [1; 32]).expect("key");
    let _ = ank_proofs::verify_checkpoint(data, &k.verifier(), &[]);
});
