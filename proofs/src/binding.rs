//! The ank binding entry and key sets.
//!
//! # Entry (v1, 82 bytes, all integers big-endian)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | format, 0x01 |
//! | 1 | 32 | label ([`crate::Address::label`]) |
//! | 33 | 8 | version: 1 for the first binding of a label, +1 for each later one |
//! | 41 | 8 | timestamp, milliseconds since the Unix epoch |
//! | 49 | 1 | flags: bits 0–1 who authorised it (0 enrollment token, 1 key holder, 2 operator recovery; 3 invalid); bits 2–7 zero |
//! | 50 | 32 | keys_hash: SHA-256 of the canonical key-set encoding |
//!
//! The entry holds no address and no key; its leaf hash in the log is the
//! RFC 9162 leaf hash of these 82 bytes. Revocation is a binding whose key
//! set is empty ([`KeySet::empty`]).
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

use crate::Error;
use crate::error::{EntryError, KeySetError};
use crate::hash::{Hash, leaf_hash, sha256};

/// Length of a v1 entry.
pub const ENTRY_LEN: usize = 82;
/// Most devices in a key set.
pub const MAX_DEVICES: usize = 16;

/// Who authorised a binding.
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
    fn bits(self) -> u8 {
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

/// One binding: the log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entry {
    pub label: Hash,
    pub version: u64,
    pub timestamp_ms: u64,
    pub authority: Authority,
    pub keys_hash: Hash,
}

impl Entry {
    /// The canonical 82-byte encoding.
    pub fn encode(&self) -> [u8; ENTRY_LEN] {
        let mut b = [0u8; ENTRY_LEN];
        b[0] = 0x01;
        b[1..33].copy_from_slice(&self.label.0);
        b[33..41].copy_from_slice(&self.version.to_be_bytes());
        b[41..49].copy_from_slice(&self.timestamp_ms.to_be_bytes());
        b[49] = self.authority.bits();
        b[50..82].copy_from_slice(&self.keys_hash.0);
        b
    }

    /// Decodes a canonical entry.
    ///
    /// # Errors
    /// [`Error::Entry`] with the reason.
    pub fn decode(b: &[u8]) -> Result<Entry, Error> {
        let e = |r| Error::Entry(r);
        let b: &[u8; ENTRY_LEN] = b
            .try_into()
            .map_err(|_| e(EntryError::Length { actual: b.len() }))?;
        if b[0] != 0x01 {
            return Err(e(EntryError::Format(b[0])));
        }
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_be_bytes(a)
        };
        let version = u64_at(33);
        if version == 0 {
            return Err(e(EntryError::Version));
        }
        let authority = match b[49] {
            0 => Authority::Enrollment,
            1 => Authority::KeyHolder,
            2 => Authority::Operator,
            f => return Err(e(EntryError::Flags(f))),
        };
        let mut label = [0u8; 32];
        label.copy_from_slice(&b[1..33]);
        let mut keys_hash = [0u8; 32];
        keys_hash.copy_from_slice(&b[50..82]);
        Ok(Entry {
            label: Hash(label),
            version,
            timestamp_ms: u64_at(41),
            authority,
            keys_hash: Hash(keys_hash),
        })
    }

    /// The RFC 9162 leaf hash of the encoding.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.encode())
    }

    /// Whether this binding revokes every key (its key set is empty).
    pub fn is_revocation(&self) -> bool {
        self.keys_hash == KeySet::empty().hash()
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
        let mut devices = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let offset = b.len() - rest.len();
            let trunc = e(KeySetError::Truncated { offset });
            let (&n, r) = rest.split_first().ok_or(trunc.clone())?;
            let n = usize::from(n);
            if r.len() < n + 64 {
                return Err(trunc);
            }
            let name = std::str::from_utf8(&r[..n]).map_err(|_| e(KeySetError::DeviceName))?;
            let mut signing_key = [0u8; 32];
            signing_key.copy_from_slice(&r[n..n + 32]);
            let mut encryption_key = [0u8; 32];
            encryption_key.copy_from_slice(&r[n + 32..n + 64]);
            devices.push(Device {
                name: name.to_owned(),
                signing_key,
                encryption_key,
            });
            rest = &r[n + 64..];
        }
        if !rest.is_empty() {
            return Err(e(KeySetError::TrailingBytes));
        }
        KeySet::checked(devices)
    }

    /// keys_hash: SHA-256 of the canonical encoding.
    pub fn hash(&self) -> Hash {
        sha256(&self.encode())
    }
}
