//! The JSON wire format between ank clients and a log server, the canonical
//! publish message, and verification of lookup answers.
//!
//! All byte strings in JSON are standard padded base64. The publish message
//! a key holder signs (Ed25519) to change its address's keys is the UTF-8 text
//!
//! ```text
//! ank-publish-v1\n
//! <canonical address>\n
//! <new version, decimal>\n
//! <keys_hash of the new key set, base64>\n
//! ```
//!
//! Because it names the new version, a request can be applied at most once:
//! a replay names a version that is no longer next.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::address::Address;
use crate::binding::{Device, Entry, KeySet};
use crate::checkpoint::{VerifiedCheckpoint, verify_checkpoint};
use crate::hash::Hash;
use crate::note::VerifierKey;
use crate::tree::verify_inclusion;

/// One device in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceJson {
    pub name: String,
    /// Ed25519 public key, base64.
    pub ed25519: String,
    /// X25519 public key, base64.
    pub x25519: String,
}

impl DeviceJson {
    /// The JSON form of a device.
    pub fn from_device(d: &Device) -> Self {
        DeviceJson {
            name: d.name.clone(),
            ed25519: STANDARD.encode(d.signing_key),
            x25519: STANDARD.encode(d.encryption_key),
        }
    }
}

fn key32(s: &str) -> Option<[u8; 32]> {
    STANDARD.decode(s).ok()?.try_into().ok()
}

/// Parses devices from JSON into a canonical key set.
///
/// # Errors
/// [`Error::Base64`] for a key that is not base64 of 32 bytes; key-set errors.
pub fn key_set_from_json(devices: &[DeviceJson]) -> Result<KeySet, Error> {
    if devices.len() > crate::binding::MAX_DEVICES {
        return Err(Error::KeySet(crate::error::KeySetError::TooManyDevices));
    }
    let mut out = Vec::with_capacity(devices.len());
    for d in devices {
        out.push(Device {
            name: d.name.clone(),
            signing_key: key32(&d.ed25519).ok_or(Error::Base64 {
                what: "ed25519 key",
            })?,
            encryption_key: key32(&d.x25519).ok_or(Error::Base64 { what: "x25519 key" })?,
        });
    }
    KeySet::new(out)
}

/// The JSON form of a key set.
pub fn key_set_to_json(ks: &KeySet) -> Vec<DeviceJson> {
    ks.devices().iter().map(DeviceJson::from_device).collect()
}

/// A key holder's signature over the publish message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSignature {
    /// The signing device's Ed25519 public key (must be in the current key set), base64.
    pub public_key: String,
    /// Ed25519 signature over [`publish_message`], base64.
    pub signature: String,
}

/// `POST /v1/publish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// `user@domain` or `user!domain`.
    pub address: String,
    /// The new version: 1 for the first binding, current + 1 after that.
    pub version: u64,
    /// The new key set; empty to revoke every key.
    pub devices: Vec<DeviceJson>,
    /// The operator's enrollment token; required for version 1 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Required for versions after the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<RequestSignature>,
}

/// The answer to a publish: the entry is in a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishResponse {
    pub index: u64,
    /// The 82-byte entry, base64.
    pub entry: String,
    /// A C2SP tlog-proof bundle of the entry.
    pub tlog_proof: String,
}

/// `GET /v1/lookup/{address}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupResponse {
    /// The canonical address.
    pub address: String,
    pub found: bool,
    /// The signed checkpoint everything is proven against.
    pub checkpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<BindingJson>,
}

/// The current binding of an address, with its inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingJson {
    pub index: u64,
    pub version: u64,
    /// The 82-byte entry, base64.
    pub entry: String,
    /// The canonical key-set encoding, base64 (its SHA-256 is the entry's keys_hash).
    pub key_set: String,
    /// Inclusion proof of the entry in the checkpoint, base64 hashes.
    pub inclusion_proof: Vec<String>,
}

/// An error answer: a stable code and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: String,
    pub message: String,
}

/// `GET /v1/proof/inclusion` and `GET /v1/proof/consistency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofResponse {
    /// Leaf index (inclusion) or old size (consistency).
    pub from: u64,
    /// Tree size.
    pub size: u64,
    pub proof: Vec<String>,
}

/// The message a key holder signs to publish `keys_hash` as `version` of `address`.
pub fn publish_message(address: &Address, version: u64, keys_hash: &Hash) -> Vec<u8> {
    format!("ank-publish-v1\n{address}\n{version}\n{keys_hash}\n").into_bytes()
}

/// A lookup answer that verified. Only [`verify_lookup`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLookup {
    address: Address,
    checkpoint: VerifiedCheckpoint,
    binding: Option<(u64, Entry, KeySet)>,
}

impl VerifiedLookup {
    /// The address looked up.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The checkpoint the answer is proven against.
    pub fn checkpoint(&self) -> &VerifiedCheckpoint {
        &self.checkpoint
    }

    /// The binding's index, entry and key set, if the server claimed one.
    pub fn binding(&self) -> Option<(u64, &Entry, &KeySet)> {
        self.binding.as_ref().map(|(i, e, k)| (*i, e, k))
    }
}

/// Verifies a lookup answer for `address` against the log key: the
/// checkpoint's signature, that the entry names the address's label, that the
/// key set hashes to the entry's keys_hash, that the JSON fields agree with
/// the entry, and the entry's inclusion in the checkpoint. (Whether the
/// binding is the *current* one, or an absence is real, needs the map.)
///
/// # Errors
/// [`Error::LookupMismatch`] naming the field, [`Error::Base64`], and the
/// checkpoint, entry, key-set and inclusion errors.
pub fn verify_lookup(
    resp: &LookupResponse,
    address: &Address,
    log: &VerifierKey,
) -> Result<VerifiedLookup, Error> {
    let checkpoint = verify_checkpoint(resp.checkpoint.as_bytes(), log, &[])?;
    if resp.address != address.to_string() {
        return Err(Error::LookupMismatch { field: "address" });
    }
    let binding = match (&resp.binding, resp.found) {
        (None, false) => None,
        (Some(b), true) => {
            let raw = STANDARD
                .decode(&b.entry)
                .map_err(|_| Error::Base64 { what: "entry" })?;
            let entry = Entry::decode(&raw)?;
            if entry.label != address.label() {
                return Err(Error::LookupMismatch { field: "label" });
            }
            if entry.version != b.version {
                return Err(Error::LookupMismatch { field: "version" });
            }
            let ks_raw = STANDARD
                .decode(&b.key_set)
                .map_err(|_| Error::Base64 { what: "key set" })?;
            let key_set = KeySet::decode(&ks_raw)?;
            if key_set.hash() != entry.keys_hash {
                return Err(Error::LookupMismatch { field: "key_set" });
            }
            let proof = b
                .inclusion_proof
                .iter()
                .map(|h| Hash::from_base64(h))
                .collect::<Result<Vec<_>, _>>()?;
            verify_inclusion(
                &entry.leaf_hash(),
                b.index,
                checkpoint.size(),
                &proof,
                checkpoint.root(),
            )?;
            Some((b.index, entry, key_set))
        }
        _ => return Err(Error::LookupMismatch { field: "found" }),
    };
    Ok(VerifiedLookup {
        address: address.clone(),
        checkpoint,
        binding,
    })
}
