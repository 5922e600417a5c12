//! Mail between two domains with real `ank serve` processes.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::procs::{Scratch, Server, ank_in, bin};

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

fn ok(home: &Path, args: &[&str]) -> String {
    let (success, out, err) = ank_in(home, args);
    assert!(success, "ank {args:?} failed: {err}{out}");
    out
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
    let t = two_domains("ttl", &["--mail-ttl", "1s"]);
    ok(
        &t.dir.join("alice"),
        &["send", "bob@b.example", "--body", "soon gone"],
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(ok(&t.dir.join("bob"), &["fetch", "--json"]).trim(), "");
}

#[test]
fn serve_refuses_to_start_without_a_storage_key() {
    let dir = Scratch::new("nokey");
    let out = Command::new(bin())
        .args([
            "serve",
            "--domain",
            "example.org",
            "--listen",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(dir.join("data"))
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
    let mut child = Command::new(bin())
        .args([
            "serve",
            "--domain",
            "example.org",
            "--listen",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(dir.join("data"))
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
