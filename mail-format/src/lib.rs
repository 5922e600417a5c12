//! # ank-mail-format
//!
//! What travels between senders, mailboxes and recipients, with no I/O: the
//! plain-text payload, its HPKE encryption, the signed envelope, and signed
//! fetch requests ([`fetch_auth`]). The mailbox (`ank-mailbox`) and the
//! client (`ank-client`) both build on it.
//!
//! ## Payload (v1), the plaintext that gets encrypted
//!
//! | size | field |
//! |---|---|
//! | 1 | format, 0x01 |
//! | 1 + n | sender's canonical address (1-byte length) |
//! | 1 + n | recipient's canonical address (1-byte length) |
//! | 8 | timestamp, ms since the Unix epoch, u64 BE |
//! | 2 + n | subject: u16 BE length ≤ 256, UTF-8 without control characters |
//! | 4 + n | body: u32 BE length ≤ 65,536, UTF-8; of the control characters only LF |
//!
//! Nothing follows the body. There are no attachments and no markup; links stay text.
//!
//! ## Encryption
//!
//! HPKE (RFC 9180), base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//! ChaCha20-Poly1305, to the recipient's current X25519 key. The HPKE `info`
//! binds the recipient: `"ank-mail/v1" || 0x00 || canonical address || 0x00
//! || X25519 public key`. The AEAD's associated data is the 16-byte message id,
//! so a ciphertext cannot be replayed under another id. Who sent it is proven
//! by the sender's Ed25519 signature over the envelope (next step), not by HPKE.
//!
//! ## Envelope
//!
//! What travels (JSON, all byte strings standard base64): `id` (16 bytes),
//! `to` and `from` (canonical addresses), `to_key` (the recipient's X25519
//! key the message is sealed to), `from_key` (the sender's Ed25519 key),
//! `enc` (32 bytes), `ciphertext`, `signature`, and optionally
//! `recipient_proof`, the lookup answer the sender verified for `to_key`.
//! The mailbox replaces `sender_proof` with the lookup answer of the sender's
//! log that proved `from_key` current at acceptance; the recipient checks it
//! under that log's key, so mail stays verifiable after the sender rotates.
//! The sender signs, with `from_key`, the text
//!
//! ```text
//! ank-envelope-v1\n<id>\n<to>\n<to_key>\n<from>\n<from_key>\n<SHA-256(enc || ciphertext)>\n
//! ```
//!
//! (byte strings in base64). [`Envelope::check`] parses every field strictly
//! and verifies that signature; whether `from_key` is the sender's current key
//! and `to_key` the recipient's is for the mailbox to prove through the logs.
//!
//! ## Errors
//!
//! [`MailError`]: `Truncated`, `TrailingBytes`, `Format`, `Address`,
//! `SubjectTooLong`, `BodyTooLong`, `NotUtf8`, `ControlCharacter`,
//! `KeyLength`, `Decrypt`, `Encrypt`, `Envelope` (a field that does not
//! parse, named), `BadSignature`, and for the mailbox's storage
//! `NoStorageKey`, `WeakStorageKey`, `AtRest`, `Io`.

pub mod fetch_auth;

use ank_proofs::Address;
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};

/// Largest subject, in bytes.
pub const MAX_SUBJECT: usize = 256;
/// Largest body, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// Everything that can go wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("payload truncated at byte {offset}")]
    Truncated { offset: usize },
    #[error("bytes after the body")]
    TrailingBytes,
    #[error("unknown payload format 0x{0:02x}")]
    Format(u8),
    #[error("invalid {field} address")]
    Address { field: &'static str },
    #[error("subject is {len} bytes, at most {MAX_SUBJECT} allowed")]
    SubjectTooLong { len: usize },
    #[error("body is {len} bytes, at most {MAX_BODY} allowed")]
    BodyTooLong { len: usize },
    #[error("{field} is not UTF-8")]
    NotUtf8 { field: &'static str },
    #[error("{field} holds a control character")]
    ControlCharacter { field: &'static str },
    #[error("an X25519 key must be 32 bytes")]
    KeyLength,
    #[error("the message does not decrypt with this key")]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
    #[error("envelope field {field} is malformed")]
    Envelope { field: &'static str },
    #[error("the envelope's signature does not verify with its from_key")]
    BadSignature,
    #[error(
        "no storage key: set ANK_STORAGE_KEY (or BANGMAIL_KEY) to a secret of at least 16 bytes, for example `export ANK_STORAGE_KEY=$(head -c 32 /dev/urandom | base64)`, and keep it: stored mail cannot be read without it"
    )]
    NoStorageKey,
    #[error("the storage key is {len} bytes; use at least 16")]
    WeakStorageKey { len: usize },
    #[error("a stored message does not decrypt: wrong storage key, or the row was altered")]
    AtRest,
    #[error("mail storage: {0}")]
    Io(String),
}

/// A plain-text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub from: Address,
    pub to: Address,
    pub timestamp_ms: u64,
    pub subject: String,
    pub body: String,
}

fn check_subject(s: &str) -> Result<(), MailError> {
    if s.len() > MAX_SUBJECT {
        return Err(MailError::SubjectTooLong { len: s.len() });
    }
    if s.chars().any(char::is_control) {
        return Err(MailError::ControlCharacter { field: "subject" });
    }
    Ok(())
}

fn check_body(s: &str) -> Result<(), MailError> {
    if s.len() > MAX_BODY {
        return Err(MailError::BodyTooLong { len: s.len() });
    }
    // Only LF: a CR could rewrite what a terminal shows, a tab hide text.
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(MailError::ControlCharacter { field: "body" });
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MailError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(MailError::Truncated { offset: self.at })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn len(&mut self, width: usize) -> Result<usize, MailError> {
        let b = self.take(width)?;
        Ok(b.iter().fold(0usize, |acc, &x| (acc << 8) | usize::from(x)))
    }
    fn text(&mut self, width: usize, field: &'static str) -> Result<&'a str, MailError> {
        let n = self.len(width)?;
        std::str::from_utf8(self.take(n)?).map_err(|_| MailError::NotUtf8 { field })
    }
}

impl Payload {
    /// A payload, checked against the limits.
    ///
    /// # Errors
    /// [`MailError::SubjectTooLong`], [`MailError::BodyTooLong`], [`MailError::ControlCharacter`].
    pub fn new(
        from: Address,
        to: Address,
        timestamp_ms: u64,
        subject: &str,
        body: &str,
    ) -> Result<Payload, MailError> {
        check_subject(subject)?;
        check_body(body)?;
        Ok(Payload {
            from,
            to,
            timestamp_ms,
            subject: subject.to_owned(),
            body: body.to_owned(),
        })
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let (from, to) = (self.from.to_string(), self.to.to_string());
        let mut b =
            Vec::with_capacity(16 + from.len() + to.len() + self.subject.len() + self.body.len());
        b.push(0x01);
        // Canonical addresses are at most 254 bytes, subjects 256, bodies 64 KiB.
        b.push(from.len() as u8);
        b.extend_from_slice(from.as_bytes());
        b.push(to.len() as u8);
        b.extend_from_slice(to.as_bytes());
        b.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        b.extend_from_slice(&(self.subject.len() as u16).to_be_bytes());
        b.extend_from_slice(self.subject.as_bytes());
        b.extend_from_slice(&(self.body.len() as u32).to_be_bytes());
        b.extend_from_slice(self.body.as_bytes());
        b
    }

    /// Decodes and checks a canonical encoding.
    ///
    /// # Errors
    /// Every [`MailError`] variant of the format.
    pub fn decode(bytes: &[u8]) -> Result<Payload, MailError> {
        let mut r = Reader { bytes, at: 0 };
        let format = r.take(1)?[0];
        if format != 0x01 {
            return Err(MailError::Format(format));
        }
        let from = r.text(1, "from")?;
        let from = Address::parse(from)
            .ok()
            .filter(|a| a.to_string() == from)
            .ok_or(MailError::Address { field: "from" })?;
        let to = r.text(1, "to")?;
        let to = Address::parse(to)
            .ok()
            .filter(|a| a.to_string() == to)
            .ok_or(MailError::Address { field: "to" })?;
        let ts = r.take(8)?;
        let timestamp_ms = ts.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
        let subject_len = r.len(2)?;
        if subject_len > MAX_SUBJECT {
            return Err(MailError::SubjectTooLong { len: subject_len });
        }
        let subject = std::str::from_utf8(r.take(subject_len)?)
            .map_err(|_| MailError::NotUtf8 { field: "subject" })?;
        let body_len = r.len(4)?;
        if body_len > MAX_BODY {
            return Err(MailError::BodyTooLong { len: body_len });
        }
        let body = std::str::from_utf8(r.take(body_len)?)
            .map_err(|_| MailError::NotUtf8 { field: "body" })?;
        if r.at != bytes.len() {
            return Err(MailError::TrailingBytes);
        }
        Payload::new(from, to, timestamp_ms, subject, body)
    }
}

/// The HPKE `info` binding a ciphertext to its recipient and key.
pub fn hpke_info(to: &Address, key: &[u8; 32]) -> Vec<u8> {
    let mut info = b"ank-mail/v1\0".to_vec();
    info.extend_from_slice(to.to_string().as_bytes());
    info.push(0);
    info.extend_from_slice(key);
    info
}

fn public(key: &[u8; 32]) -> Result<<X25519HkdfSha256 as hpke::Kem>::PublicKey, MailError> {
    <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(key).map_err(|_| MailError::KeyLength)
}

/// Encrypts `payload` to the recipient's X25519 key; returns (enc, ciphertext).
///
/// # Errors
/// [`MailError::KeyLength`], [`MailError::Encrypt`].
pub fn seal(
    payload: &Payload,
    recipient_key: &[u8; 32],
    id: &[u8; 16],
) -> Result<([u8; 32], Vec<u8>), MailError> {
    let pk = public(recipient_key)?;
    let info = hpke_info(&payload.to, recipient_key);
    let (enc, ct) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeS::Base,
        &pk,
        &info,
        &payload.encode(),
        id,
    )
    .map_err(|_| MailError::Encrypt)?;
    let mut e = [0u8; 32];
    e.copy_from_slice(&enc.to_bytes());
    Ok((e, ct))
}

/// Decrypts a message for `to` with its X25519 secret key, and checks that
/// the payload names `to` as its recipient.
///
/// # Errors
/// [`MailError::Decrypt`] (wrong key, recipient, id or tampered bytes), and the
/// payload format errors.
pub fn open(
    to: &Address,
    secret: &[u8; 32],
    enc: &[u8; 32],
    ciphertext: &[u8],
    id: &[u8; 16],
) -> Result<Payload, MailError> {
    let sk = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(secret)
        .map_err(|_| MailError::KeyLength)?;
    let pk = X25519HkdfSha256::sk_to_pk(&sk);
    let info = hpke_info(to, &pk.to_bytes().into());
    let encapped = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(enc)
        .map_err(|_| MailError::Decrypt)?;
    let pt = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &sk,
        &encapped,
        &info,
        ciphertext,
        id,
    )
    .map_err(|_| MailError::Decrypt)?;
    let payload = Payload::decode(&pt)?;
    if payload.to != *to {
        return Err(MailError::Decrypt);
    }
    Ok(payload)
}

/// RFC 9180 single-shot open for this suite, in base or auth mode; exposed
/// for the test vectors.
///
/// # Errors
/// [`MailError::KeyLength`], [`MailError::Decrypt`].
pub fn hpke_open_raw(
    secret: &[u8; 32],
    sender: Option<&[u8; 32]>,
    enc: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, MailError> {
    let sk = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(secret)
        .map_err(|_| MailError::KeyLength)?;
    let encapped = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(enc)
        .map_err(|_| MailError::Decrypt)?;
    let mode = match sender {
        Some(pk) => OpModeR::Auth(public(pk)?),
        None => OpModeR::Base,
    };
    hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &mode, &sk, &encapped, info, ciphertext, aad,
    )
    .map_err(|_| MailError::Decrypt)
}

/// The X25519 public key of a secret key.
///
/// # Errors
/// [`MailError::KeyLength`].
pub fn x25519_public(secret: &[u8; 32]) -> Result<[u8; 32], MailError> {
    let sk = <X25519HkdfSha256 as hpke::Kem>::PrivateKey::from_bytes(secret)
        .map_err(|_| MailError::KeyLength)?;
    Ok(X25519HkdfSha256::sk_to_pk(&sk).to_bytes().into())
}

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer as _;

/// A message in transit (see the crate docs).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub id: String,
    pub to: String,
    pub to_key: String,
    pub from: String,
    pub from_key: String,
    pub enc: String,
    pub ciphertext: String,
    pub signature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_proof: Option<ank_proofs::api::LookupResponse>,
    /// Set by the mailbox, never by the sender: the lookup answer of the
    /// sender's log that proved `from_key` current when the mail was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_proof: Option<ank_proofs::api::LookupResponse>,
}

/// An envelope whose fields parsed and whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedEnvelope {
    pub id: [u8; 16],
    pub to: Address,
    pub to_key: [u8; 32],
    pub from: Address,
    pub from_key: [u8; 32],
    pub enc: [u8; 32],
    pub ciphertext: Vec<u8>,
}

/// The exact bytes a sender signs for an envelope (see the crate docs).
pub fn envelope_signed_text(
    id: &[u8; 16],
    to: &Address,
    to_key: &[u8; 32],
    from: &Address,
    from_key: &[u8; 32],
    enc: &[u8; 32],
    ct: &[u8],
) -> Vec<u8> {
    let digest = ank_proofs::hash::sha256_parts(&[enc, ct]);
    format!(
        "ank-envelope-v1\n{}\n{to}\n{}\n{from}\n{}\n{digest}\n",
        STANDARD.encode(id),
        STANDARD.encode(to_key),
        STANDARD.encode(from_key)
    )
    .into_bytes()
}

fn b64_array<const N: usize>(s: &str, field: &'static str) -> Result<[u8; N], MailError> {
    ank_proofs::hash::b64_array(s).ok_or(MailError::Envelope { field })
}

fn canonical(s: &str, field: &'static str) -> Result<Address, MailError> {
    Address::parse(s)
        .ok()
        .filter(|a| a.to_string() == s)
        .ok_or(MailError::Envelope { field })
}

impl Envelope {
    /// Seals `payload` to `to_key` and signs the envelope with the sender's key.
    ///
    /// # Errors
    /// [`MailError::KeyLength`], [`MailError::Encrypt`].
    pub fn create(
        payload: &Payload,
        to_key: &[u8; 32],
        sender: &ed25519_dalek::SigningKey,
        id: [u8; 16],
    ) -> Result<Envelope, MailError> {
        let (enc, ct) = seal(payload, to_key, &id)?;
        let from_key = sender.verifying_key().to_bytes();
        let text = envelope_signed_text(
            &id,
            &payload.to,
            to_key,
            &payload.from,
            &from_key,
            &enc,
            &ct,
        );
        Ok(Envelope {
            id: STANDARD.encode(id),
            to: payload.to.to_string(),
            to_key: STANDARD.encode(to_key),
            from: payload.from.to_string(),
            from_key: STANDARD.encode(from_key),
            enc: STANDARD.encode(enc),
            ciphertext: STANDARD.encode(&ct),
            signature: STANDARD.encode(sender.sign(&text).to_bytes()),
            recipient_proof: None,
            sender_proof: None,
        })
    }

    /// Parses every field strictly and verifies the sender's signature.
    ///
    /// # Errors
    /// [`MailError::Envelope`] naming the field, [`MailError::BodyTooLong`]
    /// for a ciphertext too large to hold a valid payload, [`MailError::BadSignature`].
    pub fn check(&self) -> Result<CheckedEnvelope, MailError> {
        let id: [u8; 16] = b64_array(&self.id, "id")?;
        let to = canonical(&self.to, "to")?;
        let from = canonical(&self.from, "from")?;
        let to_key: [u8; 32] = b64_array(&self.to_key, "to_key")?;
        let from_key: [u8; 32] = b64_array(&self.from_key, "from_key")?;
        let enc: [u8; 32] = b64_array(&self.enc, "enc")?;
        // Largest valid payload: header, two addresses, limits, AEAD tag.
        let max_ct = 1 + 255 + 255 + 8 + 2 + MAX_SUBJECT + 4 + MAX_BODY + 16;
        if self.ciphertext.len() > max_ct.div_ceil(3) * 4 {
            return Err(MailError::BodyTooLong {
                len: self.ciphertext.len() / 4 * 3,
            });
        }
        let ciphertext = STANDARD
            .decode(&self.ciphertext)
            .map_err(|_| MailError::Envelope {
                field: "ciphertext",
            })?;
        let signature: [u8; 64] = b64_array(&self.signature, "signature")?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&from_key)
            .map_err(|_| MailError::Envelope { field: "from_key" })?;
        let text = envelope_signed_text(&id, &to, &to_key, &from, &from_key, &enc, &ciphertext);
        key.verify_strict(&text, &ed25519_dalek::Signature::from_bytes(&signature))
            .map_err(|_| MailError::BadSignature)?;
        Ok(CheckedEnvelope {
            id,
            to,
            to_key,
            from,
            from_key,
            enc,
            ciphertext,
        })
    }
}

impl CheckedEnvelope {
    /// Decrypts with the recipient's X25519 secret, and checks that the
    /// payload's sender and recipient are the envelope's.
    ///
    /// # Errors
    /// [`MailError::Decrypt`], payload errors.
    pub fn open(&self, secret: &[u8; 32]) -> Result<Payload, MailError> {
        let p = open(&self.to, secret, &self.enc, &self.ciphertext, &self.id)?;
        if p.from != self.from {
            return Err(MailError::Envelope { field: "from" });
        }
        Ok(p)
    }
}
