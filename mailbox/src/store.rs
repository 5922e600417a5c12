//! The message store: sqlite (WAL, `synchronous=FULL`, STRICT tables), every
//! message sealed at rest ([`crate::at_rest`]) with the message id and the
//! recipient as associated data.
//!
//! * A message is kept until its recipient acknowledges it or it expires
//!   (unread messages expire after a TTL).
//! * A retry with the same id and the same content is a success that stores
//!   nothing new; the same id with other content is [`MailStoreError::IdConflict`].
//! * Each recipient has a quota of messages and bytes, and so does each
//!   sender within one recipient's mailbox (one sender cannot fill it); the
//!   whole store has a byte cap, so new mail is refused before the disk fills
//!   while fetch and acknowledge keep working.
//! * Acknowledged ids are kept as tombstones until the message would have
//!   expired: a replay of delivered mail is refused ([`MailStoreError::Delivered`]).
//! * The sender's lookup proof kept with a message (public data: a log's
//!   signed answer) is stored once per distinct proof in `sender_proofs` and
//!   joined back into the envelope when it is listed; unreferenced proofs
//!   are swept.
//! * Fetch nonces are remembered until they expire, so a replayed fetch is refused.
//! * The first open stores a key-check value sealed under the storage key;
//!   opening with another key is refused ([`MailStoreError::WrongStorageKey`]).
//!   A row that does not decrypt is moved to `quarantine` and skipped.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use crate::at_rest::StorageKey;
use crate::{CheckedEnvelope, MailError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id BLOB PRIMARY KEY, recipient TEXT NOT NULL, sender TEXT NOT NULL, digest BLOB NOT NULL,
    sealed BLOB NOT NULL, size INTEGER NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,
    proof BLOB
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_recipient ON messages (recipient, created_ms);
CREATE INDEX IF NOT EXISTS messages_by_expiry ON messages (expires_ms);
CREATE TABLE IF NOT EXISTS mailboxes (recipient TEXT PRIMARY KEY, messages INTEGER NOT NULL, bytes INTEGER NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS senders (recipient TEXT NOT NULL, sender TEXT NOT NULL, messages INTEGER NOT NULL, bytes INTEGER NOT NULL, PRIMARY KEY (recipient, sender)) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 0), messages INTEGER NOT NULL, bytes INTEGER NOT NULL) STRICT;
INSERT OR IGNORE INTO totals (id, messages, bytes) VALUES (0, 0, 0);
CREATE TABLE IF NOT EXISTS tombstones (id BLOB PRIMARY KEY, expires_ms INTEGER NOT NULL) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tombstones_by_expiry ON tombstones (expires_ms);
CREATE TABLE IF NOT EXISTS quarantine (id BLOB PRIMARY KEY, recipient TEXT NOT NULL, sealed BLOB NOT NULL, reason TEXT NOT NULL, seen_ms INTEGER NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sender_proofs (hash BLOB PRIMARY KEY, proof BLOB NOT NULL) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nonces (nonce BLOB PRIMARY KEY, expires_ms INTEGER NOT NULL) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires_ms);
CREATE TABLE IF NOT EXISTS split_views (evidence TEXT PRIMARY KEY, seen_ms INTEGER NOT NULL) STRICT, WITHOUT ROWID;
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
    #[error("this sender has {limit} messages or bytes waiting for this recipient already")]
    SenderQuota { limit: u64 },
    #[error("the mailbox server is full ({limit} bytes stored); retry later")]
    StoreFull { limit: u64 },
    #[error("this message was delivered and acknowledged already")]
    Delivered,
    #[error(
        "the storage key does not open this mailbox's data: ANK_STORAGE_KEY (or BANGMAIL_KEY) is not the key the mailbox was created with. Start with the original key; stored mail cannot be read without it"
    )]
    WrongStorageKey,
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Storage limits.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    /// Unread messages per recipient.
    pub messages: u64,
    /// Unread bytes per recipient.
    pub bytes: u64,
    /// Unread messages from one sender to one recipient.
    pub sender_messages: u64,
    /// Unread bytes from one sender to one recipient.
    pub sender_bytes: u64,
    /// Bytes stored for all recipients together.
    pub total_bytes: u64,
}

impl Default for Quota {
    fn default() -> Self {
        Quota {
            messages: 10_000,
            bytes: 256 * 1024 * 1024,
            sender_messages: 1_000,
            sender_bytes: 32 * 1024 * 1024,
            total_bytes: 8 * 1024 * 1024 * 1024,
        }
    }
}

/// Largest answer of [`MailStore::list`], in envelope bytes.
pub const MAX_PAGE_BYTES: u64 = 8 * 1024 * 1024;

/// Where a listing continues: after the message created at `.0` with id `.1`.
pub type Cursor = (u64, [u8; 16]);

/// One page of a recipient's messages.
#[derive(Debug, Default)]
pub struct Page {
    pub messages: Vec<StoredMessage>,
    /// Where the next page starts, when there may be more.
    pub next: Option<Cursor>,
    /// Rows that did not decrypt and were quarantined.
    pub quarantined: usize,
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
    /// The sender's lookup proof (JSON) and its SHA-256.
    proof: Option<([u8; 32], Vec<u8>)>,
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
    let delivered: Option<i64> = tx
        .prepare_cached("SELECT expires_ms FROM tombstones WHERE id = ?1")?
        .query_row([j.id.as_slice()], |r| r.get(0))
        .optional()?;
    if delivered.is_some() {
        return Err(MailStoreError::Delivered);
    }
    let total: i64 = tx
        .prepare_cached("SELECT bytes FROM totals WHERE id = 0")?
        .query_row([], |r| r.get(0))?;
    if total as u64 + j.size > j.quota.total_bytes {
        return Err(MailStoreError::StoreFull {
            limit: j.quota.total_bytes,
        });
    }
    let (from_count, from_bytes): (i64, i64) = tx
        .prepare_cached("SELECT messages, bytes FROM senders WHERE recipient = ?1 AND sender = ?2")?
        .query_row([&j.recipient, &j.sender], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, 0));
    if from_count as u64 >= j.quota.sender_messages {
        return Err(MailStoreError::SenderQuota {
            limit: j.quota.sender_messages,
        });
    }
    if from_bytes as u64 + j.size > j.quota.sender_bytes {
        return Err(MailStoreError::SenderQuota {
            limit: j.quota.sender_bytes,
        });
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
    if let Some((hash, proof)) = &j.proof {
        tx.prepare_cached("INSERT OR IGNORE INTO sender_proofs (hash, proof) VALUES (?1, ?2)")?
            .execute(params![hash.as_slice(), proof])?;
    }
    let proof_hash = j.proof.as_ref().map(|(h, _)| h.as_slice());
    tx.prepare_cached(
        "INSERT INTO messages (id, recipient, sender, digest, sealed, size, created_ms, expires_ms, proof) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![j.id.as_slice(), j.recipient, j.sender, j.digest.as_slice(), j.sealed, j.size as i64, j.now_ms as i64, j.expires_ms as i64, proof_hash])?;
    tx.prepare_cached(
        "INSERT INTO mailboxes (recipient, messages, bytes) VALUES (?1, 1, ?2)
         ON CONFLICT(recipient) DO UPDATE SET messages = messages + 1, bytes = bytes + excluded.bytes",
    )?
    .execute(params![j.recipient, j.size as i64])?;
    tx.prepare_cached(
        "INSERT INTO senders (recipient, sender, messages, bytes) VALUES (?1, ?2, 1, ?3)
         ON CONFLICT(recipient, sender) DO UPDATE SET messages = messages + 1, bytes = bytes + excluded.bytes",
    )?
    .execute(params![j.recipient, j.sender, j.size as i64])?;
    tx.prepare_cached(
        "UPDATE totals SET messages = messages + 1, bytes = bytes + ?1 WHERE id = 0",
    )?
    .execute([j.size as i64])?;
    Ok(Put::Stored)
}

/// One deleted message, as `RETURNING id, recipient, sender, size, expires_ms` gives it.
type Gone = (Vec<u8>, String, String, i64, i64);

/// Deletes the messages `sql` selects (it must say `RETURNING id, recipient,
/// sender, size, expires_ms`) and takes them off the counters.
fn delete_counted(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<Gone>, rusqlite::Error> {
    let gone: Vec<Gone> = tx
        .prepare_cached(sql)?
        .query_map(args, |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut dec = tx.prepare_cached(
        "UPDATE mailboxes SET messages = messages - 1, bytes = bytes - ?2 WHERE recipient = ?1",
    )?;
    let mut dec_sender = tx.prepare_cached(
        "UPDATE senders SET messages = messages - 1, bytes = bytes - ?3 WHERE recipient = ?1 AND sender = ?2",
    )?;
    let mut dec_total = tx.prepare_cached(
        "UPDATE totals SET messages = messages - 1, bytes = bytes - ?1 WHERE id = 0",
    )?;
    let mut drop_sender = tx.prepare_cached(
        "DELETE FROM senders WHERE recipient = ?1 AND sender = ?2 AND messages <= 0",
    )?;
    for (_, recipient, sender, size, _) in &gone {
        dec.execute(params![recipient, size])?;
        dec_sender.execute(params![recipient, sender, size])?;
        drop_sender.execute(params![recipient, sender])?;
        dec_total.execute([size])?;
    }
    Ok(gone)
}

const RETURNING: &str = "RETURNING id, recipient, sender, size, expires_ms";

/// The writer: everything pending, one transaction, one fsync, then the answers.
fn writer(mut conn: Connection, rx: std::sync::mpsc::Receiver<Job>) {
    let mut swept = std::time::Instant::now();
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
            let now = jobs[0].now_ms as i64;
            delete_counted(
                &tx,
                &format!("DELETE FROM messages WHERE expires_ms <= ?1 {RETURNING}"),
                [now],
            )?;
            tx.prepare_cached("DELETE FROM tombstones WHERE expires_ms <= ?1")?
                .execute([now])?;
            // Proofs no message refers to any more, once a minute.
            if swept.elapsed() >= std::time::Duration::from_secs(60) {
                swept = std::time::Instant::now();
                tx.prepare_cached(
                    "DELETE FROM sender_proofs WHERE hash NOT IN (SELECT proof FROM messages WHERE proof IS NOT NULL)",
                )?
                .execute([])?;
            }
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

/// Puts `"sender_proof": <proof>` into an envelope's JSON object.
fn with_sender_proof(mut json: Vec<u8>, proof: Option<&[u8]>) -> Vec<u8> {
    let Some(proof) = proof else { return json };
    if json.last() != Some(&b'}') {
        return json;
    }
    json.pop();
    json.extend_from_slice(b",\"sender_proof\":");
    json.extend_from_slice(proof);
    json.push(b'}');
    json
}

const KEY_CHECK: &[u8] = b"ank mailbox storage key check";

/// Stores a value sealed under `key` on first use; later, refuses a key that
/// does not open it.
fn check_storage_key(c: &Connection, key: &StorageKey) -> Result<(), MailStoreError> {
    let stored: Option<Vec<u8>> = c
        .query_row("SELECT value FROM meta WHERE key = 'key_check'", [], |r| {
            r.get(0)
        })
        .optional()?;
    match stored {
        Some(v) => match key.open(&v, b"key_check") {
            Ok(pt) if pt == KEY_CHECK => Ok(()),
            _ => Err(MailStoreError::WrongStorageKey),
        },
        None => {
            let sealed = key.seal(KEY_CHECK, b"key_check")?;
            c.execute(
                "INSERT INTO meta (key, value) VALUES ('key_check', ?1)",
                [sealed],
            )?;
            Ok(())
        }
    }
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
        // A store made before messages kept their sender's proof.
        let has_proof: bool = c.query_row(
            "SELECT count(*) > 0 FROM pragma_table_info('messages') WHERE name = 'proof'",
            [],
            |r| r.get(0),
        )?;
        if !has_proof {
            c.execute_batch("ALTER TABLE messages ADD COLUMN proof BLOB")?;
        }
        c.execute_batch(
            "CREATE INDEX IF NOT EXISTS messages_by_proof ON messages (proof) WHERE proof IS NOT NULL",
        )?;
        check_storage_key(&c, &key)?;
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
        self.put_with_proof(env, json, None, now_ms, ttl_ms, quota)
            .await
    }

    /// As [`MailStore::put`], keeping `sender_proof` (the JSON of the
    /// sender's lookup answer) with the message: [`MailStore::list`] hands
    /// the envelope out with it as its `sender_proof` field. `json` must be
    /// an envelope without that field.
    ///
    /// # Errors
    /// As [`MailStore::put`].
    pub async fn put_with_proof(
        &self,
        env: &CheckedEnvelope,
        json: &[u8],
        sender_proof: Option<&[u8]>,
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
            proof: sender_proof.map(|p| (ank_proofs::hash::sha256(p).0, p.to_vec())),
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

    /// One page of the recipient's unexpired messages, oldest first, as
    /// (id, envelope JSON): at most `limit` messages and about `max_bytes`
    /// (at least one message), starting after `after`. Rows that do not
    /// decrypt are quarantined and skipped.
    ///
    /// # Errors
    /// Sqlite errors.
    pub fn list(
        &self,
        recipient: &str,
        now_ms: u64,
        after: Option<Cursor>,
        limit: usize,
        max_bytes: u64,
    ) -> Result<Page, MailStoreError> {
        let (after_ms, after_id) =
            after.map_or((-1i64, Vec::new()), |(t, id)| (t as i64, id.to_vec()));
        let mut page = Page::default();
        let mut bad = Vec::new();
        {
            let c = self.conn();
            let mut st = c.prepare_cached(
                "SELECT m.id, m.sealed, m.created_ms, p.proof FROM messages m
                 LEFT JOIN sender_proofs p ON p.hash = m.proof
                 WHERE m.recipient = ?1 AND m.expires_ms > ?2
                 AND (m.created_ms, m.id) > (?3, ?4) ORDER BY m.created_ms, m.id LIMIT ?5",
            )?;
            let rows = st.query_map(
                params![
                    recipient,
                    now_ms as i64,
                    after_ms,
                    after_id,
                    limit as i64 + 1
                ],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<Vec<u8>>>(3)?,
                    ))
                },
            )?;
            let mut bytes = 0u64;
            let mut last = None;
            let mut more = false;
            for row in rows {
                let (id, sealed, created, proof) = row?;
                if page.messages.len() >= limit
                    || (!page.messages.is_empty() && bytes + sealed.len() as u64 > max_bytes)
                {
                    more = true;
                    break;
                }
                let Ok(id16) = <[u8; 16]>::try_from(id.as_slice()) else {
                    bad.push((id, sealed));
                    continue;
                };
                last = Some((created as u64, id16));
                match self.key.open(&sealed, &aad(&id, recipient)) {
                    Ok(json) => {
                        let json = with_sender_proof(json, proof.as_deref());
                        bytes += json.len() as u64;
                        page.messages.push((id16, json));
                    }
                    Err(_) => bad.push((id, sealed)),
                }
            }
            page.next = if more { last } else { None };
        }
        page.quarantined = bad.len();
        if !bad.is_empty() {
            self.quarantine(recipient, &bad, now_ms)?;
        }
        Ok(page)
    }

    /// Moves rows that do not decrypt out of the mailbox, keeping them for the operator.
    fn quarantine(
        &self,
        recipient: &str,
        rows: &[(Vec<u8>, Vec<u8>)],
        now_ms: u64,
    ) -> Result<(), MailStoreError> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        for (id, sealed) in rows {
            tx.execute(
                "INSERT OR REPLACE INTO quarantine (id, recipient, sealed, reason, seen_ms) VALUES (?1, ?2, ?3, 'does not decrypt under the storage key', ?4)",
                params![id, recipient, sealed, now_ms as i64],
            )?;
            delete_counted(
                &tx,
                &format!("DELETE FROM messages WHERE id = ?1 AND recipient = ?2 {RETURNING}"),
                params![id, recipient],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Rows quarantined for `recipient` (ids), oldest first.
    ///
    /// # Errors
    /// Sqlite errors.
    pub fn quarantined(&self, recipient: &str) -> Result<Vec<Vec<u8>>, MailStoreError> {
        let c = self.conn();
        let mut st =
            c.prepare("SELECT id FROM quarantine WHERE recipient = ?1 ORDER BY seen_ms, id")?;
        let rows = st.query_map([recipient], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes acknowledged messages of `recipient` and keeps their ids as
    /// tombstones until they would have expired; returns how many.
    ///
    /// # Errors
    /// Sqlite errors.
    pub fn ack(&self, recipient: &str, ids: &[[u8; 16]]) -> Result<usize, MailStoreError> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        let mut n = 0;
        for id in ids {
            let gone = delete_counted(
                &tx,
                &format!("DELETE FROM messages WHERE id = ?1 AND recipient = ?2 {RETURNING}"),
                params![id.as_slice(), recipient],
            )?;
            for (id, _, _, _, expires) in &gone {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO tombstones (id, expires_ms) VALUES (?1, ?2)",
                )?
                .execute(params![id, expires])?;
            }
            n += gone.len();
        }
        tx.commit()?;
        Ok(n)
    }

    /// Keeps evidence (`ank-evidence/v1` text) that this domain's log key
    /// signed another history: evidence
    /// of a split view, which anyone can verify offline.
    ///
    /// # Errors
    /// Sqlite errors.
    pub fn add_evidence(&self, note: &str) -> Result<(), MailStoreError> {
        let now = ank_common::now_ms() as i64;
        self.conn().execute(
            "INSERT OR IGNORE INTO split_views (evidence, seen_ms) VALUES (?1, ?2)",
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
        let mut st = c.prepare("SELECT evidence FROM split_views ORDER BY seen_ms, evidence")?;
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
        c.prepare_cached("DELETE FROM nonces WHERE expires_ms <= ?1")?
            .execute([now_ms as i64])?;
        let n = c
            .prepare_cached("INSERT OR IGNORE INTO nonces (nonce, expires_ms) VALUES (?1, ?2)")?
            .execute(params![nonce.as_slice(), expires_ms as i64])?;
        Ok(n == 1)
    }
}
