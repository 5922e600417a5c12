//! `ank serve --dns-listen` and `--dns-update`: the `_ank.<domain>` zone kept
//! from the live log, served by ank itself and/or pushed to another primary
//! with RFC 2136 updates signed with TSIG ([`ank_dns::update`]).
//!
//! The zone says what [`content`] computes: the `_ank` TXT (the public URL,
//! the log's vkey, the served certificate's SPKI digest, the witness policy)
//! and the latest checkpoint with the cosignatures it has. A task looks once a
//! second; when anything changed (a new checkpoint, new cosignatures, a
//! reloaded certificate) or the last signing is [`ank_dns::zone::RESIGN_EVERY`]
//! old, the zone is signed again and swapped in whole.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ank_dns::records::AnkRecord;
use ank_dns::zone::{AnkZone, ZoneContent, ZoneKey};
use ank_proofs::note::VerifierKey;

use crate::{DataDir, Log, LogError};

/// What the DNS server needs besides the log.
#[derive(Debug, Clone)]
pub struct DnsSettings {
    /// Where to answer, UDP and TCP (the built-in signed zone).
    pub listen: Option<SocketAddr>,
    /// A primary to keep the two TXT records fresh at, and its TSIG key.
    pub update: Option<(SocketAddr, ank_dns::update::TsigKey)>,
    /// The URL clients should use; by default the listening address.
    pub url: Option<String>,
    /// The domain: the zone is `_ank.<domain>`.
    pub domain: String,
    /// How many of the log's witnesses clients should require (default: all).
    pub quorum: Option<usize>,
    /// The SSH door: `host:port` and its host key's SHA-256 (SSHFP `4 2`).
    pub ssh: Option<(String, [u8; 32])>,
}

/// A running DNS server and/or updater; dropping it stops them.
pub struct DnsRunning {
    /// The built-in server: its address (UDP and TCP) and the DS record
    /// for the parent zone.
    pub served: Option<(SocketAddr, String)>,
    _server: Option<ank_dns::zone::ZoneServer>,
    _refresh: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for DnsRunning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DnsRunning({:?})", self.served)
    }
}

/// How often an unchanged zone is pushed to the primary again (a primary
/// that lost its journal is repaired within this).
pub const REPUSH_EVERY: Duration = Duration::from_secs(600);

/// The zone's content for the log as it is now.
#[allow(clippy::too_many_arguments)]
pub fn content(
    url: &str,
    vkey: &VerifierKey,
    tls: Option<[u8; 32]>,
    ssh: Option<&(String, [u8; 32])>,
    witnesses: &[VerifierKey],
    quorum: Option<usize>,
    checkpoint: Option<&str>,
) -> ZoneContent {
    ZoneContent {
        record: AnkRecord {
            url: url.to_owned(),
            vkey: vkey.to_text(),
            tls,
            ssh: ssh.map(|(a, _)| a.clone()),
            witnesses: witnesses.iter().map(VerifierKey::to_text).collect(),
            quorum: if witnesses.is_empty() {
                0
            } else {
                quorum.unwrap_or(witnesses.len()).min(witnesses.len())
            },
        },
        checkpoint: checkpoint.map(|c| c.as_bytes().to_vec()),
        sshfp: ssh.map(|(_, fp)| *fp),
    }
}

/// The data directory's zone key (`dns-zone.key`), made on first use.
///
/// # Errors
/// [`LogError::Io`] when it cannot be read or made.
pub fn zone_key(data: &DataDir) -> Result<ZoneKey, LogError> {
    ZoneKey::load_or_create(&data.0.join("dns-zone.key")).map_err(|e| LogError::Io {
        path: data.0.join("dns-zone.key").display().to_string(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// Serves the zone of `log` on `settings.listen` (UDP and TCP, the same
/// port) and/or pushes it to `settings.update`, checking once a second for
/// anything new.
///
/// # Errors
/// [`LogError::Io`]: binding, the zone key, signing.
pub fn start(
    settings: &DnsSettings,
    data: &DataDir,
    log: Arc<Log>,
    url: String,
    tls: Option<Arc<crate::tls::Reloadable>>,
    witnesses: Vec<VerifierKey>,
) -> Result<DnsRunning, LogError> {
    let io = |what: String| {
        move |e: std::io::Error| LogError::Io {
            path: what,
            source: e,
        }
    };
    let url = settings.url.clone().unwrap_or(url);
    let quorum = settings.quorum;
    let ssh = settings.ssh.clone();
    let now = move |log: &Log| {
        let pin = tls.as_ref().and_then(|t| digest(&t.spki_sha256()));
        let latest = log.latest();
        content(
            &url,
            &log.vkey,
            pin,
            ssh.as_ref(),
            &witnesses,
            quorum,
            Some(latest.note.as_str()),
        )
    };
    let first = now(&log);
    let (zone, server, served) = match settings.listen {
        Some(listen) => {
            let key = zone_key(data)?;
            let ds = key
                .ds_record(&ank_dns::records::ank_name(&settings.domain))
                .map_err(|e| io("DNS zone".into())(std::io::Error::other(e.to_string())))?;
            let zone = AnkZone::new(&settings.domain, Some(key), &first)
                .map_err(|e| io("DNS zone".into())(std::io::Error::other(e.to_string())))?;
            let server = ank_dns::zone::start(&zone, listen).map_err(io(listen.to_string()))?;
            let addr = server.addr;
            (Some(zone), Some(server), Some((addr, ds)))
        }
        None => (None, None, None),
    };
    let update = settings.update.clone();
    let domain = settings.domain.clone();
    let refresh = tokio::spawn(async move {
        let (mut last, mut signed) = (first, Instant::now());
        // The first push happens at once; a failed one is tried again each second.
        let mut pushed: Option<(ZoneContent, Instant)> = None;
        loop {
            let c = now(&log);
            if let Some(zone) = &zone
                && (c != last || signed.elapsed() >= ank_dns::zone::RESIGN_EVERY)
            {
                match zone.publish(&c) {
                    Ok(()) => (last, signed) = (c.clone(), Instant::now()),
                    Err(e) => eprintln!("dns: the zone was not re-signed: {e}"),
                }
            }
            if let Some((server, key)) = &update
                && pushed
                    .as_ref()
                    .is_none_or(|(p, at)| *p != c || at.elapsed() >= REPUSH_EVERY)
            {
                match ank_dns::update::push(*server, key, &domain, &c, ank_dns::zone::TTL).await {
                    Ok(()) => pushed = Some((c, Instant::now())),
                    Err(e) => eprintln!("dns: update not applied: {e}"),
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Ok(DnsRunning {
        served,
        _server: server,
        _refresh: refresh,
    })
}

impl Drop for DnsRunning {
    fn drop(&mut self) {
        self._refresh.abort();
    }
}

fn digest(b64: &str) -> Option<[u8; 32]> {
    ank_common::b64_array::<32>(b64)
}
