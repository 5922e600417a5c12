//! The HTTP API as a function (`router(state)` driven with `oneshot`).

use std::sync::Arc;
use std::time::Duration;

use ank_common::now_ms;
use ank_log_server::Log;
use ank_log_server::api::{AppState, router};
use ank_log_server::sequencer::{Settings, channel, start};
use ank_proofs::api::{LookupResponse, ProofResponse, PublishResponse, verify_lookup};
use ank_proofs::{Address, Device, Hash, KeySet, TlogProof};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer as _;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::common::TempDir;

struct TestLog {
    dir: TempDir,
    log: Arc<Log>,
    app: Router,
}

fn start_log(tag: &str) -> TestLog {
    let dir = TempDir::new(tag);
    let (log, tree, _) = Log::open(&dir.0.join("data"), "example.org/ank").unwrap();
    let settings = Settings {
        interval: Duration::from_millis(5),
        ..Settings::default()
    };
    let (queue, _seq) = start(Arc::clone(&log), tree, settings).unwrap();
    let app = router(AppState::new(Arc::clone(&log), queue).unwrap());
    TestLog { dir, log, app }
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    ctype: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>, Option<String>) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(c) = ctype {
        req = req.header("content-type", c);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, bytes, retry)
}

async fn post_json(app: &Router, body: &Value) -> (StatusCode, Value) {
    let (s, b, _) = call(
        app,
        "POST",
        "/v1/publish",
        Some("application/json"),
        body.to_string().into_bytes(),
    )
    .await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

struct User {
    address: Address,
    signing: ed25519_dalek::SigningKey,
    device: Device,
}

fn user(addr: &str, seed: u8) -> User {
    let signing = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let device = Device {
        name: "laptop".into(),
        signing_key: signing.verifying_key().to_bytes(),
        encryption_key: [seed; 32],
    };
    User {
        address: Address::parse(addr).unwrap(),
        signing,
        device,
    }
}

fn devices_json(ks: &KeySet) -> Value {
    serde_json::to_value(ank_proofs::api::key_set_to_json(ks)).unwrap()
}

fn enroll(log: &Log, address: &Address, ttl_ms: i64) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let token = format!("token-{n}-for-{address}");
    let expires = (now_ms() as i64 + ttl_ms) as u64;
    log.store
        .put_token(
            &ank_proofs::hash::sha256(token.as_bytes()),
            &address.label(),
            expires,
        )
        .unwrap();
    token
}

/// Adds proofs of possession to a publish body, for every device key made
/// by [`user`] (a seed repeated 32 times).
fn prove(mut body: Value) -> Value {
    let address = Address::parse(body["address"].as_str().unwrap()).unwrap();
    let version = body["version"].as_u64().unwrap();
    let devices: Vec<ank_proofs::api::DeviceJson> =
        serde_json::from_value(body["devices"].clone()).unwrap();
    let ks = ank_proofs::api::key_set_from_json(&devices).unwrap();
    let msg = ank_proofs::api::publish_message(&address.label(), version, &ks.hash());
    let proofs: Vec<Value> = ks
        .devices()
        .iter()
        .filter_map(|d| {
            (0..=255u8)
                .map(|s| ed25519_dalek::SigningKey::from_bytes(&[s; 32]))
                .find(|k| k.verifying_key().to_bytes() == d.signing_key)
        })
        .map(|k| {
            json!({"public_key": STANDARD.encode(k.verifying_key().to_bytes()),
                   "signature": STANDARD.encode(k.sign(&msg).to_bytes())})
        })
        .collect();
    body["possession"] = json!(proofs);
    body
}

fn signed(u: &User, version: u64, ks: &KeySet, signer: &ed25519_dalek::SigningKey) -> Value {
    let msg = ank_proofs::api::publish_message(&u.address.label(), version, &ks.hash());
    prove(json!({
        "address": u.address.to_string(),
        "version": version,
        "devices": devices_json(ks),
        "signature": {
            "public_key": STANDARD.encode(signer.verifying_key().to_bytes()),
            "signature": STANDARD.encode(signer.sign(&msg).to_bytes()),
        },
    }))
}

async fn register(t: &TestLog, u: &User) -> PublishResponse {
    let token = enroll(&t.log, &u.address, 60_000);
    let ks = KeySet::new(vec![u.device.clone()]).unwrap();
    let (s, v) = post_json(&t.app, &prove(json!({"address": u.address.to_string(), "version": 1, "devices": devices_json(&ks), "token": token}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    serde_json::from_value(v).unwrap()
}

/// Every row of every table, for "nothing changed" checks.
fn snapshot(t: &TestLog) -> String {
    let c = rusqlite::Connection::open(t.dir.0.join("data/log.sqlite")).unwrap();
    let mut out = String::new();
    for table in [
        "meta",
        "entries",
        "hashes",
        "bindings",
        "checkpoint",
        "tokens",
        "operator_requests",
    ] {
        let mut st = c
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
            .unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap();
        for row in rows {
            out.push_str(&format!("{table}: {}\n", row.unwrap()));
        }
    }
    out
}

#[tokio::test]
async fn publish_rotate_lookup_and_proofs() {
    let t = start_log("happy");
    let alice = user("alice@example.org", 1);
    let r1 = register(&t, &alice).await;
    // Entry 0 is the empty map's root; each batch ends with a map root.
    assert_eq!(r1.index, 1);
    let vkey = t.log.vkey.clone();
    let entry = ank_proofs::Entry::decode(&STANDARD.decode(&r1.entry).unwrap()).unwrap();
    let cp1 = TlogProof::parse(&r1.tlog_proof)
        .unwrap()
        .verify(&entry.leaf_hash(), &vkey, &[])
        .unwrap();
    assert_eq!(cp1.size(), 3);

    // Rotation, signed by the current key, for version 2.
    let new = user("alice@example.org", 2);
    let ks2 = KeySet::new(vec![new.device.clone()]).unwrap();
    let (s, v) = post_json(&t.app, &signed(&alice, 2, &ks2, &alice.signing)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The same request again is answered the same way, not logged twice.
    let (s, again) = post_json(&t.app, &signed(&alice, 2, &ks2, &alice.signing)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["index"], v["index"]);
    assert_eq!(t.log.latest().size, 5);

    let (s, body, _) = call(&t.app, "GET", "/v1/lookup/Alice!example.org", None, vec![]).await;
    assert_eq!(s, StatusCode::OK);
    let lookup: LookupResponse = serde_json::from_slice(&body).unwrap();
    let verified = verify_lookup(&lookup, &alice.address, &vkey).unwrap();
    let (index, e) = verified.binding().unwrap();
    assert_eq!((index, e.version, &e.key_set), (3, 2, &ks2));

    // An address never bound: 200, found false, and the map proves the absence.
    let (s, body, _) = call(&t.app, "GET", "/v1/lookup/nobody@example.org", None, vec![]).await;
    assert_eq!(s, StatusCode::OK);
    let absent: LookupResponse = serde_json::from_slice(&body).unwrap();
    let nobody = Address::parse("nobody@example.org").unwrap();
    assert!(
        verify_lookup(&absent, &nobody, &vkey)
            .unwrap()
            .binding()
            .is_none()
    );
    // Claiming alice is absent with nobody's proof does not verify.
    let mut lie = absent.clone();
    lie.address = "alice@example.org".into();
    assert!(verify_lookup(&lie, &alice.address, &vkey).is_err());

    // A tampered key set in the answer's entry is caught by the client.
    let mut forged = lookup.clone();
    let mut e2 = e.clone();
    e2.key_set = KeySet::new(vec![alice.device.clone()]).unwrap();
    forged.binding.as_mut().unwrap().entry = STANDARD.encode(e2.encode());
    assert_eq!(
        verify_lookup(&forged, &alice.address, &vkey).unwrap_err(),
        ank_proofs::Error::LookupMismatch { field: "entry" }
    );

    // Consistency from the first checkpoint to the latest, as JSON.
    let (s, body, _) = call(
        &t.app,
        "GET",
        "/v1/proof/consistency?from=3&to=5",
        None,
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let p: ProofResponse = serde_json::from_slice(&body).unwrap();
    let proof: Vec<Hash> = p
        .proof
        .iter()
        .map(|h| Hash::from_base64(h).unwrap())
        .collect();
    let latest = ank_proofs::verify_checkpoint(t.log.latest().note.as_bytes(), &vkey, &[]).unwrap();
    ank_proofs::verify_consistency(3, 5, &proof, cp1.root(), latest.root()).unwrap();
    let (s, body, _) = call(&t.app, "GET", "/v1/proof/inclusion?index=0", None, vec![]).await;
    assert_eq!(s, StatusCode::OK);
    let p: ProofResponse = serde_json::from_slice(&body).unwrap();
    assert_eq!((p.from, p.size), (0, 5));

    // Tiles and bundles as C2SP lays them out, with caching headers.
    let resp = t
        .app
        .clone()
        .oneshot(Request::get("/tile/0/000.p/5").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "public, max-age=1");
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    let tile = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(tile.len(), 5 * 32);
    let (s, bundle, _) = call(&t.app, "GET", "/tile/entries/000.p/5", None, vec![]).await;
    assert_eq!(s, StatusCode::OK);
    let entries = ank_proofs::tile::decode_entry_bundle(&bundle, 5).unwrap();
    // Genesis, a binding, its map root, a binding, its map root: all replay.
    let mut replay = ank_proofs::map::Replay::new();
    for e in &entries {
        replay.push(e).unwrap();
    }
    replay.check_end().unwrap();
    assert_eq!((replay.bindings(), replay.map_roots()), (2, 3));
    let leaves: Vec<Hash> = entries.iter().map(|e| ank_proofs::leaf_hash(e)).collect();
    assert_eq!(tile.to_vec(), ank_proofs::tile::tile_data(&leaves));
    let (s, cp_text, _) = call(&t.app, "GET", "/checkpoint", None, vec![]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(String::from_utf8(cp_text).unwrap(), t.log.latest().note);
    let (s, m, _) = call(&t.app, "GET", "/metrics", None, vec![]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8(m).unwrap().contains("ank_log_size 5\n"));
}

/// method, path, content type, body, expected status, expected error code.
type Case<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Vec<u8>,
    StatusCode,
    &'a str,
);

#[tokio::test]
async fn bad_requests_are_refused_and_change_nothing() {
    let t = start_log("bad");
    let alice = user("alice@example.org", 1);
    let carol = user("carol@example.org", 3);
    register(&t, &alice).await;
    register(&t, &carol).await;
    let (s, v) = post_json(&t.app, &signed(&carol, 2, &KeySet::empty(), &carol.signing)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let bob = user("bob@example.org", 4);
    let bob_ks = KeySet::new(vec![bob.device.clone()]).unwrap();
    let bob_token = enroll(&t.log, &bob.address, 60_000);
    let expired = enroll(&t.log, &bob.address, -1);
    let alice_token_for_bob = enroll(&t.log, &alice.address, 60_000);
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let alice_next = KeySet::new(vec![user("alice@example.org", 5).device]).unwrap();
    let before = snapshot(&t);

    let bob_json = |v: Value| {
        let mut base = prove(
            json!({"address": "bob@example.org", "version": 1, "devices": devices_json(&bob_ks), "token": bob_token}),
        );
        for (k, val) in v.as_object().unwrap() {
            base[k] = val.clone();
        }
        base
    };
    let mut dup = devices_json(&bob_ks);
    let first = dup[0].clone();
    dup.as_array_mut().unwrap().push(first);
    let seventeen: Vec<Value> = (0..17).map(|i| json!({"name": format!("d{i}"), "ed25519": STANDARD.encode(ed25519_dalek::SigningKey::from_bytes(&[i; 32]).verifying_key().to_bytes()), "x25519": STANDARD.encode([i; 32])})).collect();
    let off_curve = (2u8..=255)
        .map(|b| {
            let mut k = [0u8; 32];
            k[0] = b;
            k
        })
        .find(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_err())
        .unwrap();
    let weak_x = json!([{"name": "laptop", "ed25519": STANDARD.encode(bob.device.signing_key), "x25519": STANDARD.encode([0u8; 32])}]);
    let small_order_ed = json!([{"name": "laptop", "ed25519": STANDARD.encode(curve25519_dalek::constants::EIGHT_TORSION[1].compress().to_bytes()), "x25519": STANDARD.encode([7u8; 32])}]);
    let wrong_possession = json!([{"public_key": STANDARD.encode(bob.device.signing_key),
        "signature": STANDARD.encode(bob.signing.sign(b"some other message").to_bytes())}]);
    let stranger_possession = json!([{"public_key": STANDARD.encode(stranger.verifying_key().to_bytes()),
        "signature": STANDARD.encode(stranger.sign(b"x").to_bytes())}]);
    // Alice binding a key she does not hold (bob's) is refused: no proof of possession.
    let alice_takes_bobs_key = {
        let stolen = KeySet::new(vec![Device {
            name: "laptop".into(),
            ..bob.device.clone()
        }])
        .unwrap();
        let mut body = signed(&alice, 2, &stolen, &alice.signing);
        body["possession"] = json!([]);
        body
    };
    let mut wrong_version_sig = signed(&alice, 2, &alice_next, &alice.signing);
    wrong_version_sig["signature"] =
        signed(&alice, 3, &alice_next, &alice.signing)["signature"].clone();
    let mut sig_not_b64 = signed(&alice, 2, &alice_next, &alice.signing);
    sig_not_b64["signature"]["signature"] = json!("***");
    let mut short_pk = signed(&alice, 2, &alice_next, &alice.signing);
    short_pk["signature"]["public_key"] = json!(STANDARD.encode([1u8; 31]));
    let mut no_sig = signed(&alice, 2, &alice_next, &alice.signing);
    no_sig.as_object_mut().unwrap().remove("signature");

    let j = |v: Value| v.to_string().into_bytes();
    let json_ct = Some("application/json");
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/v1/publish",
            None,
            j(bob_json(json!({}))),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/v1/publish",
            Some("text/plain"),
            j(bob_json(json!({}))),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            b"not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            b"{}".to_vec(),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            b"[1,2]".to_vec(),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"extra": 1}))),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"version": "1"}))),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"version": -1}))),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"devices": [{"name": "x"}]}))),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            vec![b' '; 70_000],
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"address": "bob"}))),
            StatusCode::BAD_REQUEST,
            "bad_address",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"address": "bob@example.org!x"}))),
            StatusCode::BAD_REQUEST,
            "bad_address",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"address": ""}))),
            StatusCode::BAD_REQUEST,
            "bad_address",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"address": "b ob@example.org"}))),
            StatusCode::BAD_REQUEST,
            "bad_address",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"address": "bob@exa_mple.org"}))),
            StatusCode::BAD_REQUEST,
            "bad_address",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"version": 0}))),
            StatusCode::BAD_REQUEST,
            "bad_version",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"version": 1u64 << 63}))),
            StatusCode::BAD_REQUEST,
            "bad_version",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(
                json!({"devices": [{"name": "x", "ed25519": "!!", "x25519": STANDARD.encode([1u8; 32])}]}),
            )),
            StatusCode::BAD_REQUEST,
            "bad_keys",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(
                json!({"devices": [{"name": "x", "ed25519": STANDARD.encode([1u8; 31]), "x25519": STANDARD.encode([1u8; 32])}]}),
            )),
            StatusCode::BAD_REQUEST,
            "bad_keys",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(
                json!({"devices": [{"name": "a b", "ed25519": STANDARD.encode(bob.device.signing_key), "x25519": STANDARD.encode([1u8; 32])}]}),
            )),
            StatusCode::BAD_REQUEST,
            "bad_keys",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"devices": dup}))),
            StatusCode::BAD_REQUEST,
            "bad_keys",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"devices": seventeen}))),
            StatusCode::BAD_REQUEST,
            "bad_keys",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(
                json!({"devices": [{"name": "x", "ed25519": STANDARD.encode(off_curve), "x25519": STANDARD.encode([1u8; 32])}]}),
            )),
            StatusCode::BAD_REQUEST,
            "bad_keys",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(
                json!({"address": "bob@example.org", "version": 1, "devices": devices_json(&bob_ks)}),
            ),
            StatusCode::UNAUTHORIZED,
            "missing_token",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"token": "no-such-token"}))),
            StatusCode::FORBIDDEN,
            "unknown_token",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"token": alice_token_for_bob}))),
            StatusCode::FORBIDDEN,
            "unknown_token",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"token": expired}))),
            StatusCode::FORBIDDEN,
            "expired_token",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"version": 2}))),
            StatusCode::CONFLICT,
            "stale_version",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(signed(&alice, 3, &alice_next, &alice.signing)),
            StatusCode::CONFLICT,
            "stale_version",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(
                json!({"address": "alice@example.org", "version": 1, "devices": devices_json(&alice_next), "token": "x"}),
            ),
            StatusCode::CONFLICT,
            "stale_version",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(no_sig),
            StatusCode::UNAUTHORIZED,
            "missing_signature",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(signed(&alice, 2, &alice_next, &stranger)),
            StatusCode::FORBIDDEN,
            "unknown_key",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(wrong_version_sig),
            StatusCode::FORBIDDEN,
            "bad_signature",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(sig_not_b64),
            StatusCode::BAD_REQUEST,
            "bad_signature",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(short_pk),
            StatusCode::BAD_REQUEST,
            "bad_signature",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(signed(
                &carol,
                3,
                &KeySet::new(vec![carol.device.clone()]).unwrap(),
                &carol.signing,
            )),
            StatusCode::FORBIDDEN,
            "revoked",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"address": "carol@other.test"}))),
            StatusCode::BAD_REQUEST,
            "wrong_domain",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"possession": []}))),
            StatusCode::FORBIDDEN,
            "missing_possession",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(alice_takes_bobs_key),
            StatusCode::FORBIDDEN,
            "missing_possession",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"possession": wrong_possession}))),
            StatusCode::FORBIDDEN,
            "bad_possession",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"possession": stranger_possession}))),
            StatusCode::FORBIDDEN,
            "bad_possession",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"devices": weak_x}))),
            StatusCode::BAD_REQUEST,
            "bad_keys",
        ),
        (
            "POST",
            "/v1/publish",
            json_ct,
            j(bob_json(json!({"devices": small_order_ed}))),
            StatusCode::BAD_REQUEST,
            "bad_keys",
        ),
        (
            "GET",
            "/v1/lookup/not-an-address",
            None,
            vec![],
            StatusCode::BAD_REQUEST,
            "bad_address",
        ),
        (
            "GET",
            "/tile/0/0001",
            None,
            vec![],
            StatusCode::BAD_REQUEST,
            "bad_tile_path",
        ),
        (
            "GET",
            "/tile/0/000.p/0",
            None,
            vec![],
            StatusCode::BAD_REQUEST,
            "bad_tile_path",
        ),
        (
            "GET",
            "/tile/64/000",
            None,
            vec![],
            StatusCode::BAD_REQUEST,
            "bad_tile_path",
        ),
        (
            "GET",
            "/tile/0/000",
            None,
            vec![],
            StatusCode::NOT_FOUND,
            "tile_not_found",
        ),
        (
            "GET",
            "/tile/0/000.p/9",
            None,
            vec![],
            StatusCode::NOT_FOUND,
            "tile_not_found",
        ),
        (
            "GET",
            "/tile/1/000.p/1",
            None,
            vec![],
            StatusCode::NOT_FOUND,
            "tile_not_found",
        ),
        (
            "GET",
            "/tile/0/x072/x057/x594/x037/x927/935",
            None,
            vec![],
            StatusCode::NOT_FOUND,
            "tile_not_found",
        ),
        (
            "GET",
            "/tile/entries/x072/x057/x594/x037/x927/935.p/255",
            None,
            vec![],
            StatusCode::NOT_FOUND,
            "tile_not_found",
        ),
        (
            "GET",
            "/tile/entries/001.p/1",
            None,
            vec![],
            StatusCode::NOT_FOUND,
            "tile_not_found",
        ),
        (
            "GET",
            "/v1/proof/inclusion?index=abc",
            None,
            vec![],
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            "GET",
            "/v1/proof/inclusion",
            None,
            vec![],
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            "GET",
            "/v1/proof/inclusion?index=3&size=2",
            None,
            vec![],
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            "GET",
            "/v1/proof/inclusion?index=0&size=99",
            None,
            vec![],
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            "GET",
            "/v1/proof/consistency?from=0",
            None,
            vec![],
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            "GET",
            "/v1/proof/consistency?from=3&to=2",
            None,
            vec![],
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            "GET",
            "/nope",
            None,
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    assert!(cases.len() >= 30);
    for (method, path, ct, body, status, code) in cases {
        let (s, b, _) = call(&t.app, method, path, ct, body.clone()).await;
        let v: Value = serde_json::from_slice(&b).unwrap_or_else(|_| {
            panic!("{method} {path}: not JSON: {}", String::from_utf8_lossy(&b))
        });
        assert_eq!(
            (s, v["error"].as_str().unwrap_or("")),
            (status, code),
            "{method} {path} {}: {v}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        );
        assert!(
            !v["message"].as_str().unwrap_or("").is_empty(),
            "{path}: empty message"
        );
    }
    assert_eq!(
        snapshot(&t),
        before,
        "a refused request changed the database"
    );
}

#[tokio::test]
async fn full_queue_is_503_with_retry_after() {
    let dir = TempDir::new("full");
    let (log, _, _) = Log::open(&dir.0.join("data"), "example.org/ank").unwrap();
    let (queue, _rx) = channel(0);
    let app = router(AppState::new(Arc::clone(&log), queue).unwrap());
    let t = TestLog { dir, log, app };
    let bob = user("bob@example.org", 4);
    let token = enroll(&t.log, &bob.address, 60_000);
    let before = snapshot(&t);
    let ks = KeySet::new(vec![bob.device.clone()]).unwrap();
    let body = prove(
        json!({"address": "bob@example.org", "version": 1, "devices": devices_json(&ks), "token": token}),
    );
    let (s, b, retry) = call(
        &t.app,
        "POST",
        "/v1/publish",
        Some("application/json"),
        body.to_string().into_bytes(),
    )
    .await;
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(
        (s, v["error"].as_str().unwrap()),
        (StatusCode::SERVICE_UNAVAILABLE, "queue_full")
    );
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(snapshot(&t), before);
}

struct ServedTiles(std::collections::HashMap<(u8, u64, u32), Vec<u8>>);

impl tlog_tiles::TileReader for ServedTiles {
    fn height(&self) -> u8 {
        8
    }
    fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        Ok(tiles
            .iter()
            .map(|t| self.0[&(t.level(), t.level_index(), t.width())].clone())
            .collect())
    }
    fn save_tiles(&self, _: &[tlog_tiles::Tile], _: &[Vec<u8>]) {}
}

/// What the server serves is checked by independent C2SP code: the checkpoint
/// by cloudflare/azul's signed_note, every record proof by tlog_tiles reading
/// our tiles (its TileHashReader authenticates each tile against the root).
#[tokio::test]
async fn independent_client_verifies_the_served_log() {
    let t = start_log("indep");
    let mut handles = Vec::new();
    for i in 0..300u32 {
        let app = t.app.clone();
        let u = user(&format!("user{i}@example.org"), (i % 250) as u8 + 1);
        let token = enroll(&t.log, &u.address, 60_000);
        let ks = KeySet::new(vec![u.device.clone()]).unwrap();
        let body = prove(
            json!({"address": u.address.to_string(), "version": 1, "devices": devices_json(&ks), "token": token}),
        );
        handles.push(tokio::spawn(async move { post_json(&app, &body).await.0 }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), StatusCode::OK);
    }
    let (_, note, _) = call(&t.app, "GET", "/checkpoint", None, vec![]).await;
    let verifier = signed_note::StandardVerifier::new(&t.log.vkey.to_text()).unwrap();
    let opened = signed_note::Note::from_bytes(&note).unwrap();
    let (verified, _) = opened
        .verify(&signed_note::VerifierList::new(vec![Box::new(verifier)]))
        .unwrap();
    assert_eq!(verified.len(), 1);
    let text = String::from_utf8(opened.text().to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "example.org/ank");
    let size: u64 = lines[1].parse().unwrap();
    // 300 bindings, the genesis map root, and one map root per batch (how
    // many batches depends on timing).
    assert!((302..=601).contains(&size), "{size}");
    let root: [u8; 32] = STANDARD.decode(lines[2]).unwrap().try_into().unwrap();

    let mut served = std::collections::HashMap::new();
    for tile in ank_proofs::tile::tiles_for_size(size) {
        let (s, data, _) = call(&t.app, "GET", &format!("/{}", tile.path()), None, vec![]).await;
        assert_eq!(s, StatusCode::OK, "{}", tile.path());
        let ank_proofs::tile::TileKind::Hashes { level } = tile.kind else {
            unreachable!()
        };
        served.insert((level, tile.index, u32::from(tile.width)), data);
    }
    let mut entries = Vec::new();
    for b in ank_proofs::tile::entry_bundles_for_size(size) {
        let (s, data, _) = call(&t.app, "GET", &format!("/{}", b.path()), None, vec![]).await;
        assert_eq!(s, StatusCode::OK);
        entries.extend(
            ank_proofs::tile::decode_entry_bundle(&data, usize::from(b.width))
                .unwrap()
                .into_iter()
                .map(<[u8]>::to_vec),
        );
    }
    let reader = ServedTiles(served);
    let thr = tlog_tiles::TileHashReader::new(size, tlog_tiles::Hash(root), &reader);
    assert_eq!(tlog_tiles::tree_hash(size, &thr).unwrap().0, root);
    let mut replay = ank_proofs::map::Replay::new();
    for e in &entries {
        replay.push(e).unwrap();
    }
    replay.check_end().unwrap();
    assert_eq!(replay.bindings(), 300);
    for i in [0u64, 1, 17, 255, 256, 299, size - 1] {
        let proof = tlog_tiles::prove_record(size, i, &thr).unwrap();
        tlog_tiles::check_record(
            &proof,
            size,
            tlog_tiles::Hash(root),
            i,
            tlog_tiles::record_hash(&entries[i as usize]),
        )
        .unwrap();
    }
}

/// Answers cannot be stitched together: another label's map proof, another
/// address's binding, or an absence claim for a bound address all fail.
#[tokio::test]
async fn lookup_answers_cannot_be_mixed() {
    let t = start_log("mixed");
    let vkey = t.log.vkey.clone();
    let users: Vec<User> = (0..6)
        .map(|i| user(&format!("m{i}@example.org"), 40 + i))
        .collect();
    for u in &users {
        register(&t, u).await;
    }
    let mut answers = Vec::new();
    for u in &users {
        let (s, body, _) = call(
            &t.app,
            "GET",
            &format!("/v1/lookup/{}", u.address),
            None,
            vec![],
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let a: LookupResponse = serde_json::from_slice(&body).unwrap();
        verify_lookup(&a, &u.address, &vkey).unwrap();
        answers.push(a);
    }
    for i in 0..users.len() {
        for j in 0..users.len() {
            if i == j {
                continue;
            }
            let mut proof_swapped = answers[i].clone();
            proof_swapped.map_proof = answers[j].map_proof.clone();
            assert!(
                verify_lookup(&proof_swapped, &users[i].address, &vkey).is_err(),
                "{i} with {j}'s map proof"
            );
            let mut binding_swapped = answers[i].clone();
            binding_swapped.binding = answers[j].binding.clone();
            assert!(
                verify_lookup(&binding_swapped, &users[i].address, &vkey).is_err(),
                "{i} with {j}'s binding"
            );
        }
        let mut denied = answers[i].clone();
        denied.found = false;
        denied.binding = None;
        assert_eq!(
            verify_lookup(&denied, &users[i].address, &vkey).unwrap_err(),
            ank_proofs::Error::LookupMismatch { field: "found" }
        );
    }
}

/// Finding 12: a stored entry is checked against the tree before its key
/// set authorises anything. A row swapped for one with mallory's key set
/// does not let mallory sign alice's next binding.
#[tokio::test]
async fn a_tampered_stored_key_set_authorises_nothing() {
    let t = start_log("tampered-keys");
    let alice = user("alice@example.org", 1);
    let r = register(&t, &alice).await;
    let mallory = user("alice@example.org", 77);
    let mut forged = ank_proofs::Entry::decode(&STANDARD.decode(&r.entry).unwrap()).unwrap();
    forged.key_set = KeySet::new(vec![mallory.device.clone()]).unwrap();
    let c = rusqlite::Connection::open(t.dir.0.join("data/log.sqlite")).unwrap();
    c.execute(
        "UPDATE entries SET entry = ?1 WHERE idx = ?2",
        rusqlite::params![forged.encode(), r.index as i64],
    )
    .unwrap();
    let next = KeySet::new(vec![user("alice@example.org", 78).device]).unwrap();
    let (s, v) = post_json(&t.app, &signed(&mallory, 2, &next, &mallory.signing)).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some("internal")),
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("does not match the tree's leaf hash"),
        "{v}"
    );
}
