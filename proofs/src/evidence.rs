//! Evidence that one log key signed two histories that cannot both be true,
//! self-contained and checkable offline with the log's verifier key.
//!
//! # Text format (`ank-evidence/v1`)
//!
//! UTF-8 lines, each ending in LF, in this order and nothing else:
//!
//! ```text
//! ank-evidence/v1
//! kind <same-size | inconsistent>
//! note <base64 of the first signed checkpoint note>
//! note <base64 of the second signed checkpoint note>
//! seed <base64 hash>          (inconsistent only)
//! hash <base64 hash>          (inconsistent only; zero or more, in order)
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
//!
//! # Errors
//!
//! [`crate::Error::Evidence`] with an [`EvidenceError`]: the text's form, a
//! checkpoint that does not verify under the key (as the checkpoint error),
//! checkpoints of another origin, or checkpoints that do not contradict each
//! other (`NotAFork`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::Error;
use crate::checkpoint::{VerifiedCheckpoint, verify_checkpoint};
use crate::hash::Hash;
use crate::note::VerifierKey;

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
}

impl EvidenceKind {
    fn name(self) -> &'static str {
        match self {
            EvidenceKind::SameSize => "same-size",
            EvidenceKind::Inconsistent => "inconsistent",
        }
    }
}

/// A piece of evidence (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// The two signed checkpoint notes; for `Inconsistent`, the smaller first.
    pub notes: [String; 2],
    /// For `Inconsistent`: the proof's seed and the rest of it.
    pub seed: Option<Hash>,
    pub path: Vec<Hash>,
}

/// Evidence that verified: the origin and the two checkpoints.
#[derive(Debug, Clone)]
pub struct VerifiedEvidence {
    pub kind: EvidenceKind,
    pub checkpoints: [VerifiedCheckpoint; 2],
}

fn format(what: &'static str) -> Error {
    Error::Evidence(EvidenceError::Format(what))
}

impl Evidence {
    /// Two checkpoints of the same size with different roots.
    pub fn same_size(first: &VerifiedCheckpoint, second: &VerifiedCheckpoint) -> Evidence {
        Evidence {
            kind: EvidenceKind::SameSize,
            notes: [first.note().to_text(), second.note().to_text()],
            seed: None,
            path: Vec::new(),
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
            notes: [smaller.note().to_text(), larger.note().to_text()],
            seed: Some(seed),
            path,
        }
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
        for h in &self.path {
            s.push_str(&format!("hash {}\n", h.to_base64()));
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
            _ => {
                return Err(format(
                    "second line must be kind same-size or kind inconsistent",
                ));
            }
        };
        let mut note = || -> Result<String, Error> {
            let b = lines
                .next()
                .and_then(|l| l.strip_prefix("note "))
                .ok_or_else(|| format("two note lines must follow the kind"))?;
            let raw = STANDARD
                .decode(b)
                .map_err(|_| format("a note is not base64"))?;
            String::from_utf8(raw).map_err(|_| format("a note is not UTF-8"))
        };
        let notes = [note()?, note()?];
        let hash = |l: &str, prefix: &str| -> Result<Hash, Error> {
            let b = l
                .strip_prefix(prefix)
                .ok_or_else(|| format("unexpected line"))?;
            Hash::from_base64(b).map_err(|_| format("a hash is not base64 of 32 bytes"))
        };
        let (mut seed, mut path) = (None, Vec::new());
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
        let a = verify_checkpoint(self.notes[0].as_bytes(), vkey, &[])?;
        let b = verify_checkpoint(self.notes[1].as_bytes(), vkey, &[])?;
        self.verify_parts(&a, &b)?;
        Ok(VerifiedEvidence {
            kind: self.kind,
            checkpoints: [a, b],
        })
    }
}
