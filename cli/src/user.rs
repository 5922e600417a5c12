//! User commands: `ank init`, `register`, `rotate`, `revoke`, `lookup`, `trust add`.

use ank_client::home::{
    DEFAULT_KEEP_OLD_MS, DeviceKeys, PendingChange, TrustedLog, add_trust, ank_home, read_trust,
};
use ank_client::log::{LogClient, Published, Settled};
use ank_proofs::api::{PublishAuth, PublishRequest, VerifiedLookup, key_set_to_json};
use ank_proofs::{Address, KeySet, VerifierKey};
use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, Subcommand};

use crate::runtime;

/// Where a log is: flags, or the trust file entry of the address's domain.
#[derive(Args, Debug, Clone, Default)]
pub struct LogFlags {
    /// The log's URL (default: from the trust file).
    #[arg(long)]
    server: Option<String>,
    /// The log's verifier key (default: from the trust file).
    #[arg(long)]
    vkey: Option<String>,
}

impl LogFlags {
    /// The `--server` given, if any.
    pub fn server(&self) -> Option<&str> {
        self.server.as_deref()
    }
}

/// Runs `f` to completion on a runtime of its own, on a thread of its own:
/// callable from sync code whether or not a runtime is already running.
pub(crate) fn block_on_own<T: Send>(f: impl std::future::Future<Output = T> + Send) -> Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            Ok(rt.block_on(f))
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the discovery thread panicked"))?
    })
}

/// The log of `domain`: the trust file's entry, else discovered in DNS
/// under DNSSEC and remembered (`$ANK_HOME/discovered`). A discovered
/// log's DNS checkpoint is checked against the log's own (a fork is exit 3
/// with evidence). Found once per process.
pub fn log_of(domain: &str) -> Result<TrustedLog> {
    static FOUND: std::sync::Mutex<Vec<TrustedLog>> = std::sync::Mutex::new(Vec::new());
    let domain = domain.to_ascii_lowercase();
    if let Ok(g) = FOUND.lock()
        && let Some(t) = g.iter().find(|t| t.domain == domain)
    {
        return Ok(t.clone());
    }
    let home = ank_home();
    let settings = crate::dns_settings();
    let found = block_on_own(async {
        let found = ank_client::discovery::find(&home, &domain, &settings).await?;
        if let Some(dns_cp) = &found.dns_checkpoint {
            // Consistency only: the witnesses' quorum is required of the
            // checkpoints that prove answers, not of the one in DNS (which
            // may be published a moment before its cosignatures).
            let c =
                LogClient::new_pinned(&found.log.url, found.log.vkey.clone(), found.log.tls_pin)?
                    .remembering(ank_client::state::LogState::new(&home));
            c.latest_checkpoint().await?;
            let published =
                ank_proofs::verify_checkpoint(dns_cp, &found.log.vkey, &[]).map_err(|e| {
                    anyhow::anyhow!(
                        "checkpoint._ank.{domain} does not verify under the log key in DNS: {e}"
                    )
                })?;
            c.check_historical(&published)
                .await
                .context("the checkpoint in DNS against the log's")?;
        }
        anyhow::Ok(found)
    })??;
    if found.origin == ank_client::discovery::Origin::FirstUse {
        eprintln!(
            "discovered {domain} through DNSSEC: {} {} (remembered; a change of key will be refused)",
            found.log.url,
            found.log.vkey.to_text()
        );
    }
    if let Ok(mut g) = FOUND.lock() {
        g.push(found.log.clone());
    }
    Ok(found.log)
}

pub fn client_for(address: &Address, f: &LogFlags) -> Result<LogClient> {
    let trusted = || -> Result<TrustedLog> {
        log_of(address.domain()).with_context(|| {
            format!(
                "no log found for {}: its DNS publishes none that validates (pass --server and --vkey, or run `ank trust add {} URL VKEY`)",
                address.domain(),
                address.domain()
            )
        })
    };
    // The pin belongs to the trusted URL; --server reaches another server.
    let (url, vkey, witnesses, pin) = match (&f.server, &f.vkey) {
        (Some(s), Some(v)) => (
            s.clone(),
            VerifierKey::parse(v).context("--vkey")?,
            None,
            None,
        ),
        (Some(s), None) => {
            let t = trusted()?;
            (s.clone(), t.vkey, t.witnesses, None)
        }
        (None, Some(v)) => {
            let t = trusted()?;
            (
                t.url,
                VerifierKey::parse(v).context("--vkey")?,
                None,
                t.tls_pin,
            )
        }
        (None, None) => {
            let t = trusted()?;
            (t.url, t.vkey, t.witnesses, t.tls_pin)
        }
    };
    // Every answer is checked against the checkpoint this user last
    // verified, and against the witnesses the trust file requires.
    Ok(LogClient::new_pinned(&url, vkey, pin)?
        .requiring(witnesses)
        .remembering(ank_client::state::LogState::new(&ank_home())))
}

#[derive(Subcommand, Debug)]
pub enum TrustCmd {
    /// Trust the log at URL with VKEY for DOMAIN's addresses.
    Add {
        domain: String,
        url: String,
        vkey: String,
        /// A witness (cosignature/v1 key) whose cosignature every accepted
        /// checkpoint of this log needs; repeatable.
        #[arg(long = "witness")]
        witnesses: Vec<String>,
        /// How many of the witnesses must have cosigned (default: all).
        #[arg(long)]
        quorum: Option<usize>,
        /// Refuse a checkpoint whose quorum-th newest cosignature is older
        /// than this (a stale view), e.g. 10m.
        #[arg(long, value_parser = ank_common::parse_duration)]
        max_age: Option<std::time::Duration>,
        /// Over TLS, trust only the server key with this SHA-256 of its
        /// SubjectPublicKeyInfo (base64, as `ank serve` prints it as `tls:`).
        #[arg(long)]
        tls_pin: Option<String>,
        /// A C2SP tlog-policy file (its witnesses, groups and quorum) instead
        /// of --witness and --quorum; a copy is kept under $ANK_HOME/policies/.
        #[arg(long, conflicts_with_all = ["witnesses", "quorum"])]
        policy: Option<std::path::PathBuf>,
        /// The domain's Bangmail SSH door, `host:port` (for `--via ssh`),
        /// with --sshfp.
        #[arg(long, requires = "sshfp")]
        ssh: Option<String>,
        /// The SHA-256 of the door's host key, hex (SSHFP `4 2`, as `ank
        /// serve` prints it).
        #[arg(long, requires = "ssh")]
        sshfp: Option<String>,
    },
    /// Discover DOMAIN in DNS again and accept what it publishes now, a
    /// changed log key included (after you checked the change is real).
    Update { domain: String },
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| {
            h.trim()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                .take(64)
                .collect::<String>()
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "default".into())
}

pub fn init(address: &str, device: Option<String>) -> Result<()> {
    let address = Address::parse(address)?;
    let keys = DeviceKeys::generate(&address, &device.unwrap_or_else(hostname))?;
    KeySet::new(vec![keys.public()]).context("device name")?;
    keys.save(&ank_home(), false)?;
    let p = keys.public();
    println!("created keys for {address} on device {}", p.name);
    println!("  ed25519: {}", STANDARD.encode(p.signing_key));
    println!("  x25519:  {}", STANDARD.encode(p.encryption_key));
    Ok(())
}

fn report(action: &str, address: &Address, p: &Published) {
    println!(
        "{action} {address}: version {} at index {} (checkpoint {} size {})",
        p.entry.version,
        p.index,
        p.checkpoint.origin(),
        p.checkpoint.size()
    );
}

pub fn register(address: &str, token: String, log: &LogFlags) -> Result<()> {
    let address = Address::parse(address)?;
    let keys = DeviceKeys::load(&ank_home(), &address)?;
    let client = client_for(&address, log)?;
    let ks = KeySet::new(vec![keys.public()])?;
    let req = PublishRequest::new(
        &address,
        1,
        &ks,
        PublishAuth::Token(&token),
        &[&keys.signing],
    );
    let p = runtime()?.block_on(client.publish(&req))?;
    report("registered", &address, &p);
    Ok(())
}

/// The verified current binding: (version, key set).
async fn current(client: &LogClient, address: &Address) -> Result<(u64, KeySet)> {
    let l = client.lookup(address).await?;
    let Some((_, entry)) = l.binding() else {
        bail!("{address} is not registered in its log");
    };
    Ok((entry.version, entry.key_set.clone()))
}

/// Settles an earlier key change of `address` whose answer was lost, before
/// anything else uses this device's keys (see [`LogClient::settle_pending`]).
pub async fn settle(client: &LogClient, address: &Address, keep_ms: u64) -> Result<()> {
    let s = client
        .settle_pending(&ank_home(), address, keep_ms)
        .await
        .context("settling the earlier key change")?;
    match s {
        Settled::Nothing => {}
        Settled::Applied { version } => {
            eprintln!(
                "the earlier key change of {address} (version {version}) is in the log; its keys are now current"
            );
        }
        Settled::Retried { version } => {
            eprintln!(
                "the earlier key change of {address} (version {version}) was sent again and logged"
            );
        }
        Settled::Superseded { version } => {
            eprintln!(
                "the earlier key change of {address} was not logged (the log is at version {version}); its keys were kept aside"
            );
        }
    }
    Ok(())
}

/// Records `change`, sends it, and ends it by the log's answer. A lost
/// answer leaves it recorded for the next command to settle.
fn apply_change(
    rt: &tokio::runtime::Runtime,
    client: &LogClient,
    address: &Address,
    change: PendingChange,
    keep_ms: u64,
) -> Result<Published> {
    let home = ank_home();
    // Keep the new keys safe before the log can hold them.
    change.save_new(&home, address)?;
    match rt.block_on(client.publish(&change.request)) {
        Ok(p) => {
            change.finish(&home, address, true, ank_common::now_ms(), keep_ms)?;
            Ok(p)
        }
        Err(e) if e.is_refusal() => {
            change.finish(&home, address, false, ank_common::now_ms(), keep_ms)?;
            Err(e.into())
        }
        Err(e) => Err(anyhow::Error::from(e).context(
            "the key change is recorded as pending; the next ank command for this address settles it",
        )),
    }
}

pub fn rotate(address: &str, keep_old: std::time::Duration, log: &LogFlags) -> Result<()> {
    let address = Address::parse(address)?;
    let home = ank_home();
    let client = client_for(&address, log)?;
    let rt = runtime()?;
    let keep_ms = u64::try_from(keep_old.as_millis()).unwrap_or(u64::MAX);
    rt.block_on(settle(&client, &address, keep_ms))?;
    let keys = DeviceKeys::load(&home, &address)?;
    let (version, ks) = rt.block_on(current(&client, &address))?;
    let fresh = DeviceKeys::generate(&address, &keys.device)?;
    let mut devices: Vec<_> = ks
        .devices()
        .iter()
        .filter(|d| d.name != keys.device)
        .cloned()
        .collect();
    devices.push(fresh.public());
    let new_ks = KeySet::new(devices)?;
    let request = PublishRequest::new(
        &address,
        version + 1,
        &new_ks,
        PublishAuth::Key(&keys.signing),
        &[&fresh.signing],
    );
    let change = PendingChange {
        request,
        keys: Some(fresh),
    };
    let p = apply_change(&rt, &client, &address, change, keep_ms)?;
    report("rotated", &address, &p);
    Ok(())
}

pub fn revoke(address: &str, log: &LogFlags) -> Result<()> {
    let address = Address::parse(address)?;
    let client = client_for(&address, log)?;
    let rt = runtime()?;
    rt.block_on(settle(&client, &address, DEFAULT_KEEP_OLD_MS))?;
    let keys = DeviceKeys::load(&ank_home(), &address)?;
    let (version, _) = rt.block_on(current(&client, &address))?;
    let request = PublishRequest::new(
        &address,
        version + 1,
        &KeySet::empty(),
        PublishAuth::Key(&keys.signing),
        &[],
    );
    let change = PendingChange {
        request,
        keys: None,
    };
    let p = apply_change(&rt, &client, &address, change, DEFAULT_KEEP_OLD_MS)?;
    report("revoked every key of", &address, &p);
    Ok(())
}

fn lookup_json(
    l: &VerifiedLookup,
    checked: Option<ank_client::state::Advanced>,
) -> serde_json::Value {
    let mut v = lookup_fields(l);
    if let Some(a) = checked {
        v["verified_size"] = serde_json::json!(a.now);
        v["previous_size"] = serde_json::json!(a.previous);
    }
    v
}

fn lookup_fields(l: &VerifiedLookup) -> serde_json::Value {
    let cp = l.checkpoint();
    match l.binding() {
        Some((index, entry)) => serde_json::json!({
            "address": l.address().to_string(),
            "found": true,
            "state": "current",
            "version": entry.version,
            "index": index,
            "timestamp_ms": entry.timestamp_ms,
            "authority": entry.authority().to_string(),
            "signer": match &entry.authorization {
                ank_proofs::Authorization::KeyHolder { signer, .. } => serde_json::json!(STANDARD.encode(signer)),
                _ => serde_json::Value::Null,
            },
            "revoked": entry.is_revocation(),
            "devices": key_set_to_json(&entry.key_set),
            "checkpoint": {"origin": cp.origin(), "size": cp.size(), "root": cp.root().to_base64()},
        }),
        None => serde_json::json!({
            "address": l.address().to_string(),
            "found": false,
            "state": "absent",
            "checkpoint": {"origin": cp.origin(), "size": cp.size(), "root": cp.root().to_base64()},
        }),
    }
}

pub fn lookup(address: &str, log: &LogFlags, json: bool) -> Result<()> {
    let address = Address::parse(address)?;
    let client = client_for(&address, log)?;
    let l = runtime()?.block_on(client.lookup(&address))?;
    if json {
        println!("{}", lookup_json(&l, client.last_checked()));
        return Ok(());
    }
    let cp = l.checkpoint();
    match l.binding() {
        Some((index, entry)) => {
            let ks = &entry.key_set;
            let state = if entry.is_revocation() {
                "current: revoked (no keys)"
            } else {
                "current"
            };
            println!(
                "{address}: {state}, version {} at index {}, authorised by {} (verified against {} size {})",
                entry.version,
                index,
                entry.authority(),
                cp.origin(),
                cp.size()
            );
            for d in ks.devices() {
                println!(
                    "  {}  ed25519 {}  x25519 {}",
                    d.name,
                    STANDARD.encode(d.signing_key),
                    STANDARD.encode(d.encryption_key)
                );
            }
        }
        None => println!(
            "{address}: absent (the map of {} size {} proves it was never bound)",
            cp.origin(),
            cp.size()
        ),
    }
    Ok(())
}

pub fn trust(cmd: TrustCmd) -> Result<()> {
    match cmd {
        TrustCmd::Update { domain } => {
            let home = ank_home();
            let settings = crate::dns_settings();
            let (old, new) =
                block_on_own(ank_client::discovery::accept(&home, &domain, &settings))??;
            match old {
                Some(o) if o.vkey != new.vkey => println!(
                    "{domain}: the log key changed from {} to {} (accepted)",
                    o.vkey.to_text(),
                    new.vkey.to_text()
                ),
                Some(_) => println!("{domain}: unchanged, {} {}", new.url, new.vkey.to_text()),
                None => println!("{domain}: remembered {} {}", new.url, new.vkey.to_text()),
            }
            if read_trust(&home)?
                .iter()
                .any(|t| t.domain == domain.to_ascii_lowercase())
            {
                eprintln!("note: the trust file has an entry for {domain}, which overrides DNS");
            }
        }
        TrustCmd::Add {
            domain,
            url,
            vkey,
            witnesses,
            quorum,
            max_age,
            policy,
            tls_pin,
            ssh,
            sshfp,
        } => {
            let ssh = match (ssh, sshfp) {
                (Some(at), Some(fp)) => {
                    let fp: [u8; 32] = hex_32(&fp)
                        .with_context(|| format!("--sshfp {fp:?} is not 64 hex digits"))?;
                    Some((at, fp))
                }
                _ => None,
            };
            let vkey = VerifierKey::parse(&vkey).context("VKEY")?;
            let tls_pin = tls_pin
                .map(|p| {
                    ank_common::b64_array::<32>(&p)
                        .with_context(|| format!("--tls-pin {p:?} is not base64 of 32 bytes"))
                })
                .transpose()?;
            let domain = Address::parse(&format!("postmaster@{domain}"))
                .map_err(|_| anyhow::anyhow!("{domain:?} is not a valid domain"))?
                .domain()
                .to_owned();
            // A log speaks only for its own domain: its key is named after it.
            if !ank_client::home::names_domain(vkey.name(), &domain) {
                bail!(
                    "the key {} names the log {:?}, which is not a log of {domain} (its name must start with \"{domain}/\")",
                    vkey.to_text(),
                    vkey.name()
                );
            }
            let witnesses = if let Some(file) = policy {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let parsed = ank_proofs::Policy::parse(&text)
                    .with_context(|| format!("{}", file.display()))?;
                // The domain was checked above: it names a file safely.
                let name = format!("policies/{domain}.policy");
                let p = WitnessPolicyFile::keep(&ank_home(), &name, &text)?;
                Some(ank_client::log::WitnessPolicy::from_policy(
                    parsed, &p, &vkey, max_age,
                )?)
            } else if witnesses.is_empty() {
                if quorum.is_some() || max_age.is_some() {
                    bail!("--quorum and --max-age need at least one --witness");
                }
                None
            } else {
                let keys = witnesses
                    .iter()
                    .map(|w| VerifierKey::parse(w).with_context(|| format!("--witness {w}")))
                    .collect::<Result<Vec<_>>>()?;
                Some(ank_client::log::WitnessPolicy::new(keys, quorum, max_age)?)
            };
            add_trust(
                &ank_home(),
                &TrustedLog {
                    domain: domain.clone(),
                    url: url.clone(),
                    vkey,
                    witnesses,
                    tls_pin,
                    ssh,
                },
            )?;
            println!("trusting {url} for {domain}");
        }
    }
    Ok(())
}

/// 64 hex digits as 32 bytes.
pub(crate) fn hex_32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A policy file kept under `$ANK_HOME`, named relative to it.
struct WitnessPolicyFile;

impl WitnessPolicyFile {
    fn keep(home: &std::path::Path, name: &str, text: &str) -> Result<String> {
        let path = home.join(name);
        if let Some(dir) = path.parent() {
            ank_common::fs::create_private_dir(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        ank_common::fs::replace_private(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(name.to_owned())
    }
}
