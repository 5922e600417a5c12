#![no_main]
//! Fuzz target: witness_request. An add-checkpoint body from anyone parses
//! strictly or is refused without panicking; what parses re-encodes to
//! itself.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = ank_auditor::witness::AddCheckpoint::parse(data) {
        assert_eq!(r.to_body(), data);
    }
});
