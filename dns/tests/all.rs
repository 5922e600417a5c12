//! The signed zone served on loopback, read back through the validating
//! resolver and through independent validators (BIND's delv, Knot's kdig).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use ank_dns::discover::{Discovery, DiscoveryError, ResolverSettings};
use ank_dns::records::AnkRecord;
use ank_dns::zone::{AnkZone, ZoneContent, ZoneKey};

fn vkey(name: &str, seed: u8) -> String {
    ank_proofs::note::SignerKey::from_seed(name, 1, [seed; 32])
        .map(|k| k.verifier().to_text())
        .unwrap_or_default()
}

fn content(domain: &str) -> ZoneContent {
    ZoneContent {
        record: AnkRecord {
            url: "https://127.0.0.1:8443".into(),
            vkey: vkey(domain, 9),
            tls: Some([5; 32]),
            ssh: None,
            witnesses: vec![],
            quorum: 0,
        },
        checkpoint: Some(
            format!("{domain}/log\n3\nAAAA\n\n— {domain} abc\n")
                .repeat(4)
                .into_bytes(),
        ),
        sshfp: None,
    }
}

struct Running {
    addr: SocketAddr,
    zone: Arc<AnkZone>,
    _server: ank_dns::zone::ZoneServer,
}

async fn start(domain: &str, key: Option<ZoneKey>) -> Running {
    let zone = AnkZone::new(domain, key, &content(domain)).expect("zone");
    let server = ank_dns::zone::start(&zone, "127.0.0.1:0".parse().expect("addr")).expect("serve");
    let addr = server.addr;
    Running {
        addr,
        zone,
        _server: server,
    }
}

fn anchor_file(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("anchor");
    std::fs::write(&p, text).expect("write anchor");
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_zone_validates_and_discovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = ZoneKey::ephemeral().expect("key");
    let ds = key.ds_record("_ank.example.org").expect("ds");
    let dnskey = key.dnskey_record("_ank.example.org");
    let s = start("example.org", Some(key)).await;
    for anchor in [&ds, &dnskey] {
        let settings = ResolverSettings {
            server: Some(s.addr),
            trust_anchor: Some(anchor_file(dir.path(), anchor)),
            zones: Vec::new(),
        };
        let d = Discovery::new(&settings).await.expect("discovery");
        let found = d.discover("example.org").await.expect("discovered");
        assert_eq!(found.record, content("example.org").record);
        assert_eq!(found.checkpoint, content("example.org").checkpoint);
        assert_eq!(found.pins(), vec![[5; 32]]);
        // The checkpoint's signature says when it was published.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs();
        let at = found.checkpoint_signed_at.expect("signed at");
        assert!(at <= now && now - at < 3600, "{at} vs {now}");
        // A name outside the zone is refused by the server.
        let err = d.discover("nope.example.org").await.expect_err("absent");
        assert!(
            matches!(err, DiscoveryError::Resolve { ref reason, .. } if reason.contains("Refused")),
            "{err:?}"
        );
    }
    // A new checkpoint is served after publish.
    let mut c = content("example.org");
    c.checkpoint = Some(b"new checkpoint\n".to_vec());
    s.zone.publish(&c).expect("publish");
    let settings = ResolverSettings {
        server: Some(s.addr),
        trust_anchor: Some(anchor_file(dir.path(), &ds)),
        zones: Vec::new(),
    };
    let d = Discovery::new(&settings).await.expect("discovery");
    let found = d.discover("example.org").await.expect("discovered");
    assert_eq!(found.checkpoint.as_deref(), Some(&b"new checkpoint\n"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_and_foreign_keys_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trusted = ZoneKey::ephemeral().expect("key");
    let anchor = anchor_file(dir.path(), &trusted.dnskey_record("_ank.example.org"));
    // Unsigned.
    let s = start("example.org", None).await;
    let d = Discovery::new(&ResolverSettings {
        server: Some(s.addr),
        trust_anchor: Some(anchor.clone()),
        zones: Vec::new(),
    })
    .await
    .expect("discovery");
    let err = d.discover("example.org").await.expect_err("unsigned");
    assert!(matches!(err, DiscoveryError::Insecure { .. }), "{err:?}");
    // Signed by a key the anchor does not know.
    let s = start("example.org", Some(ZoneKey::ephemeral().expect("key"))).await;
    let d = Discovery::new(&ResolverSettings {
        server: Some(s.addr),
        trust_anchor: Some(anchor),
        zones: Vec::new(),
    })
    .await
    .expect("discovery");
    let err = d.discover("example.org").await.expect_err("foreign key");
    assert!(matches!(err, DiscoveryError::Bogus { .. }), "{err:?}");
}

fn have(tool: &str) -> bool {
    let ok = Command::new(tool).arg("-v").output().is_ok();
    if !ok {
        assert!(std::env::var("CI").is_err(), "{tool} is missing under CI");
        eprintln!("skipping: {tool} is not installed");
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delv_and_kdig_validate_the_zone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = ZoneKey::ephemeral().expect("key");
    let dnskey = key.dnskey_record("_ank.example.org");
    let s = start("example.org", Some(key)).await;
    if have("delv") {
        // delv's anchor: the zone key as a static key.
        let f: Vec<&str> = dnskey.split_whitespace().collect();
        let conf = format!(
            "trust-anchors {{ \"_ank.example.org.\" static-key {} {} {} \"{}\"; }};\n",
            f[4], f[5], f[6], f[7]
        );
        let a = anchor_file(dir.path(), &conf);
        let port = s.addr.port().to_string();
        let out = tokio::task::spawn_blocking(move || {
            Command::new("delv")
                .args(["@127.0.0.1", "-p", &port, "-a"])
                .arg(&a)
                .args(["+root=_ank.example.org", "TXT", "_ank.example.org"])
                .output()
                .expect("delv")
        })
        .await
        .expect("join");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("; fully validated"), "{text}");
        assert!(text.contains("v=ank1"), "{text}");
    }
    if have("kdig") {
        let port = s.addr.port().to_string();
        let out = tokio::task::spawn_blocking(move || {
            Command::new("kdig")
                .args([
                    "@127.0.0.1",
                    "-p",
                    &port,
                    "+dnssec",
                    "+tcp",
                    "checkpoint._ank.example.org",
                    "TXT",
                ])
                .output()
                .expect("kdig")
        })
        .await
        .expect("join");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(text.contains("RRSIG"), "{text}");
        assert!(text.contains("status: NOERROR"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_without_checkpoint_is_discovered_without_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = ZoneKey::ephemeral().expect("key");
    let anchor = anchor_file(dir.path(), &key.dnskey_record("_ank.example.org"));
    let mut c = content("example.org");
    c.checkpoint = None;
    let zone = AnkZone::new("example.org", Some(key), &c).expect("zone");
    let server = ank_dns::zone::start(&zone, "127.0.0.1:0".parse().expect("addr")).expect("serve");
    let d = Discovery::new(&ResolverSettings {
        server: Some(server.addr),
        trust_anchor: Some(anchor),
        ..Default::default()
    })
    .await
    .expect("discovery");
    let found = d.discover("example.org").await.expect("discovered");
    assert_eq!(found.checkpoint, None);
}
