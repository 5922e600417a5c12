//! `ank audit`: an auditing witness that follows logs, replays them, and
//! gossips with its peers.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};

use ank_auditor::audit::{Auditor, LogSpec};
use ank_auditor::witness::{Witness, WitnessError};
use ank_common::parse_duration;

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Follow and replay logs, cosign (as a C2SP witness) only checkpoints
    /// the replay verified, and gossip checkpoints and evidence with peers.
    Serve(AuditServe),
}

#[derive(Args, Debug)]
pub struct AuditServe {
    /// Data directory: the witness key (`witness.key`), the witness state
    /// (`witness.sqlite`) and each log's copy (`audit.sqlite`).
    #[arg(long)]
    data: PathBuf,
    /// The auditor's name as a witness, required on first start.
    #[arg(long)]
    name: Option<String>,
    /// Address to listen on (loopback only until TLS arrives).
    #[arg(long, default_value = "127.0.0.1:7390")]
    listen: std::net::SocketAddr,
    /// A log to audit, as `DOMAIN=URL+VKEY` (URL: an http(s):// prefix or a
    /// tile directory); repeatable.
    #[arg(long = "log", required = true, value_parser = parse_log)]
    logs: Vec<LogSpec>,
    /// Another auditor to gossip with (its URL); repeatable.
    #[arg(long = "peer")]
    peers: Vec<String>,
    /// How often each log is followed and the latest checkpoints gossiped.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    interval: Duration,
}

/// `DOMAIN=URL+VKEY`: the vkey is found by its name, which starts with the domain.
fn parse_log(s: &str) -> Result<LogSpec, String> {
    let (domain, rest) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not DOMAIN=URL+VKEY"))?;
    let at = rest
        .find(&format!("+{domain}/"))
        .ok_or_else(|| format!("{s:?}: no +VKEY of a {domain} log after the URL"))?;
    let vkey = ank_proofs::VerifierKey::parse(&rest[at + 1..]).map_err(|e| format!("{e}"))?;
    Ok(LogSpec {
        domain: domain.to_owned(),
        source: rest[..at].to_owned(),
        vkey,
    })
}

pub fn run(c: AuditCmd) -> Result<()> {
    let AuditCmd::Serve(a) = c;
    crate::witness::loopback_only(&a.listen)?;
    let (dir, key, lock) = crate::witness::open_dir(&a.data, a.name.as_deref(), "ank audit")?;
    let vkeys: Vec<_> = a.logs.iter().map(|l| l.vkey.clone()).collect();
    let rt = crate::runtime()?;
    rt.block_on(async move {
        let auditor = Auditor::open(&a.data.join("audit.sqlite"), a.logs.clone())?;
        let handle = tokio::runtime::Handle::current();
        let checker = Arc::clone(&auditor);
        let check: ank_auditor::witness::CosignCheck = Arc::new(move |origin, size, root| {
            handle
                .block_on(checker.verified(origin, size, root))
                .map_err(|e| WitnessError::NotAudited(e.to_string()))
        });
        let mldsa = dir.mldsa(key.name())?;
        let witness = Witness::open_checked(key, Some(mldsa), &vkeys, &dir.db(), Some(check))?;
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("listening on {}", a.listen))?;
        let addr = listener.local_addr()?;
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "ank audit {}", witness.vkey().name());
            let _ = writeln!(out, "  vkey: {}", witness.vkey().to_text());
            let _ = writeln!(out, "  url:  http://{addr}/");
            let _ = writeln!(out, "  logs: {}", auditor.origins().len());
            let _ = out.flush();
        }
        let peers = Arc::new(a.peers.clone());
        let state = ank_auditor::AuditState {
            auditor: Arc::clone(&auditor),
            peers: Arc::clone(&peers),
            http: reqwest::Client::new(),
        };
        let interval = a.interval;
        tokio::spawn(async move {
            loop {
                state.round().await;
                tokio::time::sleep(interval).await;
            }
        });
        ank_log_server::conn::serve(
            listener,
            ank_auditor::audit_router(auditor, witness, peers),
            ank_log_server::conn::Limits::default(),
            crate::operator::shutdown_signal(),
        )
        .await?;
        drop(lock);
        Ok(())
    })
}
