//! The storage contract (see `ank_log_server::store`), checked for every
//! backend. Each backend provides `open(path)`; the suite reopens stores to
//! check durability.

use std::path::Path;
use std::sync::Arc;

use ank_log_server::store::{
    Batch, LogStore, NewBinding, NewEntry, SqliteStore, StoreError, StoredCheckpoint,
};
use ank_proofs::{Authorization, Entry, Hash, KeySet, TreeBuilder, leaf_hash};

use crate::common::TempDir;

fn binding(label: u8, version: u64) -> Entry {
    Entry {
        label: leaf_hash(&[label]),
        version,
        timestamp_ms: 1000 + version,
        authorization: Authorization::Operator,
        key_set: KeySet::empty(),
    }
}

fn entry(label: u8, version: u64) -> NewEntry {
    NewEntry {
        bytes: binding(label, version).encode(),
        binding: Some(NewBinding {
            label: leaf_hash(&[label]),
            version,
            token: None,
            operator_request: None,
        }),
    }
}

fn with_token(mut e: NewEntry, token: Hash) -> NewEntry {
    if let Some(b) = &mut e.binding {
        b.token = Some(token);
    }
    e
}

fn batch(tree: &mut TreeBuilder, entries: Vec<NewEntry>) -> (Batch, StoredCheckpoint) {
    let first = tree.size();
    let mut hashes = Vec::new();
    for e in &entries {
        hashes.extend(tree.push_stored(leaf_hash(&e.bytes)));
    }
    let cp = StoredCheckpoint {
        size: tree.size(),
        root: tree.root(),
        note: format!("note {}\n", tree.size()),
    };
    (
        Batch {
            first_index: first,
            entries,
            hashes,
        },
        cp,
    )
}

/// Runs the whole contract against the backend opened by `open`.
fn conformance<S: LogStore>(open: impl Fn(&Path) -> S) {
    let dir = TempDir::new("conf");
    let path = dir.0.join("store");
    let s = open(&path);
    assert_eq!(s.checkpoint().unwrap(), None);
    let mut tree = TreeBuilder::new();
    let (b0, cp0) = batch(&mut tree, vec![]);
    s.commit(None, &b0, &cp0).unwrap();
    // CAS: a second "first" commit fails and changes nothing.
    let err = s.commit(None, &b0, &cp0).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: None,
                found: Some(0)
            }
        ),
        "{err}"
    );

    // Token and operator request bookkeeping.
    let th = leaf_hash(b"token");
    s.put_token(&th, &leaf_hash(&[1]), 5000).unwrap();
    let op = s
        .add_operator_request(&leaf_hash(&[2]), &KeySet::empty().encode())
        .unwrap();
    assert_eq!(s.pending_operator_requests().unwrap().len(), 1);

    let e1 = with_token(entry(1, 1), th);
    let mut e2 = entry(2, 1);
    if let Some(b) = &mut e2.binding {
        b.operator_request = Some(op);
    }
    let (b1, cp1) = batch(&mut tree, vec![e1, e2, entry(3, 1)]);
    s.commit(Some((cp0.size, cp0.root)), &b1, &cp1).unwrap();
    // Read-after-write on the same handle.
    assert_eq!(s.checkpoint().unwrap(), Some(cp1.clone()));
    assert_eq!(s.binding(&leaf_hash(&[2])).unwrap(), Some((1, 1)));
    assert_eq!(s.token(&th).unwrap().unwrap().used_by, Some(0));
    assert_eq!(s.operator_request_done(op).unwrap(), Some(1));
    assert!(s.pending_operator_requests().unwrap().is_empty());

    // A commit against a stale checkpoint fails and writes nothing.
    let mut stale_tree = tree.clone();
    let (bad, bad_cp) = batch(&mut stale_tree, vec![entry(9, 1)]);
    let err = s
        .commit(Some((cp0.size, cp0.root)), &bad, &bad_cp)
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: Some(0),
                found: Some(3)
            }
        ),
        "{err}"
    );
    assert_eq!(s.binding(&leaf_hash(&[9])).unwrap(), None);
    assert_eq!(s.entries(0, 10).unwrap().len(), 3);

    // A failing commit (a duplicate token use) is atomic: nothing of it lands.
    let reuse = with_token(entry(4, 1), th);
    let mut t2 = tree.clone();
    let (b_fail, cp_fail) = batch(&mut t2, vec![entry(5, 1), reuse]);
    assert!(
        s.commit(Some((cp1.size, cp1.root)), &b_fail, &cp_fail)
            .is_err()
    );
    assert_eq!(s.checkpoint().unwrap(), Some(cp1.clone()));
    assert_eq!(s.binding(&leaf_hash(&[5])).unwrap(), None);

    // A tail that `finish` adds lands with the batch, after it; a `finish`
    // that fails writes neither.
    let tail_entry = || NewEntry {
        bytes: b"tail".to_vec(),
        binding: None,
    };
    let mut t3 = tree.clone();
    let (b_nofinish, _) = batch(&mut t3, vec![entry(6, 1)]);
    let err = s
        .commit_with(Some((cp1.size, cp1.root)), &b_nofinish, &mut || {
            Err(StoreError::Corrupt("signing failed".into()))
        })
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt(ref m) if m == "signing failed"),
        "{err}"
    );
    assert_eq!(s.binding(&leaf_hash(&[6])).unwrap(), None);
    assert_eq!(s.entries(0, 10).unwrap().len(), 3);

    let (b2, _) = batch(&mut tree, vec![entry(1, 2)]);
    let (tail, cp2) = batch(&mut tree, vec![tail_entry()]);
    let committed = s
        .commit_with(Some((cp1.size, cp1.root)), &b2, &mut || {
            Ok(ank_log_server::store::Finished {
                tail: tail.clone(),
                checkpoint: cp2.clone(),
            })
        })
        .unwrap();
    assert_eq!(committed, cp2);
    drop(s);

    // Durable: a new handle sees everything, and the hashes prove it.
    let s = open(&path);
    assert_eq!(s.checkpoint().unwrap(), Some(cp2.clone()));
    assert_eq!(s.binding(&leaf_hash(&[1])).unwrap(), Some((2, 3)));
    let entries = s.entries(0, 100).unwrap();
    assert_eq!(entries.len(), 5);
    assert_eq!(Entry::decode(&entries[3]).unwrap(), binding(1, 2));
    assert_eq!(s.entry(3).unwrap().unwrap(), binding(1, 2).encode());
    assert_eq!(s.entry(4).unwrap().unwrap(), b"tail".to_vec());
    assert_eq!(s.entry(5).unwrap(), None);
    let reader = ank_log_server::store::StoreHashReader(&s);
    assert_eq!(ank_proofs::tree_hash(5, &reader).unwrap(), cp2.root);
    for i in 0..5 {
        let p = ank_proofs::prove_inclusion(i, 5, &reader).unwrap();
        let leaf = leaf_hash(&entries[i as usize]);
        ank_proofs::verify_inclusion(&leaf, i, 5, &p, &cp2.root).unwrap();
    }
    assert!(
        s.read_hashes(&[ank_proofs::tree::stored_hash_count(5)])
            .is_err()
    );
    s.set_meta("k", "v").unwrap();
    s.set_meta("k", "w").unwrap();
    assert_eq!(s.meta("k").unwrap().as_deref(), Some("w"));
    assert_eq!(s.meta("absent").unwrap(), None);
    let _: Hash = cp2.root;
}

#[test]
fn sqlite_store_conforms() {
    conformance(|p| SqliteStore::open(p).unwrap());
}

/// A database of the first format (82-byte bindings beside their key sets,
/// no map-root entries, no `user_version`) is refused, not served.
#[test]
fn sqlite_store_refuses_the_first_format() {
    let dir = TempDir::new("old");
    let path = dir.0.join("store");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE entries (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL, key_set BLOB NOT NULL) STRICT;",
        )
        .unwrap();
    }
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(&err, StoreError::OldFormat { found, .. } if found == "the first format"),
        "{err}"
    );
    assert!(err.to_string().contains("start the log anew"), "{err}");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 7).unwrap();
    }
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(&err, StoreError::OldFormat { found, .. } if found == "format 7"),
        "{err}"
    );
}

/// Two handles on one database: only one can extend a checkpoint.
#[test]
fn two_writers_cannot_fork_the_log() {
    let dir = TempDir::new("fork");
    let path = dir.0.join("store");
    let a = SqliteStore::open(&path).unwrap();
    let b = SqliteStore::open(&path).unwrap();
    let mut tree = TreeBuilder::new();
    let (b0, cp0) = batch(&mut tree, vec![]);
    a.commit(None, &b0, &cp0).unwrap();
    let mut ta = tree.clone();
    let mut tb = tree.clone();
    let (ba, cpa) = batch(&mut ta, vec![entry(1, 1)]);
    let (bb, cpb) = batch(&mut tb, vec![entry(2, 1)]);
    a.commit(Some((cp0.size, cp0.root)), &ba, &cpa).unwrap();
    let err = b.commit(Some((cp0.size, cp0.root)), &bb, &cpb).unwrap_err();
    assert!(matches!(
        err,
        StoreError::Conflict {
            expected: Some(0),
            found: Some(1)
        }
    ));
    assert_eq!(b.checkpoint().unwrap(), Some(cpa));
    assert_eq!(b.binding(&leaf_hash(&[2])).unwrap(), None);
}

/// The data directory lock: a second server on the same directory refuses to start.
#[test]
fn second_log_on_a_directory_is_refused() {
    let dir = TempDir::new("lock");
    let (log, _, created) = ank_log_server::Log::open(&dir.0, "example.org/ank").unwrap();
    assert!(created);
    let second = ank_log_server::Log::open(&dir.0, "example.org/ank").unwrap_err();
    assert!(
        matches!(second, ank_log_server::LogError::Locked { .. }),
        "{second}"
    );
    drop(log);
    // Once the first is gone the directory opens again, and refuses another domain.
    let (_, _, created) = ank_log_server::Log::open(&dir.0, "example.org/ank").unwrap();
    assert!(!created);
}

#[test]
fn reopening_with_another_domain_is_refused() {
    let dir = TempDir::new("domain");
    drop(ank_log_server::Log::open(&dir.0, "example.org/ank").unwrap());
    let err = ank_log_server::Log::open(&dir.0, "other.example/ank").unwrap_err();
    assert!(
        matches!(&err, ank_log_server::LogError::OtherLog { found, wanted }
            if found == "example.org/ank" && wanted == "other.example/ank"),
        "{err}"
    );
    assert!(err.to_string().contains("\"example.org/ank\""), "{err}");
    let _ = Arc::new(());
}

#[test]
fn reopening_with_another_key_is_refused() {
    let dir = TempDir::new("key");
    drop(ank_log_server::Log::open(&dir.0, "example.org/ank").unwrap());
    let other =
        ank_proofs::SignerKey::from_seed("example.org/ank", ank_proofs::note::ALG_ED25519, [7; 32])
            .unwrap();
    std::fs::write(dir.0.join("log.key"), format!("{}\n", other.to_text())).unwrap();
    let err = ank_log_server::Log::open(&dir.0, "example.org/ank").unwrap_err();
    assert!(
        matches!(&err, ank_log_server::LogError::OtherKey { found, .. } if *found == other.verifier().to_text()),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("is not the key this log was created with"),
        "{err}"
    );
    std::fs::remove_file(dir.0.join("log.key")).unwrap();
    let err = ank_log_server::Log::open(&dir.0, "example.org/ank").unwrap_err();
    assert!(
        matches!(
            err,
            ank_log_server::LogError::KeyWithoutLog {
                missing: "log.key",
                ..
            }
        ),
        "{err}"
    );
}

/// A key whose database is gone must not start a second history under the
/// same key: missing, empty, or without a checkpoint, it is refused.
#[test]
fn a_key_without_its_log_is_refused() {
    use ank_log_server::LogError;
    let dir = TempDir::new("orphan-key");
    drop(ank_log_server::Log::open(&dir.0, "example.org/ank").unwrap());
    for f in ["log.sqlite", "log.sqlite-wal", "log.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.0.join(f));
    }
    let err = ank_log_server::Log::open(&dir.0, "example.org/ank").unwrap_err();
    assert!(
        matches!(
            err,
            LogError::KeyWithoutLog {
                missing: "log.sqlite",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("move log.key away"), "{err}");
    assert!(!dir.0.join("log.sqlite").exists(), "nothing was created");
    std::fs::write(dir.0.join("log.sqlite"), b"").unwrap();
    let err = ank_log_server::Log::open(&dir.0, "example.org/ank").unwrap_err();
    assert!(
        matches!(
            err,
            LogError::KeyWithoutLog {
                missing: "log.sqlite",
                ..
            }
        ),
        "{err}"
    );
    // A database without a checkpoint (sqlite created it, nothing was logged).
    std::fs::remove_file(dir.0.join("log.sqlite")).unwrap();
    drop(ank_log_server::store::SqliteStore::open(&dir.0.join("log.sqlite")).unwrap());
    let err = ank_log_server::Log::open(&dir.0, "example.org/ank").unwrap_err();
    assert!(
        matches!(
            err,
            LogError::KeyWithoutLog {
                missing: "a checkpoint in log.sqlite",
                ..
            }
        ),
        "{err}"
    );
}

/// The data directory and everything in it are private to the operator.
#[cfg(unix)]
#[test]
fn data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new("perms");
    let data = dir.0.join("data");
    let (log, _, _) = ank_log_server::Log::open(&data, "example.org/ank").unwrap();
    drop(log);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for e in std::fs::read_dir(&data).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
}
