#![no_main]
//! Fuzz target: tlog_proof. Parsing outside bytes never panics; what parses re-encodes to itself.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(p) = ank_proofs::TlogProof::parse(s) {
            assert_eq!(p.to_text(), s);
            let k = ank_proofs::SignerKey::from_seed("k", 1, [1; 32]).expect("key");
            let _ = p.verify(&ank_proofs::leaf_hash(b""), &k.verifier(), &[]);
        }
    }
});
