#![no_main]
//! Fuzz target: evidence. Any text parses strictly or is refused; what
//! parses is verified under a fixed key without panicking, and re-encodes
//! to itself.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(e) = ank_proofs::evidence::Evidence::parse(text) {
        assert_eq!(e.to_text(), text);
        if let Ok(k) =
            ank_proofs::SignerKey::from_seed("example.org/ank", ank_proofs::note::ALG_ED25519, [1; 32])
        {
            let _ = e.verify(&k.verifier());
        }
    }
});
