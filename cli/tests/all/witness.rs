//! `ank witness` as a real process, spoken to as a log would: the C2SP
//! tlog-witness statuses for each kind of request, cosignatures checked with
//! the independent `signed_note` crate, state that survives a restart, and
//! 50 concurrent submissions that never roll it back nor cosign two roots
//! for one size.

use std::path::Path;

use ank_proofs::note::ALG_ED25519;
use ank_proofs::{Checkpoint, Hash, SignerKey, TreeBuilder, leaf_hash, prove_consistency};

use crate::procs::{Scratch, Server, ank_in, http_typed};

const ORIGIN: &str = "log.example/ank";

/// A log's history: its leaves' stored hashes and its root at every size.
struct History {
    stored: Vec<Hash>,
    roots: Vec<Hash>,
}

fn history(tag: &str, n: u64) -> History {
    let mut b = TreeBuilder::new();
    let (mut stored, mut roots) = (Vec::new(), vec![b.root()]);
    for i in 0..n {
        stored.extend(b.push_stored(leaf_hash(format!("{tag} {i}").as_bytes())));
        roots.push(b.root());
    }
    History { stored, roots }
}

/// History `b` shares `a`'s first `shared` leaves.
fn forked(shared: u64, n: u64) -> History {
    let mut b = TreeBuilder::new();
    let (mut stored, mut roots) = (Vec::new(), vec![b.root()]);
    for i in 0..n {
        let tag = if i < shared { "main" } else { "fork" };
        stored.extend(b.push_stored(leaf_hash(format!("{tag} {i}").as_bytes())));
        roots.push(b.root());
    }
    History { stored, roots }
}

fn log_key() -> SignerKey {
    SignerKey::from_seed(ORIGIN, ALG_ED25519, [7; 32]).unwrap()
}

fn checkpoint(key: &SignerKey, h: &History, size: u64) -> String {
    Checkpoint {
        origin: key.name().to_owned(),
        size,
        root: h.roots[size as usize],
        extensions: vec![],
    }
    .sign(key)
    .unwrap()
    .to_text()
}

fn body(old: u64, proof: &[Hash], note: &str) -> String {
    let mut b = format!("old {old}\n");
    for h in proof {
        b.push_str(&format!("{h}\n"));
    }
    b.push('\n');
    b.push_str(note);
    b
}

/// `old`, the consistency proof from `old` in `h`, and its checkpoint at `size`.
fn grow(key: &SignerKey, h: &History, old: u64, size: u64) -> String {
    let proof = if old == 0 || old == size {
        vec![]
    } else {
        prove_consistency(old, size, h.stored.as_slice()).unwrap()
    };
    body(old, &proof, &checkpoint(key, h, size))
}

pub fn add(w: &Server, body: &str) -> (u16, String, String) {
    http_typed(&w.addr, "POST", "/add-checkpoint", Some(body)).unwrap()
}

/// Checks a cosignature line with `signed_note` (its parser, its key ID)
/// and Ed25519 over the cosignature/v1 message; returns its timestamp.
fn check_cosignature(witness_vkey: &str, note: &str, lines: &str) -> u64 {
    struct Cosig {
        name: String,
        id: u32,
        key: ed25519_dalek::VerifyingKey,
        seen: std::cell::Cell<u64>,
    }
    impl signed_note::Verifier for Cosig {
        fn name(&self) -> &str {
            &self.name
        }
        fn key_id(&self) -> u32 {
            self.id
        }
        fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
            let Ok((ts, sig)) = <[u8; 8]>::try_from(&sig[..8.min(sig.len())])
                .map(|t| (u64::from_be_bytes(t), &sig[8..]))
            else {
                return false;
            };
            let mut m = format!("cosignature/v1\ntime {ts}\n").into_bytes();
            m.extend_from_slice(msg);
            let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
                return false;
            };
            self.seen.set(ts);
            self.key.verify_strict(&m, &sig).is_ok()
        }
    }
    // <name>+<hex id>+<base64(0x04 || key)>
    let mut parts = witness_vkey.splitn(3, '+');
    let name = parts.next().unwrap().to_owned();
    let _id = parts.next().unwrap();
    let raw = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        parts.next().unwrap(),
    )
    .unwrap();
    assert_eq!(raw[0], 0x04, "a cosignature/v1 key");
    let v = Cosig {
        id: signed_note::key_id(&name, &raw),
        name,
        key: ed25519_dalek::VerifyingKey::from_bytes(&raw[1..].try_into().unwrap()).unwrap(),
        seen: std::cell::Cell::new(0),
    };
    assert!(
        lines.starts_with('\u{2014}') && lines.ends_with('\n'),
        "{lines:?}"
    );
    let cosigned = format!("{note}{lines}");
    let opened = signed_note::Note::from_bytes(cosigned.as_bytes()).unwrap();
    let (verified, _) = opened
        .verify(&signed_note::VerifierList::new(vec![Box::new(Cosig {
            name: v.name.clone(),
            id: v.id,
            key: v.key,
            seen: std::cell::Cell::new(0),
        })]))
        .unwrap();
    assert_eq!(verified.len(), 1);
    // The same signature, checked once more for its timestamp.
    let line = lines.lines().next().unwrap();
    let sig = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        line.rsplit(' ').next().unwrap(),
    )
    .unwrap();
    assert_eq!(sig.len(), 4 + 8 + 64);
    assert_eq!(u32::from_be_bytes(sig[..4].try_into().unwrap()), v.id);
    let text = std::str::from_utf8(opened.text()).unwrap();
    assert!(signed_note::Verifier::verify(
        &v,
        text.as_bytes(),
        &sig[4..]
    ));
    v.seen.get()
}

/// Checks an ML-DSA-44 cosignature line as the spec defines it; returns
/// its timestamp.
fn check_mldsa(vkey: &str, origin: &str, size: u64, root: &Hash, line: &str) -> u64 {
    use base64::Engine as _;
    let b64 = &base64::engine::general_purpose::STANDARD;
    let mut parts = vkey.splitn(3, '+');
    let (name, id) = (parts.next().unwrap(), parts.next().unwrap());
    let raw = b64.decode(parts.next().unwrap()).unwrap();
    assert_eq!((raw[0], raw.len()), (0x06, 1 + 1312));
    let pk = &raw[1..];
    let mut h = sha2::Sha256::default();
    sha2::Digest::update(&mut h, format!("{name}\n").as_bytes());
    sha2::Digest::update(&mut h, [0x06]);
    sha2::Digest::update(&mut h, pk);
    let digest = sha2::Digest::finalize(h);
    assert_eq!(id, hex::encode(&digest[..4]));
    let sig = b64
        .decode(line.strip_prefix(&format!("\u{2014} {name} ")).unwrap())
        .unwrap();
    assert_eq!(sig.len(), 4 + 8 + 2420);
    assert_eq!(&sig[..4], &digest[..4]);
    let ts = u64::from_be_bytes(sig[4..12].try_into().unwrap());
    let mut msg = b"subtree/v1\n\0".to_vec();
    msg.push(name.len() as u8);
    msg.extend_from_slice(name.as_bytes());
    msg.extend_from_slice(&ts.to_be_bytes());
    msg.push(origin.len() as u8);
    msg.extend_from_slice(origin.as_bytes());
    msg.extend_from_slice(&0u64.to_be_bytes());
    msg.extend_from_slice(&size.to_be_bytes());
    msg.extend_from_slice(&root.0);
    aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ML_DSA_44, pk)
        .verify(&msg, &sig[12..])
        .unwrap();
    ts
}

fn start(dir: &Path, key: &SignerKey) -> Server {
    Server::witness(
        dir,
        &[
            "--name",
            "witness.example/w1",
            "--log",
            &key.verifier().to_text(),
        ],
    )
    .unwrap()
}

#[test]
fn add_checkpoint_answers_as_the_spec_says() {
    let scratch = Scratch::new("witness");
    let data = scratch.join("w");
    let key = log_key();
    let main = history("main", 40);
    let mut w = start(&data, &key);
    let vkey = w.vkey.clone();
    assert!(vkey.starts_with("witness.example/w1+"), "{vkey}");

    // Unknown origin: 404. A checkpoint signed by a key the witness does not
    // trust for its origin, or with a broken signature: 403.
    let stranger = SignerKey::from_seed("other.example/log", ALG_ED25519, [8; 32]).unwrap();
    assert_eq!(add(&w, &grow(&stranger, &main, 0, 5)).0, 404);
    let impostor = SignerKey::from_seed(ORIGIN, ALG_ED25519, [9; 32]).unwrap();
    assert_eq!(add(&w, &grow(&impostor, &main, 0, 5)).0, 403);
    let good = checkpoint(&key, &main, 5);
    let broken = {
        let (text, sig) = good.split_once("\n\n").unwrap();
        let mut sig = sig.to_owned().into_bytes();
        let at = sig.len() - 5;
        sig[at] = if sig[at] == b'A' { b'B' } else { b'A' };
        format!("{text}\n\n{}", String::from_utf8(sig).unwrap())
    };
    assert_eq!(add(&w, &body(0, &[], &broken)).0, 403);
    // Malformed bodies: 400.
    for bad in [
        format!("old 05\n\n{good}"),
        format!("old 0\n{good}"),
        format!("old -1\n\n{good}"),
        format!("old 0\nnot base64\n\n{good}"),
        "old 0\n\nnot a note".to_owned(),
    ] {
        assert_eq!(add(&w, &bad).0, 400, "{bad:?}");
    }

    // The first checkpoint, from size 0 with no proof: 200 and a cosignature.
    let (s, ty, lines) = add(&w, &grow(&key, &main, 0, 5));
    assert_eq!(
        (s, ty.as_str()),
        (200, "text/plain; charset=utf-8"),
        "{lines}"
    );
    let t1 = check_cosignature(&vkey, &good, &lines);
    // The second line: ML-DSA-44 (tlog-cosignature's subtree/v1 message),
    // checked here from the spec with aws-lc-rs alone.
    let mldsa = w
        .first_lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("ml-dsa-44: "))
        .unwrap()
        .to_owned();
    let t2 = check_mldsa(
        &mldsa,
        ORIGIN,
        5,
        &main.roots[5],
        lines.lines().nth(1).unwrap(),
    );
    assert_eq!(t1, t2);
    let now = ank_common::now_ms() / 1000;
    assert!(t1.abs_diff(now) < 600, "{t1} vs {now}");
    // Growth with a consistency proof.
    let (s, _, lines) = add(&w, &grow(&key, &main, 5, 9));
    assert_eq!(s, 200, "{lines}");
    check_cosignature(&vkey, &checkpoint(&key, &main, 9), &lines);
    // A stale `old`: 409 with the witness's size as text/x.tlog.size.
    let (s, ty, size) = add(&w, &grow(&key, &main, 5, 12));
    assert_eq!(
        (s, ty.as_str(), size.as_str()),
        (409, "text/x.tlog.size", "9\n")
    );
    // `old` above the checkpoint's size: 400.
    assert_eq!(add(&w, &body(12, &[], &checkpoint(&key, &main, 9))).0, 400);
    // Another root at the witness's size, signed by the log: 409 (v1.0.0).
    let fork = forked(7, 40);
    let (s, ty, why) = add(&w, &body(9, &[], &checkpoint(&key, &fork, 9)));
    assert_eq!(
        (s, ty.as_str()),
        (409, "text/plain; charset=utf-8"),
        "{why}"
    );
    assert!(why.contains("another root at size 9"), "{why}");
    // A proof that does not lead from the witness's root: 422, both for a
    // changed hash and for a fork's honest proof.
    let mut bad = prove_consistency(9, 12, main.stored.as_slice()).unwrap();
    bad[0].0[0] ^= 1;
    assert_eq!(add(&w, &body(9, &bad, &checkpoint(&key, &main, 12))).0, 422);
    assert_eq!(add(&w, &grow(&key, &fork, 9, 12)).0, 422);
    // The same checkpoint again is cosigned again (a fresh timestamp).
    assert_eq!(add(&w, &grow(&key, &main, 9, 9)).0, 200);

    // A restart keeps the state.
    w.kill();
    let w = start(&data, &key);
    let (s, _, size) = add(&w, &grow(&key, &main, 5, 12));
    assert_eq!((s, size.as_str()), (409, "9\n"));
    assert_eq!(add(&w, &grow(&key, &main, 9, 12)).0, 200);
    // The refused requests whose log signature verified are kept.
    let c = rusqlite::Connection::open(data.join("witness.sqlite")).unwrap();
    let refused: i64 = c
        .query_row("SELECT count(*) FROM refused", [], |r| r.get(0))
        .unwrap();
    assert_eq!(refused, 3);
    // `ank witness vkey` prints the same key.
    let (ok, out, err) = crate::procs::ank_in(
        &scratch.join("home"),
        &["witness", "vkey", "--data", data.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), vkey);
}

/// The C2SP example request parses; its log is not one this witness serves.
#[test]
fn the_spec_example_request_is_understood() {
    let Some(dir) = crate::procs::shared_vectors() else {
        return;
    };
    let v: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("c2sp/extracted/spec-examples.json")).unwrap(),
    )
    .unwrap();
    let req = v["witness_add_checkpoint_request_example"]
        .as_str()
        .unwrap();
    let parsed = ank_auditor::witness::AddCheckpoint::parse(req.as_bytes()).unwrap();
    assert_eq!((parsed.old, parsed.proof.len()), (20852014, 4));
    assert_eq!(parsed.to_body(), req.as_bytes());
    let scratch = Scratch::new("witness-example");
    let w = start(&scratch.join("w"), &log_key());
    assert_eq!(add(&w, req).0, 404);
}

/// 50 submissions at once, from two branches of one log: the witness's
/// state only grows, and no size is cosigned with two roots.
#[test]
fn concurrent_submissions_never_roll_back_or_fork() {
    let scratch = Scratch::new("witness-race");
    let data = scratch.join("w");
    let key = log_key();
    let main = history("main", 70);
    let fork = forked(12, 70);
    let w = start(&data, &key);
    assert_eq!(add(&w, &grow(&key, &main, 0, 10)).0, 200);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (db, stop) = (data.join("witness.sqlite"), stop.clone());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(Some((size, _, _))) = ank_auditor::witness::stored(&db, ORIGIN) {
                    seen.push(size);
                }
            }
            seen
        })
    };
    let threads: Vec<_> = (0..50u64)
        .map(|i| {
            let (key, addr) = (key.clone(), w.addr.clone());
            let h = if i % 2 == 0 { &main } else { &fork };
            let h = History {
                stored: h.stored.clone(),
                roots: h.roots.clone(),
            };
            std::thread::spawn(move || {
                let mut old = 10;
                let mut cosigned = Vec::new();
                // As a log does: grow from the witness's size, and on 409
                // resend from the size it names.
                for _ in 0..60 {
                    let size = (old + 1 + i % 3).min(69);
                    if old >= 69 {
                        break;
                    }
                    let (s, _, b) = http_typed(
                        &addr,
                        "POST",
                        "/add-checkpoint",
                        Some(&grow(&key, &h, old, size)),
                    )
                    .unwrap();
                    match s {
                        200 => {
                            cosigned.push((size, h.roots[size as usize]));
                            old = size;
                        }
                        409 if b.ends_with('\n') && b.trim().parse::<u64>().is_ok() => {
                            old = b.trim().parse().unwrap();
                        }
                        // The other branch won: this one can never be cosigned.
                        422 | 409 => break,
                        other => panic!("status {other}: {b}"),
                    }
                }
                cosigned
            })
        })
        .collect();
    let mut cosigned: Vec<(u64, Hash)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = watcher.join().unwrap();
    eprintln!(
        "cosigned {} checkpoints; the watcher saw {} states",
        cosigned.len(),
        seen.len()
    );
    assert!(!cosigned.is_empty());
    assert!(
        seen.windows(2).all(|p| p[0] <= p[1]),
        "the stored size went back: {seen:?}"
    );
    cosigned.sort();
    for pair in cosigned.windows(2) {
        assert!(
            pair[0].0 != pair[1].0 || pair[0].1 == pair[1].1,
            "two roots cosigned for size {}",
            pair[0].0
        );
    }
    // Everything cosigned is one history, and the stored state is its largest.
    let (size, root, _) = ank_auditor::witness::stored(&data.join("witness.sqlite"), ORIGIN)
        .unwrap()
        .unwrap();
    assert_eq!(size, cosigned.last().unwrap().0);
    let branch = if main.roots[size as usize] == root {
        &main
    } else {
        &fork
    };
    for (s, r) in &cosigned {
        assert_eq!(
            branch.roots[*s as usize], *r,
            "size {s} from the other branch"
        );
    }
}

/// A log cosigned by two witnesses, and clients that require a quorum of
/// two, of one, or fresh cosignatures. One witness stops: the log goes on,
/// clients requiring two refuse its new checkpoint and clients requiring
/// one accept it. It comes back on its port: the quorum returns with no
/// operator action. Both stop: a client with a maximum age sees a stale view.
#[test]
fn a_quorum_of_witnesses() {
    let dir = Scratch::new("quorum");
    let data = dir.join("data");
    // The log's key exists once it has started.
    let mut first = Server::start(&data, &[]).unwrap();
    let log_vkey = first.vkey.clone();
    first.kill();
    let witness = |n: &str, listen: Option<&str>| {
        let name = format!("witness.example/{n}");
        let mut extra = vec!["--name", &name, "--log", &log_vkey];
        if let Some(l) = listen {
            extra.extend(["--listen", l]);
        }
        Server::witness(&dir.join(n), &extra).unwrap()
    };
    let w1 = witness("w1", None);
    let mut w2 = witness("w2", None);
    let w2_addr = w2.addr.clone();
    let server = Server::start(
        &data,
        &[
            "--interval",
            "20ms",
            "--witness-interval",
            "300ms",
            "--witness",
            &format!("{}={}", w1.vkey, w1.url),
            "--witness",
            &format!("{}={}", w2.vkey, w2.url),
        ],
    )
    .unwrap();
    let (two, one, fresh) = (dir.join("two"), dir.join("one"), dir.join("fresh"));
    crate::history::register(&dir, &server, &two, "alice@example.org");
    for (home, extra) in [
        (&one, vec!["--quorum", "1"]),
        (&fresh, vec!["--quorum", "2", "--max-age", "1s"]),
    ] {
        let mut args = vec!["trust", "add", "example.org", &server.url, &server.vkey];
        args.extend(["--witness", &w1.vkey, "--witness", &w2.vkey]);
        args.extend(extra);
        assert!(ank_in(home, &args).0);
    }
    let mut args = vec!["trust", "add", "example.org", &server.url, &server.vkey];
    args.extend(["--witness", &w1.vkey, "--witness", &w2.vkey]);
    assert!(ank_in(&two, &args).0);
    // The same requirement as a C2SP tlog-policy.
    let policy_file = dir.join("example.policy");
    std::fs::write(
        &policy_file,
        format!(
            "log {}\nwitness w1 {}\nwitness w2 {}\ngroup both all w1 w2\nquorum both\n",
            server.vkey, w1.vkey, w2.vkey
        ),
    )
    .unwrap();
    let policy = dir.join("policy");
    let (ok, _, err) = ank_in(
        &policy,
        &[
            "trust",
            "add",
            "example.org",
            &server.url,
            &server.vkey,
            "--policy",
            policy_file.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let lookup = |home: &Path| ank_in(home, &["lookup", "alice@example.org"]);
    for home in [&two, &one, &fresh, &policy] {
        let (ok, out, err) = lookup(home);
        assert!(ok, "{err}{out}");
    }
    // The served checkpoint carries both cosignatures.
    let (_, note) = crate::procs::http(&server.addr, "GET", "/checkpoint", None).unwrap();
    let w = [
        ank_proofs::VerifierKey::parse(&w1.vkey).unwrap(),
        ank_proofs::VerifierKey::parse(&w2.vkey).unwrap(),
    ];
    let log = ank_proofs::VerifierKey::parse(&server.vkey).unwrap();
    let cp = ank_proofs::verify_checkpoint(note.as_bytes(), &log, &w).unwrap();
    assert_eq!(cp.cosignatures().len(), 2);

    // w2 stops; bob's registration makes a checkpoint cosigned by w1 alone.
    w2.kill();
    crate::history::register(&dir, &server, &dir.join("plain"), "bob@example.org");
    let size_before = crate::procs::latest_size(&server.url);
    let (_, note) = crate::procs::http(&server.addr, "GET", "/checkpoint", None).unwrap();
    let cp = ank_proofs::verify_checkpoint(note.as_bytes(), &log, &w).unwrap();
    assert_eq!(cp.cosignatures().len(), 1, "{note}");
    let (ok, _, err) = lookup(&two);
    assert!(!ok);
    assert!(
        err.contains("carries 1 valid cosignature(s) of the witnesses required; the quorum is 2"),
        "{err}"
    );
    let (ok, out, err) = lookup(&one);
    assert!(ok, "{err}{out}");
    assert!(out.contains(&format!("size {size_before})")), "{out}");
    let (ok, _, err) = lookup(&policy);
    assert!(!ok);
    assert!(
        err.contains("the policy policies/example.org.policy is not met"),
        "{err}"
    );

    // w2 comes back on its address: the next re-submission restores the quorum.
    let _w2 = witness("w2", Some(&w2_addr));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (ok, _, err) = lookup(&two);
        if ok {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the quorum never returned: {err}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(crate::procs::latest_size(&server.url), size_before);
    assert!(lookup(&policy).0);

    // Both stop: the cosignatures age, and a client allowing 1 s refuses.
    drop(_w2);
    drop(w1);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (ok, _, err) = lookup(&fresh);
    assert!(!ok);
    assert!(err.contains("a stale view"), "{err}");
    assert!(lookup(&two).0, "without a maximum age the view is accepted");
}
