//! Clients that remember (issue 9): a rollback is refused, and the state
//! file survives concurrent `ank` processes.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use crate::procs::{Scratch, Server, ank_in, ank_ok as ok, http};

/// Answers every request with `body` (a saved lookup answer): a proxy
/// replaying the past.
pub fn replay_proxy(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}/")
}

pub fn register(dir: &Path, server: &Server, home: &Path, address: &str) {
    let data = dir.join("data");
    ok(
        home,
        &["trust", "add", "example.org", &server.url, &server.vkey],
    );
    let token = ok(
        home,
        &["log", "enroll", address, "--data", data.to_str().unwrap()],
    );
    ok(home, &["init", address, "--device", "laptop"]);
    ok(home, &["register", address, "--token", token.trim()]);
}

/// A server; alice registered in her home, and carol's home trusting the
/// log.
fn alice_and_carol(tag: &str) -> (Scratch, Server, PathBuf, PathBuf) {
    let dir = Scratch::new(tag);
    let server = Server::start(&dir.join("data"), &["--interval", "20ms"]).unwrap();
    let (alice, carol) = (dir.join("alice"), dir.join("carol"));
    register(&dir, &server, &alice, "alice@example.org");
    ok(
        &carol,
        &["trust", "add", "example.org", &server.url, &server.vkey],
    );
    (dir, server, alice, carol)
}

#[test]
fn a_replayed_old_answer_is_refused_as_a_rollback() {
    let (dir, server, alice, carol) = alice_and_carol("rollback");
    // An answer saved before the rotation...
    let (status, saved) = http(&server.addr, "GET", "/v1/lookup/alice@example.org", None).unwrap();
    assert_eq!(status, 200);
    ok(&alice, &["rotate", "alice@example.org"]);
    // ... which carol, having seen the newer checkpoint, no longer accepts.
    let now: serde_json::Value =
        serde_json::from_str(&ok(&carol, &["lookup", "alice@example.org", "--json"])).unwrap();
    assert_eq!(now["version"], 2);
    let proxy = replay_proxy(saved);
    let (success, out, err) = ank_in(&carol, &["lookup", "alice@example.org", "--server", &proxy]);
    assert!(!success, "{out}");
    assert!(err.contains("a rollback"), "{err}");
    // Someone who never saw the newer checkpoint cannot tell (no memory yet):
    // that is what witnesses are for.
    let dave = dir.join("dave");
    ok(
        &dave,
        &["trust", "add", "example.org", &server.url, &server.vkey],
    );
    let old: serde_json::Value = serde_json::from_str(&ok(
        &dave,
        &["lookup", "alice@example.org", "--server", &proxy, "--json"],
    ))
    .unwrap();
    assert_eq!(old["version"], 1);
    assert_eq!(old["previous_size"], serde_json::Value::Null);
}

#[test]
fn concurrent_lookups_keep_the_state_whole() {
    let dir = Scratch::new("state-race");
    let server = Server::start(&dir.join("data"), &["--interval", "5ms"]).unwrap();
    let alice = dir.join("alice");
    register(&dir, &server, &alice, "alice@example.org");
    let carol = dir.join("carol");
    ok(
        &carol,
        &["trust", "add", "example.org", &server.url, &server.vkey],
    );
    // The log grows (rotations) while 20 lookups run at once.
    let grower = {
        let alice = alice.clone();
        std::thread::spawn(move || {
            for _ in 0..5 {
                ok(&alice, &["rotate", "alice@example.org"]);
            }
        })
    };
    let lookups: Vec<_> = (0..20)
        .map(|_| {
            let carol = carol.clone();
            std::thread::spawn(move || {
                let out = ok(&carol, &["lookup", "alice@example.org", "--json"]);
                serde_json::from_str::<serde_json::Value>(&out).unwrap()
            })
        })
        .collect();
    let answers: Vec<serde_json::Value> = lookups.into_iter().map(|h| h.join().unwrap()).collect();
    grower.join().unwrap();
    let mut max = 0;
    for a in &answers {
        let now = a["verified_size"].as_u64().unwrap();
        if let Some(prev) = a["previous_size"].as_u64() {
            assert!(prev <= now, "{a}");
        }
        assert_eq!(now, a["checkpoint"]["size"].as_u64().unwrap().max(now));
        max = max.max(now);
    }
    // The stored checkpoint verifies and is at least the largest size any lookup saw.
    let after: serde_json::Value =
        serde_json::from_str(&ok(&carol, &["lookup", "alice@example.org", "--json"])).unwrap();
    let stored_before = after["previous_size"].as_u64().unwrap();
    assert!(stored_before >= max, "{stored_before} < {max}");
    let files: Vec<_> = std::fs::read_dir(carol.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.iter().all(|f| !f.ends_with(".tmp")), "{files:?}");
}

/// `ank lookup` of alice through `url` ends with exit code 3 (two
/// histories); returns the path of the evidence it wrote.
fn fork_caught(home: &Path, url: &str) -> std::path::PathBuf {
    let out = std::process::Command::new(crate::procs::bin())
        .args(["lookup", "alice@example.org", "--server", url])
        .env("ANK_HOME", home)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("two histories"), "{err}");
    err.split("evidence written to ")
        .nth(1)
        .map(|p| std::path::PathBuf::from(p.trim()))
        .expect("the evidence's path is printed")
}

/// `ank verify evidence`: its output, or its error output when it refuses.
pub fn verify_evidence(home: &Path, vkey: &str, file: &Path) -> Result<String, String> {
    let (success, out, err) = ank_in(
        home,
        &["verify", "evidence", "--vkey", vkey, file.to_str().unwrap()],
    );
    if success { Ok(out) } else { Err(err) }
}

/// A copy of the data directory served beside the original: the two grow
/// differently from the same state. A client that saw one history refuses
/// the other with exit code 3 and writes evidence that `ank verify
/// evidence` accepts, and refuses with any byte changed.
#[test]
fn a_forked_log_is_caught_with_evidence() {
    let dir = Scratch::new("fork");
    let data = dir.join("data");
    let mut server = Server::start(&data, &["--interval", "20ms"]).unwrap();
    let (alice, carol) = (dir.join("alice"), dir.join("carol"));
    register(&dir, &server, &alice, "alice@example.org");
    ok(
        &carol,
        &["trust", "add", "example.org", &server.url, &server.vkey],
    );
    ok(&carol, &["lookup", "alice@example.org"]);
    // The operator copies the stopped server's directory and serves both.
    server.kill();
    let copy = dir.join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for f in std::fs::read_dir(&data).unwrap() {
        let p = f.unwrap().path();
        std::fs::copy(&p, copy.join(p.file_name().unwrap())).unwrap();
    }
    let server = Server::start(&data, &["--interval", "20ms"]).unwrap();
    let forked = Server::start(&copy, &["--interval", "20ms"]).unwrap();
    ok(
        &alice,
        &["trust", "add", "example.org", &server.url, &server.vkey],
    );
    ok(
        &carol,
        &["trust", "add", "example.org", &server.url, &server.vkey],
    );
    // One history: alice rotates. The other: the operator revokes her.
    ok(&alice, &["rotate", "alice@example.org"]);
    ok(
        &carol,
        &[
            "log",
            "recover",
            "alice@example.org",
            "--revoke",
            "--data",
            copy.to_str().unwrap(),
        ],
    );
    ok(&carol, &["lookup", "alice@example.org"]);
    let evidence = fork_caught(&carol, &forked.url);
    let checked = verify_evidence(&carol, &server.vkey, &evidence).unwrap();
    assert!(
        checked.starts_with("ok: log example.org/ank signed two histories"),
        "{checked}"
    );
    let bytes = std::fs::read(&evidence).unwrap();
    let altered = dir.join("altered.evidence");
    for i in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        std::fs::write(&altered, &b).unwrap();
        assert!(
            verify_evidence(&carol, &server.vkey, &altered).is_err(),
            "byte {i} changed and still evidence"
        );
    }
    // The copy grows past the original: its larger tree does not extend what
    // carol saw, and its own tiles prove it.
    ok(
        &carol,
        &[
            "log",
            "recover",
            "alice@example.org",
            "--revoke",
            "--data",
            copy.to_str().unwrap(),
        ],
    );
    let evidence = fork_caught(&carol, &forked.url);
    assert!(
        std::fs::read_to_string(&evidence)
            .unwrap()
            .starts_with("ank-evidence/v1\nkind inconsistent\n")
    );
    let checked = verify_evidence(&carol, &server.vkey, &evidence).unwrap();
    assert!(
        checked.contains("a larger tree that does not extend a smaller one"),
        "{checked}"
    );
    drop(forked);
}

/// Reads one HTTP/1.1 message (head, then a `Content-Length` body) from
/// `r`: its bytes, or `None` at the end of the stream.
fn read_message(r: &mut impl std::io::BufRead) -> Option<Vec<u8>> {
    let mut msg = Vec::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        msg.extend_from_slice(line.as_bytes());
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    std::io::Read::read_exact(r, &mut body).ok()?;
    msg.extend(body);
    Some(msg)
}

/// A proxy to `server` (every request on a connection of its own
/// upstream); the answer to `POST /v1/publish` is held until `release` is
/// told, and `held` is told once it is.
fn holding_proxy(
    server: String,
    held: std::sync::mpsc::Sender<()>,
    release: std::sync::mpsc::Receiver<()>,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let gate = std::sync::Arc::new(std::sync::Mutex::new((held, release)));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut client) = stream else { continue };
            let (server, gate) = (server.clone(), std::sync::Arc::clone(&gate));
            // Requests on one kept-alive connection, one after another.
            std::thread::spawn(move || {
                let mut from_client = BufReader::new(client.try_clone().unwrap());
                while let Some(request) = read_message(&mut from_client) {
                    let mut upstream = std::net::TcpStream::connect(&server).unwrap();
                    upstream.write_all(&request).unwrap();
                    let Some(answer) = read_message(&mut BufReader::new(upstream)) else {
                        return;
                    };
                    if request.starts_with(b"POST /v1/publish ") {
                        let g = gate.lock().unwrap();
                        g.0.send(()).unwrap();
                        g.1.recv().unwrap();
                    }
                    if client.write_all(&answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}/")
}

/// A publish answer whose checkpoint is older than one this client's state
/// verified meanwhile (another `ank` process of the same home) is held to
/// consistency with it, not refused as a rollback.
#[test]
fn a_publish_answer_overtaken_by_a_newer_checkpoint_is_kept() {
    let (dir, server, alice, carol) = alice_and_carol("publish-overtaken");
    let data = dir.join("data");
    let token = ok(
        &carol,
        &[
            "log",
            "enroll",
            "carol@example.org",
            "--data",
            data.to_str().unwrap(),
        ],
    );
    ok(&carol, &["init", "carol@example.org", "--device", "laptop"]);
    let (held_tx, held) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let proxy = holding_proxy(server.addr.clone(), held_tx, release_rx);
    let registering = {
        let carol = carol.clone();
        std::thread::spawn(move || {
            ank_in(
                &carol,
                &[
                    "register",
                    "carol@example.org",
                    "--token",
                    token.trim(),
                    "--server",
                    &proxy,
                ],
            )
        })
    };
    // Carol's entry is logged; before her answer arrives the log grows and
    // another process of hers verifies the larger checkpoint.
    held.recv().unwrap();
    ok(&alice, &["rotate", "alice@example.org"]);
    let seen: serde_json::Value =
        serde_json::from_str(&ok(&carol, &["lookup", "alice@example.org", "--json"])).unwrap();
    assert_eq!(seen["version"], 2);
    release.send(()).unwrap();
    let (success, out, err) = registering.join().unwrap();
    assert!(success, "{err}");
    assert!(
        out.starts_with("registered carol@example.org: version 1"),
        "{out}"
    );
    // The state kept the larger checkpoint.
    let after: serde_json::Value =
        serde_json::from_str(&ok(&carol, &["lookup", "carol@example.org", "--json"])).unwrap();
    assert_eq!(after["previous_size"], seen["verified_size"]);
}
