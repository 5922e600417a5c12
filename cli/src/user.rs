//! User commands: `ank init`, `register`, `rotate`, `revoke`, `lookup`, `trust add`.

use ank_client::home::{DeviceKeys, TrustedLog, add_trust, ank_home, read_trust};
use ank_client::log::{LogClient, Published, sign_publish};
use ank_proofs::api::{PublishRequest, VerifiedLookup, key_set_to_json};
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

pub fn client_for(address: &Address, f: &LogFlags) -> Result<LogClient> {
    let trusted = || -> Result<TrustedLog> {
        read_trust(&ank_home())?
            .into_iter()
            .find(|t| t.domain == address.domain())
            .with_context(|| {
                format!(
                    "no log known for {}: pass --server and --vkey, or run `ank trust add {} URL VKEY`",
                    address.domain(),
                    address.domain()
                )
            })
    };
    let (url, vkey) = match (&f.server, &f.vkey) {
        (Some(s), Some(v)) => (s.clone(), VerifierKey::parse(v).context("--vkey")?),
        (Some(s), None) => (s.clone(), trusted()?.vkey),
        (None, Some(v)) => (trusted()?.url, VerifierKey::parse(v).context("--vkey")?),
        (None, None) => {
            let t = trusted()?;
            (t.url, t.vkey)
        }
    };
    Ok(LogClient::new(&url, vkey)?)
}

#[derive(Subcommand, Debug)]
pub enum TrustCmd {
    /// Trust the log at URL with VKEY for DOMAIN's addresses.
    Add {
        domain: String,
        url: String,
        vkey: String,
    },
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
    let req = PublishRequest {
        address: address.to_string(),
        version: 1,
        devices: key_set_to_json(&ks),
        token: Some(token),
        signature: None,
    };
    let p = runtime()?.block_on(client.publish(&req))?;
    report("registered", &address, &p);
    Ok(())
}

/// The verified current binding: (version, key set).
async fn current(client: &LogClient, address: &Address) -> Result<(u64, KeySet)> {
    let l = client.lookup(address).await?;
    let Some((_, entry, ks)) = l.binding() else {
        bail!("{address} is not registered in its log");
    };
    Ok((entry.version, ks.clone()))
}

pub fn rotate(address: &str, log: &LogFlags) -> Result<()> {
    let address = Address::parse(address)?;
    let home = ank_home();
    let keys = DeviceKeys::load(&home, &address)?;
    let client = client_for(&address, log)?;
    let rt = runtime()?;
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
    let req = PublishRequest {
        address: address.to_string(),
        version: version + 1,
        devices: key_set_to_json(&new_ks),
        token: None,
        signature: Some(sign_publish(&keys, &address, version + 1, &new_ks)),
    };
    // Keep the new keys safe before the log can hold them.
    fresh.save_pending(&home)?;
    let p = rt.block_on(client.publish(&req))?;
    fresh.promote_pending(&home)?;
    report("rotated", &address, &p);
    Ok(())
}

pub fn revoke(address: &str, log: &LogFlags) -> Result<()> {
    let address = Address::parse(address)?;
    let keys = DeviceKeys::load(&ank_home(), &address)?;
    let client = client_for(&address, log)?;
    let rt = runtime()?;
    let (version, _) = rt.block_on(current(&client, &address))?;
    let empty = KeySet::empty();
    let req = PublishRequest {
        address: address.to_string(),
        version: version + 1,
        devices: vec![],
        token: None,
        signature: Some(sign_publish(&keys, &address, version + 1, &empty)),
    };
    let p = rt.block_on(client.publish(&req))?;
    report("revoked every key of", &address, &p);
    Ok(())
}

fn lookup_json(l: &VerifiedLookup) -> serde_json::Value {
    let cp = l.checkpoint();
    match l.binding() {
        Some((index, entry, ks)) => serde_json::json!({
            "address": l.address().to_string(),
            "found": true,
            "state": "current",
            "version": entry.version,
            "index": index,
            "timestamp_ms": entry.timestamp_ms,
            "authority": entry.authority.to_string(),
            "revoked": entry.is_revocation(),
            "devices": key_set_to_json(ks),
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
        println!("{}", lookup_json(&l));
        return Ok(());
    }
    let cp = l.checkpoint();
    match l.binding() {
        Some((index, entry, ks)) => {
            let state = if entry.is_revocation() {
                "current: revoked (no keys)"
            } else {
                "current"
            };
            println!(
                "{address}: {state}, version {} at index {}, authorised by {} (verified against {} size {})",
                entry.version,
                index,
                entry.authority,
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
        TrustCmd::Add { domain, url, vkey } => {
            let vkey = VerifierKey::parse(&vkey).context("VKEY")?;
            let domain = Address::parse(&format!("postmaster@{domain}"))
                .map_err(|_| anyhow::anyhow!("{domain:?} is not a valid domain"))?
                .domain()
                .to_owned();
            add_trust(
                &ank_home(),
                &TrustedLog {
                    domain: domain.clone(),
                    url: url.clone(),
                    vkey,
                },
            )?;
            println!("trusting {url} for {domain}");
        }
    }
    Ok(())
}
