//! The JSON wire format between ank clients and a log server, and
//! verification of lookup answers.
//!
//! All byte strings in JSON are standard padded base64. A key holder signs
//! [`crate::binding::publish_message`] (Ed25519) to change its address's
//! keys; the log puts that signature in the binding entry.
//!
//! A lookup answer proves the address's binding in the map whose root is
//! the last entry of the checkpoint's tree (a map-root entry, see
//! [`crate::binding`]), and proves that entry, and the binding's entry, in
//! the tree with one several-leaf inclusion proof
//! ([`crate::tree::prove_inclusion_many`]). Checkpoints carry no extension
//! line: the map root is in the tree, which witnesses cosign.
//!
//! # Errors
//!
//! [`verify_lookup`] fails with the checkpoint's error, [`Error::Base64`],
//! [`Error::Entry`] / [`Error::KeySet`] for entries that do not decode,
//! [`Error::NoMapRoot`] for an empty tree, the map proof's errors, the
//! inclusion proof's errors (`ProofLength`, `RootMismatch`, `LeafOrder`,
//! `IndexOutOfRange`), or [`Error::LookupMismatch`] naming the field that
//! disagrees.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::address::Address;
use crate::binding::{Device, Entry, KeySet, MapRootEntry};
use crate::checkpoint::{VerifiedCheckpoint, verify_checkpoint};
use crate::hash::Hash;
use crate::map::{MapLookup, MapProof, verify_map_proof};
use crate::note::VerifierKey;
use crate::tree::verify_inclusion_many;

pub use crate::binding::publish_message;

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
        let msg = publish_message(&address.label(), version, &key_set.hash());
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
    /// The binding entry, base64.
    pub entry: String,
    /// A C2SP tlog-proof bundle of the entry.
    pub tlog_proof: String,
}

/// `GET /v1/lookup/{address}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupResponse {
    /// The canonical address.
    pub address: String,
    pub found: bool,
    /// The signed checkpoint everything is proven against.
    pub checkpoint: String,
    /// Entry `size - 1` of the checkpoint's tree, the map-root entry
    /// (41 bytes), base64: its root is the map the proof is against.
    pub map_root_entry: String,
    /// The map proof for the address's label (presence or absence), base64
    /// of [`crate::map::MapProof::encode`].
    pub map_proof: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<BindingJson>,
    /// The inclusion of the binding's entry (when found) and of entry
    /// `size - 1` in the checkpoint's tree, base64 hashes of
    /// [`crate::tree::prove_inclusion_many`].
    pub inclusion_proof: Vec<String>,
}

/// The current binding of an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingJson {
    pub index: u64,
    pub version: u64,
    /// The binding entry, with its key set, base64.
    pub entry: String,
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

/// A lookup answer that verified. Only [`verify_lookup`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLookup {
    address: Address,
    checkpoint: VerifiedCheckpoint,
    map_root: MapRootEntry,
    binding: Option<(u64, Entry)>,
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

    /// The map-root entry the answer is proven against (the tree's last).
    pub fn map_root(&self) -> &MapRootEntry {
        &self.map_root
    }

    /// The address's current binding (index, entry), or `None` when the
    /// map proves the address has never been bound.
    pub fn binding(&self) -> Option<(u64, &Entry)> {
        self.binding.as_ref().map(|(i, e)| (*i, e))
    }
}

/// Verifies a lookup answer for `address` against the log key: the
/// checkpoint's signature; that entry `size - 1` of its tree is the served
/// map-root entry; the map proof against that entry's root, which says
/// whether the address is bound and to which (version, index, entry hash);
/// when bound, that the served entry is that one and names the address's
/// label; and one inclusion proof of both entries in the tree.
///
/// # Errors
/// See the module docs.
pub fn verify_lookup(
    resp: &LookupResponse,
    address: &Address,
    log: &VerifierKey,
) -> Result<VerifiedLookup, Error> {
    let checkpoint = verify_checkpoint(resp.checkpoint.as_bytes(), log, &[])?;
    if resp.address != address.to_string() {
        return Err(Error::LookupMismatch { field: "address" });
    }
    let last = checkpoint
        .size()
        .checked_sub(1)
        .ok_or(Error::NoMapRoot { index: 0 })?;
    let map_root = MapRootEntry::decode(&b64(&resp.map_root_entry, "map-root entry")?)?;
    let proof = MapProof::decode(&b64(&resp.map_proof, "map proof")?)?;
    let label = address.label();
    let binding = match (
        verify_map_proof(&label, &proof, &map_root.root)?,
        &resp.binding,
    ) {
        (MapLookup::Absent, None) if !resp.found => None,
        (MapLookup::Present(v), Some(b)) if resp.found => {
            let raw = b64(&b.entry, "entry")?;
            let entry = Entry::decode(&raw)?;
            if entry.label != label {
                return Err(Error::LookupMismatch { field: "label" });
            }
            if crate::hash::leaf_hash(&raw) != v.entry_hash || b.index != v.index {
                return Err(Error::LookupMismatch { field: "entry" });
            }
            if entry.version != b.version || entry.version != v.version {
                return Err(Error::LookupMismatch { field: "version" });
            }
            Some((b.index, entry, crate::hash::leaf_hash(&raw)))
        }
        _ => return Err(Error::LookupMismatch { field: "found" }),
    };
    let proof = resp
        .inclusion_proof
        .iter()
        .map(|h| Hash::from_base64(h))
        .collect::<Result<Vec<_>, _>>()?;
    let mut leaves = Vec::with_capacity(2);
    if let Some((index, _, hash)) = &binding {
        leaves.push((*index, *hash));
    }
    leaves.push((last, map_root.leaf_hash()));
    verify_inclusion_many(&leaves, checkpoint.size(), &proof, checkpoint.root())?;
    Ok(VerifiedLookup {
        address: address.clone(),
        checkpoint,
        map_root,
        binding: binding.map(|(i, e, _)| (i, e)),
    })
}

fn b64(s: &str, what: &'static str) -> Result<Vec<u8>, Error> {
    STANDARD.decode(s).map_err(|_| Error::Base64 { what })
}
