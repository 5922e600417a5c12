//! # ank-client
//!
//! I/O for verifiers: fetching a C2SP tiled log from a directory or an
//! `http(s)://` prefix, and verifying all of it with [`ank_proofs`].
//!
//! ## Errors
//!
//! Modules: [`log`] (publish, lookup, checkpoints of a log), [`mail`] (a
//! mailbox: submit, signed fetch and acknowledge), [`home`] (keys, pending
//! key changes, superseded secrets, the trust file).
//!
//! [`ClientError`]: `Io` (a file could not be read), `Http` (a non-success
//! status), `Transport` (connection or TLS failure), `TooLarge` (a response
//! over [`MAX_RESOURCE`] bytes), `Source` (an unusable source string),
//! `Proof` for every verification failure, carrying the exact
//! [`ank_proofs::Error`], `Api` (a log's JSON refusal, with its code),
//! `NoKeys` / `KeysExist` / `BadFile` (the local key store and trust file),
//! and `Mismatch` (an answer that proves something other than what was asked).

pub mod discovery;
pub mod home;
pub mod log;
pub mod mail;
pub mod state;
pub mod tls;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use ank_proofs::tile::{TiledLogChecker, decode_entry_bundle, entry_bundles_for_size, tile_data};
use ank_proofs::{Hash, Tile, VerifiedCheckpoint, VerifierKey, leaf_hash, verify_checkpoint};

/// Everything that can go wrong while fetching and verifying.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("GET {url}: HTTP {status}")]
    Http { url: String, status: u16 },
    #[error("GET {url}: {message}")]
    Transport { url: String, message: String },
    #[error("GET {url}: response larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("source {0:?} is neither an existing directory nor an http(s):// URL")]
    Source(String),
    #[error("{0}")]
    Proof(#[from] ank_proofs::Error),
    #[error("the server refused ({status} {code}): {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("no keys for {0} on this device; run `ank init {0}` first")]
    NoKeys(String),
    #[error("{0} exists; this device already has keys for that address")]
    KeysExist(String),
    #[error("{path}: {what}")]
    BadFile { path: String, what: String },
    #[error(
        "an earlier key change of {0} has not been settled; run the command again when the log is reachable"
    )]
    PendingChange(String),
    #[error("the log's answer does not match the request: {0}")]
    Mismatch(Mismatch),
    /// The answer's checkpoint contradicts what this client verified before.
    #[error(transparent)]
    State(#[from] state::StateError),
    /// The checkpoint lacks the cosignatures the trust file requires.
    #[error("witnesses: {0}")]
    Witnesses(String),
    /// DNS discovery failed: absent, insecure, bogus or malformed records.
    #[error("DNS discovery")]
    Dns(#[from] ank_dns::discover::DiscoveryError),
    /// A discovered record that does not describe a usable log.
    #[error("discovery: {0}")]
    Discovery(String),
    /// DNS now publishes another log key than the one remembered.
    #[error(
        "refused: {domain} now publishes the log key {published} in DNS, but this device first saw {remembered}. A changed log key may mean the domain's DNS or log was taken over. If {domain} really changed its log, accept the new key with `ank trust update {domain}`"
    )]
    KeyChanged {
        domain: String,
        remembered: String,
        published: String,
    },
}

/// How a log's answer fails to match the request it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("the logged entry is not the one published")]
    Entry,
    #[error("the proof is for another index")]
    ProofIndex,
    #[error("the consistency proof does not verify, though the log's tiles show one history")]
    ConsistencyProof,
}

impl ClientError {
    /// A definitive 4xx refusal by the server (not a transport failure).
    pub fn is_refusal(&self) -> bool {
        matches!(self, ClientError::Api { status, .. } if (400..500).contains(status))
    }
}

/// The HTTP client every ank request uses: ank's user agent, a 60 s
/// timeout, TLS 1.3 only, and the server's key pinned when `pin` is given
/// ([`tls`]).
pub(crate) fn http_client(
    url: &str,
    pin: Option<[u8; 32]>,
) -> Result<reqwest::Client, ClientError> {
    let transport = |message: String| ClientError::Transport {
        url: url.to_owned(),
        message,
    };
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("ank/", env!("CARGO_PKG_VERSION")))
        .timeout(std::time::Duration::from_secs(60))
        .tls_version_min(reqwest::tls::Version::TLS_1_3);
    if let Some(pin) = pin {
        b = b.tls_backend_preconfigured(
            tls::pinned_config(pin).map_err(|e| transport(e.to_string()))?,
        );
    }
    b.build().map_err(|e| transport(e.to_string()))
}

/// An error and its causes, `: `-separated: reqwest's own message says
/// little ("error sending request"); the cause says why (a refused
/// connection, a certificate that does not match the pin, …).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cause = c.source();
    }
    s
}

/// Sends a request and decodes a JSON answer, or the server's JSON refusal
/// (`{"error", "message"}`) as [`ClientError::Api`].
pub(crate) async fn exchange<T: serde::de::DeserializeOwned>(
    url: &str,
    req: reqwest::RequestBuilder,
) -> Result<T, ClientError> {
    let transport = |e: reqwest::Error| ClientError::Transport {
        url: url.to_owned(),
        message: crate::error_chain(&e),
    };
    let resp = req.send().await.map_err(transport)?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(transport)?;
    if !status.is_success() {
        return Err(
            match serde_json::from_slice::<ank_proofs::api::ErrorResponse>(&body) {
                Ok(e) => ClientError::Api {
                    status: status.as_u16(),
                    code: e.error,
                    message: e.message,
                },
                Err(_) => ClientError::Http {
                    url: url.to_owned(),
                    status: status.as_u16(),
                },
            },
        );
    }
    serde_json::from_slice(&body).map_err(|e| ClientError::Transport {
        url: url.to_owned(),
        message: format!("bad answer: {e}"),
    })
}

/// The largest resource of a tiled log: a full entry bundle of maximal entries.
pub const MAX_RESOURCE: usize = 256 * (2 + 65535);

/// Where a tiled log is read from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A directory laid out as the log's URL space.
    Dir(PathBuf),
    /// An `http(s)://` prefix.
    Http { base: String, http: reqwest::Client },
}

impl Source {
    /// A directory path or an `http(s)://` prefix.
    ///
    /// # Errors
    /// [`ClientError::Source`] when it is neither, [`ClientError::Transport`]
    /// when no HTTP client can be built.
    pub fn parse(s: &str) -> Result<Source, ClientError> {
        Self::parse_pinned(s, None)
    }

    /// As [`Source::parse`], trusting over TLS only the key pinned when
    /// `pin` is given.
    ///
    /// # Errors
    /// As [`Source::parse`].
    pub fn parse_pinned(s: &str, pin: Option<[u8; 32]>) -> Result<Source, ClientError> {
        if s.starts_with("http://") || s.starts_with("https://") {
            let http = http_client(s, pin)?;
            let base = if s.ends_with('/') {
                s.to_owned()
            } else {
                format!("{s}/")
            };
            return Ok(Source::Http { base, http });
        }
        let p = PathBuf::from(s);
        if p.is_dir() {
            Ok(Source::Dir(p))
        } else {
            Err(ClientError::Source(s.to_owned()))
        }
    }

    /// Reads one resource (`checkpoint`, `tile/…`) of the log.
    ///
    /// # Errors
    /// [`ClientError::Io`], [`ClientError::Http`], [`ClientError::Transport`].
    pub async fn get(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        match self {
            Source::Dir(dir) => {
                let full = dir.join(path);
                std::fs::read(&full).map_err(|source| ClientError::Io {
                    path: full.display().to_string(),
                    source,
                })
            }
            Source::Http { base, http } => {
                let url = format!("{base}{path}");
                let transport = |e: reqwest::Error| ClientError::Transport {
                    url: url.clone(),
                    message: crate::error_chain(&e),
                };
                let mut resp = http.get(&url).send().await.map_err(transport)?;
                if !resp.status().is_success() {
                    return Err(ClientError::Http {
                        url,
                        status: resp.status().as_u16(),
                    });
                }
                let mut body = Vec::new();
                while let Some(chunk) = resp.chunk().await.map_err(transport)? {
                    if body.len() + chunk.len() > MAX_RESOURCE {
                        return Err(ClientError::TooLarge {
                            url,
                            limit: MAX_RESOURCE,
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            }
        }
    }
}

/// Reads resources in order, keeping up to `window` HTTP requests in flight.
#[derive(Debug)]
pub struct Prefetch {
    source: Arc<Source>,
    paths: VecDeque<String>,
    inflight: VecDeque<tokio::task::JoinHandle<Result<Vec<u8>, ClientError>>>,
    window: usize,
}

impl Prefetch {
    /// Reads `paths` from `source`, in order.
    pub fn new(source: Arc<Source>, paths: Vec<String>, window: usize) -> Self {
        Prefetch {
            source,
            paths: paths.into(),
            inflight: VecDeque::new(),
            window,
        }
    }

    /// The next resource; `None` after the last.
    pub async fn next(&mut self) -> Option<Result<Vec<u8>, ClientError>> {
        if matches!(*self.source, Source::Dir(_)) {
            let p = self.paths.pop_front()?;
            return Some(self.source.get(&p).await);
        }
        while self.inflight.len() < self.window {
            let Some(p) = self.paths.pop_front() else {
                break;
            };
            let s = Arc::clone(&self.source);
            self.inflight
                .push_back(tokio::spawn(async move { s.get(&p).await }));
        }
        let h = self.inflight.pop_front()?;
        Some(h.await.unwrap_or_else(|e| {
            Err(ClientError::Transport {
                url: String::new(),
                message: e.to_string(),
            })
        }))
    }
}

/// What [`verify_tiles`] checked.
#[derive(Debug, Clone)]
pub struct TilesReport {
    pub checkpoint: VerifiedCheckpoint,
    pub bundles: u64,
    pub tiles: u64,
}

/// Reads entries `from..to` of the tiled log at `source`, in order, handing
/// each (index, bytes, leaf hash) to `on_entry`; with `check_tiles`, each level-0 hash
/// tile covering them is fetched and compared with the leaves recomputed
/// from its bundle. `progress(done, total)` follows the walk. The first
/// error of `on_entry` stops it.
///
/// # Errors
/// Fetch and bundle errors, [`ank_proofs::Error::TileMismatch`], and the
/// errors of `on_entry`.
pub async fn walk_entries(
    source: Arc<Source>,
    from: u64,
    to: u64,
    check_tiles: bool,
    mut on_entry: impl FnMut(u64, &[u8], Hash) -> Result<(), ClientError>,
    mut progress: impl FnMut(u64, u64),
) -> Result<(), ClientError> {
    let bundles: Vec<Tile> = (from / 256..to.div_ceil(256))
        .map(|n| {
            let width = if (n + 1) * 256 <= to {
                256
            } else {
                to - n * 256
            };
            Tile::entries(n, width as u16)
        })
        .collect();
    let mut paths = Vec::with_capacity(bundles.len() * 2);
    for b in &bundles {
        paths.push(b.path());
        if check_tiles {
            paths.push(Tile::hashes(0, b.index, b.width).path());
        }
    }
    let mut fetch = Prefetch::new(source, paths, 64);
    for b in &bundles {
        let data = fetch
            .next()
            .await
            .ok_or(ClientError::Source("truncated".into()))??;
        let entries = decode_entry_bundle(&data, usize::from(b.width))?;
        let mut leaves = Vec::with_capacity(if check_tiles { entries.len() } else { 0 });
        for (k, e) in entries.iter().enumerate() {
            let index = b.index * 256 + k as u64;
            if index < from && !check_tiles {
                continue;
            }
            let h = leaf_hash(e);
            if check_tiles {
                leaves.push(h);
            }
            if index >= from {
                on_entry(index, e, h)?;
            }
        }
        if check_tiles {
            let tile = Tile::hashes(0, b.index, b.width);
            let fetched = fetch
                .next()
                .await
                .ok_or(ClientError::Source("truncated".into()))??;
            compare(&tile, &fetched, &leaves)?;
        }
        progress(
            (b.index * 256 + u64::from(b.width)).min(to) - from,
            to - from,
        );
    }
    Ok(())
}

/// Checks a fetched hash tile against the hashes computed for it.
///
/// # Errors
/// [`ank_proofs::Error::TileMismatch`].
pub fn compare(tile: &Tile, fetched: &[u8], computed: &[Hash]) -> Result<(), ClientError> {
    if fetched != tile_data(computed).as_slice() {
        return Err(ank_proofs::Error::TileMismatch { path: tile.path() }.into());
    }
    Ok(())
}

/// Verifies a whole tiled log: the checkpoint's signature, then every entry
/// bundle and every hash tile the size implies, recomputed from the entries,
/// and the root. `progress(done, total)` is called after each bundle.
///
/// # Errors
/// Fetch errors, and [`ClientError::Proof`] with the first failure:
/// bundle decoding, [`ank_proofs::Error::TileMismatch`], or
/// [`ank_proofs::Error::RootMismatch`].
pub async fn verify_tiles(
    source: Source,
    vkey: &VerifierKey,
    progress: impl FnMut(u64, u64),
) -> Result<TilesReport, ClientError> {
    verify_tiles_with(source, vkey, progress, |_| Ok(())).await
}

/// As [`verify_tiles`], also handing every entry, in order, to `on_entry`
/// (an auditor's replay); its first error stops the walk.
///
/// # Errors
/// As [`verify_tiles`], and the errors of `on_entry`.
pub async fn verify_tiles_with(
    source: Source,
    vkey: &VerifierKey,
    mut progress: impl FnMut(u64, u64),
    mut on_entry: impl FnMut(&[u8]) -> Result<(), ank_proofs::Error>,
) -> Result<TilesReport, ClientError> {
    let source = Arc::new(source);
    let note = source.get("checkpoint").await?;
    let checkpoint = verify_checkpoint(&note, vkey, &[])?;
    let size = checkpoint.size();
    let bundles = entry_bundles_for_size(size).len() as u64;
    let mut checker = TiledLogChecker::new();
    // Tiles above level 0, checked once the walk is done (the walk checks
    // every level-0 tile as it goes).
    let mut upper = Vec::new();
    walk_entries(
        Arc::clone(&source),
        0,
        size,
        true,
        |_, e, leaf| {
            on_entry(e)?;
            checker.push_leaf(leaf);
            upper.extend(
                checker
                    .take_full_tiles()
                    .into_iter()
                    .filter(|(t, _)| t.kind != (ank_proofs::tile::TileKind::Hashes { level: 0 })),
            );
            Ok(())
        },
        &mut progress,
    )
    .await?;
    upper.extend(
        checker
            .partial_tiles()
            .into_iter()
            .filter(|(t, _)| t.kind != (ank_proofs::tile::TileKind::Hashes { level: 0 })),
    );
    let mut tiles = bundles;
    for (t, hashes) in &upper {
        compare(t, &source.get(&t.path()).await?, hashes)?;
        tiles += 1;
    }
    if checker.root() != *checkpoint.root() {
        return Err(ank_proofs::Error::RootMismatch {
            expected: *checkpoint.root(),
            computed: checker.root(),
        }
        .into());
    }
    Ok(TilesReport {
        checkpoint,
        bundles,
        tiles,
    })
}
