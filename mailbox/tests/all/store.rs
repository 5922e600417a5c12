//! The message store: idempotent puts, quotas, expiry, acknowledgement,
//! nonce replay, and nothing readable at rest.

use ank_mailbox::at_rest::StorageKey;
use ank_mailbox::store::{MailStore, MailStoreError, Put, Quota};
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

fn envelope(id: u8, body: &str) -> (Envelope, Vec<u8>) {
    let alice = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
    let bob_key = x25519_public(&[9u8; 32]).unwrap();
    let p = Payload::new(
        Address::parse("alice@a.example").unwrap(),
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
    let listed = s.list("bob@b.example", 104).unwrap();
    assert_eq!(
        listed.iter().map(|(id, _)| id[0]).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(listed[0].1, j1);
    assert!(s.list("carol@b.example", 104).unwrap().is_empty());
    // Only the recipient's own messages are acknowledged.
    assert_eq!(s.ack("carol@b.example", &[[1u8; 16]]).unwrap(), 0);
    assert_eq!(s.ack("bob@b.example", &[[1u8; 16]]).unwrap(), 1);
    assert_eq!(s.list("bob@b.example", 105).unwrap().len(), 1);
    // Nothing is lost across a reopen.
    drop(s);
    let s = store(&dir);
    assert_eq!(s.list("bob@b.example", 106).unwrap().len(), 1);
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
    };
    assert!(matches!(
        s.put(&e2.check().unwrap(), &j2, 100, 1000, small).await,
        Err(MailStoreError::QuotaBytes { .. })
    ));
    // Unread messages expire: gone from the list, and their space freed.
    assert_eq!(s.list("bob@b.example", 1099).unwrap().len(), 1);
    assert!(s.list("bob@b.example", 1100).unwrap().is_empty());
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
    assert_eq!(s.list("bob@b.example", 101).unwrap()[0].1, json);
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
    // With another storage key nothing opens.
    let other = MailStore::open(
        &dir.0.join("mail.sqlite"),
        StorageKey::from_secret(b"another storage secret 9876543").unwrap(),
    )
    .unwrap();
    assert!(matches!(
        other.list("bob@b.example", 101),
        Err(MailStoreError::Mail(ank_mailbox::MailError::AtRest))
    ));
}
