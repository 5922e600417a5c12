//! Every index and size pair up to 128: prove, verify, then mutate.

use ank_proofs::hash::leaf_hash;
use ank_proofs::tree::{consistency_proof_len, inclusion_proof_len};
use ank_proofs::{
    Error, Hash, TreeBuilder, prove_consistency, prove_inclusion, tree_hash, verify_consistency,
    verify_inclusion,
};

const MAX: u64 = 128;

fn tree() -> (Vec<Hash>, Vec<Hash>, Vec<Hash>) {
    let mut b = TreeBuilder::new();
    let mut stored = Vec::new();
    let mut leaves = Vec::new();
    let mut roots = vec![b.root()];
    for i in 0..=MAX {
        let l = leaf_hash(format!("leaf {i}").as_bytes());
        leaves.push(l);
        stored.extend(b.push_stored(l));
        roots.push(b.root());
    }
    (stored, leaves, roots)
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut x = *h;
    x.0[bit / 8] ^= 1 << (bit % 8);
    x
}

#[test]
fn inclusion_every_pair_and_mutation() {
    let (stored, leaves, roots) = tree();
    let mut checked = 0u64;
    for size in 1..=MAX {
        let root = roots[size as usize];
        assert_eq!(tree_hash(size, &stored).unwrap(), root);
        for index in 0..size {
            let leaf = leaves[index as usize];
            let proof = prove_inclusion(index, size, &stored).unwrap();
            verify_inclusion(&leaf, index, size, &proof, &root).unwrap();
            // A wrong leaf.
            assert!(matches!(
                verify_inclusion(&flip(&leaf, 3), index, size, &proof, &root),
                Err(Error::RootMismatch { .. })
            ));
            // Flip a bit in each proof hash (a different bit each time).
            for i in 0..proof.len() {
                let mut p = proof.clone();
                p[i] = flip(&p[i], (i * 37 + index as usize) % 256);
                assert!(matches!(
                    verify_inclusion(&leaf, index, size, &p, &root),
                    Err(Error::RootMismatch { .. })
                ));
            }
            // Drop each hash, add one at the end and at the front.
            for i in 0..proof.len() {
                let mut p = proof.clone();
                p.remove(i);
                assert_eq!(
                    verify_inclusion(&leaf, index, size, &p, &root),
                    Err(Error::ProofLength {
                        expected: proof.len(),
                        actual: proof.len() - 1
                    })
                );
            }
            for at in [0, proof.len()] {
                let mut p = proof.clone();
                p.insert(at, root);
                assert_eq!(
                    verify_inclusion(&leaf, index, size, &p, &root),
                    Err(Error::ProofLength {
                        expected: proof.len(),
                        actual: proof.len() + 1
                    })
                );
            }
            // Another index with the same proof and root.
            for other in [index.wrapping_sub(1), index + 1, index ^ 2] {
                if other == index || other > MAX {
                    continue;
                }
                let got = verify_inclusion(&leaf, other, size, &proof, &root);
                if other >= size {
                    assert_eq!(got, Err(Error::IndexOutOfRange { index: other, size }));
                } else if inclusion_proof_len(other, size) != proof.len() {
                    assert!(
                        matches!(got, Err(Error::ProofLength { .. })),
                        "{other} {size}"
                    );
                } else {
                    assert!(
                        matches!(got, Err(Error::RootMismatch { .. })),
                        "{other} {size}"
                    );
                }
            }
            // Another size, against that size's true root: valid only if the
            // genuine proof for that size is this very proof.
            for other in [size - 1, size + 1] {
                if other <= index || other > MAX {
                    continue;
                }
                let genuine = prove_inclusion(index, other, &stored).unwrap();
                let got = verify_inclusion(&leaf, index, other, &proof, &roots[other as usize]);
                if genuine == proof {
                    assert_eq!(got, Ok(()));
                } else if genuine.len() != proof.len() {
                    assert!(matches!(got, Err(Error::ProofLength { .. })));
                } else {
                    assert!(
                        matches!(got, Err(Error::RootMismatch { .. })),
                        "{index} {size}->{other}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, MAX * (MAX + 1) / 2);
}

#[test]
fn consistency_every_pair_and_mutation() {
    let (stored, _, roots) = tree();
    for size2 in 1..=MAX {
        let r2 = roots[size2 as usize];
        assert_eq!(
            prove_consistency(0, size2, &stored),
            Err(Error::ConsistencyFromEmptyTree)
        );
        for size1 in 1..=size2 {
            let r1 = roots[size1 as usize];
            let proof = prove_consistency(size1, size2, &stored).unwrap();
            verify_consistency(size1, size2, &proof, &r1, &r2).unwrap();
            if size1 < size2 {
                assert_eq!(proof.len(), consistency_proof_len(size1, size2));
                assert_eq!(
                    verify_consistency(size2, size1, &proof, &r2, &r1),
                    Err(Error::SizeOrder {
                        size1: size2,
                        size2: size1
                    })
                );
            }
            // Wrong old root, wrong new root.
            let bad1 = verify_consistency(size1, size2, &proof, &flip(&r1, 9), &r2);
            assert!(matches!(
                bad1,
                Err(Error::OldRootMismatch { .. } | Error::RootMismatch { .. })
            ));
            let bad2 = verify_consistency(size1, size2, &proof, &r1, &flip(&r2, 9));
            assert!(
                matches!(bad2, Err(Error::RootMismatch { .. })),
                "{size1} {size2}: {bad2:?}"
            );
            for i in 0..proof.len() {
                let mut p = proof.clone();
                p[i] = flip(&p[i], (i * 53 + size1 as usize) % 256);
                assert!(matches!(
                    verify_consistency(size1, size2, &p, &r1, &r2),
                    Err(Error::OldRootMismatch { .. } | Error::RootMismatch { .. })
                ));
                let mut p = proof.clone();
                p.remove(i);
                assert_eq!(
                    verify_consistency(size1, size2, &p, &r1, &r2),
                    Err(Error::ProofLength {
                        expected: proof.len(),
                        actual: proof.len() - 1
                    })
                );
            }
            let mut p = proof.clone();
            p.push(r2);
            assert_eq!(
                verify_consistency(size1, size2, &p, &r1, &r2),
                Err(Error::ProofLength {
                    expected: proof.len(),
                    actual: proof.len() + 1
                })
            );
            // Other sizes, with their true roots.
            for (o1, o2) in [
                (size1 - 1, size2),
                (size1 + 1, size2),
                (size1, size2 + 1),
                (size1, size2 - 1),
            ] {
                if o1 == 0 || o1 > o2 || o2 > MAX || (o1, o2) == (size1, size2) {
                    continue;
                }
                let genuine = prove_consistency(o1, o2, &stored).unwrap();
                let got =
                    verify_consistency(o1, o2, &proof, &roots[o1 as usize], &roots[o2 as usize]);
                if genuine == proof {
                    assert_eq!(got, Ok(()));
                } else if genuine.len() != proof.len() {
                    assert!(matches!(got, Err(Error::ProofLength { .. })));
                } else {
                    assert!(matches!(
                        got,
                        Err(Error::OldRootMismatch { .. } | Error::RootMismatch { .. })
                    ));
                }
            }
        }
    }
}

/// Several-leaf inclusion proofs: every singleton is the RFC 9162 proof;
/// every pair of leaves in every tree up to 40, and every pair with the
/// last leaf (a lookup's shape) up to 128, verifies, and each mutation
/// fails with its exact error.
#[test]
fn inclusion_many_every_pair_and_mutation() {
    use ank_proofs::tree::{inclusion_many_proof_len, prove_inclusion_many, verify_inclusion_many};
    let (stored, leaves, roots) = tree();
    let mut checked = 0u64;
    for size in 1..=MAX {
        let root = roots[size as usize];
        for i in 0..size {
            assert_eq!(
                prove_inclusion_many(&[i], size, &stored).unwrap(),
                prove_inclusion(i, size, &stored).unwrap(),
                "singleton {i} of {size}"
            );
            for j in i + 1..size {
                if size > 40 && j != size - 1 {
                    continue;
                }
                let set = [(i, leaves[i as usize]), (j, leaves[j as usize])];
                let proof = prove_inclusion_many(&[i, j], size, &stored).unwrap();
                assert_eq!(proof.len(), inclusion_many_proof_len(&[i, j], size));
                // Never more than the two proofs apart.
                assert!(proof.len() <= inclusion_proof_len(i, size) + inclusion_proof_len(j, size));
                verify_inclusion_many(&set, size, &proof, &root).unwrap();
                // Either leaf wrong, or either leaf at the other's index.
                for bad in [
                    [(i, flip(&set[0].1, 1)), set[1]],
                    [set[0], (j, flip(&set[1].1, 2))],
                    [(i, set[1].1), (j, set[0].1)],
                ] {
                    assert!(matches!(
                        verify_inclusion_many(&bad, size, &proof, &root),
                        Err(Error::RootMismatch { .. })
                    ));
                }
                for k in 0..proof.len() {
                    let mut p = proof.clone();
                    p[k] = flip(&p[k], (k * 29 + j as usize) % 256);
                    assert!(matches!(
                        verify_inclusion_many(&set, size, &p, &root),
                        Err(Error::RootMismatch { .. })
                    ));
                }
                let mut short = proof.clone();
                if short.pop().is_some() {
                    assert_eq!(
                        verify_inclusion_many(&set, size, &short, &root),
                        Err(Error::ProofLength {
                            expected: proof.len(),
                            actual: proof.len() - 1
                        })
                    );
                }
                let mut long = proof.clone();
                long.push(root);
                assert_eq!(
                    verify_inclusion_many(&set, size, &long, &root),
                    Err(Error::ProofLength {
                        expected: proof.len(),
                        actual: proof.len() + 1
                    })
                );
                assert_eq!(
                    verify_inclusion_many(&[set[1], set[0]], size, &proof, &root),
                    Err(Error::LeafOrder)
                );
                checked += 1;
            }
        }
    }
    assert_eq!(
        checked,
        (1..=40).map(|n| n * (n - 1) / 2).sum::<u64>() + (41..=MAX).map(|n| n - 1).sum::<u64>()
    );
    // A triple, the empty set, a duplicate and an index beyond the tree.
    let size = 100;
    let set: Vec<(u64, Hash)> = [3u64, 64, 99]
        .iter()
        .map(|&i| (i, leaves[i as usize]))
        .collect();
    let proof = prove_inclusion_many(&[3, 64, 99], size, &stored).unwrap();
    verify_inclusion_many(&set, size, &proof, &roots[100]).unwrap();
    assert_eq!(
        prove_inclusion_many(&[], size, &stored),
        Err(Error::LeafOrder)
    );
    assert_eq!(
        prove_inclusion_many(&[5, 5], size, &stored),
        Err(Error::LeafOrder)
    );
    assert_eq!(
        prove_inclusion_many(&[5, 100], size, &stored),
        Err(Error::IndexOutOfRange {
            index: 100,
            size: 100
        })
    );
    assert_eq!(
        verify_inclusion_many(&[], size, &proof, &roots[100]),
        Err(Error::LeafOrder)
    );
}
