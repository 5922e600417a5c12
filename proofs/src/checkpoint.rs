//! C2SP tlog-checkpoint.
//!
//! A checkpoint is the text of a signed note:
//!
//! ```text
//! <origin>\n
//! <tree size, decimal, no leading zeros>\n
//! <root hash, standard base64 of 32 bytes>\n
//! [<extension line>\n]...
//! ```
//!
//! The origin is non-empty; extension lines are non-empty. The log signs it
//! with an Ed25519 (type 0x01) key whose name equals the origin; witnesses
//! add cosignature/v1 (type 0x04) signatures. A [`VerifiedCheckpoint`] only
//! comes out of [`verify_checkpoint`] (or [`crate::policy::Policy::verify`]).

use crate::Error;
use crate::error::CheckpointError;
use crate::hash::Hash;
use crate::note::{ALG_COSIGNATURE_V1, ALG_ED25519, Note, SignerKey, VerifierKey};
use crate::tile::parse_canonical_decimal;

/// The body of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// Parses a checkpoint body (a note's text).
    ///
    /// # Errors
    /// [`Error::Checkpoint`] with the reason.
    pub fn parse(text: &str) -> Result<Checkpoint, Error> {
        let body = text
            .strip_suffix('\n')
            .ok_or(Error::Checkpoint(CheckpointError::Lines))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(Error::Checkpoint(CheckpointError::Lines));
        };
        if origin.is_empty() {
            return Err(Error::Checkpoint(CheckpointError::Origin));
        }
        let size = parse_canonical_decimal(size).ok_or(Error::Checkpoint(CheckpointError::Size))?;
        let root = Hash::from_base64(root).map_err(|_| Error::Checkpoint(CheckpointError::Root))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(Error::Checkpoint(CheckpointError::Extension));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The checkpoint body text.
    pub fn to_text(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.origin, self.size, self.root);
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Signs the checkpoint with the log key, whose name must equal the origin.
    ///
    /// # Errors
    /// [`Error::OriginMismatch`], [`Error::KeyRole`], or [`Error::Note`]
    /// when the origin or an extension holds a control character.
    pub fn sign(&self, log: &SignerKey) -> Result<Note, Error> {
        let v = log.verifier();
        if v.alg() != ALG_ED25519 {
            return Err(Error::KeyRole {
                name: v.name().to_owned(),
                alg: v.alg(),
                want: ALG_ED25519,
            });
        }
        if v.name() != self.origin {
            return Err(Error::OriginMismatch {
                expected: v.name().to_owned(),
                actual: self.origin.clone(),
            });
        }
        let text = self.to_text();
        let mut note = Note::new(&text)?;
        note.add_signature(log.sign(&text, 0));
        Ok(note)
    }
}

/// A valid cosignature on a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    pub witness: VerifierKey,
    pub timestamp: u64,
}

/// A checkpoint whose log signature verified. Only verification makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    checkpoint: Checkpoint,
    note: Note,
    cosignatures: Vec<Cosignature>,
}

impl VerifiedCheckpoint {
    /// The verified body.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note as received (all signature lines).
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// Cosignatures that verified against the witness keys given.
    pub fn cosignatures(&self) -> &[Cosignature] {
        &self.cosignatures
    }

    /// Tree size.
    pub fn size(&self) -> u64 {
        self.checkpoint.size
    }

    /// Root hash.
    pub fn root(&self) -> &Hash {
        &self.checkpoint.root
    }

    /// Origin.
    pub fn origin(&self) -> &str {
        &self.checkpoint.origin
    }

    /// Checks that at least `k` distinct witnesses cosigned.
    ///
    /// # Errors
    /// [`Error::QuorumNotMet`].
    pub fn require_cosignatures(&self, k: usize) -> Result<(), Error> {
        if self.cosignatures.len() < k {
            return Err(Error::QuorumNotMet {
                cosigned: self.cosignatures.len(),
            });
        }
        Ok(())
    }
}

/// Verifies a signed checkpoint: the log's Ed25519 signature must verify,
/// its key name must equal the origin, and cosignatures by `witnesses`
/// (type 0x04 keys) are checked and collected. Unknown signers are ignored.
///
/// # Errors
/// [`Error::KeyRole`], note errors, [`Error::InvalidSignature`],
/// [`Error::MissingLogSignature`], [`Error::Checkpoint`],
/// [`Error::OriginMismatch`].
pub fn verify_checkpoint(
    note_bytes: &[u8],
    log: &VerifierKey,
    witnesses: &[VerifierKey],
) -> Result<VerifiedCheckpoint, Error> {
    verify_parsed(Note::parse(note_bytes)?, log, witnesses, log.name())
}

/// As [`verify_checkpoint`], for the few logs whose origin is not their key
/// name (sum.golang.org signs origin `go.sum database tree` as
/// `sum.golang.org`): the origin must equal `origin` instead.
///
/// # Errors
/// As [`verify_checkpoint`].
pub fn verify_checkpoint_for_origin(
    note_bytes: &[u8],
    log: &VerifierKey,
    witnesses: &[VerifierKey],
    origin: &str,
) -> Result<VerifiedCheckpoint, Error> {
    verify_parsed(Note::parse(note_bytes)?, log, witnesses, origin)
}

pub(crate) fn verify_parsed(
    note: Note,
    log: &VerifierKey,
    witnesses: &[VerifierKey],
    origin: &str,
) -> Result<VerifiedCheckpoint, Error> {
    if log.alg() != ALG_ED25519 {
        return Err(Error::KeyRole {
            name: log.name().to_owned(),
            alg: log.alg(),
            want: ALG_ED25519,
        });
    }
    if let Some(w) = witnesses.iter().find(|w| w.alg() != ALG_COSIGNATURE_V1) {
        return Err(Error::KeyRole {
            name: w.name().to_owned(),
            alg: w.alg(),
            want: ALG_COSIGNATURE_V1,
        });
    }
    let mut keys = Vec::with_capacity(witnesses.len() + 1);
    keys.push(log.clone());
    keys.extend_from_slice(witnesses);
    let missing = || Error::MissingLogSignature {
        name: log.name().to_owned(),
        id: log.id(),
    };
    let verified = match note.verify(&keys) {
        Ok(v) => v,
        Err(Error::NoVerifiedSignature) => return Err(missing()),
        Err(e) => return Err(e),
    };
    if !verified.verified().iter().any(|s| s.key == *log) {
        return Err(missing());
    }
    let checkpoint = Checkpoint::parse(verified.text())?;
    if checkpoint.origin != origin {
        return Err(Error::OriginMismatch {
            expected: origin.to_owned(),
            actual: checkpoint.origin,
        });
    }
    let mut cosignatures: Vec<Cosignature> = Vec::new();
    for s in verified.verified() {
        if let Some(t) = s.timestamp
            && !cosignatures.iter().any(|c| c.witness == s.key)
        {
            cosignatures.push(Cosignature {
                witness: s.key.clone(),
                timestamp: t,
            });
        }
    }
    Ok(VerifiedCheckpoint {
        checkpoint,
        note,
        cosignatures,
    })
}
