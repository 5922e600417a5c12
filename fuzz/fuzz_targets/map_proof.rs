#![no_main]
//! Fuzz target: map_proof. Decoding never panics; what decodes re-encodes to
//! itself and verifies without panicking.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = ank_proofs::map::MapProof::decode(data) {
        assert_eq!(p.encode(), data);
        let label = ank_proofs::hash::sha256(data);
        let _ = ank_proofs::map::verify_map_proof(&label, &p, &ank_proofs::map::empty_root());
        if let Ok(root) = p.root() {
            let _ = ank_proofs::map::verify_map_proof(&label, &p, &root);
        }
    }
});
