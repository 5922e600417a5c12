//! Auditing a log (issue 9): what an operator writes into the database
//! behind the log's back and signs with the log key is caught by anyone who
//! replays the log, and lookups never verify against a map root that the
//! tree does not hold.

use std::path::Path;

use ank_log_server::store::{Batch, LogStore, NewBinding, NewEntry, SqliteStore, StoredCheckpoint};
use ank_proofs::map::MapValue;
use ank_proofs::{Authorization, Entry, Hash, KeySet, MapRootEntry, TreeBuilder};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::procs::{Scratch, Server, ank_in, ank_ok as ok};

/// Appends `bindings` and then a map-root entry (the true root of the map
/// after them, or `map_root` when given) to the stopped log in `data`, and
/// signs a checkpoint of it with the log's own key: what an operator with
/// the key and the database can do. Returns the index of the first entry
/// written.
pub fn write_behind_the_log(data: &Path, bindings: &[Entry], map_root: Option<Hash>) -> u64 {
    let key = ank_log_server::DataDir(data.to_owned()).read_key().unwrap();
    let store = SqliteStore::open(&data.join("log.sqlite")).unwrap();
    let cp = store.checkpoint().unwrap().unwrap();
    let roots = store
        .read_hashes(&ank_proofs::tree::subtree_root_indexes(cp.size))
        .unwrap();
    let mut tree = TreeBuilder::from_subtree_roots(cp.size, roots).unwrap();
    let mut map = ank_log_server::rebuild_map(&store).unwrap();
    let (first, mut entries, mut hashes) = (cp.size, Vec::new(), Vec::new());
    for b in bindings {
        let bytes = b.encode();
        let leaf = ank_proofs::leaf_hash(&bytes);
        map.insert(
            b.label,
            MapValue {
                version: b.version,
                index: tree.size(),
                entry_hash: leaf,
            },
        );
        hashes.extend(tree.push_stored(leaf));
        entries.push(NewEntry {
            bytes,
            binding: Some(NewBinding {
                label: b.label,
                version: b.version,
                token: None,
                operator_request: None,
            }),
        });
    }
    let m = MapRootEntry {
        root: map_root.unwrap_or_else(|| map.root()),
        timestamp_ms: ank_common::now_ms(),
    };
    let bytes = m.encode().to_vec();
    hashes.extend(tree.push_stored(ank_proofs::leaf_hash(&bytes)));
    entries.push(NewEntry {
        bytes,
        binding: None,
    });
    let note = ank_proofs::Checkpoint {
        origin: key.name().to_owned(),
        size: tree.size(),
        root: tree.root(),
        extensions: vec![],
    }
    .sign(&key)
    .unwrap()
    .to_text();
    let next = StoredCheckpoint {
        size: tree.size(),
        root: tree.root(),
        note,
    };
    store
        .commit(
            Some((cp.size, cp.root)),
            &Batch {
                first_index: first,
                entries,
                hashes,
            },
            &next,
        )
        .unwrap();
    first
}

/// Mallory's key set for alice, and a key holder's authorisation of it
/// signed by mallory's own key, which alice's key set never held.
pub fn mallory_binding(version: u64) -> Entry {
    use ed25519_dalek::Signer as _;
    let mallory = ed25519_dalek::SigningKey::from_bytes(&[0x4d; 32]);
    let key_set = KeySet::new(vec![ank_proofs::Device {
        name: "mallory".into(),
        signing_key: mallory.verifying_key().to_bytes(),
        encryption_key: [0x4d; 32],
    }])
    .unwrap();
    let label = ank_proofs::Address::parse("alice@example.org")
        .unwrap()
        .label();
    let msg = ank_proofs::binding::publish_message(&label, version, &key_set.hash());
    Entry {
        label,
        version,
        timestamp_ms: ank_common::now_ms(),
        authorization: Authorization::KeyHolder {
            signer: mallory.verifying_key().to_bytes(),
            signature: mallory.sign(&msg).to_bytes(),
        },
        key_set,
    }
}

/// An update that no current key signed, written into the database and
/// covered by a checkpoint the log key signed: clients cannot tell, but
/// `ank verify replay` flags the entry.
#[test]
fn replay_flags_an_update_no_current_key_signed() {
    let dir = Scratch::new("authority");
    let data = dir.join("data");
    let mut server = Server::start(&data, &["--interval", "20ms"]).unwrap();
    let alice = dir.join("alice");
    crate::history::register(&dir, &server, &alice, "alice@example.org");
    ok(&alice, &["rotate", "alice@example.org"]);
    let out = ok(
        &alice,
        &["verify", "replay", &server.url, "--vkey", &server.vkey],
    );
    assert!(out.contains("(2 bindings, 3 map roots)"), "{out}");
    server.kill();

    let forged_at = write_behind_the_log(&data, &[mallory_binding(3)], None);
    let server = Server::start(&data, &["--interval", "20ms"]).unwrap();
    // A lookup proves mallory's key: the log signed it, and the map agrees.
    let v: serde_json::Value = serde_json::from_str(&ok(
        &alice,
        &[
            "lookup",
            "alice@example.org",
            "--json",
            "--server",
            &server.url,
        ],
    ))
    .unwrap();
    assert_eq!(
        (v["version"].as_u64(), v["index"].as_u64()),
        (Some(3), Some(forged_at))
    );
    assert_eq!(v["devices"][0]["name"], "mallory");
    // Anyone replaying the log sees that no current key signed it.
    let (success, out, err) = ank_in(
        &alice,
        &["verify", "replay", &server.url, "--vkey", &server.vkey],
    );
    assert!(!success, "{out}");
    assert!(
        err.contains(&format!(
            "entry {forged_at}: its signer is not a device of the label's previous key set"
        )),
        "{err}"
    );
}

/// A map-root entry that is not the map of the bindings before it, signed
/// with the log key: `ank serve` will not serve it, and anyone replaying
/// the log's tiles gets evidence that verifies offline.
#[test]
fn a_contradicted_map_root_is_caught_with_evidence() {
    let dir = Scratch::new("map-root");
    let data = dir.join("data");
    let mut server = Server::start(&data, &["--interval", "20ms"]).unwrap();
    let alice = dir.join("alice");
    crate::history::register(&dir, &server, &alice, "alice@example.org");
    let vkey = server.vkey.clone();
    server.kill();

    // Bob's operator binding, under a map root that points alice elsewhere.
    let bob = Entry {
        label: ank_proofs::Address::parse("bob@example.org")
            .unwrap()
            .label(),
        version: 1,
        timestamp_ms: ank_common::now_ms(),
        authorization: Authorization::Operator,
        key_set: KeySet::empty(),
    };
    let lie = {
        let store = SqliteStore::open(&data.join("log.sqlite")).unwrap();
        let mut map = ank_log_server::rebuild_map(&store).unwrap();
        let forged = mallory_binding(2);
        map.insert(
            forged.label,
            MapValue {
                version: 2,
                index: 1,
                entry_hash: forged.leaf_hash(),
            },
        );
        map.root()
    };
    let contradicted = write_behind_the_log(&data, std::slice::from_ref(&bob), Some(lie)) + 1;

    // The log's own start-up replay refuses it.
    let out = crate::procs::serve_command(&data)
        .env("ANK_STORAGE_KEY", crate::procs::TEST_STORAGE_KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the tree's last map-root entry says"), "{err}");

    // Its tiles, as a static C2SP log: the replay stops at the lie, keeps
    // evidence, and exits 3.
    let store = SqliteStore::open(&data.join("log.sqlite")).unwrap();
    let size = store.checkpoint().unwrap().unwrap().size;
    let entries = store.entries(0, size).unwrap();
    let key = ank_log_server::DataDir(data.clone()).read_key().unwrap();
    let tiles = dir.join("tiles");
    for (path, bytes) in ank_test_vectors::tiled_log(&entries, &key).unwrap() {
        let p = tiles.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let auditor = dir.join("auditor");
    let out = std::process::Command::new(crate::procs::bin())
        .env("ANK_HOME", &auditor)
        .args(["verify", "replay", tiles.to_str().unwrap(), "--vkey", &vkey])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("entry {contradicted} says the map root is {lie}")),
        "{err}"
    );
    let path = err
        .split("evidence written to ")
        .nth(1)
        .map(str::trim)
        .unwrap();
    let out = ok(&auditor, &["verify", "evidence", "--vkey", &vkey, path]);
    assert!(
        out.starts_with(&format!(
            "ok: log example.org/ank signed a map root that its own entries contradict (map-root): entry {contradicted} "
        )),
        "{out}"
    );
    let mut text = std::fs::read(path).unwrap();
    let at = text.len() - 10;
    text[at] ^= 1;
    let tampered = dir.join("tampered.evidence");
    std::fs::write(&tampered, text).unwrap();
    let (success, _, err) = ank_in(
        &auditor,
        &[
            "verify",
            "evidence",
            "--vkey",
            &vkey,
            tampered.to_str().unwrap(),
        ],
    );
    assert!(!success && err.starts_with("error: "), "{err}");
}

/// No lookup answer verifies against a map root that the tree does not
/// hold: a proxy that serves alice's answer with a forged map (pointing
/// her at mallory's key) and its map-root entry is refused.
#[test]
fn no_answer_verifies_against_a_map_root_outside_the_tree() {
    let dir = Scratch::new("outside-map");
    let data = dir.join("data");
    let server = Server::start(&data, &["--interval", "20ms"]).unwrap();
    let alice = dir.join("alice");
    crate::history::register(&dir, &server, &alice, "alice@example.org");
    let (status, body) =
        crate::procs::http(&server.addr, "GET", "/v1/lookup/alice@example.org", None).unwrap();
    assert_eq!(status, 200);
    let mut answer: ank_proofs::api::LookupResponse = serde_json::from_str(&body).unwrap();
    let forged = mallory_binding(1);
    let forged = Entry {
        authorization: Authorization::Enrollment,
        ..forged
    };
    let mut map = ank_proofs::map::Map::new();
    let value = MapValue {
        version: 1,
        index: 1,
        entry_hash: forged.leaf_hash(),
    };
    map.insert(forged.label, value);
    let root = map.root();
    answer.map_proof = STANDARD.encode(map.prove(&forged.label).encode());
    answer.binding.as_mut().unwrap().entry = STANDARD.encode(forged.encode());
    // The forged map's root, as a map-root entry the tree does not hold...
    let mut outside = answer.clone();
    outside.map_root_entry = STANDARD.encode(
        MapRootEntry {
            root,
            timestamp_ms: 1,
        }
        .encode(),
    );
    // ... or the tree's own map-root entry with the forged map's proof.
    let inside = answer;
    let dave = dir.join("dave");
    ok(
        &dave,
        &["trust", "add", "example.org", &server.url, &server.vkey],
    );
    for (forgery, want) in [(outside, "root mismatch"), (inside, "map root mismatch")] {
        let proxy = crate::history::replay_proxy(serde_json::to_string(&forgery).unwrap());
        let (success, out, err) =
            ank_in(&dave, &["lookup", "alice@example.org", "--server", &proxy]);
        assert!(!success, "{out}");
        assert!(err.contains(want), "{err}");
        // The forged map is consistent in itself: what fails is the tree.
        assert_eq!(
            err.contains("map root mismatch"),
            want == "map root mismatch",
            "{err}"
        );
    }
    // The real answer still verifies.
    let out = ok(&dave, &["lookup", "alice@example.org"]);
    assert!(out.contains("device") || out.contains("laptop"), "{out}");
}

/// A log that records a key holder's change as the operator's (hiding from
/// auditors who made it) is caught by the client that asked for it: the
/// entry it answers with does not carry the request's signature.
#[test]
fn a_publish_answer_must_record_the_request_authorisation() {
    use ank_proofs::api::{PublishAuth, PublishRequest, PublishResponse};
    let alice = ank_proofs::Address::parse("alice@example.org").unwrap();
    let laptop = ed25519_dalek::SigningKey::from_bytes(&[0x11; 32]);
    let phone = ed25519_dalek::SigningKey::from_bytes(&[0x22; 32]);
    let key_set = KeySet::new(vec![ank_proofs::Device {
        name: "phone".into(),
        signing_key: phone.verifying_key().to_bytes(),
        encryption_key: [0x22; 32],
    }])
    .unwrap();
    let req = PublishRequest::new(&alice, 2, &key_set, PublishAuth::Key(&laptop), &[&phone]);
    let log = ank_proofs::SignerKey::from_seed(
        "example.org/ank",
        ank_proofs::note::ALG_ED25519,
        [0x33; 32],
    )
    .unwrap();
    let answer = |authorization| {
        let entry = Entry {
            label: alice.label(),
            version: 2,
            timestamp_ms: 1,
            authorization,
            key_set: key_set.clone(),
        };
        serde_json::to_string(&PublishResponse {
            index: 3,
            entry: STANDARD.encode(entry.encode()),
            tlog_proof: "not a proof".into(),
        })
        .unwrap()
    };
    let publish = |body: String| {
        let url = crate::history::replay_proxy(body);
        let client = ank_client::log::LogClient::new(&url, log.verifier()).unwrap();
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(client.publish(&req))
            .unwrap_err()
    };
    let err = publish(answer(Authorization::Operator));
    assert!(
        matches!(
            err,
            ank_client::ClientError::Mismatch(ank_client::Mismatch::Entry)
        ),
        "{err}"
    );
    // The request's own authorisation gets past that check (and fails on
    // the proof, which this fake log cannot give).
    let signature = req.signature.clone().unwrap();
    let own = Authorization::KeyHolder {
        signer: ank_common::b64_array(&signature.public_key).unwrap(),
        signature: ank_common::b64_array(&signature.signature).unwrap(),
    };
    let err = publish(answer(own));
    assert!(matches!(err, ank_client::ClientError::Proof(_)), "{err}");
}
