//! Benchmarks of the verifier's hot paths (issue targets in docs/benchmarks.md).
//!
//! `cargo bench -p ank-proofs --bench proofs`

#![allow(clippy::unwrap_used, reason = "benchmark setup on fixed inputs")]

use ank_proofs::note::ALG_ED25519;
use ank_proofs::tree::{inclusion_proof_len, root_from_inclusion_proof};
use ank_proofs::{
    Checkpoint, Hash, SignerKey, Tile, TreeBuilder, leaf_hash, verify_checkpoint, verify_inclusion,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn inclusion_2_30(c: &mut Criterion) {
    let size = 1u64 << 30;
    let index = 123_456_789u64;
    let proof: Vec<Hash> = (0..inclusion_proof_len(index, size) as u64)
        .map(|i| leaf_hash(&i.to_be_bytes()))
        .collect();
    let leaf = leaf_hash(b"leaf");
    let root = root_from_inclusion_proof(&leaf, index, size, &proof).unwrap();
    c.bench_function("verify_inclusion/size=2^30", |b| {
        b.iter(|| {
            verify_inclusion(black_box(&leaf), index, size, black_box(&proof), &root).unwrap()
        })
    });
}

fn checkpoint(c: &mut Criterion) {
    let log = SignerKey::from_seed("example.org/ank", ALG_ED25519, [1; 32]).unwrap();
    let cp = Checkpoint {
        origin: "example.org/ank".into(),
        size: 123_456_789,
        root: leaf_hash(b"root"),
        extensions: vec![],
    };
    let note = cp.sign(&log).unwrap().to_text();
    let vkey = log.verifier();
    c.bench_function("verify_checkpoint/ed25519", |b| {
        b.iter(|| verify_checkpoint(black_box(note.as_bytes()), &vkey, &[]).unwrap())
    });
}

fn tree_hashing(c: &mut Criterion) {
    let n = 1u64 << 20;
    let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let mut g = c.benchmark_group("tree_hash_from_leaf_hashes");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("leaves=2^20", |b| {
        b.iter(|| {
            let mut t = TreeBuilder::new();
            for l in &leaves {
                t.push(*l);
            }
            black_box(t.root())
        })
    });
    g.finish();
}

/// Whole lookup answers as a log of 1,000,000 bindings serves them: a tree
/// of 1,000,245 entries (the bindings, the genesis map root and one map
/// root per batch of 4,096), the binding at index 12,345 with one device,
/// the map of `map` plus the looked-up address. Prints the answers' JSON
/// sizes; measures `verify_lookup` whole (checkpoint signature, map-root
/// entry, map proof, entry and key set, one inclusion proof of both).
fn lookup_answers(c: &mut Criterion, map: &mut ank_proofs::map::Map) {
    use ank_proofs::api::{BindingJson, LookupResponse, verify_lookup};
    use ank_proofs::map::MapValue;
    use ank_proofs::{Address, Authorization, Device, Entry, KeySet, MapRootEntry};
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let size = 1_000_245u64;
    let index = 12_345u64;
    let address = Address::parse("u12345@bench.example").unwrap();
    let device = |seed: u8| Device {
        name: "laptop".into(),
        signing_key: SignerKey::from_seed("k", ALG_ED25519, [seed; 32])
            .unwrap()
            .verifier()
            .public_key()
            .to_bytes(),
        encryption_key: [seed; 32],
    };
    let entry = Entry {
        label: address.label(),
        version: 1,
        timestamp_ms: 1_767_225_600_000,
        authorization: Authorization::Enrollment,
        key_set: KeySet::new(vec![device(7)]).unwrap(),
    };
    let raw = entry.encode();
    map.insert(
        address.label(),
        MapValue {
            version: 1,
            index,
            entry_hash: leaf_hash(&raw),
        },
    );
    let map_root = MapRootEntry {
        root: map.root(),
        timestamp_ms: 1_767_225_600_000,
    };
    let mut tree = TreeBuilder::new();
    let mut stored = Vec::with_capacity(2 * size as usize);
    for i in 0..size {
        let leaf = match i {
            i if i == index => leaf_hash(&raw),
            i if i == size - 1 => map_root.leaf_hash(),
            i => leaf_hash(&i.to_be_bytes()),
        };
        stored.extend(tree.push_stored(leaf));
    }
    let log = SignerKey::from_seed("bench.example/ank", ALG_ED25519, [1; 32]).unwrap();
    let note = Checkpoint {
        origin: "bench.example/ank".into(),
        size,
        root: tree.root(),
        extensions: vec![],
    }
    .sign(&log)
    .unwrap()
    .to_text();
    let vkey = log.verifier();
    let mut answer = |address: &Address, binding: Option<BindingJson>, leaves: &[u64]| {
        let proof =
            ank_proofs::tree::prove_inclusion_many(leaves, size, stored.as_slice()).unwrap();
        LookupResponse {
            address: address.to_string(),
            found: binding.is_some(),
            checkpoint: note.clone(),
            map_root_entry: b64(&map_root.encode()),
            map_proof: b64(&map.prove(&address.label()).encode()),
            binding,
            inclusion_proof: proof.iter().map(Hash::to_base64).collect(),
        }
    };
    let present = answer(
        &address,
        Some(BindingJson {
            index,
            version: 1,
            entry: b64(&raw),
        }),
        &[index, size - 1],
    );
    let nobody = Address::parse("nobody@bench.example").unwrap();
    let absent = answer(&nobody, None, &[size - 1]);
    println!(
        "lookup answer at {size} entries: {} bytes present ({} inclusion hashes, map proof {} bytes), {} bytes absent",
        serde_json::to_string(&present).unwrap().len(),
        present.inclusion_proof.len(),
        map.prove(&address.label()).encode().len(),
        serde_json::to_string(&absent).unwrap().len(),
    );
    verify_lookup(&present, &address, &vkey).unwrap();
    c.bench_function("lookup_verify/whole answer/present/entries=1000245", |b| {
        b.iter(|| verify_lookup(black_box(&present), &address, &vkey).unwrap())
    });
    c.bench_function("lookup_verify/whole answer/absent/entries=1000245", |b| {
        b.iter(|| verify_lookup(black_box(&absent), &nobody, &vkey).unwrap())
    });
}

fn map_at_1m(c: &mut Criterion) {
    use ank_proofs::map::{Map, MapValue, verify_map_proof};
    let n = 1u64 << 20;
    let mut map = Map::new();
    for i in 0..n {
        let label = ank_proofs::hash::sha256(&i.to_be_bytes());
        map.insert(
            label,
            MapValue {
                version: 1,
                index: i,
                entry_hash: leaf_hash(&i.to_le_bytes()),
            },
        );
    }
    let root = map.root();
    let present = ank_proofs::hash::sha256(&12345u64.to_be_bytes());
    let absent = ank_proofs::hash::sha256(b"nobody");
    let proof = map.prove(&present);
    let absent_proof = map.prove(&absent);
    println!(
        "map proof size at 2^20 labels: {} bytes (member), {} bytes (absent)",
        proof.encode().len(),
        absent_proof.encode().len()
    );
    c.bench_function("map_prove/labels=2^20", |b| {
        b.iter(|| map.prove(black_box(&present)))
    });
    c.bench_function("map_verify/labels=2^20", |b| {
        b.iter(|| verify_map_proof(black_box(&present), &proof, &root).unwrap())
    });
    lookup_answers(c, &mut map);
    let mut g = c.benchmark_group("map_update");
    g.sample_size(10);
    g.throughput(Throughput::Elements(4096));
    g.bench_function("4096 new labels into 2^20, then root", |b| {
        b.iter_batched(
            || map.clone(),
            |mut m| {
                for i in 0..4096u64 {
                    let label = ank_proofs::hash::sha256(&(n + i).to_be_bytes());
                    m.insert(
                        label,
                        MapValue {
                            version: 1,
                            index: n + i,
                            entry_hash: root,
                        },
                    );
                }
                m.root()
            },
            criterion::BatchSize::LargeInput,
        )
    });
    let updates: Vec<(ank_proofs::Hash, MapValue)> = (0..4096u64)
        .map(|i| {
            let label = ank_proofs::hash::sha256(&(n + i).to_be_bytes());
            let value = MapValue {
                version: 1,
                index: n + i,
                entry_hash: root,
            };
            (label, value)
        })
        .collect();
    g.bench_function(
        "4096 new labels into 2^20, prepared (shared reference)",
        |b| b.iter(|| map.prepare(black_box(&updates)).root()),
    );
    g.bench_function("4096 new labels into 2^20, prepared then applied", |b| {
        b.iter_batched(
            || map.clone(),
            |mut m| {
                let p = m.prepare(&updates);
                let r = p.root();
                m.apply(p).unwrap();
                r
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn tile_paths(c: &mut Criterion) {
    c.bench_function("tile_path_parse", |b| {
        b.iter(|| Tile::parse_path(black_box("tile/1/x123/x456/789.p/41")).unwrap())
    });
}

criterion_group!(
    benches,
    inclusion_2_30,
    checkpoint,
    tree_hashing,
    tile_paths,
    map_at_1m
);
criterion_main!(benches);
