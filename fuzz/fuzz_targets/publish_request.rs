#![no_main]
//! Fuzz target: publish_request. The publish JSON parses strictly or is
//! refused; its key set and signatures are checked without panicking.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(req) = serde_json::from_slice::<ank_proofs::api::PublishRequest>(data) else {
        return;
    };
    let Ok(address) = ank_proofs::Address::parse(&req.address) else {
        return;
    };
    let Ok(ks) = ank_proofs::api::key_set_from_json(&req.devices) else {
        return;
    };
    let msg = ank_proofs::api::publish_message(&address.label(), req.version, &ks.hash());
    for sig in req.signature.iter().chain(&req.possession) {
        let key = base64_32(&sig.public_key);
        let s = base64_64(&sig.signature);
        if let (Some(k), Some(s)) = (key, s)
            && let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&k)
        {
            let _ = vk.verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&s));
        }
    }
});

fn base64_32(s: &str) -> Option<[u8; 32]> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).ok()?.try_into().ok()
}

fn base64_64(s: &str) -> Option<[u8; 64]> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).ok()?.try_into().ok()
}
