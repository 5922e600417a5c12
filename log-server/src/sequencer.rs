//! The sequencer: the one writer of a log.
//!
//! Publish jobs arrive on a bounded queue. The sequencer takes them in
//! batches (everything that arrived within `interval` of the last commit, or
//! `max_batch` jobs), checks each against the log's current state (version
//! must be next, a token unused and unexpired), adds the operator's pending
//! recovery requests, computes the entries' stored hashes, appends the
//! map-root entry of the map after the batch, signs the new checkpoint and
//! commits all of it in one transaction with a compare-and-swap on the
//! checkpoint. Every checkpoint's tree therefore ends with a map-root entry.
//! Only then are the jobs answered: an acknowledged publish is durable and in
//! a signed checkpoint.
//!
//! A compare-and-swap failure means another writer touched the log: the
//! sequencer stops rather than sign anything that could fork it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use ank_proofs::map::MapValue;
use ank_proofs::{
    Authorization, Checkpoint, Entry, Hash, KeySet, LogEntry, MapRootEntry, TreeBuilder,
};
use tokio::sync::oneshot;

use crate::store::{Batch, Finished, NewBinding, NewEntry, StoreError, StoredCheckpoint};
use crate::{Log, now_ms};

/// One publish, validated by the HTTP layer, waiting for the sequencer.
#[derive(Debug)]
pub struct Job {
    pub label: Hash,
    pub version: u64,
    pub key_set: KeySet,
    pub authorization: Authorization,
    /// SHA-256 of the enrollment token, for version 1.
    pub token: Option<Hash>,
    pub reply: oneshot::Sender<Result<Committed, Rejected>>,
}

/// A job's entry, committed and covered by `checkpoint`; `proofs` makes its
/// C2SP tlog-proof bundle from memory (no storage read).
#[derive(Debug, Clone)]
pub struct Committed {
    pub index: u64,
    /// The entry's encoding.
    pub entry: Vec<u8>,
    pub checkpoint: Arc<StoredCheckpoint>,
    pub proofs: Arc<BatchProofs>,
}

/// What the inclusion proofs of a batch's entries need, in memory: the
/// hashes the batch added, and the roots of the complete subtrees of the
/// tree it extended (every sibling left of the batch is one of them).
#[derive(Debug)]
pub struct BatchProofs {
    /// (stored-hash index, hash) of the old tree's subtree roots.
    older: Vec<(u64, Hash)>,
    /// Stored-hash index of `hashes[0]`.
    first: u64,
    hashes: Vec<Hash>,
    checkpoint: Arc<StoredCheckpoint>,
}

impl BatchProofs {
    /// The tlog-proof bundle of the entry at `index` (one of the batch's)
    /// against the batch's checkpoint.
    ///
    /// # Errors
    /// [`ank_proofs::Error::MissingHash`] for an index outside the batch.
    pub fn tlog_proof(&self, index: u64) -> Result<String, ank_proofs::Error> {
        let proof = ank_proofs::prove_inclusion(index, self.checkpoint.size, self)?;
        Ok(ank_proofs::TlogProof {
            extra: None,
            index,
            proof,
            checkpoint: self.checkpoint.note.clone(),
        }
        .to_text())
    }
}

impl ank_proofs::HashReader for BatchProofs {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ank_proofs::Error> {
        indexes
            .iter()
            .map(|&i| {
                if i < self.first {
                    self.older.iter().find(|(j, _)| *j == i).map(|(_, h)| *h)
                } else {
                    usize::try_from(i - self.first)
                        .ok()
                        .and_then(|k| self.hashes.get(k).copied())
                }
                .ok_or(ank_proofs::Error::MissingHash { index: i })
            })
            .collect()
    }
}

/// Why the sequencer refused or failed a job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("version {got} is not next; the current version is {current}")]
    StaleVersion { got: u64, current: u64 },
    #[error("the enrollment token is already used")]
    TokenUsed,
    #[error("the enrollment token has expired")]
    TokenExpired,
    #[error("the enrollment token is unknown or for another address")]
    TokenUnknown,
    #[error("the log could not store the entry: {0}")]
    Internal(String),
}

/// Queue handle for the HTTP layer.
#[derive(Debug, Clone)]
pub struct Queue(SyncSender<Job>);

impl Queue {
    /// Queues a job without waiting.
    ///
    /// # Errors
    /// Gives the job back when the queue is full or the sequencer has stopped.
    pub fn submit(&self, job: Job) -> Result<(), Box<Job>> {
        self.0.try_send(job).map_err(|e| match e {
            TrySendError::Full(j) | TrySendError::Disconnected(j) => Box::new(j),
        })
    }
}

/// Sequencer settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub interval: Duration,
    pub max_batch: usize,
    pub queue: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            interval: Duration::from_secs(1),
            max_batch: 4096,
            queue: 65536,
        }
    }
}

/// A job queue of `capacity` (0: every submit finds it full).
pub fn channel(capacity: usize) -> (Queue, Receiver<Job>) {
    let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
    (Queue(tx), rx)
}

/// Starts the sequencer thread. The thread ends with `Ok` when every queue
/// handle is dropped, or with the error that made it stop.
///
/// # Errors
/// When the OS cannot start a thread.
pub fn start(
    log: Arc<Log>,
    tree: TreeBuilder,
    settings: Settings,
) -> std::io::Result<(Queue, std::thread::JoinHandle<Result<(), StoreError>>)> {
    let (queue, rx) = channel(settings.queue);
    let handle = std::thread::Builder::new()
        .name("ank-sequencer".into())
        .spawn(move || run(&log, tree, &rx, settings))?;
    Ok((queue, handle))
}

fn run(
    log: &Log,
    mut tree: TreeBuilder,
    rx: &Receiver<Job>,
    s: Settings,
) -> Result<(), StoreError> {
    let mut last = Instant::now();
    loop {
        let mut jobs = Vec::new();
        match rx.recv_timeout(s.interval) {
            Ok(j) => jobs.push(j),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        let deadline = last + s.interval;
        while !jobs.is_empty() && jobs.len() < s.max_batch {
            let now = Instant::now();
            if now >= deadline {
                // Take what is already queued without waiting.
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
                continue;
            }
            match rx.recv_timeout(deadline - now) {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let ops = log.store.pending_operator_requests()?;
        if jobs.is_empty() && ops.is_empty() {
            continue;
        }
        tree = sequence(log, tree, jobs, ops)?;
        last = Instant::now();
    }
}

fn reject(job: Job, why: Rejected) {
    let _ = job.reply.send(Err(why));
}

/// Sequences one batch; returns the tree after it (unchanged if nothing was
/// committed). Only a compare-and-swap conflict is returned as an error.
fn sequence(
    log: &Log,
    tree: TreeBuilder,
    jobs: Vec<Job>,
    ops: Vec<crate::store::OperatorRequest>,
) -> Result<TreeBuilder, StoreError> {
    let now = now_ms();
    // Every label's current version, read once for the whole batch.
    let mut labels: Vec<Hash> = jobs
        .iter()
        .map(|j| j.label)
        .chain(ops.iter().map(|o| o.label))
        .collect();
    labels.sort_unstable();
    labels.dedup();
    let stored = match log.store.bindings(&labels) {
        Ok(b) => b,
        Err(e) => {
            for job in jobs {
                reject(job, Rejected::Internal(e.to_string()));
            }
            return Ok(tree);
        }
    };
    let mut versions: HashMap<Hash, u64> = labels
        .iter()
        .zip(stored)
        .map(|(l, b)| (*l, b.map_or(0, |(v, _)| v)))
        .collect();
    let mut tokens: HashSet<Hash> = HashSet::new();
    let mut entries = Vec::new();
    let mut waiting = Vec::new();
    for job in jobs {
        let cur = versions.get(&job.label).copied().unwrap_or(0);
        if job.version != cur + 1 {
            let got = job.version;
            reject(job, Rejected::StaleVersion { got, current: cur });
            continue;
        }
        if let Some(t) = job.token {
            let state = match log.store.token(&t) {
                Ok(s) => s,
                Err(e) => {
                    reject(job, Rejected::Internal(e.to_string()));
                    continue;
                }
            };
            let why = match state {
                None => Some(Rejected::TokenUnknown),
                Some(s) if s.label != job.label => Some(Rejected::TokenUnknown),
                Some(s) if s.used_by.is_some() || tokens.contains(&t) => Some(Rejected::TokenUsed),
                Some(s) if s.expires_ms <= now => Some(Rejected::TokenExpired),
                Some(_) => None,
            };
            if let Some(why) = why {
                reject(job, why);
                continue;
            }
            tokens.insert(t);
        }
        versions.insert(job.label, job.version);
        let entry = Entry {
            label: job.label,
            version: job.version,
            timestamp_ms: now,
            authorization: job.authorization,
            key_set: job.key_set,
        };
        entries.push(NewEntry {
            bytes: entry.encode(),
            binding: Some(NewBinding {
                label: job.label,
                version: job.version,
                token: job.token,
                operator_request: None,
            }),
        });
        waiting.push(Some(job.reply));
    }
    for op in ops {
        let Ok(ks) = KeySet::decode(&op.key_set) else {
            continue; // `ank log recover` validated it; a corrupt row is skipped, not signed.
        };
        let cur = versions.get(&op.label).copied().unwrap_or(0);
        versions.insert(op.label, cur + 1);
        let entry = Entry {
            label: op.label,
            version: cur + 1,
            timestamp_ms: now,
            authorization: Authorization::Operator,
            key_set: ks,
        };
        entries.push(NewEntry {
            bytes: entry.encode(),
            binding: Some(NewBinding {
                label: op.label,
                version: cur + 1,
                token: None,
                operator_request: Some(op.id),
            }),
        });
        waiting.push(None);
    }
    if entries.is_empty() {
        return Ok(tree);
    }
    let mut next = tree.clone();
    let mut hashes = Vec::with_capacity(entries.len() * 2);
    let mut updates = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let leaf = ank_proofs::leaf_hash(&e.bytes);
        hashes.extend(next.push_stored(leaf));
        if let Some(b) = &e.binding {
            updates.push((
                b.label,
                MapValue {
                    version: b.version,
                    index: tree.size() + i as u64,
                    entry_hash: leaf,
                },
            ));
        }
    }
    let batch = Batch {
        first_index: tree.size(),
        entries,
        hashes,
    };
    // The map's update is prepared beside sqlite's writes, from a shared
    // reference: lookups keep reading the map and checkpoint as they were.
    // When the writes are done, the map-root entry closes the batch and the
    // checkpoint signs the tree that ends with it.
    let mut prepared = None;
    let mut tail_hashes = Vec::new();
    let mut map_root_entry = None;
    let committed = std::thread::scope(|scope| {
        let mut job = Some(scope.spawn(move || log.map().prepare(&updates)));
        let mut finish = || -> Result<Finished, StoreError> {
            let p = job
                .take()
                .ok_or_else(|| StoreError::Corrupt("checkpoint asked for twice".into()))?
                .join()
                .map_err(|_| StoreError::Corrupt("map update panicked".into()))?;
            let m = MapRootEntry {
                root: p.root(),
                timestamp_ms: now,
            };
            prepared = Some(p);
            let (tail, checkpoint) = close_batch(
                log,
                &mut next,
                m,
                batch.first_index + batch.entries.len() as u64,
            )?;
            tail_hashes.clone_from(&tail.hashes);
            map_root_entry = Some(m);
            Ok(Finished { tail, checkpoint })
        };
        let r = log
            .store
            .commit_with(Some((tree.size(), tree.root())), &batch, &mut finish);
        // A commit that failed before asking for the checkpoint leaves the job running.
        if let Some(j) = job.take() {
            let _ = j.join();
        }
        r
    });
    let cp = match (committed, prepared, map_root_entry) {
        (Ok(cp), Some(p), Some(m)) => (cp, p, m),
        (Ok(_), _, _) => {
            return Err(StoreError::Corrupt(
                "a commit succeeded without its map update".into(),
            ));
        }
        (Err(e), _, _) => {
            for r in waiting.into_iter().flatten() {
                let _ = r.send(Err(Rejected::Internal(e.to_string())));
            }
            // The prepared map update is dropped: the map never left the stored state.
            return match e {
                StoreError::Conflict { .. } => Err(e),
                _ => Ok(tree),
            };
        }
    };
    let (mut cp, p, m) = cp;
    // Cosigned before anyone sees it; a witness that is down costs only
    // its cosignature.
    if let Some((w, rt)) = log.witnessing() {
        cp.note = rt.block_on(w.cosign(&log.store, &cp.note, cp.size));
    }
    let cp = Arc::new(cp);
    // The one exclusive step: the new map and checkpoint become visible together.
    log.publish_snapshot(p, Arc::clone(&cp), m)?;
    log.metrics.batches.fetch_add(1, Ordering::Relaxed);
    // Each answer can make its proof from the batch in memory: no storage
    // read, and no work here that would slow the next batch.
    let first_index = batch.first_index;
    let mut hashes = batch.hashes;
    hashes.extend(tail_hashes);
    let proofs = Arc::new(BatchProofs {
        older: ank_proofs::tree::subtree_root_indexes(first_index)
            .into_iter()
            .zip(tree.subtree_roots().iter().copied())
            .collect(),
        first: ank_proofs::tree::stored_hash_count(first_index),
        hashes,
        checkpoint: Arc::clone(&cp),
    });
    for (i, (e, reply)) in batch.entries.into_iter().zip(waiting).enumerate() {
        if let Some(r) = reply {
            log.metrics.published.fetch_add(1, Ordering::Relaxed);
            let _ = r.send(Ok(Committed {
                index: first_index + i as u64,
                entry: e.bytes,
                checkpoint: Arc::clone(&cp),
                proofs: Arc::clone(&proofs),
            }));
        }
    }
    Ok(next)
}

/// Appends the map-root entry `m` at `index` to `tree` and signs the tree
/// that ends with it: the tail of a commit and its checkpoint.
///
/// # Errors
/// [`StoreError::Corrupt`] when signing fails.
pub fn close_batch(
    log: &Log,
    tree: &mut TreeBuilder,
    m: MapRootEntry,
    index: u64,
) -> Result<(Batch, StoredCheckpoint), StoreError> {
    let bytes = LogEntry::MapRoot(m).encode();
    let hashes = tree.push_stored(ank_proofs::leaf_hash(&bytes));
    let body = Checkpoint {
        origin: log.origin().to_owned(),
        size: tree.size(),
        root: tree.root(),
        extensions: Vec::new(),
    };
    let note = body
        .sign(&log.signer)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?
        .to_text();
    let tail = Batch {
        first_index: index,
        entries: vec![NewEntry {
            bytes,
            binding: None,
        }],
        hashes,
    };
    Ok((
        tail,
        StoredCheckpoint {
            size: tree.size(),
            root: tree.root(),
            note,
        },
    ))
}
