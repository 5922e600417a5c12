//! The Bangmail door with the real OpenSSH client: `ssh -p PORT -i KEY
//! alice@127.0.0.1 bangmail-fetch alice` with the key `ank key export-ssh`
//! wrote and a known-hosts file made from the host key `ank serve` printed.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::history::register;
use crate::procs::{Scratch, Server, ank_in, ank_ok as ok};

struct Door {
    server: Server,
    port: u16,
    known_hosts: PathBuf,
    /// The host key's SHA-256, hex (SSHFP `4 2`).
    sshfp: String,
}

impl Door {
    /// Trusts the log and its SSH door in `home`, with `sshfp` as the
    /// door's host key digest.
    fn trust(&self, home: &Path, sshfp: &str) {
        ok(
            home,
            &[
                "trust",
                "add",
                "example.org",
                &self.server.url,
                &self.server.vkey,
                "--ssh",
                &format!("127.0.0.1:{}", self.port),
                "--sshfp",
                sshfp,
            ],
        );
    }
}

fn door(dir: &Path) -> Door {
    door_with(dir, &[])
}

/// A server with its SSH door, and `extra` arguments to `ank serve`.
fn door_with(dir: &Path, extra: &[&str]) -> Door {
    let server = serve_door(dir, extra);
    let known_hosts = dir.join("known_hosts");
    let mut d = Door {
        sshfp: server
            .printed("sshfp:")
            .split_whitespace()
            .last()
            .unwrap()
            .to_owned(),
        server,
        port: 0,
        known_hosts,
    };
    d.found();
    d
}

/// `ank serve` on `dir/data` with its door on a port the system picks.
fn serve_door(dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["--interval", "20ms", "--ssh-listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Server::start(&dir.join("data"), &args).unwrap()
}

impl Door {
    /// Reads the door's port from what the server printed, and writes the
    /// known-hosts file for it from the printed host key.
    fn found(&mut self) {
        let door = self
            .server
            .printed("ssh:")
            .split_whitespace()
            .next()
            .unwrap();
        self.port = door.rsplit_once(':').unwrap().1.parse().unwrap();
        let host = self.server.printed("host:");
        std::fs::write(
            &self.known_hosts,
            format!("[127.0.0.1]:{} {host}\n", self.port),
        )
        .unwrap();
    }
}

/// `ssh` to the door as `user`, with `key` or none, running `command`.
fn ssh_command(d: &Door, key: Option<&Path>, user: &str, command: &[&str]) -> Command {
    let mut c = Command::new("ssh");
    c.args(["-p", &d.port.to_string(), "-F", "/dev/null"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", d.known_hosts.display()))
        .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"])
        .args(["-o", "IdentitiesOnly=yes"]);
    if let Some(k) = key {
        c.arg("-i").arg(k);
    }
    c.arg(format!("{user}@127.0.0.1")).args(command);
    c
}

/// `ssh` with `args`, stdin `input`: (exit status, stdout, stderr).
fn ssh(
    d: &Door,
    key: Option<&Path>,
    user: &str,
    command: &[&str],
    input: &str,
) -> (i32, String, String) {
    let mut child = ssh_command(d, key, user, command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    let feed = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    // A command refused early may leave input unread.
    let _ = feed.join();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `bangmail-fetch alice` with `key`, which must succeed: its lines, and
/// its output as it came.
fn fetch(d: &Door, key: &Path) -> (Vec<serde_json::Value>, String) {
    let (code, out, err) = ssh(d, Some(key), "alice", &["bangmail-fetch", "alice"], "");
    assert_eq!(code, 0, "{err}");
    let lines = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, out)
}

fn need_ssh() -> bool {
    let ok = Command::new("ssh").arg("-V").output().is_ok();
    if !ok {
        assert!(std::env::var("CI").is_err(), "ssh is missing under CI");
        eprintln!("skipping: the OpenSSH client is not installed");
    }
    ok
}

/// The private key of `address` on the device in `home`, for `ssh -i`.
fn export(home: &Path, address: &str, file: &Path) -> String {
    ok(
        home,
        &[
            "key",
            "export-ssh",
            address,
            "--private",
            file.to_str().unwrap(),
        ],
    )
}

#[test]
fn openssh_fetches_and_acks_with_the_logged_key_and_nothing_else_gets_in() {
    if !need_ssh() {
        return;
    }
    let dir = Scratch::new("ssh-door");
    let d = door(&dir);
    let (alice, bob) = (dir.join("alice"), dir.join("bob"));
    register(&dir, &d.server, &alice, "alice@example.org");
    register(&dir, &d.server, &bob, "bob@example.org");
    let alice_key = dir.join("alice.key");
    let public = export(&alice, "alice@example.org", &alice_key);
    assert!(public.starts_with("ssh-ed25519 "), "{public}");
    // The exported public key is the one the log binds.
    let lookup = ok(&bob, &["lookup", "alice@example.org", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&lookup).unwrap();
    let logged = v["devices"][0]["ed25519"].as_str().unwrap().to_owned();
    let blob = public.split_whitespace().nth(1).unwrap();
    let blob = base64_decode(blob);
    assert_eq!(base64_encode(&blob[blob.len() - 32..]), logged);

    ok(
        &bob,
        &[
            "send",
            "alice@example.org",
            "--subject",
            "by https",
            "--body",
            "one",
        ],
    );
    let (lines, out) = fetch(&d, &alice_key);
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["from"], "bob@example.org");
    // And one through the door, sent by `ank send --via ssh`.
    d.trust(&bob, &d.sshfp);
    let sent = ok(
        &bob,
        &[
            "send",
            "alice@example.org",
            "--subject",
            "by ssh",
            "--body",
            "two",
            "--via",
            "ssh",
        ],
    );
    assert!(sent.contains("sent to alice@example.org"), "{sent}");
    let (lines, out) = fetch(&d, &alice_key);
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines.iter().all(|l| l["from"] == "bob@example.org"));
    // Loss-free: fetched again until acknowledged.
    let (_, again) = fetch(&d, &alice_key);
    assert_eq!(again, out);
    let ids: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    let mut ack = vec!["bangmail-ack", "alice"];
    ack.extend(&ids);
    let (code, out, err) = ssh(&d, Some(&alice_key), "alice", &ack, "");
    assert_eq!((code, out.trim()), (0, "{\"deleted\":2}"), "{err}");
    assert_eq!(fetch(&d, &alice_key).1, "");

    // Read-once: deleted once written and the channel closed cleanly.
    ok(
        &bob,
        &[
            "send",
            "alice@example.org",
            "--subject",
            "once",
            "--body",
            "two",
        ],
    );
    let (code, out, _) = ssh(
        &d,
        Some(&alice_key),
        "alice",
        &["bangmail-fetch", "--read-once", "alice"],
        "",
    );
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1);
    // The deletion follows the end of that session: look until it shows.
    let mut left = String::from("(not fetched)");
    for _ in 0..40 {
        left = fetch(&d, &alice_key).1;
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(left, "");

    // Refused at authentication: another user's key, an unknown key, a
    // rotated-away key.
    let bob_key = dir.join("bob.key");
    export(&bob, "bob@example.org", &bob_key);
    let unknown = dir.join("unknown.key");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&unknown)
        .status()
        .unwrap();
    assert!(made.success());
    let old_key = dir.join("alice-old.key");
    std::fs::copy(&alice_key, &old_key).unwrap();
    ok(&alice, &["rotate", "alice@example.org"]);
    for key in [&bob_key, &unknown, &old_key] {
        let (code, _, err) = ssh(&d, Some(key), "alice", &["bangmail-fetch", "alice"], "");
        assert_eq!(code, 255, "{err}");
        assert!(err.contains("Permission denied (publickey)"), "{err}");
    }
    // The new key works.
    let new_key = dir.join("alice-new.key");
    export(&alice, "alice@example.org", &new_key);
    fetch(&d, &new_key);
    // An anonymous session may send, never read.
    let (code, _, err) = ssh(&d, None, "anyone", &["bangmail-fetch", "alice"], "");
    assert_eq!(code, 1);
    assert!(err.contains("\"error\":\"not_authenticated\""), "{err}");
    // Alice, authenticated, cannot read or delete bob's mail.
    for cmd in [
        &["bangmail-fetch", "bob"][..],
        &["bangmail-fetch", "--read-once", "bob@example.org"],
        &["bangmail-ack", "bob", "AAAAAAAAAAAAAAAAAAAAAA=="],
    ] {
        let (code, out, err) = ssh(&d, Some(&new_key), "alice", cmd, "");
        assert_eq!((code, out.as_str()), (1, ""), "{cmd:?}");
        assert!(err.contains("\"error\":\"not_authenticated\""), "{err}");
    }

    // bangmail-receive: a bad envelope, a plaintext Bangmail message.
    let (code, out, _) = ssh(
        &d,
        None,
        "anyone",
        &["bangmail-receive", "alice"],
        "{\"nonsense\":1}\n",
    );
    assert_eq!(code, 1);
    assert!(out.contains("\"error\":\"bad_json\""), "{out}");
    let plain =
        "{\"from\":\"bob!example.org\",\"to\":\"alice\",\"subject\":\"hi\",\"body\":\"plain\"}\n";
    let (code, out, _) = ssh(&d, None, "anyone", &["bangmail-receive", "alice"], plain);
    assert_eq!(code, 1);
    assert!(out.contains("\"error\":\"plaintext_refused\""), "{out}");
    assert!(out.contains("sealed to the recipient's key"), "{out}");
    // Several lines answer in their order, one JSON line each: an
    // oversized line, a blank one (skipped), a bad one.
    let big = format!(
        "{}\n\n{{\"nonsense\":2}}\n",
        "x".repeat(ank_mailbox::api::MAX_REQUEST + 1)
    );
    let (code, out, _) = ssh(&d, None, "anyone", &["bangmail-receive", "alice"], &big);
    assert_eq!(code, 1);
    let errors: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["error"].to_string())
        .collect();
    assert_eq!(errors, ["\"line_too_large\"", "\"bad_json\""], "{out}");
    // Nothing to send; a recipient of another domain; a sealed envelope
    // for alice handed to bob's door.
    let (code, out, _) = ssh(&d, None, "anyone", &["bangmail-receive", "alice"], "\n \n");
    assert_eq!(code, 1);
    assert!(out.contains("\"error\":\"no_message\""), "{out}");
    let (code, _, err) = ssh(
        &d,
        None,
        "anyone",
        &["bangmail-receive", "alice@other.example"],
        "",
    );
    assert_eq!(code, 1);
    assert!(err.contains("\"error\":\"wrong_recipient\""), "{err}");
    let for_alice = sealed(&bob, &alice, 1, 10);
    let (code, out, _) = ssh(&d, None, "anyone", &["bangmail-receive", "bob"], &for_alice);
    assert_eq!(code, 1);
    assert!(
        out.contains("\"error\":\"wrong_recipient\"")
            && out.contains("for alice@example.org, not bob@example.org"),
        "{out}"
    );
    // An id that is not one.
    let (code, _, err) = ssh(
        &d,
        Some(&new_key),
        "alice",
        &["bangmail-ack", "alice", "not-an-id"],
        "",
    );
    assert_eq!(code, 1);
    assert!(err.contains("\"error\":\"bad_id\""), "{err}");

    // No shell, no port forwarding, no other command.
    let (code, _, err) = ssh(&d, Some(&new_key), "alice", &[], "");
    assert_eq!(code, 255);
    assert!(err.contains("shell request failed"), "{err}");
    let mut forward = Command::new("ssh");
    let (code, _, err) = {
        forward
            .args(["-p", &d.port.to_string(), "-F", "/dev/null"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", d.known_hosts.display()))
            .args(["-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes"])
            .args(["-R", "0:127.0.0.1:9", "-i"])
            .arg(&new_key)
            .args(["alice@127.0.0.1", "bangmail-fetch", "alice"]);
        let o = forward.output().unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::new(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert_eq!(code, 255);
    assert!(err.contains("remote port forwarding failed"), "{err}");
    let o = Command::new("ssh")
        .args(["-p", &d.port.to_string(), "-F", "/dev/null"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", d.known_hosts.display()))
        .args(["-o", "BatchMode=yes", "-W", "127.0.0.1:9", "-i"])
        .arg(&new_key)
        .arg("alice@127.0.0.1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(255));
    assert!(err.contains("administratively prohibited"), "{err}");
    let (code, _, err) = ssh(&d, Some(&new_key), "alice", &["cat", "/etc/passwd"], "");
    assert_eq!(code, 1);
    assert!(err.contains("\"error\":\"unknown_command\""), "{err}");

    // One connection, many commands one after another (OpenSSH's
    // multiplexing): each command gives its channel back when it ends.
    let control = std::env::temp_dir().join(format!("ank-cm-{}", std::process::id()));
    let base = |c: &mut Command, port: u16| {
        c.args(["-p", &port.to_string(), "-F", "/dev/null"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", d.known_hosts.display()))
            .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i"])
            .arg(&new_key)
            .arg("-o")
            .arg(format!("ControlPath={}", control.display()));
    };
    let mut master = Command::new("ssh");
    base(&mut master, d.port);
    let mut master = master
        .args(["-o", "ControlMaster=yes", "-N", "alice@127.0.0.1"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..800 {
        if control.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(control.exists(), "the master connection did not start");
    // Port 1: a command that did not go through the master would fail.
    let through_master = || {
        let mut c = Command::new("ssh");
        base(&mut c, 1);
        c.args(["-o", "ControlMaster=no", "alice@127.0.0.1"])
            .args(["bangmail-fetch", "alice"])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    for i in 0..8 {
        let o = through_master();
        assert_eq!(
            o.status.code(),
            Some(0),
            "command {i}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // The key that opened the connection is rotated away: the connection
    // may no longer read (each command checks the key against the log).
    ok(&alice, &["rotate", "alice@example.org"]);
    let o = through_master();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("\"error\":\"not_authenticated\""), "{err}");
    let _ = master.kill();
    let _ = master.wait();
    let _ = std::fs::remove_file(&control);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// `ank send --via ssh` and `ank fetch --via ssh`, the device key as the
/// SSH key; a wrong host key is refused before authentication.
#[test]
fn ank_mails_through_the_door_and_refuses_a_wrong_host_key() {
    let dir = Scratch::new("ssh-ank");
    let d = door(&dir);
    let (alice, bob) = (dir.join("alice"), dir.join("bob"));
    register(&dir, &d.server, &alice, "alice@example.org");
    register(&dir, &d.server, &bob, "bob@example.org");
    d.trust(&alice, &d.sshfp);
    d.trust(&bob, &d.sshfp);
    ok(
        &bob,
        &[
            "send",
            "alice@example.org",
            "--subject",
            "door",
            "--body",
            "through ssh",
            "--via",
            "ssh",
        ],
    );
    let out = ok(&alice, &["fetch", "--via", "ssh", "--json"]);
    let got: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (got["from"].as_str(), got["subject"].as_str()),
        (Some("bob@example.org"), Some("door"))
    );
    assert_eq!(got["body"], "through ssh");
    // Acknowledged over SSH: nothing left.
    let out = ok(&alice, &["fetch", "--via", "ssh", "--json"]);
    assert_eq!(out.trim(), "");

    // The host key digest alice trusts is another: refused before
    // authenticating, and the mail stays.
    ok(
        &bob,
        &[
            "send",
            "alice@example.org",
            "--subject",
            "kept",
            "--body",
            "x",
            "--via",
            "ssh",
        ],
    );
    let wrong = "ab".repeat(32);
    d.trust(&alice, &wrong);
    let (ok_, _, err) = ank_in(&alice, &["fetch", "--via", "ssh"]);
    assert!(!ok_);
    assert!(
        err.contains("is not the one the domain publishes")
            && err.contains("refused before authenticating"),
        "{err}"
    );
    d.trust(&alice, &d.sshfp);
    let out = ok(&alice, &["fetch", "--via", "ssh", "--json"]);
    assert!(out.contains("\"subject\":\"kept\""), "{out}");

    // A copy of alice's device from before a rotation: its key is no
    // longer current, so the door refuses it at authentication.
    let stale = dir.join("alice-stale");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(&alice)
        .arg(&stale)
        .status()
        .unwrap();
    assert!(copied.success());
    ok(&alice, &["rotate", "alice@example.org"]);
    let (fetched, _, err) = ank_in(&stale, &["fetch", "--via", "ssh"]);
    assert!(!fetched);
    assert!(err.contains("authentication as alice refused"), "{err}");
}

/// The door greeted `s` with its version line.
fn greeted(mut s: &std::net::TcpStream) {
    let mut line = [0u8; 11];
    std::io::Read::read_exact(&mut s, &mut line).unwrap();
    assert_eq!(&line, b"SSH-2.0-ank");
}

/// What a connection hears before it says anything: the server's version
/// line, or nothing when the server closes it (`None`).
fn hello(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match std::io::Read::read(&mut s, &mut b) {
            Ok(1) if b[0] == b'\n' => break,
            Ok(1) => got.push(b[0]),
            Ok(_) => return None,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("no answer: {e}"),
        }
    }
    Some(String::from_utf8_lossy(&got).trim().to_owned())
}

/// Connections from one address are capped, and one that does not
/// authenticate within its grace is closed; its place is then free. And
/// sending through the door is rate-limited as over HTTP, its input
/// bounded.
#[test]
fn the_door_caps_connections_per_address_and_the_time_to_log_in() {
    let dir = Scratch::new("ssh-limits");
    let d = door_with(
        &dir,
        &[
            "--ssh-max-per-address",
            "3",
            "--ssh-login-grace",
            "2s",
            "--mail-rate",
            "2",
            "--ssh-max-input",
            "65536",
        ],
    );
    // Nothing else has reached the door yet: three silent connections.
    let silent: Vec<std::net::TcpStream> = (0..3)
        .map(|_| {
            let s = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
                .unwrap();
            s
        })
        .collect();
    silent.iter().for_each(greeted);
    // A fourth from the same address is closed without a word.
    assert_eq!(hello(d.port), None);
    // The two silent ones never authenticate: closed when the grace ends.
    for mut s in &silent {
        let mut rest = Vec::new();
        let end = std::io::Read::read_to_end(&mut s, &mut rest);
        assert!(
            end.is_ok()
                || end
                    .as_ref()
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
            "{end:?}"
        );
    }
    drop(silent);
    // Their places come back (the server lets go a moment after closing).
    let mut back = None;
    for _ in 0..100 {
        back = hello(d.port);
        if back.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(back.as_deref(), Some("SSH-2.0-ank"));

    // Sending over the door is rate-limited as over HTTP.
    let (alice, bob) = (dir.join("alice"), dir.join("bob"));
    register(&dir, &d.server, &alice, "alice@example.org");
    register(&dir, &d.server, &bob, "bob@example.org");
    d.trust(&bob, &d.sshfp);
    let send = |n: &str| {
        ank_in(
            &bob,
            &[
                "send",
                "alice@example.org",
                "--subject",
                n,
                "--body",
                "x",
                "--via",
                "ssh",
            ],
        )
    };
    assert!(send("1").0 && send("2").0);
    let (sent, _, err) = send("3");
    assert!(!sent);
    assert!(err.contains("rate_limited"), "{err}");

    // A session sends at most --ssh-max-input bytes: past it, cut off.
    let (code, _, err) = ssh(
        &d,
        None,
        "anyone",
        &["bangmail-receive", "alice"],
        &"x\n".repeat(65536),
    );
    assert_eq!(code, 255, "{err}");
}

/// `bangmail-fetch --read-once` deletes nothing when its client dies
/// before the session ends cleanly: the client (OpenSSH) is killed with
/// SIGKILL while the mailbox, larger than every buffer between them, is
/// still being written.
#[test]
fn read_once_keeps_the_mail_when_the_client_dies_midway() {
    if !need_ssh() {
        return;
    }
    let dir = Scratch::new("ssh-read-once-kill");
    let d = door_with(&dir, &["--mail-sender-quota-bytes", "100000000"]);
    let (alice, bob) = (dir.join("alice"), dir.join("bob"));
    register(&dir, &d.server, &alice, "alice@example.org");
    register(&dir, &d.server, &bob, "bob@example.org");
    // 100 messages of 60 KiB, sealed here and sent in one session: about
    // 8 MiB of envelopes, several times what the pipe, the client's channel
    // window and both sockets' buffers hold (about 1 MiB had left the door
    // when the client died, measured with a door that deleted as it wrote).
    const N: usize = 100;
    let input = sealed(&bob, &alice, N, 60 * 1024);
    let (code, out, err) = ssh(&d, None, "anyone", &["bangmail-receive", "alice"], &input);
    assert_eq!(
        code,
        0,
        "{err}{}",
        out.lines().find(|l| l.contains("error")).unwrap_or("")
    );
    assert_eq!(out.matches("\"stored\":true").count(), N);

    let key = dir.join("alice.key");
    export(&alice, "alice@example.org", &key);
    let mut reader = ssh_command(
        &d,
        Some(&key),
        "alice",
        &["bangmail-fetch", "--read-once", "alice"],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // The first message arrived, so the door is writing; then the client dies.
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(reader.stdout.as_mut().unwrap()),
        &mut first,
    )
    .unwrap();
    assert!(
        first.contains("\"from\":\"bob@example.org\""),
        "{first:.200}"
    );
    reader.kill().unwrap();
    reader.wait().unwrap();
    // A moment for the door to see the broken session (had it deleted
    // anything, it would be now), then everything is still there.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (lines, _) = fetch(&d, &key);
    assert_eq!(lines.len(), N);
}

/// `n` envelopes from bob@example.org (keys in `bob`) to alice@example.org
/// (keys in `alice`), bodies of `body` bytes, sealed and signed here: lines
/// for `bangmail-receive`.
fn sealed(bob: &Path, alice: &Path, n: usize, body: usize) -> String {
    let from = ank_proofs::Address::parse("bob@example.org").unwrap();
    let to = ank_proofs::Address::parse("alice@example.org").unwrap();
    let sender = ank_client::home::DeviceKeys::load(bob, &from).unwrap();
    let to_key = ank_client::home::DeviceKeys::load(alice, &to)
        .unwrap()
        .public()
        .encryption_key;
    let body = "y".repeat(body);
    let mut input = String::new();
    for i in 0..n {
        let p = ank_mailbox::Payload::new(
            from.clone(),
            to.clone(),
            ank_common::now_ms(),
            &format!("bulk {i}"),
            &body,
        )
        .unwrap();
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&(i as u64).to_be_bytes());
        id[8..].copy_from_slice(&ank_common::now_ms().to_be_bytes());
        let env = ank_mailbox::Envelope::create(&p, &to_key, &sender.signing, id).unwrap();
        input.push_str(&serde_json::to_string(&env).unwrap());
        input.push('\n');
    }
    input
}

/// SIGKILL `ank serve` while `bangmail-receive` streams envelopes into
/// it: after a restart every envelope the door answered `stored` is there.
#[test]
fn sigkill_during_bangmail_receive_loses_nothing_answered() {
    if !need_ssh() {
        return;
    }
    let dir = Scratch::new("ssh-crash");
    let mut d = door_with(&dir, &["--mail-rate", "0"]);
    let (alice, bob) = (dir.join("alice"), dir.join("bob"));
    register(&dir, &d.server, &alice, "alice@example.org");
    register(&dir, &d.server, &bob, "bob@example.org");
    const N: usize = 3000;
    let input = sealed(&bob, &alice, N, 200);
    let mut sender = ssh_command(&d, None, "anyone", &["bangmail-receive", "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = sender.stdin.take().unwrap();
    let feed = std::thread::spawn(move || {
        // Fails once the server is gone: that is the point.
        let _ = stdin.write_all(input.as_bytes());
    });
    let mut stored = Vec::new();
    let out = std::io::BufReader::new(sender.stdout.take().unwrap());
    for line in std::io::BufRead::lines(out) {
        let Ok(line) = line else { break };
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["stored"], true, "{line}");
        stored.push(v["id"].as_str().unwrap().to_owned());
        if stored.len() == 200 {
            // Killed mid-stream, with answers and envelopes in flight.
            d.server.kill();
        }
    }
    let _ = sender.wait();
    feed.join().unwrap();
    assert!(
        (200..N).contains(&stored.len()),
        "{} answered: the kill was not mid-stream",
        stored.len()
    );

    d.server = serve_door(&dir, &["--mail-rate", "0"]);
    d.found();
    let key = dir.join("alice.key");
    export(&alice, "alice@example.org", &key);
    let (lines, _) = fetch(&d, &key);
    let there: std::collections::HashSet<&str> =
        lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    let lost: Vec<&String> = stored
        .iter()
        .filter(|id| !there.contains(id.as_str()))
        .collect();
    assert!(lost.is_empty(), "answered stored, then lost: {lost:?}");
}

/// A client that sends envelopes and never reads the answers is cut off
/// once the answers it left unread pass the cap; the door serves others.
#[test]
fn a_client_that_never_reads_its_answers_is_cut_off() {
    if !need_ssh() {
        return;
    }
    let dir = Scratch::new("ssh-unread");
    // Idle connections last longer than this test waits.
    let d = door_with(&dir, &["--ssh-idle", "10m"]);
    let mut flood = ssh_command(&d, None, "anyone", &["bangmail-receive", "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // 400,000 bad lines: some 30 MiB of answers, never read, far more than
    // the pipe, the client's window and the sockets hold.
    let mut stdin = flood.stdin.take().unwrap();
    let feed = std::thread::spawn(move || {
        let chunk = "x\n".repeat(10_000);
        for _ in 0..40 {
            if stdin.write_all(chunk.as_bytes()).is_err() {
                return;
            }
        }
    });
    // The connection ends (ssh exits 255); had it not, this would wait for
    // the idle limit, ten minutes (and fail after two).
    let mut status = None;
    for _ in 0..1200 {
        status = flood.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = flood.kill();
    feed.join().unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(255));
    // Meanwhile and after, the door answers others.
    let (code, out, _) = ssh(&d, None, "anyone", &["bangmail-receive", "alice"], "x\n");
    assert_eq!(code, 1);
    assert!(out.contains("\"error\":\"bad_json\""), "{out}");
}

/// Connections in all are capped too, whatever their address.
#[test]
fn the_door_caps_connections_in_all() {
    let dir = Scratch::new("ssh-total");
    let d = door_with(&dir, &["--ssh-max-connections", "2"]);
    let held: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap())
        .collect();
    held.iter().for_each(greeted);
    assert_eq!(hello(d.port), None);
}

/// One OpenSSH session sends 6,000 sealed envelopes and reads every answer:
/// all are stored, none cut off (answers go out as fast as input comes in).
#[test]
fn one_session_sends_thousands_and_every_one_is_answered() {
    if !need_ssh() {
        return;
    }
    let dir = Scratch::new("ssh-many");
    let d = door_with(
        &dir,
        &[
            "--mail-rate",
            "0",
            "--mail-sender-quota",
            "100000",
            "--mail-quota",
            "100000",
        ],
    );
    let (alice, bob) = (dir.join("alice"), dir.join("bob"));
    register(&dir, &d.server, &alice, "alice@example.org");
    register(&dir, &d.server, &bob, "bob@example.org");
    const N: usize = 6000;
    let input = sealed(&bob, &alice, N, 100);
    let (code, out, err) = ssh(&d, None, "anyone", &["bangmail-receive", "alice"], &input);
    let refused = out.lines().find(|l| l.contains("error")).unwrap_or("");
    assert_eq!(code, 0, "{err}{refused}");
    assert_eq!(out.matches("\"stored\":true").count(), N);
}
