//! Who may publish what: the authorisation of `POST /v1/publish`, kept out
//! of the HTTP layer so that every front end applies the same rules.
//!
//! A request is accepted when
//!
//! * its address parses and belongs to this log's domain;
//! * its key set is canonical and holds no weak key ([`ank_proofs::KeySet`]);
//! * its version is the address's next one (a retry of the version already
//!   logged, with the same key set, is answered as the original was);
//! * version 1 carries an unused, unexpired enrollment token issued for that
//!   address; later versions are signed over [`publish_message`] by a key of
//!   the current key set, which must not be empty (revoked); the signer's
//!   key and signature go into the entry, so anyone replaying the log can
//!   check them;
//! * every Ed25519 key that the current key set does not already hold signs
//!   the same message (`possession`): nobody can bind a key they do not hold.
//!
//! Each refusal is a [`PublishError`] with a stable code.

use ank_proofs::api::{PublishRequest, RequestSignature, key_set_from_json, publish_message};
use ank_proofs::{Address, Authorization, Entry, Hash, KeySet};

use crate::Log;
use crate::store::StoreError;

/// Why a publish was refused.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("invalid address: {0}")]
    BadAddress(ank_proofs::Error),
    #[error("{address} is not of this log's domain {domain}")]
    WrongDomain { address: String, domain: String },
    #[error("version must be 1 for the first binding, then current + 1")]
    BadVersion,
    #[error("invalid key set: {0}")]
    BadKeys(ank_proofs::Error),
    #[error("version {got} is not next: the address is at version {current}")]
    StaleVersion { got: u64, current: u64 },
    #[error("the first binding of an address needs the operator's enrollment token")]
    MissingToken,
    #[error("no such enrollment token for this address")]
    UnknownToken,
    #[error("this enrollment token was already used")]
    UsedToken,
    #[error("this enrollment token has expired; ask the operator for a new one")]
    ExpiredToken,
    #[error("a later binding must be signed by a current key of the address")]
    MissingSignature,
    #[error("the address has no current keys; only the operator can recover it")]
    Revoked,
    #[error("{0} is not base64 of the right length")]
    Malformed(&'static str),
    #[error("the signing key is not a current key of the address")]
    UnknownKey,
    #[error("the signature does not verify over this request")]
    BadSignature,
    #[error(
        "the new key of device {device} did not sign the request (proof of possession missing)"
    )]
    MissingPossession { device: String },
    #[error("the proof of possession of device {device}'s key does not verify")]
    BadPossession { device: String },
    #[error("a possession signature names a key that is not new in this key set")]
    UnexpectedPossession,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PublishError {
    /// The stable error code of the JSON answer.
    pub fn code(&self) -> &'static str {
        match self {
            PublishError::BadAddress(_) => "bad_address",
            PublishError::WrongDomain { .. } => "wrong_domain",
            PublishError::BadVersion => "bad_version",
            PublishError::BadKeys(_) => "bad_keys",
            PublishError::StaleVersion { .. } => "stale_version",
            PublishError::MissingToken => "missing_token",
            PublishError::UnknownToken => "unknown_token",
            PublishError::UsedToken => "used_token",
            PublishError::ExpiredToken => "expired_token",
            PublishError::MissingSignature => "missing_signature",
            PublishError::Revoked => "revoked",
            PublishError::Malformed(_) | PublishError::BadSignature => "bad_signature",
            PublishError::UnknownKey => "unknown_key",
            PublishError::MissingPossession { .. } => "missing_possession",
            PublishError::BadPossession { .. } | PublishError::UnexpectedPossession => {
                "bad_possession"
            }
            PublishError::Store(_) => "internal",
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        match self {
            PublishError::BadAddress(_)
            | PublishError::WrongDomain { .. }
            | PublishError::BadVersion
            | PublishError::BadKeys(_)
            | PublishError::Malformed(_) => 400,
            PublishError::MissingToken | PublishError::MissingSignature => 401,
            PublishError::StaleVersion { .. } => 409,
            PublishError::Store(_) => 500,
            _ => 403,
        }
    }
}

/// What an authorised request asks the sequencer for.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one short-lived value per request, moved once into the job"
)]
pub enum Decision {
    /// The same request already succeeded: answer with the entry at `index`.
    Retry { index: u64 },
    /// A new entry.
    Append {
        label: Hash,
        version: u64,
        key_set: KeySet,
        /// Enrollment, or the key holder's signature that goes into the entry.
        authorization: Authorization,
        /// SHA-256 of the enrollment token, for version 1.
        token: Option<Hash>,
    },
}

fn key32(s: &str, what: &'static str) -> Result<[u8; 32], PublishError> {
    ank_common::b64_array(s).ok_or(PublishError::Malformed(what))
}

fn signature64(sig: &str) -> Result<[u8; 64], PublishError> {
    ank_common::b64_array(sig).ok_or(PublishError::Malformed("signature"))
}

fn verify_sig(vk: &ed25519_dalek::VerifyingKey, sig: &[u8; 64], msg: &[u8]) -> bool {
    vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig))
        .is_ok()
}

/// Checks the proofs of possession: each names a key of `new` and verifies
/// over `msg`, and every Ed25519 key of `new` that `current` lacks has one.
fn check_possession(
    new: &KeySet,
    current: Option<&KeySet>,
    proofs: &[RequestSignature],
    msg: &[u8],
) -> Result<(), PublishError> {
    let mut proven = Vec::with_capacity(proofs.len());
    for p in proofs {
        let k = key32(&p.public_key, "possession public_key")?;
        let (Some(d), Some(vk)) = (
            new.devices().iter().find(|d| d.signing_key == k),
            new.verifying_key(&k),
        ) else {
            return Err(PublishError::UnexpectedPossession);
        };
        if !verify_sig(vk, &signature64(&p.signature)?, msg) {
            return Err(PublishError::BadPossession {
                device: d.name.clone(),
            });
        }
        proven.push(k);
    }
    let held =
        |k: &[u8; 32]| current.is_some_and(|c| c.devices().iter().any(|d| d.signing_key == *k));
    for d in new.devices() {
        if !held(&d.signing_key) && !proven.contains(&d.signing_key) {
            return Err(PublishError::MissingPossession {
                device: d.name.clone(),
            });
        }
    }
    Ok(())
}

impl Log {
    /// The domain whose addresses this log holds: the origin up to its first `/`.
    pub fn domain(&self) -> &str {
        self.origin().split('/').next().unwrap_or_default()
    }

    /// The binding entry at `index`, decoded, and its bytes, checked
    /// against the leaf hash stored in the tree: a row changed behind the
    /// log's back authorises nothing.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a missing row, one whose leaf hash is not
    /// the tree's, or one that is not a binding entry.
    pub fn stored_entry(&self, index: u64) -> Result<(Entry, Vec<u8>), StoreError> {
        let raw = self
            .store
            .entry(index)?
            .ok_or_else(|| StoreError::Corrupt(format!("entry {index} missing")))?;
        let leaf = self
            .store
            .read_hashes(&[ank_proofs::tree::stored_hash_index(0, index)])?;
        if leaf.first() != Some(&ank_proofs::leaf_hash(&raw)) {
            return Err(StoreError::Corrupt(format!(
                "entry {index} does not match the tree's leaf hash"
            )));
        }
        let entry =
            Entry::decode(&raw).map_err(|e| StoreError::Corrupt(format!("entry {index}: {e}")))?;
        Ok((entry, raw))
    }

    /// Checks a publish request against the log's state (see the module docs).
    ///
    /// # Errors
    /// [`PublishError`] naming the refusal.
    pub fn authorize_publish(
        &self,
        req: &PublishRequest,
        now_ms: u64,
    ) -> Result<Decision, PublishError> {
        let address = Address::parse(&req.address).map_err(PublishError::BadAddress)?;
        if address.domain() != self.domain() {
            return Err(PublishError::WrongDomain {
                address: address.to_string(),
                domain: self.domain().to_owned(),
            });
        }
        if req.version == 0 || req.version >= 1 << 62 {
            return Err(PublishError::BadVersion);
        }
        let key_set = key_set_from_json(&req.devices).map_err(PublishError::BadKeys)?;
        let label = address.label();
        let current = self.store.binding(&label)?;
        if let Some((v, idx)) = current
            && v == req.version
        {
            let (entry, _) = self.stored_entry(idx)?;
            if entry.key_set == key_set {
                return Ok(Decision::Retry { index: idx });
            }
        }
        let cur_version = current.map_or(0, |(v, _)| v);
        if req.version != cur_version + 1 {
            return Err(PublishError::StaleVersion {
                got: req.version,
                current: cur_version,
            });
        }
        let msg = publish_message(&label, req.version, &key_set.hash());
        let (authorization, token, current_keys) = if req.version == 1 {
            let token = req.token.as_deref().ok_or(PublishError::MissingToken)?;
            let th = ank_proofs::hash::sha256(token.as_bytes());
            match self.store.token(&th)? {
                None => return Err(PublishError::UnknownToken),
                Some(t) if t.label != label => return Err(PublishError::UnknownToken),
                Some(t) if t.used_by.is_some() => return Err(PublishError::UsedToken),
                Some(t) if t.expires_ms <= now_ms => return Err(PublishError::ExpiredToken),
                Some(_) => {}
            }
            (Authorization::Enrollment, Some(th), None)
        } else {
            let sig = req
                .signature
                .as_ref()
                .ok_or(PublishError::MissingSignature)?;
            let (current_entry, _) = self.stored_entry(current.map_or(0, |(_, i)| i))?;
            let current_keys = current_entry.key_set;
            if current_keys.devices().is_empty() {
                return Err(PublishError::Revoked);
            }
            let pk = key32(&sig.public_key, "public_key")?;
            let vk = current_keys
                .verifying_key(&pk)
                .ok_or(PublishError::UnknownKey)?;
            let signature = signature64(&sig.signature)?;
            if !verify_sig(vk, &signature, &msg) {
                return Err(PublishError::BadSignature);
            }
            let authorization = Authorization::KeyHolder {
                signer: pk,
                signature,
            };
            (authorization, None, Some(current_keys))
        };
        check_possession(&key_set, current_keys.as_ref(), &req.possession, &msg)?;
        Ok(Decision::Append {
            label,
            version: req.version,
            key_set,
            authorization,
            token,
        })
    }
}
