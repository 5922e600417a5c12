//! The message store: sqlite (WAL, `synchronous=FULL`, STRICT tables), every
//! message sealed at rest ([`crate::at_rest`]) with the message id and the
//! recipient as associated data.
//!
//! * A message is kept until its recipient acknowledges it or it expires
//!   (unread messages expire after a TTL).
//! * A retry with the same id and the same content is a success that stores
//!   nothing new; the same id with other content is [`MailStoreError::IdConflict`].
//! * Each recipient has a quota of messages and bytes.
//! * Fetch nonces are remembered until they expire, so a replayed fetch is refused.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use crate::at_rest::StorageKey;
use crate::{CheckedEnvelope, MailError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id BLOB PRIMARY KEY, recipient TEXT NOT NULL, sender TEXT NOT NULL, digest BLOB NOT NULL,
    sealed BLOB NOT NULL, size INTEGER NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_recipient ON messages (recipient, created_ms);
CREATE INDEX IF NOT EXISTS messages_by_expiry ON messages (expires_ms);
CREATE TABLE IF NOT EXISTS mailboxes (recipient TEXT PRIMARY KEY, messages INTEGER NOT NULL, bytes INTEGER NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nonces (nonce BLOB PRIMARY KEY, expires_ms INTEGER NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS evidence (note TEXT PRIMARY KEY, seen_ms INTEGER NOT NULL) STRICT, WITHOUT ROWID;
";

/// Why the store refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum MailStoreError {
    #[error("message id already used for another message")]
    IdConflict,
    #[error("the recipient's mailbox is full ({limit} messages)")]
    QuotaMessages { limit: u64 },
    #[error("the recipient's mailbox is full ({limit} bytes)")]
    QuotaBytes { limit: u64 },
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Per-recipient limits.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub messages: u64,
    pub bytes: u64,
}

impl Default for Quota {
    fn default() -> Self {
        Quota {
            messages: 10_000,
            bytes: 256 * 1024 * 1024,
        }
    }
}

/// A stored message: its id and its envelope JSON.
pub type StoredMessage = ([u8; 16], Vec<u8>);

/// What [`MailStore::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Stored,
    /// The same message was already stored (an idempotent retry).
    Duplicate,
}

/// The mailbox's storage. Submissions go to one writer thread that commits
/// everything pending in one durable transaction (group commit) and answers
/// each only after that commit; reads and acknowledgements use their own
/// connection.
#[derive(Debug)]
pub struct MailStore {
    conn: Mutex<Connection>,
    key: StorageKey,
    writer: Mutex<std::sync::mpsc::Sender<Job>>,
}

/// One submission waiting for the writer.
struct Job {
    id: [u8; 16],
    recipient: String,
    sender: String,
    digest: [u8; 32],
    sealed: Vec<u8>,
    size: u64,
    now_ms: u64,
    expires_ms: u64,
    quota: Quota,
    reply: tokio::sync::oneshot::Sender<Result<Put, MailStoreError>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

fn open_conn(path: &Path) -> Result<Connection, rusqlite::Error> {
    let c = Connection::open(path)?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "FULL")?;
    Ok(c)
}

/// Applies one submission inside the writer's transaction.
fn apply(tx: &rusqlite::Transaction<'_>, j: &Job) -> Result<Put, MailStoreError> {
    let existing: Option<Vec<u8>> = tx
        .query_row(
            "SELECT digest FROM messages WHERE id = ?1",
            [j.id.as_slice()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(e) = existing {
        return if e == j.digest {
            Ok(Put::Duplicate)
        } else {
            Err(MailStoreError::IdConflict)
        };
    }
    let (count, bytes): (i64, i64) = tx
        .prepare_cached("SELECT messages, bytes FROM mailboxes WHERE recipient = ?1")?
        .query_row([&j.recipient], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, 0));
    if count as u64 >= j.quota.messages {
        return Err(MailStoreError::QuotaMessages {
            limit: j.quota.messages,
        });
    }
    if bytes as u64 + j.size > j.quota.bytes {
        return Err(MailStoreError::QuotaBytes {
            limit: j.quota.bytes,
        });
    }
    tx.prepare_cached(
        "INSERT INTO messages (id, recipient, sender, digest, sealed, size, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![j.id.as_slice(), j.recipient, j.sender, j.digest.as_slice(), j.sealed, j.size as i64, j.now_ms as i64, j.expires_ms as i64])?;
    tx.prepare_cached(
        "INSERT INTO mailboxes (recipient, messages, bytes) VALUES (?1, 1, ?2)
         ON CONFLICT(recipient) DO UPDATE SET messages = messages + 1, bytes = bytes + excluded.bytes",
    )?
    .execute(params![j.recipient, j.size as i64])?;
    Ok(Put::Stored)
}

/// Deletes the messages `sql` selects (it must say `RETURNING recipient, size`)
/// and takes them off their mailboxes' counters.
fn delete_counted(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<usize, rusqlite::Error> {
    let gone: Vec<(String, i64)> = tx
        .prepare_cached(sql)?
        .query_map(args, |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut dec = tx.prepare_cached(
        "UPDATE mailboxes SET messages = messages - 1, bytes = bytes - ?2 WHERE recipient = ?1",
    )?;
    for (recipient, size) in &gone {
        dec.execute(params![recipient, size])?;
    }
    Ok(gone.len())
}

/// The writer: everything pending, one transaction, one fsync, then the answers.
fn writer(mut conn: Connection, rx: std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < 4096 {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let outcome = (|| -> Result<Vec<Result<Put, MailStoreError>>, rusqlite::Error> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            delete_counted(
                &tx,
                "DELETE FROM messages WHERE expires_ms <= ?1 RETURNING recipient, size",
                [jobs[0].now_ms as i64],
            )?;
            let results = jobs.iter().map(|j| apply(&tx, j)).collect();
            tx.commit()?;
            Ok(results)
        })();
        match outcome {
            Ok(results) => {
                for (j, r) in jobs.into_iter().zip(results) {
                    let _ = j.reply.send(r);
                }
            }
            Err(e) => {
                for j in jobs {
                    let _ = j
                        .reply
                        .send(Err(MailStoreError::Mail(MailError::Io(e.to_string()))));
                }
            }
        }
    }
}

fn digest(e: &CheckedEnvelope) -> [u8; 32] {
    ank_proofs::hash::sha256_parts(&[
        &e.id,
        e.to.to_string().as_bytes(),
        &e.to_key,
        e.from.to_string().as_bytes(),
        &e.from_key,
        &e.enc,
        &e.ciphertext,
    ])
    .0
}

fn aad(id: &[u8], recipient: &str) -> Vec<u8> {
    let mut a = id.to_vec();
    a.extend_from_slice(recipient.as_bytes());
    a
}

impl MailStore {
    /// Opens (creating) the store at `path`, sealing with `key`.
    ///
    /// # Errors
    /// [`MailStoreError::Sqlite`].
    pub fn open(path: &Path, key: StorageKey) -> Result<MailStore, MailStoreError> {
        ank_common::fs::ensure_private_file(path)
            .map_err(|e| MailStoreError::Mail(MailError::Io(format!("{}: {e}", path.display()))))?;
        let c = open_conn(path)?;
        c.execute_batch(SCHEMA)?;
        let w = open_conn(path)?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("ank-mail-writer".into())
            .spawn(move || writer(w, rx))
            .map_err(|e| MailStoreError::Mail(MailError::Io(e.to_string())))?;
        Ok(MailStore {
            conn: Mutex::new(c),
            key,
            writer: Mutex::new(tx),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        match self.conn.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Stores a checked envelope (`json` is what will be handed to the
    /// recipient); returns once it is durable (group commit).
    ///
    /// # Errors
    /// [`MailStoreError::IdConflict`], the quota errors, sealing and sqlite errors.
    pub async fn put(
        &self,
        env: &CheckedEnvelope,
        json: &[u8],
        now_ms: u64,
        ttl_ms: u64,
        quota: Quota,
    ) -> Result<Put, MailStoreError> {
        let recipient = env.to.to_string();
        let sealed = self.key.seal(json, &aad(&env.id, &recipient))?;
        let (reply, rx) = tokio::sync::oneshot::channel();
        let job = Job {
            id: env.id,
            recipient,
            sender: env.from.to_string(),
            digest: digest(env),
            sealed,
            size: json.len() as u64,
            now_ms,
            expires_ms: now_ms + ttl_ms,
            quota,
            reply,
        };
        let sent = match self.writer.lock() {
            Ok(w) => w.send(job).is_ok(),
            Err(_) => false,
        };
        let stopped = || MailStoreError::Mail(MailError::Io("the mail writer stopped".into()));
        if !sent {
            return Err(stopped());
        }
        rx.await.map_err(|_| stopped())?
    }

    /// The recipient's unexpired messages, oldest first, as (id, envelope JSON).
    ///
    /// # Errors
    /// [`MailError::AtRest`] for a row that does not decrypt, sqlite errors.
    pub fn list(&self, recipient: &str, now_ms: u64) -> Result<Vec<StoredMessage>, MailStoreError> {
        let c = self.conn();
        let mut st = c.prepare_cached("SELECT id, sealed FROM messages WHERE recipient = ?1 AND expires_ms > ?2 ORDER BY created_ms, id")?;
        let rows = st.query_map(params![recipient, now_ms as i64], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, sealed) = row?;
            let json = self.key.open(&sealed, &aad(&id, recipient))?;
            let id: [u8; 16] = id.try_into().map_err(|_| MailError::AtRest)?;
            out.push((id, json));
        }
        Ok(out)
    }

    /// Deletes acknowledged messages of `recipient`; returns how many.
    ///
    /// # Errors
    /// Sqlite errors.
    pub fn ack(&self, recipient: &str, ids: &[[u8; 16]]) -> Result<usize, MailStoreError> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        let mut n = 0;
        for id in ids {
            n += delete_counted(
                &tx,
                "DELETE FROM messages WHERE id = ?1 AND recipient = ?2 RETURNING recipient, size",
                params![id.as_slice(), recipient],
            )?;
        }
        tx.commit()?;
        Ok(n)
    }

    /// Keeps a signed checkpoint that contradicts this domain's log: evidence
    /// of a split view, which anyone can verify offline.
    ///
    /// # Errors
    /// Sqlite errors.
    pub fn add_evidence(&self, note: &str) -> Result<(), MailStoreError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        self.conn().execute(
            "INSERT OR IGNORE INTO evidence (note, seen_ms) VALUES (?1, ?2)",
            params![note, now],
        )?;
        Ok(())
    }

    /// The evidence kept, oldest first.
    ///
    /// # Errors
    /// Sqlite errors.
    pub fn evidence(&self) -> Result<Vec<String>, MailStoreError> {
        let c = self.conn();
        let mut st = c.prepare("SELECT note FROM evidence ORDER BY seen_ms, note")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Remembers a fetch nonce until `expires_ms`; false if it was already used.
    ///
    /// # Errors
    /// Sqlite errors.
    pub fn use_nonce(
        &self,
        nonce: &[u8; 16],
        now_ms: u64,
        expires_ms: u64,
    ) -> Result<bool, MailStoreError> {
        let c = self.conn();
        c.execute("DELETE FROM nonces WHERE expires_ms <= ?1", [now_ms as i64])?;
        let n = c.execute(
            "INSERT OR IGNORE INTO nonces (nonce, expires_ms) VALUES (?1, ?2)",
            params![nonce.as_slice(), expires_ms as i64],
        )?;
        Ok(n == 1)
    }
}
