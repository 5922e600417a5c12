//! Where the mailbox learns other domains' current keys: their logs over
//! HTTP, every answer verified with its map proof. A domain's log is the
//! trust file's entry (read again when the file changes), else, with
//! [`HttpDirectory::discovering`], the one its DNS publishes under DNSSEC
//! ([`ank_client::discovery`]): a new domain needs no restart. A discovered
//! log is remembered; a changed vkey is refused until the operator accepts
//! it (`ank trust update`), and the checkpoint in DNS must be consistent
//! with the log's.
//!
//! Answers are cached for at most `ttl`, and only while they are fresh: a
//! cached answer is used only if it was proven against the log's latest
//! checkpoint, which is fetched (one small, signed request) at most once per
//! `freshness` per log. A revocation therefore takes effect here within
//! about `freshness` (default one second) of being sequenced. A log whose
//! checkpoint cannot be fetched gives no answer (fail closed).
//!
//! The traits are [`ank_common::directory`]'s; the own domain is answered
//! in-process by the log (`ank_log_server::directory::LocalDirectory`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ank_client::home::TrustedLog;
use ank_client::log::LogClient;
pub use ank_common::directory::{DirFuture, Directory, DirectoryError, Resolved};
use ank_proofs::Address;

/// Where the trusted logs come from.
#[derive(Debug)]
enum Trust {
    Fixed(Vec<TrustedLog>),
    /// A trust file, read again whenever it changes (an operator adding a
    /// log needs no restart).
    File {
        home: std::path::PathBuf,
        seen: Mutex<(Option<std::time::SystemTime>, Vec<TrustedLog>)>,
    },
}

/// A cached answer: when it was fetched, what it proves, and the size of
/// the checkpoint it was proven against.
#[derive(Debug, Clone)]
struct Cached {
    at: Instant,
    resolved: Resolved,
    size: u64,
}

/// Other domains' logs over HTTP (see the module docs).
#[derive(Debug)]
pub struct HttpDirectory {
    trust: Trust,
    /// Where the other logs' checkpoints this mailbox verified are remembered.
    state: Option<ank_client::state::LogState>,
    ttl: Duration,
    freshness: Duration,
    cache: Mutex<HashMap<Address, Cached>>,
    /// Per log origin: when its checkpoint was last fetched, and its size.
    heads: Mutex<HashMap<String, (Instant, u64)>>,
    discovery: Option<Discovering>,
}

/// DNS discovery for domains the trust file does not name.
#[derive(Debug)]
struct Discovering {
    settings: ank_client::discovery::ResolverSettings,
    resolver: tokio::sync::OnceCell<ank_dns::discover::Discovery>,
    /// Per domain, the DNS checkpoint last proven consistent with its log.
    checked: Mutex<HashMap<String, Vec<u8>>>,
}

impl HttpDirectory {
    /// Trusting `logs`; answers cached up to `ttl`, revalidated against each
    /// log's checkpoint fetched at most once per `freshness`.
    pub fn new(logs: Vec<TrustedLog>, ttl: Duration, freshness: Duration) -> HttpDirectory {
        HttpDirectory {
            trust: Trust::Fixed(logs),
            state: None,
            ttl,
            freshness,
            cache: Mutex::new(HashMap::new()),
            heads: Mutex::new(HashMap::new()),
            discovery: None,
        }
    }

    /// Also finds the logs of domains the trust file does not name, in DNS.
    pub fn discovering(mut self, settings: ank_client::discovery::ResolverSettings) -> Self {
        self.discovery = Some(Discovering {
            settings,
            resolver: tokio::sync::OnceCell::new(),
            checked: Mutex::new(HashMap::new()),
        });
        self
    }

    /// The log of `domain` in DNS, checked against the one remembered, and
    /// with the DNS checkpoint that is new since the last check.
    async fn discover(
        &self,
        domain: &str,
    ) -> Result<(TrustedLog, Option<Vec<u8>>), DirectoryError> {
        let unknown = || DirectoryError::UnknownDomain(domain.to_owned());
        let d = self.discovery.as_ref().ok_or_else(unknown)?;
        let unverified = |message: String| DirectoryError::Unverified {
            domain: domain.to_owned(),
            message,
        };
        let resolver = d
            .resolver
            .get_or_try_init(|| ank_dns::discover::Discovery::new(&d.settings))
            .await
            .map_err(|e| unverified(e.to_string()))?;
        let found = match resolver.discover(domain).await {
            Ok(f) => f,
            Err(ank_dns::discover::DiscoveryError::NoRecord { .. }) => return Err(unknown()),
            Err(e) => return Err(unverified(e.to_string())),
        };
        let log =
            ank_client::discovery::trusted_log(&found).map_err(|e| unverified(e.to_string()))?;
        if let Trust::File { home, .. } = &self.trust {
            ank_client::discovery::remember(home, &log).map_err(|e| unverified(e.to_string()))?;
        }
        let fresh = found.checkpoint.clone().filter(|cp| {
            d.checked
                .lock()
                .map(|c| c.get(domain) != Some(cp))
                .unwrap_or(true)
        });
        Ok((log, fresh))
    }

    /// As [`HttpDirectory::new`], trusting the logs of the trust file in
    /// `home`, read again when it changes.
    ///
    /// # Errors
    /// A trust file that does not parse.
    pub fn from_trust_file(
        home: &std::path::Path,
        ttl: Duration,
        freshness: Duration,
    ) -> Result<HttpDirectory, ank_client::ClientError> {
        let logs = ank_client::home::read_trust(home)?;
        let mtime = std::fs::metadata(home.join("trust"))
            .and_then(|m| m.modified())
            .ok();
        let mut d = HttpDirectory::new(Vec::new(), ttl, freshness);
        d.state = Some(ank_client::state::LogState::new(home));
        d.trust = Trust::File {
            home: home.to_owned(),
            seen: Mutex::new((mtime, logs)),
        };
        Ok(d)
    }

    /// The trusted log of `domain`, if any.
    fn log_for(&self, domain: &str) -> Option<TrustedLog> {
        match &self.trust {
            Trust::Fixed(logs) => logs.iter().find(|t| t.domain == domain).cloned(),
            Trust::File { home, seen } => {
                let mtime = std::fs::metadata(home.join("trust"))
                    .and_then(|m| m.modified())
                    .ok();
                let mut g = seen.lock().ok()?;
                if g.0 != mtime {
                    // A file that no longer parses keeps the last good list.
                    if let Ok(logs) = ank_client::home::read_trust(home) {
                        *g = (mtime, logs);
                    }
                }
                g.1.iter().find(|t| t.domain == domain).cloned()
            }
        }
    }

    /// The size of `log`'s latest checkpoint, fetched at most once per `freshness`.
    async fn head(&self, client: &LogClient) -> Result<u64, ank_client::ClientError> {
        let origin = client.vkey().name().to_owned();
        if let Ok(h) = self.heads.lock()
            && let Some((at, size)) = h.get(&origin)
            && at.elapsed() < self.freshness
        {
            return Ok(*size);
        }
        let cp = client.checkpoint().await?;
        client.check_checkpoint(&cp).await?;
        if let Ok(mut h) = self.heads.lock() {
            let e = h.entry(origin).or_insert((Instant::now(), 0));
            // Never step back to a smaller head than one already seen.
            *e = (Instant::now(), e.1.max(cp.size()));
            return Ok(e.1);
        }
        Ok(cp.size())
    }
}

impl Directory for HttpDirectory {
    fn current<'a>(&'a self, address: &'a Address) -> DirFuture<'a> {
        Box::pin(async move {
            let (log, dns_checkpoint) = match self.log_for(address.domain()) {
                Some(l) => (l, None),
                None => self.discover(address.domain()).await?,
            };
            let unverified = |message: String| DirectoryError::Unverified {
                domain: address.domain().to_owned(),
                message,
            };
            let mut client = LogClient::new_pinned(&log.url, log.vkey.clone(), log.tls_pin)
                .map_err(|e| unverified(e.to_string()))?
                .requiring(log.witnesses.clone());
            if let Some(state) = &self.state {
                client = client.remembering(state.clone());
            }
            let head = self
                .head(&client)
                .await
                .map_err(|e| unverified(e.to_string()))?;
            if let (Some(cp), Some(d)) = (dns_checkpoint, &self.discovery) {
                let published = ank_proofs::verify_checkpoint(&cp, &log.vkey, &[])
                    .map_err(|e| unverified(format!("the checkpoint in DNS: {e}")))?;
                // Consistency only: no witness quorum is required of it.
                let mut plain = LogClient::new_pinned(&log.url, log.vkey.clone(), log.tls_pin)
                    .map_err(|e| unverified(e.to_string()))?;
                if let Some(state) = &self.state {
                    plain = plain.remembering(state.clone());
                }
                plain.check_historical(&published).await.map_err(|e| {
                    unverified(format!("the checkpoint in DNS against the log's: {e}"))
                })?;
                if let Ok(mut c) = d.checked.lock() {
                    c.insert(address.domain().to_owned(), cp);
                }
            }
            if let Ok(c) = self.cache.lock()
                && let Some(hit) = c.get(address)
                && hit.at.elapsed() < self.ttl
                && hit.size >= head
            {
                return Ok(hit.resolved.clone());
            }
            let (raw, answer) = client
                .lookup_with_answer(address)
                .await
                .map_err(|e| unverified(e.to_string()))?;
            let resolved = Resolved {
                keys: answer.binding().map(|(_, e)| e.key_set.clone()),
                proof: Some(raw),
            };
            if let Ok(mut c) = self.cache.lock() {
                if c.len() >= ank_common::directory::CACHE_ENTRIES {
                    c.clear();
                }
                c.insert(
                    address.clone(),
                    Cached {
                        at: Instant::now(),
                        resolved: resolved.clone(),
                        size: answer.checkpoint().size(),
                    },
                );
            }
            Ok(resolved)
        })
    }
}

/// The own domain from `local`, every other domain from `remote`.
pub struct Resolver {
    pub domain: String,
    pub local: Arc<dyn Directory>,
    pub remote: Arc<dyn Directory>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("domain", &self.domain)
            .finish()
    }
}

impl Resolver {
    /// The current keys of `address`, with the proof they come from.
    ///
    /// # Errors
    /// [`DirectoryError`].
    pub async fn current(&self, address: &Address) -> Result<Resolved, DirectoryError> {
        if address.domain() == self.domain {
            self.local.current(address).await
        } else {
            self.remote.current(address).await
        }
    }
}
