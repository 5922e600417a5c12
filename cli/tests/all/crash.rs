//! SIGKILL `ank serve` while clients publish, restart, repeat; then check
//! that every acknowledged publish is in the log, the log verifies, and every
//! checkpoint ever served is consistent with the final one (hence with every
//! later one).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ank_log_server::DataDir;
use ank_log_server::store::LogStore as _;
use ank_proofs::{Address, Hash, KeySet};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::procs::{Scratch, Server, ank_in, http};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Clone)]
struct UserState {
    address: Address,
    key: ed25519_dalek::SigningKey,
    version: u64,
}

fn device_json(key: &ed25519_dalek::SigningKey) -> (KeySet, Value) {
    let d = ank_proofs::Device {
        name: "d".into(),
        signing_key: key.verifying_key().to_bytes(),
        encryption_key: [7; 32],
    };
    let ks = KeySet::new(vec![d]).unwrap();
    let j = serde_json::to_value(ank_proofs::api::key_set_to_json(&ks)).unwrap();
    (ks, j)
}

/// (address, version, index, entry) of each acknowledged publish.
type Acks = Mutex<Vec<(String, u64, u64, String)>>;

fn publisher(
    addr: &str,
    data: &std::path::Path,
    seed: u64,
    stop: &AtomicBool,
    users: &Mutex<Vec<UserState>>,
    acks: &Acks,
    cps: &Mutex<Vec<String>>,
) {
    let store = DataDir(data.to_owned()).open_store().unwrap();
    let mut rng = Rng(seed | 1);
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let rotate = rng.next().is_multiple_of(2);
        let picked = if rotate {
            let mut u = users.lock().unwrap();
            let len = u.len();
            (len > 0).then(|| u.swap_remove((rng.next() % len as u64) as usize))
        } else {
            None
        };
        let new_key = ed25519_dalek::SigningKey::from_bytes(
            &rng.next().to_le_bytes().repeat(4).try_into().unwrap(),
        );
        let (ks, _) = device_json(&new_key);
        use ank_proofs::api::{PublishAuth, PublishRequest};
        let (address, version, body) = match &picked {
            Some(u) => {
                let v = u.version + 1;
                let req =
                    PublishRequest::new(&u.address, v, &ks, PublishAuth::Key(&u.key), &[&new_key]);
                let body = serde_json::to_value(req).unwrap();
                (u.address.clone(), v, body)
            }
            None => {
                let address = Address::parse(&format!("s{seed}-{n}@example.org")).unwrap();
                let token = format!("t-{seed}-{n}");
                if store
                    .put_token(
                        &ank_proofs::hash::sha256(token.as_bytes()),
                        &address.label(),
                        ank_common::now_ms() + 600_000,
                    )
                    .is_err()
                {
                    break;
                }
                let req =
                    PublishRequest::new(&address, 1, &ks, PublishAuth::Token(&token), &[&new_key]);
                let body = serde_json::to_value(req).unwrap();
                (address, 1, body)
            }
        };
        match http(addr, "POST", "/v1/publish", Some(&body.to_string())) {
            Ok((200, text)) => {
                let v: Value = serde_json::from_str(&text).unwrap();
                acks.lock().unwrap().push((
                    address.to_string(),
                    version,
                    v["index"].as_u64().unwrap(),
                    v["entry"].as_str().unwrap().to_owned(),
                ));
                let bundle =
                    ank_proofs::TlogProof::parse(v["tlog_proof"].as_str().unwrap()).unwrap();
                cps.lock().unwrap().push(bundle.checkpoint);
                users.lock().unwrap().push(UserState {
                    address,
                    key: new_key,
                    version,
                });
            }
            // Refused (e.g. the queue during shutdown): the user's state is unchanged.
            Ok((_, _)) => {
                if let Some(u) = picked {
                    users.lock().unwrap().push(u);
                }
            }
            // The server died mid-request: whether a rotation landed is unknown, so that user is retired.
            Err(_) => break,
        }
    }
}

#[test]
fn sigkill_while_publishing_loses_nothing_acknowledged() {
    let cycles: u64 = std::env::var("ANK_CRASH_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(20);
    let dir = Scratch::new("crash");
    let data = dir.0.join("data");
    let users = Mutex::new(Vec::new());
    let acks: Acks = Mutex::new(Vec::new());
    let cps = Mutex::new(Vec::new());
    let mut rng = Rng(0x5eed);
    let mut vkey = String::new();
    for cycle in 0..cycles {
        let mut server = Server::start(&data, &["--interval", "5ms"]).unwrap();
        vkey = server.vkey.clone();
        let server_addr = server.addr.clone();
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for t in 0..3 {
                let (addr, data, stop, users, acks, cps) =
                    (&server_addr, &data, &stop, &users, &acks, &cps);
                s.spawn(move || publisher(addr, data, cycle * 10 + t + 1, stop, users, acks, cps));
            }
            let (addr, stop, cps) = (&server_addr, &stop, &cps);
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match http(addr, "GET", "/checkpoint", None) {
                        Ok((200, note)) => cps.lock().unwrap().push(note),
                        Ok(_) => {}
                        Err(_) => break,
                    }
                    std::thread::sleep(Duration::from_millis(3));
                }
            });
            std::thread::sleep(Duration::from_millis(40 + rng.next() % 160));
            server.kill(); // SIGKILL
            stop.store(true, Ordering::Relaxed);
        });
    }
    let server = Server::start(&data, &["--interval", "5ms"]).unwrap();
    assert_eq!(server.vkey, vkey, "the key must survive every crash");
    let log_key = ank_proofs::VerifierKey::parse(&vkey).unwrap();
    let store = DataDir(data.clone()).open_store().unwrap();
    let final_cp = ank_proofs::verify_checkpoint(
        store.checkpoint().unwrap().unwrap().note.as_bytes(),
        &log_key,
        &[],
    )
    .unwrap();
    let size = final_cp.size();

    let acks = acks.into_inner().unwrap();
    assert!(
        acks.len() as u64 >= cycles,
        "too few publishes acknowledged to mean anything: {}",
        acks.len()
    );
    let entries = store.entries(0, size).unwrap();
    assert_eq!(entries.len() as u64, size);
    for (address, version, index, entry) in &acks {
        assert!(
            *index < size,
            "{address} v{version} acknowledged at {index} beyond the log ({size})"
        );
        assert_eq!(
            STANDARD.encode(&entries[*index as usize]),
            *entry,
            "{address} v{version} at {index}"
        );
        let (current, _) = store
            .binding(&Address::parse(address).unwrap().label())
            .unwrap()
            .unwrap();
        assert!(current >= *version);
    }

    let (success, out, err) = ank_in(&dir.0, &["verify", "tiles", &server.url, "--vkey", &vkey]);
    assert!(success, "{err}");
    assert!(out.contains(&format!("size {size} ")), "{out}");

    let cps = cps.into_inner().unwrap();
    // Replaying the entries alone checks every map-root entry, and every
    // checkpoint's tree ends with one.
    let mut by_size: Vec<u64> = cps
        .iter()
        .map(|n| {
            ank_proofs::verify_checkpoint(n.as_bytes(), &log_key, &[])
                .unwrap()
                .size()
        })
        .collect();
    by_size.push(final_cp.size());
    by_size.sort();
    by_size.dedup();
    let mut replay = ank_proofs::map::Replay::new();
    let mut replayed_checks = 0;
    for s in &by_size {
        while replay.size() < *s {
            replay.push(&entries[replay.size() as usize]).unwrap();
        }
        replay
            .check_end()
            .unwrap_or_else(|e| panic!("checkpoint size {s}: {e}"));
        replayed_checks += 1;
    }
    assert!(
        replayed_checks > cycles as usize,
        "too few checkpoints replayed: {replayed_checks}"
    );
    let mut checked = 0;
    for note in &cps {
        let cp = ank_proofs::verify_checkpoint(note.as_bytes(), &log_key, &[]).unwrap();
        if cp.size() == 0 {
            continue;
        }
        if cp.size() == size {
            assert_eq!(
                cp.root(),
                final_cp.root(),
                "two checkpoints of size {size} differ"
            );
            continue;
        }
        let (status, body) = http(
            &server.addr,
            "GET",
            &format!("/v1/proof/consistency?from={}&to={size}", cp.size()),
            None,
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let p: ank_proofs::api::ProofResponse = serde_json::from_str(&body).unwrap();
        let proof: Vec<Hash> = p
            .proof
            .iter()
            .map(|h| Hash::from_base64(h).unwrap())
            .collect();
        ank_proofs::verify_consistency(cp.size(), size, &proof, cp.root(), final_cp.root())
            .unwrap_or_else(|e| {
                panic!(
                    "checkpoint of size {} is inconsistent with the final one: {e}",
                    cp.size()
                )
            });
        checked += 1;
    }
    assert!(checked > 0, "no checkpoint was compared");
    eprintln!(
        "{cycles} SIGKILL cycles: {} acknowledged publishes, {} checkpoints, final size {size}",
        acks.len(),
        cps.len()
    );
}
