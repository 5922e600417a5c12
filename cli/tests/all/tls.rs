//! `ank serve` over TLS 1.3, checked with OpenSSL and curl: TLS 1.2 is
//! refused, TLS 1.3 accepted with ALPN h2 or http/1.1, the public-key
//! digest it prints is the certificate's, a non-loopback address needs TLS,
//! and SIGHUP serves a new certificate to new handshakes.

use std::process::{Command, Stdio};

use crate::procs::{Scratch, Server, ank_in, ank_ok};

/// `openssl s_client` against `addr` with `args`: (success, stdout+stderr).
fn s_client(addr: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", addr, "-servername", "localhost"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// SHA-256 of the served certificate's SubjectPublicKeyInfo, computed by
/// OpenSSL, base64.
pub(crate) fn served_spki_digest(addr: &str) -> String {
    let script = format!(
        "openssl s_client -connect {addr} -tls1_3 </dev/null 2>/dev/null | openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn printed_digest(server: &Server) -> String {
    server
        .printed("tls:")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn curl(url: &str, http: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-sk",
            "--tlsv1.3",
            http,
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
            url,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tls_1_3_only_with_alpn_a_printed_pin_and_reload() {
    let dir = Scratch::new("tls");
    let data = dir.join("data");
    let server = Server::start(&data, &["--tls-self-signed"]).unwrap();
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let addr = server.addr.clone();

    let (ok, out) = s_client(&addr, &["-tls1_2"]);
    assert!(!ok, "TLS 1.2 was accepted: {out}");
    assert!(out.contains("alert protocol version"), "{out}");
    let (ok, out) = s_client(&addr, &["-tls1_3", "-alpn", "h2"]);
    assert!(ok, "{out}");
    assert!(out.contains("TLSv1.3"), "{out}");
    assert!(out.contains("ALPN protocol: h2"), "{out}");
    let (_, out) = s_client(&addr, &["-tls1_3", "-alpn", "http/1.1"]);
    assert!(out.contains("ALPN protocol: http/1.1"), "{out}");

    let pin = printed_digest(&server);
    assert_eq!(served_spki_digest(&addr), pin);
    let healthz = format!("{}healthz", server.url);
    assert_eq!(curl(&healthz, "--http2"), "2 200");
    assert_eq!(curl(&healthz, "--http1.1"), "1.1 200");

    // The self-signed key is kept: a restart serves the same pin.
    drop(server);
    let mut server = Server::start(&data, &["--tls-self-signed"]).unwrap();
    assert_eq!(printed_digest(&server), pin);

    // SIGHUP: a new certificate and key in place are served to new handshakes.
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(data.join("tls.key.new"))
        .arg("-out")
        .arg(data.join("tls.crt.new"))
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    std::fs::rename(data.join("tls.key.new"), data.join("tls.key")).unwrap();
    std::fs::rename(data.join("tls.crt.new"), data.join("tls.crt")).unwrap();
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let addr = server.addr.clone();
    while served_spki_digest(&addr) == pin {
        assert!(
            std::time::Instant::now() < deadline,
            "the new certificate was never served"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(curl(&format!("{}healthz", server.url), "--http2"), "2 200");
    server.kill();
}

#[test]
fn a_public_address_needs_tls() {
    let dir = Scratch::new("tls-public");
    let data = dir.join("data");
    let out = crate::procs::serve_command_at(&data, "0.0.0.0:0")
        .env("ANK_STORAGE_KEY", crate::procs::TEST_STORAGE_KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("plain HTTP is only served on loopback"),
        "{err}"
    );
    let server = Server::start(&data, &["--listen", "0.0.0.0:0", "--tls-self-signed"]).unwrap();
    assert!(server.url.starts_with("https://0.0.0.0:"), "{}", server.url);
}

/// The whole user flow over TLS 1.3 with the key pinned in the trust file,
/// and a wrong pin refused before anything is sent.
#[test]
fn users_reach_a_tls_log_by_its_pinned_key() {
    let dir = Scratch::new("tls-users");
    let data = dir.join("data");
    let server = Server::start(&data, &["--tls-self-signed", "--interval", "20ms"]).unwrap();
    let pin = printed_digest(&server);
    let home = dir.join("alice");
    let ank = |args: &[&str]| ank_ok(&home, args);
    // `home` trusts the log with TLS pinned to `pin`.
    let trust = |home: &std::path::Path, pin: &str| {
        ank_ok(
            home,
            &[
                "trust",
                "add",
                "example.org",
                &server.url,
                &server.vkey,
                "--tls-pin",
                pin,
            ],
        )
    };
    trust(&home, &pin);
    let token = ank(&[
        "log",
        "enroll",
        "alice@example.org",
        "--data",
        data.to_str().unwrap(),
    ]);
    ank(&["init", "alice@example.org", "--device", "laptop"]);
    ank(&["register", "alice@example.org", "--token", token.trim()]);
    ank(&["rotate", "alice@example.org"]);
    let out = ank(&["lookup", "alice@example.org"]);
    assert!(out.contains("version 2"), "{out}");
    ank(&[
        "send",
        "alice@example.org",
        "--subject",
        "over TLS",
        "--body",
        "pinned",
    ]);
    let out = ank(&["fetch"]);
    assert!(out.contains("over TLS"), "{out}");
    let out = ank(&["monitor"]);
    assert!(out.contains("version 2"), "{out}");

    // Another key's pin: refused at the handshake.
    let other = dir.join("other");
    trust(&other, &ank_proofs::Hash([7; 32]).to_base64());
    let (ok, _, err) = ank_in(&other, &["lookup", "alice@example.org"]);
    assert!(!ok);
    assert!(
        err.contains("invalid peer certificate: ApplicationVerificationFailure"),
        "{err}"
    );
}
