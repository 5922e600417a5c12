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

struct TlogTilesReader(Vec<tlog_tiles::Hash>);

impl tlog_tiles::HashReader for TlogTilesReader {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
    }
}

/// Tree hashes, stored-hash layout, proofs and changed-tile sets equal to
/// those of cloudflare/azul's tlog_tiles (a port of Go's sumdb/tlog).
#[test]
fn against_tlog_tiles() {
    use ank_proofs::tile::{TileKind, changed_tiles};
    use ank_proofs::tree::stored_hash_count;
    let mut rng = Rng(7);
    let size = 3000u64;
    let mut ours = TreeBuilder::new();
    let mut stored = Vec::new();
    for i in 0..size {
        stored.extend(ours.push_stored(leaf_hash(&i.to_le_bytes())));
        let n = i + 1;
        assert_eq!(stored.len() as u64, tlog_tiles::stored_hash_count(n));
        assert_eq!(stored_hash_count(n), tlog_tiles::stored_hash_count(n));
    }
    let theirs = TlogTilesReader(stored.iter().map(|h| tlog_tiles::Hash(h.0)).collect());
    for _ in 0..200 {
        let n = 1 + rng.below(size);
        assert_eq!(
            tree_hash(n, &stored).unwrap().0,
            tlog_tiles::tree_hash(n, &theirs).unwrap().0
        );
        let i = rng.below(n);
        let want: Vec<[u8; 32]> = tlog_tiles::prove_record(n, i, &theirs)
            .unwrap()
            .iter()
            .map(|h| h.0)
            .collect();
        let got: Vec<[u8; 32]> = prove_inclusion(i, n, &stored)
            .unwrap()
            .iter()
            .map(|h| h.0)
            .collect();
        assert_eq!(got, want, "record proof {i} in {n}");
        let old = 1 + rng.below(n);
        let want: Vec<[u8; 32]> = tlog_tiles::prove_tree(n, old, &theirs)
            .unwrap()
            .iter()
            .map(|h| h.0)
            .collect();
        let got: Vec<[u8; 32]> = prove_consistency(old, n, &stored)
            .unwrap()
            .iter()
            .map(|h| h.0)
            .collect();
        assert_eq!(got, want, "tree proof {old} -> {n}");
        let idx = rng.below(stored.len() as u64);
        assert_eq!(
            ank_proofs::tree::split_stored_hash_index(idx),
            tlog_tiles::split_stored_hash_index(idx)
        );
    }
    for _ in 0..300 {
        let old = rng.below(1 << 20);
        let new = old + rng.below(1 << 17);
        let want: Vec<(u8, u64, u32)> = tlog_tiles::Tile::new_tiles(8, old, new)
            .iter()
            .map(|t| (t.level(), t.level_index(), t.width()))
            .collect();
        let got: Vec<(u8, u64, u32)> = changed_tiles(old, new)
            .iter()
            .map(|t| {
                let TileKind::Hashes { level } = t.kind else {
                    unreachable!()
                };
                (level, t.index, u32::from(t.width))
            })
            .collect();
        assert_eq!(got, want, "tiles {old} -> {new}");
    }
}

/// Notes signed by ank equal, byte for byte, those signed by cloudflare/azul's
/// signed_note, each verifies the other's, and both accept or reject the same
/// mutated notes.
#[test]
fn against_signed_note() {
    use ank_proofs::note::ALG_ED25519;
    use ank_proofs::{Note, SignerKey};
    use signed_note::{StandardSigner, StandardVerifier, VerifierList};
    let mut rng = Rng(11);
    let mut agreed_rejections = 0;
    for round in 0..60u8 {
        let key = SignerKey::from_seed(&format!("log{round}.example/x"), ALG_ED25519, [round; 32])
            .unwrap();
        let their_signer = StandardSigner::new(&key.to_text()).unwrap();
        let their_verifiers = VerifierList::new(vec![Box::new(
            StandardVerifier::new(&key.verifier().to_text()).unwrap(),
        )]);
        let lines = 1 + rng.below(4);
        let mut text = String::new();
        for _ in 0..lines {
            let len = rng.below(30);
            text.extend((0..len).map(|_| char::from(b' ' + rng.below(95) as u8)));
            text.push('\n');
        }
        let mut ours = Note::new(&text).unwrap();
        ours.add_signature(key.sign(&text, 0));
        let mut theirs = signed_note::Note::new(text.as_bytes(), &[]).unwrap();
        theirs.add_sigs(&[&their_signer]).unwrap();
        assert_eq!(ours.to_text().as_bytes(), theirs.to_bytes().as_slice());
        let bytes = ours.to_text().into_bytes();
        for _ in 0..40 {
            let mut m = bytes.clone();
            let at = rng.below(m.len() as u64) as usize;
            m[at] = match rng.below(3) {
                0 => m[at] ^ (1 << rng.below(8)),
                1 => b'\n',
                _ => b' ',
            };
            let ours_ok = Note::parse(&m)
                .and_then(|n| n.verify(&[key.verifier()]))
                .is_ok();
            let theirs_ok = signed_note::Note::from_bytes(&m)
                .map(|n| n.verify(&their_verifiers))
                .is_ok_and(|r| r.is_ok());
            assert_eq!(
                ours_ok,
                theirs_ok,
                "disagree on {:?}",
                String::from_utf8_lossy(&m)
            );
            agreed_rejections += usize::from(!ours_ok);
        }
    }
    assert!(
        agreed_rejections > 1000,
        "mutations should mostly break notes: {agreed_rejections}"
    );
}
