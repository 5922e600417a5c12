//! `ank doctor DOMAIN`: checks, in order, everything a client needs of a
//! domain, and says how to fix what fails.

use std::time::Duration;

use ank_client::discovery::ResolverSettings;
use ank_dns::discover::{Discovered, Discovery, DiscoveryError};
use ank_dns::records::{AnkRecord, ank_name, checkpoint_name, url_host_port};
use ank_proofs::{VerifiedCheckpoint, VerifierKey};
use anyhow::{Result, bail};
use clap::Args;
use serde::Serialize;

#[derive(Args, Debug)]
pub struct Doctor {
    /// The domain to check.
    domain: String,
    /// How old the checkpoint in DNS may be when it is not the log's latest.
    #[arg(long, default_value = "10m", value_parser = ank_common::parse_duration)]
    max_age: Duration,
    /// Print the checks as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Fail,
    /// Not run: an earlier check it needs failed.
    Skip,
}

#[derive(Serialize, Debug)]
struct Check {
    check: &'static str,
    status: Status,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

/// The checks' results, in order.
#[derive(Default)]
struct Report(Vec<Check>);

impl Report {
    fn ok(&mut self, check: &'static str, detail: impl Into<String>) {
        self.0.push(Check {
            check,
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        });
    }
    fn fail(&mut self, check: &'static str, detail: impl Into<String>, fix: impl Into<String>) {
        self.0.push(Check {
            check,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        });
    }
    fn skip_rest(&mut self, after: &str) {
        for c in CHECKS.iter().skip_while(|c| **c != after).skip(1) {
            self.0.push(Check {
                check: c,
                status: Status::Skip,
                detail: format!("needs the {after} check"),
                fix: None,
            });
        }
    }
}

const CHECKS: [&str; 9] = [
    "txt",
    "dnssec",
    "tls",
    "pin",
    "checkpoint",
    "dns-checkpoint",
    "witnesses",
    "mailbox",
    "ssh",
];

/// Exit status 1 with the report printed: some check failed.
#[derive(Debug)]
pub struct Unhealthy(pub usize);

impl std::fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} check(s) failed", self.0)
    }
}

impl std::error::Error for Unhealthy {}

pub fn run(d: Doctor) -> Result<()> {
    let domain = d.domain.trim_end_matches('.').to_ascii_lowercase();
    if ank_proofs::Address::parse(&format!("postmaster@{domain}")).is_err() {
        bail!("{domain:?} is not a valid domain name");
    }
    let settings = crate::dns_settings();
    let report = crate::user::block_on_own(diagnose(&domain, &settings, d.max_age))?;
    let failed = report.0.iter().filter(|c| c.status == Status::Fail).count();
    if d.json {
        println!(
            "{}",
            serde_json::json!({ "domain": domain, "ok": failed == 0, "checks": report.0 })
        );
    } else {
        for c in &report.0 {
            let status = match c.status {
                Status::Ok => "ok  ",
                Status::Fail => "FAIL",
                Status::Skip => "skip",
            };
            println!("{status} {:<15} {}", c.check, c.detail);
            if let Some(f) = &c.fix {
                println!("     {:<15} fix: {f}", "");
            }
        }
    }
    if failed > 0 {
        return Err(Unhealthy(failed).into());
    }
    Ok(())
}

async fn diagnose(domain: &str, settings: &ResolverSettings, max_age: Duration) -> Report {
    let mut r = Report::default();
    let ank = ank_name(domain);
    let discovery = match Discovery::new(settings).await {
        Ok(d) => d,
        Err(e) => {
            r.fail(
                "txt",
                e.to_string(),
                "check --dns-server and --trust-anchor (DS or DNSKEY lines as `ank dns ds` prints)",
            );
            r.skip_rest("txt");
            return r;
        }
    };

    // 1. The TXT exists and parses (read without validation, so that a
    //    missing record is told apart from an unsigned one).
    match discovery.unvalidated_txt(&ank).await {
        Ok(texts) => {
            let parsed: Vec<_> = texts.iter().map(|t| AnkRecord::parse(t)).collect();
            match parsed.as_slice() {
                [Ok(rec)] => r.ok(
                    "txt",
                    format!("{ank} TXT: url={} vkey={}", rec.url, rec.vkey),
                ),
                [Err(e)] => {
                    r.fail(
                        "txt",
                        format!("{ank} TXT does not parse: {e}"),
                        "publish the TXT line `ank dns records --data DIR --url URL` prints",
                    );
                    r.skip_rest("txt");
                    return r;
                }
                _ => {
                    r.fail(
                        "txt",
                        format!(
                            "{ank} has {} TXT records; ank wants exactly one",
                            texts.len()
                        ),
                        "remove all but the line `ank dns records` prints",
                    );
                    r.skip_rest("txt");
                    return r;
                }
            }
        }
        Err(e) => {
            r.fail(
                "txt",
                format!("no {ank} TXT record: {e}"),
                format!("publish the lines `ank dns records --data DIR --url URL` prints, or delegate {ank} to `ank serve --dns-listen` (NS and the DS of `ank dns ds` in the parent zone)"),
            );
            r.skip_rest("txt");
            return r;
        }
    }

    // 2. The DNSSEC chain.
    let found: std::sync::Arc<Discovered> = match discovery.discover(domain).await {
        Ok(f) => {
            r.ok(
                "dnssec",
                format!(
                    "{ank} and {} validate (DNSSEC: secure)",
                    checkpoint_name(domain)
                ),
            );
            f
        }
        Err(e) => {
            let fix = match &e {
                DiscoveryError::Insecure { .. } => format!(
                    "sign {ank}: serve it with `ank serve --dns-listen` (signed online) or sign it at your DNS provider, and publish its DS (`ank dns ds`) in the parent zone"
                ),
                DiscoveryError::Bogus { .. } => format!(
                    "the signatures of {ank} do not validate from the trust anchor: check that the parent's DS is the one `ank dns ds` prints, that the zone is signed with that key, and that its signatures have not expired"
                ),
                _ => "see the error; every record must be secure".to_owned(),
            };
            r.fail("dnssec", e.to_string(), fix);
            r.skip_rest("dnssec");
            return r;
        }
    };
    let rec = &found.record;
    let Ok(vkey) = VerifierKey::parse(&rec.vkey) else {
        // Parsing the record checked the key already.
        r.skip_rest("dnssec");
        return r;
    };

    // 3. TLS 1.3 only.
    let Some((host, port)) = url_host_port(&rec.url) else {
        r.fail(
            "tls",
            format!("the url {} has no host", rec.url),
            "publish an https://host[:port] URL",
        );
        r.skip_rest("tls");
        return r;
    };
    let served_spki = if !rec.url.starts_with("https://") {
        r.fail(
            "tls",
            format!("the url {} is plain HTTP", rec.url),
            "serve TLS (`ank serve --tls-cert/--tls-key` or `--tls-self-signed`) and publish an https:// URL",
        );
        None
    } else {
        let v13 = ank_client::tls::probe(&host, port, true).await;
        let v12 = ank_client::tls::probe(&host, port, false).await;
        match (v13, v12) {
            (Ok(p), Err(_)) => {
                r.ok(
                    "tls",
                    format!(
                        "{host}:{port} speaks TLS 1.3 (ALPN {}) and refuses TLS 1.2",
                        p.alpn.as_deref().unwrap_or("none")
                    ),
                );
                Some(p.spki_sha256)
            }
            (Ok(p), Ok(_)) => {
                r.fail("tls", format!("{host}:{port} accepts TLS 1.2"), "allow TLS 1.3 only (ank serve does); if a proxy terminates TLS, set its minimum version to 1.3");
                Some(p.spki_sha256)
            }
            (Err(e), _) => {
                r.fail("tls", format!("{host}:{port}: no TLS 1.3 handshake: {e}"), "serve TLS 1.3 on the URL's port (`ank serve --tls-cert/--tls-key` or `--tls-self-signed`)");
                None
            }
        }
    };

    // 4. The pin.
    let tlsa = discovery.tlsa(&rec.url).await.unwrap_or_default();
    let b64 = |d: &[u8; 32]| ank_proofs::Hash(*d).to_base64();
    match served_spki {
        None => r.0.push(Check {
            check: "pin",
            status: Status::Skip,
            detail: "needs a TLS 1.3 handshake".into(),
            fix: None,
        }),
        Some(spki) => {
            let mut wrong = Vec::new();
            if let Some(t) = rec.tls
                && t != spki
            {
                wrong.push(format!("tls={} in the TXT", b64(&t)));
            }
            if !tlsa.is_empty() && !tlsa.contains(&spki) {
                wrong.push("the TLSA record".to_owned());
            }
            if !wrong.is_empty() {
                r.fail(
                    "pin",
                    format!("the served certificate's key is {}, which does not match {}", b64(&spki), wrong.join(" or ")),
                    "publish the tls= and TLSA of the served certificate again (`ank dns records`), or serve the certificate they name",
                );
            } else if rec.tls.is_none() && tlsa.is_empty() {
                r.ok("pin", format!("no tls= and no TLSA: clients check the certificate ({}) against WebPKI roots", b64(&spki)));
            } else {
                r.ok(
                    "pin",
                    format!(
                        "the served certificate's key {} matches{}",
                        b64(&spki),
                        if tlsa.is_empty() {
                            " tls="
                        } else {
                            " tls= and TLSA"
                        }
                    ),
                );
            }
        }
    }
    let pin = rec.tls.or_else(|| tlsa.first().copied());

    // 5. The served checkpoint.
    let client = match ank_client::log::LogClient::new_pinned(&rec.url, vkey.clone(), pin) {
        Ok(c) => c,
        Err(e) => {
            r.fail("checkpoint", e.to_string(), "check the URL");
            r.skip_rest("checkpoint");
            return r;
        }
    };
    let served: VerifiedCheckpoint = match client.checkpoint().await {
        Ok(cp) => {
            r.ok(
                "checkpoint",
                format!(
                    "{}/checkpoint: size {}, signed by {}",
                    rec.url,
                    cp.size(),
                    vkey.name()
                ),
            );
            cp
        }
        Err(e) => {
            r.fail(
                "checkpoint",
                format!("{}/checkpoint: {}", rec.url, crate::error_text(&e)),
                "the server must answer with a checkpoint signed by the vkey in DNS: publish `ank dns records` of the data directory that is being served",
            );
            r.skip_rest("checkpoint");
            return r;
        }
    };

    // 6. The checkpoint in DNS.
    dns_checkpoint(&mut r, &client, &discovery, &found, &vkey, &served, max_age).await;

    // 7. Witnesses.
    if rec.witnesses.is_empty() {
        r.ok("witnesses", "no witness policy is published");
    } else {
        let keys: Vec<VerifierKey> = rec
            .witnesses
            .iter()
            .filter_map(|w| VerifierKey::parse(w).ok())
            .collect();
        match ank_client::log::WitnessPolicy::new(keys, Some(rec.quorum), None)
            .and_then(|p| p.check(&served, &vkey, false, ank_common::now_ms() / 1000))
        {
            Ok(()) => r.ok("witnesses", format!("{} of the {} witnesses published cosigned the served checkpoint", rec.quorum, rec.witnesses.len())),
            Err(e) => r.fail("witnesses", e.to_string(), "run the log with the witnesses its DNS names (`ank serve --witness VKEY=URL`), or publish the policy it really has"),
        }
    }

    // 8. The mailbox.
    let mailbox = async {
        let source =
            ank_client::Source::parse_pinned(&format!("{}/", rec.url.trim_end_matches('/')), pin)?;
        let body = source.get("v1/evidence").await?;
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        anyhow::ensure!(
            v.get("evidence").is_some_and(|e| e.is_array()),
            "the answer is not a mailbox's"
        );
        anyhow::Ok(())
    };
    match mailbox.await {
        Ok(()) => r.ok("mailbox", format!("{}/v1/evidence answers", rec.url)),
        Err(e) => r.fail(
            "mailbox",
            format!("{}/v1/evidence: {e:#}", rec.url),
            "run the mailbox beside the log (ank serve does) at the published URL",
        ),
    }

    // 9. The SSH door, when one is published.
    match (&rec.ssh, found.sshfp.as_slice()) {
        (None, _) => r.ok("ssh", "no SSH door is published"),
        (Some(door), []) => r.fail(
            "ssh",
            format!("the TXT names the SSH door {door}, but {ank} has no validated SSHFP 4 2 record: clients cannot check its host key"),
            "publish the SSHFP line `ank dns records --ssh HOST:PORT` prints (ank serve --dns-listen does), in the signed zone",
        ),
        (Some(door), published) => {
            let mut last = None;
            for fp in published {
                let endpoint = ank_ssh::client::Endpoint {
                    addr: door.clone(),
                    host_key_sha256: *fp,
                };
                match ank_ssh::client::probe(&endpoint).await {
                    Ok(()) => {
                        last = None;
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            match last {
                None => r.ok(
                    "ssh",
                    format!("{door} answers SSH with the host key SSHFP publishes"),
                ),
                Some(e @ ank_ssh::client::SshError::HostKey { .. }) => r.fail(
                    "ssh",
                    e.to_string(),
                    "publish the SSHFP of the door's host key (`ank serve` prints it as sshfp:), or serve the key the record names (<data>/ssh-host.key)",
                ),
                Some(e) => r.fail(
                    "ssh",
                    e.to_string(),
                    "serve the door at the published address (`ank serve --ssh-listen ADDR --public-ssh HOST:PORT`), or publish where it is",
                ),
            }
        }
    }
    r
}

async fn dns_checkpoint(
    r: &mut Report,
    client: &ank_client::log::LogClient,
    discovery: &Discovery,
    found: &Discovered,
    vkey: &VerifierKey,
    served: &VerifiedCheckpoint,
    max_age: Duration,
) {
    let name = checkpoint_name(&found.domain);
    let Some(bytes) = &found.checkpoint else {
        r.fail(
            "dns-checkpoint",
            format!("no {name} TXT"),
            format!(
                "publish the latest checkpoint at {name} (`ank serve --dns-listen` keeps it fresh)"
            ),
        );
        return;
    };
    let cp = match ank_proofs::verify_checkpoint(bytes, vkey, &[]) {
        Ok(c) => c,
        Err(e) => {
            r.fail(
                "dns-checkpoint",
                format!("{name} does not verify under the vkey in DNS: {e}"),
                "publish a checkpoint of this log",
            );
            return;
        }
    };
    let fork = "the log and its DNS show two histories: keep both notes, they are evidence";
    if cp.size() > served.size() {
        r.fail(
            "dns-checkpoint",
            format!(
                "{name} is at size {}, ahead of the served {} (the log went back?)",
                cp.size(),
                served.size()
            ),
            fork,
        );
        return;
    }
    if cp.size() == served.size() {
        if cp.root() == served.root() {
            r.ok(
                "dns-checkpoint",
                format!("{name} is the served checkpoint (size {})", cp.size()),
            );
        } else {
            r.fail(
                "dns-checkpoint",
                format!(
                    "{name} and the served checkpoint have size {} and different roots",
                    cp.size()
                ),
                fork,
            );
        }
        return;
    }
    if cp.size() > 0 {
        match client.consistency(cp.size(), served.size()).await {
            Ok(proof)
                if ank_proofs::verify_consistency(
                    cp.size(),
                    served.size(),
                    &proof,
                    cp.root(),
                    served.root(),
                )
                .is_ok() => {}
            Ok(_) => {
                r.fail(
                    "dns-checkpoint",
                    format!(
                        "{name} (size {}) is not consistent with the served checkpoint (size {})",
                        cp.size(),
                        served.size()
                    ),
                    fork,
                );
                return;
            }
            Err(e) => {
                r.fail(
                    "dns-checkpoint",
                    format!(
                        "no consistency proof from size {} to {}: {}",
                        cp.size(),
                        served.size(),
                        crate::error_text(&e)
                    ),
                    "the log must serve /v1/proof/consistency",
                );
                return;
            }
        }
    }
    // Behind the log: a publisher that follows it catches up within a
    // second or two (ank's own server and its updates look every second).
    tokio::time::sleep(Duration::from_secs(2)).await;
    discovery.clear_cache();
    if let Ok(again) = discovery.discover(&found.domain).await
        && let Some(b) = &again.checkpoint
        && let Ok(newer) = ank_proofs::verify_checkpoint(b, vkey, &[])
        && newer.size() >= served.size()
    {
        let proof_ok = if newer.size() == served.size() {
            newer.root() == served.root()
        } else {
            match client.consistency(served.size(), newer.size()).await {
                Ok(p) => ank_proofs::verify_consistency(
                    served.size(),
                    newer.size(),
                    &p,
                    served.root(),
                    newer.root(),
                )
                .is_ok(),
                Err(_) => false,
            }
        };
        if proof_ok {
            r.ok(
                "dns-checkpoint",
                format!("{name} follows the log: size {} two seconds after {}, consistent with the served {}", newer.size(), cp.size(), served.size()),
            );
        } else {
            r.fail(
                "dns-checkpoint",
                format!(
                    "{name} moved to size {}, which is not consistent with the served checkpoint",
                    newer.size()
                ),
                fork,
            );
        }
        return;
    }
    // It did not move: how old is it? The newest cosignature, else the
    // signature over the record (an upper bound: signers may backdate it).
    let newest_cosig = cp.cosignatures().iter().map(|c| c.timestamp).max();
    let since = newest_cosig.max(found.checkpoint_signed_at);
    let now = ank_common::now_ms() / 1000;
    match since {
        Some(t) if now.saturating_sub(t) <= max_age.as_secs() => r.ok(
            "dns-checkpoint",
            format!("{name} (size {}) is consistent with the served {} and {}s old", cp.size(), served.size(), now.saturating_sub(t)),
        ),
        _ => r.fail(
            "dns-checkpoint",
            format!(
                "{name} is stale: size {} {}, while the log is at {}",
                cp.size(),
                since.map_or("of unknown age".to_owned(), |t| format!("published {}s ago", now.saturating_sub(t))),
                served.size()
            ),
            format!("keep {name} fresh: `ank serve --dns-listen` re-publishes it every second; a static zone must be updated with each checkpoint"),
        ),
    }
}
