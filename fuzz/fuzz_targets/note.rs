#![no_main]
//! Fuzz target: note. Parsing outside bytes never panics; what parses re-encodes to itself.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(n) = ank_proofs::Note::parse(data) {
        let again = ank_proofs::Note::parse(n.to_text().as_bytes()).expect("re-parse");
        assert_eq!(again, n);
        let k = ank_proofs::SignerKey::from_seed("k", 1, [1; 32]).expect("key");
        let _ = n.verify(&[k.verifier()]);
    }
});
