//! The auditor: follows logs, mirrors and replays every entry, and holds
//! them to one history with the help of its peers.
//!
//! For each log it keeps, in sqlite (`audit.sqlite`, `synchronous=FULL`):
//! every entry, the stored hashes of its tree (the layout of
//! [`ank_proofs::tree`]), the latest checkpoint it verified, the evidence it
//! holds, and why it stopped trusting the log, if it did. On start it
//! replays its copy. Each round it fetches the log's checkpoint, verifies
//! the signature, reads the new entries from the tiles, recomputes the tree
//! from its own copy and replays the map ([`ank_proofs::map::Replay`]:
//! every version, every key holder's signature, every map-root entry). A
//! checkpoint that its copy contradicts, whether the log's own or one
//! received by gossip, becomes evidence (the `ank-evidence/v1` format),
//! served at `GET /v1/evidence` and pushed to the peers.
//!
//! # Errors
//!
//! [`AuditError`]: the log's data does not verify (`Proof`), transport and
//! storage errors, a log that is halted (its replay failed; nothing of it
//! is cosigned any more).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use ank_client::{ClientError, Source};
use ank_proofs::evidence::Evidence;
use ank_proofs::map::Replay;
use ank_proofs::tile::{Tile, TileHashReader};
use ank_proofs::{
    Hash, HashReader, TreeBuilder, VerifiedCheckpoint, VerifierKey, leaf_hash, verify_checkpoint,
};
use rusqlite::{Connection, OptionalExtension, params};

/// Why an audit step failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{0}")]
    Proof(#[from] ank_proofs::Error),
    #[error("audit storage: {0}")]
    Store(String),
    #[error("{origin} is halted: {why}")]
    Halted { origin: String, why: String },
    #[error("unknown log {0:?}")]
    UnknownLog(String),
}

fn sql(e: rusqlite::Error) -> AuditError {
    AuditError::Store(e.to_string())
}

/// A log the auditor follows.
#[derive(Debug, Clone)]
pub struct LogSpec {
    pub domain: String,
    /// A directory or an http(s):// prefix serving the log's tiles and checkpoint.
    pub source: String,
    pub vkey: VerifierKey,
}

/// What the auditor knows of one log.
struct Followed {
    spec: LogSpec,
    source: Arc<Source>,
    replay: Replay,
    tree: TreeBuilder,
    /// The latest checkpoint verified against the copy (the log's signed note).
    checkpoint: Option<String>,
    halted: Option<String>,
}

/// The auditor's state of every log it follows.
pub struct Auditor {
    db: Mutex<Connection>,
    path: std::path::PathBuf,
    logs: HashMap<String, tokio::sync::Mutex<Followed>>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor").field("path", &self.path).finish()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (origin TEXT NOT NULL, idx INTEGER NOT NULL, entry BLOB NOT NULL, hashes BLOB NOT NULL, PRIMARY KEY (origin, idx)) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, note TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS halted (origin TEXT PRIMARY KEY, why TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS evidence (text TEXT PRIMARY KEY, origin TEXT NOT NULL, seen_ms INTEGER NOT NULL) STRICT, WITHOUT ROWID;
";

/// The stored hashes of one log's copy, read from the auditor's database.
struct Mirror<'a> {
    conn: &'a Connection,
    origin: &'a str,
}

impl HashReader for Mirror<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ank_proofs::Error> {
        let mut st = self
            .conn
            .prepare_cached("SELECT hashes FROM entries WHERE origin = ?1 AND idx = ?2")
            .map_err(|_| ank_proofs::Error::MissingHash { index: 0 })?;
        indexes
            .iter()
            .map(|&i| {
                let (level, n) = ank_proofs::tree::split_stored_hash_index(i);
                let leaf = ((n + 1) << level) - 1;
                let missing = ank_proofs::Error::MissingHash { index: i };
                let b: Vec<u8> = st
                    .query_row(params![self.origin, leaf as i64], |r| r.get(0))
                    .map_err(|_| missing.clone())?;
                let at = usize::from(level) * 32;
                b.get(at..at + 32)
                    .and_then(|h| Hash::from_slice(h).ok())
                    .ok_or(missing)
            })
            .collect()
    }
}

impl Auditor {
    /// Opens the auditor's database at `db` for `logs`, replaying the
    /// copy of each.
    ///
    /// # Errors
    /// Storage errors; a copy that does not replay to its checkpoint.
    pub fn open(db: &Path, logs: Vec<LogSpec>) -> Result<Arc<Auditor>, AuditError> {
        let conn = Connection::open(db).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        let mut followed = HashMap::new();
        for spec in logs {
            let origin = spec.vkey.name().to_owned();
            let mut replay = Replay::new();
            let mut tree = TreeBuilder::new();
            {
                let size: i64 = conn
                    .query_row(
                        "SELECT size FROM checkpoints WHERE origin = ?1",
                        [&origin],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(sql)?
                    .unwrap_or(0);
                let mut st = conn
                    .prepare(
                        "SELECT entry FROM entries WHERE origin = ?1 AND idx < ?2 ORDER BY idx",
                    )
                    .map_err(sql)?;
                let mut rows = st.query(params![&origin, size]).map_err(sql)?;
                while let Some(r) = rows.next().map_err(sql)? {
                    let e: Vec<u8> = r.get(0).map_err(sql)?;
                    tree.push(leaf_hash(&e));
                    // A halted log's copy may not replay; its halt is stored.
                    let _ = replay.push(&e);
                }
            }
            let checkpoint: Option<String> = conn
                .query_row(
                    "SELECT note FROM checkpoints WHERE origin = ?1",
                    [&origin],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql)?;
            if let Some(n) = &checkpoint {
                let cp = verify_checkpoint(n.as_bytes(), &spec.vkey, &[])?;
                if cp.size() != tree.size() || cp.root() != &tree.root() {
                    return Err(AuditError::Store(format!(
                        "the copy of {origin} does not give its stored checkpoint"
                    )));
                }
            }
            let halted: Option<String> = conn
                .query_row("SELECT why FROM halted WHERE origin = ?1", [&origin], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(sql)?;
            let source = Arc::new(Source::parse(&spec.source)?);
            followed.insert(
                origin,
                tokio::sync::Mutex::new(Followed {
                    spec,
                    source,
                    replay,
                    tree,
                    checkpoint,
                    halted,
                }),
            );
        }
        Ok(Arc::new(Auditor {
            db: Mutex::new(conn),
            path: db.to_owned(),
            logs: followed,
        }))
    }

    /// The origins followed.
    pub fn origins(&self) -> Vec<String> {
        let mut o: Vec<String> = self.logs.keys().cloned().collect();
        o.sort();
        o
    }

    fn db(&self) -> Result<std::sync::MutexGuard<'_, Connection>, AuditError> {
        self.db
            .lock()
            .map_err(|_| AuditError::Store("database lock poisoned".into()))
    }

    /// The latest checkpoint verified for each log.
    pub fn latest(&self) -> Result<Vec<String>, AuditError> {
        self.texts("SELECT note FROM checkpoints ORDER BY origin")
    }

    /// Every piece of evidence held, oldest first.
    pub fn evidence(&self) -> Result<Vec<String>, AuditError> {
        self.texts("SELECT text FROM evidence ORDER BY seen_ms, text")
    }

    /// The one text column of every row `query` selects.
    fn texts(&self, query: &str) -> Result<Vec<String>, AuditError> {
        let c = self.db()?;
        let mut st = c.prepare(query).map_err(sql)?;
        let rows = st.query_map([], |r| r.get(0)).map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    /// Why a log is halted, if it is.
    pub async fn halted(&self, origin: &str) -> Option<String> {
        self.logs.get(origin)?.lock().await.halted.clone()
    }

    /// Keeps `text` if it is evidence against a followed log; returns
    /// whether it is new.
    ///
    /// # Errors
    /// [`AuditError::UnknownLog`], the evidence's verification error, storage.
    pub async fn add_evidence(&self, text: &str) -> Result<bool, AuditError> {
        let e = Evidence::parse(text)?;
        let origin = origin_of(e.notes.first().map_or("", String::as_str))?;
        let f = self
            .logs
            .get(&origin)
            .ok_or_else(|| AuditError::UnknownLog(origin.clone()))?;
        let vkey = f.lock().await.spec.vkey.clone();
        e.verify(&vkey)?;
        self.keep(&origin, &e)
    }

    fn keep(&self, origin: &str, e: &Evidence) -> Result<bool, AuditError> {
        let c = self.db()?;
        let n = c
            .execute(
                "INSERT OR IGNORE INTO evidence (text, origin, seen_ms) VALUES (?1, ?2, ?3)",
                params![e.to_text(), origin, ank_common::now_ms() as i64],
            )
            .map_err(sql)?;
        Ok(n == 1)
    }

    fn halt(&self, f: &mut Followed, why: String) -> Result<(), AuditError> {
        self.db()?
            .execute(
                "INSERT OR REPLACE INTO halted (origin, why) VALUES (?1, ?2)",
                params![f.spec.vkey.name(), why],
            )
            .map_err(sql)?;
        f.halted = Some(why);
        Ok(())
    }

    /// Follows `origin` up to the log's latest checkpoint.
    ///
    /// # Errors
    /// [`AuditError`]; evidence found on the way is kept (and returned by
    /// [`Auditor::evidence`]) before the error.
    pub async fn follow(&self, origin: &str) -> Result<Vec<Evidence>, AuditError> {
        let f = self
            .logs
            .get(origin)
            .ok_or_else(|| AuditError::UnknownLog(origin.to_owned()))?;
        let mut f = f.lock().await;
        let note = f.source.get("checkpoint").await?;
        let cp = verify_checkpoint(&note, &f.spec.vkey, &[])?;
        self.consider_locked(&mut f, &cp).await
    }

    /// Checks a checkpoint (from the log or a peer) against this auditor's
    /// copy, following the log first when it is larger; returns new evidence.
    ///
    /// # Errors
    /// [`AuditError`].
    pub async fn consider(&self, note: &str) -> Result<Vec<Evidence>, AuditError> {
        let origin = origin_of(note)?;
        let f = self
            .logs
            .get(&origin)
            .ok_or_else(|| AuditError::UnknownLog(origin.clone()))?;
        let mut f = f.lock().await;
        let cp = verify_checkpoint(note.as_bytes(), &f.spec.vkey, &[])?;
        if cp.size() > f.tree.size() {
            // Catch up with the log first; it may already be there.
            let latest = f.source.get("checkpoint").await?;
            let latest = verify_checkpoint(&latest, &f.spec.vkey, &[])?;
            let mut found = self.consider_locked(&mut f, &latest).await?;
            if cp.size() <= f.tree.size() {
                found.extend(self.consider_locked(&mut f, &cp).await?);
            }
            return Ok(found);
        }
        self.consider_locked(&mut f, &cp).await
    }

    async fn consider_locked(
        &self,
        f: &mut Followed,
        cp: &VerifiedCheckpoint,
    ) -> Result<Vec<Evidence>, AuditError> {
        let origin = f.spec.vkey.name().to_owned();
        let ours = match &f.checkpoint {
            Some(n) => Some(verify_checkpoint(n.as_bytes(), &f.spec.vkey, &[])?),
            None => None,
        };
        let size = f.tree.size();
        if cp.size() <= size {
            let Some(ours) = ours else {
                return Ok(Vec::new());
            };
            let evidence = {
                let c = self.db()?;
                let mirror = Mirror {
                    conn: &c,
                    origin: &origin,
                };
                if cp.size() == size {
                    (cp.root() != ours.root()).then(|| Evidence::same_size(cp, &ours))
                } else if cp.size() == 0 {
                    None
                } else {
                    match Evidence::from_larger_tree(cp, &ours, &mirror) {
                        Ok(e) => Some(e),
                        Err(ank_proofs::Error::Evidence(
                            ank_proofs::evidence::EvidenceError::NotAFork,
                        )) => None,
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            let Some(e) = evidence else {
                return Ok(Vec::new());
            };
            self.keep(&origin, &e)?;
            return Ok(vec![e]);
        }
        if let Some(why) = &f.halted {
            return Err(AuditError::Halted {
                origin,
                why: why.clone(),
            });
        }
        // Larger: read the new entries and extend the copy.
        let (from, to) = (size, cp.size());
        let mut tree = f.tree.clone();
        // The copy is written beside the walk and the replay, on another
        // core, in chunks; the checkpoint row written after them is the
        // commit point (entries beyond a stored checkpoint are ignored on
        // start). The replay runs only once the tree proves the new entries
        // extend the copy, so a fork's entries never enter it.
        let writer = ChunkWriter::start(&self.path, &origin)?;
        let mut rows: Vec<Row> = Vec::new();
        let mut new_entries: Vec<Vec<u8>> = Vec::new();
        ank_client::walk_entries(
            Arc::clone(&f.source),
            from,
            to,
            false,
            |index, e, leaf| {
                let hashes = tree.push_stored(leaf);
                new_entries.push(e.to_vec());
                rows.push((index, e.to_vec(), hashes.iter().flat_map(|h| h.0).collect()));
                if rows.len() >= 4096 {
                    writer
                        .send(std::mem::take(&mut rows))
                        .map_err(|e| ClientError::Source(e.to_string()))?;
                }
                Ok(())
            },
            |_, _| {},
        )
        .await?;
        if !rows.is_empty() {
            writer.send(std::mem::take(&mut rows))?;
        }
        if tree.root() != *cp.root() {
            // Not an extension of the copy: the log's own tiles prove it.
            if let Some(ours) = ours {
                let (source, theirs) = (Arc::clone(&f.source), cp.clone());
                let built = with_tiles(source, cp.size(), move |reader| {
                    Evidence::from_larger_tree(&ours, &theirs, reader)
                })
                .await;
                if let Ok(e) = built {
                    self.keep(&origin, &e)?;
                    return Ok(vec![e]);
                }
            }
            return Err(ank_proofs::Error::RootMismatch {
                expected: *cp.root(),
                computed: tree.root(),
            }
            .into());
        }
        let failure = new_entries
            .iter()
            .enumerate()
            .find_map(|(k, e)| f.replay.push(e).err().map(|err| (from + k as u64, err)));
        writer.finish()?;
        if let Some((index, err)) = failure {
            // The log is halted and its copy stays at the last checkpoint
            // that replayed; a contradicted map root is proven with the
            // log's own tiles.
            let mut found = Vec::new();
            if matches!(err, ank_proofs::Error::ReplayMapRoot { .. }) {
                let (source, cp) = (Arc::clone(&f.source), cp.clone());
                let replay = std::mem::take(&mut f.replay);
                let built = with_tiles(source, cp.size(), move |reader| {
                    replay.map_root_evidence(&cp, reader)
                })
                .await;
                if let Ok(e) = built {
                    self.keep(&origin, &e)?;
                    found.push(e);
                }
            }
            self.halt(f, format!("entry {index}: {err}"))?;
            return if found.is_empty() {
                Err(err.into())
            } else {
                Ok(found)
            };
        }
        self.db()?
            .execute(
                "INSERT OR REPLACE INTO checkpoints (origin, size, note) VALUES (?1, ?2, ?3)",
                params![origin, to as i64, cp.note().to_text()],
            )
            .map_err(sql)?;
        f.tree = tree;
        f.checkpoint = Some(cp.note().to_text());
        Ok(Vec::new())
    }

    /// Whether the copy of `origin` verifies a tree of `size` with `root`
    /// that ends with a map-root entry (following the log first when it is
    /// behind): what an auditing witness needs before it cosigns.
    ///
    /// # Errors
    /// [`AuditError`] saying why not.
    pub async fn verified(&self, origin: &str, size: u64, root: &Hash) -> Result<(), AuditError> {
        if !self.logs.contains_key(origin) {
            return Err(AuditError::UnknownLog(origin.to_owned()));
        }
        if self.logs[origin].lock().await.tree.size() < size {
            let _ = self.follow(origin).await;
        }
        let f = self.logs[origin].lock().await;
        if let Some(why) = &f.halted {
            return Err(AuditError::Halted {
                origin: origin.to_owned(),
                why: why.clone(),
            });
        }
        if f.tree.size() < size {
            return Err(AuditError::Store(format!(
                "the log does not serve size {size} yet (the copy has {})",
                f.tree.size()
            )));
        }
        let c = self.db()?;
        let ours = ank_proofs::tree_hash(size, &Mirror { conn: &c, origin })?;
        if ours != *root {
            return Err(ank_proofs::Error::RootMismatch {
                expected: ours,
                computed: *root,
            }
            .into());
        }
        if size > 0 {
            let last: Vec<u8> = c
                .query_row(
                    "SELECT entry FROM entries WHERE origin = ?1 AND idx = ?2",
                    params![origin, (size - 1) as i64],
                    |r| r.get(0),
                )
                .map_err(sql)?;
            ank_proofs::MapRootEntry::decode(&last)?;
        }
        Ok(())
    }
}

/// The origin a signed checkpoint note names (not verified).
fn origin_of(note: &str) -> Result<String, AuditError> {
    ank_proofs::Note::parse(note.as_bytes())
        .ok()
        .and_then(|n| ank_proofs::Checkpoint::parse(n.text()).ok())
        .map(|c| c.origin)
        .ok_or_else(|| AuditError::UnknownLog(String::new()))
}

/// Writes a log's copy in chunks on its own thread and connection.
struct ChunkWriter {
    tx: Option<std::sync::mpsc::SyncSender<Vec<Row>>>,
    thread: Option<std::thread::JoinHandle<Result<(), AuditError>>>,
}

/// An entry of the copy: index, bytes, the stored hashes it adds.
type Row = (u64, Vec<u8>, Vec<u8>);

impl ChunkWriter {
    fn start(db: &Path, origin: &str) -> Result<ChunkWriter, AuditError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Row>>(8);
        let (db, origin) = (db.to_owned(), origin.to_owned());
        let thread = std::thread::Builder::new()
            .name("ank-audit-writer".into())
            .spawn(move || -> Result<(), AuditError> {
                let mut c = Connection::open(&db).map_err(sql)?;
                c.busy_timeout(std::time::Duration::from_secs(30))
                    .map_err(sql)?;
                // Made durable by the fsync of the checkpoint row that follows.
                c.pragma_update(None, "synchronous", "NORMAL")
                    .map_err(sql)?;
                for chunk in rx {
                    let t = c.transaction().map_err(sql)?;
                    {
                        let mut ins = t
                            .prepare_cached(
                                "INSERT OR REPLACE INTO entries (origin, idx, entry, hashes) VALUES (?1, ?2, ?3, ?4)",
                            )
                            .map_err(sql)?;
                        for (i, e, h) in &chunk {
                            ins.execute(params![origin, *i as i64, e, h])
                                .map_err(sql)?;
                        }
                    }
                    t.commit().map_err(sql)?;
                }
                Ok(())
            })
            .map_err(|e| AuditError::Store(e.to_string()))?;
        Ok(ChunkWriter {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    fn send(&self, rows: Vec<Row>) -> Result<(), AuditError> {
        self.tx
            .as_ref()
            .and_then(|t| t.send(rows).ok())
            .ok_or_else(|| AuditError::Store("the copy's writer stopped".into()))
    }

    fn finish(mut self) -> Result<(), AuditError> {
        drop(self.tx.take());
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(AuditError::Store("the copy's writer panicked".into()))),
            None => Ok(()),
        }
    }
}

impl Drop for ChunkWriter {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `f` on a blocking thread with a reader of the stored hashes of
/// the tree of `size` that `source` serves as tiles (fetched as needed).
async fn with_tiles<T: Send + 'static>(
    source: Arc<Source>,
    size: u64,
    f: impl FnOnce(&dyn HashReader) -> Result<T, ank_proofs::Error> + Send + 'static,
) -> Result<T, ank_proofs::Error> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let reader = TileHashReader::new(size, |t: &Tile| {
            handle
                .block_on(source.get(&t.path()))
                .map_err(|_| ank_proofs::Error::MissingHash { index: t.index })
        });
        f(&reader)
    })
    .await
    .map_err(|_| ank_proofs::Error::MissingHash { index: 0 })?
}
