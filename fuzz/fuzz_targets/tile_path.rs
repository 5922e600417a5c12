#![no_main]
//! Fuzz target: tile_path. Parsing outside bytes never panics; what parses re-encodes to itself.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(t) = ank_proofs::Tile::parse_path(s) {
            assert_eq!(t.path(), s.strip_prefix("/").unwrap_or(s));
        }
    }
});
