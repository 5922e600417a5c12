//! Log storage: the contract every backend keeps, and the sqlite backend.
//!
//! # Contract
//!
//! * **Durable when a call returns.** A successful [`LogStore::commit`] has
//!   reached stable storage (sqlite: WAL with `synchronous=FULL`).
//! * **Atomic.** A commit writes its entries (the batch's, then the tail
//!   its `finish` adds: the map-root entry), stored hashes, bindings, used
//!   tokens, finished operator requests and the new checkpoint together, or
//!   nothing at all.
//! * **Compare-and-swap of the checkpoint.** A commit names the checkpoint it
//!   extends (`None` for the very first); if the stored checkpoint is another,
//!   nothing is written and [`StoreError::Conflict`] is returned. Two writers
//!   can therefore never both extend the same checkpoint.
//! * **Read-after-write.** Once a commit returns, every read, on any handle of
//!   the same store, sees it.
//!
//! The conformance suite in `tests/` checks all four for every backend.
//!
//! # Format
//!
//! The sqlite file's `user_version` is [`FORMAT`]. A file of an earlier
//! format (entries of the retired 82-byte binding type, no map-root
//! entries) is refused with [`StoreError::OldFormat`]: nothing is deployed
//! yet, so there is no migration.

use std::path::Path;
use std::sync::Mutex;

use ank_proofs::Hash;
use rusqlite::{Connection, OptionalExtension, params};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The stored checkpoint is not the one a commit expected to extend.
    #[error(
        "checkpoint compare-and-swap failed: expected size {expected:?}, found size {found:?}; another writer is using this log"
    )]
    Conflict {
        expected: Option<u64>,
        found: Option<u64>,
    },
    /// A database written by another version of ank.
    #[error(
        "{path} is a log of an earlier ank format ({found}; this ank writes format {FORMAT}, whose trees end with map-root entries and whose bindings carry their key sets and signatures). Nothing migrates it: start the log anew in another --data directory"
    )]
    OldFormat { path: String, found: String },
    /// Stored data that cannot be what ank wrote.
    #[error("corrupt log store: {0}")]
    Corrupt(String),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// The latest signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    /// The signed note, as served at `/checkpoint`.
    pub note: String,
}

/// One entry to append: its bytes, and for a binding what else it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// The entry's encoding ([`ank_proofs::binding`]).
    pub bytes: Vec<u8>,
    /// Set for a binding entry; `None` for a map-root entry.
    pub binding: Option<NewBinding>,
}

/// What a binding entry changes besides the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBinding {
    pub label: Hash,
    pub version: u64,
    /// The enrollment token (its SHA-256) this entry uses up.
    pub token: Option<Hash>,
    /// The operator request this entry carries out.
    pub operator_request: Option<i64>,
}

/// A batch of entries with the stored hashes they add.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Index of the first entry: the size of the tree being extended.
    pub first_index: u64,
    pub entries: Vec<NewEntry>,
    /// The stored hashes the entries add, in stored-hash order, starting at
    /// `stored_hash_count(first_index)`.
    pub hashes: Vec<Hash>,
}

/// The state of an enrollment token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenState {
    pub label: Hash,
    pub expires_ms: u64,
    /// The index of the entry that used it.
    pub used_by: Option<u64>,
}

/// Called with (label, version, index, entry encoding) of each current binding.
pub type BindingVisitor<'a> = &'a mut dyn FnMut(Hash, u64, u64, &[u8]);

/// What a commit's `finish` returns: the entries it appends after the
/// batch (first index: right after the batch's) and the new checkpoint.
#[derive(Debug, Clone)]
pub struct Finished {
    pub tail: Batch,
    pub checkpoint: StoredCheckpoint,
}

/// A request by the operator to replace an address's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRequest {
    pub id: i64,
    pub label: Hash,
    pub key_set: Vec<u8>,
}

/// Storage of one log. See the module docs for the contract.
pub trait LogStore: Send + Sync + std::fmt::Debug + 'static {
    /// The latest checkpoint, if any was ever committed.
    fn checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;
    /// Appends `batch` and replaces the checkpoint `expected` (its size and
    /// root) by `next`, atomically and durably.
    fn commit(
        &self,
        expected: Option<(u64, Hash)>,
        batch: &Batch,
        next: &StoredCheckpoint,
    ) -> Result<(), StoreError> {
        self.commit_with(expected, batch, &mut || {
            Ok(Finished {
                tail: Batch {
                    first_index: batch.first_index + batch.entries.len() as u64,
                    ..Batch::default()
                },
                checkpoint: next.clone(),
            })
        })
        .map(|_| ())
    }
    /// As [`LogStore::commit`], with the tail entries and the new
    /// checkpoint made by `finish` once the batch is written (still inside
    /// the transaction, after the compare-and-swap's precondition held), so
    /// that computing them can overlap with the writes. An error from
    /// `finish` writes nothing.
    fn commit_with(
        &self,
        expected: Option<(u64, Hash)>,
        batch: &Batch,
        finish: &mut dyn FnMut() -> Result<Finished, StoreError>,
    ) -> Result<StoredCheckpoint, StoreError>;
    /// Stored hashes by stored-hash index.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError>;
    /// The encoded entries `start..end`.
    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError>;
    /// One entry's encoding.
    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// The current (version, index) of a label.
    fn binding(&self, label: &Hash) -> Result<Option<(u64, u64)>, StoreError>;
    /// [`LogStore::binding`] of many labels, from one consistent read.
    fn bindings(&self, labels: &[Hash]) -> Result<Vec<Option<(u64, u64)>>, StoreError>;
    /// Every label's current (version, index, entry encoding), for rebuilding the map.
    fn current_bindings(&self, each: BindingVisitor<'_>) -> Result<(), StoreError>;
    /// Stores an enrollment token by its SHA-256.
    fn put_token(&self, token_hash: &Hash, label: &Hash, expires_ms: u64)
    -> Result<(), StoreError>;
    /// An enrollment token by its SHA-256.
    fn token(&self, token_hash: &Hash) -> Result<Option<TokenState>, StoreError>;
    /// Queues an operator request; returns its id.
    fn add_operator_request(&self, label: &Hash, key_set: &[u8]) -> Result<i64, StoreError>;
    /// Operator requests not yet carried out, oldest first.
    fn pending_operator_requests(&self) -> Result<Vec<OperatorRequest>, StoreError>;
    /// The index of the entry that carried out an operator request.
    fn operator_request_done(&self, id: i64) -> Result<Option<u64>, StoreError>;
    /// A configuration value.
    fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Sets a configuration value.
    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS hashes (leaf INTEGER PRIMARY KEY, hashes BLOB NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS bindings (label BLOB PRIMARY KEY, version INTEGER NOT NULL, idx INTEGER NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS tokens (hash BLOB PRIMARY KEY, label BLOB NOT NULL, expires_ms INTEGER NOT NULL, used_by INTEGER) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS operator_requests (id INTEGER PRIMARY KEY, label BLOB NOT NULL, key_set BLOB NOT NULL, done_idx INTEGER) STRICT;
";

/// The format of the sqlite file (its `user_version`).
pub const FORMAT: i64 = 2;

/// The sqlite backend: one writer connection, a small pool of readers.
#[derive(Debug)]
pub struct SqliteStore {
    path: std::path::PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn open_conn(path: &Path, cache_kib: i64) -> Result<Connection, StoreError> {
    let c = Connection::open(path)?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "FULL")?;
    c.pragma_update(None, "cache_size", -cache_kib)?;
    Ok(c)
}

/// Page cache of the writer and of each reader, KiB.
const WRITER_CACHE_KIB: i64 = 16 * 1024;
const READER_CACHE_KIB: i64 = 4 * 1024;

fn hash_col(b: Vec<u8>) -> Result<Hash, StoreError> {
    Hash::from_slice(&b).map_err(|_| StoreError::Corrupt(format!("{}-byte hash", b.len())))
}

fn u64_col(v: i64) -> u64 {
    // Every integer ank stores is a u64 below 2^63.
    v as u64
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path`.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`].
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        // The format is checked before anything is written (not even the
        // journal mode): a database of another format is left as it was.
        let (format, tables): (i64, i64) = {
            let c = Connection::open(path)?;
            c.busy_timeout(std::time::Duration::from_secs(10))?;
            let format = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            let tables = c.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )?;
            (format, tables)
        };
        if format != FORMAT && (format != 0 || tables != 0) {
            return Err(StoreError::OldFormat {
                path: path.display().to_string(),
                found: if format == 0 {
                    "the first format".into()
                } else {
                    format!("format {format}")
                },
            });
        }
        let mut w = open_conn(path, WRITER_CACHE_KIB)?;
        let tx = w.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let format: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if format == 0 {
            tx.execute_batch(SCHEMA)?;
            tx.pragma_update(None, "user_version", FORMAT)?;
        }
        tx.commit()?;
        Ok(SqliteStore {
            path: path.to_owned(),
            writer: Mutex::new(w),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Runs `f` inside one read transaction: one lock acquisition for many queries.
    fn read_tx<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.read(|c| {
            let tx = c.unchecked_transaction()?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self
            .readers
            .lock()
            .map_err(|_| StoreError::Corrupt("reader pool poisoned".into()))?
            .pop();
        let conn = match conn {
            Some(c) => c,
            None => open_conn(&self.path, READER_CACHE_KIB)?,
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < 16
        {
            pool.push(conn);
        }
        out
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut c = self
            .writer
            .lock()
            .map_err(|_| StoreError::Corrupt("writer poisoned".into()))?;
        f(&mut c)
    }
}

impl LogStore for SqliteStore {
    fn checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.read(|c| {
            let row = c
                .query_row(
                    "SELECT size, root, note FROM checkpoint WHERE id = 1",
                    [],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, Vec<u8>>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    },
                )
                .optional()?;
            row.map(|(size, root, note)| {
                Ok(StoredCheckpoint {
                    size: u64_col(size),
                    root: hash_col(root)?,
                    note,
                })
            })
            .transpose()
        })
    }

    fn commit_with(
        &self,
        expected: Option<(u64, Hash)>,
        batch: &Batch,
        finish: &mut dyn FnMut() -> Result<Finished, StoreError>,
    ) -> Result<StoredCheckpoint, StoreError> {
        self.write(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // The write lock is held from here on: check the precondition first,
            // so a conflict writes nothing and costs nothing.
            let stored: Option<(i64, Vec<u8>)> = tx
                .query_row("SELECT size, root FROM checkpoint WHERE id = 1", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let matches = match (&stored, expected) {
                (None, None) => true,
                (Some((size, root)), Some((es, er))) => u64_col(*size) == es && root.as_slice() == er.0.as_slice(),
                _ => false,
            };
            if !matches {
                return Err(StoreError::Conflict {
                    expected: expected.map(|(s, _)| s),
                    found: stored.map(|(s, _)| u64_col(s)),
                });
            }
            write_batch(&tx, batch)?;
            let Finished { tail, checkpoint: next } = finish()?;
            if tail.first_index != batch.first_index + batch.entries.len() as u64 {
                return Err(StoreError::Corrupt("the tail does not follow the batch".into()));
            }
            write_batch(&tx, &tail)?;
            let swapped = match expected {
                None => tx.execute(
                    "INSERT OR IGNORE INTO checkpoint (id, size, root, note) VALUES (1, ?1, ?2, ?3)",
                    params![next.size as i64, next.root.0.as_slice(), next.note],
                )?,
                Some((size, root)) => tx.execute(
                    "UPDATE checkpoint SET size = ?1, root = ?2, note = ?3 WHERE id = 1 AND size = ?4 AND root = ?5",
                    params![next.size as i64, next.root.0.as_slice(), next.note, size as i64, root.0.as_slice()],
                )?,
            };
            if swapped != 1 {
                let found: Option<i64> = tx
                    .query_row("SELECT size FROM checkpoint WHERE id = 1", [], |r| r.get(0))
                    .optional()?;
                return Err(StoreError::Conflict {
                    expected: expected.map(|(s, _)| s),
                    found: found.map(u64_col),
                });
            }
            tx.commit()?;
            Ok(next)
        })
    }

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        self.read_tx(|c| {
            let mut st = c.prepare_cached("SELECT hashes FROM hashes WHERE leaf = ?1")?;
            indexes
                .iter()
                .map(|&i| {
                    // Stored hash (level, n) was stored right after leaf ((n+1) << level) - 1.
                    let (level, n) = ank_proofs::tree::split_stored_hash_index(i);
                    let leaf = ((n + 1) << level) - 1;
                    let missing = || StoreError::Corrupt(format!("stored hash {i} missing"));
                    let b: Option<Vec<u8>> =
                        st.query_row([leaf as i64], |r| r.get(0)).optional()?;
                    let b = b.ok_or_else(missing)?;
                    let at = usize::from(level) * 32;
                    hash_col(b.get(at..at + 32).ok_or_else(missing)?.to_vec())
                })
                .collect()
        })
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT entry FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            )?;
            let rows = st.query_map([start as i64, end as i64], |r| r.get::<_, Vec<u8>>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT entry FROM entries WHERE idx = ?1")?
                    .query_row([index as i64], |r| r.get(0))
                    .optional()?,
            )
        })
    }

    fn binding(&self, label: &Hash) -> Result<Option<(u64, u64)>, StoreError> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT version, idx FROM bindings WHERE label = ?1")?
                    .query_row([label.0.as_slice()], |r| {
                        Ok((u64_col(r.get(0)?), u64_col(r.get(1)?)))
                    })
                    .optional()?,
            )
        })
    }

    fn bindings(&self, labels: &[Hash]) -> Result<Vec<Option<(u64, u64)>>, StoreError> {
        self.read_tx(|c| {
            let mut st = c.prepare_cached("SELECT version, idx FROM bindings WHERE label = ?1")?;
            labels
                .iter()
                .map(|l| {
                    Ok(st
                        .query_row([l.0.as_slice()], |r| {
                            Ok((u64_col(r.get(0)?), u64_col(r.get(1)?)))
                        })
                        .optional()?)
                })
                .collect()
        })
    }

    fn current_bindings(&self, each: BindingVisitor<'_>) -> Result<(), StoreError> {
        self.read_tx(|c| {
            let mut st = c.prepare(
                "SELECT b.label, b.version, b.idx, e.entry FROM bindings b JOIN entries e ON e.idx = b.idx",
            )?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let label = hash_col(r.get(0)?)?;
                let entry: Vec<u8> = r.get(3)?;
                each(label, u64_col(r.get(1)?), u64_col(r.get(2)?), &entry);
            }
            Ok(())
        })
    }

    fn put_token(
        &self,
        token_hash: &Hash,
        label: &Hash,
        expires_ms: u64,
    ) -> Result<(), StoreError> {
        self.write(|c| {
            c.execute(
                "INSERT INTO tokens (hash, label, expires_ms) VALUES (?1, ?2, ?3)",
                params![
                    token_hash.0.as_slice(),
                    label.0.as_slice(),
                    expires_ms as i64
                ],
            )?;
            Ok(())
        })
    }

    fn token(&self, token_hash: &Hash) -> Result<Option<TokenState>, StoreError> {
        self.read(|c| {
            let row = c
                .prepare_cached("SELECT label, expires_ms, used_by FROM tokens WHERE hash = ?1")?
                .query_row([token_hash.0.as_slice()], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                })
                .optional()?;
            row.map(|(label, exp, used)| {
                Ok(TokenState {
                    label: hash_col(label)?,
                    expires_ms: u64_col(exp),
                    used_by: used.map(u64_col),
                })
            })
            .transpose()
        })
    }

    fn add_operator_request(&self, label: &Hash, key_set: &[u8]) -> Result<i64, StoreError> {
        self.write(|c| {
            c.execute(
                "INSERT INTO operator_requests (label, key_set) VALUES (?1, ?2)",
                params![label.0.as_slice(), key_set],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    fn pending_operator_requests(&self) -> Result<Vec<OperatorRequest>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT id, label, key_set FROM operator_requests WHERE done_idx IS NULL ORDER BY id",
            )?;
            let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?)))?;
            rows.map(|row| {
                let (id, label, key_set) = row?;
                Ok(OperatorRequest { id, label: hash_col(label)?, key_set })
            })
            .collect()
        })
    }

    fn operator_request_done(&self, id: i64) -> Result<Option<u64>, StoreError> {
        self.read(|c| {
            let v: Option<Option<i64>> = c
                .query_row(
                    "SELECT done_idx FROM operator_requests WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(v.flatten().map(u64_col))
        })
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                    .optional()?,
            )
        })
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.write(|c| {
            c.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
            Ok(())
        })
    }
}

/// Writes a batch's entries, the rows they change and their stored hashes.
fn write_batch(tx: &rusqlite::Transaction<'_>, batch: &Batch) -> Result<(), StoreError> {
    let mut ins_entry = tx.prepare_cached("INSERT INTO entries (idx, entry) VALUES (?1, ?2)")?;
    let mut ins_binding = tx.prepare_cached(
        "INSERT INTO bindings (label, version, idx) VALUES (?1, ?2, ?3)
         ON CONFLICT(label) DO UPDATE SET version = excluded.version, idx = excluded.idx",
    )?;
    let mut use_token =
        tx.prepare_cached("UPDATE tokens SET used_by = ?2 WHERE hash = ?1 AND used_by IS NULL")?;
    let mut done_req =
        tx.prepare_cached("UPDATE operator_requests SET done_idx = ?2 WHERE id = ?1")?;
    for (i, e) in batch.entries.iter().enumerate() {
        let idx = (batch.first_index + i as u64) as i64;
        ins_entry.execute(params![idx, e.bytes])?;
        let Some(b) = &e.binding else { continue };
        ins_binding.execute(params![b.label.0.as_slice(), b.version as i64, idx])?;
        if let Some(t) = &b.token
            && use_token.execute(params![t.0.as_slice(), idx])? != 1
        {
            return Err(StoreError::Corrupt("enrollment token used twice".into()));
        }
        if let Some(id) = b.operator_request {
            done_req.execute(params![id, idx])?;
        }
    }
    // One row per leaf: the hashes stored when it was appended (its leaf
    // hash, then the subtrees it completed).
    let mut ins_hash = tx.prepare_cached("INSERT INTO hashes (leaf, hashes) VALUES (?1, ?2)")?;
    let mut at = 0usize;
    for i in 0..batch.entries.len() as u64 {
        let leaf = batch.first_index + i;
        let n = 1 + leaf.trailing_ones() as usize;
        let chunk = batch
            .hashes
            .get(at..at + n)
            .ok_or_else(|| StoreError::Corrupt("batch has too few stored hashes".into()))?;
        let blob: Vec<u8> = chunk.iter().flat_map(|h| h.0).collect();
        ins_hash.execute(params![leaf as i64, blob])?;
        at += n;
    }
    if at != batch.hashes.len() {
        return Err(StoreError::Corrupt(
            "batch has too many stored hashes".into(),
        ));
    }
    Ok(())
}

/// Reads stored hashes from a [`LogStore`] for the proof functions.
#[derive(Debug)]
pub struct StoreHashReader<'a, S: ?Sized>(pub &'a S);

impl<S: LogStore + ?Sized> ank_proofs::HashReader for StoreHashReader<'_, S> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ank_proofs::Error> {
        // A store failure surfaces as a missing hash; callers report it as an internal error.
        self.0
            .read_hashes(indexes)
            .map_err(|_| ank_proofs::Error::MissingHash {
                index: indexes.first().copied().unwrap_or(0),
            })
    }
}
