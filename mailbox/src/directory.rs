//! Where the mailbox learns addresses' current keys: its own domain's log in
//! the same process, other domains' logs over HTTP (found through the trust
//! file now, DNS later), every answer verified with its map proof, and
//! cached for a bounded time.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ank_client::home::TrustedLog;
use ank_client::log::LogClient;
use ank_proofs::{Address, KeySet};

/// Why an address's keys could not be learnt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("no log is trusted for {0}")]
    UnknownDomain(String),
    #[error("the log of {domain} did not give a verified answer: {message}")]
    Unverified { domain: String, message: String },
}

/// A boxed future, so directories can be trait objects.
pub type DirFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<KeySet>, DirectoryError>> + Send + 'a>>;

/// The current key set of an address: `None` when its log proves it absent.
pub trait Directory: Send + Sync + 'static {
    fn current<'a>(&'a self, address: &'a Address) -> DirFuture<'a>;
}

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

/// Other domains' logs over HTTP, answers verified and cached for `ttl`.
#[derive(Debug)]
pub struct HttpDirectory {
    trust: Trust,
    ttl: Duration,
    cache: Mutex<HashMap<Address, (Instant, Option<KeySet>)>>,
}

impl HttpDirectory {
    /// Trusting `logs`, caching each verified answer for `ttl`.
    pub fn new(logs: Vec<TrustedLog>, ttl: Duration) -> HttpDirectory {
        HttpDirectory {
            trust: Trust::Fixed(logs),
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Trusting the logs of the trust file in `home`, read again when it changes.
    ///
    /// # Errors
    /// A trust file that does not parse.
    pub fn from_trust_file(
        home: &std::path::Path,
        ttl: Duration,
    ) -> Result<HttpDirectory, ank_client::ClientError> {
        let logs = ank_client::home::read_trust(home)?;
        let mtime = std::fs::metadata(home.join("trust"))
            .and_then(|m| m.modified())
            .ok();
        Ok(HttpDirectory {
            trust: Trust::File {
                home: home.to_owned(),
                seen: Mutex::new((mtime, logs)),
            },
            ttl,
            cache: Mutex::new(HashMap::new()),
        })
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
}

impl Directory for HttpDirectory {
    fn current<'a>(&'a self, address: &'a Address) -> DirFuture<'a> {
        Box::pin(async move {
            if let Ok(c) = self.cache.lock()
                && let Some((at, ks)) = c.get(address)
                && at.elapsed() < self.ttl
            {
                return Ok(ks.clone());
            }
            let log = self
                .log_for(address.domain())
                .ok_or_else(|| DirectoryError::UnknownDomain(address.domain().to_owned()))?;
            let unverified = |message: String| DirectoryError::Unverified {
                domain: address.domain().to_owned(),
                message,
            };
            let client = LogClient::new(&log.url, log.vkey.clone())
                .map_err(|e| unverified(e.to_string()))?;
            let answer = client
                .lookup(address)
                .await
                .map_err(|e| unverified(e.to_string()))?;
            let ks = answer.binding().map(|(_, _, ks)| ks.clone());
            if let Ok(mut c) = self.cache.lock() {
                if c.len() > 100_000 {
                    c.clear();
                }
                c.insert(address.clone(), (Instant::now(), ks.clone()));
            }
            Ok(ks)
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
    /// The current key set of `address`.
    ///
    /// # Errors
    /// [`DirectoryError`].
    pub async fn current(&self, address: &Address) -> Result<Option<KeySet>, DirectoryError> {
        if address.domain() == self.domain {
            self.local.current(address).await
        } else {
            self.remote.current(address).await
        }
    }
}
