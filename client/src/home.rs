//! The user's ank directory (`$ANK_HOME`, default `$XDG_CONFIG_HOME/ank` or
//! `~/.config/ank`): device keys and the trust file.
//!
//! * `keys/<canonical address>.json`, mode 0600:
//!   `{"address", "device", "ed25519_seed", "x25519_secret"}` (base64).
//! * `trust`: one log per line, `<domain> <url> <vkey>`, like ssh's
//!   known_hosts; `#` starts a comment.

use std::path::{Path, PathBuf};

use ank_proofs::{Address, Device, VerifierKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::ClientError;

/// `$ANK_HOME`, or the XDG default.
pub fn ank_home() -> PathBuf {
    if let Some(h) = std::env::var_os("ANK_HOME") {
        return PathBuf::from(h);
    }
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME") {
        return PathBuf::from(x).join("ank");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".config").join("ank")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ClientError + '_ {
    move |source| ClientError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// This device's keys for one address.
#[derive(Clone)]
pub struct DeviceKeys {
    pub address: Address,
    pub device: String,
    pub signing: ed25519_dalek::SigningKey,
    pub encryption: x25519_dalek::StaticSecret,
}

impl std::fmt::Debug for DeviceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKeys({} on {})", self.address, self.device)
    }
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    address: String,
    device: String,
    ed25519_seed: String,
    x25519_secret: String,
}

fn random32() -> Result<[u8; 32], ClientError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| ClientError::Io {
        path: "OS random source".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(b)
}

impl DeviceKeys {
    /// Fresh keys.
    ///
    /// # Errors
    /// When the OS has no randomness.
    pub fn generate(address: &Address, device: &str) -> Result<DeviceKeys, ClientError> {
        Ok(DeviceKeys {
            address: address.clone(),
            device: device.to_owned(),
            signing: ed25519_dalek::SigningKey::from_bytes(&random32()?),
            encryption: x25519_dalek::StaticSecret::from(random32()?),
        })
    }

    /// The public half, as a key-set device.
    pub fn public(&self) -> Device {
        Device {
            name: self.device.clone(),
            signing_key: self.signing.verifying_key().to_bytes(),
            encryption_key: x25519_dalek::PublicKey::from(&self.encryption).to_bytes(),
        }
    }

    fn path(home: &Path, address: &Address) -> PathBuf {
        home.join("keys").join(format!("{address}.json"))
    }

    /// Loads the keys of `address`.
    ///
    /// # Errors
    /// [`ClientError::NoKeys`] when `ank init` was not run; I/O and format errors.
    pub fn load(home: &Path, address: &Address) -> Result<DeviceKeys, ClientError> {
        let p = Self::path(home, address);
        if !p.exists() {
            return Err(ClientError::NoKeys(address.to_string()));
        }
        let text = std::fs::read_to_string(&p).map_err(io(&p))?;
        let bad = |what: &str| ClientError::BadFile {
            path: p.display().to_string(),
            what: what.to_owned(),
        };
        let f: KeyFile = serde_json::from_str(&text).map_err(|e| bad(&e.to_string()))?;
        let b32 = |s: &str| -> Option<[u8; 32]> { STANDARD.decode(s).ok()?.try_into().ok() };
        Ok(DeviceKeys {
            address: Address::parse(&f.address).map_err(|e| bad(&e.to_string()))?,
            device: f.device,
            signing: ed25519_dalek::SigningKey::from_bytes(
                &b32(&f.ed25519_seed).ok_or_else(|| bad("ed25519_seed"))?,
            ),
            encryption: x25519_dalek::StaticSecret::from(
                b32(&f.x25519_secret).ok_or_else(|| bad("x25519_secret"))?,
            ),
        })
    }

    fn pending_path(home: &Path, address: &Address) -> PathBuf {
        home.join("keys").join(format!("{address}.pending.json"))
    }

    /// Saves keys that are about to be published, beside the current ones.
    ///
    /// # Errors
    /// I/O errors.
    pub fn save_pending(&self, home: &Path) -> Result<(), ClientError> {
        self.save_at(&Self::pending_path(home, &self.address))
    }

    /// Makes the pending keys the current ones (after the log accepted them).
    ///
    /// # Errors
    /// I/O errors.
    pub fn promote_pending(&self, home: &Path) -> Result<(), ClientError> {
        let p = Self::path(home, &self.address);
        std::fs::rename(Self::pending_path(home, &self.address), &p).map_err(io(&p))
    }

    /// Saves the keys (mode 0600), atomically replacing any previous ones
    /// when `replace` is set.
    ///
    /// # Errors
    /// [`ClientError::KeysExist`] when keys exist and `replace` is unset; I/O errors.
    pub fn save(&self, home: &Path, replace: bool) -> Result<(), ClientError> {
        let p = Self::path(home, &self.address);
        if p.exists() && !replace {
            return Err(ClientError::KeysExist(p.display().to_string()));
        }
        self.save_at(&p)
    }

    fn save_at(&self, p: &Path) -> Result<(), ClientError> {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let f = KeyFile {
            address: self.address.to_string(),
            device: self.device.clone(),
            ed25519_seed: STANDARD.encode(self.signing.to_bytes()),
            x25519_secret: STANDARD.encode(self.encryption.to_bytes()),
        };
        let tmp = p.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let text = serde_json::to_string_pretty(&f).unwrap_or_default();
        write_private(&tmp, text.as_bytes()).map_err(io(&tmp))?;
        std::fs::rename(&tmp, p).map_err(io(p))
    }
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

/// One trusted log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedLog {
    pub domain: String,
    pub url: String,
    pub vkey: VerifierKey,
}

/// Reads `<home>/trust` (absent: empty).
///
/// # Errors
/// [`ClientError::BadFile`] naming the line that does not parse.
pub fn read_trust(home: &Path) -> Result<Vec<TrustedLog>, ClientError> {
    let p = home.join("trust");
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&p)(e)),
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: String| ClientError::BadFile {
            path: format!("{}:{}", p.display(), i + 1),
            what,
        };
        let f: Vec<&str> = line.split_whitespace().collect();
        let [domain, url, vkey] = f[..] else {
            return Err(bad("want `<domain> <url> <vkey>`".into()));
        };
        let vkey = VerifierKey::parse(vkey).map_err(|e| bad(e.to_string()))?;
        out.push(TrustedLog {
            domain: domain.to_ascii_lowercase(),
            url: url.to_owned(),
            vkey,
        });
    }
    Ok(out)
}

/// Adds or replaces the trust line of `domain`.
///
/// # Errors
/// I/O errors; an unreadable existing file.
pub fn add_trust(home: &Path, entry: &TrustedLog) -> Result<(), ClientError> {
    let mut all: Vec<TrustedLog> = read_trust(home)?
        .into_iter()
        .filter(|t| t.domain != entry.domain)
        .collect();
    all.push(entry.clone());
    std::fs::create_dir_all(home).map_err(io(home))?;
    let mut text = String::from("# ank trust file: <domain> <url> <vkey>\n");
    for t in &all {
        text.push_str(&format!("{} {} {}\n", t.domain, t.url, t.vkey.to_text()));
    }
    let p = home.join("trust");
    let tmp = home.join("trust.tmp");
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &p).map_err(io(&p))
}
