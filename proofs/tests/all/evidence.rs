//! Evidence of a fork: built from two histories under one key, verified
//! offline, and refused when it is not evidence.

use ank_proofs::evidence::{Evidence, EvidenceError, EvidenceKind};
use ank_proofs::map::{Map, Replay};
use ank_proofs::note::ALG_ED25519;
use ank_proofs::{
    Checkpoint, Error, Hash, MapRootEntry, SignerKey, TreeBuilder, VerifiedCheckpoint, leaf_hash,
};

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
    let map_root = {
        let (honest, _, _) = ank_log(&log, &BATCHES[..1], None);
        let lie = MapRootEntry::decode(&honest[0]).unwrap().root;
        let (entries, stored, cp) = ank_log(&log, &BATCHES[..1], Some(lie));
        let mut r = Replay::new();
        for e in &entries {
            let _ = r.push(e);
        }
        r.map_root_evidence(&cp, stored.as_slice()).unwrap()
    };
    for e in [
        Evidence::same_size(&history(&log, 1, 5).1, &history(&log, 3, 5).1),
        Evidence::from_larger_tree(&smaller, &larger, tree.as_slice()).unwrap(),
        map_root,
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
                "kind" => "second line must be kind same-size, inconsistent or map-root",
                "newline" => "must end with a newline",
                "notes" => "note lines must follow the kind",
                "first" => "a first line with an index must follow the note",
                _ => unreachable!(),
            })),
            "{t:?}"
        );
    };
    bad("ank-evidence/v1\nkind same-size", "newline");
    bad("ank-evidence/v2\nkind same-size\n", "header");
    bad("ank-evidence/v1\nkind other\n", "kind");
    bad("ank-evidence/v1\nkind same-size\nnote QQ==\n", "notes");
    bad("ank-evidence/v1\nkind map-root\nnote QQ==\n", "first");
    bad(
        "ank-evidence/v1\nkind map-root\nnote QQ==\nfirst -1\n",
        "first",
    );
}

use ank_test_vectors::{ank_log, map_proofs_in_order};

const BATCHES: [&[(u8, u64)]; 2] = [&[(1, 1), (2, 1)], &[(3, 1), (1, 2), (1, 3), (4, 1)]];

/// A replay that finds a map-root entry contradicted builds evidence that
/// anyone verifies offline with the log key alone, and that names the entry.
#[test]
fn map_root_evidence_from_a_replay() {
    let log = key();
    // The last map root leaves out the last binding: the map of a lie.
    let (honest, _, _) = ank_log(&log, &BATCHES, None);
    let lie = {
        let mut r = Replay::new();
        for e in &honest[..honest.len() - 2] {
            r.push(e).unwrap();
        }
        r.root()
    };
    let (entries, stored, cp) = ank_log(&log, &BATCHES, Some(lie));
    let mut r = Replay::new();
    let last = entries.len() as u64 - 1;
    for (i, e) in entries.iter().enumerate() {
        match r.push(e) {
            Ok(()) => assert!((i as u64) < last),
            Err(err) => {
                assert_eq!(i as u64, last);
                assert!(
                    matches!(err, Error::ReplayMapRoot { index, signed, .. } if index == last && signed == lie),
                    "{err}"
                );
            }
        }
    }
    // Every later push fails the same way.
    assert!(matches!(
        r.push(&entries[0]),
        Err(Error::ReplayMapRoot { index, .. }) if index == last
    ));
    let e = r.map_root_evidence(&cp, stored.as_slice()).unwrap();
    assert_eq!(e.kind, EvidenceKind::MapRoot);
    let parts = e.map.as_ref().unwrap();
    // From the previous map root (index 3) to the contradicted one.
    assert_eq!(
        (parts.first, parts.entries.len(), parts.map_proofs.len()),
        (3, 6, 4)
    );
    let text = e.to_text();
    assert!(
        text.starts_with("ank-evidence/v1\nkind map-root\nnote "),
        "{text}"
    );
    let parsed = Evidence::parse(&text).unwrap();
    assert_eq!(parsed, e);
    let v = parsed.verify(&log.verifier()).unwrap();
    assert_eq!(
        (v.kind, v.contradicted),
        (EvidenceKind::MapRoot, Some(last))
    );
    assert_eq!(v.checkpoints.len(), 1);
    // Under another key it is nothing.
    let other = SignerKey::from_seed("example.org/ank", ALG_ED25519, [22; 32]).unwrap();
    assert!(parsed.verify(&other.verifier()).is_err());

    // An honest log's replay has nothing to show.
    let (entries, stored, cp) = ank_log(&log, &BATCHES, None);
    let mut r = Replay::new();
    for e in &entries {
        r.push(e).unwrap();
    }
    r.check_end().unwrap();
    assert_eq!(
        r.map_root_evidence(&cp, stored.as_slice()).unwrap_err(),
        not_a_fork()
    );
}

/// Map-root evidence built by hand from an honest batch is refused as no
/// contradiction; a binding whose version the map before it does not allow
/// is one; every part that is wrong is named.
#[test]
fn map_root_evidence_checks_every_part() {
    let log = key();
    let (entries, stored, cp) = ank_log(&log, &BATCHES, None);
    let mut map = Map::new();
    let first_proofs = map_proofs_in_order(&entries, &mut map, 1..3);
    let second_proofs = map_proofs_in_order(&entries, &mut map, 4..8);
    let incl = |r: std::ops::Range<u64>| {
        ank_proofs::tree::prove_inclusion_many(&r.collect::<Vec<_>>(), cp.size(), stored.as_slice())
            .unwrap()
    };
    let honest = Evidence::map_root(
        &cp,
        3,
        entries[3..9].to_vec(),
        incl(3..9),
        second_proofs.clone(),
    );
    assert_eq!(honest.verify(&log.verifier()).unwrap_err(), not_a_fork());
    let from_genesis = Evidence::map_root(&cp, 0, entries[0..4].to_vec(), incl(0..4), first_proofs);
    assert_eq!(
        from_genesis.verify(&log.verifier()).unwrap_err(),
        not_a_fork()
    );

    // Not the entries the tree holds, or not at those indexes.
    let shifted = Evidence::map_root(
        &cp,
        2,
        entries[3..9].to_vec(),
        incl(3..9),
        second_proofs.clone(),
    );
    assert!(matches!(
        shifted.verify(&log.verifier()),
        Err(Error::RootMismatch { .. })
    ));
    // A map proof missing, or against another map.
    let short = Evidence::map_root(
        &cp,
        3,
        entries[3..9].to_vec(),
        incl(3..9),
        second_proofs[1..].to_vec(),
    );
    assert!(matches!(
        short.verify(&log.verifier()),
        Err(Error::Evidence(EvidenceError::Format(_)))
    ));
    let mut swapped = second_proofs.clone();
    swapped.swap(0, 3);
    let wrong_map = Evidence::map_root(&cp, 3, entries[3..9].to_vec(), incl(3..9), swapped);
    assert!(wrong_map.verify(&log.verifier()).is_err());
    // Not starting at a map root, or not ending at one.
    let mid = Evidence::map_root(
        &cp,
        4,
        entries[4..9].to_vec(),
        incl(4..9),
        second_proofs[1..].to_vec(),
    );
    assert!(matches!(
        mid.verify(&log.verifier()),
        Err(Error::Evidence(EvidenceError::Format(_)))
    ));
    let open = Evidence::map_root(
        &cp,
        3,
        entries[3..8].to_vec(),
        incl(3..8),
        second_proofs[..3].to_vec(),
    );
    assert!(matches!(
        open.verify(&log.verifier()),
        Err(Error::Evidence(EvidenceError::Format(_)))
    ));

    // A log whose second batch has label 1 at version 4 after version 1:
    // the map before it contradicts the binding.
    let gap: [&[(u8, u64)]; 2] = [&[(1, 1)], &[(1, 4)]];
    let (entries, stored, cp) = ank_log(&log, &gap, None);
    let mut map = Map::new();
    let _ = map_proofs_in_order(&entries, &mut map, 1..2);
    let proofs = map_proofs_in_order(&entries, &mut map, 3..4);
    let e = Evidence::map_root(
        &cp,
        2,
        entries[2..5].to_vec(),
        ank_proofs::tree::prove_inclusion_many(&[2, 3, 4], cp.size(), stored.as_slice()).unwrap(),
        proofs,
    );
    assert_eq!(e.verify(&log.verifier()).unwrap().contradicted, Some(3));
}

/// Map-root evidence whose entries would run past the last index is
/// refused, not a panic.
#[test]
fn map_root_evidence_at_the_end_of_the_index_space_is_refused() {
    let log = key();
    let (entries, _, cp) = ank_log(&log, &BATCHES[..1], None);
    let refused = |first: u64| {
        let e = Evidence::map_root(&cp, first, entries[..4].to_vec(), vec![], vec![]);
        Evidence::parse(&e.to_text())
            .unwrap()
            .verify(&log.verifier())
            .unwrap_err()
    };
    assert_eq!(
        refused(u64::MAX - 1),
        Error::Evidence(EvidenceError::Format("entry index overflows"))
    );
    assert_eq!(
        refused(u64::MAX - 3),
        Error::IndexOutOfRange {
            index: u64::MAX - 3,
            size: cp.size()
        }
    );
}
