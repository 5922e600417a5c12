//! The message store: idempotent puts, quotas, expiry, acknowledgement,
//! nonce replay, and nothing readable at rest.

use ank_mailbox::at_rest::StorageKey;
use ank_mailbox::store::{MAX_PAGE_BYTES, MailStore, MailStoreError, Put, Quota, StoredMessage};
use ank_mailbox::{Envelope, Payload, x25519_public};
use ank_proofs::Address;

struct Dir(std::path::PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("ank-mail-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn store(dir: &Dir) -> MailStore {
    MailStore::open(
        &dir.0.join("mail.sqlite"),
        StorageKey::from_secret(b"test storage secret 0123456789").unwrap(),
    )
    .unwrap()
}

fn ls(s: &MailStore, recipient: &str, now: u64) -> Vec<StoredMessage> {
    s.list(recipient, now, None, 1000, MAX_PAGE_BYTES)
        .unwrap()
        .messages
}

fn envelope(id: u8, body: &str) -> (Envelope, Vec<u8>) {
    envelope_from("alice@a.example", id, body)
}

fn envelope_from(from: &str, id: u8, body: &str) -> (Envelope, Vec<u8>) {
    let alice = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
    let bob_key = x25519_public(&[9u8; 32]).unwrap();
    let p = Payload::new(
        Address::parse(from).unwrap(),
        Address::parse("bob@b.example").unwrap(),
        1,
        "subject line",
        body,
    )
    .unwrap();
    let e = Envelope::create(&p, &bob_key, &alice, [id; 16]).unwrap();
    let json = serde_json::to_vec(&e).unwrap();
    (e, json)
}

#[tokio::test]
async fn put_list_ack_retry_and_conflict() {
    let dir = Dir::new("basic");
    let s = store(&dir);
    let (e1, j1) = envelope(1, "first");
    let (e2, j2) = envelope(2, "second");
    let q = Quota::default();
    assert_eq!(
        s.put(&e1.check().unwrap(), &j1, 100, 10_000, q)
            .await
            .unwrap(),
        Put::Stored
    );
    assert_eq!(
        s.put(&e2.check().unwrap(), &j2, 101, 10_000, q)
            .await
            .unwrap(),
        Put::Stored
    );
    // The same message again: a success that stores nothing new.
    assert_eq!(
        s.put(&e1.check().unwrap(), &j1, 102, 10_000, q)
            .await
            .unwrap(),
        Put::Duplicate
    );
    // Another message under a used id.
    let (other, jo) = envelope(1, "not the first");
    assert!(matches!(
        s.put(&other.check().unwrap(), &jo, 103, 10_000, q).await,
        Err(MailStoreError::IdConflict)
    ));
    let listed = ls(&s, "bob@b.example", 104);
    assert_eq!(
        listed.iter().map(|(id, _)| id[0]).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(listed[0].1, j1);
    assert!(ls(&s, "carol@b.example", 104).is_empty());
    // Only the recipient's own messages are acknowledged.
    assert_eq!(s.ack("carol@b.example", &[[1u8; 16]]).unwrap(), 0);
    assert_eq!(s.ack("bob@b.example", &[[1u8; 16]]).unwrap(), 1);
    assert_eq!(ls(&s, "bob@b.example", 105).len(), 1);
    // Nothing is lost across a reopen.
    drop(s);
    let s = store(&dir);
    assert_eq!(ls(&s, "bob@b.example", 106).len(), 1);
}

#[tokio::test]
async fn quotas_and_expiry() {
    let dir = Dir::new("quota");
    let s = store(&dir);
    let (e1, j1) = envelope(1, "a");
    let (e2, j2) = envelope(2, "b");
    let two = Quota {
        messages: 1,
        bytes: 1 << 20,
        ..Quota::default()
    };
    s.put(&e1.check().unwrap(), &j1, 100, 1000, two)
        .await
        .unwrap();
    assert!(matches!(
        s.put(&e2.check().unwrap(), &j2, 100, 1000, two).await,
        Err(MailStoreError::QuotaMessages { limit: 1 })
    ));
    let small = Quota {
        messages: 10,
        bytes: j1.len() as u64 + 10,
        ..Quota::default()
    };
    assert!(matches!(
        s.put(&e2.check().unwrap(), &j2, 100, 1000, small).await,
        Err(MailStoreError::QuotaBytes { .. })
    ));
    // Unread messages expire: gone from the list, and their space freed.
    assert_eq!(ls(&s, "bob@b.example", 1099).len(), 1);
    assert!(ls(&s, "bob@b.example", 1100).is_empty());
    assert_eq!(
        s.put(&e2.check().unwrap(), &j2, 1100, 1000, two)
            .await
            .unwrap(),
        Put::Stored
    );
}

#[test]
fn replayed_nonces_are_refused() {
    let dir = Dir::new("nonce");
    let s = store(&dir);
    assert!(s.use_nonce(&[1u8; 16], 100, 200).unwrap());
    assert!(!s.use_nonce(&[1u8; 16], 150, 250).unwrap());
    assert!(s.use_nonce(&[2u8; 16], 150, 250).unwrap());
    // After expiry the window has passed; the skew check refuses such old requests anyway.
    assert!(s.use_nonce(&[1u8; 16], 201, 300).unwrap());
}

#[tokio::test]
async fn nothing_readable_at_rest() {
    let dir = Dir::new("rest");
    let body = "the secret plaintext body 4242";
    let (e, json) = envelope(7, body);
    let checked = e.check().unwrap();
    let ct = checked.ciphertext.clone();
    let s = store(&dir);
    s.put(&checked, &json, 100, 10_000, Quota::default())
        .await
        .unwrap();
    assert_eq!(ls(&s, "bob@b.example", 101)[0].1, json);
    let scan = |when: &str| {
        let mut files = 0;
        for f in std::fs::read_dir(&dir.0).unwrap() {
            // The writer's connection may be closing and removing its WAL just now.
            let Ok(bytes) = std::fs::read(f.unwrap().path()) else {
                continue;
            };
            files += 1;
            for needle in [body.as_bytes(), &ct[..32], e.ciphertext.as_bytes()] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "message bytes at rest ({when})"
                );
            }
        }
        files
    };
    // While open, the database and its WAL; after closing, the database.
    assert!(scan("open") >= 2, "database and WAL expected");
    drop(s);
    assert!(scan("closed") >= 1);
    // Another storage key is refused at open, with a message that says so.
    let other = MailStore::open(
        &dir.0.join("mail.sqlite"),
        StorageKey::from_secret(b"another storage secret 9876543").unwrap(),
    )
    .unwrap_err();
    assert!(matches!(other, MailStoreError::WrongStorageKey), "{other}");
    assert!(
        other
            .to_string()
            .contains("not the key the mailbox was created with")
    );
}

/// One sender cannot fill a mailbox: past its own quota it is refused while
/// others still get through.
#[tokio::test]
async fn one_sender_cannot_fill_a_mailbox() {
    let dir = Dir::new("sender-quota");
    let s = store(&dir);
    let q = Quota {
        sender_messages: 2,
        ..Quota::default()
    };
    for id in 1..=2 {
        let (e, j) = envelope_from("mallory@a.example", id, "spam");
        s.put(&e.check().unwrap(), &j, 100, 10_000, q)
            .await
            .unwrap();
    }
    let (e, j) = envelope_from("mallory@a.example", 3, "spam");
    assert!(matches!(
        s.put(&e.check().unwrap(), &j, 100, 10_000, q).await,
        Err(MailStoreError::SenderQuota { limit: 2 })
    ));
    let (e, j) = envelope_from("alice@a.example", 4, "real mail");
    assert_eq!(
        s.put(&e.check().unwrap(), &j, 100, 10_000, q)
            .await
            .unwrap(),
        Put::Stored
    );
    // By bytes, too.
    let (e, j) = envelope_from("eve@a.example", 5, "x");
    let tiny = Quota {
        sender_bytes: j.len() as u64 - 1,
        ..Quota::default()
    };
    assert!(matches!(
        s.put(&e.check().unwrap(), &j, 100, 10_000, tiny).await,
        Err(MailStoreError::SenderQuota { .. })
    ));
    // Acknowledging frees the sender's allowance.
    s.ack("bob@b.example", &[[1u8; 16]]).unwrap();
    let (e, j) = envelope_from("mallory@a.example", 3, "spam");
    assert_eq!(
        s.put(&e.check().unwrap(), &j, 100, 10_000, q)
            .await
            .unwrap(),
        Put::Stored
    );
}

/// Delivered mail cannot be delivered again until it would have expired.
#[tokio::test]
async fn acknowledged_ids_are_tombstoned_until_the_ttl() {
    let dir = Dir::new("tombstone");
    let s = store(&dir);
    let (e, j) = envelope(1, "once");
    let q = Quota::default();
    s.put(&e.check().unwrap(), &j, 100, 1000, q).await.unwrap();
    assert_eq!(s.ack("bob@b.example", &[[1u8; 16]]).unwrap(), 1);
    assert!(matches!(
        s.put(&e.check().unwrap(), &j, 500, 1000, q).await,
        Err(MailStoreError::Delivered)
    ));
    assert!(ls(&s, "bob@b.example", 600).is_empty());
    // Once the TTL has passed the tombstone goes (the client refuses mail that old).
    assert_eq!(
        s.put(&e.check().unwrap(), &j, 1100, 1000, q).await.unwrap(),
        Put::Stored
    );
}

/// A full server refuses new mail with its own error, and fetch and
/// acknowledge keep working so that users can drain their mailboxes.
#[tokio::test]
async fn a_full_store_refuses_mail_but_drains() {
    let dir = Dir::new("full");
    let s = store(&dir);
    let (e1, j1) = envelope(1, "first");
    let (e2, j2) = envelope(2, "second");
    let q = Quota {
        total_bytes: j1.len() as u64 + 10,
        ..Quota::default()
    };
    s.put(&e1.check().unwrap(), &j1, 100, 10_000, q)
        .await
        .unwrap();
    assert!(matches!(
        s.put(&e2.check().unwrap(), &j2, 100, 10_000, q).await,
        Err(MailStoreError::StoreFull { .. })
    ));
    assert_eq!(ls(&s, "bob@b.example", 101).len(), 1);
    assert_eq!(s.ack("bob@b.example", &[[1u8; 16]]).unwrap(), 1);
    assert_eq!(
        s.put(&e2.check().unwrap(), &j2, 102, 10_000, q)
            .await
            .unwrap(),
        Put::Stored
    );
}

/// Stores messages with ids 1..=n, one a millisecond from 101 on.
async fn fill(s: &MailStore, n: u8) {
    for id in 1..=n {
        let (e, j) = envelope(id, "m");
        s.put(
            &e.check().unwrap(),
            &j,
            100 + u64::from(id),
            10_000,
            Quota::default(),
        )
        .await
        .unwrap();
    }
}

/// A row that does not decrypt is quarantined; the rest is served.
#[tokio::test]
async fn a_bad_row_is_quarantined_not_fatal() {
    let dir = Dir::new("badrow");
    let s = store(&dir);
    fill(&s, 3).await;
    let c = rusqlite::Connection::open(dir.0.join("mail.sqlite")).unwrap();
    c.execute(
        "UPDATE messages SET sealed = zeroblob(64) WHERE id = ?1",
        [[2u8; 16].as_slice()],
    )
    .unwrap();
    let page = s
        .list("bob@b.example", 200, None, 100, MAX_PAGE_BYTES)
        .unwrap();
    assert_eq!(
        page.messages
            .iter()
            .map(|(id, _)| id[0])
            .collect::<Vec<_>>(),
        [1, 3]
    );
    assert_eq!(page.quarantined, 1);
    assert_eq!(s.quarantined("bob@b.example").unwrap(), vec![vec![2u8; 16]]);
    // Gone from the mailbox, and its space freed.
    let again = s
        .list("bob@b.example", 200, None, 100, MAX_PAGE_BYTES)
        .unwrap();
    assert_eq!((again.messages.len(), again.quarantined), (2, 0));
}

/// Pages by count and by bytes, each continuing where the last stopped.
#[tokio::test]
async fn listing_is_paginated() {
    let dir = Dir::new("pages");
    let s = store(&dir);
    fill(&s, 5).await;
    let mut after = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let p = s
            .list("bob@b.example", 200, after, 2, MAX_PAGE_BYTES)
            .unwrap();
        pages += 1;
        assert!(p.messages.len() <= 2);
        seen.extend(p.messages.iter().map(|(id, _)| id[0]));
        match p.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!((seen, pages), (vec![1, 2, 3, 4, 5], 3));
    // A byte budget smaller than one message still returns one message.
    let p = s.list("bob@b.example", 200, None, 100, 1).unwrap();
    assert_eq!(p.messages.len(), 1);
    assert!(p.next.is_some());
}

/// A sender proof is stored once however many messages carry it, and each
/// listed envelope has it back as its `sender_proof`.
#[tokio::test]
async fn sender_proofs_are_stored_once_and_joined_back() {
    let dir = Dir::new("proofs");
    let s = store(&dir);
    let proof = serde_json::json!({
        "address": "alice@a.example", "found": false,
        "checkpoint": "a.example/ank\n1\nroot\n", "map_proof": "AQA=",
        "map_root_entry": "Aw==", "inclusion_proof": []
    });
    let proof_bytes = serde_json::to_vec(&proof).unwrap();
    for id in 1..=3 {
        let (e, j) = envelope(id, "with proof");
        s.put_with_proof(
            &e.check().unwrap(),
            &j,
            Some(&proof_bytes),
            100,
            10_000,
            Quota::default(),
        )
        .await
        .unwrap();
    }
    let c = rusqlite::Connection::open(dir.0.join("mail.sqlite")).unwrap();
    let rows: i64 = c
        .query_row("SELECT count(*) FROM sender_proofs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
    for (_, json) in ls(&s, "bob@b.example", 101) {
        let env: Envelope = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            serde_json::to_value(env.sender_proof.as_ref().unwrap()).unwrap()["address"],
            "alice@a.example"
        );
        assert!(env.check().is_ok());
    }
}

/// The sweeps of nonces, tombstones and expired mail use their indexes, not
/// a scan of the table (finding 4).
#[test]
fn sweeps_use_indexes() {
    let dir = Dir::new("plans");
    drop(store(&dir));
    let c = rusqlite::Connection::open(dir.0.join("mail.sqlite")).unwrap();
    for (sql, index) in [
        (
            "DELETE FROM nonces WHERE expires_ms <= 1",
            "nonces_by_expiry",
        ),
        (
            "DELETE FROM tombstones WHERE expires_ms <= 1",
            "tombstones_by_expiry",
        ),
        (
            "DELETE FROM messages WHERE expires_ms <= 1",
            "messages_by_expiry",
        ),
    ] {
        let plan: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(plan.iter().any(|p| p.contains(index)), "{sql}: {plan:?}");
    }
}
