//! The mailbox API as a function: every refusal, each in its own test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ank_mailbox::api::{MailSettings, MailState, router};
use ank_mailbox::at_rest::StorageKey;
use ank_mailbox::directory::{DirFuture, Directory, DirectoryError, Resolver};
use ank_mailbox::fetch_auth::FetchAuth;
use ank_mailbox::store::MailStore;
use ank_mailbox::{Envelope, Payload, x25519_public};
use ank_proofs::{Address, Device, KeySet};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;

/// Keys by address; a domain not listed is unknown.
struct Keys(Mutex<HashMap<Address, KeySet>>, Vec<&'static str>);

impl Directory for Keys {
    fn current<'a>(&'a self, a: &'a Address) -> DirFuture<'a> {
        Box::pin(async move {
            if !self.1.contains(&a.domain()) {
                return Err(DirectoryError::UnknownDomain(a.domain().to_owned()));
            }
            Ok(ank_mailbox::directory::Resolved {
                keys: self.0.lock().unwrap().get(a).cloned(),
                proof: None,
            })
        })
    }
}

struct User {
    address: Address,
    signing: ed25519_dalek::SigningKey,
    x_secret: [u8; 32],
}

impl User {
    fn new(a: &str, seed: u8) -> User {
        User {
            address: Address::parse(a).unwrap(),
            signing: ed25519_dalek::SigningKey::from_bytes(&[seed; 32]),
            x_secret: [seed ^ 0x5a; 32],
        }
    }
    fn key_set(&self) -> KeySet {
        KeySet::new(vec![Device {
            name: "d".into(),
            signing_key: self.signing.verifying_key().to_bytes(),
            encryption_key: x25519_public(&self.x_secret).unwrap(),
        }])
        .unwrap()
    }
}

struct Setup {
    app: Router,
    store: Arc<MailStore>,
    keys: Arc<Keys>,
    _dir: std::path::PathBuf,
    alice: User,
    bob: User,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

/// The authority the test mailbox is reached by.
const MAILBOX: &str = "mail.b.example";

fn settings() -> MailSettings {
    MailSettings {
        authorities: vec![MAILBOX.into()],
        ..MailSettings::default()
    }
}

fn setup(tag: &str) -> Setup {
    setup_with(tag, settings(), None)
}

fn setup_with(
    tag: &str,
    settings: MailSettings,
    view: Option<Arc<dyn ank_mailbox::api::LogView>>,
) -> Setup {
    let dir = std::env::temp_dir().join(format!("ank-mailapi-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = MailStore::open(
        &dir.join("mail.sqlite"),
        StorageKey::from_secret(b"api test storage secret 012345").unwrap(),
    )
    .unwrap();
    let alice = User::new("alice@a.example", 1);
    let bob = User::new("bob@b.example", 2);
    let keys = Arc::new(Keys(
        Mutex::new(HashMap::new()),
        vec!["a.example", "b.example"],
    ));
    keys.0
        .lock()
        .unwrap()
        .insert(alice.address.clone(), alice.key_set());
    keys.0
        .lock()
        .unwrap()
        .insert(bob.address.clone(), bob.key_set());
    let resolver = Resolver {
        domain: "b.example".into(),
        local: keys.clone(),
        remote: keys.clone(),
    };
    let store = Arc::new(store);
    let mut state = MailState::new(Arc::clone(&store), Arc::new(resolver), settings);
    if let Some(v) = view {
        state = state.with_log(v);
    }
    let app = router(state);
    Setup {
        app,
        store,
        keys,
        _dir: dir,
        alice,
        bob,
    }
}

fn envelope(from: &User, to: &User, subject: &str, id: u8) -> Envelope {
    let p = Payload::new(from.address.clone(), to.address.clone(), 1, subject, "body").unwrap();
    Envelope::create(
        &p,
        &x25519_public(&to.x_secret).unwrap(),
        &from.signing,
        [id; 16],
    )
    .unwrap()
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn submit(app: &Router, env: &Envelope) -> (StatusCode, Value) {
    let req = Request::post("/v1/messages")
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(env).unwrap()))
        .unwrap();
    call(app, req).await
}

fn signed(
    user: &User,
    method: &str,
    path: &str,
    body: Vec<u8>,
    nonce: u8,
    key: &ed25519_dalek::SigningKey,
) -> Request<Body> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let target = ank_mailbox::fetch_auth::Target {
        method,
        domain: user.address.domain(),
        authority: MAILBOX,
        path,
    };
    let a = FetchAuth::sign(key, &target, &user.address, now, [nonce; 16], &body);
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", MAILBOX)
        .header("ank-address", a.address)
        .header("ank-timestamp", a.timestamp_ms.to_string())
        .header("ank-nonce", a.nonce)
        .header("ank-key", a.key)
        .header("ank-signature", a.signature)
        .body(Body::from(body))
        .unwrap()
}

fn code(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

#[tokio::test]
async fn accepted_fetched_acknowledged_and_retried() {
    let s = setup("ok");
    let env = envelope(&s.alice, &s.bob, "hello", 1);
    assert_eq!(submit(&s.app, &env).await.0, StatusCode::CREATED);
    // A retry with the same id and content: the same success, nothing new stored.
    let (st, v) = submit(&s.app, &env).await;
    assert_eq!((st, v["stored"].as_bool()), (StatusCode::OK, Some(false)));
    // The same id with another content.
    let (st, v) = submit(&s.app, &envelope(&s.alice, &s.bob, "other", 1)).await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "id_conflict"));
    let (st, v) = call(
        &s.app,
        signed(&s.bob, "GET", "/v1/messages", vec![], 1, &s.bob.signing),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let list = v["messages"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    let got: Envelope = serde_json::from_value(list[0].clone()).unwrap();
    assert_eq!(
        got.check().unwrap().open(&s.bob.x_secret).unwrap().subject,
        "hello"
    );
    let body = serde_json::to_vec(&serde_json::json!({"ids": [env.id]})).unwrap();
    let (st, v) = call(
        &s.app,
        signed(&s.bob, "POST", "/v1/messages/ack", body, 2, &s.bob.signing),
    )
    .await;
    assert_eq!((st, v["deleted"].as_u64()), (StatusCode::OK, Some(1)));
    let (_, v) = call(
        &s.app,
        signed(&s.bob, "GET", "/v1/messages", vec![], 3, &s.bob.signing),
    )
    .await;
    assert!(v["messages"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn refuses_unknown_recipient() {
    let s = setup("unknown");
    let carol = User::new("carol@b.example", 3);
    let (st, v) = submit(&s.app, &envelope(&s.alice, &carol, "x", 1)).await;
    assert_eq!((st, code(&v)), (StatusCode::NOT_FOUND, "unknown_recipient"));
}

#[tokio::test]
async fn refuses_a_key_that_is_no_longer_current() {
    let s = setup("stale");
    let env = envelope(&s.alice, &s.bob, "to the old key", 1);
    // Bob rotates: the message sealed to his old key is refused.
    let rotated = User::new("bob@b.example", 22);
    s.keys
        .0
        .lock()
        .unwrap()
        .insert(s.bob.address.clone(), rotated.key_set());
    let (st, v) = submit(&s.app, &env).await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "stale_key"));
}

#[tokio::test]
async fn refuses_a_bad_sender_signature() {
    let s = setup("badsig");
    let mut env = envelope(&s.alice, &s.bob, "x", 1);
    env.signature = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
    let (st, v) = submit(&s.app, &env).await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "bad_signature"));
}

#[tokio::test]
async fn refuses_senders_their_logs_do_not_know() {
    let s = setup("sender");
    // Absent from its log.
    let mallory = User::new("mallory@a.example", 4);
    let (st, v) = submit(&s.app, &envelope(&mallory, &s.bob, "x", 1)).await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "unknown_sender"));
    // Known to its log, but signing with a key that is not current.
    let impostor = User {
        address: s.alice.address.clone(),
        signing: ed25519_dalek::SigningKey::from_bytes(&[5; 32]),
        x_secret: [0; 32],
    };
    let (st, v) = submit(&s.app, &envelope(&impostor, &s.bob, "x", 2)).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::FORBIDDEN, "sender_key_not_current")
    );
    // From a domain no log is trusted for.
    let stranger = User::new("eve@elsewhere.example", 6);
    let (st, v) = submit(&s.app, &envelope(&stranger, &s.bob, "x", 3)).await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "unknown_sender"));
}

#[tokio::test]
async fn refuses_oversize_requests_and_other_domains() {
    let s = setup("size");
    let mut env = envelope(&s.alice, &s.bob, "x", 1);
    env.ciphertext = "A".repeat(100_000);
    let (st, v) = submit(&s.app, &env).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    );
    let req = Request::post("/v1/messages")
        .header("content-type", "application/json")
        .body(Body::from(vec![b' '; 200_000]))
        .unwrap();
    let (st, v) = call(&s.app, req).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    );
    // A message for another domain's user.
    let (st, v) = submit(&s.app, &envelope(&s.bob, &s.alice, "x", 2)).await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "wrong_domain"));
    let req = Request::post("/v1/messages")
        .header("content-type", "application/json")
        .body(Body::from("{\"id\": 1}"))
        .unwrap();
    let (st, v) = call(&s.app, req).await;
    assert_eq!((st, code(&v)), (StatusCode::BAD_REQUEST, "bad_json"));
}

#[tokio::test]
async fn refuses_a_replayed_fetch() {
    let s = setup("replay");
    let req = || signed(&s.bob, "GET", "/v1/messages", vec![], 9, &s.bob.signing);
    assert_eq!(call(&s.app, req()).await.0, StatusCode::OK);
    let (st, v) = call(&s.app, req()).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "replayed_request")
    );
}

#[tokio::test]
async fn refuses_a_fetch_signed_by_another_users_key() {
    let s = setup("otherkey");
    let (st, v) = call(
        &s.app,
        signed(&s.bob, "GET", "/v1/messages", vec![], 1, &s.alice.signing),
    )
    .await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "not_current_key"));
    // And a fetch with no signature at all.
    let (st, v) = call(
        &s.app,
        Request::get("/v1/messages").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "bad_request_signature")
    );
}

#[tokio::test]
async fn refuses_an_ack_whose_body_was_changed() {
    let s = setup("ackbody");
    let signed_body = serde_json::to_vec(&serde_json::json!({"ids": []})).unwrap();
    let mut req = signed(
        &s.bob,
        "POST",
        "/v1/messages/ack",
        signed_body,
        1,
        &s.bob.signing,
    );
    *req.body_mut() = Body::from(
        serde_json::to_vec(&serde_json::json!({"ids": ["AAAAAAAAAAAAAAAAAAAAAA=="]})).unwrap(),
    );
    let (st, v) = call(&s.app, req).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "bad_request_signature")
    );
}

#[tokio::test]
async fn the_policy_decides_on_unauthenticated_senders() {
    let stranger = User::new("eve@elsewhere.example", 6);
    let refused = setup("policy-refuse");
    let (st, v) = submit(&refused.app, &envelope(&stranger, &refused.bob, "x", 1)).await;
    assert_eq!((st, code(&v)), (StatusCode::FORBIDDEN, "unknown_sender"));
    let open = setup_with(
        "policy-allow",
        MailSettings {
            allow_unauthenticated: true,
            ..settings()
        },
        None,
    );
    assert_eq!(
        submit(&open.app, &envelope(&stranger, &open.bob, "x", 1))
            .await
            .0,
        StatusCode::CREATED
    );
    // Still refused: a bad signature, and a known domain's sender with a wrong key.
    let mut forged = envelope(&stranger, &open.bob, "x", 2);
    forged.signature = base64::engine::general_purpose::STANDARD.encode([1u8; 64]);
    assert_eq!(code(&submit(&open.app, &forged).await.1), "bad_signature");
    let impostor = User {
        address: open.alice.address.clone(),
        signing: ed25519_dalek::SigningKey::from_bytes(&[5; 32]),
        x_secret: [0; 32],
    };
    assert_eq!(
        code(
            &submit(&open.app, &envelope(&impostor, &open.bob, "x", 3))
                .await
                .1
        ),
        "sender_key_not_current"
    );
}

/// A log for bob, signed by `log`: bob's entry, then `second` if given,
/// then the map-root entry. Its lookup answer for bob, and its root.
fn bob_log(
    log: &ank_proofs::SignerKey,
    bob: &User,
    second: Option<&[u8]>,
) -> (ank_proofs::api::LookupResponse, ank_proofs::Hash) {
    use ank_proofs::map::{Map, MapValue};
    let entry = ank_proofs::Entry {
        label: bob.address.label(),
        version: 1,
        timestamp_ms: 1,
        authorization: ank_proofs::Authorization::Enrollment,
        key_set: bob.key_set(),
    };
    let leaf = entry.leaf_hash();
    let mut map = Map::new();
    map.insert(
        bob.address.label(),
        MapValue {
            version: 1,
            index: 0,
            entry_hash: leaf,
        },
    );
    let map_root = ank_proofs::MapRootEntry {
        root: map.root(),
        timestamp_ms: 1,
    };
    let mut tree = ank_proofs::TreeBuilder::new();
    let mut stored = tree.push_stored(leaf);
    if let Some(other) = second {
        stored.extend(tree.push_stored(ank_proofs::leaf_hash(other)));
    }
    stored.extend(tree.push_stored(map_root.leaf_hash()));
    let proof = ank_proofs::tree::prove_inclusion_many(&[0, tree.size() - 1], tree.size(), &stored)
        .unwrap();
    let cp = ank_proofs::Checkpoint {
        origin: log.name().to_owned(),
        size: tree.size(),
        root: tree.root(),
        extensions: vec![],
    };
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let answer = ank_proofs::api::LookupResponse {
        address: bob.address.to_string(),
        found: true,
        checkpoint: cp.sign(log).unwrap().to_text(),
        map_root_entry: b64(&map_root.encode()),
        map_proof: b64(&map.prove(&bob.address.label()).encode()),
        binding: Some(ank_proofs::api::BindingJson {
            index: 0,
            version: 1,
            entry: b64(&entry.encode()),
        }),
        inclusion_proof: proof.iter().map(ank_proofs::Hash::to_base64).collect(),
    };
    (answer, tree.root())
}

/// This log, as the mailbox sees it: its key, its roots by size, and its
/// latest signed checkpoint.
struct View(
    ank_proofs::VerifierKey,
    Vec<(u64, ank_proofs::Hash)>,
    String,
);

impl ank_mailbox::api::LogView for View {
    fn vkey(&self) -> &ank_proofs::VerifierKey {
        &self.0
    }
    fn head(&self) -> (u64, ank_proofs::Hash) {
        self.1
            .last()
            .copied()
            .unwrap_or((0, ank_proofs::empty_root()))
    }
    fn root_at(&self, size: u64) -> Option<ank_proofs::Hash> {
        self.1.iter().find(|(s, _)| *s == size).map(|(_, r)| *r)
    }
    fn evidence_against(
        &self,
        other: &ank_proofs::VerifiedCheckpoint,
    ) -> Option<ank_proofs::evidence::Evidence> {
        let ours = ank_proofs::verify_checkpoint(self.2.as_bytes(), &self.0, &[]).ok()?;
        (ours.size() == other.size() && ours.root() != other.root())
            .then(|| ank_proofs::evidence::Evidence::same_size(other, &ours))
    }
}

#[tokio::test]
async fn attached_recipient_proofs_are_checked_and_split_views_kept() {
    let log =
        ank_proofs::SignerKey::from_seed("b.example/ank", ank_proofs::note::ALG_ED25519, [8; 32])
            .unwrap();
    let bob_user = User::new("bob@b.example", 2);
    // This log: bob's entry, then carol's.
    let (good, root1) = bob_log(&log, &bob_user, None);
    let (good2, root2) = bob_log(&log, &bob_user, Some(b"carol's entry"));
    let view = View(
        log.verifier(),
        vec![(2, root1), (3, root2)],
        good2.checkpoint.clone(),
    );
    // An auditor that records what it is sent.
    let auditor = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let auditor_url = format!("http://{}", auditor.local_addr().unwrap());
    let (pushed_tx, pushed) = tokio::sync::oneshot::channel::<String>();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut c, _) = auditor.accept().await.unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        // Headers, then exactly Content-Length bytes of body.
        let body = loop {
            let n = c.read(&mut buf).await.unwrap();
            req.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&req).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap();
                if body.len() >= len {
                    assert!(head.starts_with("POST /v1/evidence "), "{head}");
                    break body[..len].to_owned();
                }
            }
        };
        c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        let _ = pushed_tx.send(body);
    });
    let s = setup_with(
        "proof",
        MailSettings {
            auditors: vec![auditor_url],
            ..settings()
        },
        Some(Arc::new(view)),
    );
    let (app, store, alice, bob) = (&s.app, &s.store, &s.alice, &s.bob);
    let with = |id: u8, proof: ank_proofs::api::LookupResponse| {
        let mut e = envelope(alice, bob, "x", id);
        e.recipient_proof = Some(proof);
        e
    };
    assert_eq!(
        submit(app, &with(1, good.clone())).await.0,
        StatusCode::CREATED
    );
    assert_eq!(submit(app, &with(2, good2)).await.0, StatusCode::CREATED);
    // A proof under another key, or altered, does not verify.
    let other =
        ank_proofs::SignerKey::from_seed("b.example/ank", ank_proofs::note::ALG_ED25519, [9; 32])
            .unwrap();
    let (foreign, _) = bob_log(&other, bob, None);
    assert_eq!(
        code(&submit(app, &with(3, foreign)).await.1),
        "bad_recipient_proof"
    );
    let mut altered = good.clone();
    altered.found = false;
    assert_eq!(
        code(&submit(app, &with(4, altered)).await.1),
        "bad_recipient_proof"
    );
    assert!(store.evidence().unwrap().is_empty());
    // Signed by this log's key, valid in itself, but another history at size 3:
    // a split view, kept as evidence.
    let (forked, _) = bob_log(&log, bob, Some(b"mallory's entry"));
    let (st, v) = submit(app, &with(5, forked.clone())).await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "split_view"));
    let kept = store.evidence().unwrap();
    assert_eq!(kept.len(), 1);
    let e = ank_proofs::evidence::Evidence::parse(&kept[0]).unwrap();
    let v = e.verify(&log.verifier()).unwrap();
    assert_eq!(v.kind, ank_proofs::evidence::EvidenceKind::SameSize);
    assert_eq!(e.notes[0], forked.checkpoint);
    // ... and pushed to the auditor.
    let sent = tokio::time::timeout(std::time::Duration::from_secs(30), pushed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sent, kept[0]);
    // Served to anyone.
    let (st, served) = call(
        app,
        Request::get("/v1/evidence").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(served["evidence"][0], kept[0].as_str());
}

/// A signed fetch captured at one mailbox is refused at another (finding 8):
/// the signature names the mailbox's domain and authority.
#[tokio::test]
async fn a_fetch_signed_for_another_mailbox_is_refused() {
    let s = setup("elsewhere");
    let mut req = signed(&s.bob, "GET", "/v1/messages", vec![], 1, &s.bob.signing);
    // Sent to this mailbox under another name: not one of its authorities.
    req.headers_mut()
        .insert("host", "mail.other.example".parse().unwrap());
    let (st, v) = call(&s.app, req).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::MISDIRECTED_REQUEST, "wrong_mailbox")
    );
    // Signed for another mailbox's authority, replayed here with this one's Host.
    let other = setup_with(
        "elsewhere-2",
        MailSettings {
            authorities: vec!["mail.other.example".into()],
            ..MailSettings::default()
        },
        None,
    );
    let mut req = signed(&s.bob, "GET", "/v1/messages", vec![], 2, &s.bob.signing);
    req.headers_mut()
        .insert("host", "mail.other.example".parse().unwrap());
    let (st, v) = call(&other.app, req).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::UNAUTHORIZED, "bad_request_signature")
    );
}

/// A forger naming alice as the sender does not use up alice's allowance
/// (finding 2): only verified senders are counted per sender.
#[tokio::test]
async fn forged_senders_do_not_lock_out_the_real_one() {
    let s = setup_with(
        "forged-rate",
        MailSettings {
            rate_per_minute: 3,
            ..settings()
        },
        None,
    );
    let mallory = ed25519_dalek::SigningKey::from_bytes(&[66u8; 32]);
    for id in 10..13 {
        // Signed by mallory's key but claiming to be from alice.
        let p = Payload::new(s.alice.address.clone(), s.bob.address.clone(), 1, "x", "y").unwrap();
        let env = Envelope::create(
            &p,
            &x25519_public(&s.bob.x_secret).unwrap(),
            &mallory,
            [id; 16],
        )
        .unwrap();
        let (st, v) = submit(&s.app, &env).await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::FORBIDDEN, "sender_key_not_current")
        );
    }
    // The IP limit is not in play here (the test router has no peer address).
    let (st, v) = submit(&s.app, &envelope(&s.alice, &s.bob, "real", 1)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
}

/// Fetches are limited per address once verified.
#[tokio::test]
async fn fetches_are_rate_limited_per_address() {
    let s = setup_with(
        "fetch-rate",
        MailSettings {
            rate_per_minute: 2,
            ..settings()
        },
        None,
    );
    for n in 1..=2 {
        let (st, _) = call(
            &s.app,
            signed(&s.bob, "GET", "/v1/messages", vec![], n, &s.bob.signing),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
    }
    let (st, v) = call(
        &s.app,
        signed(&s.bob, "GET", "/v1/messages", vec![], 3, &s.bob.signing),
    )
    .await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
}

/// Replaying mail that was delivered and acknowledged is refused (finding 7).
#[tokio::test]
async fn replaying_acknowledged_mail_is_refused() {
    let s = setup("replay-mail");
    let env = envelope(&s.alice, &s.bob, "once", 1);
    assert_eq!(submit(&s.app, &env).await.0, StatusCode::CREATED);
    let body = serde_json::to_vec(&serde_json::json!({"ids": [env.id]})).unwrap();
    let (st, _) = call(
        &s.app,
        signed(&s.bob, "POST", "/v1/messages/ack", body, 1, &s.bob.signing),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = submit(&s.app, &env).await;
    assert_eq!((st, code(&v)), (StatusCode::CONFLICT, "already_delivered"));
}

/// Per-sender quota over the API, and pages with a cursor.
#[tokio::test]
async fn sender_quota_and_pages_over_the_api() {
    let s = setup_with(
        "sender-quota-api",
        MailSettings {
            quota: ank_mailbox::store::Quota {
                sender_messages: 3,
                ..Default::default()
            },
            ..settings()
        },
        None,
    );
    for id in 1..=3 {
        assert_eq!(
            submit(&s.app, &envelope(&s.alice, &s.bob, "m", id)).await.0,
            StatusCode::CREATED
        );
    }
    let (st, v) = submit(&s.app, &envelope(&s.alice, &s.bob, "m", 4)).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::TOO_MANY_REQUESTS, "sender_quota_exceeded")
    );
    let (st, v) = call(
        &s.app,
        signed(
            &s.bob,
            "GET",
            "/v1/messages?limit=2",
            vec![],
            1,
            &s.bob.signing,
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["messages"].as_array().unwrap().len(), 2);
    let next = v["next"].as_str().unwrap().to_owned();
    let path = format!("/v1/messages?limit=2&after={next}");
    let (st, v) = call(
        &s.app,
        signed(&s.bob, "GET", &path, vec![], 2, &s.bob.signing),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["messages"].as_array().unwrap().len(), 1);
    assert!(v["next"].is_null());
    for (n, bad) in (3..).zip([
        "/v1/messages?limit=0",
        "/v1/messages?limit=1001",
        "/v1/messages?after=zz",
        "/v1/messages?x=1",
    ]) {
        let (st, v) = call(
            &s.app,
            signed(&s.bob, "GET", bad, vec![], n, &s.bob.signing),
        )
        .await;
        assert_eq!(
            (st, code(&v)),
            (StatusCode::BAD_REQUEST, "bad_query"),
            "{bad}"
        );
    }
}

/// Finding 11 over the API: past the server's byte cap, new mail is refused
/// with 507 mailbox_full, and the recipient can still fetch and acknowledge.
#[tokio::test]
async fn a_full_server_refuses_mail_with_507_and_still_drains() {
    let first = envelope(
        &User::new("alice@a.example", 1),
        &User::new("bob@b.example", 2),
        "1",
        1,
    );
    let size = serde_json::to_vec(&first).unwrap().len() as u64;
    let s = setup_with(
        "full",
        MailSettings {
            quota: ank_mailbox::store::Quota {
                total_bytes: size + 100,
                ..Default::default()
            },
            ..settings()
        },
        None,
    );
    assert_eq!(submit(&s.app, &first).await.0, StatusCode::CREATED);
    let (st, v) = submit(&s.app, &envelope(&s.alice, &s.bob, "2", 2)).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::INSUFFICIENT_STORAGE, "mailbox_full")
    );
    let (st, v) = call(
        &s.app,
        signed(&s.bob, "GET", "/v1/messages", vec![], 1, &s.bob.signing),
    )
    .await;
    assert_eq!(
        (st, v["messages"].as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );
    let body = serde_json::to_vec(&serde_json::json!({"ids": [first.id]})).unwrap();
    let (st, v) = call(
        &s.app,
        signed(&s.bob, "POST", "/v1/messages/ack", body, 2, &s.bob.signing),
    )
    .await;
    assert_eq!((st, v["deleted"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(
        submit(&s.app, &envelope(&s.alice, &s.bob, "2", 2)).await.0,
        StatusCode::CREATED
    );
}

/// Finding 16's other half: when a trusted sender log's checkpoint cannot be
/// fetched, its cached answers are not used and mail is refused (fail closed).
#[tokio::test]
async fn an_unreachable_sender_log_fails_closed() {
    let s = setup("unreachable");
    // A closed port stands for the sender's log.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", dead.local_addr().unwrap());
    drop(dead);
    let a_log =
        ank_proofs::SignerKey::from_seed("a.example/ank", ank_proofs::note::ALG_ED25519, [3; 32])
            .unwrap();
    let remote = ank_mailbox::directory::HttpDirectory::new(
        vec![ank_client::home::TrustedLog {
            domain: "a.example".into(),
            url,
            vkey: a_log.verifier(),
            witnesses: None,
            tls_pin: None,
            ssh: None,
        }],
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(1),
    );
    let resolver = Resolver {
        domain: "b.example".into(),
        local: s.keys.clone(),
        remote: Arc::new(remote),
    };
    let app = router(MailState::new(
        Arc::clone(&s.store),
        Arc::new(resolver),
        settings(),
    ));
    let (st, v) = submit(&app, &envelope(&s.alice, &s.bob, "x", 1)).await;
    assert_eq!(
        (st, code(&v)),
        (StatusCode::SERVICE_UNAVAILABLE, "sender_log_unavailable"),
        "{v}"
    );
}
