//! C2SP tlog-proof bundles (`c2sp.org/tlog-proof@v1`).
//!
//! ```text
//! c2sp.org/tlog-proof@v1\n
//! [extra <base64>\n]
//! index <decimal, no leading zeros>\n
//! [<base64 hash>\n]...        inclusion proof, leaf level first
//! \n
//! <signed checkpoint, verbatim>
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::Error;
use crate::checkpoint::{VerifiedCheckpoint, verify_checkpoint};
use crate::error::TlogProofError;
use crate::hash::Hash;
use crate::note::VerifierKey;
use crate::policy::Policy;
use crate::tile::parse_canonical_decimal;
use crate::tree::verify_inclusion;

const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// A parsed tlog-proof bundle, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Unauthenticated application data.
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

impl TlogProof {
    /// Parses a bundle strictly.
    ///
    /// # Errors
    /// [`Error::TlogProof`] with the reason (checkpoint errors come at verification).
    pub fn parse(text: &str) -> Result<TlogProof, Error> {
        let e = |r| Error::TlogProof(r);
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or(e(TlogProofError::Separator))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(e(TlogProofError::Header));
        }
        let mut line = lines.next().ok_or(e(TlogProofError::Index))?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(STANDARD.decode(b64).map_err(|_| e(TlogProofError::Extra))?);
            line = lines.next().ok_or(e(TlogProofError::Index))?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_canonical_decimal)
            .ok_or(e(TlogProofError::Index))?;
        let mut proof = Vec::new();
        for (i, l) in lines.enumerate() {
            proof.push(
                Hash::from_base64(l).map_err(|_| e(TlogProofError::ProofHash { line: i + 1 }))?,
            );
        }
        Ok(TlogProof {
            extra,
            index,
            proof,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// The bundle text.
    pub fn to_text(&self) -> String {
        let mut s = format!("{HEADER}\n");
        if let Some(x) = &self.extra {
            s.push_str(&format!("extra {}\n", STANDARD.encode(x)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            s.push_str(&format!("{h}\n"));
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Verifies the checkpoint (log signature, cosignatures by `witnesses`)
    /// and the inclusion of `leaf` at the bundle's index.
    ///
    /// # Errors
    /// Checkpoint errors, [`Error::IndexOutOfRange`], [`Error::ProofLength`],
    /// [`Error::RootMismatch`].
    pub fn verify(
        &self,
        leaf: &Hash,
        log: &VerifierKey,
        witnesses: &[VerifierKey],
    ) -> Result<VerifiedCheckpoint, Error> {
        let cp = verify_checkpoint(self.checkpoint.as_bytes(), log, witnesses)?;
        verify_inclusion(leaf, self.index, cp.size(), &self.proof, cp.root())?;
        Ok(cp)
    }

    /// As [`TlogProof::verify`], with the logs and witness quorum of a policy.
    ///
    /// # Errors
    /// As [`Policy::verify`], then inclusion errors.
    pub fn verify_with_policy(
        &self,
        leaf: &Hash,
        policy: &Policy,
    ) -> Result<VerifiedCheckpoint, Error> {
        let cp = policy.verify(self.checkpoint.as_bytes())?;
        verify_inclusion(leaf, self.index, cp.size(), &self.proof, cp.root())?;
        Ok(cp)
    }
}
