//! Evidence of a fork: built from two histories under one key, verified
//! offline, and refused when it is not evidence.

use ank_proofs::evidence::{Evidence, EvidenceError, EvidenceKind};
use ank_proofs::note::ALG_ED25519;
use ank_proofs::{Checkpoint, Error, Hash, SignerKey, TreeBuilder, VerifiedCheckpoint, leaf_hash};

/// A history: leaf `i` is `tag || i`; its stored hashes and signed checkpoint.
fn history(log: &SignerKey, tag: u8, n: u64) -> (Vec<Hash>, VerifiedCheckpoint) {
    let mut b = TreeBuilder::new();
    let mut stored = Vec::new();
    for i in 0..n {
        let mut e = vec![tag];
        e.extend_from_slice(&i.to_be_bytes());
        stored.extend(b.push_stored(leaf_hash(&e)));
    }
    let note = Checkpoint {
        origin: log.name().to_owned(),
        size: n,
        root: b.root(),
        extensions: vec![],
    }
    .sign(log)
    .unwrap()
    .to_text();
    let cp = ank_proofs::verify_checkpoint(note.as_bytes(), &log.verifier(), &[]).unwrap();
    (stored, cp)
}

fn key() -> SignerKey {
    SignerKey::from_seed("example.org/ank", ALG_ED25519, [21; 32]).unwrap()
}

fn not_a_fork() -> Error {
    Error::Evidence(EvidenceError::NotAFork)
}

#[test]
fn same_size_evidence_verifies_and_round_trips() {
    let log = key();
    let (_, a) = history(&log, 1, 7);
    let (_, b) = history(&log, 2, 7);
    let e = Evidence::same_size(&a, &b);
    let text = e.to_text();
    let parsed = Evidence::parse(&text).unwrap();
    assert_eq!(parsed, e);
    let v = parsed.verify(&log.verifier()).unwrap();
    assert_eq!(v.kind, EvidenceKind::SameSize);
    // The same checkpoint twice, or two sizes, is no fork.
    assert_eq!(
        Evidence::same_size(&a, &a)
            .verify(&log.verifier())
            .unwrap_err(),
        not_a_fork()
    );
    let (_, c) = history(&log, 2, 8);
    assert_eq!(
        Evidence::same_size(&a, &c)
            .verify(&log.verifier())
            .unwrap_err(),
        not_a_fork()
    );
    // Under another key it proves nothing.
    let other = SignerKey::from_seed("example.org/ank", ALG_ED25519, [22; 32]).unwrap();
    assert!(parsed.verify(&other.verifier()).is_err());
}

#[test]
fn inconsistent_evidence_for_every_smaller_size() {
    let log = key();
    for n in 1..16u64 {
        let (_, smaller) = history(&log, 1, n);
        let (larger_tree, larger) = history(&log, 2, 16);
        let e = Evidence::from_larger_tree(&smaller, &larger, larger_tree.as_slice()).unwrap();
        let v = Evidence::parse(&e.to_text())
            .unwrap()
            .verify(&log.verifier())
            .unwrap();
        assert_eq!(v.kind, EvidenceKind::Inconsistent, "n = {n}");
        // An honest extension is no fork.
        let (same_tree, extended) = history(&log, 1, 16);
        assert_eq!(
            Evidence::from_larger_tree(&smaller, &extended, same_tree.as_slice()).unwrap_err(),
            not_a_fork(),
            "n = {n}"
        );
    }
}

#[test]
fn every_changed_byte_is_refused() {
    let log = key();
    let (_, smaller) = history(&log, 1, 5);
    let (tree, larger) = history(&log, 2, 11);
    for e in [
        Evidence::same_size(&history(&log, 1, 5).1, &history(&log, 3, 5).1),
        Evidence::from_larger_tree(&smaller, &larger, tree.as_slice()).unwrap(),
    ] {
        let text = e.to_text().into_bytes();
        for i in 0..text.len() {
            for flip in [0x01u8, 0x20] {
                let mut t = text.clone();
                t[i] ^= flip;
                let Ok(s) = String::from_utf8(t) else {
                    continue;
                };
                let ok = Evidence::parse(&s).and_then(|e| e.verify(&log.verifier()));
                assert!(ok.is_err(), "byte {i} ^ {flip:#x} still verifies");
            }
        }
    }
}

#[test]
fn malformed_texts_name_their_problem() {
    let bad = |t: &str, what: &str| {
        assert_eq!(
            Evidence::parse(t).unwrap_err(),
            Error::Evidence(EvidenceError::Format(match what {
                "header" => "first line must be ank-evidence/v1",
                "kind" => "second line must be kind same-size or kind inconsistent",
                "newline" => "must end with a newline",
                "notes" => "two note lines must follow the kind",
                _ => unreachable!(),
            })),
            "{t:?}"
        );
    };
    bad("ank-evidence/v1\nkind same-size", "newline");
    bad("ank-evidence/v2\nkind same-size\n", "header");
    bad("ank-evidence/v1\nkind other\n", "kind");
    bad("ank-evidence/v1\nkind same-size\nnote QQ==\n", "notes");
}
