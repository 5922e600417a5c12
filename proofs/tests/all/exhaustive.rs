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
