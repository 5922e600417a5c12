//! # ank-log-server
//!
//! The key-transparency log of one domain: sqlite storage ([`store`]), one
//! sequencer thread that batches publishes into signed checkpoints
//! ([`sequencer`]), and the HTTP API ([`api`]): the C2SP tlog-tiles read API,
//! `POST /v1/publish`, `GET /v1/lookup/{address}`, JSON proofs, `/healthz`
//! and `/metrics`. With witnesses ([`witnessing`]) every checkpoint is
//! cosigned before it is published. With [`dns`], it answers for its own
//! `_ank.<domain>` zone, signed with DNSSEC.
//!
//! ## Data directory
//!
//! | file | content |
//! |---|---|
//! | `log.key` | the log's Ed25519 signer key in C2SP skey form, mode 0600 |
//! | `log.sqlite` (+ `-wal`, `-shm`) | the log ([`store::SqliteStore`]) |
//! | `lock` | held (advisory lock) by the one `ank serve` using the directory |
//! | `tls.crt`, `tls.key` | the self-signed pair of `--tls-self-signed` ([`tls`]) |
//! | `dns-zone.key` | the Ed25519 DNSSEC key of the `_ank` zone, PKCS#8 DER ([`dns`]) |
//!
//! The origin is `<domain>/ank` unless configured; the key name equals the
//! origin. The entry format is [`ank_proofs::binding`]; the wire format is
//! [`ank_proofs::api`].
//!
//! ## Errors
//!
//! [`LogError`]: `Locked` (another server holds the directory), `NoLog`
//! (`ank log …` on a directory without a log), `BadOrigin`, `OtherLog` and
//! `OtherKey` (the directory belongs to another log or key), `WrongDomain`
//! (an address of another domain), `Sign`, `KeyWithoutLog` (a key
//! whose log database is missing or empty: never started over silently),
//! `Key` (an unreadable key file), `Io`, `Store`. Publish refusals are
//! [`publish::PublishError`].
//!
//! The data directory is 0700 and every file in it 0600.

pub mod api;
pub mod conn;
pub mod directory;
pub mod dns;
pub mod pool;
pub mod publish;
pub mod sequencer;
pub mod store;
pub mod tls;
pub mod witnessing;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use ank_proofs::map::{Map, MapValue};
use ank_proofs::note::ALG_ED25519;
use ank_proofs::{MapRootEntry, SignerKey, TreeBuilder, VerifierKey};

use ank_common::fs::{create_private_dir, ensure_private_file, write_private};
use ank_common::now_ms;

use crate::store::{Batch, LogStore, SqliteStore, StoreError, StoredCheckpoint};

/// Why a log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{dir} is in use by another ank serve (its lock file is held); stop that one first")]
    Locked { dir: String },
    #[error("{dir} holds no log; start `ank serve --data {dir}` first")]
    NoLog { dir: String },
    #[error("origin {origin:?} cannot be a key name: {reason}")]
    BadOrigin { origin: String, reason: String },
    #[error(
        "this data directory's log is {found:?}, not {wanted:?}; use the matching --domain or another --data"
    )]
    OtherLog { found: String, wanted: String },
    #[error("log.key ({found}) is not the key this log was created with ({created_with})")]
    OtherKey { found: String, created_with: String },
    #[error("signing the first checkpoint: {0}")]
    Sign(ank_proofs::Error),
    #[error(
        "{dir} has log.key but no log ({missing} is missing or empty): starting here would make the old key sign a second history. Restore log.sqlite (with log.sqlite-wal, if any) from a backup; or, to start a new log deliberately, move log.key away: a new log gets a new key"
    )]
    KeyWithoutLog { dir: String, missing: &'static str },
    #[error("{address} is not of this log's domain {domain}")]
    WrongDomain { address: String, domain: String },
    #[error("log key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Paths inside a data directory.
#[derive(Debug, Clone)]
pub struct DataDir(pub PathBuf);

impl DataDir {
    pub fn key(&self) -> PathBuf {
        self.0.join("log.key")
    }
    pub fn db(&self) -> PathBuf {
        self.0.join("log.sqlite")
    }
    pub fn lock(&self) -> PathBuf {
        self.0.join("lock")
    }

    /// Reads the log key.
    ///
    /// # Errors
    /// [`LogError::Key`], [`LogError::Io`].
    pub fn read_key(&self) -> Result<SignerKey, LogError> {
        let p = self.key();
        let text = std::fs::read_to_string(&p).map_err(io(&p))?;
        SignerKey::parse(text.trim()).map_err(|e| LogError::Key {
            path: p.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// The domain of this directory's log: its key name up to the first `/`.
    ///
    /// # Errors
    /// As [`DataDir::read_key`].
    pub fn domain(&self) -> Result<String, LogError> {
        let key = self.read_key()?;
        Ok(key.name().split('/').next().unwrap_or_default().to_owned())
    }

    /// Refuses an address of another domain than this log's.
    ///
    /// # Errors
    /// [`LogError::WrongDomain`], key errors.
    pub fn check_domain(&self, address: &ank_proofs::Address) -> Result<(), LogError> {
        let domain = self.domain()?;
        if address.domain() != domain {
            return Err(LogError::WrongDomain {
                address: address.to_string(),
                domain,
            });
        }
        Ok(())
    }

    /// Issues a one-time enrollment token for `address`'s first binding,
    /// valid for `ttl_ms`; only its hash is stored.
    ///
    /// # Errors
    /// [`LogError::WrongDomain`], store and I/O errors.
    pub fn enroll(&self, address: &ank_proofs::Address, ttl_ms: u64) -> Result<String, LogError> {
        use base64::Engine as _;
        self.check_domain(address)?;
        let store = self.open_store()?;
        // A fixed prefix: never mistaken for a flag, and recognisable in logs and chats.
        let token = format!(
            "ank1-{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(ank_common::random::<32>().map_err(io(&self.0))?)
        );
        store.put_token(
            &ank_proofs::hash::sha256(token.as_bytes()),
            &address.label(),
            now_ms().saturating_add(ttl_ms),
        )?;
        Ok(token)
    }

    /// Opens the store of an existing data directory (for `ank log …`).
    ///
    /// # Errors
    /// [`LogError::NoLog`] when the directory holds no log.
    pub fn open_store(&self) -> Result<SqliteStore, LogError> {
        if !std::fs::metadata(self.db()).is_ok_and(|m| m.len() > 0) {
            return Err(LogError::NoLog {
                dir: self.0.display().to_string(),
            });
        }
        Ok(SqliteStore::open(&self.db())?)
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub published: AtomicU64,
    pub publish_rejected: AtomicU64,
    pub lookups: AtomicU64,
    pub batches: AtomicU64,
}

/// An open log: its store, key and latest checkpoint. Shared by the
/// sequencer and the HTTP handlers.
#[derive(Debug)]
pub struct Log {
    pub store: Arc<dyn LogStore>,
    pub signer: SignerKey,
    pub vkey: VerifierKey,
    /// The latest checkpoint and the map-root entry its tree ends with.
    latest: RwLock<(Arc<StoredCheckpoint>, MapRootEntry)>,
    /// The verifiable map at the latest checkpoint. Readers share it; the
    /// sequencer prepares each batch from a shared reference too, and takes
    /// it exclusively only to copy a committed batch in and make the new
    /// checkpoint the latest ([`Log::publish_snapshot`]): a holder always sees
    /// a map and a checkpoint that belong together, and no reader waits for
    /// a sqlite commit.
    map: RwLock<Map>,
    /// The witnesses that cosign each checkpoint, and the runtime their
    /// requests run on (the sequencer waits for them from its own thread).
    witnessing: std::sync::OnceLock<(Arc<witnessing::Witnessing>, tokio::runtime::Handle)>,
    pub metrics: Metrics,
    _lock: Option<File>,
}

impl Log {
    /// Opens (creating on first start) the log in `dir` for `origin`, taking
    /// the directory's lock. Returns the log, the tree of its latest
    /// checkpoint (for the sequencer), and whether it was created.
    ///
    /// # Errors
    /// [`LogError`]: locked, mismatched origin or key, I/O, store errors.
    pub fn open(dir: &Path, origin: &str) -> Result<(Arc<Log>, TreeBuilder, bool), LogError> {
        create_private_dir(dir).map_err(io(dir))?;
        let d = DataDir(dir.to_owned());
        let lock_path = d.lock();
        ensure_private_file(&lock_path).map_err(io(&lock_path))?;
        let lock = File::options()
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        if lock.try_lock().is_err() {
            return Err(LogError::Locked {
                dir: dir.display().to_string(),
            });
        }
        let db = d.db();
        let has_db = std::fs::metadata(&db).is_ok_and(|m| m.len() > 0);
        let created = !d.key().exists();
        if created {
            if has_db {
                return Err(LogError::KeyWithoutLog {
                    dir: dir.display().to_string(),
                    missing: "log.key",
                });
            }
            let seed = ank_common::random().map_err(io(dir))?;
            let key = SignerKey::from_seed(origin, ALG_ED25519, seed).map_err(|e| {
                LogError::BadOrigin {
                    origin: origin.to_owned(),
                    reason: e.to_string(),
                }
            })?;
            let path = d.key();
            write_private(&path, format!("{}\n", key.to_text()).as_bytes()).map_err(io(&path))?;
        } else if !has_db {
            // A key that signed a history must never start another one.
            return Err(LogError::KeyWithoutLog {
                dir: dir.display().to_string(),
                missing: "log.sqlite",
            });
        }
        let signer = d.read_key()?;
        ensure_private_file(&db).map_err(io(&db))?;
        let store = SqliteStore::open(&db)?;
        if !created && store.checkpoint()?.is_none() {
            return Err(LogError::KeyWithoutLog {
                dir: dir.display().to_string(),
                missing: "a checkpoint in log.sqlite",
            });
        }
        Self::from_store(Arc::new(store), signer, origin, Some(lock)).map(|(l, t)| (l, t, created))
    }

    /// Wraps a store (any backend) with a signer; creates the empty
    /// checkpoint of a new log. The origin must equal the key name.
    ///
    /// # Errors
    /// [`LogError::OtherLog`], [`LogError::OtherKey`], [`LogError::Sign`], store errors.
    pub fn from_store(
        store: Arc<dyn LogStore>,
        signer: SignerKey,
        origin: &str,
        lock: Option<File>,
    ) -> Result<(Arc<Log>, TreeBuilder), LogError> {
        if signer.name() != origin {
            return Err(LogError::OtherLog {
                found: signer.name().to_owned(),
                wanted: origin.to_owned(),
            });
        }
        let vkey = signer.verifier();
        match store.meta("vkey")? {
            Some(v) if v != vkey.to_text() => {
                return Err(LogError::OtherKey {
                    found: vkey.to_text(),
                    created_with: v,
                });
            }
            Some(_) => {}
            None => {
                store.set_meta("origin", origin)?;
                store.set_meta("vkey", &vkey.to_text())?;
            }
        }
        let cp = match store.checkpoint()? {
            Some(cp) => cp,
            None => genesis(&*store, &signer)?,
        };
        let roots = store.read_hashes(&ank_proofs::tree::subtree_root_indexes(cp.size))?;
        let tree = TreeBuilder::from_subtree_roots(cp.size, roots)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if tree.root() != cp.root {
            return Err(StoreError::Corrupt(format!(
                "stored hashes give root {} but the checkpoint says {}",
                tree.root(),
                cp.root
            ))
            .into());
        }
        let map = rebuild_map(&*store)?;
        let last = cp
            .size
            .checked_sub(1)
            .and_then(|i| store.entry(i).transpose())
            .transpose()?
            .ok_or_else(|| StoreError::Corrupt("the latest checkpoint's tree is empty".into()))?;
        let map_root = MapRootEntry::decode(&last).map_err(|e| {
            StoreError::Corrupt(format!(
                "entry {}, the last of the latest checkpoint, is not a map-root entry: {e}",
                cp.size - 1
            ))
        })?;
        let rebuilt = map.current_root();
        if rebuilt != Some(map_root.root) {
            return Err(StoreError::Corrupt(format!(
                "the map rebuilt from the stored bindings has root {rebuilt:?}, but the tree's last map-root entry says {}",
                map_root.root
            ))
            .into());
        }
        let log = Log {
            store,
            signer,
            vkey,
            latest: RwLock::new((Arc::new(cp), map_root)),
            map: RwLock::new(map),
            witnessing: std::sync::OnceLock::new(),
            metrics: Metrics::default(),
            _lock: lock,
        };
        Ok((Arc::new(log), tree))
    }

    /// The map, shared (see the field's docs).
    pub fn map(&self) -> RwLockReadGuard<'_, Map> {
        match self.map.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Applies a committed map batch and makes `cp` the latest checkpoint,
    /// together, under the map's exclusive lock (a short copy).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if the batch was prepared on another state.
    pub fn publish_snapshot(
        &self,
        batch: ank_proofs::map::PreparedBatch,
        cp: Arc<StoredCheckpoint>,
        map_root: MapRootEntry,
    ) -> Result<(), StoreError> {
        let mut map = match self.map.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        map.apply(batch)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        match self.latest.write() {
            Ok(mut g) => *g = (cp, map_root),
            Err(p) => *p.into_inner() = (cp, map_root),
        }
        Ok(())
    }

    /// The origin (the log key's name).
    pub fn origin(&self) -> &str {
        self.vkey.name()
    }

    /// Has every new checkpoint cosigned by `w` before it is published,
    /// its requests run on `rt`. Set once, before the sequencer starts.
    pub fn set_witnessing(&self, w: Arc<witnessing::Witnessing>, rt: tokio::runtime::Handle) {
        let _ = self.witnessing.set((w, rt));
    }

    /// The witnesses, if any.
    pub fn witnessing(&self) -> Option<&(Arc<witnessing::Witnessing>, tokio::runtime::Handle)> {
        self.witnessing.get()
    }

    /// Serves `note` (the latest checkpoint with fresh cosignatures) if the
    /// latest checkpoint is still the one of `size` and `root`.
    pub fn set_cosigned(&self, size: u64, root: ank_proofs::Hash, note: String) {
        let mut g = match self.latest.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if g.0.size == size && g.0.root == root {
            g.0 = Arc::new(StoredCheckpoint { size, root, note });
        }
    }

    /// The latest checkpoint.
    pub fn latest(&self) -> Arc<StoredCheckpoint> {
        self.latest_with_map_root().0
    }

    /// The latest checkpoint and the map-root entry its tree ends with.
    pub fn latest_with_map_root(&self) -> (Arc<StoredCheckpoint>, MapRootEntry) {
        match self.latest.read() {
            Ok(g) => (Arc::clone(&g.0), g.1),
            Err(p) => {
                let g = p.into_inner();
                (Arc::clone(&g.0), g.1)
            }
        }
    }
}

/// Starts a new log: entry 0 is the map-root entry of the empty map, and
/// the first checkpoint signs the tree of that one entry.
fn genesis(store: &dyn LogStore, signer: &SignerKey) -> Result<StoredCheckpoint, LogError> {
    let bytes = ank_proofs::LogEntry::MapRoot(MapRootEntry {
        root: ank_proofs::map::empty_root(),
        timestamp_ms: now_ms(),
    })
    .encode();
    let mut tree = TreeBuilder::new();
    let hashes = tree.push_stored(ank_proofs::leaf_hash(&bytes));
    let note = ank_proofs::Checkpoint {
        origin: signer.name().to_owned(),
        size: tree.size(),
        root: tree.root(),
        extensions: Vec::new(),
    }
    .sign(signer)
    .map_err(LogError::Sign)?
    .to_text();
    let cp = StoredCheckpoint {
        size: tree.size(),
        root: tree.root(),
        note,
    };
    let batch = Batch {
        first_index: 0,
        entries: vec![store::NewEntry {
            bytes,
            binding: None,
        }],
        hashes,
    };
    store.commit(None, &batch, &cp)?;
    Ok(cp)
}

/// The map of a store's current bindings.
///
/// # Errors
/// Store errors.
pub fn rebuild_map(store: &dyn LogStore) -> Result<Map, StoreError> {
    let mut map = Map::new();
    store.current_bindings(&mut |label, version, index, entry| {
        map.insert(
            label,
            MapValue {
                version,
                index,
                entry_hash: ank_proofs::leaf_hash(entry),
            },
        );
    })?;
    map.shrink_to_fit();
    map.root();
    Ok(map)
}

/// Settings of `ank serve` (the log half).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data: PathBuf,
    /// The log's origin and key name, `<domain>/ank` by default.
    pub origin: String,
    pub listen: std::net::SocketAddr,
    pub sequencer: sequencer::Settings,
    pub limits: conn::Limits,
    /// Witnesses to cosign every checkpoint: (key, submission prefix).
    pub witnesses: Vec<(VerifierKey, String)>,
    /// How long a witness may take to answer.
    pub witness_timeout: std::time::Duration,
    /// How often the latest checkpoint is sent to the witnesses again.
    pub witness_interval: std::time::Duration,
    /// TLS 1.3 ([`tls`]); plain HTTP when `None`.
    pub tls: Option<Arc<tls::Reloadable>>,
    /// The built-in authoritative DNS server for `_ank.<domain>` ([`dns`]).
    pub dns: Option<dns::DnsSettings>,
}

/// A running log: its address and a handle to stop it.
#[derive(Debug)]
pub struct Running {
    pub log: Arc<Log>,
    pub addr: std::net::SocketAddr,
    pub created: bool,
    /// The DNS server's address and the DS record for the parent zone.
    pub dns: Option<(std::net::SocketAddr, String)>,
}

/// Opens the log, starts the sequencer and serves HTTP (the log's routes and
/// those `extra_routes` makes for the open log, e.g. the mailbox's) until
/// `shutdown` resolves or the sequencer stops. `on_ready` is called once
/// listening.
///
/// # Errors
/// Opening the log, binding the address, or the sequencer's fatal error.
pub async fn serve(
    cfg: ServeConfig,
    extra_routes: impl FnOnce(&Arc<Log>, std::net::SocketAddr) -> axum::Router,
    on_ready: impl FnOnce(&Running),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), LogError> {
    let (log, tree, created) = Log::open(&cfg.data, &cfg.origin)?;
    if !cfg.witnesses.is_empty() {
        let peers = cfg
            .witnesses
            .iter()
            .map(|(k, u)| witnessing::WitnessPeer::new(k.clone(), u))
            .collect();
        let w = Arc::new(
            witnessing::Witnessing::new(peers, cfg.witness_timeout, cfg.witness_interval).map_err(
                |e| LogError::Io {
                    path: "witness client".into(),
                    source: std::io::Error::other(e),
                },
            )?,
        );
        log.set_witnessing(Arc::clone(&w), tokio::runtime::Handle::current());
        // The latest checkpoint is cosigned now and again every interval,
        // so that its cosignatures show the log is alive.
        let (log, interval) = (Arc::clone(&log), cfg.witness_interval);
        tokio::spawn(async move {
            loop {
                if let Err(e) = witnessing::refresh(&log, &w).await {
                    eprintln!("witnessing: {e}");
                }
                tokio::time::sleep(interval).await;
            }
        });
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| LogError::Io {
            path: cfg.listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| LogError::Io {
        path: cfg.listen.to_string(),
        source,
    })?;
    let (queue, seq) =
        sequencer::start(Arc::clone(&log), tree, cfg.sequencer).map_err(|source| LogError::Io {
            path: "sequencer thread".into(),
            source,
        })?;
    let extra = extra_routes(&log, addr);
    let dns = match &cfg.dns {
        Some(d) => {
            let scheme = if cfg.tls.is_some() { "https" } else { "http" };
            Some(dns::start(
                d,
                &DataDir(cfg.data.clone()),
                Arc::clone(&log),
                format!("{scheme}://{addr}"),
                cfg.tls.clone(),
                cfg.witnesses.iter().map(|(k, _)| k.clone()).collect(),
            )?)
        }
        None => None,
    };
    on_ready(&Running {
        log: Arc::clone(&log),
        addr,
        created,
        dns: dns.as_ref().and_then(|d| d.served.clone()),
    });
    let app = api::router(
        api::AppState::new(log, queue).map_err(|source| LogError::Io {
            path: "worker threads".into(),
            source,
        })?,
    )
    .merge(extra);
    // The sequencer stopping (a CAS conflict) also stops the server.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let watcher = tokio::task::spawn_blocking(move || {
        let r = seq.join();
        let _ = stop_tx.send(());
        r
    });
    let acceptor = match &cfg.tls {
        Some(t) => {
            let config = t.server_config().map_err(|e| LogError::Io {
                path: "TLS configuration".into(),
                source: std::io::Error::other(e),
            })?;
            // SIGHUP reads the certificate again; open connections keep theirs.
            #[cfg(unix)]
            {
                let t = Arc::clone(t);
                if let Ok(mut hup) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                {
                    tokio::spawn(async move {
                        while hup.recv().await.is_some() {
                            match t.reload() {
                                Ok(()) => {
                                    eprintln!("TLS certificate reloaded ({})", t.spki_sha256())
                                }
                                Err(e) => eprintln!("TLS certificate not reloaded: {e}"),
                            }
                        }
                    });
                }
            }
            Some(tokio_rustls::TlsAcceptor::from(config))
        }
        None => None,
    };
    conn::serve_tls(listener, app, cfg.limits, acceptor, async move {
        tokio::select! {
            () = shutdown => {}
            _ = stop_rx => {}
        }
    })
    .await
    .map_err(|source| LogError::Io {
        path: addr.to_string(),
        source,
    })?;
    drop(dns);
    // The server (and with it the queue) is gone: the sequencer finishes its batch and ends.
    if let Ok(Ok(Err(e))) = watcher.await {
        return Err(e.into());
    }
    Ok(())
}
