//! C2SP signed-note: keys, signatures and verification, with cosignature/v1.
//!
//! # Keys
//!
//! * Key name: non-empty UTF-8 with no Unicode white space and no `+`.
//! * Key ID: the first 4 bytes, big-endian, of
//!   `SHA-256(name || 0x0A || type || key)`; for type 0x05 (RFC 6962 logs)
//!   `key` is the SHA-256 of the SubjectPublicKeyInfo.
//! * Verifier key (vkey): `<name>+<8 lowercase hex key ID>+<base64(type || key)>`.
//!   Types understood: 0x01 Ed25519 note signatures, 0x04 Ed25519
//!   cosignature/v1. The key ID is checked for every type before the type
//!   is looked at, so a vkey with a wrong ID is always
//!   [`KeyError::KeyIdMismatch`].
//! * Signer key (skey): `PRIVATE+KEY+<name>+<key ID>+<base64(type || 32-byte seed)>`.
//!
//! # Notes
//!
//! A note is UTF-8 text of one or more lines, each ending in `\n`, with no
//! control characters besides `\n`; then a blank line; then one or more
//! signature lines `— <name> <base64(key ID || signature)>\n` (U+2014).
//! Type 0x01 signs the text. Type 0x04 (cosignature/v1) signs
//! `cosignature/v1\ntime <t>\n` followed by the text, and its signature is
//! `timestamp (u64 BE seconds) || Ed25519 signature` (72 bytes, 76 with the
//! key ID).
//!
//! Verification: signatures by unknown keys are kept but not trusted; a
//! signature by a known key that fails rejects the whole note
//! ([`Error::InvalidSignature`]); at least one signature must verify
//! ([`Error::NoVerifiedSignature`]); at most [`MAX_SIGNATURES`] lines.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use crate::Error;
use crate::error::{KeyError, NoteError};
use crate::hash::sha256_parts;

/// Ed25519 signed-note signature type.
pub const ALG_ED25519: u8 = 0x01;
/// Ed25519 cosignature/v1 type (C2SP tlog-cosignature).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// RFC 6962 tree head signature type (C2SP static-ct-api); ID check only.
pub const ALG_RFC6962: u8 = 0x05;
/// Most signature lines accepted on one note.
pub const MAX_SIGNATURES: usize = 100;

const DASH: &str = "\u{2014} ";

/// Whether `name` is a valid key name.
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// Key ID of a key of type `alg` with `key` material.
pub fn key_id(name: &str, alg: u8, key: &[u8]) -> u32 {
    let material;
    let key = if alg == ALG_RFC6962 {
        material = crate::hash::sha256(key);
        &material.0[..]
    } else {
        key
    };
    let h = sha256_parts(&[name.as_bytes(), b"\n", &[alg], key]);
    u32::from_be_bytes([h.0[0], h.0[1], h.0[2], h.0[3]])
}

fn parse_key_id(s: &str) -> Result<u32, KeyError> {
    if s.len() != 8 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(KeyError::KeyIdHex);
    }
    u32::from_str_radix(s, 16).map_err(|_| KeyError::KeyIdHex)
}

/// Splits `name+id+b64` (the name cannot hold `+`) and checks the ID.
fn parse_key_parts(s: &str) -> Result<(&str, u32, Vec<u8>), KeyError> {
    // The name holds no '+', the ID is hex; base64 may hold '+'.
    let parts: Vec<&str> = s.splitn(3, '+').collect();
    let [name, id, b64] = parts[..] else {
        return Err(KeyError::Parts);
    };
    if !valid_key_name(name) {
        return Err(KeyError::Name);
    }
    let id = parse_key_id(id)?;
    let raw = STANDARD.decode(b64).map_err(|_| KeyError::Base64)?;
    if raw.is_empty() {
        return Err(KeyError::Length { actual: 0 });
    }
    Ok((name, id, raw))
}

/// A public key that verifies note signatures or cosignatures.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    alg: u8,
    key: VerifyingKey,
}

impl std::fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifierKey({})", self.to_text())
    }
}

impl VerifierKey {
    /// Parses a vkey strictly.
    ///
    /// # Errors
    /// [`Error::Key`] with the reason.
    pub fn parse(s: &str) -> Result<VerifierKey, Error> {
        let (name, id, raw) = parse_key_parts(s)?;
        let (alg, key) = (raw[0], &raw[1..]);
        let computed = key_id(name, alg, key);
        if computed != id {
            return Err(KeyError::KeyIdMismatch {
                stated: id,
                computed,
            }
            .into());
        }
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE_V1 {
            return Err(KeyError::UnsupportedType { alg }.into());
        }
        let bytes: [u8; 32] = key
            .try_into()
            .map_err(|_| KeyError::Length { actual: key.len() })?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::InvalidPublicKey)?;
        Ok(VerifierKey {
            name: name.to_owned(),
            id,
            alg,
            key,
        })
    }

    /// A verifier for an Ed25519 public key of type `alg` (0x01 or 0x04).
    ///
    /// # Errors
    /// [`KeyError::Name`] or [`KeyError::UnsupportedType`].
    pub fn from_public(name: &str, alg: u8, key: VerifyingKey) -> Result<VerifierKey, Error> {
        if !valid_key_name(name) {
            return Err(KeyError::Name.into());
        }
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE_V1 {
            return Err(KeyError::UnsupportedType { alg }.into());
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            id: key_id(name, alg, key.as_bytes()),
            alg,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The signature type (0x01 or 0x04).
    pub fn alg(&self) -> u8 {
        self.alg
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The vkey text form.
    pub fn to_text(&self) -> String {
        let mut raw = vec![self.alg];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, STANDARD.encode(raw))
    }

    /// Checks one signature (without its key ID) over `text`; returns the
    /// cosignature timestamp for type 0x04.
    fn check(&self, text: &str, sig: &[u8]) -> Result<Option<u64>, Error> {
        let bad = || Error::InvalidSignature {
            name: self.name.clone(),
            id: self.id,
        };
        match self.alg {
            ALG_COSIGNATURE_V1 => {
                if sig.len() != 72 {
                    return Err(Error::CosignatureLength {
                        actual: sig.len() + 4,
                    });
                }
                let mut ts = [0u8; 8];
                ts.copy_from_slice(&sig[..8]);
                let t = u64::from_be_bytes(ts);
                let s = ed25519_dalek::Signature::from_slice(&sig[8..]).map_err(|_| bad())?;
                self.key
                    .verify_strict(cosigned_message(text, t).as_bytes(), &s)
                    .map_err(|_| bad())?;
                Ok(Some(t))
            }
            _ => {
                let s = ed25519_dalek::Signature::from_slice(sig).map_err(|_| bad())?;
                self.key
                    .verify_strict(text.as_bytes(), &s)
                    .map_err(|_| bad())?;
                Ok(None)
            }
        }
    }
}

/// The message a cosignature/v1 signs.
pub fn cosigned_message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// The timestamp of a cosignature/v1 signature (key ID included, 76 bytes).
///
/// # Errors
/// [`Error::CosignatureLength`].
pub fn cosignature_timestamp(sig_with_id: &[u8]) -> Result<u64, Error> {
    if sig_with_id.len() != 76 {
        return Err(Error::CosignatureLength {
            actual: sig_with_id.len(),
        });
    }
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&sig_with_id[4..12]);
    Ok(u64::from_be_bytes(ts))
}

/// A private key that signs notes (type 0x01) or cosigns (type 0x04).
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    alg: u8,
    key: SigningKey,
}

impl std::fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignerKey({}+{:08x})", self.name, self.id())
    }
}

impl SignerKey {
    /// A signer from a 32-byte Ed25519 seed.
    ///
    /// # Errors
    /// [`KeyError::Name`] or [`KeyError::UnsupportedType`].
    pub fn from_seed(name: &str, alg: u8, seed: [u8; 32]) -> Result<SignerKey, Error> {
        if !valid_key_name(name) {
            return Err(KeyError::Name.into());
        }
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE_V1 {
            return Err(KeyError::UnsupportedType { alg }.into());
        }
        Ok(SignerKey {
            name: name.to_owned(),
            alg,
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Parses an skey strictly; the key ID must match the derived public key.
    ///
    /// # Errors
    /// [`Error::Key`] with the reason.
    pub fn parse(s: &str) -> Result<SignerKey, Error> {
        let rest = s.strip_prefix("PRIVATE+KEY+").ok_or(KeyError::Parts)?;
        let (name, id, raw) = parse_key_parts(rest)?;
        let alg = raw[0];
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE_V1 {
            return Err(KeyError::UnsupportedType { alg }.into());
        }
        let seed: [u8; 32] = raw[1..].try_into().map_err(|_| KeyError::Length {
            actual: raw.len() - 1,
        })?;
        let signer = SignerKey::from_seed(name, alg, seed)?;
        if signer.id() != id {
            return Err(KeyError::KeyIdMismatch {
                stated: id,
                computed: signer.id(),
            }
            .into());
        }
        Ok(signer)
    }

    /// The skey text form. Secret: store it with care.
    pub fn to_text(&self) -> String {
        let mut raw = vec![self.alg];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id(),
            STANDARD.encode(raw)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn id(&self) -> u32 {
        key_id(&self.name, self.alg, self.key.verifying_key().as_bytes())
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id(),
            alg: self.alg,
            key: self.key.verifying_key(),
        }
    }

    /// Signs note `text` (type 0x01), or cosigns it at `timestamp` (type
    /// 0x04; `timestamp` is ignored for type 0x01).
    pub fn sign(&self, text: &str, timestamp: u64) -> NoteSignature {
        let sig = if self.alg == ALG_COSIGNATURE_V1 {
            let mut v = timestamp.to_be_bytes().to_vec();
            v.extend_from_slice(
                &self
                    .key
                    .sign(cosigned_message(text, timestamp).as_bytes())
                    .to_bytes(),
            );
            v
        } else {
            self.key.sign(text.as_bytes()).to_bytes().to_vec()
        };
        NoteSignature {
            name: self.name.clone(),
            id: self.id(),
            sig,
        }
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub id: u32,
    /// Signature bytes after the 4-byte key ID.
    pub sig: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, with its final newline.
    pub fn to_line(&self) -> String {
        let mut raw = self.id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.sig);
        format!("{DASH}{} {}\n", self.name, STANDARD.encode(raw))
    }
}

/// A signed note: text and signature lines, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

fn check_text(text: &str) -> Result<(), Error> {
    if text.is_empty() || !text.ends_with('\n') || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(Error::Note(NoteError::Text));
    }
    Ok(())
}

impl Note {
    /// An unsigned note with `text`.
    ///
    /// # Errors
    /// [`NoteError::Text`] for empty text, text without a final newline or
    /// with control characters.
    pub fn new(text: &str) -> Result<Note, Error> {
        check_text(text)?;
        Ok(Note {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note strictly (at least one signature line).
    ///
    /// # Errors
    /// [`Error::Note`], [`Error::TooManySignatures`].
    pub fn parse(bytes: &[u8]) -> Result<Note, Error> {
        let s = std::str::from_utf8(bytes).map_err(|_| Error::Note(NoteError::Utf8))?;
        let split = s
            .rfind("\n\n")
            .ok_or(Error::Note(NoteError::NoSignatureBlock))?;
        let (text, sigs) = (&s[..split + 1], &s[split + 2..]);
        check_text(text)?;
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(Error::Note(NoteError::SignatureLine { line: 1 }));
        }
        let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
        if lines.len() > MAX_SIGNATURES {
            return Err(Error::TooManySignatures {
                count: lines.len(),
                max: MAX_SIGNATURES,
            });
        }
        let mut signatures = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let bad = Error::Note(NoteError::SignatureLine { line: i + 1 });
            let rest = line.strip_prefix(DASH).ok_or(bad.clone())?;
            let (name, b64) = rest.split_once(' ').ok_or(bad.clone())?;
            if !valid_key_name(name) {
                return Err(bad);
            }
            let raw = STANDARD.decode(b64).map_err(|_| bad.clone())?;
            if raw.len() < 5 {
                return Err(bad);
            }
            let sig = NoteSignature {
                name: name.to_owned(),
                id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
                sig: raw[4..].to_vec(),
            };
            if !signatures.contains(&sig) {
                signatures.push(sig);
            }
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note text (ending in a newline).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signatures, in order, duplicates removed.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature (ignored if identical to one present).
    pub fn add_signature(&mut self, sig: NoteSignature) {
        if !self.signatures.contains(&sig) {
            self.signatures.push(sig);
        }
    }

    /// The note in text form: text, blank line, signature lines.
    pub fn to_text(&self) -> String {
        let mut s = self.text.clone();
        s.push('\n');
        for sig in &self.signatures {
            s.push_str(&sig.to_line());
        }
        s
    }

    /// Verifies the note against `keys` (see the module docs for the rules).
    ///
    /// # Errors
    /// [`Error::AmbiguousKey`], [`Error::InvalidSignature`],
    /// [`Error::CosignatureLength`], [`Error::NoVerifiedSignature`].
    pub fn verify(&self, keys: &[VerifierKey]) -> Result<VerifiedNote, Error> {
        for (i, a) in keys.iter().enumerate() {
            if keys[..i].iter().any(|b| b.name == a.name && b.id == a.id) {
                return Err(Error::AmbiguousKey {
                    name: a.name.clone(),
                    id: a.id,
                });
            }
        }
        let mut verified = Vec::new();
        let mut unverified = Vec::new();
        for sig in &self.signatures {
            match keys.iter().find(|k| k.name == sig.name && k.id == sig.id) {
                Some(k) => {
                    let timestamp = k.check(&self.text, &sig.sig)?;
                    verified.push(VerifiedSignature {
                        key: k.clone(),
                        timestamp,
                    });
                }
                None => unverified.push(sig.clone()),
            }
        }
        if verified.is_empty() {
            return Err(Error::NoVerifiedSignature);
        }
        Ok(VerifiedNote {
            note: self.clone(),
            verified,
            unverified,
        })
    }
}

/// A signature that verified, with the key that verified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub key: VerifierKey,
    /// Seconds since the epoch, for cosignature/v1 signatures.
    pub timestamp: Option<u64>,
}

/// A note with at least one verified signature. Only [`Note::verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    note: Note,
    verified: Vec<VerifiedSignature>,
    unverified: Vec<NoteSignature>,
}

impl VerifiedNote {
    /// The verified text.
    pub fn text(&self) -> &str {
        self.note.text()
    }

    /// The whole note as received.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// Signatures that verified.
    pub fn verified(&self) -> &[VerifiedSignature] {
        &self.verified
    }

    /// Signatures by keys that were not given.
    pub fn unverified(&self) -> &[NoteSignature] {
        &self.unverified
    }
}
