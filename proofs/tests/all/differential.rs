//! Roots and proofs equal to those of independent implementations:
//! ct-merkle (RFC 6962 proofs) and rs_merkle (roots and inclusion proofs,
//! with a hasher that prefixes 0x01 on nodes and promotes the odd node).

use ank_proofs::hash::{leaf_hash, sha256};
use ank_proofs::{Hash, TreeBuilder, prove_consistency, prove_inclusion, tree_hash};
use ct_merkle::mem_backed_tree::MemoryBackedTree;

use crate::common::Rng;

#[derive(Clone)]
struct Rfc6962Nodes;

impl rs_merkle::Hasher for Rfc6962Nodes {
    type Hash = [u8; 32];
    fn hash(data: &[u8]) -> [u8; 32] {
        sha256(data).0
    }
    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(r) => {
                let mut buf = vec![1u8];
                buf.extend_from_slice(left);
                buf.extend_from_slice(r);
                sha256(&buf).0
            }
            None => *left,
        }
    }
}

fn ct_hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks(32)
        .map(|c| Hash::from_slice(c).unwrap())
        .collect()
}

#[test]
fn against_ct_merkle_and_rs_merkle() {
    let mut rng = Rng(0x00a1_1ce5);
    let mut sizes = vec![1u64, 2, 3, 255, 256, 257, 1000, 4097, 10_000];
    sizes.extend((0..6).map(|_| 1 + rng.below(10_000)));
    for size in sizes {
        let entries: Vec<Vec<u8>> = (0..size)
            .map(|i| format!("{size}/{i}/{}", rng.next()).into_bytes())
            .collect();
        let mut ours = TreeBuilder::new();
        let mut stored = Vec::new();
        let mut ct: MemoryBackedTree<sha2::Sha256, Vec<u8>> = MemoryBackedTree::new();
        for e in &entries {
            stored.extend(ours.push_stored(leaf_hash(e)));
            ct.push(e.clone());
        }
        let ct_root = Hash::from_slice(ct.root().as_bytes()).unwrap();
        assert_eq!(ours.root(), ct_root, "root at {size}");
        assert_eq!(tree_hash(size, &stored).unwrap(), ct_root);

        let leaves: Vec<[u8; 32]> = entries.iter().map(|e| leaf_hash(e).0).collect();
        let rs = rs_merkle::MerkleTree::<Rfc6962Nodes>::from_leaves(&leaves);
        assert_eq!(
            rs.root().map(Hash),
            Some(ct_root),
            "rs_merkle root at {size}"
        );

        for _ in 0..20 {
            let i = rng.below(size);
            let proof = prove_inclusion(i, size, &stored).unwrap();
            assert_eq!(
                proof,
                ct_hashes(ct.prove_inclusion(i as usize).as_bytes()),
                "ct inclusion {i}/{size}"
            );
            let rs_proof: Vec<Hash> = rs
                .proof(&[i as usize])
                .proof_hashes()
                .iter()
                .copied()
                .map(Hash)
                .collect();
            assert_eq!(proof, rs_proof, "rs inclusion {i}/{size}");
            if size > 1 {
                let old = 1 + rng.below(size - 1);
                let c = prove_consistency(old, size, &stored).unwrap();
                let want = ct.prove_consistency((size - old) as usize);
                assert_eq!(
                    c,
                    ct_hashes(want.as_bytes()),
                    "ct consistency {old}->{size}"
                );
            }
        }
    }
}
