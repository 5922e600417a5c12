//! Operator commands: `ank serve` and `ank log …`.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ank_log_server::store::LogStore as _;
use ank_log_server::{DataDir, ServeConfig};
use ank_proofs::{Address, Device, KeySet};
use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};

pub use ank_common::parse_duration;

#[derive(Args, Debug)]
pub struct Serve {
    /// The domain whose addresses this log holds.
    #[arg(long)]
    domain: String,
    /// Data directory (created on first start).
    #[arg(long, default_value = "ank-data")]
    data: PathBuf,
    /// Address to listen on. Plain HTTP is for loopback only until TLS arrives.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// How often pending publishes are sequenced into a signed checkpoint.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    interval: Duration,
    /// Most publishes sequenced in one batch.
    #[arg(long, default_value_t = 4096)]
    max_batch: usize,
    /// The log's origin and key name (default: DOMAIN/ank); it must start with DOMAIN/.
    #[arg(long)]
    origin: Option<String>,
    /// How long unread mail is kept.
    #[arg(long, default_value = "7d", value_parser = parse_duration)]
    mail_ttl: Duration,
    /// Messages a minute accepted per sender and per client IP (0: no limit).
    #[arg(long, default_value_t = 600)]
    mail_rate: u32,
    /// Most unread messages per recipient.
    #[arg(long, default_value_t = 10_000)]
    mail_quota: u64,
    /// Most unread bytes per recipient.
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    mail_quota_bytes: u64,
    /// Most unread messages from one sender to one recipient.
    #[arg(long, default_value_t = 1_000)]
    mail_sender_quota: u64,
    /// Most unread bytes from one sender to one recipient.
    #[arg(long, default_value_t = 32 * 1024 * 1024)]
    mail_sender_quota_bytes: u64,
    /// Most bytes of mail stored for everyone together: new mail is refused
    /// (507 mailbox_full) beyond it, while fetch and acknowledge keep working.
    #[arg(long, default_value_t = 8 * 1024 * 1024 * 1024)]
    mail_max_bytes: u64,
    /// A `host[:port]` users reach this mailbox by (its public name); repeat
    /// the flag. Signed fetches name it. The listening address always counts.
    #[arg(long)]
    mail_authority: Vec<String>,
    /// Most connections served at once; more are answered 503 and closed
    /// (never above the open-file limit, which is raised at start).
    #[arg(long, default_value_t = 4096)]
    max_connections: usize,
    /// How long a connection may take to send a request's headers (and may
    /// stay idle between requests).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    header_timeout: Duration,
    /// How long a request, body included, may take before it is answered 408.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// How old another log's checkpoint may be before answers cached from it
    /// are checked again (one small signed fetch): a revocation there takes
    /// effect here within about this long.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    mail_freshness: Duration,
    /// Accept mail from senders whose domain has no trusted log (default: refuse).
    #[arg(long)]
    mail_allow_unauthenticated: bool,
    /// Serve TLS 1.3 with this certificate chain (PEM); with --tls-key.
    #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve TLS 1.3 with a self-signed certificate made once and kept in
    /// the data directory (its key stays, so a DANE-EE pin stays valid).
    #[arg(long)]
    tls_self_signed: bool,
    /// An auditor (its URL) to send the split-view evidence the mailbox
    /// finds to; repeatable.
    #[arg(long = "auditor")]
    auditors: Vec<String>,
    /// A witness to cosign every checkpoint, as `VKEY=URL` (its cosignature/v1
    /// key, then its submission prefix); repeatable.
    #[arg(long = "witness", value_parser = parse_witness)]
    witnesses: Vec<(ank_proofs::VerifierKey, String)>,
    /// How often the latest checkpoint is sent to the witnesses again, even
    /// with nothing new, so that its cosignatures show the log is alive.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    witness_interval: Duration,
    /// How long a witness may take to answer before the log goes on without
    /// its cosignature.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    witness_timeout: Duration,
    /// How many of the --witness keys clients should require, as published
    /// in DNS (default: all of them).
    #[arg(long)]
    witness_quorum: Option<usize>,
    /// Answer for the DNSSEC-signed zone `_ank.DOMAIN` on this address, UDP
    /// and TCP (delegate `_ank.DOMAIN` here; `ank dns ds` prints the DS).
    #[arg(long)]
    dns_listen: Option<std::net::SocketAddr>,
    /// Keep `_ank.DOMAIN` fresh at this primary (IP:PORT) with RFC 2136
    /// updates signed with --tsig-key: for a zone kept at a DNS provider
    /// that signs it.
    #[arg(long, requires = "tsig_key")]
    dns_update: Option<std::net::SocketAddr>,
    /// The TSIG key for --dns-update, in BIND's format (`tsig-keygen`).
    #[arg(long, requires = "dns_update")]
    tsig_key: Option<PathBuf>,
    /// The URL clients use to reach this server, as published in DNS
    /// (default: the listening address).
    #[arg(long)]
    public_url: Option<String>,
    /// Also serve the Bangmail SSH door on this address (port 2222 by
    /// convention): bangmail-receive, bangmail-fetch, bangmail-ack.
    #[arg(long)]
    ssh_listen: Option<std::net::SocketAddr>,
    /// The `host:port` clients reach the SSH door by, as published in DNS
    /// (default: the --ssh-listen address).
    #[arg(long, requires = "ssh_listen")]
    public_ssh: Option<String>,
    /// Most SSH connections at once.
    #[arg(long, default_value_t = 256, requires = "ssh_listen")]
    ssh_max_connections: usize,
    /// Most SSH connections at once from one client address.
    #[arg(long, default_value_t = 16, requires = "ssh_listen")]
    ssh_max_per_address: usize,
    /// How long an SSH connection may take to authenticate.
    #[arg(long, default_value = "30s", value_parser = parse_duration, requires = "ssh_listen")]
    ssh_login_grace: std::time::Duration,
    /// The longest an SSH session may last.
    #[arg(long, default_value = "30m", value_parser = parse_duration, requires = "ssh_listen")]
    ssh_session_limit: std::time::Duration,
    /// Most bytes of standard input one SSH session may send.
    #[arg(long, default_value_t = 256 * 1024 * 1024, requires = "ssh_listen")]
    ssh_max_input: u64,
    /// How long an SSH connection may stay silent.
    #[arg(long, default_value = "60s", value_parser = parse_duration, requires = "ssh_listen")]
    ssh_idle: std::time::Duration,
}

/// `VKEY=URL`: a vkey may end in `=` (base64 padding), so the URL is found
/// by its scheme.
fn parse_witness(s: &str) -> Result<(ank_proofs::VerifierKey, String), String> {
    let at = s
        .find("=http://")
        .or_else(|| s.find("=https://"))
        .ok_or_else(|| format!("{s:?} is not VKEY=URL (an http:// or https:// URL)"))?;
    let vkey = ank_proofs::VerifierKey::parse(&s[..at]).map_err(|e| format!("witness key: {e}"))?;
    if vkey.alg() != ank_proofs::note::ALG_COSIGNATURE_V1 {
        return Err(format!(
            "{} is not a cosignature/v1 key (type 0x04)",
            vkey.to_text()
        ));
    }
    Ok((vkey, s[at + 1..].to_owned()))
}

pub fn serve(a: Serve) -> Result<()> {
    let tls_on = a.tls_cert.is_some() || a.tls_self_signed;
    if !tls_on && !a.listen.ip().is_loopback() {
        bail!(
            "plain HTTP is only served on loopback; serve TLS (--tls-cert/--tls-key or --tls-self-signed) to listen on {}",
            a.listen
        );
    }
    let domain = Address::parse(&format!("postmaster@{}", a.domain))
        .map_err(|_| anyhow::anyhow!("--domain {:?} is not a valid domain name", a.domain))?
        .domain()
        .to_owned();
    let nofile = ank_log_server::conn::raise_nofile_limit();
    // The mailbox seals stored mail under this key: no key, no server.
    let storage = ank_mailbox::at_rest::StorageKey::from_env()?;
    ank_common::fs::create_private_dir(&a.data)
        .with_context(|| format!("creating {}", a.data.display()))?;
    let mail_store = Arc::new(ank_mailbox::store::MailStore::open(
        &a.data.join("mail.sqlite"),
        storage,
    )?);
    let remote = Arc::new(
        ank_mailbox::directory::HttpDirectory::from_trust_file(
            &ank_client::home::ank_home(),
            Duration::from_secs(60),
            a.mail_freshness,
        )?
        .discovering(crate::dns_settings()),
    );
    let mail_settings = ank_mailbox::api::MailSettings {
        authorities: a
            .mail_authority
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        ttl: a.mail_ttl,
        quota: ank_mailbox::store::Quota {
            messages: a.mail_quota,
            bytes: a.mail_quota_bytes,
            sender_messages: a.mail_sender_quota,
            sender_bytes: a.mail_sender_quota_bytes,
            total_bytes: a.mail_max_bytes,
        },
        rate_per_minute: a.mail_rate,
        allow_unauthenticated: a.mail_allow_unauthenticated,
        auditors: a.auditors.clone(),
    };
    let tls = match (&a.tls_cert, &a.tls_key, a.tls_self_signed) {
        (Some(cert), Some(key), _) => Some(ank_log_server::tls::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        (_, _, true) => {
            let mut names = vec![domain.clone(), "localhost".to_owned()];
            if !a.listen.ip().is_unspecified() {
                names.push(a.listen.ip().to_string());
            }
            Some(ank_log_server::tls::TlsFiles::self_signed(&a.data, &names)?)
        }
        _ => None,
    }
    .map(ank_log_server::tls::Reloadable::load)
    .transpose()?;
    let origin = a.origin.unwrap_or_else(|| format!("{domain}/ank"));
    // The origin names the domain: clients check a log's key name against it.
    if !ank_client::home::names_domain(&origin, &domain) {
        bail!("--origin {origin:?} must start with \"{domain}/\" (the log's domain, then a path)");
    }
    // The SSH door: its host key and port, ready before the log opens.
    let ssh = match a.ssh_listen {
        Some(listen) => {
            let key = ank_ssh::keys::host_key(&a.data.join("ssh-host.key"))?;
            let listener = std::net::TcpListener::bind(listen)
                .with_context(|| format!("--ssh-listen {listen}"))?;
            // Tokio needs a non-blocking listener.
            listener.set_nonblocking(true)?;
            let settings = ank_ssh::server::SshSettings {
                max_connections: a.ssh_max_connections,
                max_per_address: a.ssh_max_per_address,
                login_grace: a.ssh_login_grace,
                session_limit: a.ssh_session_limit,
                idle: a.ssh_idle,
                max_stdin: a.ssh_max_input,
            };
            Some((key, listener, settings))
        }
        None => None,
    };
    let ssh_report = match &ssh {
        Some((key, l, _)) => Some((
            l.local_addr()?,
            key.public_key().to_openssh().unwrap_or_default(),
            ank_ssh::keys::sshfp_line(&domain, key.public_key(), 3600),
            ank_ssh::keys::host_digest(key.public_key()),
        )),
        None => None,
    };
    let cfg = ServeConfig {
        data: a.data.clone(),
        origin,
        listen: a.listen,
        sequencer: ank_log_server::sequencer::Settings {
            interval: a.interval,
            max_batch: a.max_batch.max(1),
            ..Default::default()
        },
        limits: ank_log_server::conn::Limits {
            // Room is left for the databases, the log files and outgoing lookups.
            max_connections: a
                .max_connections
                .min(usize::try_from(nofile.saturating_sub(256)).unwrap_or(usize::MAX))
                .max(1),
            header_timeout: a.header_timeout,
            request_timeout: a.request_timeout,
        },
        witnesses: a.witnesses.clone(),
        witness_timeout: a.witness_timeout,
        witness_interval: a.witness_interval,
        tls: tls.clone(),
        dns: if a.dns_listen.is_some() || a.dns_update.is_some() {
            Some(ank_log_server::dns::DnsSettings {
                listen: a.dns_listen,
                update: match (a.dns_update, &a.tsig_key) {
                    (Some(server), Some(key)) => {
                        Some((server, ank_dns::update::TsigKey::read(key)?))
                    }
                    _ => None,
                },
                url: a.public_url.clone(),
                domain: domain.clone(),
                quorum: a.witness_quorum,
                ssh: ssh_report.as_ref().map(|(addr, _, _, fp)| {
                    (
                        a.public_ssh.clone().unwrap_or_else(|| addr.to_string()),
                        *fp,
                    )
                }),
            })
        } else {
            None
        },
    };
    let rt = crate::runtime()?;
    rt.block_on(ank_log_server::serve(
        cfg,
        |log, addr| {
            let mut mail_settings = mail_settings;
            mail_settings
                .authorities
                .extend([addr.to_string(), format!("localhost:{}", addr.port())]);
            let resolver = ank_mailbox::directory::Resolver {
                domain: domain.clone(),
                local: Arc::new(ank_log_server::directory::LocalDirectory::new(Arc::clone(
                    log,
                ))),
                remote,
            };
            let state =
                ank_mailbox::api::MailState::new(mail_store, Arc::new(resolver), mail_settings)
                    .with_log(Arc::clone(log) as Arc<dyn ank_mailbox::api::LogView>);
            if let Some((key, listener, settings)) = ssh {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => {
                        let door =
                            ank_ssh::server::SshServer::new(state.clone(), &domain, key, settings);
                        tokio::spawn(door.serve(l, std::future::pending()));
                    }
                    Err(e) => eprintln!("ssh: not served: {e}"),
                }
            }
            ank_mailbox::api::router(state)
        },
        |r| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "ank log {}", r.log.origin());
            let _ = writeln!(out, "  vkey: {}", r.log.vkey.to_text());
            match &tls {
                Some(t) => {
                    let _ = writeln!(out, "  url:  https://{}/", r.addr);
                    let _ = writeln!(
                        out,
                        "  tls:  {} (SHA-256 of the certificate's public key)",
                        t.spki_sha256()
                    );
                }
                None => {
                    let _ = writeln!(out, "  url:  http://{}/", r.addr);
                }
            }
            if let Some((addr, host, sshfp, _)) = &ssh_report {
                let _ = writeln!(
                    out,
                    "  ssh:  {addr} (bangmail-receive, bangmail-fetch, bangmail-ack)"
                );
                let _ = writeln!(out, "  host: {host}");
                let _ = writeln!(out, "  sshfp: {sshfp}");
            }
            if let Some((addr, ds)) = &r.dns {
                let _ = writeln!(out, "  dns:  {addr} (_ank.{domain}, UDP and TCP)");
                let _ = writeln!(out, "  ds:   {ds}");
            }
            let state = if r.created { "created" } else { "reused" };
            let _ = writeln!(out, "  data: {} ({state})", a.data.display());
            let _ = writeln!(out, "  size: {}", r.log.latest().size);
            let _ = out.flush();
        },
        shutdown_signal(),
    ))?;
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match term {
            Ok(mut t) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = t.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[derive(Subcommand, Debug)]
pub enum LogCmd {
    /// Print the log's verifier key.
    Vkey {
        #[arg(long, default_value = "ank-data")]
        data: PathBuf,
    },
    /// Issue a one-time enrollment token for an address's first binding.
    Enroll {
        address: String,
        #[arg(long, default_value = "ank-data")]
        data: PathBuf,
        /// How long the token stays valid.
        #[arg(long, default_value = "7d", value_parser = parse_duration)]
        ttl: Duration,
    },
    /// Replace an address's keys as the operator (recovery); the entry records it.
    Recover {
        address: String,
        #[arg(long, default_value = "ank-data")]
        data: PathBuf,
        /// The new device's name.
        #[arg(long, required_unless_present = "revoke")]
        device: Option<String>,
        /// The new device's Ed25519 public key (base64), as `ank init` prints it.
        #[arg(long, required_unless_present = "revoke")]
        ed25519: Option<String>,
        /// The new device's X25519 public key (base64).
        #[arg(long, required_unless_present = "revoke")]
        x25519: Option<String>,
        /// Remove every key instead.
        #[arg(long, conflicts_with_all = ["device", "ed25519", "x25519"])]
        revoke: bool,
        /// How long to wait for the running server to log it.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        wait: Duration,
    },
}

fn b64_32(s: &str, what: &str) -> Result<[u8; 32]> {
    ank_common::b64_array(s).with_context(|| format!("--{what} must be base64 of 32 bytes"))
}

pub fn log(cmd: LogCmd) -> Result<()> {
    match cmd {
        LogCmd::Vkey { data } => {
            println!("{}", DataDir(data).read_key()?.verifier().to_text());
        }
        LogCmd::Enroll { address, data, ttl } => {
            let address = Address::parse(&address)?;
            let token = DataDir(data)
                .enroll(&address, u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))?;
            println!("{token}");
            eprintln!(
                "one-time enrollment token for {address}, valid for {}s",
                ttl.as_secs()
            );
        }
        LogCmd::Recover {
            address,
            data,
            device,
            ed25519,
            x25519,
            revoke,
            wait,
        } => {
            let address = Address::parse(&address)?;
            let dir = DataDir(data);
            dir.check_domain(&address)?;
            let key_set = if revoke {
                KeySet::empty()
            } else {
                let (Some(name), Some(e), Some(x)) = (device, ed25519, x25519) else {
                    bail!("give --device, --ed25519 and --x25519, or --revoke");
                };
                KeySet::new(vec![Device {
                    name,
                    signing_key: b64_32(&e, "ed25519")?,
                    encryption_key: b64_32(&x, "x25519")?,
                }])?
            };
            let store = dir.open_store()?;
            let id = store.add_operator_request(&address.label(), &key_set.encode())?;
            let until = std::time::Instant::now() + wait;
            loop {
                if let Some(idx) = store.operator_request_done(id)? {
                    println!("recovered {address}: operator binding logged at index {idx}");
                    return Ok(());
                }
                if std::time::Instant::now() >= until {
                    println!("queued recovery of {address}; the running ank serve will log it");
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    Ok(())
}
