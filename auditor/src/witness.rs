//! A C2SP tlog-witness (v1.0.0): `POST /add-checkpoint`, cosignature/v1.
//!
//! # Request (`tlog-witness`)
//!
//! ```text
//! old <decimal size, no leading zeroes>\n
//! <base64 hash>\n           zero to 63 consistency-proof lines
//! \n
//! <signed checkpoint note>
//! ```
//!
//! # Answers
//!
//! | status | when | body |
//! |---|---|---|
//! | 200 | cosigned | the cosignature line(s), `text/plain`: cosignature/v1 (Ed25519), then ML-DSA-44 ([`crate::mldsa`]) when the witness has that key |
//! | 400 | a malformed body, or `old` above the checkpoint's size | why |
//! | 403 | no signature verifies under a key trusted for the origin | why |
//! | 404 | the origin is not a log this witness serves | why |
//! | 409 | `old` is not the size the witness last cosigned | that size and a newline, `text/x.tlog.size` |
//! | 409 | the checkpoint has the witness's size and another root (v1.0.0 says 409; the current draft says 422) | why, `text/plain` |
//! | 422 | the consistency proof does not lead from the witness's root to the checkpoint's; for an auditing witness also: its replay does not verify the checkpoint | why |
//!
//! # State
//!
//! For each log, the last cosigned checkpoint, in sqlite (`witness.sqlite`,
//! WAL, `synchronous=FULL`). One writer thread checks each request against
//! that state and persists it in the same transaction (group commit: the
//! requests that arrive meanwhile share one transaction and one fsync); a
//! cosignature is made only after the commit. So concurrent requests for one
//! log can never roll it back, and it never cosigns two roots for one size:
//! its state only moves along consistency proofs, and a second root at the
//! same size is refused. Refused requests whose log signature verified (a
//! bad proof, a second root) are kept in the `refused` table: they may be
//! evidence against the log.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};

use ank_proofs::{Checkpoint, Hash, Note, SignerKey, VerifierKey};
use rusqlite::{Connection, OptionalExtension, params};

/// Most consistency-proof lines a request may carry (the spec's limit).
pub const MAX_PROOF_LINES: usize = 63;
/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// Why a checkpoint was not cosigned; [`WitnessError::status`] is its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("old size {old} is above the checkpoint's size {size}")]
    OldAboveSize { old: u64, size: u64 },
    #[error("no signature on the checkpoint verifies under a key trusted for {origin:?}")]
    Forbidden { origin: String },
    #[error("unknown log {origin:?}")]
    UnknownLog { origin: String },
    /// `old` is not the witness's size for the log.
    #[error("old size {old} is not the last cosigned size {size}")]
    OldSize { old: u64, size: u64 },
    /// Another root at the size the witness holds.
    #[error("the witness cosigned another root at size {size}")]
    OtherRoot { size: u64 },
    #[error("the consistency proof does not verify: {0}")]
    BadProof(String),
    /// An auditing witness's replay does not verify the checkpoint.
    #[error("not verified by this auditor: {0}")]
    NotAudited(String),
    #[error("witness storage: {0}")]
    Internal(String),
}

impl WitnessError {
    /// The HTTP status the spec gives this refusal.
    pub fn status(&self) -> u16 {
        match self {
            WitnessError::BadRequest(_) | WitnessError::OldAboveSize { .. } => 400,
            WitnessError::Forbidden { .. } => 403,
            WitnessError::UnknownLog { .. } => 404,
            WitnessError::OldSize { .. } | WitnessError::OtherRoot { .. } => 409,
            WitnessError::BadProof(_) | WitnessError::NotAudited(_) => 422,
            WitnessError::Internal(_) => 500,
        }
    }
}

/// A parsed `add-checkpoint` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old: u64,
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, as sent.
    pub checkpoint: Vec<u8>,
}

impl AddCheckpoint {
    /// Parses a request body strictly.
    ///
    /// # Errors
    /// [`WitnessError::BadRequest`] naming what is wrong.
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, WitnessError> {
        let bad = |s: &str| WitnessError::BadRequest(s.to_owned());
        if body.len() > MAX_BODY {
            return Err(bad("body too large"));
        }
        let mut rest = body;
        let mut line = || -> Result<&[u8], WitnessError> {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or_else(|| bad("a line without its newline"))?;
            let (l, r) = rest.split_at(end);
            rest = &r[1..];
            Ok(l)
        };
        let old = std::str::from_utf8(line()?)
            .ok()
            .and_then(|l| l.strip_prefix("old "))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .filter(|n| *n == "0" || !n.starts_with('0'))
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| bad("the first line must be `old <size>`"))?;
        let mut proof = Vec::new();
        loop {
            let l = line()?;
            if l.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad("more than 63 consistency proof lines"));
            }
            let h = std::str::from_utf8(l)
                .ok()
                .and_then(|s| Hash::from_base64(s).ok())
                .ok_or_else(|| bad("a proof line is not a base64 hash"))?;
            proof.push(h);
        }
        Ok(AddCheckpoint {
            old,
            proof,
            checkpoint: rest.to_vec(),
        })
    }

    /// The body's text form.
    pub fn to_body(&self) -> Vec<u8> {
        let mut b = format!("old {}\n", self.old).into_bytes();
        for h in &self.proof {
            b.extend_from_slice(format!("{h}\n").as_bytes());
        }
        b.push(b'\n');
        b.extend_from_slice(&self.checkpoint);
        b
    }
}

/// What the writer decides for one request.
struct Check {
    origin: String,
    old: u64,
    size: u64,
    root: Hash,
    proof: Vec<Hash>,
    note: String,
    reply: SyncSender<Result<(), WitnessError>>,
}

/// What an auditing witness checks before it cosigns: the checkpoint's
/// origin, size and root; an error refuses the cosignature.
pub type CosignCheck = Arc<dyn Fn(&str, u64, &Hash) -> Result<(), WitnessError> + Send + Sync>;

/// A witness: its key, the logs it serves, and its state.
pub struct Witness {
    key: SignerKey,
    /// An ML-DSA-44 cosigner of the same name, whose line follows the Ed25519 one.
    mldsa: Option<crate::mldsa::MlDsaCosigner>,
    logs: HashMap<String, Vec<VerifierKey>>,
    writer: std::sync::Mutex<SyncSender<Check>>,
    check: Option<CosignCheck>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("name", &self.key.name())
            .field("logs", &self.logs.len())
            .finish()
    }
}

/// Paths in a witness's data directory.
#[derive(Debug, Clone)]
pub struct WitnessDir(pub std::path::PathBuf);

impl WitnessDir {
    pub fn key(&self) -> std::path::PathBuf {
        self.0.join("witness.key")
    }
    pub fn db(&self) -> std::path::PathBuf {
        self.0.join("witness.sqlite")
    }

    /// The witness key, created (named `name`) on first use. A later `name`
    /// must match the key's.
    ///
    /// # Errors
    /// I/O; a name that is not the key's; an unreadable key.
    pub fn key_or_create(&self, name: Option<&str>) -> Result<SignerKey, WitnessError> {
        let io = |e: std::io::Error| WitnessError::Internal(format!("{}: {e}", self.0.display()));
        ank_common::fs::create_private_dir(&self.0).map_err(io)?;
        let path = self.key();
        if !path.exists() {
            let name =
                name.ok_or_else(|| WitnessError::BadRequest("a new witness needs --name".into()))?;
            let seed = ank_common::random::<32>().map_err(io)?;
            let key = SignerKey::from_seed(name, ank_proofs::note::ALG_COSIGNATURE_V1, seed)
                .map_err(|e| WitnessError::BadRequest(format!("witness name {name:?}: {e}")))?;
            ank_common::fs::write_private(&path, format!("{}\n", key.to_text()).as_bytes())
                .map_err(io)?;
        }
        let key = self.read_key()?;
        if let Some(n) = name
            && n != key.name()
        {
            return Err(WitnessError::BadRequest(format!(
                "this witness is named {:?}, not {n:?}",
                key.name()
            )));
        }
        Ok(key)
    }

    /// The ML-DSA-44 cosigner, its seed made on first use.
    ///
    /// # Errors
    /// I/O; an unreadable seed.
    pub fn mldsa(&self, name: &str) -> Result<crate::mldsa::MlDsaCosigner, WitnessError> {
        let path = self.0.join("witness-mldsa.seed");
        let bad = |e: String| WitnessError::Internal(format!("{}: {e}", path.display()));
        if !path.exists() {
            let seed = ank_common::random::<32>().map_err(|e| bad(e.to_string()))?;
            ank_common::fs::write_private(&path, format!("{}\n", base64_encode(&seed)).as_bytes())
                .map_err(|e| bad(e.to_string()))?;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
        let seed = ank_common::b64_array::<32>(text.trim())
            .ok_or_else(|| bad("not a base64 seed".into()))?;
        crate::mldsa::MlDsaCosigner::from_seed(name, &seed).map_err(bad)
    }

    /// The existing witness key.
    ///
    /// # Errors
    /// I/O and key-format errors.
    pub fn read_key(&self) -> Result<SignerKey, WitnessError> {
        let path = self.key();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| WitnessError::Internal(format!("{}: {e}", path.display())))?;
        SignerKey::parse(text.trim())
            .map_err(|e| WitnessError::Internal(format!("{}: {e}", path.display())))
    }
}

fn sql(e: rusqlite::Error) -> WitnessError {
    WitnessError::Internal(e.to_string())
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS logs (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS refused (id INTEGER PRIMARY KEY, origin TEXT NOT NULL, received_ms INTEGER NOT NULL, reason TEXT NOT NULL, note TEXT NOT NULL, old INTEGER NOT NULL, proof TEXT NOT NULL) STRICT;
";

fn open_db(path: &Path) -> Result<Connection, WitnessError> {
    let c = Connection::open(path).map_err(sql)?;
    c.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(sql)?;
    c.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
    c.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
    c.execute_batch(SCHEMA).map_err(sql)?;
    Ok(c)
}

impl Witness {
    /// A witness signing with `key`, for the logs whose verifier keys are
    /// `logs` (a log's origin is its key's name), with its state in `db`.
    ///
    /// # Errors
    /// Storage errors; a log key that is not an Ed25519 note key.
    pub fn open(
        key: SignerKey,
        logs: &[VerifierKey],
        db: &Path,
    ) -> Result<Arc<Witness>, WitnessError> {
        Self::open_checked(key, None, logs, db, None)
    }

    /// As [`Witness::open`], cosigning only what `check` also accepts (an
    /// auditing witness: its auditor's replay must have verified the tree).
    ///
    /// # Errors
    /// As [`Witness::open`].
    pub fn open_checked(
        key: SignerKey,
        mldsa: Option<crate::mldsa::MlDsaCosigner>,
        logs: &[VerifierKey],
        db: &Path,
        check: Option<CosignCheck>,
    ) -> Result<Arc<Witness>, WitnessError> {
        let mut by_origin: HashMap<String, Vec<VerifierKey>> = HashMap::new();
        for k in logs {
            if k.alg() != ank_proofs::note::ALG_ED25519 {
                return Err(WitnessError::BadRequest(format!(
                    "log key {} is not an Ed25519 note key",
                    k.to_text()
                )));
            }
            by_origin
                .entry(k.name().to_owned())
                .or_default()
                .push(k.clone());
        }
        let conn = open_db(db)?;
        let state = load_state(&conn)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(4096);
        std::thread::Builder::new()
            .name("ank-witness-writer".into())
            .spawn(move || writer(conn, state, &rx))
            .map_err(|e| WitnessError::Internal(e.to_string()))?;
        Ok(Arc::new(Witness {
            key,
            mldsa,
            logs: by_origin,
            writer: std::sync::Mutex::new(tx),
            check,
        }))
    }

    /// The witness's verifier key (cosignature/v1).
    pub fn vkey(&self) -> VerifierKey {
        self.key.verifier()
    }

    /// Its ML-DSA-44 vkey, if it has that key.
    pub fn mldsa_vkey(&self) -> Option<String> {
        self.mldsa.as_ref().map(crate::mldsa::MlDsaCosigner::vkey)
    }

    /// Checks a request and, when it passes, persists the checkpoint and
    /// returns the cosignature line(s). Blocking: call it off async workers.
    ///
    /// # Errors
    /// [`WitnessError`] as in the module docs.
    pub fn add_checkpoint(&self, body: &[u8], now_secs: u64) -> Result<String, WitnessError> {
        let req = AddCheckpoint::parse(body)?;
        let note = Note::parse(&req.checkpoint)
            .map_err(|e| WitnessError::BadRequest(format!("checkpoint note: {e}")))?;
        let cp = Checkpoint::parse(note.text())
            .map_err(|e| WitnessError::BadRequest(format!("checkpoint: {e}")))?;
        let keys = self
            .logs
            .get(&cp.origin)
            .ok_or_else(|| WitnessError::UnknownLog {
                origin: cp.origin.clone(),
            })?;
        note.verify(keys).map_err(|_| WitnessError::Forbidden {
            origin: cp.origin.clone(),
        })?;
        if req.old > cp.size {
            return Err(WitnessError::OldAboveSize {
                old: req.old,
                size: cp.size,
            });
        }
        if let Some(check) = &self.check {
            check(&cp.origin, cp.size, &cp.root)?;
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let check = Check {
            origin: cp.origin.clone(),
            old: req.old,
            size: cp.size,
            root: cp.root,
            proof: req.proof,
            note: note.to_text(),
            reply: tx,
        };
        self.writer
            .lock()
            .map_err(|_| WitnessError::Internal("writer lock poisoned".into()))?
            .send(check)
            .map_err(|_| WitnessError::Internal("the writer stopped".into()))?;
        rx.recv()
            .map_err(|_| WitnessError::Internal("the writer stopped".into()))??;
        // Persisted: only now is it cosigned.
        let mut lines = self.key.sign(note.text(), now_secs).to_line();
        if let Some(m) = &self.mldsa {
            lines.push_str(
                &m.cosign(&cp.origin, cp.size, &cp.root, now_secs)
                    .map_err(WitnessError::Internal)?,
            );
        }
        Ok(lines)
    }
}

fn load_state(c: &Connection) -> Result<HashMap<String, (u64, Hash)>, WitnessError> {
    let mut st = c
        .prepare("SELECT origin, size, root FROM logs")
        .map_err(sql)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .map_err(sql)?;
    let mut out = HashMap::new();
    for row in rows {
        let (origin, size, root) = row.map_err(sql)?;
        let root = Hash::from_slice(&root).map_err(|e| WitnessError::Internal(e.to_string()))?;
        out.insert(origin, (size as u64, root));
    }
    Ok(out)
}

/// Decides one request against `state` (which includes the earlier requests
/// of the same transaction).
fn decide(state: &HashMap<String, (u64, Hash)>, c: &Check) -> Result<(), WitnessError> {
    let (size, root) = state
        .get(&c.origin)
        .copied()
        .unwrap_or((0, ank_proofs::empty_root()));
    if c.old != size {
        return Err(WitnessError::OldSize { old: c.old, size });
    }
    if c.old == c.size {
        if c.root == root {
            return Ok(());
        }
        // Without a stored checkpoint the size is 0, whose root is fixed.
        return Err(if state.contains_key(&c.origin) {
            WitnessError::OtherRoot { size }
        } else {
            WitnessError::BadProof("a tree of size 0 has the empty root".into())
        });
    }
    if c.old == 0 {
        if !c.proof.is_empty() {
            return Err(WitnessError::BadProof(
                "the proof from size 0 must be empty".into(),
            ));
        }
        return Ok(());
    }
    ank_proofs::verify_consistency(c.old, c.size, &c.proof, &root, &c.root)
        .map_err(|e| WitnessError::BadProof(e.to_string()))
}

fn writer(mut conn: Connection, mut state: HashMap<String, (u64, Hash)>, rx: &Receiver<Check>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < 1024 {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        let before = state.clone();
        let mut verdicts = Vec::with_capacity(batch.len());
        let committed = (|| -> Result<(), WitnessError> {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(sql)?;
            for c in &batch {
                let v = decide(&state, c);
                match &v {
                    Ok(()) => {
                        tx.execute(
                            "INSERT INTO logs (origin, size, root, note) VALUES (?1, ?2, ?3, ?4)
                             ON CONFLICT(origin) DO UPDATE SET size = excluded.size, root = excluded.root, note = excluded.note",
                            params![c.origin, c.size as i64, c.root.0.as_slice(), c.note],
                        )
                        .map_err(sql)?;
                        state.insert(c.origin.clone(), (c.size, c.root));
                    }
                    Err(e @ (WitnessError::BadProof(_) | WitnessError::OtherRoot { .. })) => {
                        let proof: Vec<String> = c.proof.iter().map(Hash::to_base64).collect();
                        tx.execute(
                            "INSERT INTO refused (origin, received_ms, reason, note, old, proof) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            params![c.origin, ank_common::now_ms() as i64, e.to_string(), c.note, c.old as i64, proof.join(" ")],
                        )
                        .map_err(sql)?;
                    }
                    Err(_) => {}
                }
                verdicts.push(v);
            }
            tx.commit().map_err(sql)
        })();
        match committed {
            Ok(()) => {
                for (c, v) in batch.into_iter().zip(verdicts) {
                    let _ = c.reply.send(v);
                }
            }
            Err(e) => {
                // Nothing of this batch was persisted: nothing is cosigned.
                state = before;
                for c in batch {
                    let _ = c.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// The last checkpoint the witness cosigned for `origin`, from its database
/// (for tests and inspection).
///
/// # Errors
/// Storage errors.
pub fn stored(db: &Path, origin: &str) -> Result<Option<(u64, Hash, String)>, WitnessError> {
    let c = Connection::open(db).map_err(sql)?;
    c.query_row(
        "SELECT size, root, note FROM logs WHERE origin = ?1",
        [origin],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
            ))
        },
    )
    .optional()
    .map_err(sql)?
    .map(|(s, r, n)| {
        Ok((
            s as u64,
            Hash::from_slice(&r).map_err(|e| WitnessError::Internal(e.to_string()))?,
            n,
        ))
    })
    .transpose()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}
