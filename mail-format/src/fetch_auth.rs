//! Authentication of fetch and acknowledge requests: no passwords; the
//! recipient signs each request with a current Ed25519 key of the address.
//!
//! The signed text is
//!
//! ```text
//! ank-fetch-v2\n<METHOD>\n<mailbox domain>\n<mailbox authority>\n<path and query>\n<canonical address>\n<timestamp ms>\n<nonce, base64 of 16 bytes>\n<SHA-256 of the body, base64>\n
//! ```
//!
//! The domain and the authority (`host[:port]` of the mailbox URL, lower
//! case) bind a request to one mailbox: captured, it is refused by any other.
//!
//! sent as the headers `Ank-Address`, `Ank-Timestamp`, `Ank-Nonce`,
//! `Ank-Key` (the Ed25519 public key, base64) and `Ank-Signature` (base64).
//! A server accepts it when the timestamp is within [`MAX_SKEW_MS`] of its
//! clock, the nonce has not been seen within the skew window (the caller keeps
//! them), the signature verifies, and — checked by the caller through the
//! log — the key is a current key of the address.

use ank_proofs::Address;
use ank_proofs::hash::b64_array;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer as _;

/// Largest accepted difference between a request's timestamp and the server's clock.
pub const MAX_SKEW_MS: u64 = 5 * 60 * 1000;

/// A signed request, as the headers carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchAuth {
    pub address: String,
    pub timestamp_ms: u64,
    pub nonce: String,
    pub key: String,
    pub signature: String,
}

/// A request whose signature verified and whose timestamp is fresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedFetch {
    pub address: Address,
    pub key: [u8; 32],
    pub nonce: [u8; 16],
    pub timestamp_ms: u64,
}

/// Why a signed request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FetchAuthError {
    #[error("header {0} is missing or malformed")]
    Header(&'static str),
    #[error("the request's timestamp is more than five minutes from the server's clock")]
    Skew,
    #[error("the request's signature does not verify")]
    Signature,
}

/// Which mailbox a request is for, and what it asks.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub method: &'a str,
    /// The domain the mailbox serves.
    pub domain: &'a str,
    /// `host[:port]` of the mailbox's URL.
    pub authority: &'a str,
    /// Path and query.
    pub path: &'a str,
}

fn text(t: &Target<'_>, address: &Address, ts: u64, nonce: &[u8; 16], body: &[u8]) -> Vec<u8> {
    let digest = ank_proofs::hash::sha256(body);
    format!(
        "ank-fetch-v2\n{}\n{}\n{}\n{}\n{address}\n{ts}\n{}\n{digest}\n",
        t.method,
        t.domain,
        t.authority.to_ascii_lowercase(),
        t.path,
        STANDARD.encode(nonce)
    )
    .into_bytes()
}

impl FetchAuth {
    /// Signs a request.
    pub fn sign(
        key: &ed25519_dalek::SigningKey,
        target: &Target<'_>,
        address: &Address,
        timestamp_ms: u64,
        nonce: [u8; 16],
        body: &[u8],
    ) -> FetchAuth {
        let sig = key.sign(&text(target, address, timestamp_ms, &nonce, body));
        FetchAuth {
            address: address.to_string(),
            timestamp_ms,
            nonce: STANDARD.encode(nonce),
            key: STANDARD.encode(key.verifying_key().to_bytes()),
            signature: STANDARD.encode(sig.to_bytes()),
        }
    }

    /// Verifies the signature and the timestamp against `now_ms`.
    ///
    /// # Errors
    /// [`FetchAuthError`] naming the problem.
    pub fn verify(
        &self,
        target: &Target<'_>,
        body: &[u8],
        now_ms: u64,
    ) -> Result<VerifiedFetch, FetchAuthError> {
        let address = Address::parse(&self.address)
            .ok()
            .filter(|a| a.to_string() == self.address)
            .ok_or(FetchAuthError::Header("Ank-Address"))?;
        let nonce: [u8; 16] = b64_array(&self.nonce).ok_or(FetchAuthError::Header("Ank-Nonce"))?;
        let key: [u8; 32] = b64_array(&self.key).ok_or(FetchAuthError::Header("Ank-Key"))?;
        let sig: [u8; 64] =
            b64_array(&self.signature).ok_or(FetchAuthError::Header("Ank-Signature"))?;
        if self.timestamp_ms.abs_diff(now_ms) > MAX_SKEW_MS {
            return Err(FetchAuthError::Skew);
        }
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&key)
            .map_err(|_| FetchAuthError::Header("Ank-Key"))?;
        vk.verify_strict(
            &text(target, &address, self.timestamp_ms, &nonce, body),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .map_err(|_| FetchAuthError::Signature)?;
        Ok(VerifiedFetch {
            address,
            key,
            nonce,
            timestamp_ms: self.timestamp_ms,
        })
    }
}
