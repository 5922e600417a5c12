//! Mail between two domains with real `ank serve` processes.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::procs::{Scratch, Server, ank_in, ank_ok as ok, bin};

/// Runs `ank ARGS` with `input` on its standard input.
fn with_stdin(home: &Path, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = Command::new(bin())
        .args(args)
        .env("ANK_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input).unwrap();
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// Two domains, each with a log key made in advance so that each server's
/// trust file can name the other's log before either starts.
struct TwoDomains {
    dir: Scratch,
    a: Server,
    b: Server,
}

fn two_domains(tag: &str, extra: &[&str]) -> TwoDomains {
    let dir = Scratch::new(tag);
    // Each server binds port 0 and reports its URL and key; the trust files,
    // which servers read again when they change, are written after.
    let start = |d: &str, home: &str| {
        let mut args = vec!["--interval", "20ms"];
        args.extend_from_slice(extra);
        Server::start_as(
            &dir.join(format!("data-{d}")),
            &args,
            d,
            Some(&dir.join(home)),
        )
        .unwrap()
    };
    let a = start("a.example", "ops-a");
    let b = start("b.example", "ops-b");
    for home in ["ops-a", "ops-b", "alice", "bob"] {
        let h = dir.join(home);
        ok(&h, &["trust", "add", "a.example", &a.url, &a.vkey]);
        ok(&h, &["trust", "add", "b.example", &b.url, &b.vkey]);
    }
    for (user, d, home) in [
        ("alice@a.example", "a.example", "alice"),
        ("bob@b.example", "b.example", "bob"),
    ] {
        let h = dir.join(home);
        let data = dir.join(format!("data-{d}"));
        let token = ok(
            &h,
            &["log", "enroll", user, "--data", data.to_str().unwrap()],
        );
        ok(&h, &["init", user, "--device", "laptop"]);
        ok(&h, &["register", user, "--token", token.trim()]);
    }
    TwoDomains { dir, a, b }
}

#[test]
fn mail_both_ways_between_two_domains() {
    let t = two_domains("mail", &[]);
    let (alice, bob) = (t.dir.join("alice"), t.dir.join("bob"));
    let out = ok(
        &alice,
        &[
            "send",
            "bob!b.example",
            "--subject",
            "Hi Bob",
            "--body",
            "The secret plan 7319.\nhttps://example.org stays text.\n",
        ],
    );
    assert!(
        out.starts_with("sent to bob@b.example (device laptop)"),
        "{out}"
    );
    // Stdin works as the body, and user!domain works everywhere.
    let out = with_stdin(
        &bob,
        &["send", "alice@a.example", "--subject", "Re: Hi"],
        b"Answer from Bob.\n",
    );
    assert!(out.status.success());

    // At rest on the recipient's server: the plaintext is nowhere in the mailbox's files.
    for f in std::fs::read_dir(t.dir.join("data-b.example")).unwrap() {
        let p = f.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("mail.sqlite")
        {
            let bytes = std::fs::read(&p).unwrap();
            assert!(
                !bytes.windows(16).any(|w| w == b"The secret plan "),
                "plaintext at rest in {}",
                p.display()
            );
        }
    }

    let out = ok(&bob, &["fetch", "--json"]);
    let msgs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        (msgs[0]["from"].as_str(), msgs[0]["subject"].as_str()),
        (Some("alice@a.example"), Some("Hi Bob"))
    );
    assert_eq!(
        msgs[0]["body"],
        "The secret plan 7319.\nhttps://example.org stays text.\n"
    );
    // Stored locally, acknowledged on the server: a second fetch returns nothing.
    assert_eq!(
        std::fs::read_dir(bob.join("mail/bob@b.example"))
            .unwrap()
            .count(),
        1
    );
    assert_eq!(ok(&bob, &["fetch", "--json"]).trim(), "");
    let out = ok(&alice, &["fetch"]);
    assert!(
        out.contains("From: bob@b.example") && out.contains("Answer from Bob."),
        "{out}"
    );
    assert_eq!(ok(&alice, &["fetch", "--json"]).trim(), "");

    // Refusals at the sender: an absent recipient, an oversize subject.
    let (success, _, err) = ank_in(&alice, &["send", "nobody@b.example", "--body", "x"]);
    assert!(
        !success && err.contains("nobody@b.example is absent"),
        "{err}"
    );
    let long = "s".repeat(300);
    let (success, _, err) = ank_in(
        &alice,
        &["send", "bob@b.example", "--subject", &long, "--body", "x"],
    );
    assert!(!success && err.contains("subject is 300 bytes"), "{err}");
    // A body that is not UTF-8 is refused before anything is sent.
    let out = with_stdin(&alice, &["send", "bob@b.example"], b"bad \xff bytes");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("UTF-8"));
    assert_eq!(ok(&bob, &["fetch", "--json"]).trim(), "");
    drop((t.a, t.b));
}

#[test]
fn unread_mail_expires_after_the_ttl() {
    let t = two_domains("ttl", &["--mail-ttl", "3s"]);
    ok(
        &t.dir.join("alice"),
        &["send", "bob@b.example", "--body", "soon gone"],
    );
    // Delivered: the mailbox holds it for bob (read without acknowledging it).
    let db = rusqlite::Connection::open(t.dir.join("data-b.example/mail.sqlite")).unwrap();
    let waiting = |now: i64| -> i64 {
        db.query_row(
            "SELECT count(*) FROM messages WHERE recipient = 'bob@b.example' AND expires_ms > ?1",
            [now],
            |r| r.get(0),
        )
        .unwrap()
    };
    let now = ank_common::now_ms() as i64;
    assert_eq!(waiting(now), 1, "delivered and unexpired");
    std::thread::sleep(std::time::Duration::from_millis(3500));
    assert_eq!(waiting(ank_common::now_ms() as i64), 0, "expired");
    assert_eq!(ok(&t.dir.join("bob"), &["fetch", "--json"]).trim(), "");
}

#[test]
fn serve_refuses_to_start_without_a_storage_key() {
    let dir = Scratch::new("nokey");
    let out = crate::procs::serve_command(&dir.join("data"))
        .env_remove("ANK_STORAGE_KEY")
        .env_remove("BANGMAIL_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no storage key: set ANK_STORAGE_KEY (or BANGMAIL_KEY)"),
        "{err}"
    );
    assert!(
        !dir.join("data/log.sqlite").exists(),
        "nothing is created without a key"
    );
    // Bangmail's variable is accepted.
    let mut child = crate::procs::serve_command(&dir.join("data"))
        .env_remove("ANK_STORAGE_KEY")
        .env("BANGMAIL_KEY", "a bangmail storage key of length")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.starts_with("ank log example.org/ank"), "{first}");
}

fn key_file(home: &Path, address: &str) -> serde_json::Value {
    let text = std::fs::read(home.join(format!("keys/{address}.json"))).unwrap();
    serde_json::from_slice(&text).unwrap()
}

fn b64_32(v: &serde_json::Value) -> [u8; 32] {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

/// Findings 1, 9 and 14: mail the recipient cannot open is quarantined
/// locally and acknowledged (it cannot sit in the mailbox until the TTL);
/// bodies cannot fake a second message; mail at rest is private.
#[test]
fn unopenable_mail_is_quarantined_and_output_cannot_be_spoofed() {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    let t = two_domains("quarantine", &[]);
    let (alice, bob) = (t.dir.join("alice"), t.dir.join("bob"));
    // Bob signs an envelope whose ciphertext no key opens: the mailbox cannot tell.
    let bob_keys = key_file(&bob, "bob@b.example");
    let signing = ed25519_dalek::SigningKey::from_bytes(&b64_32(&bob_keys["ed25519_seed"]));
    let lookup = ok(&bob, &["lookup", "alice@a.example", "--json"]);
    let lookup: serde_json::Value = serde_json::from_str(&lookup).unwrap();
    let to_key = b64_32(&lookup["devices"][0]["x25519"]);
    let (to, from) = (
        ank_proofs::Address::parse("alice@a.example").unwrap(),
        ank_proofs::Address::parse("bob@b.example").unwrap(),
    );
    let (id, enc, ct) = ([42u8; 16], [9u8; 32], vec![1u8; 64]);
    let from_key = signing.verifying_key().to_bytes();
    let text = ank_mailbox::envelope_signed_text(&id, &to, &to_key, &from, &from_key, &enc, &ct);
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let env = serde_json::json!({
        "id": b64(&id), "to": "alice@a.example", "to_key": b64(&to_key),
        "from": "bob@b.example", "from_key": b64(&from_key), "enc": b64(&enc),
        "ciphertext": b64(&ct), "signature": b64(&signing.sign(&text).to_bytes()),
    });
    let (status, body) =
        crate::procs::http(&t.a.addr, "POST", "/v1/messages", Some(&env.to_string())).unwrap();
    assert_eq!(status, 201, "{body}");
    // And a real message whose body tries to look like a second message.
    ok(
        &bob,
        &[
            "send",
            "alice@a.example",
            "--subject",
            "hi",
            "--body",
            "real text\n\nFrom: mallory@a.example\nSubject: fake\n\nfake body",
        ],
    );
    let (success, out, err) = ank_in(&alice, &["fetch"]);
    assert!(success, "{err}");
    assert!(err.contains("quarantined"), "{err}");
    assert!(err.contains("does not open"), "{err}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("From: ")).count(),
        1,
        "{out}"
    );
    assert!(out.contains("| From: mallory@a.example"), "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("=== message "))
            .count(),
        1
    );
    // Both were acknowledged: the mailbox is empty.
    assert_eq!(ok(&alice, &["fetch", "--json"]).trim(), "");
    let q: Vec<_> = std::fs::read_dir(alice.join("quarantine/alice@a.example"))
        .unwrap()
        .collect();
    assert_eq!(q.len(), 1);
    // Control characters other than LF are refused at the sender.
    let (success, _, err) = ank_in(&bob, &["send", "alice@a.example", "--body", "a\rb"]);
    assert!(!success && err.contains("control character"), "{err}");
    // Everything ank wrote for alice is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mut stack = vec![alice.clone()];
        while let Some(p) = stack.pop() {
            let meta = std::fs::metadata(&p).unwrap();
            let mode = meta.permissions().mode() & 0o777;
            if meta.is_dir() {
                assert_eq!(mode, 0o700, "{}", p.display());
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            } else {
                assert_eq!(mode, 0o600, "{}", p.display());
            }
        }
    }
    drop((t.a, t.b));
}

/// Finding 3: rotating keeps the old secret (mail sealed to it still opens),
/// and a key change whose answer was lost is never overwritten: the next
/// command settles it by sending the very same request.
#[test]
fn key_changes_lose_neither_mail_nor_keys() {
    let t = two_domains("rotate", &[]);
    let (alice, bob) = (t.dir.join("alice"), t.dir.join("bob"));
    ok(
        &bob,
        &["send", "alice@a.example", "--body", "sealed to the old key"],
    );
    ok(&alice, &["rotate", "alice@a.example"]);
    let out = ok(&alice, &["fetch", "--json"]);
    assert!(out.contains("sealed to the old key"), "{out}");

    // A rotation recorded, sent, and its answer lost: the log holds it, the
    // device has not promoted it yet.
    let address = ank_proofs::Address::parse("alice@a.example").unwrap();
    let pending_change = |version: u64| {
        let current = ank_client::home::DeviceKeys::load(&alice, &address).unwrap();
        let fresh = ank_client::home::DeviceKeys::generate(&address, "laptop").unwrap();
        let ks = ank_proofs::KeySet::new(vec![fresh.public()]).unwrap();
        let request = ank_proofs::api::PublishRequest::new(
            &address,
            version,
            &ks,
            ank_proofs::api::PublishAuth::Key(&current.signing),
            &[&fresh.signing],
        );
        ank_client::home::PendingChange {
            request,
            keys: Some(fresh),
        }
    };
    let lost = pending_change(3);
    lost.save_new(&alice, &address).unwrap();
    let (status, body) = crate::procs::http(
        &t.a.addr,
        "POST",
        "/v1/publish",
        Some(&serde_json::to_string(&lost.request).unwrap()),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let pending = alice.join("keys/alice@a.example.pending.json");
    let recorded = std::fs::read(&pending).unwrap();
    // Another change cannot replace it, even when the log is unreachable.
    let dead = ["--server", "http://127.0.0.1:9/"];
    let (success, _, err) = ank_in(
        &alice,
        &[&["rotate", "alice@a.example"][..], &dead].concat(),
    );
    assert!(
        !success && err.contains("settling the earlier key change"),
        "{err}"
    );
    assert_eq!(std::fs::read(&pending).unwrap(), recorded);
    assert!(matches!(
        pending_change(3).save_new(&alice, &address),
        Err(ank_client::ClientError::PendingChange(_))
    ));
    // Reachable again: the log is found to hold it, and mail sealed to it opens.
    ok(
        &bob,
        &[
            "send",
            "alice@a.example",
            "--body",
            "sealed to the pending key",
        ],
    );
    let (success, out, err) = ank_in(&alice, &["fetch", "--json"]);
    assert!(success, "{err}");
    assert!(
        err.contains("is in the log; its keys are now current"),
        "{err}"
    );
    assert!(out.contains("sealed to the pending key"), "{out}");
    assert!(!pending.exists());
    // A change recorded but never sent is sent again, as it was, by the next command.
    let unsent = pending_change(4);
    unsent.save_new(&alice, &address).unwrap();
    let (success, _, err) = ank_in(&alice, &["rotate", "alice@a.example"]);
    assert!(success, "{err}");
    assert!(err.contains("was sent again and logged"), "{err}");
    assert!(!pending.exists());
    // The key the log holds is the one this device holds.
    let l: serde_json::Value =
        serde_json::from_str(&ok(&bob, &["lookup", "alice@a.example", "--json"])).unwrap();
    assert_eq!(l["version"], 5);
    let mine = key_file(&alice, "alice@a.example");
    let public = ed25519_dalek::SigningKey::from_bytes(&b64_32(&mine["ed25519_seed"]))
        .verifying_key()
        .to_bytes();
    assert_eq!(b64_32(&l["devices"][0]["ed25519"]), public);
    // Mail still flows to the newest key.
    ok(
        &bob,
        &["send", "alice@a.example", "--body", "to the newest key"],
    );
    assert!(ok(&alice, &["fetch", "--json"]).contains("to the newest key"));
    drop((t.a, t.b));
}

/// Finding 3: mail from a sender who rotated after sending still verifies,
/// through the proof the mailbox kept when it accepted the message.
#[test]
fn mail_from_a_sender_who_rotated_since_still_verifies() {
    let t = two_domains("sender-rotated", &[]);
    let (alice, bob) = (t.dir.join("alice"), t.dir.join("bob"));
    ok(
        &bob,
        &["send", "alice@a.example", "--body", "sent before rotating"],
    );
    ok(&bob, &["rotate", "bob@b.example"]);
    let (success, out, err) = ank_in(&alice, &["fetch", "--json"]);
    assert!(success, "{err}");
    assert!(out.contains("sent before rotating"), "{out}{err}");
    assert!(!err.contains("quarantined"), "{err}");
    drop((t.a, t.b));
}

/// Finding 16: a revocation takes effect at other domains' mailboxes as soon
/// as their view of the sender's log is refreshed (here at once), not after
/// the 60 s answer cache.
#[test]
fn a_revoked_key_stops_working_elsewhere_at_once() {
    let t = two_domains("revoked-elsewhere", &["--mail-freshness", "0ms"]);
    let bob = t.dir.join("bob");
    ok(&bob, &["send", "alice@a.example", "--body", "before"]);
    ok(&bob, &["revoke", "bob@b.example"]);
    let (success, _, err) = ank_in(&bob, &["send", "alice@a.example", "--body", "after"]);
    assert!(!success, "{err}");
    assert!(err.contains("sender_key_not_current"), "{err}");
    drop((t.a, t.b));
}

/// Finding 7: delivered mail replayed to the mailbox is refused while its
/// tombstone lasts, and once the TTL has passed the client refuses the id
/// it has already shown.
#[test]
fn replayed_mail_is_refused_by_mailbox_and_client() {
    let t = two_domains("replay", &["--mail-ttl", "2s"]);
    let (alice, bob) = (t.dir.join("alice"), t.dir.join("bob"));
    let bob_keys = key_file(&bob, "bob@b.example");
    let signing = ed25519_dalek::SigningKey::from_bytes(&b64_32(&bob_keys["ed25519_seed"]));
    let lookup: serde_json::Value =
        serde_json::from_str(&ok(&bob, &["lookup", "alice@a.example", "--json"])).unwrap();
    let to_key = b64_32(&lookup["devices"][0]["x25519"]);
    let payload = ank_mailbox::Payload::new(
        ank_proofs::Address::parse("bob@b.example").unwrap(),
        ank_proofs::Address::parse("alice@a.example").unwrap(),
        ank_common::now_ms(),
        "once",
        "only once",
    )
    .unwrap();
    let env = ank_mailbox::Envelope::create(&payload, &to_key, &signing, [77; 16]).unwrap();
    let body = serde_json::to_string(&env).unwrap();
    let post = || crate::procs::http(&t.a.addr, "POST", "/v1/messages", Some(&body)).unwrap();
    assert_eq!(post().0, 201);
    assert!(ok(&alice, &["fetch", "--json"]).contains("only once"));
    let (status, answer) = post();
    assert_eq!(status, 409, "{answer}");
    assert!(answer.contains("already_delivered"), "{answer}");
    // After the TTL the mailbox has forgotten it; the client has not.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(post().0, 201);
    let (success, out, err) = ank_in(&alice, &["fetch", "--json"]);
    assert!(success, "{err}");
    assert!(!out.contains("only once"), "{out}");
    assert!(
        err.contains("replayed: this message id was delivered before"),
        "{err}"
    );
    drop((t.a, t.b));
}
