//! The committed vectors are exactly what the generator writes, and they
//! verify with ank-proofs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::path::Path;

#[test]
fn committed_vectors_match_the_generator() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = ank_test_vectors::generate();
    assert!(files.len() > 10);
    for (path, want) in &files {
        let got = std::fs::read(root.join(path)).unwrap_or_else(|e| {
            panic!("{path}: {e}; run `cargo run -p ank-test-vectors` and commit")
        });
        assert!(
            got == *want,
            "{path} drifted; run `cargo run -p ank-test-vectors` and commit"
        );
    }
}

#[test]
fn vectors_verify() {
    let files = ank_test_vectors::generate();
    let get = |p: &str| {
        files
            .iter()
            .find(|(q, _)| q == p)
            .map(|(_, b)| b.clone())
            .unwrap()
    };
    let cps: serde_json::Value = serde_json::from_slice(&get("checkpoints.json")).unwrap();
    let log = ank_proofs::VerifierKey::parse(cps["log_vkey"].as_str().unwrap()).unwrap();
    let w = ank_proofs::VerifierKey::parse(cps["witness_vkey"].as_str().unwrap()).unwrap();
    for c in cps["valid"].as_array().unwrap() {
        let cp = ank_proofs::verify_checkpoint(
            c["cosigned"].as_str().unwrap().as_bytes(),
            &log,
            std::slice::from_ref(&w),
        )
        .unwrap();
        assert_eq!(
            cp.cosignatures()[0].timestamp,
            c["cosignature_time"].as_u64().unwrap()
        );
    }
    for c in cps["invalid"].as_array().unwrap() {
        let e = ank_proofs::verify_checkpoint(
            c["note"].as_str().unwrap().as_bytes(),
            &log,
            std::slice::from_ref(&w),
        )
        .unwrap_err();
        assert_eq!(format!("{e:?}"), c["error"].as_str().unwrap());
    }
    let leaves: serde_json::Value =
        serde_json::from_slice(&get("tlog-proofs/leaf-hashes.json")).unwrap();
    for (name, leaf) in leaves.as_object().unwrap() {
        let text = String::from_utf8(get(&format!("tlog-proofs/{name}"))).unwrap();
        let leaf = ank_proofs::Hash::from_base64(leaf.as_str().unwrap()).unwrap();
        let cp = ank_proofs::TlogProof::parse(&text)
            .unwrap()
            .verify(&leaf, &log, std::slice::from_ref(&w))
            .unwrap();
        assert_eq!(cp.size(), ank_test_vectors::LOG_SIZE);
    }
}
