//! `ank monitor`: tells the user when a key for their address changes.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Args;

use ank_client::home::{addresses_with_keys, ank_home, own_signing_keys};
use ank_common::parse_duration;
use ank_proofs::Address;

#[derive(Args, Debug)]
pub struct Monitor {
    /// Addresses to watch (default: every address this device has keys for).
    addresses: Vec<String>,
    /// Keep watching, every --interval.
    #[arg(long)]
    follow: bool,
    /// How often --follow looks again.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    interval: Duration,
    /// Run this command (with `sh -c`) for each alert, the alert as JSON on
    /// its standard input.
    #[arg(long)]
    exec: Option<String>,
    /// Print one JSON line per event.
    #[arg(long)]
    json: bool,
}

/// Alerts were raised: exit 2.
#[derive(Debug)]
pub struct Alerted(pub usize);

impl std::fmt::Display for Alerted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} alert(s): a key of a watched address changed without you",
            self.0
        )
    }
}

impl std::error::Error for Alerted {}

pub fn run(m: Monitor) -> Result<()> {
    let home = ank_home();
    let addresses: Vec<Address> = if m.addresses.is_empty() {
        addresses_with_keys(&home)
    } else {
        m.addresses
            .iter()
            .map(|a| Address::parse(a).with_context(|| format!("{a:?}")))
            .collect::<Result<_>>()?
    };
    if addresses.is_empty() {
        bail!(
            "nothing to watch: no keys under {} and no address given",
            home.display()
        );
    }
    let mut domains: Vec<String> = addresses.iter().map(|a| a.domain().to_owned()).collect();
    domains.sort();
    domains.dedup();
    let rt = crate::runtime()?;
    loop {
        let mut alerts = 0usize;
        for domain in &domains {
            let t = &crate::user::log_of(domain).with_context(|| {
                format!("no log found for {domain}: its DNS publishes none that validates (or run `ank trust add {domain} URL VKEY`)")
            })?;
            let watched: Vec<(Address, Vec<[u8; 32]>)> = addresses
                .iter()
                .filter(|a| a.domain() == domain)
                .map(|a| (a.clone(), own_signing_keys(&home, a).unwrap_or_default()))
                .collect();
            let result = rt.block_on(watch(&home, t, &watched, &m, &mut alerts));
            match result {
                Ok(()) => {}
                // A fork ends even --follow: the evidence is written.
                Err(e) if is_fork(&e) => return Err(e),
                Err(e) if m.follow => eprintln!("error: {domain}: {e:#}"),
                Err(e) => return Err(e),
            }
        }
        if !m.follow {
            if alerts > 0 {
                return Err(Alerted(alerts).into());
            }
            return Ok(());
        }
        std::thread::sleep(m.interval);
    }
}

fn is_fork(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<ank_client::ClientError>(),
            Some(ank_client::ClientError::State(
                ank_client::state::StateError::Fork { .. }
            ))
        )
    })
}

async fn watch(
    home: &std::path::Path,
    t: &ank_client::home::TrustedLog,
    watched: &[(Address, Vec<[u8; 32]>)],
    m: &Monitor,
    alerts: &mut usize,
) -> Result<()> {
    let client = ank_client::log::LogClient::new_pinned(&t.url, t.vkey.clone(), t.tls_pin)?
        .requiring(t.witnesses.clone())
        .remembering(ank_client::state::LogState::new(home));
    // Consistent with everything this user saw of the log (a fork is evidence).
    let cp = client.latest_checkpoint().await?;
    let mut mon = ank_monitor::LogMonitor::open(&home.join("monitor"), cp.origin(), watched)?;
    let source = Arc::new(ank_client::Source::parse_pinned(&t.url, t.tls_pin)?);
    let mut events = Vec::new();
    mon.catch_up(source, &cp, |e| events.push(e), crate::progress_bar())
        .await?;
    for e in events {
        if m.json {
            println!("{}", serde_json::to_string(&e)?);
        } else {
            let devices: Vec<String> = e
                .devices
                .iter()
                .map(|d| format!("{} ed25519 {}", d.name, d.ed25519))
                .collect();
            println!(
                "{}{}: version {} at index {} by {} ({}): {}",
                if e.alert { "ALERT " } else { "" },
                e.address,
                e.version,
                e.index,
                e.authority,
                e.why,
                if devices.is_empty() {
                    "no keys (revoked)".to_owned()
                } else {
                    devices.join(", ")
                }
            );
        }
        if e.alert {
            *alerts += 1;
            if let Some(cmd) = &m.exec {
                run_exec(cmd, &serde_json::to_vec(&e)?)?;
            }
        }
    }
    let _ = std::io::stdout().flush();
    Ok(())
}

fn run_exec(cmd: &str, json: &[u8]) -> Result<()> {
    let mut child = std::process::Command::new("sh")
        .args(["-c", cmd])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("running --exec {cmd:?}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(json)?;
        stdin.write_all(b"\n")?;
    }
    let status = child.wait()?;
    if !status.success() {
        eprintln!("--exec {cmd:?} exited with {status}");
    }
    Ok(())
}
