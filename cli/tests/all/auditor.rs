//! `ank audit serve` as real processes: an auditing witness cosigns only
//! what its replay verified, and two auditors that see two histories of
//! one log find the fork between them and both serve the same evidence.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::procs::{Scratch, Server, ank_in, export_tiles, free_port, http};

fn note_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("checkpoint")).unwrap()
}

#[test]
fn an_auditing_witness_cosigns_only_what_its_replay_verified() {
    let dir = Scratch::new("auditing-witness");
    let data = dir.join("data");
    let mut server = Server::start(&data, &["--interval", "20ms"]).unwrap();
    let vkey = server.vkey.clone();
    crate::history::register(&dir, &server, &dir.join("alice"), "alice@example.org");
    server.kill();
    let tiles = dir.join("tiles");
    export_tiles(&data, &tiles);
    let honest = note_of(&tiles);
    let honest_size: u64 = honest.lines().nth(1).unwrap().parse().unwrap();

    let log_arg = format!("example.org={}+{vkey}", tiles.display());
    let start = || {
        Server::auditor(
            &dir.join("auditor"),
            &[
                "--name",
                "auditor.example/a1",
                "--interval",
                "1h",
                "--log",
                &log_arg,
            ],
        )
        .unwrap()
    };
    let mut auditor = start();
    let (s, _, body) = crate::witness::add(&auditor, &format!("old 0\n\n{honest}"));
    assert_eq!(s, 200, "{body}");
    assert!(body.starts_with("\u{2014} auditor.example/a1 "), "{body}");

    // The operator appends a binding under a map root that points alice at
    // mallory, and signs it; the log's tiles now serve that.
    let lie = {
        let store = ank_log_server::store::SqliteStore::open(&data.join("log.sqlite")).unwrap();
        let mut map = ank_log_server::rebuild_map(&store).unwrap();
        let forged = crate::audit::mallory_binding(2);
        map.insert(
            forged.label,
            ank_proofs::map::MapValue {
                version: 2,
                index: 1,
                entry_hash: forged.leaf_hash(),
            },
        );
        map.root()
    };
    let bob = ank_proofs::Entry {
        label: ank_proofs::Address::parse("bob@example.org")
            .unwrap()
            .label(),
        version: 1,
        timestamp_ms: 1,
        authorization: ank_proofs::Authorization::Operator,
        key_set: ank_proofs::KeySet::empty(),
    };
    crate::audit::write_behind_the_log(&data, std::slice::from_ref(&bob), Some(lie));
    export_tiles(&data, &tiles);
    let forged = note_of(&tiles);
    let forged_size: u64 = forged.lines().nth(1).unwrap().parse().unwrap();
    // The tree does extend the cosigned one (a plain witness would cosign
    // it), but the replay contradicts its last map-root entry.
    let (s, _, why) = crate::witness::add(&auditor, &format!("old {honest_size}\n\n{forged}"));
    assert_eq!(s, 422, "{why}");
    assert!(
        why.contains(&format!(
            "entry {} says the map root is {lie}",
            forged_size - 1
        )),
        "{why}"
    );
    // The replay's evidence is served, and verifies offline.
    let (s, list) = http(&auditor.addr, "GET", "/v1/evidence", None).unwrap();
    assert_eq!(s, 200);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let text = list["evidence"][0].as_str().unwrap();
    let file = dir.join("found.evidence");
    std::fs::write(&file, text).unwrap();
    let out = crate::history::verify_evidence(&dir.join("home"), &vkey, &file).unwrap();
    assert!(out.contains("(map-root)"), "{out}");

    // Restarted, it still holds the evidence and the halt: its state is durable.
    auditor.kill();
    let auditor = start();
    let (_, again) = http(&auditor.addr, "GET", "/v1/evidence", None).unwrap();
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["evidence"][0].as_str(), Some(text));
    let (s, _, why) = crate::witness::add(&auditor, &format!("old {honest_size}\n\n{forged}"));
    assert_eq!(s, 422, "{why}");
    assert!(why.contains("is halted"), "{why}");
}

/// The one-history issue's fork (a copy of the data directory served beside
/// the original, each grown differently), followed by one auditor each.
#[test]
fn two_gossiping_auditors_find_a_fork_and_agree_on_its_evidence() {
    let dir = Scratch::new("gossip");
    let data = dir.join("data");
    let copy = dir.join("copy");
    let mut original = Server::start(&data, &["--interval", "20ms"]).unwrap();
    let vkey = original.vkey.clone();
    crate::history::register(&dir, &original, &dir.join("alice"), "alice@example.org");
    original.kill();
    std::process::Command::new("cp")
        .args(["-r", data.to_str().unwrap(), copy.to_str().unwrap()])
        .status()
        .unwrap();
    let original = Server::start(&data, &["--interval", "20ms"]).unwrap();
    let forked = Server::start(&copy, &["--interval", "20ms"]).unwrap();
    // Each grows differently; the copy past the original.
    let grow = |server: &Server, tag: &str, who: &[&str]| {
        for w in who {
            let home = dir.join(format!("{tag}-{w}"));
            let d = if tag == "copy" { &copy } else { &data };
            assert!(
                ank_in(
                    &home,
                    &["trust", "add", "example.org", &server.url, &server.vkey]
                )
                .0
            );
            let (ok, token, err) = ank_in(
                &home,
                &[
                    "log",
                    "enroll",
                    &format!("{w}@example.org"),
                    "--data",
                    d.to_str().unwrap(),
                ],
            );
            assert!(ok, "{err}");
            assert!(
                ank_in(
                    &home,
                    &["init", &format!("{w}@example.org"), "--device", "d"]
                )
                .0
            );
            let (ok, _, err) = ank_in(
                &home,
                &[
                    "register",
                    &format!("{w}@example.org"),
                    "--token",
                    token.trim(),
                ],
            );
            assert!(ok, "{err}");
        }
    };
    grow(&original, "orig", &["carol"]);
    grow(&forked, "copy", &["dave", "erin", "frank"]);

    let (pa, pb) = (free_port(), free_port());
    let (la, lb) = (format!("127.0.0.1:{pa}"), format!("127.0.0.1:{pb}"));
    let auditor = |name: &str, listen: &str, log: &Server, peer: &str| {
        Server::auditor(
            &dir.join(name),
            &[
                "--name",
                &format!("auditor.example/{name}"),
                "--listen",
                listen,
                "--interval",
                "200ms",
                "--log",
                &format!("example.org={}+{vkey}", log.url),
                "--peer",
                &format!("http://{peer}"),
            ],
        )
        .unwrap()
    };
    let a = auditor("a", &la, &original, &lb);
    let b = auditor("b", &lb, &forked, &la);
    let evidence = |s: &Server| -> Vec<String> {
        let (_, body) = http(&s.addr, "GET", "/v1/evidence", None).unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap().to_owned())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let (ea, eb) = loop {
        let (ea, eb) = (evidence(&a), evidence(&b));
        if !ea.is_empty() && !eb.is_empty() {
            break (ea, eb);
        }
        assert!(Instant::now() < deadline, "no evidence: {ea:?} {eb:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(ea, eb, "both auditors serve the same evidence");
    // The copy's auditor holds the larger tree: its hashes prove the fork.
    assert!(
        ea[0].starts_with("ank-evidence/v1\nkind inconsistent\n"),
        "{}",
        ea[0]
    );
    let file = dir.join("fork.evidence");
    std::fs::write(&file, &ea[0]).unwrap();
    let out = crate::history::verify_evidence(&dir.join("home"), &vkey, &file).unwrap();
    assert!(
        out.starts_with("ok: log example.org/ank signed two histories"),
        "{out}"
    );
}
