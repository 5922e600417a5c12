//! SSH keys: the server's Ed25519 host key, kept in the data directory in
//! OpenSSH form, its SSHFP records, and a device's Ed25519 key (the one the
//! log binds) in OpenSSH form.
//!
//! An ank device's Ed25519 signing key *is* its SSH key: the same 32-byte
//! seed gives the same public key in both, so `ssh-ed25519 <base64>` names
//! exactly the key the log proves current.

use std::path::Path;

pub use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey, PublicKey};

/// Why a key could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The host key file.
    #[error("{path}: {what}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        what: String,
    },
}

/// The host key kept at `path` (OpenSSH private key format, 0600), made on
/// first use.
///
/// # Errors
/// [`KeyError::File`].
pub fn host_key(path: &Path) -> Result<PrivateKey, KeyError> {
    let bad = |what: String| KeyError::File {
        path: path.display().to_string(),
        what,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = PrivateKey::from_openssh(text.trim()).map_err(|e| bad(e.to_string()))?;
            if key.algorithm() != russh::keys::Algorithm::Ed25519 {
                return Err(bad("not an Ed25519 key".into()));
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let seed = ank_common::random::<32>().map_err(|e| bad(e.to_string()))?;
            let key = device_private_key(&seed, "ank host key")?;
            let text = key
                .to_openssh(LineEnding::LF)
                .map_err(|e| bad(e.to_string()))?;
            match ank_common::fs::write_private(path, text.as_bytes()) {
                Ok(()) => Ok(key),
                // Another process made it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => host_key(path),
                Err(e) => Err(bad(e.to_string())),
            }
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

/// The Ed25519 key of a 32-byte seed (an ank device key) as an SSH key.
///
/// # Errors
/// [`KeyError::File`] never in practice; encoding errors are reported so.
pub fn device_private_key(seed: &[u8; 32], comment: &str) -> Result<PrivateKey, KeyError> {
    let mut key = PrivateKey::from(Ed25519Keypair::from_seed(seed));
    key.set_comment(comment);
    Ok(key)
}

/// `ssh-ed25519 <base64> <comment>`: the OpenSSH public key line of an
/// Ed25519 public key.
pub fn public_line(ed25519: &[u8; 32], comment: &str) -> String {
    let key = PublicKey::from(russh::keys::ssh_key::public::Ed25519PublicKey(*ed25519));
    let mut line = key.to_openssh().unwrap_or_default();
    if !comment.is_empty() {
        line.push(' ');
        line.push_str(comment);
    }
    line
}

/// The raw Ed25519 public key of an SSH key, if it is one.
pub fn ed25519_of(key: &PublicKey) -> Option<[u8; 32]> {
    key.key_data().ed25519().map(|k| k.0)
}

/// The SSHFP records (RFC 4255, RFC 7479 for Ed25519 = 4; SHA-256 = 2) of a
/// host key, for `name`: `name. IN SSHFP 4 2 <hex>`.
pub fn sshfp_line(name: &str, host: &PublicKey, ttl: u32) -> String {
    let digest = host.fingerprint(HashAlg::Sha256);
    format!(
        "{}. {ttl} IN SSHFP 4 2 {}",
        name.trim_end_matches('.'),
        hex::encode(digest.as_bytes())
    )
}

/// The SHA-256 digest of a host key's wire form: what SSHFP `4 2` holds.
pub fn host_digest(host: &PublicKey) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(host.fingerprint(HashAlg::Sha256).as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_seed_is_the_same_key_in_ssh() {
        let seed = [7u8; 32];
        let dalek = ed25519_dalek::SigningKey::from_bytes(&seed);
        let ssh = device_private_key(&seed, "x").map(|k| k.public_key().clone());
        let Ok(ssh) = ssh else {
            panic!("key");
        };
        assert_eq!(ed25519_of(&ssh), Some(dalek.verifying_key().to_bytes()));
        let line = public_line(&dalek.verifying_key().to_bytes(), "alice@example.org");
        assert!(
            line.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA"),
            "{line}"
        );
        assert!(line.ends_with(" alice@example.org"));
    }
}
