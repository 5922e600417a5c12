//! `ank serve` with real processes: the operator and user flow end to end.

use crate::procs::{Scratch, Server, ank_in, ank_ok as ok, http, latest_size};

#[test]
fn hundred_addresses_rotate_revoke_recover_restart() {
    let dir = Scratch::new("e2e");
    let data = dir.0.join("data");
    let data_s = data.to_str().unwrap().to_owned();
    let home = dir.0.join("home");
    let mut server = Server::start(&data, &["--interval", "20ms"]).unwrap();
    assert!(
        server.first_lines.iter().any(|l| l.contains("(created)")),
        "{:?}",
        server.first_lines
    );
    assert_eq!(
        ok(&home, &["log", "vkey", "--data", &data_s]).trim(),
        server.vkey
    );

    // A second server on the same data directory refuses to start.
    let second = Server::start(&data, &[])
        .err()
        .expect("second server must refuse");
    assert!(second.contains("in use by another ank serve"), "{second}");

    ok(
        &home,
        &["trust", "add", "example.org", &server.url, &server.vkey],
    );
    let addresses: Vec<String> = (0..100).map(|i| format!("user{i}@example.org")).collect();
    // Register from four threads at once.
    std::thread::scope(|s| {
        for chunk in addresses.chunks(25) {
            let (home, data_s) = (&home, &data_s);
            s.spawn(move || {
                for a in chunk {
                    let token = ok(home, &["log", "enroll", a, "--data", data_s]);
                    ok(home, &["init", a, "--device", "laptop"]);
                    let out = ok(
                        home,
                        &["register", &a.replace('@', "!"), "--token", token.trim()],
                    );
                    assert!(
                        out.starts_with(&format!("registered {a}: version 1 at index")),
                        "{out}"
                    );
                }
            });
        }
    });
    for a in &addresses[..10] {
        let out = ok(&home, &["rotate", a]);
        assert!(out.starts_with(&format!("rotated {a}: version 2")), "{out}");
    }
    let revoked = &addresses[99];
    ok(&home, &["revoke", revoked]);
    let (success, _, err) = ank_in(&home, &["rotate", revoked]);
    assert!(!success && err.contains("403 revoked"), "{err}");

    for (i, a) in addresses.iter().enumerate() {
        let out = ok(&home, &["lookup", a, "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let want = if i < 10 || i == 99 { 2 } else { 1 };
        assert_eq!(v["version"], want, "{a}: {v}");
        assert_eq!(v["revoked"], i == 99, "{a}");
        if i != 99 {
            // The logged key is this device's current key.
            let keys: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(home.join(format!("keys/{a}.json"))).unwrap(),
            )
            .unwrap();
            let seed: [u8; 32] = base64_decode(keys["ed25519_seed"].as_str().unwrap())
                .try_into()
                .unwrap();
            let public = ed25519_dalek::SigningKey::from_bytes(&seed)
                .verifying_key()
                .to_bytes();
            assert_eq!(
                base64_decode(v["devices"][0]["ed25519"].as_str().unwrap()),
                public.to_vec(),
                "{a}"
            );
        }
    }
    let out = ok(&home, &["lookup", "nobody@example.org"]);
    assert!(out.starts_with("nobody@example.org: absent"), "{out}");

    // The operator recovers the revoked address with a new device's keys.
    let out = crate::procs::recover_with_new_device(
        &home,
        &dir.0.join("other-home"),
        revoked,
        std::path::Path::new(&data_s),
    );
    assert!(out.contains("operator binding logged at index"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&ok(&home, &["lookup", revoked, "--json"])).unwrap();
    assert_eq!(
        (v["version"].as_u64(), v["authority"].as_str()),
        (Some(3), Some("operator"))
    );

    // 112 bindings; how many batches (each closed by a map-root entry)
    // they took depends on timing, so the size is read from the log.
    let size = latest_size(&server.url);
    assert!(size >= 112 + 2, "{size}");
    let out = ok(
        &home,
        &["verify", "tiles", &server.url, "--vkey", &server.vkey],
    );
    assert!(out.contains(&format!("size {size} ")), "{out}");
    let out = ok(
        &home,
        &["verify", "replay", &server.url, "--vkey", &server.vkey],
    );
    assert!(
        out.starts_with(&format!(
            "ok: replayed {size} entries (112 bindings, {} map roots)",
            size - 112
        )),
        "{out}"
    );

    // A saved lookup answer verifies offline; a tampered one does not.
    for (who, want) in [
        (&addresses[50], "is current at version 1"),
        (&"stranger@example.org".to_owned(), "is absent"),
    ] {
        let (status, body) =
            crate::procs::http(&server.addr, "GET", &format!("/v1/lookup/{who}"), None).unwrap();
        assert_eq!(status, 200);
        let saved = dir.0.join("answer.json");
        std::fs::write(&saved, &body).unwrap();
        let out = ok(
            &home,
            &[
                "verify",
                "lookup",
                "--vkey",
                &server.vkey,
                saved.to_str().unwrap(),
            ],
        );
        assert!(out.contains(want), "{out}");
        let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["found"] = serde_json::Value::Bool(!v["found"].as_bool().unwrap());
        std::fs::write(&saved, v.to_string()).unwrap();
        let (success, _, err) = ank_in(
            &home,
            &[
                "verify",
                "lookup",
                "--vkey",
                &server.vkey,
                saved.to_str().unwrap(),
            ],
        );
        assert!(!success && err.contains("found"), "{err}");
    }

    // Restart: the same log, the same key, nothing lost.
    server.kill();
    let server = Server::start(&data, &["--interval", "20ms"]).unwrap();
    assert!(server.first_lines.iter().any(|l| l.contains("(reused)")));
    assert!(
        server
            .first_lines
            .iter()
            .any(|l| l.trim() == format!("size: {size}")),
        "{:?}",
        server.first_lines
    );
    ok(
        &home,
        &["trust", "add", "example.org", &server.url, &server.vkey],
    );
    let v: serde_json::Value =
        serde_json::from_str(&ok(&home, &["lookup", &addresses[5], "--json"])).unwrap();
    assert_eq!(v["version"], 2);
    let (success, _, err) = ank_in(
        &home,
        &[
            "serve",
            "--domain",
            "other.example",
            "--listen",
            "127.0.0.1:0",
            "--data",
            &data_s,
        ],
    );
    assert!(!success && err.contains("in use"), "{err}");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn another_domain_on_a_used_directory_is_refused() {
    let dir = Scratch::new("domain");
    let data = dir.0.join("data");
    drop(Server::start(&data, &[]).unwrap());
    let (success, _, err) = ank_in(
        &dir.0,
        &[
            "serve",
            "--domain",
            "other.example",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ],
    );
    assert!(!success, "must refuse");
    assert!(
        err.contains("this data directory's log is \"example.org/ank\", not \"other.example/ank\""),
        "{err}"
    );
}

/// Finding 5: partial headers, idle connections and slow bodies cannot hold
/// the server: connections beyond the cap get an immediate 503, partial
/// heads are closed after the header timeout, slow bodies get 408.
#[test]
fn slow_and_idle_connections_cannot_exhaust_the_server() {
    use std::io::{Read as _, Write as _};
    let dir = Scratch::new("slowloris");
    let s = Server::start(
        &dir.join("data"),
        &[
            "--max-connections",
            "4",
            "--header-timeout",
            "3s",
            "--request-timeout",
            "2s",
        ],
    )
    .unwrap();
    // Four connections that send half a request head, then nothing.
    let mut stalled: Vec<std::net::TcpStream> = (0..4)
        .map(|_| {
            let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            c
        })
        .collect();
    // Beyond the cap: refused at once, with a JSON code.
    let (status, body) = http(&s.addr, "GET", "/healthz", None).unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"too_many_connections\""), "{body}");
    // The stalled ones are closed by the server (read returns end of stream).
    for c in &mut stalled {
        c.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        let mut rest = Vec::new();
        c.read_to_end(&mut rest)
            .expect("the server closes a connection that never finishes its head");
    }
    drop(stalled);
    // Served again once they are gone.
    let mut status = 0;
    for _ in 0..50 {
        status = http(&s.addr, "GET", "/healthz", None).unwrap().0;
        if status == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(status, 200);
    // A body that never arrives in full: 408 with its code.
    let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
    c.write_all(
        b"POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"add",
    )
    .unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let mut resp = Vec::new();
    let _ = c.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"request_timeout\""), "{text}");
}

/// Finding 13: a log holds only its own domain's addresses, and a trusted
/// log's key must be named after the domain it speaks for.
#[test]
fn other_domains_are_refused_at_enrollment_recovery_and_trust() {
    let dir = Scratch::new("domains");
    let data = dir.join("data");
    let s = Server::start(&data, &[]).unwrap();
    let home = dir.join("home");
    let data_s = data.to_str().unwrap();
    let (success, _, err) = ank_in(
        &home,
        &["log", "enroll", "carol@other.test", "--data", data_s],
    );
    assert!(!success, "{err}");
    assert!(
        err.contains("carol@other.test is not of this log's domain example.org"),
        "{err}"
    );
    let (success, _, err) = ank_in(
        &home,
        &[
            "log",
            "recover",
            "carol@other.test",
            "--revoke",
            "--data",
            data_s,
        ],
    );
    assert!(
        !success && err.contains("not of this log's domain"),
        "{err}"
    );
    let (success, _, err) = ank_in(&home, &["trust", "add", "other.test", &s.url, &s.vkey]);
    assert!(!success, "{err}");
    assert!(err.contains("is not a log of other.test"), "{err}");
    assert!(!home.join("trust").exists(), "nothing was trusted");
    // Its own domain is accepted.
    ok(&home, &["trust", "add", "example.org", &s.url, &s.vkey]);
    ok(
        &home,
        &["log", "enroll", "carol@example.org", "--data", data_s],
    );
}

/// Finding 10: a restart with another storage key is refused with a message
/// that says so (it answered every fetch with 500 before).
#[test]
fn another_storage_key_is_refused_at_start() {
    let dir = Scratch::new("storage-key");
    let data = dir.join("data");
    drop(Server::start(&data, &[]).unwrap());
    let out = crate::procs::serve_command(&data)
        .env("ANK_STORAGE_KEY", "quite another storage key, 32 b")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not the key the mailbox was created with"),
        "{err}"
    );
}

/// A data directory of the first format (82-byte bindings beside their key
/// sets, no map-root entries) is refused at start with what to do, and left
/// as it was.
#[test]
fn a_data_directory_of_the_first_format_is_refused() {
    let dir = Scratch::new("old-format");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key =
        ank_proofs::SignerKey::from_seed("example.org/ank", ank_proofs::note::ALG_ED25519, [3; 32])
            .unwrap();
    std::fs::write(data.join("log.key"), format!("{}\n", key.to_text())).unwrap();
    {
        let c = rusqlite::Connection::open(data.join("log.sqlite")).unwrap();
        c.execute_batch(
            "CREATE TABLE entries (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL, key_set BLOB NOT NULL) STRICT;
             INSERT INTO entries VALUES (0, zeroblob(82), x'0100');",
        )
        .unwrap();
    }
    let before = std::fs::read(data.join("log.sqlite")).unwrap();
    let out = crate::procs::serve_command(&data)
        .env("ANK_STORAGE_KEY", crate::procs::TEST_STORAGE_KEY)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("is a log of an earlier ank format (the first format")
            && err.contains("start the log anew in another --data directory"),
        "{err}"
    );
    assert!(
        std::fs::read(data.join("log.sqlite")).unwrap() == before,
        "the refused database was changed"
    );
}
