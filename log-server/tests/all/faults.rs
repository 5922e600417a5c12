//! Fault injection: a store that fails a commit before writing, or after the
//! checkpoint was signed but before anything was persisted. Neither may leave
//! the map ahead of the log, acknowledge anything, or let a later checkpoint
//! sign a root that replaying the entries does not give.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use ank_log_server::Log;
use ank_log_server::sequencer::{Job, Rejected, Settings, start};
use ank_log_server::store::{
    Batch, BindingVisitor, Finished, LogStore, OperatorRequest, SqliteStore, StoreError,
    StoredCheckpoint, TokenState,
};
use ank_proofs::note::ALG_ED25519;
use ank_proofs::{Authorization, Hash, KeySet, MapRootEntry, SignerKey};

use crate::common::TempDir;

const OK: u8 = 0;
const FAIL_BEFORE: u8 = 1;
const FAIL_AFTER_SIGNING: u8 = 2;
/// Holds the commit open (inside sqlite's transaction, after signing) until released.
const HOLD: u8 = 3;

#[derive(Debug, Default)]
struct Gate {
    state: std::sync::Mutex<(bool, bool)>,
    changed: std::sync::Condvar,
}

impl Gate {
    fn wait_for(&self, f: impl Fn(&(bool, bool)) -> bool) {
        let mut g = self.state.lock().unwrap();
        while !f(&g) {
            g = self.changed.wait(g).unwrap();
        }
    }
    fn set(&self, f: impl FnOnce(&mut (bool, bool))) {
        f(&mut self.state.lock().unwrap());
        self.changed.notify_all();
    }
}

#[derive(Debug)]
struct Flaky {
    inner: SqliteStore,
    mode: AtomicU8,
    /// (a held commit is inside, released)
    gate: Gate,
}

impl LogStore for Flaky {
    fn checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.inner.checkpoint()
    }
    fn commit_with(
        &self,
        expected: Option<(u64, Hash)>,
        batch: &Batch,
        finish: &mut dyn FnMut() -> Result<Finished, StoreError>,
    ) -> Result<StoredCheckpoint, StoreError> {
        match self.mode.swap(OK, Ordering::SeqCst) {
            FAIL_BEFORE => Err(StoreError::Corrupt("injected: disk full".into())),
            FAIL_AFTER_SIGNING => self.inner.commit_with(expected, batch, &mut || {
                finish()?;
                Err(StoreError::Corrupt(
                    "injected: lost power after signing".into(),
                ))
            }),
            HOLD => self.inner.commit_with(expected, batch, &mut || {
                let cp = finish()?;
                self.gate.set(|g| g.0 = true);
                self.gate.wait_for(|g| g.1);
                Ok(cp)
            }),
            _ => self.inner.commit_with(expected, batch, finish),
        }
    }
    fn read_hashes(&self, i: &[u64]) -> Result<Vec<Hash>, StoreError> {
        self.inner.read_hashes(i)
    }
    fn entries(&self, a: u64, b: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        self.inner.entries(a, b)
    }
    fn entry(&self, i: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.entry(i)
    }
    fn binding(&self, l: &Hash) -> Result<Option<(u64, u64)>, StoreError> {
        self.inner.binding(l)
    }
    fn bindings(&self, l: &[Hash]) -> Result<Vec<Option<(u64, u64)>>, StoreError> {
        self.inner.bindings(l)
    }
    fn current_bindings(&self, each: BindingVisitor<'_>) -> Result<(), StoreError> {
        self.inner.current_bindings(each)
    }
    fn put_token(&self, t: &Hash, l: &Hash, e: u64) -> Result<(), StoreError> {
        self.inner.put_token(t, l, e)
    }
    fn token(&self, t: &Hash) -> Result<Option<TokenState>, StoreError> {
        self.inner.token(t)
    }
    fn add_operator_request(&self, l: &Hash, k: &[u8]) -> Result<i64, StoreError> {
        self.inner.add_operator_request(l, k)
    }
    fn pending_operator_requests(&self) -> Result<Vec<OperatorRequest>, StoreError> {
        self.inner.pending_operator_requests()
    }
    fn operator_request_done(&self, id: i64) -> Result<Option<u64>, StoreError> {
        self.inner.operator_request_done(id)
    }
    fn meta(&self, k: &str) -> Result<Option<String>, StoreError> {
        self.inner.meta(k)
    }
    fn set_meta(&self, k: &str, v: &str) -> Result<(), StoreError> {
        self.inner.set_meta(k, v)
    }
}

fn job(
    label: u8,
) -> (
    Job,
    tokio::sync::oneshot::Receiver<Result<ank_log_server::sequencer::Committed, Rejected>>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let j = Job {
        label: ank_proofs::leaf_hash(&[label]),
        version: 1,
        key_set: KeySet::empty(),
        authorization: Authorization::Enrollment,
        token: None,
        reply: tx,
    };
    (j, rx)
}

/// A log on a [`Flaky`] store in `dir`, with its sequencer running.
fn flaky_log(dir: &TempDir) -> (Arc<Flaky>, Arc<Log>, ank_log_server::sequencer::Queue) {
    let flaky = Arc::new(Flaky {
        inner: SqliteStore::open(&dir.0.join("log.sqlite")).unwrap(),
        mode: AtomicU8::new(OK),
        gate: Gate::default(),
    });
    let signer = SignerKey::from_seed("example.org/ank", ALG_ED25519, [4; 32]).unwrap();
    let (log, tree) = Log::from_store(flaky.clone(), signer, "example.org/ank", None).unwrap();
    let settings = Settings {
        interval: Duration::from_millis(1),
        ..Settings::default()
    };
    // The sequencer thread ends when the queue is dropped.
    let (queue, _seq) = start(Arc::clone(&log), tree, settings).unwrap();
    (flaky, log, queue)
}

#[test]
fn failed_commits_leave_no_trace() {
    let dir = TempDir::new("faults");
    let (flaky, log, queue) = flaky_log(&dir);
    // Entry 0 is the empty map's root; each batch adds a binding and a map root.
    let mut committed = 1u64;
    for (round, mode) in [OK, FAIL_BEFORE, OK, FAIL_AFTER_SIGNING, OK]
        .into_iter()
        .enumerate()
    {
        flaky.mode.store(mode, Ordering::SeqCst);
        let (j, rx) = job(round as u8);
        queue.submit(j).unwrap();
        let got = rx.blocking_recv().unwrap();
        if mode == OK {
            let c = got.unwrap();
            assert_eq!(c.index, committed);
            committed += 2;
        } else {
            assert!(matches!(got, Err(Rejected::Internal(_))), "{got:?}");
        }
        // Whatever happened, the latest checkpoint is what is stored, and the
        // in-memory map's root is the one it signs.
        let stored = log.store.checkpoint().unwrap().unwrap();
        assert_eq!(*log.latest(), stored);
        assert_eq!(stored.size, committed);
        let last = log.store.entry(committed - 1).unwrap().unwrap();
        let map_root = MapRootEntry::decode(&last).unwrap().root;
        assert_eq!(log.map().current_root(), Some(map_root), "round {round}");
        // And a replay of the stored entries checks every map-root entry.
        let mut replay = ank_proofs::map::Replay::new();
        for e in log.store.entries(0, committed).unwrap() {
            replay.push(&e).unwrap();
        }
        replay.check_end().unwrap();
        assert_eq!(replay.root(), map_root);
    }
    // The failed labels were never logged: their retries succeed as version 1.
    for label in [1u8, 3] {
        let (j, rx) = job(label);
        queue.submit(j).unwrap();
        assert!(rx.blocking_recv().unwrap().is_ok());
    }
    assert_eq!(log.latest().size, 11);
}

/// Finding 17: lookups never wait for a sqlite commit. While a commit is
/// held open inside its transaction (checkpoint signed, map prepared),
/// lookups are answered from the previous checkpoint and map.
#[test]
fn lookups_do_not_wait_for_a_commit() {
    let dir = TempDir::new("no-wait");
    let (flaky, log, queue) = flaky_log(&dir);
    let (j, rx) = job(1);
    queue.submit(j).unwrap();
    rx.blocking_recv().unwrap().unwrap();
    let before = log.latest();
    flaky.mode.store(HOLD, Ordering::SeqCst);
    let (j, rx) = job(2);
    queue.submit(j).unwrap();
    flaky.gate.wait_for(|g| g.0);
    // The commit is open now; a lookup must still be answered.
    let (tx, answers) = std::sync::mpsc::channel();
    let reader = Arc::clone(&log);
    std::thread::spawn(move || {
        let a = ank_proofs::Address::parse("alice@example.org").unwrap();
        let _ = tx.send(reader.lookup_answer(&a).map(|r| r.checkpoint));
    });
    let answered = answers.recv_timeout(Duration::from_secs(60));
    flaky.gate.set(|g| g.1 = true);
    let checkpoint = answered.expect("a lookup waited for the commit").unwrap();
    assert_eq!(
        checkpoint, before.note,
        "answered from the previous checkpoint"
    );
    rx.blocking_recv().unwrap().unwrap();
    assert_eq!(log.latest().size, before.size + 2);
}
