#![no_main]
//! Fuzz target: evidence. Any text parses strictly or is refused; what
//! parses is verified under a fixed key without panicking, and re-encodes
//! to itself. Map-root evidence whose entries start at index 0 is also
//! checked against a checkpoint signed here over exactly those entries, so
//! the map walk itself sees the fuzzer's entries and map proofs.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(e) = ank_proofs::evidence::Evidence::parse(text) else {
        return;
    };
    assert_eq!(e.to_text(), text);
    let Ok(k) =
        ank_proofs::SignerKey::from_seed("example.org/ank", ank_proofs::note::ALG_ED25519, [1; 32])
    else {
        return;
    };
    let _ = e.verify(&k.verifier());
    let Some(parts) = e.map.as_ref().filter(|m| m.first == 0) else {
        return;
    };
    let mut tree = ank_proofs::TreeBuilder::new();
    for entry in &parts.entries {
        tree.push(ank_proofs::leaf_hash(entry));
    }
    let Ok(note) = (ank_proofs::Checkpoint {
        origin: "example.org/ank".into(),
        size: tree.size(),
        root: tree.root(),
        extensions: vec![],
    })
    .sign(&k) else {
        return;
    };
    if let Ok(cp) = ank_proofs::verify_checkpoint(note.to_text().as_bytes(), &k.verifier(), &[]) {
        let _ = e.verify_map_root(&cp);
    }
});
