//! # ank-test-vectors
//!
//! Deterministic test vectors that ank publishes for other implementations,
//! and the tiled-log writer they (and ank's benchmarks) are built with.
//! `cargo run -p ank-test-vectors` writes them into this crate's folder;
//! `cargo test -p ank-test-vectors` regenerates them and fails on any drift.
//! The formats of the files are described in this crate's README.md.
//!
//! Negative vectors name the error they must produce as the Debug form of
//! [`ank_proofs::Error`], e.g. `Address(LocalPart)`.

#![allow(
    clippy::panic,
    reason = "a vector generator never sees outside input and must stop loudly if an invariant breaks"
)]

use ank_proofs::VerifiedCheckpoint;
use ank_proofs::note::{ALG_COSIGNATURE_V1, ALG_ED25519};
use ank_proofs::tile::{encode_entry_bundle, entry_bundles_for_size, tiles_for_size};
use ank_proofs::tree::{prove_consistency, prove_inclusion};
use ank_proofs::{
    Address, Checkpoint, Device, Entry, Error, Hash, KeySet, SignerKey, TlogProof, TreeBuilder,
    leaf_hash,
};
use serde_json::{Value, json};

/// Name (and origin) of the vectors' log.
pub const LOG_NAME: &str = "vectors.ank.example/ank";
/// Name of the vectors' witness.
pub const WITNESS_NAME: &str = "witness.ank.example";
/// Entries in the vectors' tiled log: one full tile, a partial one, and level 1.
pub const LOG_SIZE: u64 = 300;

/// The vectors' log signing key (seed: 32 bytes of 0x11). Public: it is a test key.
pub fn log_key() -> SignerKey {
    SignerKey::from_seed(LOG_NAME, ALG_ED25519, [0x11; 32]).unwrap_or_else(|_| unreachable!())
}

/// The vectors' witness key (seed: 32 bytes of 0x22).
pub fn witness_key() -> SignerKey {
    SignerKey::from_seed(WITNESS_NAME, ALG_COSIGNATURE_V1, [0x22; 32])
        .unwrap_or_else(|_| unreachable!())
}

/// All files of a tiled log holding `entries`, signed by `log` at their
/// full size: `checkpoint`, every hash tile and every entry bundle, as
/// (path, bytes), in that order.
///
/// # Errors
/// [`Error::EntryTooLong`] for an entry over 65535 bytes; signing errors.
pub fn tiled_log<E: AsRef<[u8]>>(
    entries: &[E],
    log: &SignerKey,
) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let size = entries.len() as u64;
    let mut b = TreeBuilder::new();
    // Every stored hash, in stored-index order, for the tiles.
    let mut stored: Vec<Hash> = Vec::with_capacity(entries.len() * 2);
    for e in entries {
        stored.extend(b.push_stored(leaf_hash(e.as_ref())));
    }
    let cp = Checkpoint {
        origin: log.name().to_owned(),
        size,
        root: b.root(),
        extensions: vec![],
    };
    let mut files = vec![(
        "checkpoint".to_owned(),
        cp.sign(log)?.to_text().into_bytes(),
    )];
    for t in tiles_for_size(size) {
        let ank_proofs::tile::TileKind::Hashes { level } = t.kind else {
            continue;
        };
        files.push((
            t.path(),
            ank_proofs::tile::hash_tile_data(level, t.index, t.width, &stored)?,
        ));
    }
    for t in entry_bundles_for_size(size) {
        let start = (t.index * 256) as usize;
        files.push((
            t.path(),
            encode_entry_bundle(&entries[start..start + usize::from(t.width)])?,
        ));
    }
    Ok(files)
}

fn err_name<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    match r {
        Ok(v) => panic!("negative vector unexpectedly accepted: {v:?}"),
        Err(e) => format!("{e:?}"),
    }
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

fn addresses() -> Value {
    let good = [
        "alice@example.org",
        "Alice@Example.ORG",
        "alice!example.org",
        "bob.smith+mail@sub.example.co.uk",
        "carol@bücher.example",
        "dave_1-x@xn--bcher-kva.example",
    ];
    let bad = [
        "alice",
        "alice@example.org!x",
        "@example.org",
        ".alice@example.org",
        "al..ice@example.org",
        "alice@",
        "alice@example.org.",
        "alice@-example.org",
        "al ice@example.org",
    ];
    json!({
        "label_rule": "label = SHA-256(\"ank/label/v1\" || 0x00 || canonical address)",
        "valid": good.iter().map(|a| {
            let p = Address::parse(a).unwrap_or_else(|e| panic!("{a}: {e}"));
            json!({"input": a, "canonical": p.to_string(), "label_hex": p.label().to_hex()})
        }).collect::<Vec<_>>(),
        "invalid": bad.iter().map(|a| json!({"input": a, "error": err_name(Address::parse(a))})).collect::<Vec<_>>(),
    })
}

fn device(name: &str, seed: u8) -> Device {
    let sk = ed25519_seed_public(seed);
    Device {
        name: name.to_owned(),
        signing_key: sk,
        encryption_key: [seed ^ 0x55; 32],
    }
}

fn ed25519_seed_public(seed: u8) -> [u8; 32] {
    let k = SignerKey::from_seed("k", ALG_ED25519, [seed; 32]).unwrap_or_else(|_| unreachable!());
    k.verifier().public_key().to_bytes()
}

fn key_sets() -> (Value, Vec<KeySet>) {
    let sets = vec![
        KeySet::empty(),
        KeySet::new(vec![device("laptop", 1)]).unwrap_or_default(),
        KeySet::new(vec![device("phone", 2), device("laptop", 1)]).unwrap_or_default(),
    ];
    let one = sets[1].encode();
    let mut trailing = one.clone();
    trailing.push(0);
    let two = sets[2].encode();
    let mut swapped = vec![1u8, 2];
    let dev_len = (two.len() - 2) / 2;
    swapped.extend_from_slice(&two[2 + dev_len..]);
    swapped.extend_from_slice(&two[2..2 + dev_len]);
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("empty input", vec![]),
        ("unknown format", vec![2, 0]),
        ("17 devices", vec![1, 17]),
        ("truncated device", one[..one.len() - 1].to_vec()),
        ("trailing byte", trailing),
        ("devices out of order", swapped),
    ];
    let v = json!({
        "valid": sets.iter().map(|s| json!({
            "devices": s.devices().iter().map(|d| json!({
                "name": d.name,
                "ed25519_hex": hex::encode(d.signing_key),
                "x25519_hex": hex::encode(d.encryption_key),
            })).collect::<Vec<_>>(),
            "encoding_hex": hex::encode(s.encode()),
            "keys_hash_hex": s.hash().to_hex(),
        })).collect::<Vec<_>>(),
        "invalid": bad.iter().map(|(d, b)| json!({
            "desc": d, "encoding_hex": hex::encode(b), "error": err_name(KeySet::decode(b)),
        })).collect::<Vec<_>>(),
    });
    (v, sets)
}

fn entries(sets: &[KeySet]) -> Value {
    use ank_proofs::binding::publish_message;
    use ank_proofs::map::Replay;
    use ank_proofs::{Authorization, LogEntry, MapRootEntry};
    use ed25519_dalek::Signer as _;
    let alice = Address::parse("alice@example.org").unwrap_or_else(|_| unreachable!());
    let label = alice.label();
    // `device(name, seed)`'s Ed25519 key is the one with secret seed `seed`.
    let sign = |seed: u8, version: u64, ks: &KeySet| {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        Authorization::KeyHolder {
            signer: sk.verifying_key().to_bytes(),
            signature: sk
                .sign(&publish_message(&label, version, &ks.hash()))
                .to_bytes(),
        }
    };
    let binding = |version: u64, authorization: Authorization, ks: &KeySet| Entry {
        label,
        version,
        timestamp_ms: 1_767_225_600_000 + version * 1000,
        authorization,
        key_set: ks.clone(),
    };
    let list = vec![
        binding(1, Authorization::Enrollment, &sets[1]),
        binding(2, sign(1, 2, &sets[2]), &sets[2]),
        binding(3, Authorization::Operator, &sets[0]),
    ];
    let mut replay = Replay::new();
    for e in &list {
        replay
            .push(&e.encode())
            .unwrap_or_else(|e| panic!("vector replay: {e}"));
    }
    let map_root = MapRootEntry {
        root: replay.root(),
        timestamp_ms: 1_767_225_604_000,
    };
    let mut log: Vec<Vec<u8>> = list.iter().map(Entry::encode).collect();
    log.push(map_root.encode().to_vec());

    let first = list[0].encode();
    let holder = list[1].encode();
    let with = |b: &[u8], at: usize, v: &[u8]| {
        let mut b = b.to_vec();
        b[at..at + v.len()].copy_from_slice(v);
        b
    };
    let mut trailing = first.clone();
    trailing.push(0);
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("empty input", vec![]),
        ("the retired type 0x01", with(&first, 0, &[1])),
        ("authority byte 0x03", with(&first, 49, &[3])),
        ("version 0", with(&first, 33, &[0; 8])),
        (
            "enrollment at version 2",
            with(&first, 33, &2u64.to_be_bytes()),
        ),
        (
            "a key holder's binding at version 1",
            with(&holder, 33, &1u64.to_be_bytes()),
        ),
        (
            "a key holder's binding without its signature",
            holder[..holder.len() - 64].to_vec(),
        ),
        ("a byte after the key set", trailing),
        (
            "a map-root entry of 40 bytes",
            map_root.encode()[..40].to_vec(),
        ),
    ];
    // Logs that replay to an error at one entry.
    let by_phone = binding(2, sign(2, 2, &sets[2]), &sets[2]).encode();
    let other_version = {
        let mut e = binding(2, sign(1, 3, &sets[2]), &sets[2]);
        e.version = 2;
        e.encode()
    };
    let wrong_root = MapRootEntry {
        root: ank_proofs::map::empty_root(),
        timestamp_ms: map_root.timestamp_ms,
    }
    .encode()
    .to_vec();
    let bad_logs: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "version 2 signed by a key that version 1 does not hold",
            vec![log[0].clone(), by_phone],
        ),
        (
            "version 2 signed over the publish message of version 3",
            vec![log[0].clone(), other_version],
        ),
        (
            "a map-root entry with the empty map's root after three bindings",
            vec![log[0].clone(), log[1].clone(), log[2].clone(), wrong_root],
        ),
        (
            "version 3 without version 2",
            vec![log[0].clone(), log[2].clone()],
        ),
    ];
    let replayed = |entries: &[Vec<u8>]| {
        let mut r = Replay::new();
        for e in entries {
            if let Err(err) = r.push(e) {
                return format!("{err:?}");
            }
        }
        "ok".to_owned()
    };
    json!({
        "valid": log.iter().map(|b| {
            let mut v = match LogEntry::decode(b) {
                Ok(LogEntry::Binding(e)) => json!({
                    "type": "binding",
                    "label_hex": e.label.to_hex(),
                    "version": e.version,
                    "timestamp_ms": e.timestamp_ms,
                    "authority": e.authority().to_string(),
                    "key_set_hex": hex::encode(e.key_set.encode()),
                    "keys_hash_hex": e.keys_hash().to_hex(),
                    "revocation": e.is_revocation(),
                }),
                Ok(LogEntry::MapRoot(m)) => json!({
                    "type": "map root",
                    "map_root_hex": m.root.to_hex(),
                    "timestamp_ms": m.timestamp_ms,
                }),
                Err(e) => panic!("vector entry: {e}"),
            };
            v["encoding_hex"] = json!(hex::encode(b));
            v["leaf_hash_b64"] = json!(leaf_hash(b).to_base64());
            v
        }).collect::<Vec<_>>(),
        "invalid": bad.iter().map(|(d, b)| json!({
            "desc": d, "encoding_hex": hex::encode(b), "error": err_name(LogEntry::decode(b)),
        })).collect::<Vec<_>>(),
        "replay_invalid": bad_logs.iter().map(|(d, entries)| json!({
            "desc": d,
            "entries_hex": entries.iter().map(hex::encode).collect::<Vec<_>>(),
            "error": replayed(entries),
        })).collect::<Vec<_>>(),
    })
}

/// The entries of the vectors' tiled log.
pub fn log_entries() -> Vec<Vec<u8>> {
    (0..LOG_SIZE)
        .map(|i| format!("ank test vector entry {i}").into_bytes())
        .collect()
}

/// Every vector file: (path relative to this crate, contents).
pub fn generate() -> Vec<(String, Vec<u8>)> {
    let log = log_key();
    let witness = witness_key();
    let mut files = Vec::new();
    files.push((
        "addresses.json".to_owned(),
        pretty(&addresses()).into_bytes(),
    ));
    let (ks, sets) = key_sets();
    files.push(("key-sets.json".to_owned(), pretty(&ks).into_bytes()));
    let ev = entries(&sets);
    files.push(("entries.json".to_owned(), pretty(&ev).into_bytes()));

    let log_entries = log_entries();
    for (p, b) in tiled_log(&log_entries, &log).unwrap_or_default() {
        files.push((format!("tiled-log/{p}"), b));
    }
    let mut tree = TreeBuilder::new();
    let mut stored = Vec::new();
    let mut roots = vec![tree.root()];
    for e in &log_entries {
        stored.extend(tree.push_stored(leaf_hash(e)));
        roots.push(tree.root());
    }

    // Checkpoints at a few sizes, each also cosigned.
    let mut cps = Vec::new();
    for size in [1u64, 7, 256, 300] {
        let cp = Checkpoint {
            origin: LOG_NAME.into(),
            size,
            root: roots[size as usize],
            extensions: vec![],
        };
        let note = cp.sign(&log).unwrap_or_else(|_| unreachable!());
        let mut cosigned = note.clone();
        cosigned.add_signature(witness.sign(note.text(), 1_767_225_600 + size));
        cps.push(json!({"size": size, "signed": note.to_text(), "cosigned": cosigned.to_text(), "cosignature_time": 1_767_225_600 + size}));
    }
    let good = cps[1]["cosigned"].as_str().unwrap_or_default().to_owned();
    let tampered = good.replacen("\n7\n", "\n8\n", 1);
    let wrong_origin = {
        let other = SignerKey::from_seed("other.example/ank", ALG_ED25519, [0x11; 32])
            .unwrap_or_else(|_| unreachable!());
        let cp = Checkpoint {
            origin: LOG_NAME.into(),
            size: 1,
            root: roots[1],
            extensions: vec![],
        };
        let mut n = ank_proofs::Note::new(&cp.to_text()).unwrap_or_else(|_| unreachable!());
        n.add_signature(other.sign(&cp.to_text(), 0));
        n.to_text()
    };
    let lv = log.verifier();
    let wv = witness.verifier();
    let check = |text: &str| {
        err_name(ank_proofs::verify_checkpoint(
            text.as_bytes(),
            &lv,
            std::slice::from_ref(&wv),
        ))
    };
    let checkpoints = json!({
        "log_vkey": lv.to_text(),
        "log_skey": log.to_text(),
        "witness_vkey": wv.to_text(),
        "witness_skey": witness.to_text(),
        "valid": cps,
        "invalid": [
            {"desc": "size changed after signing", "note": tampered, "error": check(&tampered)},
            {"desc": "signed by another key", "note": wrong_origin, "error": check(&wrong_origin)},
            {"desc": "no signature block", "note": "x\n", "error": check("x\n")},
        ],
    });
    files.push((
        "checkpoints.json".to_owned(),
        pretty(&checkpoints).into_bytes(),
    ));

    // Proofs in the tiled log.
    let mut incl = Vec::new();
    for (i, n) in [
        (0u64, 1u64),
        (5, 7),
        (255, 256),
        (256, 300),
        (299, 300),
        (17, 300),
    ] {
        let p = prove_inclusion(i, n, &stored).unwrap_or_default();
        incl.push(json!({"index": i, "size": n, "leaf_hash": leaf_hash(&log_entries[i as usize]).to_base64(), "root": roots[n as usize].to_base64(), "proof": p.iter().map(Hash::to_base64).collect::<Vec<_>>()}));
    }
    let mut cons = Vec::new();
    for (a, b) in [
        (1u64, 7u64),
        (7, 7),
        (7, 256),
        (256, 300),
        (255, 300),
        (100, 299),
    ] {
        let p = prove_consistency(a, b, &stored).unwrap_or_default();
        cons.push(json!({"size1": a, "size2": b, "root1": roots[a as usize].to_base64(), "root2": roots[b as usize].to_base64(), "proof": p.iter().map(Hash::to_base64).collect::<Vec<_>>()}));
    }
    let p = prove_inclusion(5, 7, &stored).unwrap_or_default();
    let leaf5 = leaf_hash(&log_entries[5]);
    let bad_incl = json!([
        {"desc": "index beyond size", "index": 7, "size": 7, "leaf_hash": leaf5.to_base64(), "root": roots[7].to_base64(), "proof": p.iter().map(Hash::to_base64).collect::<Vec<_>>(),
         "error": err_name(ank_proofs::verify_inclusion(&leaf5, 7, 7, &p, &roots[7]))},
        {"desc": "one hash missing", "index": 5, "size": 7, "leaf_hash": leaf5.to_base64(), "root": roots[7].to_base64(), "proof": p[1..].iter().map(Hash::to_base64).collect::<Vec<_>>(),
         "error": err_name(ank_proofs::verify_inclusion(&leaf5, 5, 7, &p[1..], &roots[7]))},
        {"desc": "wrong leaf", "index": 5, "size": 7, "leaf_hash": roots[1].to_base64(), "root": roots[7].to_base64(), "proof": p.iter().map(Hash::to_base64).collect::<Vec<_>>(),
         "error": err_name(ank_proofs::verify_inclusion(&roots[1], 5, 7, &p, &roots[7]))},
    ]);
    let c = prove_consistency(7, 256, &stored).unwrap_or_default();
    let bad_cons = json!([
        {"desc": "from the empty tree", "size1": 0, "size2": 7, "root1": roots[0].to_base64(), "root2": roots[7].to_base64(), "proof": [],
         "error": err_name(ank_proofs::verify_consistency(0, 7, &[], &roots[0], &roots[7]))},
        {"desc": "sizes reversed", "size1": 256, "size2": 7, "root1": roots[256].to_base64(), "root2": roots[7].to_base64(), "proof": c.iter().map(Hash::to_base64).collect::<Vec<_>>(),
         "error": err_name(ank_proofs::verify_consistency(256, 7, &c, &roots[256], &roots[7]))},
        {"desc": "wrong old root", "size1": 7, "size2": 256, "root1": roots[6].to_base64(), "root2": roots[256].to_base64(), "proof": c.iter().map(Hash::to_base64).collect::<Vec<_>>(),
         "error": err_name(ank_proofs::verify_consistency(7, 256, &c, &roots[6], &roots[256]))},
    ]);
    let proofs = json!({"inclusion": incl, "consistency": cons, "inclusion_invalid": bad_incl, "consistency_invalid": bad_cons});
    files.push(("proofs.json".to_owned(), pretty(&proofs).into_bytes()));

    // tlog-proof bundles against the cosigned checkpoint of size 300.
    let cosigned300 = cps[3]["cosigned"].as_str().unwrap_or_default().to_owned();
    for (i, extra) in [(0u64, None), (299, Some(b"extra data".to_vec()))] {
        let bundle = TlogProof {
            extra,
            index: i,
            proof: prove_inclusion(i, LOG_SIZE, &stored).unwrap_or_default(),
            checkpoint: cosigned300.clone(),
        };
        files.push((
            format!("tlog-proofs/entry-{i}.tlog-proof"),
            bundle.to_text().into_bytes(),
        ));
    }
    files.push((
        "tlog-proofs/leaf-hashes.json".to_owned(),
        pretty(&json!({
            "entry-0.tlog-proof": leaf_hash(&log_entries[0]).to_base64(),
            "entry-299.tlog-proof": leaf_hash(&log_entries[299]).to_base64(),
        }))
        .into_bytes(),
    ));
    files.push((
        "map-proofs.json".to_owned(),
        pretty(&map_vectors()).into_bytes(),
    ));
    let evidence = evidence_vectors(&log, &log_entries);
    // One positive vector of each kind also as a file, for `ank verify evidence`.
    for (i, name) in [(0, "same-size"), (1, "inconsistent-128"), (3, "map-root")] {
        files.push((
            format!("evidence/{name}.evidence"),
            evidence["positive"][i]["text"]
                .as_str()
                .unwrap_or_default()
                .as_bytes()
                .to_vec(),
        ));
    }
    files.push(("evidence.json".to_owned(), pretty(&evidence).into_bytes()));
    files
}

/// A signed checkpoint of the first `n` of `entries`, and that tree's stored hashes.
fn history(log: &SignerKey, entries: &[Vec<u8>], n: usize) -> (VerifiedCheckpoint, Vec<Hash>) {
    let mut b = TreeBuilder::new();
    let mut stored = Vec::new();
    for e in &entries[..n] {
        stored.extend(b.push_stored(leaf_hash(e)));
    }
    let note = Checkpoint {
        origin: log.name().to_owned(),
        size: n as u64,
        root: b.root(),
        extensions: vec![],
    }
    .sign(log)
    .unwrap_or_else(|_| unreachable!())
    .to_text();
    let cp = ank_proofs::verify_checkpoint(note.as_bytes(), &log.verifier(), &[])
        .unwrap_or_else(|_| unreachable!());
    (cp, stored)
}

/// Evidence of a fork: the vectors' log, and a second history under the
/// same key that agrees on the first 100 entries and then differs.
fn evidence_vectors(log: &SignerKey, entries: &[Vec<u8>]) -> Value {
    use ank_proofs::evidence::Evidence;
    let mut forked = entries[..100].to_vec();
    forked.extend((100..300).map(|i| format!("forked entry {i}").into_bytes()));
    let (a300, _) = history(log, entries, 300);
    let (b300, b_tree) = history(log, &forked, 300);
    let mut positive = vec![json!({
        "desc": "two roots for size 300",
        "kind": "same-size",
        "text": Evidence::same_size(&a300, &b300).to_text(),
    })];
    for n in [128usize, 200] {
        let (a, _) = history(log, entries, n);
        let e = Evidence::from_larger_tree(&a, &b300, b_tree.as_slice())
            .unwrap_or_else(|_| unreachable!());
        positive.push(json!({
            "desc": format!("size {n} of one history, size 300 of the other"),
            "kind": "inconsistent",
            "text": e.to_text(),
        }));
    }
    let (a100, _) = history(log, entries, 100);
    // Both histories share the first 100 entries: the honest proof shows no fork.
    let honest = ank_proofs::prove_consistency(100, 300, b_tree.as_slice())
        .unwrap_or_else(|_| unreachable!());
    let extends = Evidence::inconsistent(&a100, &b300, honest[0], honest[1..].to_vec());
    let same = Evidence::same_size(&a300, &a300);
    let mut flipped = Evidence::parse(positive[2]["text"].as_str().unwrap_or_default())
        .unwrap_or_else(|_| unreachable!());
    flipped.path[0].0[0] ^= 1;
    let (map_positive, map_negative) = map_root_evidence_vectors(log);
    positive.extend(map_positive);
    let negatives = [
        ("one checkpoint twice", same.to_text()),
        (
            "a larger tree that extends the smaller one",
            extends.to_text(),
        ),
        ("a proof hash changed", flipped.to_text()),
        (
            "not canonical: a trailing line",
            format!(
                "{}hash {}\n",
                extends.to_text(),
                Hash::default().to_base64()
            ),
        ),
        (
            "another header",
            Evidence::same_size(&a300, &b300)
                .to_text()
                .replacen("v1", "v2", 1),
        ),
    ];
    let negative: Vec<Value> = negatives
        .iter()
        .chain(map_negative.iter())
        .map(|(d, t)| {
            json!({"desc": d, "text": t, "error": err_name(
                Evidence::parse(t).and_then(|e| e.verify(&log.verifier()))
            )})
        })
        .collect();
    json!({
        "log_vkey": log.verifier().to_text(),
        "positive": positive,
        "negative": negative,
    })
}

/// An ank log under `log`: the genesis map root, then for each batch its
/// bindings (`(who, version)`: the label of `user<who>@example.org`,
/// operator-authorised, empty key set) and a map-root entry, the last one
/// `forged` when given. The entries, the stored hashes and the checkpoint.
/// (For vectors and for tests that need a small ank log.)
pub fn ank_log(
    log: &SignerKey,
    batches: &[&[(u8, u64)]],
    forged: Option<Hash>,
) -> (Vec<Vec<u8>>, Vec<Hash>, VerifiedCheckpoint) {
    use ank_proofs::map::{Map, MapValue};
    use ank_proofs::{Authorization, MapRootEntry};
    let label = |who: u8| {
        Address::parse(&format!("user{who}@example.org"))
            .unwrap_or_else(|_| unreachable!())
            .label()
    };
    let mut entries = vec![
        MapRootEntry {
            root: ank_proofs::map::empty_root(),
            timestamp_ms: 1_767_225_600_000,
        }
        .encode()
        .to_vec(),
    ];
    let mut map = Map::new();
    for (n, batch) in batches.iter().enumerate() {
        let time = 1_767_225_601_000 + n as u64 * 1000;
        for &(who, version) in *batch {
            let e = Entry {
                label: label(who),
                version,
                timestamp_ms: time,
                authorization: Authorization::Operator,
                key_set: KeySet::empty(),
            }
            .encode();
            map.insert(
                label(who),
                MapValue {
                    version,
                    index: entries.len() as u64,
                    entry_hash: leaf_hash(&e),
                },
            );
            entries.push(e);
        }
        let root = match forged {
            Some(f) if n == batches.len() - 1 => f,
            _ => map.root(),
        };
        entries.push(
            MapRootEntry {
                root,
                timestamp_ms: time,
            }
            .encode()
            .to_vec(),
        );
    }
    let n = entries.len();
    let (cp, stored) = history(log, &entries, n);
    (entries, stored, cp)
}

/// For each binding entry of `entries[range]`, in order: its label's map
/// proof in `map`, after which the binding is applied to `map` (what
/// map-root evidence carries, when `map` starts as the map before them).
pub fn map_proofs_in_order(
    entries: &[Vec<u8>],
    map: &mut ank_proofs::map::Map,
    range: std::ops::Range<usize>,
) -> Vec<ank_proofs::map::MapProof> {
    let mut out = Vec::new();
    for i in range {
        let Ok(e) = Entry::decode(&entries[i]) else {
            continue;
        };
        out.push(map.prove(&e.label));
        map.insert(
            e.label,
            ank_proofs::map::MapValue {
                version: e.version,
                index: i as u64,
                entry_hash: leaf_hash(&entries[i]),
            },
        );
    }
    out
}

/// Map-root evidence: a map root that leaves out its batch's last binding
/// (found by a replay), and a binding whose version the map before it does
/// not allow (built by hand); then what is not such evidence.
fn map_root_evidence_vectors(log: &SignerKey) -> (Vec<Value>, Vec<(&'static str, String)>) {
    use ank_proofs::evidence::Evidence;
    use ank_proofs::map::{Map, Replay};
    let batches: [&[(u8, u64)]; 2] = [&[(1, 1), (2, 1)], &[(3, 1), (1, 2), (4, 1)]];
    let (honest, honest_stored, honest_cp) = ank_log(log, &batches, None);
    let lie = {
        let mut r = Replay::new();
        for e in &honest[..honest.len() - 2] {
            let _ = r.push(e);
        }
        r.root()
    };
    let (entries, stored, cp) = ank_log(log, &batches, Some(lie));
    let mut r = Replay::new();
    for e in &entries {
        if r.push(e).is_err() {
            break;
        }
    }
    let forged = r
        .map_root_evidence(&cp, stored.as_slice())
        .unwrap_or_else(|e| panic!("map-root vector: {e}"));
    let incl = |stored: &[Hash], cp: &VerifiedCheckpoint, r: std::ops::Range<u64>| {
        ank_proofs::tree::prove_inclusion_many(&r.collect::<Vec<_>>(), cp.size(), stored)
            .unwrap_or_else(|_| unreachable!())
    };
    let gap_batches: [&[(u8, u64)]; 2] = [&[(1, 1)], &[(1, 3)]];
    let (gap, gap_stored, gap_cp) = ank_log(log, &gap_batches, None);
    let mut m = Map::new();
    let _ = map_proofs_in_order(&gap, &mut m, 1..2);
    let gap_proofs = map_proofs_in_order(&gap, &mut m, 3..4);
    let version_gap = Evidence::map_root(
        &gap_cp,
        2,
        gap[2..5].to_vec(),
        incl(&gap_stored, &gap_cp, 2..5),
        gap_proofs,
    );
    let positive = vec![
        json!({
            "desc": "a map-root entry that leaves out its batch's last binding",
            "kind": "map-root",
            "text": forged.to_text(),
        }),
        json!({
            "desc": "a binding at version 3 where the map before it holds version 1",
            "kind": "map-root",
            "text": version_gap.to_text(),
        }),
    ];
    let mut m = Map::new();
    let _ = map_proofs_in_order(&honest, &mut m, 1..3);
    let honest_proofs = map_proofs_in_order(&honest, &mut m, 4..7);
    let honest_evidence = Evidence::map_root(
        &honest_cp,
        3,
        honest[3..8].to_vec(),
        incl(&honest_stored, &honest_cp, 3..8),
        honest_proofs,
    );
    let mut bad_proof = forged.clone();
    if let Some(p) = bad_proof
        .map
        .as_mut()
        .and_then(|m| m.map_proofs.first_mut())
        && let Some((_, h)) = p.path.first_mut()
    {
        h.0[0] ^= 1;
    }
    let negative = vec![
        ("the map root of an honest batch", honest_evidence.to_text()),
        ("a map proof changed", bad_proof.to_text()),
    ];
    (positive, negative)
}

fn map_json(p: &ank_proofs::map::MapProof) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, p.encode())
}

/// Map proofs: members, absent labels (ending at a leaf and at a node), the
/// empty map, the same labels after updates, and proofs that must fail.
fn map_vectors() -> Value {
    use ank_proofs::map::{Map, MapLookup, MapValue, verify_map_proof};
    let value = |i: u64, version: u64| MapValue {
        version,
        index: i,
        entry_hash: leaf_hash(format!("entry {i} v{version}").as_bytes()),
    };
    let labels: Vec<(String, Hash)> = (0..64)
        .map(|i| {
            let a =
                Address::parse(&format!("user{i}@example.org")).unwrap_or_else(|_| unreachable!());
            (a.to_string(), a.label())
        })
        .collect();
    let mut map = Map::new();
    let empty = map.prove(&labels[0].1);
    let empty_root = map.root();
    for (i, (_, l)) in labels.iter().enumerate() {
        map.insert(*l, value(i as u64, 1));
    }
    let root1 = map.root();
    let lookups = |map: &mut Map, root: &Hash, which: &[usize], extra: &[&str]| -> Vec<Value> {
        let mut out: Vec<Value> = which
            .iter()
            .map(|&i| (labels[i].0.clone(), labels[i].1))
            .chain(extra.iter().map(|a| {
                let addr = Address::parse(a).unwrap_or_else(|_| unreachable!());
                (addr.to_string(), addr.label())
            }))
            .map(|(address, label)| {
                let p = map.prove(&label);
                let result = match verify_map_proof(&label, &p, root) {
                    Ok(MapLookup::Present(v)) => json!({"present": {"version": v.version, "index": v.index, "entry_hash": v.entry_hash.to_base64()}}),
                    Ok(MapLookup::Absent) => json!("absent"),
                    Err(e) => panic!("vector proof does not verify: {e:?}"),
                };
                json!({"address": address, "label": label.to_base64(), "proof": map_json(&p), "result": result})
            })
            .collect();
        out.sort_by_key(|v| v["address"].as_str().unwrap_or_default().to_owned());
        out
    };
    let before = lookups(
        &mut map,
        &root1,
        &[0, 1, 17, 63],
        &["nobody@example.org", "user64@example.org", "zz@example.org"],
    );
    // Updates: new versions for some labels, and new labels.
    let member = map.prove(&labels[5].1);
    for i in [1usize, 5, 17] {
        map.insert(labels[i].1, value(i as u64 + 100, 2));
    }
    let newcomer = Address::parse("newcomer@example.org").unwrap_or_else(|_| unreachable!());
    map.insert(newcomer.label(), value(200, 1));
    let root2 = map.root();
    let after = lookups(
        &mut map,
        &root2,
        &[0, 1, 5, 17],
        &["newcomer@example.org", "nobody@example.org"],
    );

    // Negative vectors: each names its error.
    let l5 = labels[5].1;
    let mut flipped = map.prove(&l5);
    if let Some((_, h)) = flipped.path.first_mut() {
        h.0[0] ^= 1;
    }
    let absent_label = Address::parse("nobody@example.org")
        .unwrap_or_else(|_| unreachable!())
        .label();
    let mut bad_bytes = map.prove(&l5).encode();
    bad_bytes.push(0);
    let invalid = vec![
        (
            "stale: the proof of version 1 against the root after the update",
            l5,
            map_json(&member),
            root2,
            err_name(verify_map_proof(&l5, &member, &root2)),
        ),
        (
            "a sibling hash with one bit flipped",
            l5,
            map_json(&flipped),
            root2,
            err_name(verify_map_proof(&l5, &flipped, &root2)),
        ),
        (
            "a member's proof used for an absent label it does not lead to",
            absent_label,
            map_json(&map.prove(&l5)),
            root2,
            err_name(verify_map_proof(&absent_label, &map.prove(&l5), &root2)),
        ),
        (
            "an absence proof used for a present label",
            l5,
            map_json(&map.prove(&absent_label)),
            root2,
            err_name(verify_map_proof(&l5, &map.prove(&absent_label), &root2)),
        ),
        (
            "a trailing byte after the proof",
            l5,
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bad_bytes),
            root2,
            err_name(ank_proofs::map::MapProof::decode(&bad_bytes)),
        ),
    ];
    // Two labels sharing a 255-bit prefix; a third leaves it at bit 0: its
    // absence proof ends at the node.
    let mut tiny = Map::new();
    let a = Hash([0u8; 32]);
    let mut b = [0u8; 32];
    b[31] = 1;
    tiny.insert(a, value(0, 1));
    tiny.insert(Hash(b), value(1, 1));
    let mut c = [0u8; 32];
    c[0] = 0x80;
    let node_proof = tiny.prove(&Hash(c));
    let tiny_root = tiny.root();
    assert_eq!(
        verify_map_proof(&Hash(c), &node_proof, &tiny_root),
        Ok(MapLookup::Absent)
    );
    json!({
        "node_terminal": {
            "labels": [a.to_base64(), Hash(b).to_base64()],
            "root": tiny_root.to_base64(),
            "absent_label": Hash(c).to_base64(),
            "proof": map_json(&node_proof),
        },
        "spec": "proofs/src/map.rs: leaf = SHA-256(0x10 || label || version u64 BE || index u64 BE || entry_hash); node = SHA-256(0x11 || depth || prefix(32) || left || right); empty = SHA-256(0x12)",
        "labels": "label = SHA-256(\"ank/label/v1\" || 0x00 || canonical address)",
        "values": "user<i>@example.org holds version 1, index i, entry_hash = leaf_hash(\"entry <i> v1\"); after the updates users 1, 5, 17 hold version 2, index i+100, and newcomer@example.org version 1, index 200",
        "empty_map": {"root": empty_root.to_base64(), "proof_for_user0": map_json(&empty)},
        "root_before_updates": root1.to_base64(),
        "lookups_before_updates": before,
        "root_after_updates": root2.to_base64(),
        "lookups_after_updates": after,
        "invalid": invalid.into_iter().map(|(desc, label, proof, root, error)| json!({
            "desc": desc, "label": label.to_base64(), "proof": proof, "root": root.to_base64(), "error": error,
        })).collect::<Vec<_>>(),
    })
}
