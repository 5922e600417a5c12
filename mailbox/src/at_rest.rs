//! At-rest encryption of stored messages.
//!
//! Every stored message is additionally sealed with AES-256-GCM under a key
//! derived from the operator's secret, `ANK_STORAGE_KEY` (Bangmail's
//! `BANGMAIL_KEY` is accepted too): HKDF-SHA256 with salt
//! `"ank-mailbox/storage/v1"` and info `"aes-256-gcm"`. A sealed blob is
//! `nonce (12 random bytes) || ciphertext || tag (16)`; the caller's
//! associated data (the message id and recipient) binds the blob to its row.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};

use crate::MailError;

/// The environment variable holding the storage secret.
pub const KEY_ENV: &str = "ANK_STORAGE_KEY";
/// Bangmail's name for it, accepted too.
pub const KEY_ENV_BANGMAIL: &str = "BANGMAIL_KEY";
/// The shortest secret accepted.
pub const MIN_SECRET: usize = 16;

/// The key that seals stored messages.
pub struct StorageKey(LessSafeKey);

impl std::fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StorageKey(..)")
    }
}

struct Len(usize);

impl aws_lc_rs::hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl StorageKey {
    /// Derives the key from the operator's secret.
    ///
    /// # Errors
    /// [`MailError::WeakStorageKey`] for a secret shorter than 16 bytes.
    pub fn from_secret(secret: &[u8]) -> Result<StorageKey, MailError> {
        if secret.len() < MIN_SECRET {
            return Err(MailError::WeakStorageKey { len: secret.len() });
        }
        let prk = Salt::new(HKDF_SHA256, b"ank-mailbox/storage/v1").extract(secret);
        let mut key = [0u8; 32];
        prk.expand(&[b"aes-256-gcm"], Len(32))
            .and_then(|okm| okm.fill(&mut key))
            .map_err(|_| MailError::AtRest)?;
        let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| MailError::AtRest)?;
        Ok(StorageKey(LessSafeKey::new(unbound)))
    }

    /// The key from `ANK_STORAGE_KEY`, else `BANGMAIL_KEY`.
    ///
    /// # Errors
    /// [`MailError::NoStorageKey`] (its message says how to set one), [`MailError::WeakStorageKey`].
    pub fn from_env() -> Result<StorageKey, MailError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`StorageKey::from_env`], with the environment given as a function.
    ///
    /// # Errors
    /// As [`StorageKey::from_env`].
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> Result<StorageKey, MailError> {
        let secret = env(KEY_ENV)
            .filter(|s| !s.is_empty())
            .or_else(|| env(KEY_ENV_BANGMAIL).filter(|s| !s.is_empty()))
            .ok_or(MailError::NoStorageKey)?;
        Self::from_secret(secret.as_bytes())
    }

    /// Seals `plaintext` bound to `aad`, under a fresh random nonce.
    ///
    /// # Errors
    /// [`MailError::AtRest`] when the system has no randomness.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, MailError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| MailError::AtRest)?;
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut body,
            )
            .map_err(|_| MailError::AtRest)?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens a sealed blob bound to `aad`.
    ///
    /// # Errors
    /// [`MailError::AtRest`] for a wrong key, other associated data, or altered bytes.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, MailError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(MailError::AtRest);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| MailError::AtRest)?;
        let mut buf = ct.to_vec();
        let n = self
            .0
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| MailError::AtRest)?
            .len();
        buf.truncate(n);
        Ok(buf)
    }
}
