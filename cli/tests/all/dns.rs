//! The log in DNS, with real parts: two `ank serve` processes, each with TLS
//! and its own DNSSEC-signed `_ank` zone (the built-in server), checked by
//! BIND's delv; users and mailboxes that find each other through DNS with no
//! `ank trust add`; `ank doctor`; and discovery refusing an unsigned zone, a
//! zone signed by an unknown key, a wrong pin, a DNS checkpoint that forks the
//! log (exit 3, evidence) and a changed log key.
//!
//! Broken zones are served by `ank_dns` in this test process on loopback:
//! the same server code, given the broken content.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use ank_dns::records::AnkRecord;
use ank_dns::zone::{AnkZone, ZoneContent, ZoneKey, ZoneServer};

use crate::procs::{Scratch, Server, TEST_STORAGE_KEY, bin, free_port};

/// `ank ARGS` with `$ANK_HOME`, the DNS servers and the trust anchors.
fn ank_dns(home: &Path, dns: &str, anchor: &Path, args: &[&str]) -> (bool, i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env("ANK_HOME", home)
        .env("ANK_STORAGE_KEY", TEST_STORAGE_KEY)
        .env("ANK_DNS_SERVER", dns)
        .env("ANK_TRUST_ANCHOR", anchor)
        .output()
        .unwrap();
    (
        out.status.success(),
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `ank serve` for `domain` on `data` with TLS, a loopback port and a short
/// interval, not started.
fn tls_serve(domain: &str, data: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(["serve", "--domain", domain, "--data"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0", "--tls-self-signed"])
        .args(["--interval", "20ms"])
        .env("ANK_STORAGE_KEY", TEST_STORAGE_KEY);
    cmd
}

/// The operator's enrollment token for `address` (`ank log enroll`).
fn enroll(data: &Path, address: &str) -> String {
    let out = Command::new(bin())
        .args(["log", "enroll", address, "--data"])
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A domain served with TLS and its own DNS zone.
struct Domain {
    name: String,
    data: PathBuf,
    server: Server,
    dns_port: u16,
}

impl Domain {
    fn start(dir: &Path, name: &str, dns_port: u16, dns: &str, anchor: &Path) -> Domain {
        let data = dir.join(format!("{name}-data"));
        let mut cmd = tls_serve(name, &data);
        cmd.args(["--dns-listen", &format!("127.0.0.1:{dns_port}")])
            .args(["--ssh-listen", "127.0.0.1:0"])
            .env("ANK_HOME", dir.join(format!("{name}-operator")))
            .env("ANK_DNS_SERVER", dns)
            .env("ANK_TRUST_ANCHOR", anchor);
        let server = Server::spawn(cmd, "size:").unwrap();
        Domain {
            name: name.to_owned(),
            data,
            server,
            dns_port,
        }
    }

    fn ds(&self) -> String {
        self.server.printed("ds:").to_owned()
    }

    fn token(&self, address: &str) -> String {
        enroll(&self.data, address)
    }
}

/// Both domains and the users' settings.
struct World {
    dir: Scratch,
    a: Domain,
    b: Domain,
    dns: String,
    anchor: PathBuf,
}

fn world(tag: &str) -> World {
    let dir = Scratch::new(tag);
    let (pa, pb) = (free_port(), free_port());
    let dns = format!("_ank.a.example=127.0.0.1:{pa},_ank.b.example=127.0.0.1:{pb}");
    let anchor = dir.join("anchors");
    // The mailboxes read the anchors on their first discovery: after both
    // servers printed their DS below.
    let a = Domain::start(&dir, "a.example", pa, &dns, &anchor);
    let b = Domain::start(&dir, "b.example", pb, &dns, &anchor);
    std::fs::write(&anchor, format!("{}\n{}\n", a.ds(), b.ds())).unwrap();
    World {
        dir,
        a,
        b,
        dns,
        anchor,
    }
}

impl World {
    fn ank(&self, home: &Path, args: &[&str]) -> String {
        let (ok, _, out, err) = ank_dns(home, &self.dns, &self.anchor, args);
        assert!(ok, "ank {args:?}: {err}{out}");
        out
    }

    fn user(&self, address: &str, domain: &Domain) -> PathBuf {
        let home = self.dir.join(address);
        self.ank(&home, &["init", address, "--device", "laptop"]);
        let token = domain.token(address);
        self.ank(&home, &["register", address, "--token", &token]);
        home
    }
}

fn need(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        assert!(std::env::var("CI").is_err(), "{tool} is missing under CI");
        eprintln!("skipping the {tool} part: {tool} is not installed");
    }
    ok
}

#[test]
fn two_domains_mail_each_other_through_dns_alone() {
    let w = world("dns-two");
    // The zones validate with an independent validator, from the DS alone.
    if need("delv") {
        for d in [&w.a, &w.b] {
            let f: Vec<String> = d.ds().split_whitespace().map(str::to_owned).collect();
            let conf = format!(
                "trust-anchors {{ \"{}\" static-ds {} {} {} \"{}\"; }};\n",
                f[0], f[4], f[5], f[6], f[7]
            );
            let anchor = w.dir.join(format!("{}.delv", d.name));
            std::fs::write(&anchor, conf).unwrap();
            let zone = format!("_ank.{}", d.name);
            for name in [zone.clone(), format!("checkpoint.{zone}")] {
                let out = Command::new("delv")
                    .args(["@127.0.0.1", "-p", &d.dns_port.to_string(), "-a"])
                    .arg(&anchor)
                    .arg(format!("+root={zone}"))
                    .args(["TXT", &name])
                    .output()
                    .unwrap();
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(text.contains("; fully validated"), "{name}: {text}");
            }
        }
    }
    // The pin in the records is the certificate's, as OpenSSL computes it,
    // in the TXT (base64) and the TLSA (hex).
    let records = Command::new(bin())
        .args(["dns", "records", "--data"])
        .arg(&w.a.data)
        .args(["--url", w.a.server.url.trim_end_matches('/')])
        .output()
        .unwrap();
    let records = String::from_utf8_lossy(&records.stdout).into_owned();
    let spki = crate::tls::served_spki_digest(&w.a.server.addr);
    assert_eq!(spki.len(), 44, "{spki}");
    assert!(records.contains(&format!("tls={spki}\"")), "{records}");
    let hex_spki = hex::encode(base64_decode(&spki));
    assert!(
        records.contains(&format!("IN TLSA 3 1 1 {hex_spki}")),
        "{records}"
    );
    assert!(
        records.contains("checkpoint._ank.a.example. 60 IN TXT \"a.example/ank\\010"),
        "{records}"
    );

    // Mail both ways, with no trust file anywhere.
    let alice = w.user("alice@a.example", &w.a);
    let bob = w.user("bob@b.example", &w.b);
    let mail =
        |from: &Path, from_addr: &str, to: &Path, to_addr: &str, subject: &str, via: &str| {
            w.ank(
                from,
                &[
                    "send",
                    to_addr,
                    "--subject",
                    subject,
                    "--body",
                    "found in DNS",
                    "--via",
                    via,
                ],
            );
            let out = w.ank(to, &["fetch", "--via", via]);
            assert!(out.contains(subject) && out.contains(from_addr), "{out}");
        };
    mail(
        &alice,
        "alice@a.example",
        &bob,
        "bob@b.example",
        "hi bob",
        "https",
    );
    mail(
        &bob,
        "bob@b.example",
        &alice,
        "alice@a.example",
        "hi alice",
        "https",
    );
    // And through the SSH doors, their host keys checked against the SSHFP
    // each zone serves under DNSSEC.
    mail(
        &alice,
        "alice@a.example",
        &bob,
        "bob@b.example",
        "door to bob",
        "ssh",
    );
    mail(
        &bob,
        "bob@b.example",
        &alice,
        "alice@a.example",
        "door to alice",
        "ssh",
    );
    for home in [&alice, &bob] {
        assert!(!home.join("trust").exists());
        let found = std::fs::read_to_string(home.join("discovered")).unwrap();
        assert!(
            found.contains("a.example https://") && found.contains("b.example https://"),
            "{found}"
        );
        assert!(
            found.matches(" ssh=127.0.0.1:").count() == 2 && found.matches(" sshfp=").count() == 2,
            "{found}"
        );
    }
    for d in ["a.example", "b.example"] {
        assert!(!w.dir.join(format!("{d}-operator/trust")).exists());
    }

    // The doctor passes on both, in text and JSON.
    for d in ["a.example", "b.example"] {
        let out = w.ank(&w.dir.join("doctor"), &["doctor", d]);
        assert_eq!(
            out.lines().filter(|l| l.starts_with("ok ")).count(),
            9,
            "{out}"
        );
        assert!(
            out.contains("answers SSH with the host key SSHFP publishes"),
            "{out}"
        );
        let out = w.ank(&w.dir.join("doctor"), &["doctor", d, "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["ok"], true, "{out}");
        assert_eq!(v["checks"].as_array().map(Vec::len), Some(9), "{out}");
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    ank_common::b64_array::<32>(s).unwrap().to_vec()
}

/// A zone served by this test process: `content` for `domain`, signed with
/// `key` (or unsigned).
struct Fake {
    _rt: tokio::runtime::Runtime,
    server: ZoneServer,
    zone: Arc<AnkZone>,
}

fn fake(domain: &str, key: Option<ZoneKey>, content: &ZoneContent) -> Fake {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let zone = AnkZone::new(domain, key, content).unwrap();
    let server = rt
        .block_on(async { ank_dns::zone::start(&zone, "127.0.0.1:0".parse().unwrap()) })
        .unwrap();
    Fake {
        _rt: rt,
        server,
        zone,
    }
}

impl Fake {
    fn dns(&self, domain: &str) -> String {
        format!("_ank.{domain}=127.0.0.1:{}", self.server.addr.port())
    }
}

/// What domain `d` publishes now, as its own zone serves it.
fn content_of(w: &World, d: &Domain) -> ZoneContent {
    let home = w.dir.join("reader");
    let out = w.ank(
        &home,
        &[
            "dns",
            "records",
            "--data",
            d.data.to_str().unwrap(),
            "--url",
            d.server.url.trim_end_matches('/'),
        ],
    );
    let txt = out.lines().next().unwrap();
    let quoted = &txt[txt.find('"').unwrap() + 1..txt.rfind('"').unwrap()];
    let record = AnkRecord::parse(quoted.as_bytes()).unwrap();
    let note = fetch_checkpoint(&d.server.url);
    ZoneContent {
        record,
        checkpoint: Some(note.into_bytes()),
        sshfp: None,
    }
}

fn fetch_checkpoint(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-sk", &format!("{}/checkpoint", url.trim_end_matches('/'))])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn anchor_for(dir: &Path, name: &str, key: &ZoneKey, domain: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, key.dnskey_record(&format!("_ank.{domain}"))).unwrap();
    p
}

#[test]
fn discovery_refuses_what_does_not_hold_and_the_doctor_names_it() {
    let w = world("dns-refuse");
    let alice = w.user("alice@a.example", &w.a);
    let good = content_of(&w, &w.a);
    let trusted = ZoneKey::ephemeral().unwrap();
    let anchor = anchor_for(&w.dir, "fake-anchor", &trusted, "a.example");
    let run = |tag: &str, fake: &Fake, anchor: &Path, args: &[&str]| {
        let home = w.dir.join(tag);
        ank_dns(&home, &fake.dns("a.example"), anchor, args)
    };
    // `args` fails, and what it prints holds each of `want`.
    let refused = |tag: &str, fake: &Fake, args: &[&str], want: &[&str]| {
        let (ok, _, out, err) = run(tag, fake, &anchor, args);
        assert!(!ok, "{out}{err}");
        for w in want {
            assert!(out.contains(w) || err.contains(w), "{w:?} in {out}{err}");
        }
    };
    let lookup = ["lookup", "alice@a.example"];
    let doctor = ["doctor", "a.example"];

    // An unsigned zone: insecure, refused.
    let unsigned = fake("a.example", None, &good);
    refused("unsigned", &unsigned, &lookup, &["the answer is insecure"]);
    refused("unsigned", &unsigned, &doctor, &["ok   txt", "FAIL dnssec"]);
    drop(unsigned);

    // Signed, but by a key the anchor does not know: bogus.
    let foreign = fake("a.example", Some(ZoneKey::ephemeral().unwrap()), &good);
    refused("foreign", &foreign, &lookup, &["the answer is bogus"]);
    drop(foreign);

    // A pin that is not the served certificate's: refused at the handshake.
    let mut wrong_pin = good.clone();
    wrong_pin.record.tls = Some([7; 32]);
    let zone_key = || trusted.clone();
    let pinned = fake("a.example", Some(zone_key()), &wrong_pin);
    refused(
        "pin",
        &pinned,
        &lookup,
        &["invalid peer certificate: ApplicationVerificationFailure"],
    );
    refused("pin", &pinned, &doctor, &["ok   tls", "FAIL pin"]);
    drop(pinned);

    // The TXT names the SSH door, but the SSHFP published is another key's,
    // or there is none: the doctor says so (and everything else holds).
    let door =
        w.a.server
            .first_lines
            .iter()
            .find_map(|l| l.trim().strip_prefix("ssh:"))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_owned();
    let mut other_key = good.clone();
    other_key.record.ssh = Some(door);
    other_key.sshfp = Some([9; 32]);
    let f = fake("a.example", Some(zone_key()), &other_key);
    refused(
        "sshfp",
        &f,
        &doctor,
        &[
            "ok   mailbox",
            "FAIL ssh",
            "is not the one the domain publishes",
        ],
    );
    drop(f);
    let mut no_fp = other_key.clone();
    no_fp.sshfp = None;
    let f = fake("a.example", Some(zone_key()), &no_fp);
    refused(
        "no-sshfp",
        &f,
        &doctor,
        &["ok   mailbox", "FAIL ssh", "no validated SSHFP 4 2 record"],
    );
    drop(f);

    // No TXT at all.
    let empty = fake("elsewhere.example", Some(zone_key()), &good);
    refused("none", &empty, &doctor, &["FAIL txt", "skip dnssec"]);
    drop(empty);

    // A stale checkpoint: the log has moved on since the zone was signed.
    let stale = fake("a.example", Some(zone_key()), &good);
    w.user("carol@a.example", &w.a);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    refused(
        "stale",
        &stale,
        &["doctor", "a.example", "--max-age", "0s"],
        &["FAIL dns-checkpoint", "is stale"],
    );
    // With the default ten minutes, the same checkpoint is fine.
    let (ok, _, out, _) = run("stale", &stale, &anchor, &doctor);
    assert!(ok, "{out}");
    drop(stale);

    // TLS 1.2 allowed by the server at the published URL.
    if need("openssl") {
        let port = free_port();
        let mut s_server = Command::new("openssl")
            .args(["s_server", "-accept", &port.to_string(), "-www", "-cert"])
            .arg(w.a.data.join("tls.crt"))
            .arg("-key")
            .arg(w.a.data.join("tls.key"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut legacy = good.clone();
        legacy.record.url = format!("https://127.0.0.1:{port}");
        let tls12 = fake("a.example", Some(zone_key()), &legacy);
        let mut out = String::new();
        for _ in 0..50 {
            let r = run("tls12", &tls12, &anchor, &["doctor", "a.example"]);
            out = r.2;
            if !out.contains("connection refused") && !out.contains("Connection refused") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = s_server.kill();
        let _ = s_server.wait();
        assert!(
            out.contains("FAIL tls") && out.contains("accepts TLS 1.2"),
            "{out}"
        );
    }

    // A checkpoint in DNS that forks the log: exit 3 and evidence.
    let key = ank_proofs::note::SignerKey::parse(
        std::fs::read_to_string(w.a.data.join("log.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let served = ank_proofs::verify_checkpoint(
        fetch_checkpoint(&w.a.server.url).as_bytes(),
        &key.verifier(),
        &[],
    )
    .unwrap();
    let forged = ank_proofs::checkpoint::Checkpoint {
        origin: served.origin().to_owned(),
        size: served.size(),
        root: ank_proofs::Hash([9; 32]),
        extensions: vec![],
    }
    .sign(&key)
    .unwrap();
    let mut forked = good.clone();
    forked.checkpoint = Some(forged.to_text().into_bytes());
    let fork = fake("a.example", Some(zone_key()), &forked);
    // Nothing moves the log meanwhile: the DNS checkpoint has the served size.
    let (ok, code, _, err) = run("fork", &fork, &anchor, &["lookup", "alice@a.example"]);
    assert!(!ok);
    assert_eq!(code, 3, "{err}");
    let evidence: Vec<_> = std::fs::read_dir(w.dir.join("fork").join("evidence"))
        .unwrap()
        .collect();
    assert_eq!(evidence.len(), 1, "{err}");
    refused(
        "fork-doctor",
        &fork,
        &doctor,
        &["FAIL dns-checkpoint", "different roots"],
    );
    drop(fork);

    // A vkey naming another domain's log: refused.
    let mut borrowed = good.clone();
    borrowed.record.vkey = w.b.server.vkey.clone();
    borrowed.checkpoint = None;
    let stolen = fake("a.example", Some(zone_key()), &borrowed);
    refused("stolen", &stolen, &lookup, &["cannot speak for a.example"]);
    drop(stolen);

    // The trust file overrides DNS: with an entry, even a bogus zone is
    // never asked.
    let bogus = fake("a.example", Some(ZoneKey::ephemeral().unwrap()), &good);
    let pinned = w.dir.join("override");
    let pin = ank_proofs::Hash(good.record.tls.unwrap()).to_base64();
    let url = good.record.url.clone();
    let (ok, _, _, err) = ank_dns(
        &pinned,
        &bogus.dns("a.example"),
        &anchor,
        &[
            "trust",
            "add",
            "a.example",
            &url,
            &w.a.server.vkey,
            "--tls-pin",
            &pin,
        ],
    );
    assert!(ok, "{err}");
    let (ok, _, out, err) = ank_dns(
        &pinned,
        &bogus.dns("a.example"),
        &anchor,
        &["lookup", "alice@a.example"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("version 1"), "{out}");
    assert!(!pinned.join("discovered").exists());
    drop(bogus);

    // A changed log key: refused until `ank trust update`.
    let (ok, _, _, err) = ank_dns(&alice, &w.dns, &w.anchor, &["lookup", "alice@a.example"]);
    assert!(ok, "{err}");
    let other = ank_proofs::note::SignerKey::from_seed("a.example/ank", 1, [42; 32]).unwrap();
    let mut rekeyed = good.clone();
    rekeyed.record.vkey = other.verifier().to_text();
    rekeyed.checkpoint = None;
    let moved = fake("a.example", Some(zone_key()), &rekeyed);
    let (ok, _, _, err) = ank_dns(
        &alice,
        &moved.dns("a.example"),
        &anchor,
        &["lookup", "alice@a.example"],
    );
    assert!(!ok);
    assert!(
        err.contains("refused: a.example now publishes the log key")
            && err.contains("ank trust update a.example"),
        "{err}"
    );
    let (ok, _, out, err) = ank_dns(
        &alice,
        &moved.dns("a.example"),
        &anchor,
        &["trust", "update", "a.example"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("the log key changed"), "{out}");
    let remembered = std::fs::read_to_string(alice.join("discovered")).unwrap();
    assert!(
        remembered.contains(&other.verifier().to_text()),
        "{remembered}"
    );
    let _ = &moved.zone;
}

/// BIND's named, a primary for `_ank.<domain>` that signs it (inline
/// signing, its own ECDSA key) and takes RFC 2136 updates signed with TSIG.
struct Named {
    child: std::process::Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kdig(port: u16, args: &[&str]) -> String {
    let out = Command::new("kdig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+short"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn named(dir: &Path, zone: &str) -> Named {
    let dir = dir.join("named");
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let key = Command::new("tsig-keygen")
        .arg("ank-update")
        .output()
        .unwrap();
    std::fs::write(dir.join("ank.key"), &key.stdout).unwrap();
    std::fs::write(
        dir.join("zone.db"),
        "$TTL 60\n@ IN SOA localhost. hostmaster.localhost. 1 3600 600 604800 60\n@ IN NS localhost.\n",
    )
    .unwrap();
    let d = dir.display();
    std::fs::write(
        dir.join("named.conf"),
        format!(
            "options {{ directory \"{d}\"; listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }};
  pid-file \"{d}/named.pid\"; session-keyfile \"{d}/session.key\"; managed-keys-directory \"{d}\";
  recursion no; dnssec-validation no; allow-transfer {{ none; }}; }};
controls {{ }};
include \"{d}/ank.key\";
zone \"{zone}\" {{ type primary; file \"{d}/zone.db\"; allow-update {{ key \"ank-update\"; }};
  dnssec-policy default; inline-signing yes; }};\n"
        ),
    )
    .unwrap();
    let child = Command::new("named")
        .args(["-g", "-c"])
        .arg(dir.join("named.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let n = Named { child, port, dir };
    // Ready once the zone is signed: its DNSKEY is served.
    for _ in 0..100 {
        if kdig(port, &["DNSKEY", zone]).starts_with("257 3 13 ") {
            return n;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("named did not serve a signed {zone}");
}

#[test]
fn a_zone_kept_at_bind_by_tsig_signed_updates() {
    if !need("named") || !need("kdig") {
        return;
    }
    let dir = Scratch::new("dns-bind");
    let n = named(&dir, "_ank.c.example");
    let data = dir.join("c-data");
    let mut cmd = tls_serve("c.example", &data);
    cmd.args([
        "--dns-update",
        &format!("127.0.0.1:{}", n.port),
        "--tsig-key",
    ])
    .arg(n.dir.join("ank.key"));
    let server = Server::spawn(cmd, "size:").unwrap();
    // The update arrives at once.
    let mut txt = String::new();
    for _ in 0..100 {
        txt = kdig(n.port, &["TXT", "_ank.c.example"]);
        if txt.contains("v=ank1") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(txt.contains(&format!("vkey={}", server.vkey)), "{txt}");
    // Discovery through the zone BIND signs: the anchor is its key.
    let anchor = dir.join("anchor");
    std::fs::write(
        &anchor,
        format!(
            "_ank.c.example. IN DNSKEY {}\n",
            kdig(n.port, &["DNSKEY", "_ank.c.example"])
        ),
    )
    .unwrap();
    let dns = format!("_ank.c.example=127.0.0.1:{}", n.port);
    let home = dir.join("carol");
    let ank = |args: &[&str]| {
        let (ok, _, out, err) = ank_dns(&home, &dns, &anchor, args);
        assert!(ok, "ank {args:?}: {err}{out}");
        out
    };
    ank(&["init", "carol@c.example", "--device", "laptop"]);
    let token = enroll(&data, "carol@c.example");
    ank(&["register", "carol@c.example", "--token", &token]);
    let out = ank(&["lookup", "carol@c.example"]);
    assert!(out.contains("version 1"), "{out}");
    let out = ank(&["doctor", "c.example"]);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        9,
        "{out}"
    );
    assert!(out.contains("no SSH door is published"), "{out}");

    // The same key name with another secret, and an unknown key: refused.
    for (name, secret_from) in [("ank-update", "other"), ("unknown-key", "same")] {
        let key = dir.join(format!("{name}-{secret_from}.key"));
        let text = if secret_from == "same" {
            std::fs::read_to_string(n.dir.join("ank.key"))
                .unwrap()
                .replace("ank-update", name)
        } else {
            String::from_utf8(
                Command::new("tsig-keygen")
                    .arg(name)
                    .output()
                    .unwrap()
                    .stdout,
            )
            .unwrap()
        };
        std::fs::write(&key, text).unwrap();
        let (ok, code, _, err) = ank_dns(
            &home,
            &dns,
            &anchor,
            &[
                "dns",
                "update",
                "--data",
                data.to_str().unwrap(),
                "--url",
                "https://attacker.example",
                "--server",
                &format!("127.0.0.1:{}", n.port),
                "--tsig-key",
                key.to_str().unwrap(),
            ],
        );
        assert!(!ok);
        assert_eq!(code, 1);
        let want = if secret_from == "same" {
            "BadKey"
        } else {
            "BadSig"
        };
        assert!(
            err.contains("refused the update: Not authorized") && err.contains(want),
            "{err}"
        );
    }
    assert!(!kdig(n.port, &["TXT", "_ank.c.example"]).contains("attacker"));
}

/// The witness policy travels in DNS: a client that discovers the log
/// requires the witness the domain names, and the doctor checks it.
#[test]
fn the_witness_policy_is_published_and_enforced() {
    let dir = Scratch::new("dns-witness");
    let data = dir.join("data");
    // The log's key exists once it has started.
    let mut first = Server::start_as(&data, &[], "w.example", None).unwrap();
    let log_vkey = first.vkey.clone();
    first.kill();
    let mut w1 = Server::witness(
        &dir.join("w1"),
        &["--name", "witness.example/w1", "--log", &log_vkey],
    )
    .unwrap();
    let dns_port = free_port();
    let server = Server::start_as(
        &data,
        &[
            "--interval",
            "20ms",
            "--tls-self-signed",
            "--witness-interval",
            "300ms",
            "--witness",
            &format!("{}={}", w1.vkey, w1.url),
            "--dns-listen",
            &format!("127.0.0.1:{dns_port}"),
        ],
        "w.example",
        None,
    )
    .unwrap();
    let anchor = dir.join("anchor");
    std::fs::write(&anchor, server.printed("ds:")).unwrap();
    let dns = format!("_ank.w.example=127.0.0.1:{dns_port}");
    let home = dir.join("dora");
    let run = |args: &[&str]| ank_dns(&home, &dns, &anchor, args);
    assert!(run(&["init", "dora@w.example", "--device", "laptop"]).0);
    let token = enroll(&data, "dora@w.example");
    let (ok, _, out, err) = run(&["register", "dora@w.example", "--token", &token]);
    assert!(ok, "{err}{out}");
    let remembered = std::fs::read_to_string(home.join("discovered")).unwrap();
    assert!(
        remembered.contains(&format!("witness={}", w1.vkey)) && remembered.contains("quorum=1"),
        "{remembered}"
    );
    let (ok, _, out, _) = run(&["doctor", "w.example"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("ok   witnesses       1 of the 1 witnesses"),
        "{out}"
    );

    // The witness stops: the next checkpoint carries no cosignature, and a
    // client that found the policy in DNS refuses it.
    w1.kill();
    let token = enroll(&data, "eve@w.example");
    let eve = dir.join("eve");
    assert!(
        ank_dns(
            &eve,
            &dns,
            &anchor,
            &["init", "eve@w.example", "--device", "laptop"]
        )
        .0
    );
    let (ok, _, _, err) = ank_dns(
        &eve,
        &dns,
        &anchor,
        &["register", "eve@w.example", "--token", &token],
    );
    assert!(!ok);
    assert!(
        err.contains("carries 0 valid cosignature(s) of the witnesses required"),
        "{err}"
    );
    let (ok, _, out, _) = run(&["doctor", "w.example"]);
    assert!(!ok);
    assert!(out.contains("FAIL witnesses"), "{out}");
}
