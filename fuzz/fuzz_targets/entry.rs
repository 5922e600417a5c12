#![no_main]
//! Fuzz target: entry. Parsing outside bytes never panics; what parses
//! (a binding or a map-root entry) re-encodes to itself; replaying it
//! after a genesis map root never panics either.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = ank_proofs::LogEntry::decode(data) {
        assert_eq!(&e.encode()[..], data);
        let mut r = ank_proofs::map::Replay::new();
        let genesis = ank_proofs::MapRootEntry {
            root: ank_proofs::map::empty_root(),
            timestamp_ms: 0,
        };
        if r.push(&genesis.encode()).is_ok() {
            let _ = r.push(data);
        }
    }
});
