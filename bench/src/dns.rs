//! `ank-bench discover`: discovery through the validating resolver against
//! a signed `_ank` zone served on loopback by this process.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use ank_dns::discover::{Discovery, ResolverSettings};
use ank_dns::records::AnkRecord;
use ank_dns::zone::{AnkZone, ZoneContent, ZoneKey};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn report(what: &str, mut t: Vec<Duration>) {
    t.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{what}: {} runs, median {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        t.len(),
        us(percentile(&t, 0.5)),
        us(percentile(&t, 0.9)),
        us(percentile(&t, 0.99)),
        us(t.last().copied().unwrap_or_default()),
    );
}

/// Cold: a new resolver with empty caches each run (the anchor file read,
/// the `_ank` TXT, the checkpoint TXT and the DNSKEY set fetched over UDP
/// and validated). Warm: the same lookup answered from the cache.
pub fn discover(runs: usize) -> Result<()> {
    let rt = crate::runtime()?;
    let key = ZoneKey::ephemeral().map_err(anyhow::Error::msg)?;
    let signer = ank_proofs::note::SignerKey::from_seed("bench.example/ank", 1, [3; 32])?;
    let content = ZoneContent {
        record: AnkRecord {
            url: "https://127.0.0.1:8443".into(),
            vkey: signer.verifier().to_text(),
            tls: Some([1; 32]),
            ssh: None,
            witnesses: vec![],
            quorum: 0,
        },
        checkpoint: Some(
            "bench.example/ank\n1000000\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— bench.example/ank AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
                .as_bytes()
                .to_vec(),
        ),
        sshfp: None,
    };
    let dir = std::env::temp_dir().join(format!("ank-bench-dns-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let anchor = dir.join("anchor");
    std::fs::write(&anchor, key.dnskey_record("_ank.bench.example"))?;
    let zone = AnkZone::new("bench.example", Some(key), &content)?;
    let server = rt.block_on(async {
        ank_dns::zone::start(&zone, "127.0.0.1:0".parse()?).context("serving")
    })?;
    let settings = ResolverSettings {
        server: Some(server.addr),
        zones: Vec::new(),
        trust_anchor: Some(anchor),
    };
    rt.block_on(async {
        let mut cold = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let d = Discovery::new(&settings).await?;
            let found = d.discover("bench.example").await?;
            cold.push(t.elapsed());
            anyhow::ensure!(found.checkpoint.is_some(), "no checkpoint discovered");
        }
        report("cold (new resolver, empty caches)", cold);
        let d = Discovery::new(&settings).await?;
        d.discover("bench.example").await?;
        let mut warm = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let found = d.discover("bench.example").await?;
            warm.push(t.elapsed());
            anyhow::ensure!(found.record.tls == Some([1; 32]), "wrong record");
        }
        report("warm (cached)", warm);
        anyhow::Ok(())
    })?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
