//! The entries of an ank log, and key sets.
//!
//! An ank log holds two kinds of entry, told apart by their first byte.
//! Integers are big-endian; an entry's leaf hash in the log is the RFC 9162
//! leaf hash of its bytes. Nothing may follow an entry's last field.
//!
//! # Binding entry (type 0x02)
//!
//! | size | field |
//! |---|---|
//! | 1 | type, 0x02 |
//! | 32 | label ([`crate::Address::label`]) |
//! | 8 | version: 1 for the first binding of a label, +1 for each later one |
//! | 8 | timestamp, milliseconds since the Unix epoch |
//! | 1 | authority: 0 enrollment token (version 1 only), 1 key holder (versions above 1 only), 2 operator; nothing else |
//! | k | the new key set, in its canonical encoding (below; it says its own length) |
//! | 32 + 64 | key holder only: the signer's Ed25519 public key and its signature over [`publish_message`] |
//!
//! The entry names no address, only its label. Revocation is a binding
//! whose key set is empty. Everything that authorised a key holder's change
//! is in the entry, so anyone replaying the log can check it
//! ([`Entry::check_authorization`]): the signer must be a device of the key
//! set of the label's previous version, and the signature must verify
//! (strict Ed25519) over the publish message for this label, version and
//! key set. An enrollment token is secret and an operator recovery is the
//! operator's word: those entries say so in their authority byte, and the
//! auditor can count them.
//!
//! A binding of one device named `laptop` is 50 + 73 = 123 bytes, plus 96
//! for a key holder's signature: 219 bytes.
//!
//! # Map-root entry (type 0x03, 41 bytes)
//!
//! | size | field |
//! |---|---|
//! | 1 | type, 0x03 |
//! | 32 | the root of the map ([`crate::map`]) of every binding entry before this entry |
//! | 8 | the time of the batch it closes, milliseconds since the Unix epoch |
//!
//! Entry 0 of every log is the map-root entry of the empty map, and every
//! batch of bindings is followed by one. So every tree a checkpoint signs
//! ends with a map-root entry, and a lookup proves its map root by the
//! inclusion of entry `size - 1`: the tree, which witnesses cosign, commits
//! to the map. Type 0x01 (the 82-byte binding of the first format, without
//! key set or signature) is no longer an entry.
//!
//! # Publish message
//!
//! What a key holder signs to bind a key set as a label's version (UTF-8):
//!
//! ```text
//! ank-publish-v2\n
//! <label, base64>\n
//! <version, decimal>\n
//! <SHA-256 of the canonical key set, base64>\n
//! ```
//!
//! It names the version, so it can be applied at most once.
//!
//! # Key set (v1)
//!
//! | size | field |
//! |---|---|
//! | 1 | format, 0x01 |
//! | 1 | device count n, 0..=16 |
//! | per device | 1-byte name length (1..=64), name (`A-Z a-z 0-9 . _ -`), 32-byte Ed25519 public key, 32-byte X25519 public key |
//!
//! Devices appear in strictly increasing byte order of their names (so
//! names are unique and the encoding is canonical); nothing follows the last.
//! Ed25519 keys of small order and X25519 keys of low order are refused.

use crate::Error;
use crate::error::{AuthorityError, EntryError, KeySetError};
use crate::hash::{Hash, leaf_hash, sha256};

/// Type byte of a binding entry.
pub const BINDING_TYPE: u8 = 0x02;
/// Type byte of a map-root entry.
pub const MAP_ROOT_TYPE: u8 = 0x03;
/// Length of a map-root entry.
pub const MAP_ROOT_ENTRY_LEN: usize = 41;
/// Length of a binding entry's fields before its key set.
const BINDING_HEAD_LEN: usize = 50;
/// Most devices in a key set.
pub const MAX_DEVICES: usize = 16;

/// Who authorised a binding (the authority byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Authority {
    /// The first binding of an address, with an operator-issued enrollment token.
    Enrollment,
    /// Signed by a current key of the address.
    KeyHolder,
    /// The domain operator replaced the keys (recovery).
    Operator,
}

impl Authority {
    fn byte(self) -> u8 {
        match self {
            Authority::Enrollment => 0,
            Authority::KeyHolder => 1,
            Authority::Operator => 2,
        }
    }
}

impl std::fmt::Display for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Authority::Enrollment => "enrollment",
            Authority::KeyHolder => "key holder",
            Authority::Operator => "operator",
        })
    }
}

/// How a binding was authorised, with what makes a key holder's change checkable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Authorization {
    Enrollment,
    /// A device of the previous key set signed the publish message.
    KeyHolder {
        /// The signing device's Ed25519 public key.
        signer: [u8; 32],
        /// Its Ed25519 signature over [`publish_message`].
        signature: [u8; 64],
    },
    Operator,
}

impl Authorization {
    /// The authority byte's meaning.
    pub fn authority(&self) -> Authority {
        match self {
            Authorization::Enrollment => Authority::Enrollment,
            Authorization::KeyHolder { .. } => Authority::KeyHolder,
            Authorization::Operator => Authority::Operator,
        }
    }
}

/// The message a key holder signs to bind the key set hashing to
/// `keys_hash` as `version` of `label` (see the module docs).
pub fn publish_message(label: &Hash, version: u64, keys_hash: &Hash) -> Vec<u8> {
    format!("ank-publish-v2\n{label}\n{version}\n{keys_hash}\n").into_bytes()
}

/// A binding entry (type 0x02).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub label: Hash,
    pub version: u64,
    pub timestamp_ms: u64,
    pub authorization: Authorization,
    pub key_set: KeySet,
}

impl Entry {
    /// Who authorised it.
    pub fn authority(&self) -> Authority {
        self.authorization.authority()
    }

    /// SHA-256 of the key set's encoding.
    pub fn keys_hash(&self) -> Hash {
        self.key_set.hash()
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let ks = self.key_set.encode();
        let mut b = Vec::with_capacity(BINDING_HEAD_LEN + ks.len() + 96);
        b.push(BINDING_TYPE);
        b.extend_from_slice(&self.label.0);
        b.extend_from_slice(&self.version.to_be_bytes());
        b.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        b.push(self.authority().byte());
        b.extend_from_slice(&ks);
        if let Authorization::KeyHolder { signer, signature } = &self.authorization {
            b.extend_from_slice(signer);
            b.extend_from_slice(signature);
        }
        b
    }

    /// Decodes a canonical binding entry.
    ///
    /// # Errors
    /// [`Error::Entry`] with the reason ([`EntryError::NotBinding`] for a
    /// map-root entry); [`Error::KeySet`] for its key set.
    pub fn decode(b: &[u8]) -> Result<Entry, Error> {
        match LogEntry::decode(b)? {
            LogEntry::Binding(e) => Ok(e),
            LogEntry::MapRoot(_) => Err(Error::Entry(EntryError::NotBinding)),
        }
    }

    fn decode_body(b: &[u8]) -> Result<Entry, Error> {
        let e = |r| Error::Entry(r);
        if b.len() < BINDING_HEAD_LEN {
            return Err(e(EntryError::Truncated { actual: b.len() }));
        }
        let version = u64_at(b, 33);
        if version == 0 {
            return Err(e(EntryError::Version));
        }
        let (key_set, used) = KeySet::decode_prefix(&b[BINDING_HEAD_LEN..])?;
        let rest = &b[BINDING_HEAD_LEN + used..];
        let authorization = authorization_of(b[49], rest, b.len())?;
        check_authority_version(&authorization, version)?;
        let mut label = [0u8; 32];
        label.copy_from_slice(&b[1..33]);
        Ok(Entry {
            label: Hash(label),
            version,
            timestamp_ms: u64_at(b, 41),
            authorization,
            key_set,
        })
    }

    /// The RFC 9162 leaf hash of the encoding.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.encode())
    }

    /// Whether this binding revokes every key (its key set is empty).
    pub fn is_revocation(&self) -> bool {
        self.key_set.devices().is_empty()
    }

    /// Checks who authorised this binding, given the label's key set at the
    /// previous version (`None` before the first): a key holder's signer
    /// must be one of its devices and the signature must verify. Enrollment
    /// and operator entries pass (their authority byte says what they are).
    ///
    /// # Errors
    /// [`Error::Authority`]: [`AuthorityError::SignerNotCurrent`],
    /// [`AuthorityError::Signature`].
    pub fn check_authorization(&self, previous: Option<&KeySet>) -> Result<(), Error> {
        let keys: Vec<[u8; 32]> = previous
            .map(|ks| ks.devices().iter().map(|d| d.signing_key).collect())
            .unwrap_or_default();
        self.check_authorization_keys(&keys)
    }

    /// As [`Entry::check_authorization`], given only the Ed25519 keys of
    /// the previous key set (empty before the first version).
    ///
    /// # Errors
    /// As [`Entry::check_authorization`].
    pub fn check_authorization_keys(&self, previous: &[[u8; 32]]) -> Result<(), Error> {
        check_signed(
            &self.authorization,
            &self.label,
            self.version,
            &self.keys_hash(),
            previous,
        )
    }
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_be_bytes(a)
}

/// A map-root entry (type 0x03).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MapRootEntry {
    /// The map root of every binding before this entry.
    pub root: Hash,
    /// The time of the batch it closes.
    pub timestamp_ms: u64,
}

impl MapRootEntry {
    /// The 41-byte encoding.
    pub fn encode(&self) -> [u8; MAP_ROOT_ENTRY_LEN] {
        let mut b = [0u8; MAP_ROOT_ENTRY_LEN];
        b[0] = MAP_ROOT_TYPE;
        b[1..33].copy_from_slice(&self.root.0);
        b[33..41].copy_from_slice(&self.timestamp_ms.to_be_bytes());
        b
    }

    /// Decodes a map-root entry.
    ///
    /// # Errors
    /// [`Error::Entry`]: [`EntryError::NotMapRoot`] for another kind of
    /// entry, or the reason it is not an entry.
    pub fn decode(b: &[u8]) -> Result<MapRootEntry, Error> {
        match LogEntry::decode(b)? {
            LogEntry::MapRoot(m) => Ok(m),
            LogEntry::Binding(_) => Err(Error::Entry(EntryError::NotMapRoot)),
        }
    }

    /// The RFC 9162 leaf hash of the encoding.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.encode())
    }
}

/// Any entry of an ank log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEntry {
    Binding(Entry),
    MapRoot(MapRootEntry),
}

impl LogEntry {
    /// Decodes an entry of either type.
    ///
    /// # Errors
    /// [`Error::Entry`] with the reason; [`Error::KeySet`] for a binding's key set.
    pub fn decode(b: &[u8]) -> Result<LogEntry, Error> {
        let e = |r| Error::Entry(r);
        match b.first() {
            None => Err(e(EntryError::Truncated { actual: 0 })),
            Some(&BINDING_TYPE) => Entry::decode_body(b).map(LogEntry::Binding),
            Some(&MAP_ROOT_TYPE) => {
                if b.len() != MAP_ROOT_ENTRY_LEN {
                    return Err(e(EntryError::MapRootLength { actual: b.len() }));
                }
                let mut root = [0u8; 32];
                root.copy_from_slice(&b[1..33]);
                Ok(LogEntry::MapRoot(MapRootEntry {
                    root: Hash(root),
                    timestamp_ms: u64_at(b, 33),
                }))
            }
            Some(&t) => Err(e(EntryError::Type(t))),
        }
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            LogEntry::Binding(e) => e.encode(),
            LogEntry::MapRoot(m) => m.encode().to_vec(),
        }
    }
}

/// One device's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub name: String,
    /// Ed25519 public key (signing).
    pub signing_key: [u8; 32],
    /// X25519 public key (encryption).
    pub encryption_key: [u8; 32],
}

/// A canonical key set: devices sorted by name, every key checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeySet {
    devices: Vec<Device>,
    /// The devices' Ed25519 keys, decompressed once when they were checked.
    verifying: Vec<ed25519_dalek::VerifyingKey>,
}

/// The u-coordinates of every point of low order on Curve25519 or its
/// twist (order dividing 8), canonical, little-endian: 0, 1, the two points
/// of order 8 on the curve, and p − 1, with p and p + 1, the non-canonical
/// encodings of 0 and 1. Bit 255 is ignored by X25519 and masked before
/// comparing. A test derives the list from the curve's 8-torsion and a
/// scalar multiplication.
const LOW_ORDER_U: [[u8; 32]; 7] = [
    [0; 32],
    {
        let mut u = [0; 32];
        u[0] = 1;
        u
    },
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
        0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
        0x11, 0x57,
    ],
    p_plus(0xec),
    p_plus(0xed),
    p_plus(0xee),
];

/// p − 1, p, p + 1 for a first byte of 0xec, 0xed, 0xee.
const fn p_plus(first: u8) -> [u8; 32] {
    let mut u = [0xff; 32];
    u[0] = first;
    u[31] = 0x7f;
    u
}

/// Whether an X25519 public key has low order (on the curve or its twist):
/// every shared secret with it is one of eight values, whatever the secret key.
pub fn x25519_low_order(key: &[u8; 32]) -> bool {
    let mut u = *key;
    u[31] &= 0x7f;
    LOW_ORDER_U.contains(&u)
}

/// Reads the canonical key set at the start of `b` device by device (name,
/// Ed25519 key, X25519 key), checking its form, its names and their order
/// but not its keys' points; returns its length.
fn scan_key_set(
    b: &[u8],
    mut each: impl FnMut(&str, &[u8; 32], &[u8; 32]),
) -> Result<usize, Error> {
    let e = |r| Error::KeySet(r);
    let (&format, rest) = b
        .split_first()
        .ok_or(e(KeySetError::Truncated { offset: 0 }))?;
    if format != 0x01 {
        return Err(e(KeySetError::Format(format)));
    }
    let (&count, mut rest) = rest
        .split_first()
        .ok_or(e(KeySetError::Truncated { offset: 1 }))?;
    if usize::from(count) > MAX_DEVICES {
        return Err(e(KeySetError::TooManyDevices));
    }
    let mut previous: Option<&[u8]> = None;
    for _ in 0..count {
        let offset = b.len() - rest.len();
        let trunc = e(KeySetError::Truncated { offset });
        let (&n, r) = rest.split_first().ok_or(trunc.clone())?;
        let n = usize::from(n);
        if r.len() < n + 64 {
            return Err(trunc);
        }
        let name = std::str::from_utf8(&r[..n]).map_err(|_| e(KeySetError::DeviceName))?;
        if !valid_device_name(name) {
            return Err(e(KeySetError::DeviceName));
        }
        if previous.is_some_and(|p| p >= name.as_bytes()) {
            return Err(e(KeySetError::Order));
        }
        previous = Some(&r[..n]);
        let key = |at: usize| {
            let mut k = [0u8; 32];
            k.copy_from_slice(&r[at..at + 32]);
            k
        };
        each(name, &key(n), &key(n + 32));
        rest = &r[n + 64..];
    }
    Ok(b.len() - rest.len())
}

/// A binding entry as a replay reads it: its fields, its key set's hash and
/// Ed25519 keys, and a key holder's signature, with every form check of
/// [`Entry::decode`] but without checking the keys' curve points (the log
/// checked them before logging; a verifier that uses the keys decodes the
/// entry with [`Entry::decode`]). Fast enough for millions of entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingRecord {
    pub label: Hash,
    pub version: u64,
    pub authorization: Authorization,
    pub keys_hash: Hash,
    pub signing_keys: Vec<[u8; 32]>,
}

impl BindingRecord {
    /// Reads a binding entry.
    ///
    /// # Errors
    /// As [`Entry::decode`], except that no key's point is checked.
    pub fn read(b: &[u8]) -> Result<BindingRecord, Error> {
        let e = |r| Error::Entry(r);
        match b.first() {
            Some(&BINDING_TYPE) => {}
            Some(&MAP_ROOT_TYPE) => {
                MapRootEntry::decode(b)?;
                return Err(e(EntryError::NotBinding));
            }
            Some(&t) => return Err(e(EntryError::Type(t))),
            None => return Err(e(EntryError::Truncated { actual: 0 })),
        }
        if b.len() < BINDING_HEAD_LEN {
            return Err(e(EntryError::Truncated { actual: b.len() }));
        }
        let version = u64_at(b, 33);
        if version == 0 {
            return Err(e(EntryError::Version));
        }
        let mut signing_keys = Vec::new();
        let used = scan_key_set(&b[BINDING_HEAD_LEN..], |_, k, _| signing_keys.push(*k))?;
        let key_set = &b[BINDING_HEAD_LEN..BINDING_HEAD_LEN + used];
        let rest = &b[BINDING_HEAD_LEN + used..];
        let authorization = authorization_of(b[49], rest, b.len())?;
        check_authority_version(&authorization, version)?;
        let mut label = [0u8; 32];
        label.copy_from_slice(&b[1..33]);
        Ok(BindingRecord {
            label: Hash(label),
            version,
            authorization,
            keys_hash: sha256(key_set),
            signing_keys,
        })
    }

    /// Who authorised it.
    pub fn authority(&self) -> Authority {
        self.authorization.authority()
    }

    /// As [`Entry::check_authorization_keys`].
    ///
    /// # Errors
    /// As [`Entry::check_authorization_keys`].
    pub fn check_authorization_keys(&self, previous: &[[u8; 32]]) -> Result<(), Error> {
        check_signed(
            &self.authorization,
            &self.label,
            self.version,
            &self.keys_hash,
            previous,
        )
    }
}

/// The authorization an authority byte and the bytes after the key set
/// give; `total` is the entry's length (for errors).
fn authorization_of(byte: u8, rest: &[u8], total: usize) -> Result<Authorization, Error> {
    let e = |r| Error::Entry(r);
    let a = match byte {
        0 => Authorization::Enrollment,
        1 => {
            if rest.len() < 96 {
                return Err(e(EntryError::Truncated { actual: total }));
            }
            let mut signer = [0u8; 32];
            signer.copy_from_slice(&rest[..32]);
            let mut signature = [0u8; 64];
            signature.copy_from_slice(&rest[32..96]);
            Authorization::KeyHolder { signer, signature }
        }
        2 => Authorization::Operator,
        f => return Err(e(EntryError::Flags(f))),
    };
    let trailing = match a {
        Authorization::KeyHolder { .. } => rest.len() - 96,
        _ => rest.len(),
    };
    if trailing != 0 {
        return Err(e(EntryError::TrailingBytes));
    }
    Ok(a)
}

fn check_authority_version(a: &Authorization, version: u64) -> Result<(), Error> {
    match (a, version) {
        (Authorization::Enrollment, v) if v != 1 => {
            Err(Error::Entry(EntryError::AuthorityForVersion))
        }
        (Authorization::KeyHolder { .. }, 1) => Err(Error::Entry(EntryError::AuthorityForVersion)),
        _ => Ok(()),
    }
}

/// A key holder's signer must be one of `previous` and sign the publish message.
fn check_signed(
    a: &Authorization,
    label: &Hash,
    version: u64,
    keys_hash: &Hash,
    previous: &[[u8; 32]],
) -> Result<(), Error> {
    let Authorization::KeyHolder { signer, signature } = a else {
        return Ok(());
    };
    if !previous.contains(signer) {
        return Err(Error::Authority(AuthorityError::SignerNotCurrent));
    }
    // A key that is no point at all cannot be current either.
    let key = ed25519_dalek::VerifyingKey::from_bytes(signer)
        .map_err(|_| Error::Authority(AuthorityError::SignerNotCurrent))?;
    let msg = publish_message(label, version, keys_hash);
    key.verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(signature))
        .map_err(|_| Error::Authority(AuthorityError::Signature))
}

fn valid_device_name(n: &str) -> bool {
    (1..=64).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl KeySet {
    /// The empty key set (revocation).
    pub fn empty() -> KeySet {
        KeySet::default()
    }

    /// A key set from devices in any order.
    ///
    /// # Errors
    /// [`KeySetError::TooManyDevices`], [`KeySetError::DeviceName`],
    /// [`KeySetError::Order`] for duplicate names, [`KeySetError::SigningKey`].
    pub fn new(mut devices: Vec<Device>) -> Result<KeySet, Error> {
        devices.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        KeySet::checked(devices)
    }

    fn checked(devices: Vec<Device>) -> Result<KeySet, Error> {
        let mut ks = KeySet {
            devices,
            verifying: Vec::new(),
        };
        ks.verifying = ks.check()?;
        Ok(ks)
    }

    /// The decompressed Ed25519 key of the device whose key is `signing_key`.
    pub fn verifying_key(&self, signing_key: &[u8; 32]) -> Option<&ed25519_dalek::VerifyingKey> {
        self.devices
            .iter()
            .position(|d| d.signing_key == *signing_key)
            .and_then(|i| self.verifying.get(i))
    }

    fn check(&self) -> Result<Vec<ed25519_dalek::VerifyingKey>, Error> {
        let e = |r| Error::KeySet(r);
        if self.devices.len() > MAX_DEVICES {
            return Err(e(KeySetError::TooManyDevices));
        }
        let mut verifying = Vec::with_capacity(self.devices.len());
        for (i, d) in self.devices.iter().enumerate() {
            if !valid_device_name(&d.name) {
                return Err(e(KeySetError::DeviceName));
            }
            if i > 0 && self.devices[i - 1].name.as_bytes() >= d.name.as_bytes() {
                return Err(e(KeySetError::Order));
            }
            match ed25519_dalek::VerifyingKey::from_bytes(&d.signing_key) {
                Err(_) => return Err(e(KeySetError::SigningKey)),
                Ok(k) if k.is_weak() => return Err(e(KeySetError::WeakSigningKey)),
                Ok(k) => verifying.push(k),
            }
            if x25519_low_order(&d.encryption_key) {
                return Err(e(KeySetError::WeakEncryptionKey));
            }
        }
        Ok(verifying)
    }

    /// The devices, sorted by name.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0x01, self.devices.len() as u8];
        for d in &self.devices {
            b.push(d.name.len() as u8);
            b.extend_from_slice(d.name.as_bytes());
            b.extend_from_slice(&d.signing_key);
            b.extend_from_slice(&d.encryption_key);
        }
        b
    }

    /// Decodes a canonical encoding.
    ///
    /// # Errors
    /// [`Error::KeySet`] with the reason.
    pub fn decode(b: &[u8]) -> Result<KeySet, Error> {
        let (ks, used) = KeySet::decode_prefix(b)?;
        if used != b.len() {
            return Err(Error::KeySet(KeySetError::TrailingBytes));
        }
        Ok(ks)
    }

    /// Decodes the canonical key set at the start of `b`; returns it and
    /// its length (what follows is the caller's).
    ///
    /// # Errors
    /// As [`KeySet::decode`], but never `TrailingBytes`.
    pub fn decode_prefix(b: &[u8]) -> Result<(KeySet, usize), Error> {
        let mut devices = Vec::new();
        let used = scan_key_set(b, |name, signing_key, encryption_key| {
            devices.push(Device {
                name: name.to_owned(),
                signing_key: *signing_key,
                encryption_key: *encryption_key,
            });
        })?;
        Ok((KeySet::checked(devices)?, used))
    }

    /// keys_hash: SHA-256 of the canonical encoding.
    pub fn hash(&self) -> Hash {
        sha256(&self.encode())
    }
}
