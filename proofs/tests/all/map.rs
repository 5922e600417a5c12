//! The verifiable map against a plain, uncompressed reference construction
//! of its spec, and every mutation of its proofs.

use ank_proofs::error::MapProofError;
use ank_proofs::hash::sha256;
use ank_proofs::map::{
    Map, MapLookup, MapProof, MapValue, Terminal, bit, empty_root, leaf_hash, node_hash, prefix,
    verify_map_proof,
};
use ank_proofs::{Error, Hash};

use crate::common::Rng;

type Item = (Hash, MapValue);

/// The spec read literally: walk every bit position from 0; a level where
/// all labels agree is no node; a level where they split is one.
fn ref_root(items: &[Item], i: u16) -> Hash {
    match items {
        [] => empty_root(),
        [(l, v)] => leaf_hash(l, v),
        _ => {
            let (ones, zeros): (Vec<Item>, Vec<Item>) =
                items.iter().partition(|(l, _)| bit(&l.0, i as u8));
            if ones.is_empty() || zeros.is_empty() {
                return ref_root(items, i + 1);
            }
            node_hash(
                i as u8,
                &prefix(&items[0].0.0, i as u8),
                &ref_root(&zeros, i + 1),
                &ref_root(&ones, i + 1),
            )
        }
    }
}

/// The lookup proof by the same literal walk.
fn ref_proof(items: &[Item], label: &Hash) -> MapProof {
    let mut set: Vec<Item> = items.to_vec();
    let mut path = Vec::new();
    let mut diverged = false;
    let mut i: u16 = 0;
    let terminal = loop {
        match set.as_slice() {
            [] => break Terminal::Empty,
            [(l, v)] => {
                break Terminal::Leaf {
                    label: *l,
                    value: *v,
                };
            }
            _ => {}
        }
        let (ones, zeros): (Vec<Item>, Vec<Item>) =
            set.iter().partition(|(l, _)| bit(&l.0, i as u8));
        if ones.is_empty() || zeros.is_empty() {
            // All labels share bit i; the looked-up label may leave them here.
            if bit(&set[0].0.0, i as u8) != bit(&label.0, i as u8) {
                diverged = true;
            }
            i += 1;
            continue;
        }
        if diverged {
            break Terminal::Node {
                depth: i as u8,
                prefix: prefix(&set[0].0.0, i as u8),
                left: ref_root(&zeros, i + 1),
                right: ref_root(&ones, i + 1),
            };
        }
        let (side, other) = if bit(&label.0, i as u8) {
            (ones, zeros)
        } else {
            (zeros, ones)
        };
        path.push((i as u8, ref_root(&other, i + 1)));
        set = side;
        i += 1;
    };
    path.reverse();
    MapProof { terminal, path }
}

fn value(rng: &mut Rng) -> MapValue {
    MapValue {
        version: 1 + rng.below(5),
        index: rng.next() >> 8,
        entry_hash: sha256(&rng.next().to_le_bytes()),
    }
}

fn random_label(rng: &mut Rng) -> Hash {
    sha256(&rng.next().to_le_bytes())
}

/// Labels that share long prefixes, to exercise deep splits.
fn clustered_label(rng: &mut Rng, base: &Hash) -> Hash {
    let mut l = base.0;
    let depth = rng.below(256) as usize;
    l[depth / 8] ^= 0x80 >> (depth % 8);
    if depth < 255 && rng.below(2) == 0 {
        let d2 = depth + 1 + rng.below((255 - depth) as u64) as usize;
        l[d2 / 8] ^= 0x80 >> (d2 % 8);
    }
    Hash(l)
}

fn build(items: &[Item]) -> Map {
    let mut m = Map::new();
    for (l, v) in items {
        m.insert(*l, *v);
    }
    m
}

#[test]
fn agrees_with_the_reference_on_roots_and_proofs() {
    let mut rng = Rng(2024);
    let base = random_label(&mut rng);
    for (n, clustered) in [
        (0usize, false),
        (1, false),
        (2, false),
        (3, true),
        (17, true),
        (100, false),
        (300, true),
        (1000, false),
        (10_000, false),
    ] {
        let mut items: Vec<Item> = Vec::new();
        while items.len() < n {
            let l = if clustered {
                clustered_label(&mut rng, &base)
            } else {
                random_label(&mut rng)
            };
            if !items.iter().any(|(x, _)| *x == l) {
                items.push((l, value(&mut rng)));
            }
        }
        let mut m = build(&items);
        let root = m.root();
        assert_eq!(root, ref_root(&items, 0), "root of {n}");
        assert_eq!(m.len(), n);
        let checks = if n > 1000 { 40 } else { n.min(60) };
        for k in 0..checks {
            let (l, v) = items[(k * 7919) % n];
            let p = m.prove(&l);
            assert_eq!(p, ref_proof(&items, &l), "member proof in {n}");
            assert_eq!(verify_map_proof(&l, &p, &root), Ok(MapLookup::Present(v)));
            assert_eq!(MapProof::decode(&p.encode()).unwrap(), p);
        }
        for _ in 0..40 {
            let l = if clustered && n > 0 {
                clustered_label(&mut rng, &base)
            } else {
                random_label(&mut rng)
            };
            if items.iter().any(|(x, _)| *x == l) {
                continue;
            }
            let p = m.prove(&l);
            assert_eq!(p, ref_proof(&items, &l), "absence proof in {n}");
            assert_eq!(verify_map_proof(&l, &p, &root), Ok(MapLookup::Absent));
            assert_eq!(m.get(&l), None);
        }
    }
}

#[test]
fn random_update_sequences_agree_with_the_reference() {
    let mut rng = Rng(77);
    let base = random_label(&mut rng);
    let mut items: Vec<Item> = Vec::new();
    let mut m = Map::new();
    for round in 0..40 {
        for _ in 0..1 + rng.below(60) {
            if !items.is_empty() && rng.below(3) == 0 {
                // Update an existing label (a new version).
                let k = rng.below(items.len() as u64) as usize;
                let v = value(&mut rng);
                assert_eq!(m.insert(items[k].0, v), Some(items[k].1));
                items[k].1 = v;
            } else {
                let l = if round % 2 == 0 {
                    clustered_label(&mut rng, &base)
                } else {
                    random_label(&mut rng)
                };
                if items.iter().any(|(x, _)| *x == l) {
                    continue;
                }
                let v = value(&mut rng);
                assert_eq!(m.insert(l, v), None);
                items.push((l, v));
            }
        }
        let root = m.root();
        assert_eq!(root, ref_root(&items, 0), "round {round}");
        let (l, v) = items[rng.below(items.len() as u64) as usize];
        assert_eq!(m.get(&l), Some(v));
        assert_eq!(m.prove(&l), ref_proof(&items, &l));
    }
}

/// Prepared batches agree with in-place updates and the reference, leave the
/// map untouched until applied, and are refused on another state of the map.
#[test]
fn prepared_batches_agree_and_leave_the_map_untouched_until_applied() {
    let mut rng = Rng(91);
    let base = random_label(&mut rng);
    let mut items: Vec<Item> = Vec::new();
    let mut m = Map::new();
    for round in 0..30 {
        let mut batch: Vec<(Hash, MapValue)> = Vec::new();
        for _ in 0..1 + rng.below(80) {
            // Existing labels (some twice in one batch: the later wins) and new ones.
            if !batch.is_empty() && rng.below(8) == 0 {
                let k = rng.below(batch.len() as u64) as usize;
                batch.push((batch[k].0, value(&mut rng)));
            } else if !items.is_empty() && rng.below(3) == 0 {
                let k = rng.below(items.len() as u64) as usize;
                batch.push((items[k].0, value(&mut rng)));
            } else {
                let l = if round % 2 == 0 {
                    clustered_label(&mut rng, &base)
                } else {
                    random_label(&mut rng)
                };
                batch.push((l, value(&mut rng)));
            }
        }
        let before = m.current_root().unwrap();
        let probe = random_label(&mut rng);
        let proof_before = m.proof(&probe).unwrap();
        let prepared = m.prepare(&batch);
        // Nothing changed yet: root, proofs and values are the old ones.
        assert_eq!(m.current_root(), Some(before));
        assert_eq!(m.proof(&probe), Some(proof_before));
        for (l, v) in &batch {
            if let Some(k) = items.iter().position(|(x, _)| x == l) {
                items[k].1 = *v;
            } else {
                items.push((*l, *v));
            }
        }
        assert_eq!(prepared.root(), ref_root(&items, 0), "round {round}");
        // In place, on a copy: the same root.
        let mut direct = m.clone();
        for (l, v) in &batch {
            direct.insert(*l, *v);
        }
        assert_eq!(direct.root(), prepared.root());
        m.apply(prepared).unwrap();
        assert!(m.is_clean());
        assert_eq!(m.current_root(), Some(ref_root(&items, 0)));
        for _ in 0..5 {
            let (l, v) = items[rng.below(items.len() as u64) as usize];
            assert_eq!(m.get(&l), Some(v));
            assert_eq!(m.proof(&l), Some(ref_proof(&items, &l)));
        }
        let absent = random_label(&mut rng);
        assert_eq!(m.proof(&absent), Some(ref_proof(&items, &absent)));
    }
    // A batch prepared before another change is refused, and changes nothing.
    let stale = m.prepare(&[(random_label(&mut rng), value(&mut rng))]);
    let newer = m.prepare(&[(random_label(&mut rng), value(&mut rng))]);
    let root = newer.root();
    m.apply(newer).unwrap();
    assert_eq!(m.apply(stale), Err(ank_proofs::map::StaleBatch));
    assert_eq!(m.current_root(), Some(root));
    // Pending in-place updates make shared-reference proofs unavailable.
    m.insert(random_label(&mut rng), value(&mut rng));
    assert!(!m.is_clean());
    assert_eq!(m.proof(&base), None);
}

fn flip(h: &Hash, b: usize) -> Hash {
    let mut x = *h;
    x.0[b / 8] ^= 0x80 >> (b % 8);
    x
}

#[test]
fn every_mutation_fails_with_its_error() {
    let mut rng = Rng(5);
    let items: Vec<Item> = (0..200)
        .map(|_| (random_label(&mut rng), value(&mut rng)))
        .collect();
    let mut m = build(&items);
    let root = m.root();
    for (l, v) in items.iter().take(25) {
        let p = m.prove(l);
        // Each bit of each sibling hash.
        for (k, _) in p.path.iter().enumerate() {
            for b in (0..256).step_by(37) {
                let mut q = p.clone();
                q.path[k].1 = flip(&q.path[k].1, b);
                assert!(matches!(
                    verify_map_proof(l, &q, &root),
                    Err(Error::MapRootMismatch { .. })
                ));
            }
        }
        // Wrong version, entry index, entry hash, label in the terminal.
        for bad in [
            MapValue {
                version: v.version + 1,
                ..*v
            },
            MapValue {
                index: v.index ^ 1,
                ..*v
            },
            MapValue {
                entry_hash: flip(&v.entry_hash, 3),
                ..*v
            },
        ] {
            let q = MapProof {
                terminal: Terminal::Leaf {
                    label: *l,
                    value: bad,
                },
                path: p.path.clone(),
            };
            assert!(matches!(
                verify_map_proof(l, &q, &root),
                Err(Error::MapRootMismatch { .. })
            ));
        }
        for b in (0..256).step_by(11) {
            let q = MapProof {
                terminal: Terminal::Leaf {
                    label: flip(l, b),
                    value: *v,
                },
                path: p.path.clone(),
            };
            assert!(matches!(
                verify_map_proof(l, &q, &root),
                Err(Error::MapRootMismatch { .. })
            ));
        }
        // Each bit of the looked-up label: a valid absence proof only when the
        // reference agrees that lookup ends at this leaf; otherwise the path is left.
        for b in 0..256 {
            let other = flip(l, b);
            let got = verify_map_proof(&other, &p, &root);
            if ref_proof(&items, &other) == p {
                assert_eq!(got, Ok(MapLookup::Absent), "bit {b}");
            } else {
                assert_eq!(got, Err(Error::MapPathMismatch), "bit {b}");
            }
        }
        // Each depth on the path, moved by one.
        for k in 0..p.path.len() {
            for delta in [1i16, -1] {
                let d = p.path[k].0 as i16 + delta;
                if !(0..=255).contains(&d) {
                    continue;
                }
                let mut q = p.clone();
                q.path[k].0 = d as u8;
                let got = verify_map_proof(l, &q, &root);
                assert!(
                    matches!(
                        got,
                        Err(Error::MapRootMismatch { .. })
                            | Err(Error::MapProof(MapProofError::DepthOrder))
                    ),
                    "{got:?}"
                );
            }
        }
        // A dropped sibling.
        if !p.path.is_empty() {
            let mut q = p.clone();
            q.path.remove(0);
            assert!(matches!(
                verify_map_proof(l, &q, &root),
                Err(Error::MapRootMismatch { .. })
            ));
        }
    }
}

#[test]
fn cannot_prove_absence_of_a_present_label_or_a_stale_version() {
    let mut rng = Rng(9);
    let mut items: Vec<Item> = (0..300)
        .map(|_| (random_label(&mut rng), value(&mut rng)))
        .collect();
    let mut m = build(&items);
    let root = m.root();
    let absent: Vec<MapProof> = (0..60).map(|_| m.prove(&random_label(&mut rng))).collect();
    let members: Vec<MapProof> = items.iter().take(60).map(|(l, _)| m.prove(l)).collect();
    for (l, v) in items.iter().take(60) {
        // Any proof at all that verifies for a present label says it is present, with its value.
        for p in absent.iter().chain(&members) {
            match verify_map_proof(l, p, &root) {
                Ok(MapLookup::Present(got)) => assert_eq!(got, *v),
                Ok(MapLookup::Absent) => panic!("absence proven for a present label"),
                Err(Error::MapPathMismatch | Error::MapNotTerminal) => {}
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
    }
    // Rotate a label: the proof of its old version fails against the new root.
    let (l, old) = items[3];
    let stale = m.prove(&l);
    let new = MapValue {
        version: old.version + 1,
        ..old
    };
    m.insert(l, new);
    items[3].1 = new;
    let new_root = m.root();
    assert!(matches!(
        verify_map_proof(&l, &stale, &new_root),
        Err(Error::MapRootMismatch { .. })
    ));
    let forged = MapProof {
        terminal: Terminal::Leaf {
            label: l,
            value: old,
        },
        path: m.prove(&l).path,
    };
    assert!(matches!(
        verify_map_proof(&l, &forged, &new_root),
        Err(Error::MapRootMismatch { .. })
    ));
    assert_eq!(
        verify_map_proof(&l, &m.prove(&l), &new_root),
        Ok(MapLookup::Present(new))
    );
    // A node terminal the label would descend into is refused: take a member's
    // proof and stop it one level early, at the node its leaf hangs from.
    let p = members.iter().find(|p| !p.path.is_empty()).unwrap();
    let Terminal::Leaf { label, value } = p.terminal else {
        unreachable!()
    };
    let (d, sib) = p.path[0];
    let leaf_h = leaf_hash(&label, &value);
    let (left, right) = if bit(&label.0, d) {
        (sib, leaf_h)
    } else {
        (leaf_h, sib)
    };
    let q = MapProof {
        terminal: Terminal::Node {
            depth: d,
            prefix: prefix(&label.0, d),
            left,
            right,
        },
        path: p.path[1..].to_vec(),
    };
    assert_eq!(q.root().unwrap(), root);
    assert_eq!(
        verify_map_proof(&label, &q, &root),
        Err(Error::MapNotTerminal)
    );
}

#[test]
fn proof_encoding_rejects_non_canonical_bytes() {
    let mut rng = Rng(3);
    let items: Vec<Item> = (0..50)
        .map(|_| (random_label(&mut rng), value(&mut rng)))
        .collect();
    let mut m = build(&items);
    let p = m.prove(&items[0].0);
    let enc = p.encode();
    let e = |r| Err(Error::MapProof(r));
    assert_eq!(
        MapProof::decode(&[]),
        e(MapProofError::Truncated { offset: 0 })
    );
    let mut x = enc.clone();
    x[0] = 2;
    assert_eq!(MapProof::decode(&x), e(MapProofError::Format(2)));
    let mut x = enc.clone();
    x[1] = 7;
    assert_eq!(MapProof::decode(&x), e(MapProofError::TerminalKind(7)));
    assert_eq!(
        MapProof::decode(&enc[..enc.len() - 1]),
        e(MapProofError::Truncated {
            offset: enc.len() - 33
        })
    );
    let mut x = enc.clone();
    x.push(0);
    assert_eq!(MapProof::decode(&x), e(MapProofError::TrailingBytes));
    // Swap two path steps: depths no longer decrease upward.
    if p.path.len() >= 2 {
        let mut q = p.clone();
        q.path.swap(0, 1);
        assert_eq!(MapProof::decode(&q.encode()), e(MapProofError::DepthOrder));
    }
    let empty_with_path = MapProof {
        terminal: Terminal::Empty,
        path: vec![(3, Hash::default())],
    };
    assert_eq!(
        MapProof::decode(&empty_with_path.encode()),
        e(MapProofError::EmptyWithPath)
    );
    let unmasked = MapProof {
        terminal: Terminal::Node {
            depth: 4,
            prefix: [0xff; 32],
            left: Hash::default(),
            right: Hash::default(),
        },
        path: vec![],
    };
    assert_eq!(
        MapProof::decode(&unmasked.encode()),
        e(MapProofError::PrefixNotMasked)
    );
    // A proof at 10,000 labels stays small.
    let mut big = build(
        &(0..10_000)
            .map(|_| (random_label(&mut rng), value(&mut rng)))
            .collect::<Vec<_>>(),
    );
    let size = big.prove(&random_label(&mut rng)).encode().len();
    assert!(size < 1500, "{size}");
}

/// `root_after_update` from a proof agrees with updating the map itself,
/// for present labels, absent labels ending at a leaf or at a node, deep
/// splits and the empty map; and refuses a proof against another root.
#[test]
fn root_after_update_agrees_with_the_map() {
    use ank_proofs::map::root_after_update;
    let mut rng = Rng(4242);
    let base = random_label(&mut rng);
    let mut m = Map::new();
    let mut labels: Vec<Hash> = Vec::new();
    for step in 0..600 {
        let label = if !labels.is_empty() && rng.below(3) == 0 {
            labels[rng.below(labels.len() as u64) as usize]
        } else if step % 2 == 0 {
            clustered_label(&mut rng, &base)
        } else {
            random_label(&mut rng)
        };
        let v = value(&mut rng);
        let before = m.root();
        let proof = m.prove(&label);
        let predicted = root_after_update(&label, &proof, &before, &v).unwrap();
        m.insert(label, v);
        assert_eq!(predicted, m.root(), "step {step}");
        if !labels.contains(&label) {
            labels.push(label);
        }
        if step % 50 == 0 {
            assert!(matches!(
                root_after_update(&label, &proof, &flip(&before, 3), &v),
                Err(Error::MapRootMismatch { .. })
            ));
        }
    }
}
