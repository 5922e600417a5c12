#![no_main]
//! Fuzz target: envelope. Any JSON a sender can post parses strictly or is
//! refused; what parses is checked (fields, sizes, signature) without
//! panicking, and a checked envelope's open with some key never panics.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = serde_json::from_slice::<ank_mailbox::Envelope>(data)
        && let Ok(checked) = env.check()
    {
        let _ = checked.open(&[7u8; 32]);
    }
});
