//! The mailbox in `ank serve`, and the user's `ank send` and `ank fetch`.

use std::sync::Arc;

use ank_client::home::{DeviceKeys, ank_home, read_trust};
use ank_log_server::Log;
use ank_mailbox::directory::{DirFuture, Directory};
use ank_mailbox::fetch_auth::FetchAuth;
use ank_mailbox::{Envelope, Payload};
use ank_proofs::{Address, KeySet};
use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::runtime;
use crate::user::LogFlags;

/// The own domain's keys, read from the log in this process: the map says
/// which entry is current, the entry's key set is served as stored.
pub struct LocalDirectory(pub Arc<Log>);

impl Directory for LocalDirectory {
    fn current<'a>(&'a self, address: &'a Address) -> DirFuture<'a> {
        Box::pin(async move {
            let value = self.0.map().get(&address.label());
            let Some(v) = value else { return Ok(None) };
            let stored = self.0.store.entry(v.index).map_err(|e| {
                ank_mailbox::directory::DirectoryError::Unverified {
                    domain: address.domain().to_owned(),
                    message: e.to_string(),
                }
            })?;
            Ok(stored.and_then(|(_, ks)| KeySet::decode(&ks).ok()))
        })
    }
}

/// The mailbox's view of its own log: the key, and the root at any size
/// up to the latest, from the stored hashes.
pub struct LocalLogView(pub Arc<Log>);

impl ank_mailbox::api::LogView for LocalLogView {
    fn vkey(&self) -> &ank_proofs::VerifierKey {
        &self.0.vkey
    }

    fn root_at(&self, size: u64) -> Option<ank_proofs::Hash> {
        if size > self.0.latest().size {
            return None;
        }
        ank_proofs::tree_hash(
            size,
            &ank_log_server::store::StoreHashReader(&*self.0.store),
        )
        .ok()
    }
}

/// The single address this device has keys for, or the one asked for.
fn own_address(given: Option<&str>) -> Result<Address> {
    if let Some(a) = given {
        return Ok(Address::parse(a)?);
    }
    let dir = ank_home().join("keys");
    let mut found: Vec<Address> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".json")
                        .map(str::to_owned)
                })
                .filter(|n| !n.ends_with(".pending"))
                .filter_map(|n| Address::parse(&n).ok())
                .collect()
        })
        .unwrap_or_default();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!("this device has no keys; run `ank init ADDRESS` first"),
        _ => bail!("this device has keys for several addresses; say which with --from / ADDRESS"),
    }
}

fn mailbox_url(address: &Address, log: &LogFlags) -> Result<String> {
    if let Some(s) = log.server() {
        return Ok(s.trim_end_matches('/').to_owned());
    }
    read_trust(&ank_home())?
        .into_iter()
        .find(|t| t.domain == address.domain())
        .map(|t| t.url.trim_end_matches('/').to_owned())
        .with_context(|| {
            format!(
                "no log or mailbox known for {}: run `ank trust add`",
                address.domain()
            )
        })
}

fn http() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()?)
}

async fn refusal(resp: reqwest::Response) -> anyhow::Error {
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    match serde_json::from_str::<ank_proofs::api::ErrorResponse>(&body) {
        Ok(e) => anyhow::anyhow!(
            "the mailbox refused ({} {}): {}",
            status.as_u16(),
            e.error,
            e.message
        ),
        Err(_) => anyhow::anyhow!("the mailbox answered HTTP {status}"),
    }
}

pub fn send(
    to: &str,
    from: Option<&str>,
    subject: &str,
    body: Option<String>,
    log: &LogFlags,
) -> Result<()> {
    let to = Address::parse(to)?;
    let from = own_address(from)?;
    let keys = DeviceKeys::load(&ank_home(), &from)?;
    let body = match body {
        Some(b) => b,
        None => std::io::read_to_string(std::io::stdin()).context("reading the body from stdin")?,
    };
    let now = ank_common::now_ms();
    let payload = Payload::new(from.clone(), to.clone(), now, subject, &body)?;
    let rt = runtime()?;
    // The recipient's current keys, proven by its log before anything is sealed to them.
    let client = crate::user::client_for(&to, log)?;
    let (raw_answer, answer) = rt.block_on(client.lookup_with_answer(&to))?;
    let Some((_, _, ks)) = answer.binding() else {
        bail!("{to} is absent from its log; nothing was sent");
    };
    if ks.devices().is_empty() {
        bail!("{to} has revoked every key; nothing was sent");
    }
    let url = format!("{}/v1/messages", mailbox_url(&to, log)?);
    let http = http()?;
    for d in ks.devices() {
        let id: [u8; 16] = ank_common::random()?;
        let mut env = Envelope::create(&payload, &d.encryption_key, &keys.signing, id)?;
        // The proof this sender verified for the key, as evidence for the mailbox.
        env.recipient_proof = Some(raw_answer.clone());
        let resp = rt.block_on(async { http.post(&url).json(&env).send().await })?;
        if !resp.status().is_success() {
            return Err(rt.block_on(refusal(resp)));
        }
        println!(
            "sent to {to} (device {}), id {}",
            d.name,
            STANDARD.encode(id)
        );
    }
    Ok(())
}

fn signed(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    path: &str,
    keys: &DeviceKeys,
    body: Vec<u8>,
) -> Result<reqwest::RequestBuilder> {
    let nonce: [u8; 16] = ank_common::random()?;
    let auth = FetchAuth::sign(
        &keys.signing,
        method.as_str(),
        path,
        &keys.address,
        ank_common::now_ms(),
        nonce,
        &body,
    );
    Ok(http
        .request(method, url)
        .header("ank-address", auth.address)
        .header("ank-timestamp", auth.timestamp_ms.to_string())
        .header("ank-nonce", auth.nonce)
        .header("ank-key", auth.key)
        .header("ank-signature", auth.signature)
        .header("content-type", "application/json")
        .body(body))
}

pub fn fetch(address: Option<&str>, json: bool, log: &LogFlags) -> Result<()> {
    let address = own_address(address)?;
    let home = ank_home();
    let keys = DeviceKeys::load(&home, &address)?;
    let base = mailbox_url(&address, log)?;
    let http = http()?;
    let rt = runtime()?;
    let req = signed(
        &http,
        reqwest::Method::GET,
        &format!("{base}/v1/messages"),
        "/v1/messages",
        &keys,
        Vec::new(),
    )?;
    let resp = rt.block_on(async { req.send().await })?;
    if !resp.status().is_success() {
        return Err(rt.block_on(refusal(resp)));
    }
    #[derive(serde::Deserialize)]
    struct List {
        messages: Vec<Envelope>,
    }
    let list: List = rt.block_on(resp.json())?;
    let secret = keys.encryption.to_bytes();
    let mine = x25519_dalek::PublicKey::from(&keys.encryption).to_bytes();
    let store_dir = home.join("mail").join(address.to_string());
    std::fs::create_dir_all(&store_dir)?;
    let mut done = Vec::new();
    for env in list.messages {
        let checked = match env.check() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("warning: skipping a malformed message: {e}");
                continue;
            }
        };
        if checked.to_key != mine {
            continue; // sealed to another of this address's devices
        }
        // The sender's key must be current in the sender's own log.
        let sender_ok = crate::user::client_for(&checked.from, &LogFlags::default())
            .and_then(|c| Ok(rt.block_on(c.lookup(&checked.from))?))
            .map(|l| {
                l.binding().is_some_and(|(_, _, ks)| {
                    ks.devices()
                        .iter()
                        .any(|d| d.signing_key == checked.from_key)
                })
            });
        match sender_ok {
            Ok(true) => {}
            Ok(false) => {
                eprintln!(
                    "warning: message {} claims to be from {} but is not signed by a current key of it; not shown",
                    env.id, checked.from
                );
                continue;
            }
            Err(e) => {
                eprintln!(
                    "warning: cannot verify the sender {} of message {}: {e:#}; kept on the server",
                    checked.from, env.id
                );
                continue;
            }
        }
        let p = match checked.open(&secret) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("warning: message {} does not open: {e}", env.id);
                continue;
            }
        };
        let record = serde_json::json!({
            "id": env.id, "from": p.from.to_string(), "to": p.to.to_string(),
            "timestamp_ms": p.timestamp_ms, "subject": p.subject, "body": p.body,
        });
        let file = store_dir.join(format!("{}.json", hex_id(&checked.id)));
        std::fs::write(&file, serde_json::to_vec_pretty(&record)?)?;
        if json {
            println!("{record}");
        } else {
            println!(
                "From: {}\nTo: {}\nDate: {} ms\nSubject: {}\n\n{}\n",
                p.from, p.to, p.timestamp_ms, p.subject, p.body
            );
        }
        done.push(env.id);
    }
    if !done.is_empty() {
        let body = serde_json::to_vec(&serde_json::json!({"ids": done}))?;
        let req = signed(
            &http,
            reqwest::Method::POST,
            &format!("{base}/v1/messages/ack"),
            "/v1/messages/ack",
            &keys,
            body,
        )?;
        let resp = rt.block_on(async { req.send().await })?;
        if !resp.status().is_success() {
            return Err(rt.block_on(refusal(resp)));
        }
    }
    if !json {
        eprintln!("{} message(s) fetched and acknowledged", done.len());
    }
    Ok(())
}

fn hex_id(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}
