//! ML-DSA-44 cosignatures (C2SP tlog-cosignature, the `subtree/v1` message).
//!
//! A witness that has an ML-DSA-44 key answers with this cosignature line
//! besides its Ed25519 (cosignature/v1) one. Byte formats, as the spec
//! gives them:
//!
//! * key ID: `SHA-256(<name> || "\n" || 0x06 || 1312-byte public key)[:4]`;
//! * vkey: `<name>+<hex key ID>+<base64(0x06 || public key)>`;
//! * signed message: `"subtree/v1\n\0"` (12 bytes), the name as a 1-byte
//!   length and its bytes, the timestamp (u64, big-endian), the origin as a
//!   1-byte length and its bytes, `start` = 0 and `end` = the tree size (u64
//!   each), and the 32-byte root;
//! * signature line: `— <name> base64(key ID || timestamp (u64) || 2420-byte
//!   ML-DSA-44 signature)` (FIPS 204, pure, empty context).
//!
//! The secret is a 32-byte seed (`witness-mldsa.seed` in the data
//! directory, base64, 0600).

use aws_lc_rs::signature::{
    KeyPair as _, ML_DSA_44, ML_DSA_44_SIGNING, PqdsaKeyPair, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use ank_proofs::Hash;

/// The signature type byte of ML-DSA-44 cosignatures.
pub const ALG_MLDSA44: u8 = 0x06;
/// Length of an ML-DSA-44 public key.
pub const PUBLIC_KEY_LEN: usize = 1312;
/// Length of an ML-DSA-44 signature.
pub const SIGNATURE_LEN: usize = 2420;

/// An ML-DSA-44 cosigner.
pub struct MlDsaCosigner {
    name: String,
    key: PqdsaKeyPair,
}

impl std::fmt::Debug for MlDsaCosigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MlDsaCosigner({})", self.name)
    }
}

/// The key ID of an ML-DSA-44 cosigner.
pub fn key_id(name: &str, public_key: &[u8]) -> u32 {
    let h = ank_proofs::hash::sha256_parts(&[name.as_bytes(), b"\n", &[ALG_MLDSA44], public_key]);
    u32::from_be_bytes([h.0[0], h.0[1], h.0[2], h.0[3]])
}

/// The message an ML-DSA-44 cosignature signs for a checkpoint.
pub fn signed_message(name: &str, timestamp: u64, origin: &str, size: u64, root: &Hash) -> Vec<u8> {
    let mut m = Vec::with_capacity(12 + 1 + name.len() + 8 + 1 + origin.len() + 16 + 32);
    m.extend_from_slice(b"subtree/v1\n\0");
    m.push(name.len() as u8);
    m.extend_from_slice(name.as_bytes());
    m.extend_from_slice(&timestamp.to_be_bytes());
    m.push(origin.len() as u8);
    m.extend_from_slice(origin.as_bytes());
    m.extend_from_slice(&0u64.to_be_bytes());
    m.extend_from_slice(&size.to_be_bytes());
    m.extend_from_slice(&root.0);
    m
}

impl MlDsaCosigner {
    /// The cosigner named `name` with the key expanded from `seed`.
    ///
    /// # Errors
    /// A name that cannot be one (empty, over 255 bytes); a seed that
    /// aws-lc-rs refuses.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<MlDsaCosigner, String> {
        if name.is_empty() || name.len() > 255 || !ank_proofs::note::valid_key_name(name) {
            return Err(format!("{name:?} cannot name a cosigner"));
        }
        let key = PqdsaKeyPair::from_seed(&ML_DSA_44_SIGNING, seed)
            .map_err(|e| format!("ML-DSA-44 key: {e}"))?;
        Ok(MlDsaCosigner {
            name: name.to_owned(),
            key,
        })
    }

    /// The raw 1312-byte public key.
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    /// The vkey (type 0x06).
    pub fn vkey(&self) -> String {
        let mut raw = vec![ALG_MLDSA44];
        raw.extend_from_slice(self.public_key());
        format!(
            "{}+{:08x}+{}",
            self.name,
            key_id(&self.name, self.public_key()),
            STANDARD.encode(raw)
        )
    }

    /// The cosignature line for a checkpoint of `origin`, `size` and `root`
    /// at `timestamp` (seconds), with its final newline.
    ///
    /// # Errors
    /// When signing fails, or the origin is over 255 bytes.
    pub fn cosign(
        &self,
        origin: &str,
        size: u64,
        root: &Hash,
        timestamp: u64,
    ) -> Result<String, String> {
        if origin.is_empty() || origin.len() > 255 {
            return Err("an origin of 1 to 255 bytes".into());
        }
        let msg = signed_message(&self.name, timestamp, origin, size, root);
        let mut sig = vec![0u8; SIGNATURE_LEN];
        let n = self
            .key
            .sign(&msg, &mut sig)
            .map_err(|e| format!("ML-DSA-44 signing: {e}"))?;
        sig.truncate(n);
        let mut raw = key_id(&self.name, self.public_key()).to_be_bytes().to_vec();
        raw.extend_from_slice(&timestamp.to_be_bytes());
        raw.extend_from_slice(&sig);
        Ok(format!("\u{2014} {} {}\n", self.name, STANDARD.encode(raw)))
    }
}

/// Verifies an ML-DSA-44 cosignature (the bytes after the key ID) by the
/// cosigner `name` with `public_key` over a checkpoint; returns its timestamp.
///
/// # Errors
/// A wrong length, or a signature that does not verify.
pub fn verify(
    name: &str,
    public_key: &[u8],
    origin: &str,
    size: u64,
    root: &Hash,
    timestamped: &[u8],
) -> Result<u64, String> {
    if timestamped.len() != 8 + SIGNATURE_LEN {
        return Err(format!(
            "{} bytes, want {}",
            timestamped.len(),
            8 + SIGNATURE_LEN
        ));
    }
    let mut t = [0u8; 8];
    t.copy_from_slice(&timestamped[..8]);
    let ts = u64::from_be_bytes(t);
    let msg = signed_message(name, ts, origin, size, root);
    UnparsedPublicKey::new(&ML_DSA_44, public_key)
        .verify(&msg, &timestamped[8..])
        .map_err(|_| "the ML-DSA-44 signature does not verify".to_owned())?;
    Ok(ts)
}
