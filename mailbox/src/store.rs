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
CREATE TABLE IF NOT EXISTS nonces (nonce BLOB PRIMARY KEY, expires_ms INTEGER NOT NULL) STRICT, WITHOUT ROWID;
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

/// The mailbox's storage.
#[derive(Debug)]
pub struct MailStore {
    conn: Mutex<Connection>,
    key: StorageKey,
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
        let c = Connection::open(path)?;
        c.busy_timeout(std::time::Duration::from_secs(10))?;
        c.pragma_update(None, "journal_mode", "WAL")?;
        c.pragma_update(None, "synchronous", "FULL")?;
        c.execute_batch(SCHEMA)?;
        Ok(MailStore {
            conn: Mutex::new(c),
            key,
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        match self.conn.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Stores a checked envelope (`json` is what will be handed to the recipient).
    ///
    /// # Errors
    /// [`MailStoreError::IdConflict`], the quota errors, sealing and sqlite errors.
    pub fn put(
        &self,
        env: &CheckedEnvelope,
        json: &[u8],
        now_ms: u64,
        ttl_ms: u64,
        quota: Quota,
    ) -> Result<Put, MailStoreError> {
        let d = digest(env);
        let recipient = env.to.to_string();
        let sealed = self.key.seal(json, &aad(&env.id, &recipient))?;
        let mut c = self.conn();
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM messages WHERE expires_ms <= ?1",
            [now_ms as i64],
        )?;
        let existing: Option<Vec<u8>> = tx
            .query_row(
                "SELECT digest FROM messages WHERE id = ?1",
                [env.id.as_slice()],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(e) = existing {
            return if e == d {
                Ok(Put::Duplicate)
            } else {
                Err(MailStoreError::IdConflict)
            };
        }
        let (count, bytes): (i64, i64) = tx.query_row(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages WHERE recipient = ?1",
            [&recipient],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if count as u64 >= quota.messages {
            return Err(MailStoreError::QuotaMessages {
                limit: quota.messages,
            });
        }
        if bytes as u64 + json.len() as u64 > quota.bytes {
            return Err(MailStoreError::QuotaBytes { limit: quota.bytes });
        }
        tx.execute(
            "INSERT INTO messages (id, recipient, sender, digest, sealed, size, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![env.id.as_slice(), recipient, env.from.to_string(), d.as_slice(), sealed, json.len() as i64, now_ms as i64, (now_ms + ttl_ms) as i64],
        )?;
        tx.commit()?;
        Ok(Put::Stored)
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
        {
            let mut st =
                tx.prepare_cached("DELETE FROM messages WHERE id = ?1 AND recipient = ?2")?;
            for id in ids {
                n += st.execute(params![id.as_slice(), recipient])?;
            }
        }
        tx.commit()?;
        Ok(n)
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
