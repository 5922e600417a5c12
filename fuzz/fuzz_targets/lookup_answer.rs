#![no_main]
//! Fuzz target: lookup_answer. A lookup answer from an untrusted server
//! parses or is refused, and verifies or is refused, without panicking.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(resp) = serde_json::from_slice::<ank_proofs::api::LookupResponse>(data) else {
        return;
    };
    let Ok(address) = ank_proofs::Address::parse(&resp.address) else {
        return;
    };
    let signer =
        ank_proofs::SignerKey::from_seed("example.org/ank", ank_proofs::note::ALG_ED25519, [1; 32]);
    if let Ok(signer) = signer {
        let _ = ank_proofs::api::verify_lookup(&resp, &address, &signer.verifier());
    }
});
