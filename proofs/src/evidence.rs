//! Evidence that one log key signed two histories that cannot both be true,
//! self-contained and checkable offline with the log's verifier key.
//!
//! # Text format (`ank-evidence/v1`)
//!
//! UTF-8 lines, each ending in LF, in this order and nothing else:
//!
//! ```text
//! ank-evidence/v1
//! kind <same-size | inconsistent | map-root>
//! note <base64 of the first signed checkpoint note>
//! note <base64 of the second signed checkpoint note>   (not for map-root)
//! seed <base64 hash>          (inconsistent only)
//! hash <base64 hash>          (inconsistent only; zero or more, in order)
//! first <decimal entry index> (map-root only; then its entry, hash and map lines)
//! entry <base64 entry>        (map-root only; two or more, in index order)
//! hash <base64 hash>          (map-root only; zero or more, in order)
//! map <base64 map proof>      (map-root only; one per binding entry, in order)
//! ```
//!
//! * **same-size**: two checkpoints of the log's origin with the same size
//!   and different roots.
//! * **inconsistent**: checkpoints of sizes n < m (the first is the
//!   smaller), and hashes of the larger tree: the node a consistency proof
//!   from n to m starts at (`seed`: for n a power of two the tree's node over
//!   the first n leaves, otherwise the first hash of the RFC 9162 proof) and
//!   the rest of that proof. With them the proof's computation reproduces
//!   the larger checkpoint's root but not the smaller one's. Hashes that
//!   reproduce a signed root are, by collision resistance, that tree's true
//!   nodes; so the larger tree does not extend the smaller one.
//! * **map-root**: one checkpoint, and the entries `first ..= k` of its
//!   tree ([`crate::binding`]): the map-root entry at `first` (or, when
//!   `first` is 0 and that entry is a binding, the empty map), then binding
//!   entries only, then the map-root entry at `k`; the several-leaf
//!   inclusion proof ([`crate::tree::prove_inclusion_many`]) of all of them
//!   in the checkpoint's tree; and for each binding, in order, a map proof
//!   ([`crate::map::MapProof`]) of its label against the map as the entries
//!   before it leave it. Starting from the first map root, each proof gives
//!   the label's version before the binding and, with
//!   [`crate::map::root_after_update`], the root after it. The evidence
//!   holds when a binding's version is not the next one, or when the root
//!   after the last binding is not the root of the entry at `k`: the log
//!   signed a map root that its own entries contradict. (Map proofs bind by
//!   collision resistance, so no honest log's entries yield one.)
//!
//! # Errors
//!
//! [`crate::Error::Evidence`] with an [`EvidenceError`]: the text's form, a
//! checkpoint that does not verify under the key (as the checkpoint error),
//! checkpoints of another origin, or checkpoints that do not contradict each
//! other, or entries that do not contradict their map root (`NotAFork`);
//! for map-root evidence also the inclusion proof's errors, the entries'
//! decoding errors and the map proofs' errors.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::Error;
use crate::binding::LogEntry;
use crate::checkpoint::{VerifiedCheckpoint, verify_checkpoint};
use crate::hash::Hash;
use crate::map::{MapLookup, MapProof, MapValue, root_after_update, verify_map_proof};
use crate::note::VerifierKey;

/// Most entries map-root evidence may hold (a batch is far smaller).
pub const MAX_EVIDENCE_ENTRIES: usize = 1 << 17;

/// The first line of every piece of evidence.
pub const EVIDENCE_HEADER: &str = "ank-evidence/v1";

/// Why a text is not evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("malformed evidence: {0}")]
    Format(&'static str),
    #[error("the two checkpoints do not contradict each other")]
    NotAFork,
}

/// Which contradiction the evidence shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceKind {
    SameSize,
    Inconsistent,
    MapRoot,
}

impl EvidenceKind {
    /// The name in the `kind` line.
    pub fn name(self) -> &'static str {
        match self {
            EvidenceKind::SameSize => "same-size",
            EvidenceKind::Inconsistent => "inconsistent",
            EvidenceKind::MapRoot => "map-root",
        }
    }
}

/// A piece of evidence (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// The signed checkpoint notes: two (for `Inconsistent`, the smaller
    /// first), or one for `MapRoot`.
    pub notes: Vec<String>,
    /// For `Inconsistent`: the proof's seed.
    pub seed: Option<Hash>,
    /// For `Inconsistent`, the rest of the consistency proof; for
    /// `MapRoot`, the inclusion proof of the entries.
    pub path: Vec<Hash>,
    /// For `MapRoot`: the entries and their map proofs.
    pub map: Option<MapRootParts>,
}

/// The entries of map-root evidence and the map proofs of its bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRootParts {
    /// Index of `entries[0]` in the tree.
    pub first: u64,
    pub entries: Vec<Vec<u8>>,
    pub map_proofs: Vec<MapProof>,
}

/// Evidence that verified: its kind and its checkpoints (two, or one for
/// `MapRoot`), all of the log's origin.
#[derive(Debug, Clone)]
pub struct VerifiedEvidence {
    pub kind: EvidenceKind,
    pub checkpoints: Vec<VerifiedCheckpoint>,
    /// For `MapRoot`: the index of the contradicted entry.
    pub contradicted: Option<u64>,
}

fn format(what: &'static str) -> Error {
    Error::Evidence(EvidenceError::Format(what))
}

impl Evidence {
    /// Two checkpoints of the same size with different roots.
    pub fn same_size(first: &VerifiedCheckpoint, second: &VerifiedCheckpoint) -> Evidence {
        Evidence {
            kind: EvidenceKind::SameSize,
            notes: vec![first.note().to_text(), second.note().to_text()],
            seed: None,
            path: Vec::new(),
            map: None,
        }
    }

    /// A smaller and a larger checkpoint, with the larger tree's hashes of
    /// the consistency proof between them (see the module docs).
    pub fn inconsistent(
        smaller: &VerifiedCheckpoint,
        larger: &VerifiedCheckpoint,
        seed: Hash,
        path: Vec<Hash>,
    ) -> Evidence {
        Evidence {
            kind: EvidenceKind::Inconsistent,
            notes: vec![smaller.note().to_text(), larger.note().to_text()],
            seed: Some(seed),
            path,
            map: None,
        }
    }

    /// Map-root evidence (see the module docs): the checkpoint, the
    /// entries from `first` on, their inclusion proof, and the map proofs
    /// of the bindings among them. [`crate::map::Replay::map_root_evidence`]
    /// builds it from a replay.
    pub fn map_root(
        checkpoint: &VerifiedCheckpoint,
        first: u64,
        entries: Vec<Vec<u8>>,
        inclusion: Vec<Hash>,
        map_proofs: Vec<MapProof>,
    ) -> Evidence {
        Evidence {
            kind: EvidenceKind::MapRoot,
            notes: vec![checkpoint.note().to_text()],
            seed: None,
            path: inclusion,
            map: Some(MapRootParts {
                first,
                entries,
                map_proofs,
            }),
        }
    }

    /// Checks map-root evidence against its (verified) checkpoint; returns
    /// the index of the contradicted entry.
    ///
    /// # Errors
    /// See the module docs.
    pub fn verify_map_root(&self, cp: &VerifiedCheckpoint) -> Result<u64, Error> {
        let not_a_fork = || Error::Evidence(EvidenceError::NotAFork);
        let parts = self.map.as_ref().ok_or_else(|| format("no entries"))?;
        let n = parts.entries.len() as u64;
        if n < 2 {
            return Err(format("map-root evidence needs two entries or more"));
        }
        let last = parts
            .first
            .checked_add(n - 1)
            .ok_or_else(|| format("entry index overflows"))?;
        // Every index is at most `last`, which did not overflow.
        let leaves: Vec<(u64, Hash)> = parts
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (parts.first + i as u64, crate::hash::leaf_hash(e)))
            .collect();
        crate::tree::verify_inclusion_many(&leaves, cp.size(), &self.path, cp.root())?;
        let decoded = parts
            .entries
            .iter()
            .map(|e| LogEntry::decode(e))
            .collect::<Result<Vec<_>, _>>()?;
        let (mut root, bindings) = match decoded.split_first() {
            Some((LogEntry::MapRoot(m), rest)) => (m.root, rest),
            Some((LogEntry::Binding(_), _)) if parts.first == 0 => {
                (crate::map::empty_root(), &decoded[..])
            }
            _ => return Err(format("the first entry must be a map-root entry")),
        };
        let (Some(LogEntry::MapRoot(end)), bindings) = (bindings.last(), bindings) else {
            return Err(format("the last entry must be a map-root entry"));
        };
        let bindings = &bindings[..bindings.len() - 1];
        if bindings.len() != parts.map_proofs.len() {
            return Err(format("one map proof per binding entry"));
        }
        let offset = n - 1 - bindings.len() as u64;
        for (i, (entry, proof)) in bindings.iter().zip(&parts.map_proofs).enumerate() {
            let LogEntry::Binding(b) = entry else {
                return Err(format("only binding entries between the two map roots"));
            };
            let version = match verify_map_proof(&b.label, proof, &root)? {
                MapLookup::Present(v) => v.version,
                MapLookup::Absent => 0,
            };
            if b.version != version + 1 {
                // A version the map before it does not allow.
                return Ok(parts.first + offset + i as u64);
            }
            let index = parts.first + offset + i as u64;
            let value = MapValue {
                version: b.version,
                index,
                entry_hash: leaves[(offset as usize) + i].1,
            };
            root = root_after_update(&b.label, proof, &root, &value)?;
        }
        if root == end.root {
            return Err(not_a_fork());
        }
        Ok(last)
    }

    /// Inconsistent-kind evidence, its hashes read from the larger tree
    /// (`larger_tree`: the stored hashes of that tree, e.g. from its tiles).
    ///
    /// # Errors
    /// Reader errors; [`EvidenceError::NotAFork`] when the larger tree does
    /// extend the smaller checkpoint.
    pub fn from_larger_tree(
        smaller: &VerifiedCheckpoint,
        larger: &VerifiedCheckpoint,
        larger_tree: &(impl crate::tree::HashReader + ?Sized),
    ) -> Result<Evidence, Error> {
        let (n, m) = (smaller.size(), larger.size());
        if n == 0 || n >= m {
            return Err(Error::Evidence(EvidenceError::NotAFork));
        }
        let proof = crate::tree::prove_consistency(n, m, larger_tree)?;
        let (seed, path) = if n.is_power_of_two() {
            (crate::tree::tree_hash(n, larger_tree)?, proof)
        } else {
            let (first, rest) = proof
                .split_first()
                .ok_or(Error::Evidence(EvidenceError::NotAFork))?;
            (*first, rest.to_vec())
        };
        let e = Evidence::inconsistent(smaller, larger, seed, path);
        e.verify_parts(smaller, larger)?;
        Ok(e)
    }

    fn verify_parts(&self, a: &VerifiedCheckpoint, b: &VerifiedCheckpoint) -> Result<(), Error> {
        let not_a_fork = Error::Evidence(EvidenceError::NotAFork);
        match self.kind {
            EvidenceKind::MapRoot => return Err(format("map-root evidence has one checkpoint")),
            EvidenceKind::SameSize => {
                if a.size() != b.size() || a.root() == b.root() {
                    return Err(not_a_fork);
                }
            }
            EvidenceKind::Inconsistent => {
                if a.size() == 0 || a.size() >= b.size() {
                    return Err(not_a_fork);
                }
                let seed = self.seed.ok_or_else(|| format("no seed"))?;
                let (fr, sr) =
                    crate::tree::consistency_roots(a.size(), b.size(), &seed, &self.path)?;
                if sr != *b.root() || fr == *a.root() {
                    return Err(not_a_fork);
                }
            }
        }
        Ok(())
    }

    /// The text form.
    pub fn to_text(&self) -> String {
        let mut s = format!("{EVIDENCE_HEADER}\nkind {}\n", self.kind.name());
        for n in &self.notes {
            s.push_str(&format!("note {}\n", STANDARD.encode(n)));
        }
        if let Some(seed) = &self.seed {
            s.push_str(&format!("seed {}\n", seed.to_base64()));
        }
        if let Some(m) = &self.map {
            s.push_str(&format!("first {}\n", m.first));
            for e in &m.entries {
                s.push_str(&format!("entry {}\n", STANDARD.encode(e)));
            }
        }
        for h in &self.path {
            s.push_str(&format!("hash {}\n", h.to_base64()));
        }
        if let Some(m) = &self.map {
            for p in &m.map_proofs {
                s.push_str(&format!("map {}\n", STANDARD.encode(p.encode())));
            }
        }
        s
    }

    /// Parses the text form strictly.
    ///
    /// # Errors
    /// [`EvidenceError::Format`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Evidence, Error> {
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| format("must end with a newline"))?;
        let mut lines = body.split('\n');
        if lines.next() != Some(EVIDENCE_HEADER) {
            return Err(format("first line must be ank-evidence/v1"));
        }
        let kind = match lines.next() {
            Some("kind same-size") => EvidenceKind::SameSize,
            Some("kind inconsistent") => EvidenceKind::Inconsistent,
            Some("kind map-root") => EvidenceKind::MapRoot,
            _ => {
                return Err(format(
                    "second line must be kind same-size, inconsistent or map-root",
                ));
            }
        };
        let mut lines = lines.peekable();
        let mut note = || -> Result<String, Error> {
            let b = lines
                .next()
                .and_then(|l| l.strip_prefix("note "))
                .ok_or_else(|| format("note lines must follow the kind"))?;
            let raw = STANDARD
                .decode(b)
                .map_err(|_| format("a note is not base64"))?;
            String::from_utf8(raw).map_err(|_| format("a note is not UTF-8"))
        };
        let notes = if kind == EvidenceKind::MapRoot {
            vec![note()?]
        } else {
            vec![note()?, note()?]
        };
        let hash = |l: &str, prefix: &str| -> Result<Hash, Error> {
            let b = l
                .strip_prefix(prefix)
                .ok_or_else(|| format("unexpected line"))?;
            Hash::from_base64(b).map_err(|_| format("a hash is not base64 of 32 bytes"))
        };
        let (mut seed, mut path, mut map) = (None, Vec::new(), None);
        if kind == EvidenceKind::MapRoot {
            let first = lines
                .next()
                .and_then(|l| l.strip_prefix("first "))
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| format("a first line with an index must follow the note"))?;
            let mut entries = Vec::new();
            while let Some(b) = lines.peek().and_then(|l| l.strip_prefix("entry ")) {
                entries.push(
                    STANDARD
                        .decode(b)
                        .map_err(|_| format("an entry is not base64"))?,
                );
                if entries.len() > MAX_EVIDENCE_ENTRIES {
                    return Err(format("too many entries"));
                }
                lines.next();
            }
            while let Some(l) = lines.peek().filter(|l| l.starts_with("hash ")) {
                path.push(hash(l, "hash ")?);
                if path.len() > 128 {
                    return Err(format("too many hashes"));
                }
                lines.next();
            }
            let mut map_proofs = Vec::new();
            while let Some(b) = lines.peek().and_then(|l| l.strip_prefix("map ")) {
                let raw = STANDARD
                    .decode(b)
                    .map_err(|_| format("a map proof is not base64"))?;
                map_proofs.push(MapProof::decode(&raw)?);
                if map_proofs.len() > MAX_EVIDENCE_ENTRIES {
                    return Err(format("too many map proofs"));
                }
                lines.next();
            }
            map = Some(MapRootParts {
                first,
                entries,
                map_proofs,
            });
        }
        if kind == EvidenceKind::Inconsistent {
            let l = lines
                .next()
                .ok_or_else(|| format("a seed line must follow the notes"))?;
            seed = Some(hash(l, "seed ")?);
            for l in lines.by_ref() {
                path.push(hash(l, "hash ")?);
                if path.len() > 128 {
                    return Err(format("too many hashes"));
                }
            }
        }
        if lines.next().is_some() {
            return Err(format("unexpected line"));
        }
        let e = Evidence {
            kind,
            notes,
            seed,
            path,
            map,
        };
        // Only the canonical text is evidence: no two texts for one proof.
        if e.to_text() != text {
            return Err(format("not in canonical form"));
        }
        Ok(e)
    }

    /// Verifies the evidence under the log's key.
    ///
    /// # Errors
    /// Checkpoint verification errors; [`EvidenceError::NotAFork`].
    pub fn verify(&self, vkey: &VerifierKey) -> Result<VerifiedEvidence, Error> {
        let checkpoints = self
            .notes
            .iter()
            .map(|n| verify_checkpoint(n.as_bytes(), vkey, &[]))
            .collect::<Result<Vec<_>, _>>()?;
        let contradicted = match (self.kind, &checkpoints[..]) {
            (EvidenceKind::MapRoot, [cp]) => Some(self.verify_map_root(cp)?),
            (EvidenceKind::SameSize | EvidenceKind::Inconsistent, [a, b]) => {
                self.verify_parts(a, b)?;
                None
            }
            _ => return Err(format("wrong number of checkpoints for the kind")),
        };
        Ok(VerifiedEvidence {
            kind: self.kind,
            checkpoints,
            contradicted,
        })
    }
}
