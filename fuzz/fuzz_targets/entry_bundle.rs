#![no_main]
//! Fuzz target: entry_bundle. Parsing outside bytes never panics; what parses re-encodes to itself.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((&w, rest)) = data.split_first() {
        if let Ok(entries) = ank_proofs::tile::decode_entry_bundle(rest, usize::from(w)) {
            assert_eq!(ank_proofs::tile::encode_entry_bundle(&entries).expect("encode"), rest);
        }
    }
});
