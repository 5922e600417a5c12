//! What a client remembers of each log: the latest checkpoint it verified.
//!
//! `$ANK_HOME/logs/<origin>.checkpoint` holds the signed note of that
//! checkpoint (the origin with `/` and other unsafe bytes percent-encoded).
//! It is verified again under the log's key whenever it is read, and
//! replaced atomically (temporary file, fsync, rename, directory fsync)
//! while `<origin>.lock` is held, so concurrent `ank` processes never lose
//! or corrupt it and the stored size never decreases.
//!
//! Before a client uses anything a log proves, it checks the proving
//! checkpoint against the stored one ([`LogState::advance`]):
//!
//! * the same size: the roots must be equal;
//! * a larger size: a consistency proof from the stored size must verify
//!   (the caller fetches it); the new checkpoint is then stored;
//! * a smaller size: refused ([`StateError::Rollback`]). A checkpoint that
//!   proved something in the past (a sender's key when its mail was
//!   accepted; the batch that took this client's own publish, which another
//!   process of the same home may have overtaken) is checked instead by a
//!   consistency proof from it to the stored one
//!   (`LogClient::check_historical` in [`crate::log`]).

use std::fs::File;
use std::path::{Path, PathBuf};

use ank_proofs::{Hash, VerifiedCheckpoint, VerifierKey};

/// Why a checkpoint was refused against the remembered one.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Older than what this client already verified.
    #[error(
        "the log answered with a checkpoint of size {got}, older than the size {seen} this client already verified: a rollback"
    )]
    Rollback { seen: u64, got: u64 },
    /// Two checkpoints that cannot both be true.
    #[error(
        "the log's checkpoint of size {got} is not consistent with the checkpoint of size {seen} this client verified: two histories{}",
        evidence.as_ref().map(|p| format!("; evidence written to {}", p.display())).unwrap_or_default()
    )]
    Fork {
        seen: u64,
        got: u64,
        /// The remembered checkpoint's note.
        seen_note: String,
        /// The conflicting checkpoint's note.
        got_note: String,
        /// Where the evidence (`ank-evidence/v1`) was written, when this
        /// client could make it.
        evidence: Option<PathBuf>,
    },
    /// The state file or its lock could not be used.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The state file does not verify under the log's key.
    #[error("{path} does not hold a checkpoint of this log: {reason}")]
    Corrupt { path: String, reason: String },
}

/// Where a client keeps the checkpoints it verified.
#[derive(Debug, Clone)]
pub struct LogState {
    dir: PathBuf,
}

/// What [`LogState::advance`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advanced {
    /// The size remembered before, if any.
    pub previous: Option<u64>,
    /// The size remembered now.
    pub now: u64,
}

fn file_name(origin: &str) -> String {
    origin
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A held lock on one origin's state file; released on drop.
struct Held(File);

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl LogState {
    /// The state kept under `home` (`$ANK_HOME`).
    pub fn new(home: &Path) -> LogState {
        LogState {
            dir: home.join("logs"),
        }
    }

    fn path(&self, origin: &str) -> PathBuf {
        self.dir.join(format!("{}.checkpoint", file_name(origin)))
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
        move |source| StateError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    fn lock(&self, origin: &str) -> Result<Held, StateError> {
        ank_common::fs::create_private_dir(&self.dir).map_err(Self::io(&self.dir))?;
        let p = self.dir.join(format!("{}.lock", file_name(origin)));
        ank_common::fs::ensure_private_file(&p).map_err(Self::io(&p))?;
        let f = File::options().write(true).open(&p).map_err(Self::io(&p))?;
        f.lock().map_err(Self::io(&p))?;
        Ok(Held(f))
    }

    /// The remembered checkpoint of `vkey`'s log, verified again.
    ///
    /// # Errors
    /// [`StateError::Io`], [`StateError::Corrupt`].
    pub fn load(&self, vkey: &VerifierKey) -> Result<Option<VerifiedCheckpoint>, StateError> {
        let p = self.path(vkey.name());
        let note = match std::fs::read(&p) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::io(&p)(e)),
        };
        ank_proofs::verify_checkpoint(&note, vkey, &[])
            .map(Some)
            .map_err(|e| StateError::Corrupt {
                path: p.display().to_string(),
                reason: e.to_string(),
            })
    }

    /// Checks `new` against the remembered checkpoint and remembers it if it
    /// is newer. `consistency(from, to)` gives the proof hashes between two
    /// sizes of the log (the caller fetches them); it is called only when
    /// `new` is larger than what is remembered.
    ///
    /// # Errors
    /// [`StateError::Rollback`], [`StateError::Fork`], I/O errors; errors of
    /// `consistency` as [`StateError::Fork`] only when the proof does not verify.
    pub fn advance(
        &self,
        vkey: &VerifierKey,
        new: &VerifiedCheckpoint,
        consistency: impl FnOnce(u64, u64) -> Result<Vec<Hash>, StateError>,
    ) -> Result<Advanced, StateError> {
        let _held = self.lock(vkey.name())?;
        let Some(seen) = self.load(vkey)? else {
            self.store(vkey.name(), new)?;
            return Ok(Advanced {
                previous: None,
                now: new.size(),
            });
        };
        let fork = |evidence: Option<PathBuf>| StateError::Fork {
            seen: seen.size(),
            got: new.size(),
            seen_note: seen.note().to_text(),
            got_note: new.note().to_text(),
            evidence,
        };
        if new.size() < seen.size() {
            return Err(StateError::Rollback {
                seen: seen.size(),
                got: new.size(),
            });
        }
        if new.size() == seen.size() {
            if new.root() != seen.root() {
                let e = ank_proofs::evidence::Evidence::same_size(&seen, new);
                return Err(fork(self.keep_evidence(&e)));
            }
            return Ok(Advanced {
                previous: Some(seen.size()),
                now: seen.size(),
            });
        }
        if seen.size() > 0 {
            let proof = consistency(seen.size(), new.size())?;
            ank_proofs::verify_consistency(
                seen.size(),
                new.size(),
                &proof,
                seen.root(),
                new.root(),
            )
            .map_err(|_| fork(None))?;
        }
        self.store(vkey.name(), new)?;
        Ok(Advanced {
            previous: Some(seen.size()),
            now: new.size(),
        })
    }

    /// Writes evidence under `$ANK_HOME/evidence/`; its path, if it could be written.
    pub fn keep_evidence(&self, e: &ank_proofs::evidence::Evidence) -> Option<PathBuf> {
        let dir = self.dir.parent()?.join("evidence");
        ank_common::fs::create_private_dir(&dir).ok()?;
        let text = e.to_text();
        let name = ank_proofs::hash::sha256(text.as_bytes());
        let hex: String = name.0[..12].iter().map(|b| format!("{b:02x}")).collect();
        let p = dir.join(format!("{hex}.evidence"));
        ank_common::fs::replace_private(&p, text.as_bytes()).ok()?;
        Some(p)
    }

    fn store(&self, origin: &str, cp: &VerifiedCheckpoint) -> Result<(), StateError> {
        let p = self.path(origin);
        ank_common::fs::replace_private(&p, cp.note().to_text().as_bytes()).map_err(Self::io(&p))
    }
}
