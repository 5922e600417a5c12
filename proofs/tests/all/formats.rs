//! ank's own formats and the C2SP formats we produce: round trips and every rejection.

use ank_proofs::binding::publish_message;
use ank_proofs::error::{AuthorityError, EntryError, KeySetError, PolicyError, TlogProofError};
use ank_proofs::hash::leaf_hash;
use ank_proofs::note::{ALG_COSIGNATURE_V1, ALG_ED25519};
use ank_proofs::{
    Address, Authorization, Checkpoint, Device, Entry, Error, KeySet, LogEntry, MapRootEntry, Note,
    Policy, SignerKey, TlogProof, TreeBuilder, prove_inclusion, verify_checkpoint,
};

fn device(name: &str, seed: u8) -> Device {
    let sk = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    Device {
        name: name.into(),
        signing_key: sk.verifying_key().to_bytes(),
        encryption_key: [seed; 32],
    }
}

fn holder_signature(
    label: &ank_proofs::Hash,
    version: u64,
    ks: &KeySet,
    seed: u8,
) -> Authorization {
    use ed25519_dalek::Signer as _;
    let sk = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    Authorization::KeyHolder {
        signer: sk.verifying_key().to_bytes(),
        signature: sk
            .sign(&publish_message(label, version, &ks.hash()))
            .to_bytes(),
    }
}

#[test]
fn entry_roundtrip_and_rejections() {
    let ks = KeySet::new(vec![device("phone", 2), device("laptop", 1)]).unwrap();
    assert_eq!(ks.devices()[0].name, "laptop");
    let label = Address::parse("alice@example.org").unwrap().label();
    let e = Entry {
        label,
        version: 3,
        timestamp_ms: 1_700_000_000_123,
        authorization: Authorization::Operator,
        key_set: ks.clone(),
    };
    let holder = Entry {
        authorization: holder_signature(&label, 3, &ks, 1),
        ..e.clone()
    };
    let enrolled = Entry {
        version: 1,
        authorization: Authorization::Enrollment,
        ..e.clone()
    };
    for entry in [&e, &holder, &enrolled] {
        let b = entry.encode();
        assert_eq!(Entry::decode(&b).unwrap(), *entry);
        assert_eq!(
            LogEntry::decode(&b).unwrap(),
            LogEntry::Binding(entry.clone())
        );
        assert_eq!(entry.leaf_hash(), leaf_hash(&b));
        assert_eq!(
            b.len(),
            50 + ks.encode().len() + if entry == &holder { 96 } else { 0 }
        );
        assert_eq!(
            MapRootEntry::decode(&b),
            Err(Error::Entry(EntryError::NotMapRoot))
        );
    }
    assert!(!e.is_revocation());
    let b = e.encode();
    let hb = holder.encode();
    let with = |b: &[u8], at: usize, v: &[u8]| {
        let mut b = b.to_vec();
        b[at..at + v.len()].copy_from_slice(v);
        b
    };
    let err = |r| Err(Error::Entry(r));
    assert_eq!(Entry::decode(&[]), err(EntryError::Truncated { actual: 0 }));
    assert_eq!(
        Entry::decode(&b[..49]),
        err(EntryError::Truncated { actual: 49 })
    );
    // The 82-byte binding of the first format is no entry any more.
    assert_eq!(Entry::decode(&with(&b, 0, &[1])), err(EntryError::Type(1)));
    assert_eq!(Entry::decode(&with(&b, 0, &[4])), err(EntryError::Type(4)));
    assert_eq!(
        Entry::decode(&with(&b, 49, &[3])),
        err(EntryError::Flags(3))
    );
    assert_eq!(
        Entry::decode(&with(&b, 33, &0u64.to_be_bytes())),
        err(EntryError::Version)
    );
    assert_eq!(
        Entry::decode(&with(&enrolled.encode(), 33, &2u64.to_be_bytes())),
        err(EntryError::AuthorityForVersion)
    );
    assert_eq!(
        Entry::decode(&with(&hb, 33, &1u64.to_be_bytes())),
        err(EntryError::AuthorityForVersion)
    );
    assert_eq!(
        Entry::decode(&hb[..hb.len() - 1]),
        err(EntryError::Truncated {
            actual: hb.len() - 1
        })
    );
    // An operator's entry with a signature after it, or any trailing byte.
    assert_eq!(
        Entry::decode(&with(&hb, 49, &[2])),
        err(EntryError::TrailingBytes)
    );
    let mut long = b.clone();
    long.push(0);
    assert_eq!(Entry::decode(&long), err(EntryError::TrailingBytes));
    // The key set inside is checked as a key set.
    assert_eq!(
        Entry::decode(&with(&b, 50, &[2])),
        Err(Error::KeySet(KeySetError::Format(2)))
    );
    let revoke = Entry {
        key_set: KeySet::empty(),
        ..e.clone()
    };
    assert!(revoke.is_revocation());

    let m = MapRootEntry {
        root: leaf_hash(b"root"),
        timestamp_ms: 7,
    };
    let mb = m.encode();
    assert_eq!(mb.len(), 41);
    assert_eq!(mb[0], 0x03);
    assert_eq!(MapRootEntry::decode(&mb).unwrap(), m);
    assert_eq!(m.leaf_hash(), leaf_hash(&mb));
    assert_eq!(Entry::decode(&mb), err(EntryError::NotBinding));
    assert_eq!(
        MapRootEntry::decode(&mb[..40]),
        Err(Error::Entry(EntryError::MapRootLength { actual: 40 }))
    );
    let mut long = mb.to_vec();
    long.push(0);
    assert_eq!(
        MapRootEntry::decode(&long),
        Err(Error::Entry(EntryError::MapRootLength { actual: 42 }))
    );
}

#[test]
fn authorization_is_checked_against_the_previous_key_set() {
    let label = Address::parse("alice@example.org").unwrap().label();
    let v1 = KeySet::new(vec![device("laptop", 1)]).unwrap();
    let v2 = KeySet::new(vec![device("laptop", 1), device("phone", 2)]).unwrap();
    let entry = |authorization| Entry {
        label,
        version: 2,
        timestamp_ms: 5,
        authorization,
        key_set: v2.clone(),
    };
    let good = entry(holder_signature(&label, 2, &v2, 1));
    good.check_authorization(Some(&v1)).unwrap();
    let auth = |r| Err(Error::Authority(r));
    // The phone is in the new set, not the previous one.
    assert_eq!(
        entry(holder_signature(&label, 2, &v2, 2)).check_authorization(Some(&v1)),
        auth(AuthorityError::SignerNotCurrent)
    );
    assert_eq!(
        good.check_authorization(None),
        auth(AuthorityError::SignerNotCurrent)
    );
    assert_eq!(
        good.check_authorization(Some(&KeySet::empty())),
        auth(AuthorityError::SignerNotCurrent)
    );
    // Signed for another version, another label, another key set.
    for wrong in [
        holder_signature(&label, 3, &v2, 1),
        holder_signature(&leaf_hash(b"bob"), 2, &v2, 1),
        holder_signature(&label, 2, &v1, 1),
    ] {
        assert_eq!(
            entry(wrong).check_authorization(Some(&v1)),
            auth(AuthorityError::Signature)
        );
    }
    // Operator and enrollment entries say what they are; nothing to check.
    entry(Authorization::Operator)
        .check_authorization(None)
        .unwrap();
}

#[test]
fn replay_checks_versions_signatures_and_map_roots() {
    use ank_proofs::map::Replay;
    let label = Address::parse("alice@example.org").unwrap().label();
    let v1 = KeySet::new(vec![device("laptop", 1)]).unwrap();
    let v2 = KeySet::new(vec![device("phone", 2)]).unwrap();
    let bind = |version, authorization, ks: &KeySet| {
        Entry {
            label,
            version,
            timestamp_ms: version,
            authorization,
            key_set: ks.clone(),
        }
        .encode()
    };
    let e1 = bind(1, Authorization::Enrollment, &v1);
    let e2 = bind(2, holder_signature(&label, 2, &v2, 1), &v2);
    // After v2 only the phone may sign: the laptop's v3 is flagged.
    let e3_laptop = bind(3, holder_signature(&label, 3, &v1, 1), &v1);
    let e3_phone = bind(3, holder_signature(&label, 3, &v1, 2), &v1);
    let mut r = Replay::new();
    assert_eq!(r.check_end(), Err(Error::NoMapRoot { index: 0 }));
    let empty = MapRootEntry {
        root: ank_proofs::map::empty_root(),
        timestamp_ms: 0,
    };
    r.push(&empty.encode()).unwrap();
    r.check_end().unwrap();
    r.push(&e1).unwrap();
    assert_eq!(r.check_end(), Err(Error::NoMapRoot { index: 1 }));
    r.push(&e2).unwrap();
    // A map root that is not the map of the bindings so far; that replay
    // stops there, and every later entry gets the same error.
    let before = r.clone().root();
    let mut stopped = r.clone();
    let contradicted = Err(Error::ReplayMapRoot {
        index: 3,
        signed: empty.root,
        computed: before,
    });
    assert_eq!(stopped.push(&empty.encode()), contradicted);
    assert_eq!(stopped.push(&e3_phone), contradicted);
    assert_eq!(
        r.push(&e3_laptop),
        Err(Error::ReplayAuthority {
            index: 3,
            reason: AuthorityError::SignerNotCurrent
        })
    );
    assert_eq!(
        r.push(&bind(4, Authorization::Operator, &v1)),
        Err(Error::ReplayVersion {
            index: 3,
            expected: 3,
            actual: 4
        })
    );
    r.push(&e3_phone).unwrap();
    let root = r.clone().root();
    r.push(
        &MapRootEntry {
            root,
            timestamp_ms: 9,
        }
        .encode(),
    )
    .unwrap();
    r.check_end().unwrap();
    assert_eq!(r.size(), 5);
    // Recovery by the operator needs no signature, and is counted.
    r.push(&bind(4, Authorization::Operator, &KeySet::empty()))
        .unwrap();
    assert_eq!(r.operator_bindings(), 1);
}

#[test]
fn key_set_roundtrip_and_rejections() {
    let ks = KeySet::new(vec![device("b", 2), device("a", 1)]).unwrap();
    let enc = ks.encode();
    assert_eq!(KeySet::decode(&enc).unwrap(), ks);
    assert_eq!(KeySet::empty().encode(), vec![1, 0]);
    let e = |r| Err(Error::KeySet(r));
    assert_eq!(KeySet::decode(&[]), e(KeySetError::Truncated { offset: 0 }));
    assert_eq!(KeySet::decode(&[2, 0]), e(KeySetError::Format(2)));
    assert_eq!(KeySet::decode(&[1, 17]), e(KeySetError::TooManyDevices));
    assert_eq!(
        KeySet::decode(&enc[..enc.len() - 1]),
        e(KeySetError::Truncated { offset: 2 + 66 })
    );
    let mut t = enc.clone();
    t.push(0);
    assert_eq!(KeySet::decode(&t), e(KeySetError::TrailingBytes));
    // Swap the two devices: out of order.
    let mut swapped = vec![1, 2];
    swapped.extend_from_slice(&enc[2 + 66..]);
    swapped.extend_from_slice(&enc[2..2 + 66]);
    assert_eq!(KeySet::decode(&swapped), e(KeySetError::Order));
    assert_eq!(
        KeySet::new(vec![device("a", 1), device("a", 2)]),
        e(KeySetError::Order)
    );
    assert_eq!(
        KeySet::new(vec![device("bad name", 1)]),
        e(KeySetError::DeviceName)
    );
    // Find a y coordinate that is not on the curve.
    let mut bad_key = device("a", 1);
    bad_key.signing_key = (2u8..=255)
        .map(|b| {
            let mut k = [0u8; 32];
            k[0] = b;
            k
        })
        .find(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_err())
        .unwrap();
    assert_eq!(KeySet::new(vec![bad_key]), e(KeySetError::SigningKey));
}

#[test]
fn weak_keys_are_refused() {
    let e = |r| Err(ank_proofs::Error::KeySet(r));
    // Every point of the 8-torsion: as an Ed25519 key, and as an X25519 u-coordinate.
    for p in curve25519_dalek::constants::EIGHT_TORSION {
        let mut d = device("a", 1);
        d.signing_key = p.compress().to_bytes();
        assert_eq!(KeySet::new(vec![d]), e(KeySetError::WeakSigningKey));
        let mut d = device("a", 1);
        d.encryption_key = p.to_montgomery().to_bytes();
        assert_eq!(KeySet::new(vec![d]), e(KeySetError::WeakEncryptionKey));
    }
    // u = 0 and the non-canonical encodings p - 1, p, p + 1 (top bit ignored, too).
    let mut high = [0xffu8; 32];
    high[31] = 0x7f;
    for (first, last) in [
        (0x00, 0x00),
        (0xec, 0x7f),
        (0xed, 0x7f),
        (0xee, 0x7f),
        (0xed, 0xff),
    ] {
        let mut k = if first == 0 { [0u8; 32] } else { high };
        k[0] = first;
        k[31] = last;
        let mut d = device("a", 1);
        d.encryption_key = k;
        assert_eq!(
            KeySet::new(vec![d.clone()]),
            e(KeySetError::WeakEncryptionKey),
            "{k:02x?}"
        );
        // The encoded form is refused as well as the constructed one.
        let mut enc = KeySet::new(vec![device("a", 1)]).unwrap().encode();
        let at = enc.len() - 32;
        enc[at..].copy_from_slice(&k);
        assert_eq!(KeySet::decode(&enc), e(KeySetError::WeakEncryptionKey));
    }
    // The list agrees with the definition: a clamped scalar (a multiple of
    // the cofactor) sends exactly the low-order points to u = 0.
    for b in [0u8, 1, 0x37, 0xa5] {
        let mut k = [b; 32];
        k[31] &= 0x7f;
        let by_definition = curve25519_dalek::montgomery::MontgomeryPoint(k)
            .mul_clamped([0x5b; 32])
            .to_bytes()
            == [0u8; 32];
        assert_eq!(
            ank_proofs::binding::x25519_low_order(&k),
            by_definition,
            "{k:02x?}"
        );
    }
    for p in curve25519_dalek::constants::EIGHT_TORSION {
        let u = p.to_montgomery().to_bytes();
        assert!(ank_proofs::binding::x25519_low_order(&u));
        assert_eq!(
            curve25519_dalek::montgomery::MontgomeryPoint(u)
                .mul_clamped([0x5b; 32])
                .to_bytes(),
            [0u8; 32]
        );
    }
    // An ordinary key passes.
    let mut d = device("a", 1);
    d.encryption_key =
        curve25519_dalek::montgomery::MontgomeryPoint::mul_base_clamped([7; 32]).to_bytes();
    assert!(KeySet::new(vec![d]).is_ok());
}

fn small_log(
    n: u64,
) -> (
    SignerKey,
    Vec<ank_proofs::Hash>,
    Vec<ank_proofs::Hash>,
    Note,
) {
    let log = SignerKey::from_seed("example.org/ank", ALG_ED25519, [5; 32]).unwrap();
    let mut b = TreeBuilder::new();
    let mut stored = Vec::new();
    let mut leaves = Vec::new();
    for i in 0..n {
        let l = leaf_hash(&i.to_be_bytes());
        leaves.push(l);
        stored.extend(b.push_stored(l));
    }
    let cp = Checkpoint {
        origin: "example.org/ank".into(),
        size: n,
        root: b.root(),
        extensions: vec![],
    };
    let note = cp.sign(&log).unwrap();
    (log, stored, leaves, note)
}

#[test]
fn tlog_proof_roundtrip_verify_and_rejections() {
    let (log, stored, leaves, note) = small_log(13);
    let witness = SignerKey::from_seed("witness.example", ALG_COSIGNATURE_V1, [6; 32]).unwrap();
    let mut cosigned = note.clone();
    cosigned.add_signature(witness.sign(note.text(), 1_700_000_000));
    let bundle = TlogProof {
        extra: Some(b"hello".to_vec()),
        index: 6,
        proof: prove_inclusion(6, 13, &stored).unwrap(),
        checkpoint: cosigned.to_text(),
    };
    let text = bundle.to_text();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra aGVsbG8=\nindex 6\n"));
    let parsed = TlogProof::parse(&text).unwrap();
    assert_eq!(parsed, bundle);
    let cp = parsed
        .verify(&leaves[6], &log.verifier(), &[witness.verifier()])
        .unwrap();
    assert_eq!(cp.cosignatures().len(), 1);
    assert_eq!(cp.cosignatures()[0].timestamp, 1_700_000_000);
    cp.require_cosignatures(1).unwrap();
    assert_eq!(
        cp.require_cosignatures(2),
        Err(Error::QuorumNotMet { cosigned: 1 })
    );
    assert!(matches!(
        parsed.verify(&leaves[5], &log.verifier(), &[]),
        Err(Error::RootMismatch { .. })
    ));

    let e = |r| Err(Error::TlogProof(r));
    assert_eq!(
        TlogProof::parse("c2sp.org/tlog-proof@v2\nindex 1\n\nx"),
        e(TlogProofError::Header)
    );
    assert_eq!(
        TlogProof::parse("c2sp.org/tlog-proof@v1\nindex 01\n\nx"),
        e(TlogProofError::Index)
    );
    assert_eq!(
        TlogProof::parse("c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\nx"),
        e(TlogProofError::Extra)
    );
    assert_eq!(
        TlogProof::parse("c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\nx"),
        e(TlogProofError::ProofHash { line: 1 })
    );
    assert_eq!(
        TlogProof::parse("c2sp.org/tlog-proof@v1\nindex 1\n"),
        e(TlogProofError::Separator)
    );
}

#[test]
fn checkpoint_signing_roles_and_origin() {
    let (log, _, _, note) = small_log(3);
    let witness = SignerKey::from_seed("w", ALG_COSIGNATURE_V1, [6; 32]).unwrap();
    let bytes = note.to_text();
    assert_eq!(
        verify_checkpoint(bytes.as_bytes(), &witness.verifier(), &[]),
        Err(Error::KeyRole {
            name: "w".into(),
            alg: 4,
            want: 1
        })
    );
    assert_eq!(
        verify_checkpoint(bytes.as_bytes(), &log.verifier(), &[log.verifier()]),
        Err(Error::KeyRole {
            name: "example.org/ank".into(),
            alg: 1,
            want: 4
        })
    );
    let other = SignerKey::from_seed("example.org/ank", ALG_ED25519, [9; 32]).unwrap();
    assert_eq!(
        verify_checkpoint(bytes.as_bytes(), &other.verifier(), &[]),
        Err(Error::MissingLogSignature {
            name: "example.org/ank".into(),
            id: other.id()
        })
    );
    // A witness-only note is not a checkpoint.
    let mut only_w = Note::new(note.text()).unwrap();
    only_w.add_signature(witness.sign(note.text(), 7));
    assert_eq!(
        verify_checkpoint(
            only_w.to_text().as_bytes(),
            &log.verifier(),
            &[witness.verifier()]
        ),
        Err(Error::MissingLogSignature {
            name: "example.org/ank".into(),
            id: log.id()
        })
    );
    let cp = Checkpoint::parse(note.text()).unwrap();
    let wrong = Checkpoint {
        origin: "other".into(),
        ..cp
    };
    assert_eq!(
        wrong.sign(&log),
        Err(Error::OriginMismatch {
            expected: "example.org/ank".into(),
            actual: "other".into()
        })
    );
}

#[test]
fn policy_parse_and_quorum() {
    let (log, _, _, note) = small_log(4);
    let ws: Vec<SignerKey> = (0..5u8)
        .map(|i| {
            SignerKey::from_seed(&format!("w{i}.example"), ALG_COSIGNATURE_V1, [20 + i; 32])
                .unwrap()
        })
        .collect();
    let text = format!(
        "# policy\nlog {} https://example.org/\n\nwitness X1 {}\nwitness X2 {}\n\twitness X3 {}\ngroup X 2 X1 X2 X3\nwitness Y1 {}\nwitness Y2 {}\ngroup Y any Y1 Y2\ngroup XY all X Y\nquorum XY\n",
        log.verifier().to_text(),
        ws[0].verifier().to_text(),
        ws[1].verifier().to_text(),
        ws[2].verifier().to_text(),
        ws[3].verifier().to_text(),
        ws[4].verifier().to_text(),
    );
    let policy = Policy::parse(&text).unwrap();
    assert_eq!(policy.logs().len(), 1);
    assert_eq!(policy.witnesses().len(), 5);
    let cosign = |idx: &[usize]| {
        let mut n = note.clone();
        for &i in idx {
            n.add_signature(ws[i].sign(note.text(), 100 + i as u64));
        }
        n.to_text()
    };
    policy.verify(cosign(&[0, 1, 3]).as_bytes()).unwrap();
    policy.verify(cosign(&[0, 2, 4]).as_bytes()).unwrap();
    assert_eq!(
        policy.verify(cosign(&[0, 3]).as_bytes()).unwrap_err(),
        Error::QuorumNotMet { cosigned: 2 }
    );
    assert_eq!(
        policy.verify(cosign(&[0, 1, 2]).as_bytes()).unwrap_err(),
        Error::QuorumNotMet { cosigned: 3 }
    );
    let none = Policy::parse(&format!("log {}\nquorum none\n", log.verifier().to_text())).unwrap();
    none.verify(note.to_text().as_bytes()).unwrap();
    let stranger = SignerKey::from_seed("stranger/log", ALG_ED25519, [1; 32]).unwrap();
    let other_cp = Checkpoint {
        origin: "stranger/log".into(),
        ..Checkpoint::parse(note.text()).unwrap()
    };
    assert_eq!(
        none.verify(other_cp.sign(&stranger).unwrap().to_text().as_bytes()),
        Err(Error::UnknownLog {
            origin: "stranger/log".into()
        })
    );

    let w0 = ws[0].verifier().to_text();
    let lv = log.verifier().to_text();
    let bad: Vec<(String, usize, PolicyError)> = vec![
        (format!("witness A {w0}\n"), 2, PolicyError::NoQuorum),
        (
            "frobnicate x\nquorum none\n".into(),
            1,
            PolicyError::Keyword("frobnicate".into()),
        ),
        (
            "quorum none\nquorum none\n".into(),
            2,
            PolicyError::DuplicateQuorum,
        ),
        (
            "quorum A\n".into(),
            1,
            PolicyError::UndefinedName("A".into()),
        ),
        (
            format!("witness A {w0}\nwitness A {}\n", ws[1].verifier().to_text()),
            2,
            PolicyError::DuplicateName("A".into()),
        ),
        (
            format!("witness A {w0}\nwitness B {w0}\n"),
            2,
            PolicyError::DuplicateKey,
        ),
        (
            format!("witness none {w0}\n"),
            1,
            PolicyError::DuplicateName("none".into()),
        ),
        (
            format!("witness A {w0}\ngroup G 2 A\n"),
            2,
            PolicyError::Threshold,
        ),
        (
            format!("witness A {w0}\ngroup G 0 A\n"),
            2,
            PolicyError::Threshold,
        ),
        (
            format!("witness A {w0}\ngroup G any A A\n"),
            2,
            PolicyError::DuplicateMember("A".into()),
        ),
        (
            format!("witness A {lv}\n"),
            1,
            PolicyError::Key(ank_proofs::error::KeyError::UnsupportedType { alg: 1 }),
        ),
        (
            format!("log {w0}\n"),
            1,
            PolicyError::Key(ank_proofs::error::KeyError::UnsupportedType { alg: 4 }),
        ),
        ("quorum none extra\n".into(), 1, PolicyError::Fields),
        ("quorum\x01none\n".into(), 1, PolicyError::Character),
    ];
    for (text, line, reason) in bad {
        assert_eq!(
            Policy::parse(&text),
            Err(Error::Policy { line, reason }),
            "{text:?}"
        );
    }
}

#[test]
fn proofs_read_from_tiles_equal_proofs_from_stored_hashes() {
    use ank_proofs::tile::{TileHashReader, TiledLogChecker, tile_data, tiles_for_size};
    use std::collections::HashMap;
    let mut rng = crate::common::Rng(99);
    for size in [1u64, 255, 256, 300, 65_536 + 300] {
        let mut checker = TiledLogChecker::new();
        let mut b = TreeBuilder::new();
        let mut stored = Vec::new();
        let mut tiles: HashMap<ank_proofs::Tile, Vec<u8>> = HashMap::new();
        for i in 0..size {
            let l = leaf_hash(&i.to_le_bytes());
            stored.extend(b.push_stored(l));
            checker.push_leaf(l);
            for (t, h) in checker.take_full_tiles() {
                tiles.insert(t, tile_data(&h));
            }
        }
        for (t, h) in checker.partial_tiles() {
            tiles.insert(t, tile_data(&h));
        }
        let mut want: Vec<_> = tiles_for_size(size);
        want.sort();
        let mut got: Vec<_> = tiles.keys().copied().collect();
        got.sort();
        assert_eq!(got, want, "tile inventory at {size}");
        assert_eq!(checker.root(), b.root());
        let reader = TileHashReader::new(size, |t: &ank_proofs::Tile| {
            tiles
                .get(t)
                .cloned()
                .ok_or(Error::MissingHash { index: u64::MAX })
        });
        assert_eq!(ank_proofs::tree_hash(size, &reader).unwrap(), b.root());
        for _ in 0..30 {
            let i = rng.below(size);
            assert_eq!(
                prove_inclusion(i, size, &reader).unwrap(),
                prove_inclusion(i, size, &stored).unwrap()
            );
            let old = 1 + rng.below(size);
            assert_eq!(
                ank_proofs::prove_consistency(old, size, &reader).unwrap(),
                ank_proofs::prove_consistency(old, size, &stored).unwrap()
            );
        }
        // A tile of the wrong length is rejected with its own error.
        let bad = TileHashReader::new(size, |_: &ank_proofs::Tile| Ok(vec![0u8; 31]));
        assert!(matches!(
            ank_proofs::tree_hash(size, &bad),
            Err(Error::TileLength { actual: 31, .. })
        ));
    }
}

#[test]
fn tile_reader_rejects_nodes_beyond_the_tree() {
    use ank_proofs::tile::TileHashReader;
    use ank_proofs::tree::stored_hash_index;
    let reader = TileHashReader::new(10, |_: &ank_proofs::Tile| Ok(vec![0u8; 320]));
    let beyond = stored_hash_index(0, 10);
    assert_eq!(
        ank_proofs::HashReader::read_hashes(&reader, &[beyond]),
        Err(Error::MissingHash { index: beyond })
    );
    let level1 = stored_hash_index(1, 5);
    assert_eq!(
        ank_proofs::HashReader::read_hashes(&reader, &[level1]),
        Err(Error::MissingHash { index: level1 })
    );
}

/// A replay's fast reading of binding entries agrees with `Entry::decode`
/// on every valid entry and every malformed one, and differs only in not
/// checking the keys' points.
#[test]
fn binding_records_read_as_entries_decode() {
    use ank_proofs::binding::BindingRecord;
    let label = Address::parse("alice@example.org").unwrap().label();
    let ks = KeySet::new(vec![device("phone", 2), device("laptop", 1)]).unwrap();
    let base = Entry {
        label,
        version: 3,
        timestamp_ms: 1,
        authorization: holder_signature(&label, 3, &ks, 1),
        key_set: ks.clone(),
    };
    let good = base.encode();
    let r = BindingRecord::read(&good).unwrap();
    assert_eq!((r.label, r.version, r.keys_hash), (label, 3, ks.hash()));
    assert_eq!(r.authorization, base.authorization);
    assert_eq!(
        r.signing_keys,
        ks.devices()
            .iter()
            .map(|d| d.signing_key)
            .collect::<Vec<_>>()
    );
    let prev = [device("laptop", 1).signing_key];
    assert_eq!(
        r.check_authorization_keys(&prev),
        base.check_authorization_keys(&prev)
    );
    // Every single-byte change and every truncation: the same verdict,
    // unless only a key's point is wrong.
    let mut checked = 0;
    for i in 0..good.len() {
        for flip in [0x01u8, 0x80] {
            let mut b = good.clone();
            b[i] ^= flip;
            let (full, fast) = (Entry::decode(&b), BindingRecord::read(&b));
            match (&full, &fast) {
                (
                    Err(Error::KeySet(
                        KeySetError::SigningKey
                        | KeySetError::WeakSigningKey
                        | KeySetError::WeakEncryptionKey,
                    )),
                    _,
                ) => {}
                (Ok(e), Ok(r)) => assert_eq!(
                    (e.label, e.version, e.keys_hash()),
                    (r.label, r.version, r.keys_hash)
                ),
                (Err(a), Err(b)) => assert_eq!(a, b, "byte {i} ^ {flip:#x}"),
                _ => panic!("byte {i} ^ {flip:#x}: {full:?} vs {fast:?}"),
            }
            checked += 1;
        }
    }
    for n in 0..good.len() {
        assert_eq!(
            Entry::decode(&good[..n]).map(|_| ()),
            BindingRecord::read(&good[..n]).map(|_| ()),
            "{n} bytes"
        );
    }
    assert_eq!(checked, good.len() * 2);
}
