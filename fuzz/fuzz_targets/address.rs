#![no_main]
//! Fuzz target: address. Parsing outside bytes never panics; what parses re-encodes to itself.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(a) = ank_proofs::Address::parse(s) {
            let again = ank_proofs::Address::parse(&a.to_string()).expect("canonical re-parses");
            assert_eq!(again, a);
        }
    }
});
