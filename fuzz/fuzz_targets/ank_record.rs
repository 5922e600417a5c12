#![no_main]
//! Fuzz target: ank_record. The `_ank` TXT from anyone's DNS parses
//! strictly or is refused without panicking; what parses prints a record
//! that parses to the same thing.

use ank_dns::records::AnkRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = AnkRecord::parse(data) {
        assert_eq!(AnkRecord::parse(r.to_txt().as_bytes()), Ok(r));
    }
});
