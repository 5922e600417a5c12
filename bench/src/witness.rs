//! `ank-bench witness`: durable add-checkpoint requests with consistency
//! proofs against a witness served over loopback HTTP in this process.

use std::path::Path;
use std::time::{Duration, Instant};

use ank_proofs::note::{ALG_COSIGNATURE_V1, ALG_ED25519};
use ank_proofs::{Checkpoint, SignerKey, TreeBuilder, leaf_hash, prove_consistency};
use anyhow::{Result, bail};

/// `logs` logs, each growing one leaf per request for `rounds` requests
/// (each with its consistency proof), all at once: one request in flight
/// per log, as a log sends them.
pub fn witness(data: &Path, logs: u64, rounds: u64) -> Result<()> {
    let _ = std::fs::remove_dir_all(data);
    std::fs::create_dir_all(data)?;
    let keys: Vec<SignerKey> = (0..logs)
        .map(|i| {
            let seed = ank_proofs::hash::sha256(&i.to_be_bytes()).0;
            SignerKey::from_seed(&format!("log{i}.bench.example/ank"), ALG_ED25519, seed)
        })
        .collect::<Result<_, _>>()?;
    let vkeys: Vec<_> = keys.iter().map(SignerKey::verifier).collect();
    let wkey = SignerKey::from_seed("witness.bench.example", ALG_COSIGNATURE_V1, [0x33; 32])?;
    // As `ank witness serve` runs: both cosignatures, Ed25519 and ML-DSA-44.
    let mldsa = ank_auditor::mldsa::MlDsaCosigner::from_seed(wkey.name(), &[0x44; 32])
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let witness = ank_auditor::witness::Witness::open_checked(
        wkey,
        Some(mldsa),
        &vkeys,
        &data.join("witness.sqlite"),
        None,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Every request body, made before the clock starts.
    let t = Instant::now();
    let bodies: Vec<Vec<String>> = keys
        .iter()
        .map(|key| {
            let mut b = TreeBuilder::new();
            let mut stored = Vec::new();
            let mut out = Vec::with_capacity(rounds as usize);
            for r in 0..rounds {
                stored.extend(b.push_stored(leaf_hash(&r.to_be_bytes())));
                let size = r + 1;
                let mut body = format!("old {r}\n");
                if r > 0 {
                    for h in prove_consistency(r, size, stored.as_slice())? {
                        body.push_str(&format!("{h}\n"));
                    }
                }
                body.push('\n');
                body.push_str(
                    &Checkpoint {
                        origin: key.name().to_owned(),
                        size,
                        root: b.root(),
                        extensions: vec![],
                    }
                    .sign(key)?
                    .to_text(),
                );
                out.push(body);
            }
            Ok(out)
        })
        .collect::<Result<_, ank_proofs::Error>>()?;
    eprintln!("made {} requests in {:.1?}", logs * rounds, t.elapsed());
    let rt = crate::runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/add-checkpoint", listener.local_addr()?);
        tokio::spawn(ank_log_server::conn::serve(
            listener,
            ank_auditor::witness_router(witness),
            ank_log_server::conn::Limits::default(),
            std::future::pending(),
        ));
        let client = crate::log::http()?;
        let t0 = Instant::now();
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|log| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move {
                    let mut lat = Vec::with_capacity(log.len());
                    for body in log {
                        let t = Instant::now();
                        let r = client.post(&url).body(body).send().await?;
                        let status = r.status();
                        let text = r.text().await?;
                        if status != reqwest::StatusCode::OK {
                            bail!("HTTP {status}: {text}");
                        }
                        lat.push(t.elapsed());
                    }
                    Ok::<_, anyhow::Error>(lat)
                })
            })
            .collect();
        let mut lat: Vec<Duration> = Vec::new();
        for t in tasks {
            lat.extend(t.await??);
        }
        let elapsed = t0.elapsed();
        lat.sort();
        crate::log::report(
            &format!("add-checkpoint with proofs, durable ({logs} logs at once)"),
            lat.len() as u64,
            elapsed,
            &lat,
        );
        Ok(())
    })
}
