#![no_main]
//! Fuzz target: mail_payload. Decoding never panics; what decodes re-encodes to itself.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = ank_mailbox::Payload::decode(data) {
        assert_eq!(p.encode(), data);
    }
});
