//! Finding a domain's log: the trust file first (an override), else DNS
//! under DNSSEC ([`ank_dns::discover`]), remembered on first use.
//!
//! A discovered log is written to `$ANK_HOME/discovered`. Later discoveries
//! must publish the same vkey: a different one is refused
//! ([`ClientError::KeyChanged`]) until the user accepts it with `ank trust
//! update DOMAIN` ([`accept`]). The URL, the TLS pin and the witness policy
//! follow DNS (they change with certificates and witnesses).

use std::path::Path;

use ank_dns::discover::{Discovered, Discovery};
use ank_proofs::VerifierKey;

use crate::ClientError;
use crate::home::{TrustedLog, names_domain, read_discovered, read_trust, remember_discovered};

pub use ank_dns::discover::ResolverSettings;

/// Where a log came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The trust file.
    Trusted,
    /// DNS, first seen now.
    FirstUse,
    /// DNS, the same vkey as remembered.
    Remembered,
}

/// A domain's log and, when it came from DNS, the checkpoint DNS published.
#[derive(Debug, Clone)]
pub struct FoundLog {
    pub log: TrustedLog,
    pub origin: Origin,
    /// The `checkpoint._ank` note, to be checked against the log's.
    pub dns_checkpoint: Option<Vec<u8>>,
}

/// The log a DNS record describes.
///
/// # Errors
/// [`ClientError::BadFile`]-like refusals as [`ClientError::Discovery`]: a
/// vkey that cannot speak for the domain, or a bad witness policy.
pub fn trusted_log(found: &Discovered) -> Result<TrustedLog, ClientError> {
    let bad = |m: String| ClientError::Discovery(format!("_ank.{}: {m}", found.domain));
    let vkey = VerifierKey::parse(&found.record.vkey).map_err(|e| bad(e.to_string()))?;
    if !names_domain(vkey.name(), &found.domain) {
        return Err(bad(format!(
            "the log key {:?} cannot speak for {}",
            vkey.name(),
            found.domain
        )));
    }
    let witnesses = if found.record.witnesses.is_empty() {
        None
    } else {
        let keys = found
            .record
            .witnesses
            .iter()
            .map(|w| VerifierKey::parse(w).map_err(|e| bad(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        Some(crate::log::WitnessPolicy::new(
            keys,
            Some(found.record.quorum),
            None,
        )?)
    };
    Ok(TrustedLog {
        domain: found.domain.clone(),
        url: found.record.url.trim_end_matches('/').to_owned(),
        vkey,
        witnesses,
        tls_pin: found.pins().first().copied(),
        // A door without a validated SSHFP is no door to trust.
        ssh: found.record.ssh.clone().zip(found.sshfp.first().copied()),
    })
}

/// The log of `domain`: from the trust file, else discovered in DNS and
/// checked against what this device remembers.
///
/// # Errors
/// [`ClientError::Dns`] (absent, insecure, bogus…), [`ClientError::KeyChanged`].
pub async fn find(
    home: &Path,
    domain: &str,
    settings: &ResolverSettings,
) -> Result<FoundLog, ClientError> {
    let domain = domain.to_ascii_lowercase();
    if let Some(t) = read_trust(home)?.into_iter().find(|t| t.domain == domain) {
        return Ok(FoundLog {
            log: t,
            origin: Origin::Trusted,
            dns_checkpoint: None,
        });
    }
    let found = Discovery::new(settings).await?.discover(&domain).await?;
    let log = trusted_log(&found)?;
    let origin = remember(home, &log)?;
    Ok(FoundLog {
        log,
        origin,
        dns_checkpoint: found.checkpoint.clone(),
    })
}

/// Checks a discovered log against the one remembered for its domain, and
/// remembers it (first use, or a new URL, pin or witness policy).
///
/// # Errors
/// [`ClientError::KeyChanged`] when the remembered vkey differs; I/O errors.
pub fn remember(home: &Path, log: &TrustedLog) -> Result<Origin, ClientError> {
    let remembered = read_discovered(home)?
        .into_iter()
        .find(|t| t.domain == log.domain);
    match remembered {
        Some(r) if r.vkey != log.vkey => Err(ClientError::KeyChanged {
            domain: log.domain.clone(),
            remembered: r.vkey.to_text(),
            published: log.vkey.to_text(),
        }),
        Some(r) => {
            if &r != log {
                remember_discovered(home, log)?;
            }
            Ok(Origin::Remembered)
        }
        None => {
            remember_discovered(home, log)?;
            Ok(Origin::FirstUse)
        }
    }
}

/// `ank trust update DOMAIN`: discovers the domain again and remembers what
/// DNS publishes now, whatever was remembered. Returns the old entry, if any,
/// and the new.
///
/// # Errors
/// [`ClientError::Dns`] and the refusals of [`trusted_log`].
pub async fn accept(
    home: &Path,
    domain: &str,
    settings: &ResolverSettings,
) -> Result<(Option<TrustedLog>, TrustedLog), ClientError> {
    let domain = domain.to_ascii_lowercase();
    let found = Discovery::new(settings).await?.discover(&domain).await?;
    let log = trusted_log(&found)?;
    let old = read_discovered(home)?
        .into_iter()
        .find(|t| t.domain == domain);
    remember_discovered(home, &log)?;
    Ok((old, log))
}
