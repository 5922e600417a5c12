//! `ank-bench`: measurements that need a whole program, not a micro-benchmark.
//! Not part of the shipped `ank` binary; the figures and the commands that
//! produced them are in docs/benchmarks.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};

mod dns;
mod log;
mod monitor;
mod ssh;
mod witness;

#[derive(Parser, Debug)]
#[command(name = "ank-bench", about = "ank's whole-program benchmarks")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

fn main() -> ExitCode {
    match run(Cli::parse().bench) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A tokio runtime for one benchmark.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// A running `ank serve` to load.
#[derive(clap::Args, Debug)]
pub struct Server {
    #[arg(long)]
    url: String,
    /// The server's data directory (for the users' enrollment tokens).
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    domain: String,
}

#[derive(Subcommand, Debug)]
pub enum Bench {
    /// bangmail-receive then bangmail-fetch over SSH, one session each,
    /// against a running `ank serve --ssh-listen` (start it with
    /// --mail-rate 0 and quotas above --messages).
    Ssh {
        #[command(flatten)]
        server: Server,
        /// The SSH door, host:port.
        #[arg(long)]
        door: String,
        /// Its host key's SHA-256, hex (as `ank serve` prints it).
        #[arg(long)]
        sshfp: String,
        #[arg(long, default_value_t = 20_000)]
        messages: u64,
    },
    /// DNS discovery of a signed `_ank` zone on loopback: cold (a new
    /// resolver, DNSSEC validation included) and warm (cached).
    Discover {
        #[arg(long, default_value_t = 1000)]
        runs: usize,
    },
    /// Message submissions with full verification against a running `ank serve`
    /// (start it with --mail-rate 0 and a quota above --messages).
    Mail {
        #[command(flatten)]
        server: Server,
        #[arg(long, default_value_t = 20_000)]
        messages: u64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// Concurrent signed fetches of full mailboxes against a running `ank
    /// serve` (start it with --mail-rate 0 and quotas that fit), sampling the
    /// server's RSS and /healthz latency.
    Fetch {
        #[command(flatten)]
        server: Server,
        /// The server's process id (for its RSS).
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 6)]
        recipients: usize,
        /// Messages per mailbox.
        #[arg(long, default_value_t = 3000)]
        messages: u64,
        #[arg(long, default_value_t = 65536)]
        body_bytes: usize,
        #[arg(long, default_value_t = 2)]
        rounds: u32,
    },
    /// Durable add-checkpoint requests with proofs against an `ank witness`
    /// served over loopback HTTP in this process.
    Witness {
        #[arg(long, default_value = "target/bench-witness")]
        data: PathBuf,
        /// Logs submitting at once (one request in flight per log).
        #[arg(long, default_value_t = 64)]
        logs: u64,
        /// Requests per log, each growing it by one leaf.
        #[arg(long, default_value_t = 200)]
        rounds: u64,
    },
    /// A monitor's catch-up from size 0 on a tile directory or a log's URL.
    Monitor {
        /// A tile directory or an http(s):// prefix.
        #[arg(long)]
        source: String,
        #[arg(long)]
        vkey: String,
        #[arg(long, default_value = "u77@bench.example")]
        address: String,
        #[arg(long, default_value = "target/bench-monitor-state")]
        state: PathBuf,
    },
    /// An auditor's first follow (mirror, tree, replay) of a tile directory or a log's URL.
    Audit {
        #[arg(long)]
        source: String,
        #[arg(long)]
        vkey: String,
        #[arg(long, default_value = "target/bench-audit")]
        data: PathBuf,
    },
    /// Write an `ank serve` data directory's log as a static tile directory.
    ExportTiles {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Durable appends through the sequencer and sqlite, against batch size.
    Sequencer {
        #[arg(long, default_value_t = 200_000)]
        entries: u64,
        #[arg(long, value_delimiter = ',', default_value = "256,1024,4096,16384")]
        batch: Vec<usize>,
        #[arg(long, default_value = "target/bench-sequencer")]
        dir: PathBuf,
    },
    /// Fill a data directory with N bindings (users `u<i>@bench.example`) for the HTTP benchmarks.
    Populate {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        bindings: u64,
        /// How many users get keys of their own (for `bench publish`).
        #[arg(long, default_value_t = 50_000)]
        keyed: u64,
        #[arg(long, default_value_t = 16384)]
        batch: usize,
    },
    /// Random lookups over HTTP against a running `ank serve` of a populated directory.
    Lookup {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 1_000_000)]
        bindings: u64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value = "10s", value_parser = ank_common::parse_duration)]
        duration: std::time::Duration,
        /// Over TLS, the server's pinned key (as `ank serve` prints it as `tls:`).
        #[arg(long)]
        tls_pin: Option<String>,
        /// Over TLS, offer only http/1.1: one kept-alive connection per
        /// concurrent request (by default ALPN picks h2, one connection).
        #[arg(long, requires = "tls_pin")]
        http1: bool,
    },
    /// Signed key rotations over HTTP against a running `ank serve` of a populated directory.
    Publish {
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 50_000)]
        users: u64,
        /// First user to rotate (each user can be rotated from version 1 once).
        #[arg(long, default_value_t = 0)]
        first: u64,
        #[arg(long, default_value_t = 512)]
        concurrency: usize,
    },
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
        Bench::Discover { runs } => crate::dns::discover(runs),
        Bench::Ssh {
            server: Server { url, data, domain },
            door,
            sshfp,
            messages,
        } => crate::ssh::ssh(&url, &data, &domain, &door, &sshfp, messages),
        Bench::VerifyTiles { entries, dir, runs } => verify_tiles(entries, &dir, runs),
        Bench::Mail {
            server: Server { url, data, domain },
            messages,
            concurrency,
        } => crate::log::mail(&url, &data, &domain, messages, concurrency),
        Bench::Fetch {
            server: Server { url, data, domain },
            pid,
            recipients,
            messages,
            body_bytes,
            rounds,
        } => crate::log::fetch(
            &url, &data, &domain, pid, recipients, messages, body_bytes, rounds,
        ),
        Bench::Sequencer {
            entries,
            batch,
            dir,
        } => crate::log::sequencer(entries, &batch, &dir),
        Bench::Witness { data, logs, rounds } => crate::witness::witness(&data, logs, rounds),
        Bench::Monitor {
            source,
            vkey,
            address,
            state,
        } => crate::monitor::monitor(&source, &vkey, &address, &state),
        Bench::ExportTiles { data, out } => crate::monitor::export_tiles(&data, &out),
        Bench::Audit { source, vkey, data } => crate::monitor::audit(&source, &vkey, &data),
        Bench::Populate {
            data,
            bindings,
            keyed,
            batch,
        } => crate::log::populate(&data, bindings, keyed, batch),
        Bench::Lookup {
            url,
            bindings,
            concurrency,
            duration,
            tls_pin,
            http1,
        } => crate::log::lookup(
            &url,
            bindings,
            concurrency,
            duration,
            tls_pin.as_deref(),
            http1,
        ),
        Bench::Publish {
            url,
            users,
            first,
            concurrency,
        } => crate::log::publish(&url, first, users, concurrency),
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
    let rt = crate::runtime()?;
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
