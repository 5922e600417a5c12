//! `ank dns`: the records a domain publishes, and the DS for its parent.

use std::path::PathBuf;

use ank_log_server::DataDir;
use ank_log_server::store::LogStore as _;
use ank_proofs::VerifierKey;
use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};

/// What `_ank.DOMAIN` is made of: the log in a data directory, the URL
/// clients use, the served certificate and the witness policy.
#[derive(Args, Debug)]
pub struct Published {
    #[arg(long, default_value = "ank-data")]
    data: PathBuf,
    /// The URL clients use to reach the server (`https://host[:port]`).
    #[arg(long)]
    url: String,
    /// The served certificate (PEM), with --tls-key (default: the data
    /// directory's self-signed pair, when there is one).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A witness clients should require (its cosignature/v1 vkey); repeatable.
    #[arg(long = "witness")]
    witnesses: Vec<String>,
    /// How many of the witnesses clients should require (default: all).
    #[arg(long)]
    quorum: Option<usize>,
    /// The SSH door clients reach, `host:port`; its host key (SSHFP) is the
    /// data directory's (`ank serve --ssh-listen` makes it).
    #[arg(long)]
    ssh: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum DnsCmd {
    /// Print the zone-file lines of `_ank.DOMAIN` (the TXT with the URL, the
    /// vkey and the TLS pin; the latest checkpoint) and the TLSA record.
    Records {
        #[command(flatten)]
        published: Published,
        /// The records' TTL in seconds.
        #[arg(long, default_value_t = ank_dns::zone::TTL)]
        ttl: u32,
    },
    /// Replace the two TXT records of `_ank.DOMAIN` at a primary once, with
    /// an RFC 2136 update signed with TSIG (`ank serve --dns-update` does it
    /// continuously).
    Update {
        #[command(flatten)]
        published: Published,
        /// The primary, IP:PORT.
        #[arg(long)]
        server: std::net::SocketAddr,
        /// The TSIG key, in BIND's format (`tsig-keygen NAME`).
        #[arg(long)]
        tsig_key: PathBuf,
    },
    /// Print the DS record of the `_ank.DOMAIN` zone key (made on first use)
    /// for the parent zone; it is also a trust anchor for --trust-anchor.
    Ds {
        #[arg(long, default_value = "ank-data")]
        data: PathBuf,
        /// Print the DNSKEY record instead.
        #[arg(long)]
        dnskey: bool,
    },
}

/// What `_ank.DOMAIN` should say now, for the log in `data`: the domain,
/// and the content.
fn content_now(p: Published) -> Result<(String, ank_dns::zone::ZoneContent)> {
    let Published {
        data,
        url,
        tls_cert,
        tls_key,
        witnesses,
        quorum,
        ssh,
    } = p;
    let (data, url) = (data.as_path(), url.as_str());
    let dir = DataDir(data.to_owned());
    let key = dir.read_key()?;
    let domain = dir.domain()?;
    if ank_dns::records::url_host_port(url).is_none() {
        bail!("--url {url:?} is not an http(s)://host[:port] URL");
    }
    let files = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some(ank_log_server::tls::TlsFiles { cert, key }),
        _ if data.join("tls.crt").exists() => Some(ank_log_server::tls::TlsFiles {
            cert: data.join("tls.crt"),
            key: data.join("tls.key"),
        }),
        _ => None,
    };
    let tls = match files {
        Some(f) => Some(
            ank_common::b64_array::<32>(&ank_log_server::tls::Reloadable::load(f)?.spki_sha256())
                .context("the certificate's digest")?,
        ),
        None if url.starts_with("https://") => {
            eprintln!(
                "note: no certificate given: no tls= pin and no TLSA record (clients fall back to WebPKI)"
            );
            None
        }
        None => None,
    };
    let witnesses = witnesses
        .iter()
        .map(|w| VerifierKey::parse(w).with_context(|| format!("--witness {w}")))
        .collect::<Result<Vec<_>>>()?;
    let checkpoint = dir.open_store()?.checkpoint()?.map(|c| c.note);
    let ssh = match ssh {
        Some(at) => {
            if ank_dns::records::host_port(&at).is_none() {
                bail!("--ssh {at:?} is not host:port");
            }
            let path = data.join("ssh-host.key");
            if !path.exists() {
                bail!(
                    "{} does not exist: start `ank serve --ssh-listen` once to make the SSH host key",
                    path.display()
                );
            }
            let host = ank_ssh::keys::host_key(&path)?;
            Some((at, ank_ssh::keys::host_digest(host.public_key())))
        }
        None => None,
    };
    Ok((
        domain,
        ank_log_server::dns::content(
            url,
            &key.verifier(),
            tls,
            ssh.as_ref(),
            &witnesses,
            quorum,
            checkpoint.as_deref(),
        ),
    ))
}

pub fn run(cmd: DnsCmd) -> Result<()> {
    match cmd {
        DnsCmd::Records { published, ttl } => {
            let (domain, content) = content_now(published)?;
            for line in ank_dns::records::zone_lines(
                &domain,
                &content.record,
                content.checkpoint.as_deref(),
                content.sshfp,
                ttl,
            ) {
                println!("{line}");
            }
        }
        DnsCmd::Update {
            published,
            server,
            tsig_key,
        } => {
            let (domain, content) = content_now(published)?;
            let key = ank_dns::update::TsigKey::read(&tsig_key)?;
            crate::user::block_on_own(ank_dns::update::push(
                server,
                &key,
                &domain,
                &content,
                ank_dns::zone::TTL,
            ))??;
            println!("updated _ank.{domain} at {server}");
        }
        DnsCmd::Ds { data, dnskey } => {
            let dir = DataDir(data);
            let zone = ank_dns::records::ank_name(&dir.domain()?);
            let key = ank_log_server::dns::zone_key(&dir)?;
            if dnskey {
                println!("{}", key.dnskey_record(&zone));
            } else {
                println!("{}", key.ds_record(&zone)?);
            }
        }
    }
    Ok(())
}
