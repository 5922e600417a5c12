//! The log answering for its own domain inside the process: lookup answers
//! built from the latest checkpoint and map, the in-process
//! [`Directory`] a mailbox beside the log uses, and the [`LogView`] with
//! which it checks checkpoints that senders were shown.

use std::sync::Arc;

use ank_common::directory::{DirFuture, Directory, DirectoryError, LogView, Resolved};
use ank_proofs::api::{BindingJson, LookupResponse};
use ank_proofs::tree::prove_inclusion_many;
use ank_proofs::{Address, Hash};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::Log;
use crate::store::{StoreError, StoreHashReader};

impl Log {
    /// The lookup answer for `address` against the latest checkpoint: the
    /// map proof of its label against the tree's last entry (the map-root
    /// entry), the binding entry when bound, and one inclusion proof of
    /// both entries.
    ///
    /// # Errors
    /// Store errors, [`StoreError::Corrupt`] for a stored row that is not
    /// the binding the map names.
    pub fn lookup_answer(&self, address: &Address) -> Result<LookupResponse, StoreError> {
        self.resolve(address).map(|(answer, _)| answer)
    }

    /// As [`Log::lookup_answer`], with the key set it proves.
    ///
    /// # Errors
    /// As [`Log::lookup_answer`].
    pub fn resolve(
        &self,
        address: &Address,
    ) -> Result<(LookupResponse, Option<ank_proofs::KeySet>), StoreError> {
        let label = address.label();
        // Map and checkpoint are read together, under the map's shared lock.
        let ((cp, map_root), proof, value) = {
            let map = self.map();
            (
                self.latest_with_map_root(),
                map.proof(&label),
                map.get(&label),
            )
        };
        let proof =
            proof.ok_or_else(|| StoreError::Corrupt("the map has pending hashes".into()))?;
        let last = cp.size.saturating_sub(1);
        let binding = value
            .map(|v| -> Result<_, StoreError> {
                // Checked against the map's entry hash, which the answer's
                // map proof commits to (no second read for the tree's leaf).
                let raw = self
                    .store
                    .entry(v.index)?
                    .ok_or_else(|| StoreError::Corrupt(format!("entry {} missing", v.index)))?;
                let entry = ank_proofs::Entry::decode(&raw)
                    .map_err(|e| StoreError::Corrupt(format!("entry {}: {e}", v.index)))?;
                if entry.label != label || ank_proofs::leaf_hash(&raw) != v.entry_hash {
                    return Err(StoreError::Corrupt(format!(
                        "entry {} is not the binding the map names",
                        v.index
                    )));
                }
                Ok((v, entry, raw))
            })
            .transpose()?;
        let mut leaves = Vec::with_capacity(2);
        if let Some((v, _, _)) = &binding {
            leaves.push(v.index);
        }
        leaves.push(last);
        let inclusion = prove_inclusion_many(&leaves, cp.size, &StoreHashReader(&*self.store))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let answer = LookupResponse {
            address: address.to_string(),
            found: binding.is_some(),
            checkpoint: cp.note.clone(),
            map_root_entry: STANDARD.encode(map_root.encode()),
            map_proof: STANDARD.encode(proof.encode()),
            binding: binding.as_ref().map(|(v, _, raw)| BindingJson {
                index: v.index,
                version: v.version,
                entry: STANDARD.encode(raw),
            }),
            inclusion_proof: inclusion.iter().map(Hash::to_base64).collect(),
        };
        Ok((answer, binding.map(|(_, e, _)| e.key_set)))
    }
}

/// The log's own domain, answered in-process (off the async workers).
///
/// Answers are kept until the log's checkpoint moves on: mail from and to
/// the same addresses costs no sqlite read while no key changes.
#[derive(Debug)]
pub struct LocalDirectory {
    log: Arc<Log>,
    cache: std::sync::Mutex<std::collections::HashMap<Address, (u64, Resolved)>>,
}

impl LocalDirectory {
    /// The directory of `log`'s domain.
    pub fn new(log: Arc<Log>) -> LocalDirectory {
        LocalDirectory {
            log,
            cache: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }
}

impl Directory for LocalDirectory {
    fn current<'a>(&'a self, address: &'a Address) -> DirFuture<'a> {
        Box::pin(async move {
            let size = self.log.latest().size;
            if let Ok(c) = self.cache.lock()
                && let Some((at, hit)) = c.get(address)
                && *at == size
            {
                return Ok(hit.clone());
            }
            let unverified = |message: String| DirectoryError::Unverified {
                domain: address.domain().to_owned(),
                message,
            };
            let log = Arc::clone(&self.log);
            let a = address.clone();
            let (answer, keys) = tokio::task::spawn_blocking(move || log.resolve(&a))
                .await
                .map_err(|e| unverified(e.to_string()))?
                .map_err(|e| unverified(e.to_string()))?;
            let answered_at = ank_proofs::Note::parse(answer.checkpoint.as_bytes())
                .ok()
                .and_then(|n| ank_proofs::Checkpoint::parse(n.text()).ok())
                .map_or(0, |c| c.size);
            let resolved = Resolved {
                keys,
                proof: Some(answer),
            };
            if let Ok(mut c) = self.cache.lock() {
                if c.len() >= ank_common::directory::CACHE_ENTRIES {
                    c.clear();
                }
                c.insert(address.clone(), (answered_at, resolved.clone()));
            }
            Ok(resolved)
        })
    }
}

impl LogView for Log {
    fn evidence_against(
        &self,
        other: &ank_proofs::VerifiedCheckpoint,
    ) -> Option<ank_proofs::evidence::Evidence> {
        let latest = self.latest();
        let ours = ank_proofs::verify_checkpoint(latest.note.as_bytes(), &self.vkey, &[]).ok()?;
        if other.size() == ours.size() {
            return (other.root() != ours.root())
                .then(|| ank_proofs::evidence::Evidence::same_size(other, &ours));
        }
        if other.size() > ours.size() {
            return None;
        }
        ank_proofs::evidence::Evidence::from_larger_tree(
            other,
            &ours,
            &StoreHashReader(&*self.store),
        )
        .ok()
    }

    fn vkey(&self) -> &ank_proofs::VerifierKey {
        &self.vkey
    }

    fn head(&self) -> (u64, Hash) {
        let latest = self.latest();
        (latest.size, latest.root)
    }

    fn root_at(&self, size: u64) -> Option<Hash> {
        let latest = self.latest();
        if size > latest.size {
            return None;
        }
        if size == latest.size {
            return Some(latest.root);
        }
        ank_proofs::tree_hash(size, &StoreHashReader(&*self.store)).ok()
    }
}
