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

#[test]
fn map_vectors_verify() {
    use ank_proofs::map::{MapLookup, MapProof, verify_map_proof};
    use base64::Engine as _;
    let files = ank_test_vectors::generate();
    let raw = &files
        .iter()
        .find(|(p, _)| p == "map-proofs.json")
        .unwrap()
        .1;
    let v: serde_json::Value = serde_json::from_slice(raw).unwrap();
    let b64 = |s: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(s.as_str().unwrap())
            .unwrap()
    };
    let hash = |s: &serde_json::Value| ank_proofs::Hash::from_base64(s.as_str().unwrap()).unwrap();
    let mut present = 0;
    for (root_key, list_key) in [
        ("root_before_updates", "lookups_before_updates"),
        ("root_after_updates", "lookups_after_updates"),
    ] {
        let root = hash(&v[root_key]);
        for l in v[list_key].as_array().unwrap() {
            let got = verify_map_proof(
                &hash(&l["label"]),
                &MapProof::decode(&b64(&l["proof"])).unwrap(),
                &root,
            )
            .unwrap();
            match got {
                MapLookup::Present(val) => {
                    present += 1;
                    assert_eq!(
                        val.version,
                        l["result"]["present"]["version"].as_u64().unwrap()
                    );
                }
                MapLookup::Absent => assert_eq!(l["result"], "absent"),
            }
        }
    }
    assert!(present >= 6);
    let n = &v["node_terminal"];
    let p = MapProof::decode(&b64(&n["proof"])).unwrap();
    assert!(matches!(
        p.terminal,
        ank_proofs::map::Terminal::Node { depth: 255, .. }
    ));
    assert_eq!(
        verify_map_proof(&hash(&n["absent_label"]), &p, &hash(&n["root"])),
        Ok(MapLookup::Absent)
    );
    for bad in v["invalid"].as_array().unwrap() {
        let err = match MapProof::decode(&b64(&bad["proof"])) {
            Err(e) => e,
            Ok(p) => verify_map_proof(&hash(&bad["label"]), &p, &hash(&bad["root"])).unwrap_err(),
        };
        assert_eq!(
            format!("{err:?}"),
            bad["error"].as_str().unwrap(),
            "{}",
            bad["desc"]
        );
    }
}

#[test]
fn evidence_vectors_verify_and_fail_as_named() {
    let files = ank_test_vectors::generate();
    let (_, bytes) = files.iter().find(|(p, _)| p == "evidence.json").unwrap();
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let vkey = ank_proofs::VerifierKey::parse(v["log_vkey"].as_str().unwrap()).unwrap();
    use ank_proofs::evidence::Evidence;
    for p in v["positive"].as_array().unwrap() {
        let e = Evidence::parse(p["text"].as_str().unwrap()).unwrap();
        assert_eq!(e.kind.name(), p["kind"].as_str().unwrap(), "{}", p["desc"]);
        e.verify(&vkey).unwrap();
    }
    assert_eq!(v["positive"].as_array().unwrap().len(), 5);
    for n in v["negative"].as_array().unwrap() {
        let err = Evidence::parse(n["text"].as_str().unwrap())
            .and_then(|e| e.verify(&vkey))
            .unwrap_err();
        assert_eq!(
            format!("{err:?}"),
            n["error"].as_str().unwrap(),
            "{}",
            n["desc"]
        );
    }
}

/// entries.json: every valid entry decodes, re-encodes and replays (the
/// stretch ends with its map root); every invalid one fails as named; every
/// bad log replays to its error.
#[test]
fn entry_vectors_decode_replay_and_fail_as_named() {
    use ank_proofs::LogEntry;
    use ank_proofs::map::Replay;
    let files = ank_test_vectors::generate();
    let (_, bytes) = files.iter().find(|(p, _)| p == "entries.json").unwrap();
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let hex = |s: &serde_json::Value| hex::decode(s.as_str().unwrap()).unwrap();
    let mut replay = Replay::new();
    for e in v["valid"].as_array().unwrap() {
        let b = hex(&e["encoding_hex"]);
        assert_eq!(LogEntry::decode(&b).unwrap().encode(), b);
        assert_eq!(
            ank_proofs::leaf_hash(&b).to_base64(),
            e["leaf_hash_b64"].as_str().unwrap()
        );
        replay.push(&b).unwrap();
    }
    replay.check_end().unwrap();
    assert_eq!((replay.bindings(), replay.map_roots()), (3, 1));
    for e in v["invalid"].as_array().unwrap() {
        let err = LogEntry::decode(&hex(&e["encoding_hex"])).unwrap_err();
        assert_eq!(
            format!("{err:?}"),
            e["error"].as_str().unwrap(),
            "{}",
            e["desc"]
        );
    }
    for l in v["replay_invalid"].as_array().unwrap() {
        let mut r = Replay::new();
        let err = l["entries_hex"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|e| r.push(&hex(e)).err())
            .unwrap();
        assert_eq!(
            format!("{err:?}"),
            l["error"].as_str().unwrap(),
            "{}",
            l["desc"]
        );
    }
}
