#![no_main]
//! Fuzz target: binding_record. A replay's fast reading of an entry never
//! panics and agrees with the full decoding, except that it does not check
//! the keys' curve points (an entry refused for a point may be read, or
//! refused for what follows the key set).

use ank_proofs::error::KeySetError;
use ank_proofs::{Entry, Error};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fast = ank_proofs::binding::BindingRecord::read(data);
    match (Entry::decode(data), fast) {
        (Ok(e), Ok(r)) => {
            assert_eq!((e.label, e.version, e.keys_hash()), (r.label, r.version, r.keys_hash));
            assert_eq!(e.authorization, r.authorization);
        }
        (
            Err(Error::KeySet(
                KeySetError::SigningKey | KeySetError::WeakSigningKey | KeySetError::WeakEncryptionKey,
            )),
            _,
        ) => {}
        (Err(a), Err(b)) => assert_eq!(a, b),
        (full, fast) => panic!("{full:?} vs {fast:?}"),
    }
});
