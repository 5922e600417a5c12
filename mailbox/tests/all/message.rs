use ank_mailbox::{
    MAX_BODY, MAX_SUBJECT, MailError, Payload, hpke_open_raw, open, seal, x25519_public,
};
use ank_proofs::Address;

fn h32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// RFC 9180 A.2.1 (Base) and A.2.3 (Auth) for ank's suite, from test-vectors/.
#[test]
fn rfc9180_vectors_open() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/hpke-rfc9180.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let vectors = v["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    for t in vectors {
        let s = |k: &str| hex::decode(t[k].as_str().unwrap()).unwrap();
        let sk_r = h32(t["skRm"].as_str().unwrap());
        assert_eq!(
            x25519_public(&sk_r).unwrap(),
            h32(t["pkRm"].as_str().unwrap())
        );
        // enc is the ephemeral public key.
        let enc = x25519_public(&h32(t["skEm"].as_str().unwrap())).unwrap();
        if let Some(pk_em) = t.get("pkEm") {
            assert_eq!(enc, h32(pk_em.as_str().unwrap()));
        }
        let sender = t.get("skSm").map(|sk| {
            let pk = x25519_public(&h32(sk.as_str().unwrap())).unwrap();
            assert_eq!(pk, h32(t["pkSm"].as_str().unwrap()));
            pk
        });
        let (info, aad, ct, pt) = (s("info"), s("aad"), s("ct"), s("pt"));
        assert_eq!(
            hpke_open_raw(&sk_r, sender.as_ref(), &enc, &info, &aad, &ct).unwrap(),
            pt,
            "{}",
            t["section"]
        );
        // Every change is refused.
        let mut bad = ct.clone();
        bad[3] ^= 1;
        assert_eq!(
            hpke_open_raw(&sk_r, sender.as_ref(), &enc, &info, &aad, &bad),
            Err(MailError::Decrypt)
        );
        assert_eq!(
            hpke_open_raw(&sk_r, sender.as_ref(), &enc, &info, b"Count-1", &ct),
            Err(MailError::Decrypt)
        );
        assert_eq!(
            hpke_open_raw(&sk_r, sender.as_ref(), &enc, b"other info", &aad, &ct),
            Err(MailError::Decrypt)
        );
        let other_mode = if sender.is_some() { None } else { Some(&enc) };
        assert_eq!(
            hpke_open_raw(&sk_r, other_mode, &enc, &info, &aad, &ct),
            Err(MailError::Decrypt)
        );
    }
}

fn addr(s: &str) -> Address {
    Address::parse(s).unwrap()
}

#[test]
fn seal_and_open_bind_recipient_key_and_id() {
    let secret = [7u8; 32];
    let key = x25519_public(&secret).unwrap();
    let p = Payload::new(
        addr("alice@a.example"),
        addr("bob@b.example"),
        1_700_000_000_000,
        "Hello",
        "Plain text.\nhttps://example.org stays text.\n",
    )
    .unwrap();
    let id = [1u8; 16];
    let (enc, ct) = seal(&p, &key, &id).unwrap();
    assert_eq!(
        open(&addr("bob!b.example"), &secret, &enc, &ct, &id).unwrap(),
        p
    );
    // Another id, another recipient address, another key: all refused.
    assert_eq!(
        open(&addr("bob@b.example"), &secret, &enc, &ct, &[2u8; 16]),
        Err(MailError::Decrypt)
    );
    assert_eq!(
        open(&addr("carol@b.example"), &secret, &enc, &ct, &id),
        Err(MailError::Decrypt)
    );
    assert_eq!(
        open(&addr("bob@b.example"), &[8u8; 32], &enc, &ct, &id),
        Err(MailError::Decrypt)
    );
    let mut bad = ct.clone();
    bad[0] ^= 1;
    assert_eq!(
        open(&addr("bob@b.example"), &secret, &enc, &bad, &id),
        Err(MailError::Decrypt)
    );
    // The ciphertext reveals nothing of the subject or body.
    assert!(!ct.windows(5).any(|w| w == b"Hello"));
}

#[test]
fn payload_limits_and_format_errors() {
    let (a, b) = (addr("alice@a.example"), addr("bob@b.example"));
    let ok = Payload::new(
        a.clone(),
        b.clone(),
        5,
        &"s".repeat(MAX_SUBJECT),
        &"b".repeat(MAX_BODY),
    )
    .unwrap();
    assert_eq!(Payload::decode(&ok.encode()).unwrap(), ok);
    assert_eq!(
        Payload::new(a.clone(), b.clone(), 5, &"s".repeat(MAX_SUBJECT + 1), ""),
        Err(MailError::SubjectTooLong {
            len: MAX_SUBJECT + 1
        })
    );
    assert_eq!(
        Payload::new(a.clone(), b.clone(), 5, "", &"b".repeat(MAX_BODY + 1)),
        Err(MailError::BodyTooLong { len: MAX_BODY + 1 })
    );
    assert_eq!(
        Payload::new(a.clone(), b.clone(), 5, "a\nb", ""),
        Err(MailError::ControlCharacter { field: "subject" })
    );
    assert_eq!(
        Payload::new(a.clone(), b.clone(), 5, "", "bell\u{7}"),
        Err(MailError::ControlCharacter { field: "body" })
    );
    // Finding 14: CR and tab are refused too (only LF may break a line), at
    // the sender and, in a payload someone else encoded, at the recipient.
    for body in ["line\rFrom: x", "tab\there", "\r\n"] {
        assert_eq!(
            Payload::new(a.clone(), b.clone(), 5, "", body),
            Err(MailError::ControlCharacter { field: "body" }),
            "{body:?}"
        );
        let mut forged = Payload::new(a.clone(), b.clone(), 5, "", &"x".repeat(body.len()))
            .unwrap()
            .encode();
        let at = forged.len() - body.len();
        forged[at..].copy_from_slice(body.as_bytes());
        assert_eq!(
            Payload::decode(&forged),
            Err(MailError::ControlCharacter { field: "body" })
        );
    }
    let enc = Payload::new(a, b, 5, "hi", "body").unwrap().encode();
    assert_eq!(
        Payload::decode(&enc[..enc.len() - 1]),
        Err(MailError::Truncated {
            offset: enc.len() - 4
        })
    );
    let mut x = enc.clone();
    x.push(0);
    assert_eq!(Payload::decode(&x), Err(MailError::TrailingBytes));
    let mut x = enc.clone();
    x[0] = 2;
    assert_eq!(Payload::decode(&x), Err(MailError::Format(2)));
    // A non-canonical sender address ("Alice@…") is refused, not normalised.
    let mut x = enc.clone();
    x[2] = b'A';
    assert_eq!(
        Payload::decode(&x),
        Err(MailError::Address { field: "from" })
    );
    // Invalid UTF-8 in the body.
    let mut x = enc.clone();
    let last = x.len() - 1;
    x[last] = 0xff;
    assert_eq!(
        Payload::decode(&x),
        Err(MailError::NotUtf8 { field: "body" })
    );
    // A length prefix past the limit is refused before reading it.
    let mut x = enc.clone();
    let subject_at = 1 + 1 + 15 + 1 + 13 + 8;
    x[subject_at] = 0x01;
    x[subject_at + 1] = 0x01;
    assert_eq!(
        Payload::decode(&x),
        Err(MailError::SubjectTooLong { len: 257 })
    );
}

/// A change made to an envelope.
type Tamper<'a> = Box<dyn Fn(&mut ank_mailbox::Envelope) + 'a>;

#[test]
fn envelope_round_trip_and_every_tampering() {
    use ank_mailbox::{Envelope, MailError};
    let alice = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
    let bob_secret = [9u8; 32];
    let bob_key = x25519_public(&bob_secret).unwrap();
    let p = Payload::new(
        addr("alice@a.example"),
        addr("bob@b.example"),
        42,
        "Subject",
        "Body",
    )
    .unwrap();
    let env = Envelope::create(&p, &bob_key, &alice, [5u8; 16]).unwrap();
    let json = serde_json::to_string(&env).unwrap();
    let back: Envelope = serde_json::from_str(&json).unwrap();
    let checked = back.check().unwrap();
    assert_eq!(checked.from_key, alice.verifying_key().to_bytes());
    assert_eq!(checked.open(&bob_secret).unwrap(), p);
    assert_eq!(checked.open(&[1u8; 32]), Err(MailError::Decrypt));

    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let other = ed25519_dalek::SigningKey::from_bytes(&[4u8; 32]);
    let cases: Vec<(Tamper<'_>, MailError)> = vec![
        (
            Box::new(|e| e.id = b64(&[6u8; 16])),
            MailError::BadSignature,
        ),
        (
            Box::new(|e| e.id = b64(&[6u8; 15])),
            MailError::Envelope { field: "id" },
        ),
        (
            Box::new(|e| e.to = "carol@b.example".into()),
            MailError::BadSignature,
        ),
        (
            Box::new(|e| e.to = "Bob@b.example".into()),
            MailError::Envelope { field: "to" },
        ),
        (
            Box::new(|e| e.from = "alice!a.example".into()),
            MailError::Envelope { field: "from" },
        ),
        (
            Box::new(|e| e.to_key = b64(&[1u8; 32])),
            MailError::BadSignature,
        ),
        (
            Box::new(|e| e.to_key = "!!".into()),
            MailError::Envelope { field: "to_key" },
        ),
        (
            Box::new(move |e| e.from_key = b64(&other.verifying_key().to_bytes())),
            MailError::BadSignature,
        ),
        (
            Box::new(|e| e.enc = b64(&[2u8; 32])),
            MailError::BadSignature,
        ),
        (
            Box::new(|e| e.ciphertext = b64(b"something else")),
            MailError::BadSignature,
        ),
        (
            Box::new(|e| e.ciphertext = "*".into()),
            MailError::Envelope {
                field: "ciphertext",
            },
        ),
        (
            Box::new(|e| e.ciphertext = "A".repeat(100_000)),
            MailError::BodyTooLong { len: 75_000 },
        ),
        (
            Box::new(|e| e.signature = b64(&[0u8; 63])),
            MailError::Envelope { field: "signature" },
        ),
        (
            Box::new(|e| e.signature = b64(&[0u8; 64])),
            MailError::BadSignature,
        ),
    ];
    for (i, (tamper, want)) in cases.iter().enumerate() {
        let mut e = env.clone();
        tamper(&mut e);
        assert_eq!(e.check(), Err(want.clone()), "case {i}");
    }
    // Unknown fields are refused by the parser.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["html"] = serde_json::json!("<b>no</b>");
    assert!(serde_json::from_value::<Envelope>(v).is_err());
    // An envelope validly signed under one name whose sealed payload names
    // another sender is caught when it is opened.
    let p2 = Payload::new(
        addr("mallory@a.example"),
        addr("bob@b.example"),
        42,
        "s",
        "b",
    )
    .unwrap();
    let id = [7u8; 16];
    let (enc, ct) = ank_mailbox::seal(&p2, &bob_key, &id).unwrap();
    let claimed = addr("alice@a.example");
    let text = ank_mailbox::envelope_signed_text(
        &id,
        &p2.to,
        &bob_key,
        &claimed,
        &alice.verifying_key().to_bytes(),
        &enc,
        &ct,
    );
    use ed25519_dalek::Signer as _;
    let forged = Envelope {
        id: b64(&id),
        to: p2.to.to_string(),
        to_key: b64(&bob_key),
        from: claimed.to_string(),
        from_key: b64(&alice.verifying_key().to_bytes()),
        enc: b64(&enc),
        ciphertext: b64(&ct),
        signature: b64(&alice.sign(&text).to_bytes()),
        recipient_proof: None,
        sender_proof: None,
    };
    let checked = forged.check().unwrap();
    assert_eq!(
        checked.open(&bob_secret),
        Err(MailError::Envelope { field: "from" })
    );
}

#[test]
fn at_rest_sealing() {
    use ank_mailbox::at_rest::StorageKey;
    let key = StorageKey::from_secret(b"a storage secret of enough length").unwrap();
    let a = key.seal(b"envelope bytes", b"id|bob@b.example").unwrap();
    let b = key.seal(b"envelope bytes", b"id|bob@b.example").unwrap();
    assert_ne!(a, b, "a fresh nonce every time");
    assert!(!a.windows(8).any(|w| w == b"envelope"));
    assert_eq!(
        key.open(&a, b"id|bob@b.example").unwrap(),
        b"envelope bytes"
    );
    assert_eq!(key.open(&a, b"id|eve@b.example"), Err(MailError::AtRest));
    let mut t = a.clone();
    t[20] ^= 1;
    assert_eq!(key.open(&t, b"id|bob@b.example"), Err(MailError::AtRest));
    assert_eq!(
        key.open(&a[..20], b"id|bob@b.example"),
        Err(MailError::AtRest)
    );
    let other = StorageKey::from_secret(b"another storage secret, as long").unwrap();
    assert_eq!(other.open(&a, b"id|bob@b.example"), Err(MailError::AtRest));
    assert_eq!(
        StorageKey::from_secret(b"short").unwrap_err(),
        MailError::WeakStorageKey { len: 5 }
    );
    // The environment: ANK_STORAGE_KEY first, BANGMAIL_KEY accepted, neither refused.
    let none = StorageKey::from_lookup(|_| None).unwrap_err();
    assert_eq!(none, MailError::NoStorageKey);
    assert!(
        none.to_string().contains("ANK_STORAGE_KEY") && none.to_string().contains("BANGMAIL_KEY")
    );
    let bangmail = StorageKey::from_lookup(|n| {
        (n == "BANGMAIL_KEY").then(|| "a storage secret of enough length".to_owned())
    })
    .unwrap();
    assert_eq!(
        bangmail.open(&a, b"id|bob@b.example").unwrap(),
        b"envelope bytes"
    );
    let both = StorageKey::from_lookup(|n| {
        Some(
            if n == "ANK_STORAGE_KEY" {
                "another storage secret, as long"
            } else {
                "a storage secret of enough length"
            }
            .to_owned(),
        )
    })
    .unwrap();
    assert_eq!(
        both.open(&a, b"id|bob@b.example"),
        Err(MailError::AtRest),
        "ANK_STORAGE_KEY wins"
    );
}

#[test]
fn fetch_requests_are_signed_fresh_and_bound() {
    use ank_mailbox::fetch_auth::{FetchAuth, FetchAuthError, MAX_SKEW_MS, Target};
    let key = ed25519_dalek::SigningKey::from_bytes(&[11u8; 32]);
    let bob = addr("bob@b.example");
    let now = 1_800_000_000_000u64;
    let t = |method: &'static str, path: &'static str| Target {
        method,
        domain: "b.example",
        authority: "mail.b.example",
        path,
    };
    let auth = FetchAuth::sign(&key, &t("GET", "/v1/messages"), &bob, now, [4u8; 16], b"");
    // Bound to the mailbox: another authority or another domain is refused.
    let elsewhere = Target {
        authority: "mail.evil.example",
        ..t("GET", "/v1/messages")
    };
    assert_eq!(
        auth.verify(&elsewhere, b"", now),
        Err(FetchAuthError::Signature)
    );
    let other_domain = Target {
        domain: "evil.example",
        ..t("GET", "/v1/messages")
    };
    assert_eq!(
        auth.verify(&other_domain, b"", now),
        Err(FetchAuthError::Signature)
    );
    // Authorities compare without case, as host names do.
    let upper = Target {
        authority: "MAIL.B.example",
        ..t("GET", "/v1/messages")
    };
    assert!(auth.verify(&upper, b"", now).is_ok());
    let v = auth
        .verify(&t("GET", "/v1/messages"), b"", now + 1000)
        .unwrap();
    assert_eq!(
        (v.address, v.key, v.nonce),
        (bob.clone(), key.verifying_key().to_bytes(), [4u8; 16])
    );
    // Bound to method, path, body; fresh within the skew window only.
    assert_eq!(
        auth.verify(&t("POST", "/v1/messages"), b"", now),
        Err(FetchAuthError::Signature)
    );
    assert_eq!(
        auth.verify(&t("GET", "/v1/messages/ack"), b"", now),
        Err(FetchAuthError::Signature)
    );
    assert_eq!(
        auth.verify(&t("GET", "/v1/messages"), b"x", now),
        Err(FetchAuthError::Signature)
    );
    assert_eq!(
        auth.verify(&t("GET", "/v1/messages"), b"", now + MAX_SKEW_MS + 1),
        Err(FetchAuthError::Skew)
    );
    assert_eq!(
        auth.verify(&t("GET", "/v1/messages"), b"", now - MAX_SKEW_MS - 1),
        Err(FetchAuthError::Skew)
    );
    // Another address, another nonce, another key: the signature no longer matches.
    let mut a = auth.clone();
    a.address = "carol@b.example".into();
    assert_eq!(
        a.verify(&t("GET", "/v1/messages"), b"", now),
        Err(FetchAuthError::Signature)
    );
    let mut a = auth.clone();
    a.nonce = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [5u8; 16]);
    assert_eq!(
        a.verify(&t("GET", "/v1/messages"), b"", now),
        Err(FetchAuthError::Signature)
    );
    let other = ed25519_dalek::SigningKey::from_bytes(&[12u8; 32]);
    let mut a = auth.clone();
    a.key = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        other.verifying_key().to_bytes(),
    );
    assert_eq!(
        a.verify(&t("GET", "/v1/messages"), b"", now),
        Err(FetchAuthError::Signature)
    );
    let mut a = auth.clone();
    a.address = "Bob@b.example".into();
    assert_eq!(
        a.verify(&t("GET", "/v1/messages"), b"", now),
        Err(FetchAuthError::Header("Ank-Address"))
    );
    let mut a = auth;
    a.signature = "short".into();
    assert_eq!(
        a.verify(&t("GET", "/v1/messages"), b"", now),
        Err(FetchAuthError::Header("Ank-Signature"))
    );
}
