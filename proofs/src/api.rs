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
//!
//! Every checkpoint of an ank log carries the map root as the extension line
//! `ank-map/v1 <base64 root>` (see [`crate::map`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::address::Address;
use crate::binding::{Device, Entry, KeySet};
use crate::checkpoint::{VerifiedCheckpoint, verify_checkpoint};
use crate::hash::Hash;
use crate::map::{MapLookup, MapProof, verify_map_proof};
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

use crate::hash::b64_array as key32;

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
    /// Proof of possession: a signature over the same publish message by
    /// every Ed25519 key of `devices` that the current key set does not hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub possession: Vec<RequestSignature>,
}

/// How a publish is authorised: an enrollment token (version 1) or a
/// current key of the address (later versions).
#[derive(Debug, Clone, Copy)]
pub enum PublishAuth<'a> {
    Token(&'a str),
    Key(&'a ed25519_dalek::SigningKey),
}

fn request_signature(key: &ed25519_dalek::SigningKey, msg: &[u8]) -> RequestSignature {
    use ed25519_dalek::Signer as _;
    RequestSignature {
        public_key: STANDARD.encode(key.verifying_key().to_bytes()),
        signature: STANDARD.encode(key.sign(msg).to_bytes()),
    }
}

impl PublishRequest {
    /// A complete request binding `key_set` as `version` of `address`,
    /// authorised by `auth` and signed by every key in `new_keys` (the
    /// secret halves of the key set's Ed25519 keys that are new).
    pub fn new(
        address: &Address,
        version: u64,
        key_set: &KeySet,
        auth: PublishAuth<'_>,
        new_keys: &[&ed25519_dalek::SigningKey],
    ) -> PublishRequest {
        let msg = publish_message(address, version, &key_set.hash());
        let (token, signature) = match auth {
            PublishAuth::Token(t) => (Some(t.to_owned()), None),
            PublishAuth::Key(k) => (None, Some(request_signature(k, &msg))),
        };
        PublishRequest {
            address: address.to_string(),
            version,
            devices: key_set_to_json(key_set),
            token,
            signature,
            possession: new_keys
                .iter()
                .map(|k| request_signature(k, &msg))
                .collect(),
        }
    }
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
    /// The signed checkpoint everything is proven against; its
    /// `ank-map/v1 <root>` extension line is the map root.
    pub checkpoint: String,
    /// The map proof for the address's label (presence or absence), base64
    /// of [`crate::map::MapProof::encode`].
    pub map_proof: String,
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

/// The checkpoint extension line that carries the map root.
pub const MAP_ROOT_PREFIX: &str = "ank-map/v1 ";

/// The map root a checkpoint signs, from its `ank-map/v1 <base64>` line.
///
/// # Errors
/// [`Error::LookupMismatch`] (`map root`) when the line is absent or not a hash.
pub fn map_root(cp: &VerifiedCheckpoint) -> Result<Hash, Error> {
    map_root_line(cp.checkpoint()).ok_or(Error::LookupMismatch { field: "map root" })
}

/// The map root named by a checkpoint's `ank-map/v1` line, if it has one
/// (whether the checkpoint was verified is the caller's business).
pub fn map_root_line(cp: &crate::Checkpoint) -> Option<Hash> {
    cp.extensions
        .iter()
        .find_map(|l| l.strip_prefix(MAP_ROOT_PREFIX))
        .and_then(|r| Hash::from_base64(r).ok())
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

    /// The address's current binding (index, entry, key set), or `None`
    /// when the map proves the address has never been bound.
    pub fn binding(&self) -> Option<(u64, &Entry, &KeySet)> {
        self.binding.as_ref().map(|(i, e, k)| (*i, e, k))
    }
}

/// Verifies a lookup answer for `address` against the log key: the
/// checkpoint's signature; the map proof against the checkpoint's map root,
/// which says whether the address is bound and to which (version, index,
/// entry hash); and, when bound, that the entry is that one, names the
/// address's label, has the served key set, and is included in the log.
///
/// # Errors
/// [`Error::LookupMismatch`] naming the field, [`Error::Base64`], and the
/// checkpoint, map-proof, entry, key-set and inclusion errors.
pub fn verify_lookup(
    resp: &LookupResponse,
    address: &Address,
    log: &VerifierKey,
) -> Result<VerifiedLookup, Error> {
    let checkpoint = verify_checkpoint(resp.checkpoint.as_bytes(), log, &[])?;
    if resp.address != address.to_string() {
        return Err(Error::LookupMismatch { field: "address" });
    }
    let root = map_root(&checkpoint)?;
    let proof_bytes = STANDARD
        .decode(&resp.map_proof)
        .map_err(|_| Error::Base64 { what: "map proof" })?;
    let proof = MapProof::decode(&proof_bytes)?;
    let label = address.label();
    let binding = match (verify_map_proof(&label, &proof, &root)?, &resp.binding) {
        (MapLookup::Absent, None) if !resp.found => None,
        (MapLookup::Present(v), Some(b)) if resp.found => {
            let raw = STANDARD
                .decode(&b.entry)
                .map_err(|_| Error::Base64 { what: "entry" })?;
            let entry = Entry::decode(&raw)?;
            if entry.label != label {
                return Err(Error::LookupMismatch { field: "label" });
            }
            if entry.leaf_hash() != v.entry_hash || b.index != v.index {
                return Err(Error::LookupMismatch { field: "entry" });
            }
            if entry.version != b.version || entry.version != v.version {
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
