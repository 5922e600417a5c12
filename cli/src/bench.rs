//! `ank bench`: measurements that need a whole program, not a micro-benchmark.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum Bench {
    /// Write a local tiled log of N entries (once) and time `ank verify tiles` on it.
    VerifyTiles {
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Where the log is written; reused when it already holds N entries.
        #[arg(long, default_value = "target/bench-tiled-log")]
        dir: PathBuf,
        #[arg(long, default_value_t = 3)]
        runs: u32,
    },
}

pub fn run(b: Bench) -> Result<()> {
    match b {
        Bench::VerifyTiles { entries, dir, runs } => verify_tiles(entries, &dir, runs),
    }
}

fn verify_tiles(n: u64, dir: &std::path::Path, runs: u32) -> Result<()> {
    let log = ank_test_vectors::log_key();
    let marker = dir.join(format!(".entries-{n}"));
    if !marker.exists() {
        let t = Instant::now();
        let entries: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("bench entry {i:012} {}", "x".repeat(40)).into_bytes())
            .collect();
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        for (p, bytes) in ank_test_vectors::tiled_log(&entries, &log)? {
            let full = dir.join(p);
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&full, bytes)?;
        }
        std::fs::write(&marker, b"")?;
        eprintln!(
            "wrote {n} entries to {} in {:.1?}",
            dir.display(),
            t.elapsed()
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let vkey = log.verifier();
    let mut best = f64::MAX;
    for run in 1..=runs {
        let source = ank_client::Source::parse(&dir.display().to_string())?;
        let t = Instant::now();
        let report = rt.block_on(ank_client::verify_tiles(source, &vkey, |_, _| {}))?;
        let secs = t.elapsed().as_secs_f64();
        best = best.min(secs);
        println!(
            "run {run}: verified {} entries ({} bundles, {} tiles) in {secs:.3} s = {:.0} entries/s",
            report.checkpoint.size(),
            report.bundles,
            report.tiles,
            n as f64 / secs
        );
    }
    println!("best: {:.0} entries/s", n as f64 / best);
    Ok(())
}
