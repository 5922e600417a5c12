//! The user's ank directory (`$ANK_HOME`, default `$XDG_CONFIG_HOME/ank` or
//! `~/.config/ank`): device keys and the trust file.
//!
//! * `keys/<canonical address>.json`, mode 0600:
//!   `{"address", "device", "ed25519_seed", "x25519_secret"}` (base64).
//! * `keys/<address>.pending.json`: a key change whose outcome is not known
//!   yet ([`PendingChange`]); never overwritten, settled by the next command.
//! * `keys/<address>.old/*.json`: superseded secrets, kept until they expire
//!   so that mail sealed to them still opens.
//! * `trust`: one log per line, `<domain> <url> <vkey>`, like ssh's
//!   known_hosts; `#` starts a comment. The key's name must be
//!   `<domain>/<path>` ([`names_domain`]).
//!
//! Directories are created 0700 and files 0600; files are replaced
//! atomically (written, synced, renamed).

use std::path::{Path, PathBuf};

use ank_proofs::api::PublishRequest;
use ank_proofs::{Address, Device, VerifierKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use ank_common::fs::{create_private_dir, replace_private};

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
    ank_common::random().map_err(|source| ClientError::Io {
        path: "OS random source".into(),
        source,
    })
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
        Self::from_key_file(f, bad)
    }

    fn key_file(&self) -> KeyFile {
        KeyFile {
            address: self.address.to_string(),
            device: self.device.clone(),
            ed25519_seed: STANDARD.encode(self.signing.to_bytes()),
            x25519_secret: STANDARD.encode(self.encryption.to_bytes()),
        }
    }

    fn from_key_file(
        f: KeyFile,
        bad: impl Fn(&str) -> ClientError,
    ) -> Result<DeviceKeys, ClientError> {
        let b32 = ank_common::b64_array::<32>;
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
        write_json(p, &self.key_file())
    }
}

fn write_json(p: &Path, value: &impl Serialize) -> Result<(), ClientError> {
    if let Some(dir) = p.parent() {
        create_private_dir(dir).map_err(io(dir))?;
    }
    let text = serde_json::to_vec_pretty(value).map_err(|e| ClientError::BadFile {
        path: p.display().to_string(),
        what: e.to_string(),
    })?;
    replace_private(p, &text).map_err(io(p))
}

/// A key change sent (or about to be sent) to the log whose outcome is not
/// known yet: the exact request, so it can be retried byte for byte, and the
/// new device keys it binds (none for a revocation).
///
/// Stored as `keys/<address>.pending.json`, mode 0600. While it exists no
/// other key change is started: the next command settles it first.
#[derive(Debug, Clone)]
pub struct PendingChange {
    pub request: PublishRequest,
    pub keys: Option<DeviceKeys>,
}

#[derive(Serialize, Deserialize)]
struct PendingFile {
    request: PublishRequest,
    keys: Option<KeyFile>,
}

/// A secret this device held for an address, kept after a key change so
/// that mail sealed to it can still be opened.
///
/// Stored as `keys/<address>.old/<superseded ms>-<public key hex>.json`.
#[derive(Serialize, Deserialize)]
struct OldKeyFile {
    keys: KeyFile,
    superseded_ms: u64,
    expires_ms: u64,
}

/// How long superseded secrets are kept by default: longer than mail waits
/// on a server (7 days by default) plus time to fetch it.
pub const DEFAULT_KEEP_OLD_MS: u64 = 30 * 24 * 3600 * 1000;

impl PendingChange {
    fn path(home: &Path, address: &Address) -> PathBuf {
        home.join("keys").join(format!("{address}.pending.json"))
    }

    /// The pending change of `address`, if any.
    ///
    /// # Errors
    /// I/O and format errors.
    pub fn load(home: &Path, address: &Address) -> Result<Option<PendingChange>, ClientError> {
        let p = Self::path(home, address);
        let text = match std::fs::read(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&p)(e)),
        };
        let bad = |what: &str| ClientError::BadFile {
            path: p.display().to_string(),
            what: what.to_owned(),
        };
        let f: PendingFile = serde_json::from_slice(&text).map_err(|e| bad(&e.to_string()))?;
        let keys = f
            .keys
            .map(|k| DeviceKeys::from_key_file(k, bad))
            .transpose()?;
        Ok(Some(PendingChange {
            request: f.request,
            keys,
        }))
    }

    /// Records this change before it is sent. Never overwrites another.
    ///
    /// # Errors
    /// [`ClientError::PendingChange`] when one is recorded already; I/O errors.
    pub fn save_new(&self, home: &Path, address: &Address) -> Result<(), ClientError> {
        let p = Self::path(home, address);
        if let Some(dir) = p.parent() {
            create_private_dir(dir).map_err(io(dir))?;
        }
        let f = PendingFile {
            request: self.request.clone(),
            keys: self.keys.as_ref().map(DeviceKeys::key_file),
        };
        let text = serde_json::to_vec_pretty(&f).map_err(|e| ClientError::BadFile {
            path: p.display().to_string(),
            what: e.to_string(),
        })?;
        // create_new: two racing commands cannot both record a change.
        match ank_common::fs::write_private(&p, &text) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(ClientError::PendingChange(address.to_string()))
            }
            Err(e) => Err(io(&p)(e)),
        }
    }

    /// Ends the change once the log's state is known. `applied`: the log
    /// holds it, so its keys become this device's current keys and the
    /// previous ones are kept as superseded until `now_ms + keep_ms`. Not
    /// applied: its keys never became current; they are kept the same way
    /// (mail can never have been sealed to them, but nothing is destroyed).
    ///
    /// # Errors
    /// I/O errors.
    pub fn finish(
        self,
        home: &Path,
        address: &Address,
        applied: bool,
        now_ms: u64,
        keep_ms: u64,
    ) -> Result<(), ClientError> {
        let current = DeviceKeys::load(home, address).ok();
        if applied {
            if let Some(old) = &current {
                keep_old(home, old, now_ms, keep_ms)?;
            }
            if let Some(k) = &self.keys {
                k.save(home, true)?;
            }
        } else if let Some(k) = &self.keys {
            keep_old(home, k, now_ms, keep_ms)?;
        }
        let p = Self::path(home, address);
        std::fs::remove_file(&p).map_err(io(&p))?;
        ank_common::fs::sync_dir(&home.join("keys")).map_err(io(home))
    }
}

fn old_dir(home: &Path, address: &Address) -> PathBuf {
    home.join("keys").join(format!("{address}.old"))
}

fn keep_old(home: &Path, keys: &DeviceKeys, now_ms: u64, keep_ms: u64) -> Result<(), ClientError> {
    let public: String = keys
        .public()
        .encryption_key
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let p = old_dir(home, &keys.address).join(format!("{now_ms}-{public}.json"));
    write_json(
        &p,
        &OldKeyFile {
            keys: keys.key_file(),
            superseded_ms: now_ms,
            expires_ms: now_ms.saturating_add(keep_ms),
        },
    )
}

/// Every X25519 secret this device may hold mail for at `address`: the
/// current one, a pending change's, and superseded ones not yet expired.
/// Expired superseded secrets are deleted.
///
/// # Errors
/// I/O and format errors of the current key file.
pub fn decryption_secrets(
    home: &Path,
    address: &Address,
    now_ms: u64,
) -> Result<Vec<x25519_dalek::StaticSecret>, ClientError> {
    let mut out = vec![DeviceKeys::load(home, address)?.encryption];
    if let Ok(Some(p)) = PendingChange::load(home, address)
        && let Some(k) = p.keys
    {
        out.push(k.encryption);
    }
    let dir = old_dir(home, address);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Ok(out);
    };
    for e in rd.flatten() {
        let path = e.path();
        let Ok(text) = std::fs::read(&path) else {
            continue;
        };
        let Ok(f) = serde_json::from_slice::<OldKeyFile>(&text) else {
            continue;
        };
        if f.expires_ms <= now_ms {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let bad = |w: &str| ClientError::BadFile {
            path: path.display().to_string(),
            what: w.to_owned(),
        };
        if let Ok(k) = DeviceKeys::from_key_file(f.keys, bad) {
            out.push(k.encryption);
        }
    }
    Ok(out)
}

/// Whether a log key's name makes it a log of `domain`: the name must be
/// `<domain>/<path>` (ank's default origin is `<domain>/ank`).
pub fn names_domain(key_name: &str, domain: &str) -> bool {
    key_name
        .split_once('/')
        .is_some_and(|(d, rest)| d == domain && !rest.is_empty())
}

/// One trusted log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedLog {
    pub domain: String,
    pub url: String,
    pub vkey: VerifierKey,
    /// The witnesses whose cosignatures this log's checkpoints need, and how.
    pub witnesses: Option<crate::log::WitnessPolicy>,
    /// Over TLS, the SHA-256 of the server's SubjectPublicKeyInfo: only that
    /// key is trusted ([`crate::tls`]).
    pub tls_pin: Option<[u8; 32]>,
    /// The Bangmail SSH door: `host:port` and the SHA-256 of its host key
    /// (SSHFP `4 2`).
    pub ssh: Option<(String, [u8; 32])>,
}

/// Reads `<home>/trust` (absent: empty). A line is
/// `<domain> <url> <vkey>`, then optionally `witness=<vkey>` (repeated),
/// `quorum=<k>` (default: every witness), or `policy=<file>` (a C2SP
/// tlog-policy under `<home>`), `max-age=<duration>`, `tls-pin=<base64
/// SHA-256 of the server's SubjectPublicKeyInfo>`, and `ssh=<host:port>`
/// with `sshfp=<hex SHA-256 of its host key>` (both or neither).
///
/// # Errors
/// [`ClientError::BadFile`] naming the line that does not parse.
pub fn read_trust(home: &Path) -> Result<Vec<TrustedLog>, ClientError> {
    read_trust_file(home, "trust")
}

/// The logs this device discovered through DNSSEC and remembers (trust on
/// first use): `<home>/discovered`, in the trust file's format.
///
/// # Errors
/// As [`read_trust`].
pub fn read_discovered(home: &Path) -> Result<Vec<TrustedLog>, ClientError> {
    read_trust_file(home, "discovered")
}

/// Remembers (adds or replaces) a discovered log in `<home>/discovered`.
///
/// # Errors
/// As [`add_trust`].
pub fn remember_discovered(home: &Path, entry: &TrustedLog) -> Result<(), ClientError> {
    write_trust_file(home, "discovered", entry)
}

fn read_trust_file(home: &Path, name: &str) -> Result<Vec<TrustedLog>, ClientError> {
    let p = home.join(name);
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
        let [domain, url, vkey, ref options @ ..] = f[..] else {
            return Err(bad("want `<domain> <url> <vkey> [witness=<vkey>]... [quorum=<k>] [max-age=<duration>]`".into()));
        };
        let vkey = VerifierKey::parse(vkey).map_err(|e| bad(e.to_string()))?;
        let (mut keys, mut quorum, mut max_age, mut policy) = (Vec::new(), None, None, None);
        let mut tls_pin = None;
        let (mut ssh, mut sshfp) = (None, None);
        for o in options {
            match o.split_once('=') {
                Some(("tls-pin", p)) => {
                    tls_pin =
                        Some(ank_common::b64_array::<32>(p).ok_or_else(|| {
                            bad(format!("tls-pin {p:?} is not base64 of 32 bytes"))
                        })?)
                }
                Some(("policy", f)) => policy = Some(f.to_owned()),
                Some(("ssh", a)) => ssh = Some(a.to_owned()),
                Some(("sshfp", h)) => {
                    sshfp = Some(
                        <[u8; 32]>::try_from(
                            (0..h.len())
                                .step_by(2)
                                .map(|i| {
                                    h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())
                                })
                                .collect::<Option<Vec<u8>>>()
                                .unwrap_or_default(),
                        )
                        .map_err(|_| bad(format!("sshfp {h:?} is not 64 hex digits")))?,
                    )
                }
                Some(("witness", k)) => {
                    keys.push(VerifierKey::parse(k).map_err(|e| bad(format!("witness: {e}")))?)
                }
                Some(("quorum", k)) => {
                    quorum = Some(
                        k.parse::<usize>()
                            .map_err(|_| bad(format!("quorum {k:?}")))?,
                    )
                }
                Some(("max-age", d)) => {
                    max_age = Some(
                        ank_common::parse_duration(d).map_err(|e| bad(format!("max-age: {e}")))?,
                    )
                }
                _ => return Err(bad(format!("unknown option {o:?}"))),
            }
        }
        let witnesses = if let Some(f) = policy {
            if !keys.is_empty() || quorum.is_some() {
                return Err(bad("a policy excludes witness= and quorum=".into()));
            }
            let text = std::fs::read_to_string(home.join(&f))
                .map_err(|e| bad(format!("policy {f}: {e}")))?;
            let parsed =
                ank_proofs::Policy::parse(&text).map_err(|e| bad(format!("policy {f}: {e}")))?;
            Some(
                crate::log::WitnessPolicy::from_policy(parsed, &f, &vkey, max_age)
                    .map_err(|e| bad(e.to_string()))?,
            )
        } else if keys.is_empty() {
            if quorum.is_some_and(|q| q > 0) || max_age.is_some() {
                return Err(bad("quorum and max-age need witnesses".into()));
            }
            None
        } else {
            Some(
                crate::log::WitnessPolicy::new(keys, quorum, max_age)
                    .map_err(|e| bad(e.to_string()))?,
            )
        };
        let domain = domain.to_ascii_lowercase();
        if !names_domain(vkey.name(), &domain) {
            return Err(bad(format!(
                "the key of log {:?} cannot speak for {domain}",
                vkey.name()
            )));
        }
        out.push(TrustedLog {
            domain,
            url: url.to_owned(),
            vkey,
            witnesses,
            tls_pin,
            ssh: match (ssh, sshfp) {
                (Some(a), Some(f)) => Some((a, f)),
                (None, None) => None,
                _ => return Err(bad("ssh= and sshfp= go together".into())),
            },
        });
    }
    Ok(out)
}

/// Adds or replaces the trust line of `domain`.
///
/// # Errors
/// I/O errors; an unreadable existing file.
pub fn add_trust(home: &Path, entry: &TrustedLog) -> Result<(), ClientError> {
    write_trust_file(home, "trust", entry)
}

fn write_trust_file(home: &Path, name: &str, entry: &TrustedLog) -> Result<(), ClientError> {
    let mut all: Vec<TrustedLog> = read_trust_file(home, name)?
        .into_iter()
        .filter(|t| t.domain != entry.domain)
        .collect();
    all.push(entry.clone());
    create_private_dir(home).map_err(io(home))?;
    let mut text = String::from(
        "# ank trust file: <domain> <url> <vkey> [witness=<vkey>]... [quorum=<k>] [max-age=<duration>]\n",
    );
    for t in &all {
        text.push_str(&format!("{} {} {}", t.domain, t.url, t.vkey.to_text()));
        if let Some(w) = &t.witnesses {
            text.push_str(&w.to_options());
        }
        if let Some(p) = &t.tls_pin {
            text.push_str(&format!(" tls-pin={}", ank_proofs::Hash(*p).to_base64()));
        }
        if let Some((a, f)) = &t.ssh {
            let hex: String = f.iter().map(|b| format!("{b:02x}")).collect();
            text.push_str(&format!(" ssh={a} sshfp={hex}"));
        }
        text.push('\n');
    }
    let p = home.join(name);
    replace_private(&p, text.as_bytes()).map_err(io(&p))
}

/// Every Ed25519 public key this device holds or held for `address`: the
/// current keys, a pending change's, and superseded ones still on disk.
///
/// # Errors
/// I/O and format errors of the current key file.
pub fn own_signing_keys(home: &Path, address: &Address) -> Result<Vec<[u8; 32]>, ClientError> {
    let mut out = vec![DeviceKeys::load(home, address)?.public().signing_key];
    if let Ok(Some(p)) = PendingChange::load(home, address)
        && let Some(k) = p.keys
    {
        out.push(k.public().signing_key);
    }
    if let Ok(rd) = std::fs::read_dir(old_dir(home, address)) {
        for e in rd.flatten() {
            let Ok(text) = std::fs::read(e.path()) else {
                continue;
            };
            let Ok(f) = serde_json::from_slice::<OldKeyFile>(&text) else {
                continue;
            };
            if let Ok(k) = DeviceKeys::from_key_file(f.keys, |w| ClientError::BadFile {
                path: e.path().display().to_string(),
                what: w.to_owned(),
            }) {
                out.push(k.public().signing_key);
            }
        }
    }
    Ok(out)
}

/// The addresses this device has keys for (`keys/<address>.json`).
pub fn addresses_with_keys(home: &Path) -> Vec<Address> {
    let mut out: Vec<Address> = std::fs::read_dir(home.join("keys"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            // Not `<address>.pending.json`, a change not yet settled.
            let stem = name.strip_suffix(".json")?;
            if stem.ends_with(".pending") {
                return None;
            }
            Address::parse(stem).ok()
        })
        .collect();
    out.sort_by_key(ToString::to_string);
    out
}
